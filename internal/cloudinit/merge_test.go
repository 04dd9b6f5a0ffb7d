package cloudinit

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func renderExtra(t *testing.T, extra string) (map[string]any, error) {
	t.Helper()
	c := fullConfig(t)
	c.ExtraCloudConfig = extra
	out, err := Render(c)
	if err != nil {
		return nil, err
	}
	return decode(t, out), nil
}

func TestExtraMerge(t *testing.T) {
	doc, err := renderExtra(t, `#cloud-config
apt:
  conf: |
    Acquire::Retries "3";
packages: [tmux, htop]
runcmd:
  - [touch, /var/lib/extra-ran]
write_files:
  - path: /etc/motd
    content: hello
package_update: true
locale: "no"
timezone: "2001-12-14"
`)
	if err != nil {
		t.Fatal(err)
	}
	// maps deep-merged: the user's apt.conf next to the provider's mirror.
	if get(t, doc, "apt", "conf") != "Acquire::Retries \"3\";\n" || get(t, doc, "apt", "primary", 0, "uri") != "http://mirror.lab.test/debian" {
		t.Errorf("apt not deep-merged: %v", doc["apt"])
	}
	// lists appended, after the provider's entries.
	pk := strList(t, get(t, doc, "packages"))
	if !slices.Equal(pk[len(pk)-2:], []string{"tmux", "htop"}) || pk[0] != "ufw" {
		t.Errorf("packages: %v", pk)
	}
	rc := get(t, doc, "runcmd").([]any)
	if got := strList(t, rc[len(rc)-1]); !slices.Equal(got, []string{"touch", "/var/lib/extra-ran"}) {
		t.Errorf("the user's runcmd does not run last: %v", got)
	}
	if _, ok := writeFilesByPath(t, doc)["/etc/motd"]; !ok || len(writeFilesByPath(t, doc)) != 6 {
		t.Errorf("write_files not appended: %v", writeFilesByPath(t, doc))
	}
	// scalars keep their type through the round trip.
	if get(t, doc, "locale") != "no" || get(t, doc, "timezone") != "2001-12-14" {
		t.Errorf("string scalars changed type: %#v %#v", doc["locale"], doc["timezone"])
	}
}

func TestExtraConflicts(t *testing.T) {
	cases := map[string]string{
		"users:\n  - default\n":           "users",
		"ssh_keys:\n  rsa_public: x\n":    "ssh_keys",
		"ssh_pwauth: true\n":              "ssh_pwauth",
		"ssh_deletekeys: false\n":         "ssh_deletekeys",
		"ssh_genkeytypes: [rsa]\n":        "ssh_genkeytypes",
		"ssh_authorized_keys: [x]\n":      "ssh_authorized_keys",
		"disable_root: false\n":           "disable_root",
		"hostname: other\n":               "hostname",
		"swap: {filename: /s, size: 1}\n": "swap",
		"chpasswd: {expire: false}\n":     "chpasswd",
		"apt:\n  primary:\n    - {arches: [default], uri: 'http://x/'}\n": "apt.primary",
		"package_update: false\n": "package_update",
		"packages: htop\n":        "packages",
		"runcmd: {a: b}\n":        "runcmd",
		"apt: [x]\n":              "apt",
		"write_files:\n  - path: /etc/ssh/sshd_config.d/10-jhub.conf\n    content: PermitRootLogin yes\n": "/etc/ssh/sshd_config.d/10-jhub.conf",
		"write_files:\n  - path: /etc/ufw//jhub-before-output.rules\n    content: ''\n":                   "/etc/ufw//jhub-before-output.rules",
	}
	for extra, key := range cases {
		t.Run(key, func(t *testing.T) {
			_, err := renderExtra(t, extra)
			if !isFieldErr(err, "extra_cloud_config") {
				t.Fatalf("want an ExtraCloudConfig error, got %v", err)
			}
			if !strings.Contains(err.Error(), key) {
				t.Fatalf("error does not name %q: %v", key, err)
			}
		})
	}
}

// billionLaughs nests aliases nine deep: 9^9 strings once expanded.
func billionLaughs() string {
	s := "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		s += n + ": &" + n + " [" + strings.TrimSuffix(strings.Repeat("*"+prev+", ", 9), ", ") + "]\n"
		prev = n
	}
	return s
}

func TestExtraShape(t *testing.T) {
	for extra, want := range map[string]string{
		"- a\n- b\n":                "mapping",
		"just a string":             "mapping",
		"a: 1\n---\nb: 2\n":         "single YAML document",
		"a: [1\n":                   "not valid YAML",
		"a: &x [1]\nb: *y\n":        "not valid YAML",
		"a: !!binary '%%%'\n":       "",
		"? [complex, key]\n: val\n": "",
		billionLaughs():             "aliasing",
	} {
		_, err := renderExtra(t, extra)
		if !isFieldErr(err, "extra_cloud_config") || !strings.Contains(err.Error(), want) {
			t.Errorf("extra %q: want an extra_cloud_config error mentioning %q, got %v", extra, want, err)
		}
	}
	none := fullConfig(t)
	none.ExtraCloudConfig = ""
	base := mustRender(t, none)
	for _, empty := range []string{"", "  \n", "#cloud-config\n", "# only a comment\n", "~\n", "---\n"} {
		c := fullConfig(t)
		c.ExtraCloudConfig = empty
		if out, err := Render(c); err != nil || !bytes.Equal(out, base) {
			t.Errorf("empty extra %q changed the payload (err %v)", empty, err)
		}
	}
}
