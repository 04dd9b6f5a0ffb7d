package cloudinit

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// pyyaml runs script under the Python that runs cloud-init, with JSON in and
// out, so the tests compare against the YAML reader that reads user_data.
func pyyaml(t *testing.T, script string, in any) []byte {
	t.Helper()
	f, err := os.Open(needTool(t, "cloud-init"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	shebang, _ := bufio.NewReader(f).ReadString('\n')
	interp := strings.Fields(strings.TrimPrefix(shebang, "#!"))
	if !strings.HasPrefix(shebang, "#!") || len(interp) == 0 {
		t.Fatalf("cloud-init is not a script with a #! line: %.40q", shebang)
	}
	stdin, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(interp[0], append(interp[1:], "-c", script)...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", interp[0], err, stderr.Bytes())
	}
	return out
}

// tricky scalars: every YAML 1.1/1.2 edge known to differ, plus all strings
// of up to three characters over the alphabet the number, bool and null
// rules are made of.
func trickyScalars() []string {
	s := []string{
		"", "~", "null", "Null", "NULL", "nULL", "yes", "Yes", "YES", "yEs", "no", "on", "Off", "y", "n", "true", "True", "TRUE", "tRue",
		"0", "00", "0.", "0.0", ".0", "0x0", "0X0", "0o0", "0b0", "0b", "0x", "0x_", "0b__", "0__", "0_7", "08", "0755", "0o755", "1_000", "1__",
		"1e3", "1E3", "1.0e3", "1.0e+3", "1.e+3", "1e+06", "1.0e+06", "._5", ".5_", "1._5", "+.inf", "-.Inf", ".INF", ".nan", "-.nan", ".NaN",
		"1:30", "-1:30", "1:30.5", "0:30", "1:60", "190:20:30", "99999999999999999999", "-0b101", "+0x1F", "0x1f",
		"2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "2001-1-1 1:00:00", "2001-12-14T21:59:43Z", "2001-12-1",
		"=", "<<", "< <", "==", "Infinity", "nan", "inf",
	}
	alphabet := []string{"0", "1", "7", "8", ".", "_", ":", "-", "+", "e", "x", "b", "o", "n", "y", "~", "="}
	prev := []string{""}
	for range 3 {
		var next []string
		for _, p := range prev {
			for _, a := range alphabet {
				next = append(next, p+a)
			}
		}
		s = append(s, next...)
		prev = next
	}
	return s
}

// The resolver the checks rely on is PyYAML's, scalar for scalar.
func TestYAML11TagMatchesPyYAML(t *testing.T) {
	scalars := trickyScalars()
	out := pyyaml(t, `
import json, sys, yaml
from cloudinit import safeyaml
loader = safeyaml._CustomSafeLoader("")
print(json.dumps([loader.resolve(yaml.ScalarNode, s, (True, False)).replace("tag:yaml.org,2002:", "!!") for s in json.load(sys.stdin)]))
`, scalars)
	var tags []string
	if err := json.Unmarshal(out, &tags); err != nil || len(tags) != len(scalars) {
		t.Fatalf("PyYAML answered %d tags for %d scalars (%v): %.200s", len(tags), len(scalars), err, out)
	}
	for i, s := range scalars {
		if got := yaml11Tag(s); got != tags[i] {
			t.Errorf("yaml11Tag(%q) = %s, PyYAML says %s", s, got, tags[i])
		}
	}
}

// canon spells a decoded value with its type, so that values read by yaml.v3
// and by PyYAML compare equal only if both readers agree on every type.
func canon(v any) any {
	switch v := v.(type) {
	case map[string]any:
		pairs := [][]any{}
		for _, k := range sortedKeys(v) {
			pairs = append(pairs, []any{canon(k), canon(v[k])})
		}
		return []any{"map", pairs}
	case []any:
		l := []any{}
		for _, e := range v {
			l = append(l, canon(e))
		}
		return []any{"list", l}
	case string:
		if !utf8.ValidString(v) {
			return []any{"bytes", base64.StdEncoding.EncodeToString([]byte(v))}
		}
		return []any{"str", v}
	case bool:
		return []any{"bool", v}
	case nil:
		return []any{"null"}
	case int:
		return []any{"int", float64(v)}
	case uint64:
		return []any{"int", float64(v)}
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return []any{"float", strconv.FormatFloat(v, 'g', -1, 64)}
		}
		return []any{"float", v}
	}
	return []any{fmt.Sprintf("Go %T", v), fmt.Sprint(v)}
}

const pyCanon = `
import base64, json, math, sys
from cloudinit import safeyaml

def canon(v):
    if isinstance(v, dict):
        return ["map", sorted([[canon(k), canon(x)] for k, x in v.items()], key=json.dumps)]
    if isinstance(v, list):
        return ["list", [canon(x) for x in v]]
    if isinstance(v, bool):
        return ["bool", v]
    if v is None:
        return ["null"]
    if isinstance(v, int):
        return ["int", v]
    if isinstance(v, float):
        return ["float", v if math.isfinite(v) else {"inf": "+Inf", "-inf": "-Inf", "nan": "NaN"}[repr(v)]]
    if isinstance(v, str):
        return ["str", v]
    if isinstance(v, bytes):
        return ["bytes", base64.b64encode(v).decode()]
    return ["Python " + type(v).__name__, str(v)]

out = []
for payload in json.load(sys.stdin):
    try:
        out.append(canon(safeyaml.load(payload)))
    except Exception as e:
        out.append(["error", "%s: %s" % (type(e).__name__, e)])
print(json.dumps(out))
`

// corpusExtras reads the ExtraCloudConfig of every committed FuzzRender input.
func corpusExtras(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("testdata/fuzz/FuzzRender/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no FuzzRender corpus (%v)", err)
	}
	extras := map[string]string{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		last := lines[len(lines)-1]
		s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(last, "string("), ")"))
		if len(lines) != 4 || err != nil {
			t.Fatalf("%s: not a go fuzz v1 file of three strings", f)
		}
		extras["corpus "+filepath.Base(f)] = s
	}
	return extras
}

// Every payload Render produces means the same to cloud-init as to the Go
// reader the tests use: same keys, same values, same types.
func TestPayloadReadsTheSameInCloudInit(t *testing.T) {
	extras := map[string]string{
		"quoted look-alikes": `bootcmd:
  - [echo, "yes", "no", "on", "=", "<<", "0x_", "1:30", "2001-12-14", "~", "0.", "1e3", "0o17", "08"]
  - [echo, '2001-12-14 21:59:43.10 -5', !!str 0, !!str 1_000]
`,
		"quoted keys stay distinct": "bootcmd_env:\n  \"0\": a\n  \"0.\": b\n  \"0.0\": c\n  \"00\": d\n  \"no\": e\n  \"false\": f\n  \"~\": g\n  \"=\": h\n",
		"numbers":                   "power_state:\n  delay: 30\n  timeout: 30.0\n  condition: true\nx_numbers: [0.0, -0.0, 1.0e+6, 1.5, 1.0e-7, 0755, 0x1F, -0b11, 1_000, 1_000.5, .inf, -.Inf, .nan, 18446744073709551615, 123456789012345678.0]\n",
		"merge keys and anchors":    "x_base: &base {a: 1, b: 2}\nx_more: &more {b: 3, c: 4}\nx_merged:\n  <<: [*base, *more]\n  c: 5\n",
		"binary":                    "write_files:\n  - path: /usr/local/bin/x\n    content: !!binary |\n      f0VMRgIBAQ==\n  - path: /etc/x\n    content: !!binary aGVsbG8=\n",
		"odd strings":               "x_strings: ['', ' ', '#', '- a', 'a: b', \"\\t\", \"\\u0085\", \"\\u2028\", \"caf\\u00e9\", \"a\\nb\\n\", \"\\x7f\", '@x', '`x', '%x', '!x', '&x', '*x', '|', '>', '?', '-', '---', '...']\n",
	}
	for name, extra := range corpusExtras(t) {
		extras[name] = extra
	}
	var names, payloads []string
	for _, name := range slices.Sorted(maps.Keys(extras)) {
		c := minimalConfig(t)
		c.ExtraCloudConfig = extras[name]
		out, err := Render(c)
		if err != nil {
			if !strings.HasPrefix(name, "corpus ") {
				t.Errorf("%s: Render: %v", name, err)
			}
			continue
		}
		names = append(names, name)
		payloads = append(payloads, string(out))
	}
	var fromPy []any
	if err := json.Unmarshal(pyyaml(t, pyCanon, payloads), &fromPy); err != nil || len(fromPy) != len(payloads) {
		t.Fatalf("PyYAML answered %d values for %d payloads: %v", len(fromPy), len(payloads), err)
	}
	for i, p := range payloads {
		// Through JSON so that both sides hold the same Go types.
		var fromGo any
		j, err := json.Marshal(canon(decode(t, []byte(p))))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(j, &fromGo); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fromGo, fromPy[i]) {
			py, err := json.Marshal(fromPy[i])
			if err != nil {
				t.Fatal(err)
			}
			t.Errorf("%s: cloud-init reads the payload differently\nGo:     %s\nPyYAML: %s\n--- payload ---\n%s", names[i], j, py, p)
		}
	}
}

// Cases whose plain spelling means one thing to cloud-init and another to
// YAML 1.2, or collapses keys in cloud-init, are refused, naming the key.
func TestExtraYAML11Ambiguities(t *testing.T) {
	for extra, want := range map[string]string{
		"0: a\n":                              `key "0" is an integer to cloud-init`,
		"bootcmd_env:\n  0: a\n  0.: b\n":     `key "0" (at bootcmd_env) is an integer`,
		"bootcmd_env:\n  \"0\": a\n  0.: b\n": `key "0." (at bootcmd_env) is a float`,
		"x:\n  no: a\n":                       `key "no" (at x) is a boolean to cloud-init`,
		"x:\n  true: a\n":                     `key "true" (at x) is a boolean`,
		"x:\n  ~: a\n":                        `key "~" (at x) is null`,
		"x:\n  00: a\n":                       `key "00" (at x) is an integer`,
		"x:\n  0x0: a\n":                      `key "0x0" (at x) is an integer`,
		"x:\n  0o0: a\n":                      `key "0o0" (at x) is an integer to YAML 1.2`,
		"x:\n  1e3: a\n":                      `key "1e3" (at x) is a float to YAML 1.2`,
		"x:\n  1:30: a\n":                     `key "1:30" (at x) is an integer to cloud-init`,
		"x:\n  2001-12-14: a\n":               `key "2001-12-14" (at x) is a date`,
		"x:\n  =: a\n":                        `key "=" (at x) is the YAML 1.1 value key`,
		"x:\n  !!int 7: a\n":                  `key "7" (at x) is an integer`,
		"x:\n  [a]: b\n":                      "a mapping key (at x) is a collection",
		"package_upgrade: yes\n":              "value yes (at package_upgrade) is a boolean to cloud-init (YAML 1.1) but a string in YAML 1.2",
		"bootcmd: [[sleep, 1:30]]\n":          "value 1:30 (at bootcmd[0][1]) is an integer to cloud-init",
		"bootcmd: [[chmod, 0o755, /x]]\n":     "value 0o755 (at bootcmd[0][1]) is a string to cloud-init (YAML 1.1) but an integer",
		"x: =\n":                              "cloud-init cannot load",
		"x: 0x_\n":                            "value 0x_ (at x) is an integer to cloud-init",
		"x: 2001-12-14\n":                     `value 2001-12-14 (at x) is a date to cloud-init; cloud-config wants a string there, so quote it ("2001-12-14")`,
		"x: 2001-12-14 21:59:43.10 -5\n":      "is a date to cloud-init (YAML 1.1) but a string",
		"x: !!float 1\n":                      "has the tag !!float",
		"x: !!set {a}\n":                      "has the tag !!set",
	} {
		_, err := renderExtra(t, extra)
		if !isFieldErr(err, "extra_cloud_config") || !strings.Contains(err.Error(), want) {
			t.Errorf("extra %q: want an ExtraCloudConfig error with %q, got %v", extra, want, err)
		}
	}
}

// requirePlainScalarsAgree fails on a plain scalar in payload that YAML 1.1
// (cloud-init) and YAML 1.2 (yaml.v3) would read as different types.
func requirePlainScalarsAgree(t testing.TB, payload []byte) {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal(payload, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && isPlain(n) && yaml11Tag(n.Value) != n.ShortTag() {
			t.Fatalf("the payload's plain scalar %q is %s to cloud-init but %s to yaml.v3\n%s", n.Value, yaml11Tag(n.Value), n.ShortTag(), payload)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
}
