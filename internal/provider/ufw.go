package provider

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"

	"github.com/classhub/terraform-provider-jhub/internal/hubconfig"
	"github.com/classhub/terraform-provider-jhub/internal/installer"
)

// checkUFWRule returns what is wrong with a rule, or "".
func checkUFWRule(rule string) string {
	if !installer.ValidFirewallRule(rule) {
		return fmt.Sprintf("%q is not a ufw rule this provider accepts: write it as ufw would, such as \"allow 8443/tcp\" or \"allow from 198.51.100.0/24 to any port 5432 proto tcp\"", rule)
	}
	if !strings.HasPrefix(rule, "allow") {
		return ""
	}
	for _, spec := range rulePorts(rule) {
		lo, hi, _ := strings.Cut(spec, ":")
		a, _ := strconv.Atoi(lo)
		b := a
		if hi != "" {
			b, _ = strconv.Atoi(hi)
		}
		for _, p := range hubconfig.InternalPorts {
			if a <= p && p <= b {
				return fmt.Sprintf("%q would open port %d, one of the hub's internal ports (%v); they stay closed: the proxy API behind them would let anyone reroute the hub", rule, p, hubconfig.InternalPorts)
			}
		}
	}
	return ""
}

// rulePorts lists a rule's port specs ("8443", "7000:9000"): the word after
// "port", or a number word in the short form; addresses after from/to are not ports.
func rulePorts(rule string) []string {
	words := strings.Fields(rule)
	var out []string
	for i := 1; i < len(words); i++ {
		w, prev := words[i], words[i-1]
		if prev == "port" || (prev != "from" && prev != "to" && w[0] >= '0' && w[0] <= '9') {
			spec, _, _ := strings.Cut(w, "/")
			out = append(out, spec)
		}
	}
	return out
}

type ufwRuleValidator struct{}

func (ufwRuleValidator) Description(context.Context) string { return "must be a ufw rule" }

func (v ufwRuleValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (ufwRuleValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if msg := checkUFWRule(req.ConfigValue.ValueString()); msg != "" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid ufw rule", msg+".")
	}
}
