package cloudinit

import (
	"strings"
	"testing"

	"github.com/classhub/terraform-provider-jhub/internal/fielderr"
)

// FuzzRender feeds arbitrary host names, user names and ExtraCloudConfig to
// Render. Whatever goes in, Render either refuses with a field error or emits
// a single cloud-config mapping within the size limit in which the provider's
// security settings are intact and the user's top-level keys are present.
func FuzzRender(f *testing.F) {
	f.Add("hub", "teacher", "")
	f.Add("hub.example.org", "ta", "packages: [htop]\nruncmd:\n  - echo hi\n")
	f.Add("hub", "teacher", "ssh_pwauth: true\n")
	f.Add("h\nusers: []", "t: x", "a: &x [1, *x]\n")
	f.Fuzz(func(t *testing.T, hostname, user, extra string) {
		c := minimalConfig(t)
		c.Hostname, c.AdminUser, c.ExtraCloudConfig = hostname, user, extra
		out, err := Render(c)
		if err != nil {
			if len(fielderr.All(err)) != 1 {
				t.Fatalf("error without a field: %v", err)
			}
			return
		}
		if len(out) > MaxUserData {
			t.Fatalf("rendered %d bytes, over the limit", len(out))
		}
		doc := decode(t, out)
		requirePlainScalarsAgree(t, out)
		if get(t, doc, "users", 0, "name") != user || len(get(t, doc, "users").([]any)) != 1 {
			t.Fatalf("admin user changed: %v", doc["users"])
		}
		if get(t, doc, "hostname") != strings.SplitN(strings.ToLower(hostname), ".", 2)[0] {
			t.Fatalf("hostname changed: %v", doc["hostname"])
		}
		if get(t, doc, "ssh_pwauth") != false || get(t, doc, "disable_root") != true || get(t, doc, "ssh_deletekeys") != true {
			t.Fatal("SSH hardening overridden")
		}
		if get(t, doc, "ssh_keys", "ed25519_public") != c.HostKey.Public || len(get(t, doc, "ssh_keys").(map[string]any)) != 2 {
			t.Fatal("pinned host key changed")
		}
		extraDoc, err := parseExtra(extra)
		if err != nil {
			t.Fatalf("Render accepted an extra that parseExtra rejects: %v", err)
		}
		for k := range extraDoc {
			if _, ok := doc[k]; !ok {
				t.Fatalf("extra key %q lost", k)
			}
		}
	})
}
