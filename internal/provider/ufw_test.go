package provider

import (
	"strings"
	"testing"
)

func TestCheckUFWRule(t *testing.T) {
	for rule, want := range map[string]string{
		"allow 8443/tcp":        "",
		"allow 60000:61000/udp": "",
		"allow from 198.51.100.0/24 to any port 5432 proto tcp": "",
		"deny out 25/tcp":                "",
		"limit 2222/tcp":                 "",
		"deny 880/tcp":                   "",
		"allow 880/tcp":                  "port 880",
		"allow 800:900/tcp":              "port 880",
		"allow from any to any port 881": "port 881",
		"allow in 883":                   "port 883",
		"allow 22; rm -rf /":             "not a ufw rule",
		"allow $(id)":                    "not a ufw rule",
		"delete allow 80":                "not a ufw rule",
		"":                               "not a ufw rule",
	} {
		got := checkUFWRule(rule)
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("checkUFWRule(%q) = %q, want it to mention %q", rule, got, want)
		}
	}
}
