package installer

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ufwRuleRE accepts the simple and the full forms of ufw's rule syntax, and
// nothing a shell would read as more than words.
var ufwRuleRE = regexp.MustCompile(`^(allow|deny|reject|limit)( (in|out))?( (\d{1,5}(:\d{1,5})?(/(tcp|udp))?|from [0-9a-fA-F.:/]+|from any|to [0-9a-fA-F.:/]+|to any|port \d{1,5}(:\d{1,5})?|proto (tcp|udp)))+$`)

// ValidFirewallRule reports whether rule is a ufw rule ApplyFirewall takes.
func ValidFirewallRule(rule string) bool { return ufwRuleRE.MatchString(rule) }

// ApplyFirewall deletes the ufw rules of old that want drops and adds the
// rules of want; ufw skips a rule it already has, so applying twice changes
// nothing.
func (c *Client) ApplyFirewall(ctx context.Context, old, want []string) error {
	var script []string
	for _, r := range append(slices.Clone(old), want...) {
		if !ValidFirewallRule(r) {
			return fmt.Errorf("firewall: %q is not a ufw rule this installer accepts", r)
		}
	}
	for _, r := range old {
		if !slices.Contains(want, r) {
			script = append(script, "ufw delete "+r)
		}
	}
	for _, r := range want {
		script = append(script, "ufw "+r)
	}
	if len(script) == 0 {
		return nil
	}
	if _, err := c.sh(ctx, strings.Join(script, "\n"), nil); err != nil {
		return fmt.Errorf("applying the ufw rules: %w", err)
	}
	return nil
}
