//go:build lab

package installer

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"golang.org/x/oauth2"

	"github.com/classhub/terraform-provider-jhub/internal/certs"
	"github.com/classhub/terraform-provider-jhub/internal/cloudinit"
	"github.com/classhub/terraform-provider-jhub/internal/lab"
	"github.com/classhub/terraform-provider-jhub/internal/lab/labtest"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// TestLabDroplet runs the installer against real droplets of the lab: a
// Debian 12 container booted from the real cloud-init payload, reached with
// the host key pinned from that payload, with a real systemd behind sudo.
// A second droplet's bootstrap fails on purpose: WaitCloudInit must name
// the failing module and show its output. Needs root and the lab image
// (`sudo bash scripts/setup-lab.sh`); with CI=true their absence fails.
func TestLabDroplet(t *testing.T) {
	labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("closing the lab: %v", err)
		}
	})
	env := l.Env()
	api, err := godo.New(oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: env.Token})), godo.SetBaseURL(env.APIURL))
	if err != nil {
		t.Fatal(err)
	}
	good := bootDroplet(t, ctx, api, env, "inst-ok", "")
	bad := bootDroplet(t, ctx, api, env, "inst-broken",
		"runcmd:\n  - [sh, -c, 'echo jhub-bootstrap-broke >&2; exit 7']\n")

	c, err := Dial(ctx, good.waitTarget(t, ctx, api))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	if err := c.WaitCloudInit(ctx); err != nil {
		t.Fatal(err)
	}
	arch, err := c.Arch(ctx)
	if err != nil || (arch != "amd64" && arch != "arm64") {
		t.Fatalf("Arch = %q, %v", arch, err)
	}

	t.Run("install under real systemd and sudo", func(t *testing.T) {
		const unit = "jhub-lab-hello.service"
		r := Release{
			Files: []File{
				{Path: ondroplet.Current + "/hello.txt", Mode: 0o640, Owner: ondroplet.EdgeUser, Content: []byte("hello\n")},
				{Path: ondroplet.UnitDir + "/" + unit, Content: []byte("[Service]\nUser=" + ondroplet.EdgeUser + "\nExecStart=/bin/sh -c 'cat /opt/jhub/current/hello.txt; exec sleep infinity'\n[Install]\nWantedBy=multi-user.target\n")},
			},
			Validate: []string{"test -s {{release}}/hello.txt"},
			Services: []Service{{Name: unit, RestartOnChange: []string{ondroplet.Current + "/hello.txt"}}},
		}
		res, err := c.Install(ctx, r)
		if err != nil || !res.Changed || len(res.Restarted) != 1 {
			t.Fatalf("%+v %v", res, err)
		}
		out, _, err := c.Run(ctx, "systemctl is-enabled "+unit+"; stat -c %U /proc/$(systemctl show -p MainPID --value "+unit+")", nil)
		if err != nil || strings.Fields(string(out))[0] != "enabled" || strings.Fields(string(out))[1] != ondroplet.EdgeUser {
			t.Fatalf("unit enabled / running as the edge user: %q %v", out, err)
		}
		if _, _, err := c.Run(ctx, "sudo systemctl stop "+unit, nil); err != nil {
			t.Fatal(err)
		}
		st, err := c.State(ctx, []string{ondroplet.Current + "/hello.txt"}, []string{unit})
		if err != nil || st.Services[unit] != "inactive" || st.ReleaseID != res.ReleaseID {
			t.Fatalf("state after a stop: %+v %v", st, err)
		}
		if res, err := c.Install(ctx, r); err != nil || !res.Changed || len(res.Restarted) != 1 {
			t.Fatalf("repair: %+v %v", res, err)
		}

		bundle := tlsBundle(t)
		if err := c.ImportTLS(ctx, bundle); err != nil {
			t.Fatal(err)
		}
		if out, err := c.ExportTLS(ctx); err != nil || string(out) != string(bundle) {
			t.Fatalf("TLS round trip through sudo: %v", err)
		}

		for range 2 {
			if err := c.Uninstall(ctx, []string{unit}); err != nil {
				t.Fatal(err)
			}
		}
		out, _, _ = c.Run(ctx, "systemctl is-active "+unit+"; ls /opt/jhub "+ondroplet.UnitDir+"/"+unit+" 2>&1", nil)
		if !strings.HasPrefix(string(out), "inactive\n") || strings.Count(string(out), "No such file") != 2 {
			t.Fatalf("after uninstall: %s", out)
		}
	})

	t.Run("a failed bootstrap names the module and shows its output", func(t *testing.T) {
		bc, err := Dial(ctx, bad.waitTarget(t, ctx, api))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = bc.Close() }()
		err = bc.WaitCloudInit(ctx)
		if err == nil {
			t.Fatal("cloud-init failed on purpose, WaitCloudInit said nothing")
		}
		t.Logf("the report:\n%v", err)
		for _, want := range []string{"scripts_user", "jhub-bootstrap-broke", "status: error"} {
			if !strings.Contains(strings.ReplaceAll(err.Error(), "scripts-user", "scripts_user"), want) {
				t.Errorf("the report lacks %q:\n%v", want, err)
			}
		}
	})
}

// labDroplet is a droplet created through the lab's API with the real
// payload, and the keys the provider would hold for it.
type labDroplet struct {
	id      int
	hostKey string // as jhub_droplet.host_public_key exports it
	admin   []byte // PEM
}

func bootDroplet(t *testing.T, ctx context.Context, api *godo.Client, env lab.Env, name, extra string) *labDroplet {
	t.Helper()
	admin := testkit.NewSSHKey(t, "")
	hk, err := cloudinit.GenerateHostKey()
	if err != nil {
		t.Fatal(err)
	}
	ud, err := cloudinit.Render(cloudinit.Config{
		Hostname:          name,
		AdminUser:         "teacher",
		AdminKeys:         []string{admin.AuthorizedKey},
		HostKey:           hk,
		AptMirror:         env.AptMirror,
		AptSecurityMirror: env.AptSecurityMirror,
		ExtraCloudConfig:  extra,
	})
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := api.Droplets.Create(ctx, &godo.DropletCreateRequest{
		Name: name, Region: "fra1", Size: "s-1vcpu-2gb",
		Image: godo.DropletCreateImage{Slug: lab.ImageSlug}, UserData: string(ud),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// A droplet already gone with the lab is fine; anything else leaks.
		if _, err := api.Droplets.Delete(context.Background(), d.ID); err != nil && !strings.Contains(err.Error(), "404") {
			t.Errorf("deleting droplet %d: %v", d.ID, err)
		}
	})
	return &labDroplet{id: d.ID, hostKey: hk.Public, admin: []byte(admin.PrivatePEM)}
}

// waitTarget waits until the droplet is active and returns how to reach it.
func (d *labDroplet) waitTarget(t *testing.T, ctx context.Context, api *godo.Client) Target {
	t.Helper()
	for ctx.Err() == nil {
		got, _, err := api.Droplets.Get(ctx, d.id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == "active" {
			ip, err := got.PublicIPv4()
			if err != nil || ip == "" {
				t.Fatalf("droplet %d active without an IPv4 (%v)", d.id, err)
			}
			return Target{Addr: ip, User: "teacher", PrivateKey: d.admin, HostKey: d.hostKey}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("droplet %d not active: %v", d.id, ctx.Err())
	return Target{}
}

func tlsBundle(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "selfsigned", "ca.pem")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, p, "CA", 0o600)
	b, err := certs.Export(dir)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
