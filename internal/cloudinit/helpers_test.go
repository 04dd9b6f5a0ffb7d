package cloudinit

import (
	"bytes"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/classhub/terraform-provider-jhub/internal/cloudinit/schematest"
	"github.com/classhub/terraform-provider-jhub/internal/fielderr"
)

// isFieldErr reports whether err is exactly one field error, at the
// jhub_droplet attribute path at.
func isFieldErr(err error, at string) bool {
	fe := fielderr.All(err)
	return len(fe) == 1 && fe[0].Path.String() == at
}

var (
	testKeyOnce sync.Once
	testKey     HostKey
	testKeyErr  error
)

// hostKey is generated once per test binary: the tests need a valid pair,
// not a fresh one each time.
func hostKey(t testing.TB) HostKey {
	t.Helper()
	testKeyOnce.Do(func() { testKey, testKeyErr = GenerateHostKey() })
	if testKeyErr != nil {
		t.Fatal(testKeyErr)
	}
	return testKey
}

var (
	adminKeysMu sync.Mutex
	adminKeys   = map[string]string{}
)

// adminKey is a real public key, so validation sees a genuine line; the same
// comment gives the same key, so configs built twice render identically.
func adminKey(t testing.TB, comment string) string {
	t.Helper()
	adminKeysMu.Lock()
	defer adminKeysMu.Unlock()
	if k, ok := adminKeys[comment]; ok {
		return k
	}
	k, err := GenerateHostKey()
	if err != nil {
		t.Fatal(err)
	}
	adminKeys[comment] = k.Public + " " + comment
	return adminKeys[comment]
}

// fullConfig sets every field.
func fullConfig(t testing.TB) Config {
	t.Helper()
	return Config{
		Hostname:          "hub.class.example.org",
		AdminUser:         "teacher",
		AdminKeys:         []string{adminKey(t, "teacher@laptop"), adminKey(t, "ta@desktop")},
		HostKey:           hostKey(t),
		SwapMiB:           2048,
		Packages:          []string{"htop", "git", "python3-numpy=1:1.24.2-1"},
		HubInstall:        "debian",
		AptMirror:         "http://mirror.lab.test/debian",
		AptSecurityMirror: "http://mirror.lab.test/debian-security",
		ExtraCloudConfig:  "#cloud-config\npackages: [tmux]\nruncmd:\n  - [touch, /var/lib/extra-ran]\ntimezone: Europe/Berlin\n",
	}
}

func minimalConfig(t testing.TB) Config {
	t.Helper()
	return Config{Hostname: "hub", AdminUser: "admin1", AdminKeys: []string{adminKey(t, "a")}, HostKey: hostKey(t)}
}

func mustRender(t testing.TB, c Config) []byte {
	t.Helper()
	out, err := Render(c)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return out
}

// decode parses a payload back the way cloud-init would see it.
func decode(t testing.TB, payload []byte) map[string]any {
	t.Helper()
	if !bytes.HasPrefix(payload, []byte("#cloud-config\n")) {
		t.Fatalf("payload does not start with #cloud-config: %.40q", payload)
	}
	var m map[string]any
	if err := yaml.Unmarshal(payload, &m); err != nil {
		t.Fatalf("payload is not YAML: %v\n%s", err, payload)
	}
	return m
}

var (
	needTool           = schematest.NeedTool
	cloudInitSchema    = schematest.Schema
	requireSchemaValid = schematest.RequireValid
)

// get walks a decoded document: keys for maps, ints for lists.
func get(t testing.TB, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("at %v: want a mapping, got %T", p, v)
			}
			v, ok = m[k]
			if !ok {
				t.Fatalf("key %q missing", k)
			}
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("at %v: want a list with index %d, got %T %v", p, k, v, v)
			}
			v = l[k]
		}
	}
	return v
}

func strList(t testing.TB, v any) []string {
	t.Helper()
	l, ok := v.([]any)
	if !ok {
		t.Fatalf("want a list, got %T", v)
	}
	out := make([]string, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			t.Fatalf("element %d: want a string, got %T", i, e)
		}
		out[i] = s
	}
	return out
}

// writeFilesByPath indexes write_files entries by path.
func writeFilesByPath(t testing.TB, doc map[string]any) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, e := range get(t, doc, "write_files").([]any) {
		m := e.(map[string]any)
		out[m["path"].(string)] = m
	}
	return out
}
