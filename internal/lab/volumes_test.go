//go:build lab

package lab

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"golang.org/x/crypto/ssh"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// volumeAction waits for a volume action to complete.
func volumeAction(t *testing.T, c *godo.Client, volumeID string, a *godo.Action, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for range 600 {
		got, _, err := c.StorageActions.Get(context.Background(), volumeID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		switch got.Status {
		case godo.ActionCompleted:
			return
		case "errored":
			t.Fatalf("volume action %s on %s errored", got.Type, volumeID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("volume action %d on %s did not complete", a.ID, volumeID)
}

func attach(t *testing.T, c *godo.Client, volumeID string, dropletID int) {
	t.Helper()
	a, _, err := c.StorageActions.Attach(context.Background(), volumeID, dropletID)
	volumeAction(t, c, volumeID, a, err)
}

// mountAt mounts a volume by its DigitalOcean device name inside a droplet.
func mountAt(t *testing.T, s *ssh.Client, name, dir string) {
	t.Helper()
	mustRun(t, s, "sudo mkdir -p "+dir+" && sudo mount "+ondroplet.VolumeDevice(name)+" "+dir)
}

// A volume is a real filesystem that outlives droplets: files written on
// one droplet, with their owners and modes, are there on the next droplet
// it is attached to, and on a volume created from its snapshot.
func TestLabVolumeOutlivesDroplet(t *testing.T) {
	l := theLab(t)
	c := apiClient(t, l.Env())
	ctx := context.Background()
	v, _, err := c.Storage.CreateVolume(ctx, &godo.VolumeCreateRequest{Region: "fra1", Name: "labhome", SizeGigaBytes: 1, FilesystemType: "ext4"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	t.Cleanup(func() {
		for _, id := range ids {
			if err := unlessGone(c.Storage.DeleteVolume(ctx, id)); err != nil {
				t.Errorf("cleanup: deleting volume %s: %v", id, err)
			}
		}
	})
	ids = append(ids, v.ID)

	m1 := createDroplet(t, l, c, "vol-one", "s-1vcpu-1gb", false)
	waitActive(t, c, m1)
	attach(t, c, v.ID, m1.id)
	s1 := m1.dial(t)
	cloudInitDone(t, s1)
	mountAt(t, s1, "labhome", "/mnt/home")
	mustRun(t, s1, `sudo sh -ec 'install -d -o 1234 -g 1234 -m 0700 /mnt/home/alice
printf hello > /mnt/home/alice/hw.ipynb; chown 1234:1234 /mnt/home/alice/hw.ipynb; chmod 0640 /mnt/home/alice/hw.ipynb
umount /mnt/home'`)

	// Deleting the droplet detaches the volume and frees its device.
	if _, err := c.Droplets.Delete(ctx, m1.id); err != nil {
		t.Fatal(err)
	}
	waitGone(t, l, m1.id, l.NetNS(m1.id))
	if got, _, err := c.Storage.GetVolume(ctx, v.ID); err != nil || len(got.DropletIDs) != 0 {
		t.Fatalf("volume after its droplet was deleted: %v, droplet_ids %v", err, got.DropletIDs)
	}
	if loops := loopsUnder(l.slot.diskDir()); len(loops) != 0 {
		t.Fatalf("loop devices left after the droplet went: %v", loops)
	}

	m2 := createDroplet(t, l, c, "vol-two", "s-1vcpu-1gb", false)
	waitActive(t, c, m2)
	attach(t, c, v.ID, m2.id)
	s2 := m2.dial(t)
	cloudInitDone(t, s2)
	mountAt(t, s2, "labhome", "/mnt/home")
	want := "1234:1234 700\n1234:1234 640 hello"
	check := func(dir string) {
		t.Helper()
		got := strings.TrimSpace(mustRun(t, s2, "sudo sh -ec 'stat -c \"%u:%g %a\" "+dir+"/alice; stat -c \"%u:%g %a\" "+dir+"/alice/hw.ipynb | tr -d \"\\n\"; echo \" $(cat "+dir+"/alice/hw.ipynb)\"'"))
		if got != want {
			t.Errorf("%s on the new droplet: %q, want %q", dir, got, want)
		}
	}
	check("/mnt/home")

	// The term-end archive, and a new term's volume from it.
	snap, _, err := c.Storage.CreateSnapshot(ctx, &godo.SnapshotCreateRequest{VolumeID: v.ID, Name: "labhome-fall"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unlessGone(c.Storage.DeleteSnapshot(ctx, snap.ID)); err != nil {
			t.Errorf("cleanup: deleting snapshot %s: %v", snap.ID, err)
		}
	})
	nv, _, err := c.Storage.CreateVolume(ctx, &godo.VolumeCreateRequest{Region: "fra1", Name: "labspring", SizeGigaBytes: 2, SnapshotID: snap.ID})
	if err != nil {
		t.Fatal(err)
	}
	ids = append(ids, nv.ID)
	attach(t, c, nv.ID, m2.id)
	mountAt(t, s2, "labspring", "/mnt/spring")
	check("/mnt/spring")

	for _, vol := range []struct{ id, dir string }{{v.ID, "/mnt/home"}, {nv.ID, "/mnt/spring"}} {
		mustRun(t, s2, "sudo umount "+vol.dir)
		a, _, err := c.StorageActions.DetachByDropletID(ctx, vol.id, m2.id)
		volumeAction(t, c, vol.id, a, err)
	}
	if loops := loopsUnder(l.slot.diskDir()); len(loops) != 0 {
		t.Errorf("loop devices left after detaching: %v", loops)
	}
}

// A droplet's volume survives a reboot and a power cycle as on
// DigitalOcean: the device node is there again under its by-id name, and
// systemd mounts it from /etc/fstab (with a bind mount ordered after it)
// before anything logs in.
func TestLabVolumeReboot(t *testing.T) {
	l := theLab(t)
	c := apiClient(t, l.Env())
	ctx := context.Background()
	v, _, err := c.Storage.CreateVolume(ctx, &godo.VolumeCreateRequest{Region: "fra1", Name: "labboot", SizeGigaBytes: 1, FilesystemType: "ext4"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unlessGone(c.Storage.DeleteVolume(ctx, v.ID)); err != nil {
			t.Errorf("cleanup: deleting volume %s: %v", v.ID, err)
		}
	})
	m := createDroplet(t, l, c, "vol-boot", "s-1vcpu-1gb", false)
	waitActive(t, c, m)
	attach(t, c, v.ID, m.id)
	s := m.dial(t)
	cloudInitDone(t, s)
	dev := ondroplet.VolumeDevice("labboot")
	mustRun(t, s, `sudo sh -ec 'printf "%s /mnt/class ext4 defaults,nofail 0 2\n/mnt/class/state /srv/state none bind,nofail,x-systemd.requires-mounts-for=/mnt/class 0 0\n" `+dev+` >> /etc/fstab
mkdir -p /mnt/class /srv/state; systemctl daemon-reload; mount /mnt/class
install -d -o 1234 -g 1234 -m 0700 /mnt/class/state; mount /srv/state
printf kept > /srv/state/f; chown 1234:1234 /srv/state/f; chmod 0640 /srv/state/f'`)
	for _, power := range []func(context.Context, int) (*godo.Action, *godo.Response, error){c.DropletActions.Reboot, c.DropletActions.PowerCycle} {
		s.Close()
		start := time.Now()
		act, _, err := power(ctx, m.id)
		if err != nil {
			t.Fatal(err)
		}
		waitAction(t, c, m.id, act.ID)
		s = m.dial(t)
		got := mustRun(t, s, `sudo sh -c 'findmnt -n -o SOURCE,TARGET /mnt/class; findmnt -n -o TARGET /srv/state; stat -c "%u:%g %a" /srv/state/f; cat /srv/state/f'`)
		// findmnt names the loop device the node points to.
		want := "/mnt/class\n/srv/state\n1234:1234 640\nkept"
		if _, after, _ := strings.Cut(got, " "); strings.TrimSpace(after) != want {
			t.Fatalf("after %s: %q, want the volume and its bind mount back with the file (%q)", act.Type, got, want)
		}
		t.Logf("%s: the volume's file readable again %s after the API call", act.Type, time.Since(start).Round(100*time.Millisecond))
	}
}
