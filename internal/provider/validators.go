package provider

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
)

// A DNS label as RFC 1123 allows it for host names, lowercase.
var labelRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// checkZoneName returns what is wrong with a zone name, or "".
func checkZoneName(name string) string {
	switch {
	case name == "":
		return "the name is empty"
	case strings.HasSuffix(name, "."):
		return fmt.Sprintf("%q ends with a dot; write it without one (%q)", name, strings.TrimSuffix(name, "."))
	case name != strings.ToLower(name):
		return fmt.Sprintf("%q has capitals; DNS names are case-insensitive and DigitalOcean stores them lowercase: write %q", name, strings.ToLower(name))
	case len(name) > 253:
		return fmt.Sprintf("%q is longer than 253 characters", name)
	case !strings.Contains(name, "."):
		return fmt.Sprintf("%q is a single label; a zone looks like example.edu", name)
	}
	for _, l := range strings.Split(name, ".") {
		if !labelRE.MatchString(l) {
			return fmt.Sprintf("%q has the invalid label %q: labels are 1-63 letters, digits and inner hyphens", name, l)
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
		return `the label is empty; use "@" for the zone apex`
	}
	if label != strings.ToLower(label) {
		return fmt.Sprintf("%q has capitals; DNS names are case-insensitive: write %q", label, strings.ToLower(label))
	}
	if !zoneUnknown && (label == zone || strings.HasSuffix(label, "."+zone) || strings.HasSuffix(label, "."+zone+".")) {
		rel := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(label, "."), zone), ".")
		if rel == "" {
			rel = "@"
		}
		return fmt.Sprintf("%q includes the zone name; labels are relative to the zone: write %q", label, rel)
	}
	parts := strings.Split(label, ".")
	for i, l := range parts {
		if l == "*" && i == 0 {
			continue
		}
		if !labelRE.MatchString(l) {
			return fmt.Sprintf("%q has the invalid part %q: labels are 1-63 lowercase letters, digits and inner hyphens (a leading \"*.\" is allowed for a wildcard)", label, l)
		}
	}
	return ""
}

type zoneNameValidator struct{ what string }

func (v zoneNameValidator) Description(context.Context) string {
	return "must be a lowercase domain name without a trailing dot"
}

func (v zoneNameValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v zoneNameValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if msg := checkZoneName(req.ConfigValue.ValueString()); msg != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid domain name", msg+".")
	}
}

type ipValidator struct{ v6 bool }

func (v ipValidator) Description(context.Context) string {
	if v.v6 {
		return "must be an IPv6 address"
	}
	return "must be an IPv4 address"
}

func (v ipValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v ipValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s := req.ConfigValue.ValueString()
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid IP address", fmt.Sprintf("%q is not an IP address: %s.", s, err))
	case v.v6 && (!a.Is6() || a.Is4In6()):
		resp.Diagnostics.AddAttributeError(req.Path, "Not an IPv6 address", fmt.Sprintf("%q is not an IPv6 address; put IPv4 addresses in ipv4.", s))
	case !v.v6 && !a.Is4():
		resp.Diagnostics.AddAttributeError(req.Path, "Not an IPv4 address", fmt.Sprintf("%q is not an IPv4 address; put IPv6 addresses in ipv6.", s))
	case a.Zone() != "":
		resp.Diagnostics.AddAttributeError(req.Path, "Address with a zone", fmt.Sprintf("%q carries a zone (%%%s), which DNS cannot publish; drop it.", s, a.Zone()))
	}
}
