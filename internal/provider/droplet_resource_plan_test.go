package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"

	"github.com/classhub/terraform-provider-jhub/internal/cloudinit"
	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// The renderer's errors land, through the one adapter, on the jhub_droplet
// attribute that carries the bad value, with the renderer's own words; a
// key from the account lands on ssh_key_fingerprints.
func TestPayloadErrorsAtAttributes(t *testing.T) {
	hostKey, err := cloudinit.GenerateHostKey()
	if err != nil {
		t.Fatal(err)
	}
	good := testkit.NewSSHKey(t, "teacher").AuthorizedKey
	base := func() cloudinit.Config {
		return cloudinit.Config{Hostname: "hub", AdminUser: "teacher", AdminKeys: []string{good, good}, HostKey: hostKey}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*cloudinit.Config)
		want   path.Path // empty: not an attribute error
	}{
		{"extra", func(c *cloudinit.Config) { c.ExtraCloudConfig = "users: []" }, path.Root("extra_cloud_config")},
		{"system account", func(c *cloudinit.Config) { c.AdminUser = "root" }, path.Root("admin_user")},
		{"second public key", func(c *cloudinit.Config) { c.AdminKeys[1] = "not a key" }, path.Root("ssh_public_keys").AtListIndex(1)},
		{"account key", func(c *cloudinit.Config) { c.AccountKeys = []string{"not a key"} }, path.Root("ssh_key_fingerprints")},
		{"security mirror", func(c *cloudinit.Config) { c.AptMirror, c.AptSecurityMirror = "http://m.test/debian", "ftp://m.test/s" }, path.Root("apt_security_mirror")},
		{"host key", func(c *cloudinit.Config) { c.HostKey.Public = good }, path.Empty()},
	} {
		c := base()
		tc.mutate(&c)
		_, err := cloudinit.Render(c)
		diags := fieldDiags("Invalid bootstrap payload", err)
		if len(diags) != 1 || diags[0].Severity() != diag.SeverityError {
			t.Fatalf("%s: diagnostics %v from %v", tc.name, diags, err)
		}
		var got path.Path
		if wp, ok := diags[0].(diag.DiagnosticWithPath); ok {
			got = wp.Path()
		}
		if got.String() != tc.want.String() {
			t.Errorf("%s: at %q, want %q", tc.name, got, tc.want)
		}
		if diags[0].Detail() == "" || diags[0].Summary() != "Invalid bootstrap payload" {
			t.Errorf("%s: %q / %q", tc.name, diags[0].Summary(), diags[0].Detail())
		}
	}
}
