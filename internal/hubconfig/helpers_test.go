package hubconfig

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

func TestMain(m *testing.M) {
	// Hashing at the production cost would make each case take ~100ms.
	bcryptCost = bcrypt.MinCost
	os.Exit(m.Run())
}

// testSecrets are fixed so renders in tests are comparable.
var testSecrets = Secrets{
	CookieSecret: strings.Repeat("c0", 32),
	ProxyToken:   strings.Repeat("a1", 32),
}

// classHub is the seeds' class: PAM users, notebooks in ~/assignments
// opening Welcome.ipynb, idle culling, a static course site behind basic auth.
func classHub(t *testing.T) Settings {
	t.Helper()
	s := Settings{
		HubHosts:     []string{"hub.example.edu"},
		BaseURL:      "/",
		Auth:         Auth{Kind: AuthPAM, CreateSystemUsers: true},
		AllowedUsers: []string{"alice", "bob"},
		AdminUsers:   []string{"prof"},
		AdminSSHUser: "teacher",
		Spawner:      Spawner{NotebookDir: "~/assignments", DefaultURL: "/lab/tree/Welcome.ipynb"},
		CourseFiles:  map[string]string{"Welcome.ipynb": "{}\n", "week1/data.csv": "x,y\n1,2\n"},
		Limits:       DefaultLimits(2048, 2),
		NamedServers: true, NamedServerLimit: 2,
		IdleCull: &IdleCull{Timeout: time.Hour},
		Edge: Edge{
			TLS: TLS{Mode: TLSACME, ACME: ACME{Email: "admin@example.edu", Challenges: []string{"http-01", "tls-alpn-01"}}},
			Sites: []Site{
				{Host: "www.example.edu", StaticFiles: map[string]string{"index.html": "<h1>CS101</h1>\n", "notes/week1.html": "week 1\n"}, BasicAuth: &BasicAuth{Paths: []string{"/notes/"}, Realm: "CS101"}},
				{Host: "grades.example.edu", Upstream: "http://127.0.0.1:9000"},
			},
			BasicAuthUsers: map[string]string{"ta": "ta-password-1"},
		},
		Secrets: testSecrets,
	}
	var err error
	s.Secrets, err = s.Secrets.WithBasicAuth(s.Edge.BasicAuthUsers)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// renderTo renders s relocated below a fresh temporary directory and
// writes the tree there, as it is on the droplet once current; it returns
// the relocated Current.
func renderTo(t *testing.T, s Settings) (current string, files []File) {
	t.Helper()
	root := t.TempDir()
	current = filepath.Join(root, ondroplet.Current)
	files, err := render(s, layout{current: current, unitDir: filepath.Join(root, ondroplet.UnitDir)})
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	writeFiles(t, "", files)
	return current, files
}

// writeFiles writes files below prefix with their modes.
func writeFiles(t *testing.T, prefix string, files []File) {
	t.Helper()
	for _, f := range files {
		p := filepath.Join(prefix, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, f.Content, f.Mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, f.Mode); err != nil { // umask
			t.Fatal(err)
		}
	}
}

func fileNamed(t *testing.T, files []File, rel string) File {
	t.Helper()
	for _, f := range files {
		if strings.HasSuffix(f.Path, "/"+rel) {
			return f
		}
	}
	t.Fatalf("no file %s in release", rel)
	return File{}
}

func needPython(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		testkit.Need(t, "python3", "apt-get install python3")
	}
	return py
}

// stubExec runs a jupyterhub_config.py with a stand-in for traitlets' `c`
// that records every c.Section.name = value assignment, and returns them as
// JSON-decoded values (sets become sorted lists under "__set__", classes
// their name under "__class__", functions under "__callable__"). The host
// has no JupyterHub: jhub_hub.py's imports get empty stand-ins, enough to
// define its classes (the lab tests run them in the real JupyterHub).
const stubExec = `
import json, sys, types
def fake(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
class Base:
    pass
def trait(*a, **k):
    return None
fake("jupyterhub")
fake("jupyterhub.auth", Authenticator=type("Authenticator", (Base,), {}), PAMAuthenticator=type("PAMAuthenticator", (Base,), {}))
fake("jupyterhub.handlers", BaseHandler=type("BaseHandler", (Base,), {}))
fake("jupyterhub.spawner", Spawner=type("Spawner", (Base,), {}))
fake("jupyterhub.utils", maybe_future=None, random_port=None, url_path_join=None)
fake("tornado", web=None)
fake("traitlets", Dict=trait, Integer=trait, List=trait, Set=trait, Unicode=trait, default=lambda name: lambda f: f)
fake("traitlets.config", Configurable=type("Configurable", (Base,), {}))
rec = {}
class Section:
    def __init__(self, name):
        object.__setattr__(self, "_name", name)
    def __setattr__(self, key, value):
        rec.setdefault(self._name, {})[key] = value
    def __getattr__(self, key):
        raise AttributeError("config reads c.%s.%s" % (self._name, key))
class C:
    def __getattr__(self, name):
        return Section(name)
def enc(o):
    if isinstance(o, (set, frozenset)):
        return {"__set__": sorted(o)}
    if isinstance(o, type):
        return {"__class__": o.__name__}
    if callable(o):
        return {"__callable__": o.__name__}
    raise TypeError(repr(o))
path = sys.argv[1]
src = open(path, encoding="utf-8").read()
exec(compile(src, path, "exec"), {"c": C(), "__file__": path, "__name__": "__config__"})
json.dump(rec, sys.stdout, default=enc, sort_keys=True)
`

func execHubConfig(t *testing.T, path string) map[string]map[string]any {
	t.Helper()
	py := needPython(t)
	cmd := exec.Command(py, "-B", "-c", stubExec, path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("exec %s in python3: %v\n%s", path, err, stderr.String())
	}
	var rec map[string]map[string]any
	if err := json.Unmarshal(out, &rec); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	return rec
}

func set(items ...string) map[string]any {
	l := make([]any, len(items))
	for i, s := range items {
		l[i] = s
	}
	return map[string]any{"__set__": l}
}

// sharedAuth is shared-password auth for classHub's admin, prof.
func sharedAuth() Auth {
	return Auth{Kind: AuthSharedPassword, Password: "class password 2025", AdminPasswords: map[string]string{"prof": "prof's own long password"}}
}
