//go:build lab

package provider

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/classhub/terraform-provider-jhub/internal/hubconfig"
	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// volumeHubConfig is the class hub with its state on the class volume, as
// docs/guides/semester.md has it: volume is the jhub_volume the hub uses,
// extra adds resources (the term-end snapshot, a new term's volume). With
// hub false only the volumes stay: the hub was destroyed. The fall volume
// is created blank (no initial_filesystem_type): jhub_edge formats it.
func (h *classHub) volumeHubConfig(hub bool, volume, extra string) string {
	cfg := h.config([]string{"alice", "bob"}, "/")
	provider, _, _ := strings.Cut(cfg, `resource "jhub_droplet"`)
	volumes := `
resource "jhub_volume" "fall" {
  name   = "cs101-fall"
  region = "fra1"
  size   = 1
}
` + extra
	if !hub {
		return provider + volumes
	}
	cfg = strings.Replace(cfg, "  hub_hosts     =", fmt.Sprintf(`  volume_name   = jhub_volume.%[1]s.name
  depends_on    = [jhub_volume_attachment.class]

  hub_hosts     =`, volume), 1)
	return cfg + volumes + fmt.Sprintf(`
resource "jhub_volume_attachment" "class" {
  droplet_id = jhub_droplet.hub.id
  volume_id  = jhub_volume.%s.id
}
`, volume)
}

// notebookFile is what a student finds of their notebook: its owner by
// name and number, its mode and its text.
type notebookFile struct {
	owner, ids, mode, text string
}

// openNotebook logs alice in, starts her server, opens hw.ipynb through
// the server's contents API (as JupyterLab does) and reads its owner and
// mode from her kernel; with write, it first saves the notebook.
func (h *classHub) openNotebook(ctx context.Context, t *testing.T, write bool) (notebookFile, error) {
	c, k, err := h.studentKernel(ctx, t, "alice", "class-password")
	if err != nil {
		return notebookFile{}, err
	}
	defer k.Close()
	if write {
		code := `import json, os
p = os.path.expanduser("~/hw.ipynb")
nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": "alice's week 1"}], "metadata": {}, "nbformat": 4, "nbformat_minor": 4}
with open(p, "w") as f:
    json.dump(nb, f)
os.chmod(p, 0o640)
print("saved")`
		if out, err := k.Execute(ctx, code); err != nil || out != "saved" {
			return notebookFile{}, fmt.Errorf("saving the notebook: %q, %v", out, err)
		}
	}
	code, body, err := c.Do(ctx, http.MethodGet, "user/alice/api/contents/hw.ipynb", nil)
	if err != nil || code != http.StatusOK {
		return notebookFile{}, fmt.Errorf("opening hw.ipynb: %d %v %.300s", code, err, body)
	}
	if !strings.Contains(string(body), "alice's week 1") {
		return notebookFile{}, fmt.Errorf("hw.ipynb opened without its cell: %.300s", body)
	}
	out, err := k.Execute(ctx, `import os, pwd, stat
p = os.path.expanduser("~/hw.ipynb")
st = os.stat(p)
print(pwd.getpwuid(st.st_uid).pw_name, "%d:%d" % (st.st_uid, st.st_gid), oct(stat.S_IMODE(st.st_mode)), p)`)
	if err != nil {
		return notebookFile{}, err
	}
	f := strings.Fields(out)
	if len(f) != 4 {
		return notebookFile{}, fmt.Errorf("stat of hw.ipynb printed %q", out)
	}
	if want := ondroplet.VolumeHomes + "/alice/hw.ipynb"; f[3] != want {
		return notebookFile{}, fmt.Errorf("alice's notebook is at %s, not on the volume (%s)", f[3], want)
	}
	return notebookFile{owner: f[0], ids: f[1], mode: f[2], text: "alice's week 1"}, nil
}

// rebootHub reboots the hub's droplet through the API, as an admin in
// DigitalOcean's console would, and checks that it comes back by itself:
// the volume mounted from /etc/fstab by systemd, the hub and edge running
// on it, alice's notebook as it was, the same certificate and no new ACME
// order. It returns the time from the API call to the notebook open again.
func (h *classHub) rebootHub(ctx context.Context, t *testing.T, s *terraform.State, want notebookFile, orders int) (time.Duration, error) {
	ip := dropletIP(s)
	id, err := strconv.Atoi(s.RootModule().Resources["jhub_droplet.hub"].Primary.ID)
	if err != nil {
		return 0, err
	}
	do := godo.NewFromToken(h.lab.Env().Token)
	if err := setBaseURL(do, h.lab.Env().APIURL); err != nil {
		return 0, err
	}
	start := time.Now()
	a, _, err := do.DropletActions.Reboot(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("rebooting droplet %d: %w", id, err)
	}
	for a.Status != godo.ActionCompleted {
		if a.Status == "errored" {
			return 0, fmt.Errorf("the reboot of droplet %d errored", id)
		}
		time.Sleep(time.Second)
		if a, _, err = do.DropletActions.Get(ctx, id, a.ID); err != nil {
			return 0, err
		}
	}
	t.Logf("reboot: the action completed (sshd up) %s after the API call", time.Since(start).Round(time.Second))
	// The hub starts after sshd; a student retries as a browser would.
	var got notebookFile
	for got, err = h.openNotebook(ctx, t, false); err != nil; got, err = h.openNotebook(ctx, t, false) {
		if time.Since(start) > 8*time.Minute {
			return 0, fmt.Errorf("after the reboot: %w", err)
		}
		t.Logf("reboot: %s after the API call: %v", time.Since(start).Round(time.Second), err)
		time.Sleep(3 * time.Second)
	}
	took := time.Since(start)
	if got != want {
		return 0, fmt.Errorf("after the reboot alice's notebook is %+v, was %+v", got, want)
	}
	if serial, err := h.servedSerial(ctx); err != nil || serial != h.serial {
		return 0, fmt.Errorf("after the reboot the hub serves certificate %s (%v), not %s", serial, err, h.serial)
	}
	// One connection: ufw limits new ones to :22.
	out := h.ssh(t, ctx, ip, "findmnt -n -o TARGET,FSTYPE "+ondroplet.VolumeDir+"; systemctl show -p SourcePath -p ActiveState "+
		systemdMountUnit(ondroplet.VolumeDir)+"; systemctl is-active "+hubconfig.HubUnit+" "+hubconfig.EdgeUnit+
		"; systemctl show -p After "+hubconfig.HubUnit+" "+hubconfig.EdgeUnit)
	for _, w := range []string{ondroplet.VolumeDir + " ext4\n", "SourcePath=/etc/fstab\n", "ActiveState=active\n", "\nactive\nactive\n"} {
		if !strings.Contains(out, w) {
			return 0, fmt.Errorf("after the reboot %q is missing from the droplet's mounts and units:\n%s", w, out)
		}
	}
	// Started by systemd after their state's mounts (RequiresMountsFor);
	// systemctl quotes a name with a backslash, and doubles the backslash.
	after := strings.ReplaceAll(out, `\\`, `\`)
	for _, b := range append(ondroplet.VolumeBinds, ondroplet.VolumeBind{Target: ondroplet.VolumeDir}) {
		if !strings.Contains(after, systemdMountUnit(b.Target)) {
			return 0, fmt.Errorf("after the reboot neither the hub nor the edge is ordered after %s:\n%s", systemdMountUnit(b.Target), out)
		}
	}
	t.Logf("reboot: the droplet's mounts and units:\n%s", out)
	if n, err := h.lab.ACMEOrders(); err != nil || n != orders {
		return 0, fmt.Errorf("after the reboot Pebble received %d orders (%v), %d before", n, err, orders)
	}
	return took, nil
}

// systemdMountUnit is systemd's name of the mount unit for an absolute
// path without special characters ("/var/lib/jhub-edge" is
// var-lib-jhub\x2dedge.mount).
func systemdMountUnit(p string) string {
	return strings.ReplaceAll(strings.ReplaceAll(strings.TrimPrefix(p, "/"), "-", `\x2d`), "/", "-") + ".mount"
}

// The semester runbook (docs/guides/semester.md) in the lab: a student's
// notebook, the users and the certificate survive a replaced droplet and a
// hub destroyed and applied again on the same volume, without a new ACME
// order; the term-end snapshot becomes a new term's volume with the
// notebook on it. The first apply formats the blank volume; a reboot
// through the API brings the hub back on it by itself. Every step's
// second plan is empty (the framework checks).
func TestLabClassHubOnVolume(t *testing.T) {
	h := newClassHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Minute)
	defer cancel()
	var first notebookFile
	var ip string
	orders := 0
	// same checks that alice's notebook, the certificate and the ACME
	// orders are what they were, timing the rebuild from start.
	same := func(what, volume string, start *time.Time) resource.TestCheckFunc {
		return func(s *terraform.State) error {
			got, err := h.openNotebook(ctx, t, false)
			if err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			t.Logf("%s: alice's notebook open again %s after the rebuild started", what, time.Since(*start).Round(time.Second))
			if got != first {
				return fmt.Errorf("%s: alice's notebook is %+v, was %+v", what, got, first)
			}
			serial, err := h.servedSerial(ctx)
			if err != nil {
				return err
			}
			if serial != h.serial {
				return fmt.Errorf("%s: the hub serves certificate %s, not %s", what, serial, h.serial)
			}
			h.hostKey = s.RootModule().Resources["jhub_droplet.hub"].Primary.Attributes["host_public_key"]
			ip = dropletIP(s)
			// The mount comes back after a reboot: fstab, not the installer's mount.
			if fstab := h.ssh(t, ctx, ip, "cat /etc/fstab"); !strings.Contains(fstab, ondroplet.VolumeDevice(volume)+" "+ondroplet.VolumeDir+" ext4 defaults,nofail") {
				return fmt.Errorf("%s: /etc/fstab lacks the volume:\n%s", what, fstab)
			}
			// Last, so an order the new edge started is in Pebble's log by now.
			n, err := h.lab.ACMEOrders()
			if err != nil {
				return err
			}
			if n != orders {
				return fmt.Errorf("%s: Pebble received %d orders, %d before", what, n, orders)
			}
			return nil
		}
	}
	var replaced, rebuilt, spring time.Time
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: h.volumeHubConfig(true, "fall", ""),
				Check: func(s *terraform.State) error {
					ip = dropletIP(s)
					h.hostKey = s.RootModule().Resources["jhub_droplet.hub"].Primary.Attributes["host_public_key"]
					var err error
					if first, err = h.openNotebook(ctx, t, true); err != nil {
						return err
					}
					if first.owner != "alice" || first.mode != "0o640" {
						return fmt.Errorf("alice's notebook: %+v", first)
					}
					// Every host's certificate (the hub's and the course site's) is
					// issued, and h.serial is the hub's; then the orders settle.
					if err := h.checkEdge(ctx, ip); err != nil {
						return err
					}
					for prev := -1; orders != prev; time.Sleep(5 * time.Second) {
						prev = orders
						if orders, err = h.lab.ACMEOrders(); err != nil {
							return err
						}
					}
					if orders < 1 {
						return fmt.Errorf("Pebble received no order for the hub")
					}
					t.Logf("first apply: Pebble received %d orders", orders)
					// jhub_edge formatted the blank volume (the lab creates it
					// without a signature when no filesystem is asked for).
					if fs := h.ssh(t, ctx, ip, "sudo blkid -p -o value -s TYPE "+ondroplet.VolumeDevice("cs101-fall")); fs != "ext4\n" {
						return fmt.Errorf("the volume's filesystem is %q, want the ext4 jhub_edge made", fs)
					}
					// The state directories are the volume's; the admin's home is not.
					out := h.ssh(t, ctx, ip, "for d in "+ondroplet.HubStateDir+" "+ondroplet.EdgeStateDir+" "+ondroplet.CourseDir+
						"; do findmnt -n -o TARGET,SOURCE --mountpoint $d; done; echo admin home on $(findmnt -n -o TARGET -T $HOME)")
					for _, want := range []string{ondroplet.HubStateDir + " ", ondroplet.EdgeStateDir + " ", ondroplet.CourseDir + " ", "admin home on /\n"} {
						if !strings.Contains(out, want) {
							return fmt.Errorf("%q missing from the droplet's mounts and the admin's home:\n%s", want, out)
						}
					}
					took, err := h.rebootHub(ctx, t, s, first, orders)
					if err != nil {
						return err
					}
					t.Logf("reboot: alice's notebook open again %s after the API call", took.Round(time.Second))
					return nil
				},
			},
			{
				// Mid-term: the droplet is replaced (a taint, as a new image
				// or size would). The volume moves to the new droplet.
				PreConfig: func() { replaced = time.Now() },
				Config:    h.volumeHubConfig(true, "fall", ""),
				Taint:     []string{"jhub_droplet.hub"},
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectResourceAction("jhub_volume_attachment.class", plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectResourceAction("jhub_edge.hub", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("jhub_volume.fall", plancheck.ResourceActionNoop),
				}},
				Check: same("replaced droplet", "cs101-fall", &replaced),
			},
			{
				// End of term: the hub goes, the volume stays.
				PreConfig: func() { rebuilt = time.Now() },
				Config:    h.volumeHubConfig(false, "fall", ""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_edge.hub", plancheck.ResourceActionDestroy),
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionDestroy),
					plancheck.ExpectResourceAction("jhub_volume.fall", plancheck.ResourceActionNoop),
				}},
			},
			{
				// ...and comes back on the same volume.
				Config: h.volumeHubConfig(true, "fall", ""),
				Check:  same("hub destroyed and applied again", "cs101-fall", &rebuilt),
			},
			{
				// Term-end archive, then a new term's hub on a volume made from it.
				Config: h.volumeHubConfig(false, "fall", `
resource "jhub_volume_snapshot" "fall" {
  name      = "cs101-fall-final"
  volume_id = jhub_volume.fall.id
}
`),
			},
			{
				PreConfig: func() { spring = time.Now() },
				Config: h.volumeHubConfig(true, "spring", `
resource "jhub_volume_snapshot" "fall" {
  name      = "cs101-fall-final"
  volume_id = jhub_volume.fall.id
}

resource "jhub_volume" "spring" {
  name        = "cs101-spring"
  region      = "fra1"
  size        = jhub_volume_snapshot.fall.min_disk_size
  snapshot_id = jhub_volume_snapshot.fall.id
}
`),
				Check: same("a new term's hub on a volume from the snapshot", "cs101-spring", &spring),
			},
		},
	})
}

// An errored attach in the lab (the simulator's fault, on a real droplet
// and a real volume image) fails the apply at the attachment, before the
// hub is installed, and destroy leaves nothing behind.
func TestLabVolumeAttachErrored(t *testing.T) {
	h := newClassHub(t)
	sim := h.lab.Sim()
	accTest(t, resource.TestCase{
		CheckDestroy: nothingLeftAtAll(sim),
		Steps: []resource.TestStep{{
			PreConfig:   func() { sim.Faults().FailActionsOf("attach_volume", 1) },
			Config:      h.volumeHubConfig(true, "fall", ""),
			ExpectError: regexp.MustCompile(`(?s)Cannot attach volume.*jhub_volume_attachment.class.*ended "errored".*The volume is not attached`),
		}},
	})
}
