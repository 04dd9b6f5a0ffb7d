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
