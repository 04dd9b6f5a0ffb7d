package provider

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"golang.org/x/crypto/ssh"
)

var _ validator.String = stringCheck{}

// stringCheck is the one string validator of this provider: check says what
// is wrong with a value ("" when nothing is), in words that name the value
// and the fix; the error lands on the attribute being validated.
type stringCheck struct {
	summary string // the diagnostic's summary, for example "Invalid domain name"
	rule    string // what a valid value is, for the docs: "must be ..."
	check   func(string) string
}

// checkString validates a string attribute (or each element of a
// collection, with listvalidator.ValueStringsAre and the like).
func checkString(summary, rule string, check func(string) string) stringCheck {
	return stringCheck{summary: summary, rule: rule, check: check}
}

func (v stringCheck) Description(context.Context) string { return v.rule }

func (v stringCheck) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v stringCheck) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if msg := v.check(req.ConfigValue.ValueString()); msg != "" {
		resp.Diagnostics.AddAttributeError(req.Path, v.summary, msg)
	}
}

// A DNS label as RFC 1123 allows it for host names, lowercase.
var labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// checkZoneName returns what is wrong with a zone name, or "".
func checkZoneName(name string) string {
	switch {
	case name == "":
		return "The name is empty."
	case strings.HasSuffix(name, "."):
		return fmt.Sprintf("%q ends with a dot; write it without one (%q).", name, strings.TrimSuffix(name, "."))
	case name != strings.ToLower(name):
		return fmt.Sprintf("%q has capitals; DNS names are case-insensitive and DigitalOcean stores them lowercase: write %q.", name, strings.ToLower(name))
	case len(name) > 253:
		return fmt.Sprintf("%q is longer than 253 characters.", name)
	case !strings.Contains(name, "."):
		return fmt.Sprintf("%q is a single label; a zone looks like example.edu.", name)
	}
	for _, l := range strings.Split(name, ".") {
		if !labelRE.MatchString(l) {
			return fmt.Sprintf("%q has the invalid label %q: labels are 1-63 letters, digits and inner hyphens.", name, l)
		}
	}
	return ""
}

// checkLabel returns what is wrong with a record label within zone, or "".
func checkLabel(label, zone string, zoneUnknown bool) string {
	if label == "@" {
		return ""
	}
	if label == "" {
		return `The label is empty; use "@" for the zone apex.`
	}
	if label != strings.ToLower(label) {
		return fmt.Sprintf("%q has capitals; DNS names are case-insensitive: write %q.", label, strings.ToLower(label))
	}
	if !zoneUnknown && (label == zone || strings.HasSuffix(label, "."+zone) || strings.HasSuffix(label, "."+zone+".")) {
		rel := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(label, "."), zone), ".")
		if rel == "" {
			rel = "@"
		}
		return fmt.Sprintf("%q includes the zone name; labels are relative to the zone: write %q.", label, rel)
	}
	for i, l := range strings.Split(label, ".") {
		if l == "*" && i == 0 {
			continue
		}
		if !labelRE.MatchString(l) {
			return fmt.Sprintf("%q has the invalid part %q: labels are 1-63 lowercase letters, digits and inner hyphens (a leading \"*.\" is allowed for a wildcard).", label, l)
		}
	}
	return ""
}

// checkHostname returns what is wrong with a droplet name, which is also its
// host name, or "".
func checkHostname(name string) string {
	if name == "" || len(name) > 253 {
		return fmt.Sprintf("%q must be 1-253 characters long.", name)
	}
	if name != strings.ToLower(name) {
		return fmt.Sprintf("%q has capitals; the name is the droplet's host name: write %q.", name, strings.ToLower(name))
	}
	for _, l := range strings.Split(name, ".") {
		if !labelRE.MatchString(l) {
			return fmt.Sprintf("%q has the invalid label %q: a host name is dot-separated labels of 1-63 lowercase letters, digits and inner hyphens.", name, l)
		}
	}
	return ""
}

var userRE = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// checkUserName returns what is wrong with a Linux user name, or "".
func checkUserName(name string) string {
	if !userRE.MatchString(name) {
		return fmt.Sprintf("%q is not a Linux user name: 1-32 lowercase letters, digits, _ and -, starting with a letter or _.", name)
	}
	return ""
}

// DigitalOcean's rule for tag names.
var tagRE = regexp.MustCompile(`^[a-zA-Z0-9_:-]{1,255}$`)

// checkTag returns what is wrong with a DigitalOcean tag, or "".
func checkTag(tag string) string {
	if !tagRE.MatchString(tag) {
		return fmt.Sprintf("%q is not a DigitalOcean tag: 1-255 letters, digits, colons, hyphens and underscores.", tag)
	}
	return ""
}

// checkAuthorizedKey returns what is wrong with an OpenSSH public key line, or "".
// It never echoes the value: a pasted private key must not reach a log.
func checkAuthorizedKey(line string) string {
	if strings.Contains(line, "PRIVATE KEY") {
		return "This looks like a private key. Give the public half (the .pub file, one line starting with ssh-ed25519 or ssh-rsa); the private key belongs to jhub_edge."
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err != nil {
		return fmt.Sprintf("Not an OpenSSH public key line (%s). Give the contents of a .pub file, such as \"ssh-ed25519 AAAA… you@laptop\".", err)
	}
	return ""
}

// checkIP returns a check that s is an address of the family the record
// attribute holds (ipv4 or ipv6).
func checkIP(v6 bool) func(string) string {
	return func(s string) string {
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			return fmt.Sprintf("%q is not an IP address: %s.", s, err)
		case v6 && (!a.Is6() || a.Is4In6()):
			return fmt.Sprintf("%q is not an IPv6 address; put IPv4 addresses in ipv4.", s)
		case !v6 && !a.Is4():
			return fmt.Sprintf("%q is not an IPv4 address; put IPv6 addresses in ipv6.", s)
		case a.Zone() != "":
			return fmt.Sprintf("%q carries a zone (%%%s), which DNS cannot publish; drop it.", s, a.Zone())
		}
		return ""
	}
}

// checkImage refuses images whose packaged JupyterHub is unsafe for a class.
func checkImage(slug string) string {
	if slug == "debian-12" || strings.HasPrefix(slug, "debian-12-") {
		return fmt.Sprintf("%q packages JupyterHub 3.0, which has CVE-2024-28233: a cross-user XSS through which one student can act as another user or an admin (fixed in JupyterHub 4.1). Use image = %q, which packages JupyterHub 5.2.", slug, defaultImage)
	}
	return ""
}
