package hubconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

// Hostile strings: each must arrive in Python exactly as given and nothing
// after it may run.
var hostile = []string{
	`o'brien`,
	`x'}; import os; os.system('touch /tmp/pwned'); s={'`,
	"two\nlines = 1",
	`back\slash\`,
	`'''triple'''`,
	`"""dq"""`,
	"tab\tand\rcr",
	"unicode: ünïcødé 学生 😀",
	"line\u2028sep\u2029para",
	"\x7fdel\x01ctl\x1b[31m",
	`# comment`,
	`\N{BULLET} \x41 \u0041`,
	"{username} ~ $HOME %s",
}

// Hostile strings in the free-text settings arrive in Python exactly as
// given, and nothing after them runs.
func TestHostileStringsStayData(t *testing.T) {
	s := classHub(t)
	s.Spawner = Spawner{NotebookDir: "~/" + hostile[2], DefaultURL: "/lab/tree/" + hostile[0], Cmd: append([]string{"jupyterhub-singleuser"}, hostile...)}
	s.Auth = Auth{Kind: AuthOIDC, ClientID: hostile[1], ClientSecret: "x", IssuerURL: "https://sso.example.edu", UsernameClaim: ClaimPreferredUsername}
	_, files := renderTo(t, s)
	cfg := fileNamed(t, files, "jupyterhub_config.py")
	for _, line := range strings.Split(string(cfg.Content), "\n") {
		for _, r := range line {
			if r > 0x7e || (r < 0x20 && r != '\t') {
				t.Fatalf("non-ASCII or control character %U in jupyterhub_config.py line %q", r, line)
			}
		}
	}
	got := execHubConfig(t, cfg.Path)
	wantSpawner := map[string]any{"notebook_dir": "~/" + hostile[2], "default_url": "/lab/tree/" + hostile[0],
		"cmd": append([]any{"jupyterhub-singleuser"}, anys(hostile)...), "start_timeout": float64(SpawnStartTimeout), "http_timeout": float64(SpawnHTTPTimeout)}
	if !reflect.DeepEqual(got["Spawner"], wantSpawner) {
		t.Errorf("Spawner = %#v\nwant %#v", got["Spawner"], wantSpawner)
	}
	var ecfg edgeconfig.Config
	if err := yaml.Unmarshal(fileNamed(t, files, "edge.yaml").Content, &ecfg); err != nil {
		t.Fatal(err)
	}
	if ecfg.Hub.Login == nil || ecfg.Hub.Login.ClientID != hostile[1] {
		t.Errorf("edge.yaml hub.login = %+v", ecfg.Hub.Login)
	}
	// Only the sections this package writes exist: no injected statement ran.
	for section := range got {
		switch section {
		case "JupyterHub", "ConfigurableHTTPProxy", "Authenticator", "Roster", "AccountRules", "EdgeIdentity", "JhubSpawner", "Spawner":
		default:
			t.Errorf("unexpected section c.%s", section)
		}
	}
}

// No hostile string is a user name: each names its entry.
func TestHostileUserNamesRefused(t *testing.T) {
	s := classHub(t)
	s.AllowedUsers = hostile
	s.AdminUsers = []string{hostile[1]}
	err := s.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, h := range hostile {
		if !strings.Contains(err.Error(), fmt.Sprintf("allowed_users[%q]: ", h)) {
			t.Errorf("allowed_users %q not refused", h)
		}
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("admin_users[%q]: ", hostile[1])) {
		t.Error("admin_users[0] not refused")
	}
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// pyStr round-trips random strings (all of Unicode but surrogates) through
// Python's parser.
func TestPyStrRoundTrip(t *testing.T) {
	py := needPython(t)
	r := rand.New(rand.NewPCG(1, 2))
	var in []string
	for range 500 {
		var b strings.Builder
		for range r.IntN(20) {
			var c rune
			switch r.IntN(4) {
			case 0:
				c = rune(r.IntN(0x80))
			case 1:
				c = []rune{'\'', '"', '\\', '\n', '\r', 0x2028, 0x85, 0xa0}[r.IntN(8)]
			case 2:
				c = rune(0x80 + r.IntN(0xd800-0x80))
			default:
				c = rune(0xe000 + r.IntN(0x10ffff-0xe000))
			}
			if c == 0 {
				c = 1
			}
			b.WriteRune(c)
		}
		in = append(in, b.String())
	}
	var src bytes.Buffer
	src.WriteString("import json, sys\nvalues = [\n")
	for _, s := range in {
		src.WriteString("    " + pyStr(s) + ",\n")
	}
	src.WriteString("]\njson.dump(values, sys.stdout)\n")
	out, err := exec.Command(py, "-B", "-c", src.String()).Output()
	if err != nil {
		t.Fatalf("python rejects the literals: %v", err)
	}
	var back []string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if back[i] != in[i] {
			t.Errorf("%q came back as %q (literal %s)", in[i], back[i], pyStr(in[i]))
		}
	}
}
