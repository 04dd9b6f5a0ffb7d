package cloudinit

import (
	"slices"
	"strings"
	"testing"

	"github.com/classhub/terraform-provider-jhub/internal/fielderr"
)

func TestValidateNamesTheField(t *testing.T) {
	k := hostKey(t)
	other, err := GenerateHostKey()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		field  string
	}{
		{"empty hostname", func(c *Config) { c.Hostname = "" }, "name"},
		{"underscore hostname", func(c *Config) { c.Hostname = "my_hub" }, "name"},
		{"leading dash", func(c *Config) { c.Hostname = "-hub" }, "name"},
		{"empty label", func(c *Config) { c.Hostname = "hub..org" }, "name"},
		{"trailing dot", func(c *Config) { c.Hostname = "hub.org." }, "name"},
		{"label too long", func(c *Config) { c.Hostname = strings.Repeat("a", 64) }, "name"},
		{"name too long", func(c *Config) { c.Hostname = strings.Repeat(strings.Repeat("a", 60)+".", 5) + "org" }, "name"},
		{"upper case user", func(c *Config) { c.AdminUser = "Teacher" }, "admin_user"},
		{"digit first", func(c *Config) { c.AdminUser = "1teacher" }, "admin_user"},
		{"user with space", func(c *Config) { c.AdminUser = "a b" }, "admin_user"},
		{"empty user", func(c *Config) { c.AdminUser = "" }, "admin_user"},
		{"user too long", func(c *Config) { c.AdminUser = "a" + strings.Repeat("b", 32) }, "admin_user"},
		{"root", func(c *Config) { c.AdminUser = "root" }, "admin_user"},
		{"system user", func(c *Config) { c.AdminUser = "systemd-network" }, "admin_user"},
		{"no keys", func(c *Config) { c.AdminKeys = nil }, "ssh_public_keys"},
		{"garbage key", func(c *Config) { c.AdminKeys = []string{c.AdminKeys[0], "not a key"} }, "ssh_public_keys[1]"},
		{"truncated key", func(c *Config) { c.AdminKeys = []string{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"} }, "ssh_public_keys[0]"},
		{"two keys in one line", func(c *Config) { c.AdminKeys = []string{c.AdminKeys[0] + "\n" + c.AdminKeys[1]} }, "ssh_public_keys[0]"},
		{"garbage account key", func(c *Config) { c.AccountKeys = []string{"ssh-rsa"} }, "ssh_key_fingerprints"},
		{"no host key", func(c *Config) { c.HostKey = HostKey{} }, "HostKey"},
		{"host key garbage", func(c *Config) {
			c.HostKey.Private = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
		}, "HostKey.Private"},
		{"host key not ed25519", func(c *Config) { c.HostKey.Private = ecdsaHostKey(t) }, "HostKey.Private"},
		{"host key halves mismatch", func(c *Config) { c.HostKey = HostKey{Private: k.Private, Public: other.Public} }, "HostKey.Public"},
		{"host public not a key", func(c *Config) { c.HostKey.Public = "ssh-ed25519" }, "HostKey.Public"},
		{"negative swap", func(c *Config) { c.SwapMiB = -1 }, "swap_mib"},
		{"huge swap", func(c *Config) { c.SwapMiB = 1 << 20 }, "swap_mib"},
		{"package with space", func(c *Config) { c.Packages = []string{"htop", "git lfs"} }, "Packages[1]"},
		{"package with shell", func(c *Config) { c.Packages = []string{"htop;reboot"} }, "Packages[0]"},
		{"unknown hub install", func(c *Config) { c.HubInstall = "pip" }, "HubInstall"},
		{"mirror without security", func(c *Config) { c.AptSecurityMirror = "" }, "apt_security_mirror"},
		{"ftp mirror", func(c *Config) { c.AptMirror = "ftp://mirror.lab.test/debian" }, "apt_mirror"},
		{"mirror with newline", func(c *Config) { c.AptMirror = "http://m.test/debian\ndeb http://evil.test/ x main" }, "apt_mirror"},
		{"security mirror without host", func(c *Config) { c.AptSecurityMirror = "http:///debian-security" }, "apt_security_mirror"},
		{"extra not yaml", func(c *Config) { c.ExtraCloudConfig = "packages: [htop" }, "extra_cloud_config"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := fullConfig(t)
			tc.mutate(&c)
			err := c.Validate()
			fe := fielderr.All(err)
			if len(fe) != 1 {
				t.Fatalf("want one field error, got %v", err)
			}
			// The provider's own fields have no attribute: the message names them.
			schema := tc.field[0] >= 'a' && tc.field[0] <= 'z'
			if schema && fe[0].Path.String() != tc.field || !schema && len(fe[0].Path) != 0 || !strings.HasPrefix(err.Error(), tc.field+": ") {
				t.Fatalf("error at %q, want %q: %v", fe[0].Path, tc.field, err)
			}
			if _, rerr := Render(c); rerr == nil || rerr.Error() != err.Error() {
				t.Fatalf("Render does not refuse with the same error: %v", rerr)
			}
		})
	}
	if err := fullConfig(t).Validate(); err != nil {
		t.Fatalf("the full config is invalid: %v", err)
	}
	c := fullConfig(t)
	c.AdminKeys, c.AccountKeys = nil, fullConfig(t).AdminKeys
	if err := c.Validate(); err != nil {
		t.Fatalf("the account's keys alone are refused: %v", err)
	}
}

func TestUnknownHubInstallListsMethods(t *testing.T) {
	c := fullConfig(t)
	c.HubInstall = "conda"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), `"conda"`) || !strings.Contains(err.Error(), "debian") {
		t.Fatalf("want an error naming the bad value and the known methods, got %v", err)
	}
	if got := HubInstallMethods(); !slices.Contains(got, "debian") {
		t.Fatalf("HubInstallMethods() = %v", got)
	}
}

// Values with YAML or shell metacharacters either fail validation or come
// back out of the YAML exactly as they went in, with nothing added.
func TestInjection(t *testing.T) {
	for _, h := range []string{"hub\nusers: []", "hub: x", "hub'#", "hub;reboot", "hub$(id)", "hub\x00", "hub {x}", "&a", "*a"} {
		c := fullConfig(t)
		c.Hostname = h
		if _, err := Render(c); !isFieldErr(err, "name") {
			t.Errorf("hostname %q: want a Hostname error, got %v", h, err)
		}
	}
	for _, u := range []string{"teacher\nssh_pwauth: true", "t: x", "t'#", "t;reboot", "t`id`", "t\"", "t|x"} {
		c := fullConfig(t)
		c.AdminUser = u
		if _, err := Render(c); !isFieldErr(err, "admin_user") {
			t.Errorf("user %q: want an AdminUser error, got %v", u, err)
		}
	}

	// authorized_keys options legitimately carry quotes and shell; they are
	// kept verbatim and quoted by the encoder.
	nasty := `command="echo 'hi'; sudo reboot # : {x} [y] & *z",no-pty ` + adminKey(t, `c: #d & *e ! %f |g >h`)
	c := fullConfig(t)
	c.AdminKeys = []string{nasty}
	c.ExtraCloudConfig = "bootcmd:\n  - \"echo '$(id)' ; : && x: y # z\"\n"
	out := mustRender(t, c)
	doc := decode(t, out)
	if got := strList(t, get(t, doc, "users", 0, "ssh_authorized_keys")); !slices.Equal(got, []string{nasty}) {
		t.Fatalf("key changed on the way through YAML:\n got %q\nwant %q", got, nasty)
	}
	if got := strList(t, get(t, doc, "bootcmd")); !slices.Equal(got, []string{"echo '$(id)' ; : && x: y # z"}) {
		t.Fatalf("extra bootcmd changed: %q", got)
	}
	want := decode(t, mustRender(t, fullConfig(t)))
	for k := range doc {
		if _, ok := want[k]; !ok && k != "bootcmd" {
			t.Errorf("unexpected top-level key %q appeared", k)
		}
	}
	if get(t, doc, "ssh_pwauth") != false || len(get(t, doc, "users").([]any)) != 1 {
		t.Fatal("the nasty values changed SSH settings")
	}
	requireSchemaValid(t, out)
}
