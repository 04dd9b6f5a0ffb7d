package provider

import (
	"strings"
	"testing"
)

func TestCheckZoneName(t *testing.T) {
	for name, want := range map[string]string{
		"example.edu":                     "",
		"cs101.example.edu":               "",
		"":                                "empty",
		"example.edu.":                    "without one",
		"Example.edu":                     "capitals",
		"localhost":                       "single label",
		"bad_label.edu":                   "invalid label",
		"-lead.example.edu":               "invalid label",
		strings.Repeat("a.", 127) + "edu": "longer than 253",
	} {
		got := checkZoneName(name)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("checkZoneName(%q) = %q, want it to mention %q", name, got, want)
		}
	}
}

func TestCheckLabel(t *testing.T) {
	for label, want := range map[string]string{
		"@":                "",
		"hub":              "",
		"lab.cs":           "",
		"*.sites":          "",
		"":                 `use "@"`,
		"Hub":              `write "hub"`,
		"hub.example.edu":  `write "hub"`,
		"example.edu":      `write "@"`,
		"hub.example.edu.": `write "hub"`,
		"under_score":      "invalid part",
		"a.*":              "invalid part",
		"x..y":             "invalid part",
	} {
		got := checkLabel(label, "example.edu", false)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("checkLabel(%q) = %q, want it to mention %q", label, got, want)
		}
	}
	if got := checkLabel("hub.example.edu", "example.edu", true); got != "" {
		t.Errorf("with an unknown zone the suffix cannot be judged, got %q", got)
	}
}

func TestDefaultSwapMiB(t *testing.T) {
	for size, want := range map[string]int64{
		"s-1vcpu-512mb-10gb": 2048,
		"s-1vcpu-1gb":        2048,
		"s-1vcpu-2gb":        0,
		"s-2vcpu-4gb":        0,
		"g-2vcpu-8gb":        0,
		"c-2":                0,
	} {
		if got := defaultSwapMiB(size); got != want {
			t.Errorf("defaultSwapMiB(%q) = %d, want %d", size, got, want)
		}
	}
}

func TestStringChecks(t *testing.T) {
	key := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbN9GPUrFqlZ0WykaZlcjOKQdz7OF31epHSWAKJd9/W a@b"
	for _, tc := range []struct {
		name  string
		check func(string) string
		in    string
		want  string // "" for valid
	}{
		{"hostname", checkHostname, "hub-cs101", ""},
		{"hostname", checkHostname, "hub.cs101.example.edu", ""},
		{"hostname", checkHostname, "Hub", `write "hub"`},
		{"hostname", checkHostname, "hub_1", `invalid label "hub_1"`},
		{"hostname", checkHostname, "", "1-253"},
		{"user", checkUserName, "teacher", ""},
		{"user", checkUserName, "Root User", "not a Linux user name"},
		{"tag", checkTag, "class:cs101_fall-2025", ""},
		{"tag", checkTag, "class 101", "not a DigitalOcean tag"},
		{"tag", checkTag, strings.Repeat("t", 256), "not a DigitalOcean tag"},
		{"key", checkAuthorizedKey, key, ""},
		{"key", checkAuthorizedKey, "-----BEGIN OPENSSH PRIVATE KEY-----", "looks like a private key"},
		{"key", checkAuthorizedKey, "ssh-ed25519 nonsense", "Not an OpenSSH public key"},
		{"ipv4", checkIP(false), "198.18.0.1", ""},
		{"ipv4", checkIP(false), "2001:db8::1", "put IPv6 addresses in ipv6"},
		{"ipv4", checkIP(false), "198.18.0.300", "not an IP address"},
		{"ipv6", checkIP(true), "2001:db8::1", ""},
		{"ipv6", checkIP(true), "::ffff:198.18.0.1", "put IPv4 addresses in ipv4"},
		{"ipv6", checkIP(true), "fe80::1%eth0", "carries a zone"},
		{"image", checkImage, defaultImage, ""},
		{"image", checkImage, "ubuntu-24-04-x64", ""},
		{"image", checkImage, "debian-12-x64", "CVE-2024-28233"},
		{"image", checkImage, "debian-12-x64", `image = "debian-13-x64"`},
	} {
		got := tc.check(tc.in)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s check of %q = %q, want it to mention %q", tc.name, tc.in, got, tc.want)
		}
	}
}
