//go:build lab

package hubconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/lab"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// labImage is the lab image (Debian 13: JupyterHub 5.2, JupyterLab 4); these
// tests run the release's own checks inside it (not booted: a plain
// command in a throw-away overlay, no network).
func labImage(t *testing.T) string {
	t.Helper()
	const fix = "run `sudo bash scripts/setup-lab.sh` and the tests as root"
	if os.Geteuid() != 0 {
		testkit.Need(t, "root (systemd-nspawn)", fix)
	}
	if _, err := exec.LookPath("systemd-nspawn"); err != nil {
		testkit.Need(t, "systemd-nspawn", fix)
	}
	img, err := lab.FindImage()
	if err != nil {
		testkit.Need(t, err.Error(), fix)
	}
	return img
}

// unitsInImage is where inImage shows the staged units.
const unitsInImage = "/run/jhub-units"

// inImage runs argv inside the image with hostRoot/opt/jhub bound read-only
// at /opt/jhub and the staged units at unitsInImage, and returns stdout,
// stderr and the exit error.
func inImage(t *testing.T, img, hostRoot string, argv ...string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"-D", img, "--volatile=overlay", "--register=no", "--keep-unit", "-q", "--private-network", "--console=pipe",
		"--bind-ro=" + filepath.Join(hostRoot, ondroplet.Root) + ":" + ondroplet.Root,
		"--bind-ro=" + filepath.Join(hostRoot, ondroplet.UnitDir) + ":" + unitsInImage, "--"}
	cmd := exec.CommandContext(ctx, "systemd-nspawn", append(args, argv...)...)
	// SIGTERM lets nspawn take its container down with it.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// nspawn's own note when it tidies up a --volatile=overlay mount.
	var kept []string
	for _, line := range strings.SplitAfter(stderr.String(), "\n") {
		if !strings.HasPrefix(line, "Attempted to remove disk file system under") {
			kept = append(kept, line)
		}
	}
	return stdout.String(), strings.Join(kept, ""), err
}

// stage writes a release the way the installer stages it: the files under
// Current into dir (Current itself, or a staging directory while no
// release is current), the units into UnitDir, all below a fresh host
// directory, which it returns.
func stage(t *testing.T, s Settings, dir string) (hostRoot string) {
	t.Helper()
	files, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range files {
		if rel, ok := strings.CutPrefix(f.Path, ondroplet.Current+"/"); ok {
			files[i].Path = filepath.Join(dir, rel)
		}
	}
	hostRoot = t.TempDir()
	writeFiles(t, hostRoot, files)
	return hostRoot
}

// staging is where the lab tests stage a release while none is current.
const staging = ondroplet.Root + "/releases/staged"

// buildEdge puts a jhub-edge build at DefaultEdgeBinary in a release
// staged in dir below hostRoot.
func buildEdge(t *testing.T, hostRoot, dir string) {
	t.Helper()
	buildEdgeTo(t, filepath.Join(hostRoot, dir, strings.TrimPrefix(DefaultEdgeBinary, ondroplet.Current)))
}

// buildEdgeTo builds jhub-edge at dst.
func buildEdgeTo(t *testing.T, dst string) {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go is not in PATH (sudo may drop it: sudo env PATH=\"$PATH\" go test ...)")
	}
	build := exec.Command(goBin, "build", "-o", dst, "github.com/classhub/terraform-provider-jhub/internal/cmd/jhub-edge")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build jhub-edge: %v\n%s", err, out)
	}
}

type hubSummary struct {
	AuthenticatorClass string           `json:"authenticator_class"`
	SpawnerClass       string           `json:"spawner_class"`
	BindURL            string           `json:"bind_url"`
	HubBindURL         string           `json:"hub_bind_url"`
	BaseURL            string           `json:"base_url"`
	CookieSecretFile   string           `json:"cookie_secret_file"`
	CleanupServers     bool             `json:"cleanup_servers"`
	AllowNamedServers  bool             `json:"allow_named_servers"`
	NamedServerLimit   int              `json:"named_server_limit_per_user"`
	CookieOptions      map[string]any   `json:"cookie_options"`
	AllowedUsers       []string         `json:"allowed_users"`
	Admins             []string         `json:"admins"`
	AllowAll           bool             `json:"allow_all"`
	AllowExistingUsers bool             `json:"allow_existing_users"`
	DeleteInvalidUsers bool             `json:"delete_invalid_users"`
	UsernamePattern    string           `json:"username_pattern"`
	CreateSystemUsers  *bool            `json:"create_system_users"`
	ClassPasswordSet   bool             `json:"class_password_set"`
	AdminsWithPassword []string         `json:"admins_with_password"`
	ReservedNames      []string         `json:"reserved_names"`
	StudentsGroup      string           `json:"students_group"`
	UnitProperties     []string         `json:"unit_properties"`
	NotebookDir        string           `json:"notebook_dir"`
	DefaultURL         string           `json:"default_url"`
	Cmd                []string         `json:"cmd"`
	ProxyShouldStart   bool             `json:"proxy_should_start"`
	ProxyAPIURL        string           `json:"proxy_api_url"`
	ProxyAuthTokenLen  int              `json:"proxy_auth_token_len"`
	Services           []string         `json:"services"`
	Roles              []map[string]any `json:"roles"`
}

// JupyterHub's own loader, in the lab image, understands the rendered
// config as intended: jhub_hub.py's classes load and resolve, every trait
// exists and has the right type, secrets are read from their files.
func TestLabJupyterHubAcceptsConfig(t *testing.T) {
	img := labImage(t)
	yes, no := true, false
	shared := classHub(t)
	shared.Auth = sharedAuth()
	shared.BaseURL = "/jhub/"
	shared.IdleCull = nil
	shared.NamedServers, shared.NamedServerLimit = false, 0
	shared.AllowedUsers = append(shared.AllowedUsers, "o-brien", "zoe_2")
	dummy := classHub(t)
	dummy.Auth = Auth{Kind: AuthDummy, AdminPasswords: sharedAuth().AdminPasswords}
	dummy.Edge.ProxyMode = ProxyCHP
	dummy.Spawner = Spawner{Cmd: []string{"jupyterhub-singleuser", "--debug"}}
	oidc := classHub(t)
	oidc.Auth = Auth{Kind: AuthOIDC, ClientID: "jhub", ClientSecret: "oidc-secret", IssuerURL: "https://sso.example.edu",
		UsernameClaim: ClaimPreferredUsername}
	adminRole := map[string]any{"name": "admin", "users": []any{"prof"}}
	cullerRole := map[string]any{"name": "jhub-idle-culler", "description": "Stop idle single-user servers",
		"scopes": []any{"list:users", "read:users:activity", "read:servers", "delete:servers"}, "services": []any{"jhub-idle-culler"}}
	cases := []struct {
		name string
		s    Settings
		want func(*hubSummary)
	}{
		{"class hub (pam, culler, named servers)", classHub(t), func(w *hubSummary) {
			w.AuthenticatorClass = "jhub_hub.JhubPAMAuthenticator"
			w.CreateSystemUsers = &yes
			w.AllowNamedServers, w.NamedServerLimit = true, 2
			w.Services = []string{"jhub-idle-culler"}
			w.Roles = append(w.Roles, cullerRole)
		}},
		{"shared password under /jhub/", shared, func(w *hubSummary) {
			w.ClassPasswordSet = true
			w.AdminsWithPassword = []string{"prof"}
			w.BaseURL, w.BindURL = "/jhub/", "http://127.0.0.1:880/jhub/"
			w.AllowedUsers = []string{"alice", "bob", "o-brien", "prof", "zoe_2"}
		}},
		{"oidc through the edge", oidc, func(w *hubSummary) {
			w.AuthenticatorClass = "jhub_hub.JhubEdgeAuthenticator"
			w.AllowNamedServers, w.NamedServerLimit = true, 2
			w.Services = []string{"jhub-idle-culler"}
			w.Roles = append(w.Roles, cullerRole)
		}},
		{"dummy behind a real CHP", dummy, func(w *hubSummary) {
			w.AdminsWithPassword = []string{"prof"}
			w.AllowNamedServers, w.NamedServerLimit = true, 2
			w.NotebookDir, w.DefaultURL = "", "/lab"
			w.Cmd = []string{"jupyterhub-singleuser", "--debug"}
			w.Services = []string{"jhub-idle-culler"}
			w.Roles = append(w.Roles, cullerRole)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hostRoot := stage(t, tc.s, staging)
			check := Checks(staging, DefaultEdgeBinary)[1]
			stdout, stderr, err := inImage(t, img, hostRoot, check...)
			if err != nil {
				t.Fatalf("%s: %v\nstdout: %s\nstderr: %s", strings.Join(check, " "), err, stdout, stderr)
			}
			var got hubSummary
			if err := json.Unmarshal([]byte(stdout), &got); err != nil {
				t.Fatalf("summary %q: %v", stdout, err)
			}
			want := hubSummary{
				AuthenticatorClass: "jhub_hub.JhubPasswordAuthenticator",
				SpawnerClass:       "jhub_hub.JhubSpawner",
				BindURL:            "http://127.0.0.1:880/", HubBindURL: "http://127.0.0.1:883", BaseURL: "/",
				CookieSecretFile: staging + "/secrets/cookie_secret",
				CookieOptions:    map[string]any{"secure": true},
				AllowedUsers:     []string{"alice", "bob", "prof"}, Admins: []string{"prof"},
				DeleteInvalidUsers: true, UsernamePattern: UserNamePattern,
				AdminsWithPassword: []string{},
				ReservedNames:      slices.Sorted(slices.Values(append(slices.Clone(ReservedUserNames), "teacher"))),
				StudentsGroup:      StudentsGroup,
				UnitProperties: []string{"MemoryMax=768M", "TasksMax=512", "CPUQuota=100%", "LimitNPROC=512", "OOMScoreAdjust=500",
					"PrivateTmp=yes", "NoNewPrivileges=yes", "TimeoutStopSec=20s"},
				NotebookDir: "~/assignments", DefaultURL: "/lab/tree/Welcome.ipynb",
				Cmd:         []string{"jupyterhub-singleuser"},
				ProxyAPIURL: "http://127.0.0.1:881", ProxyAuthTokenLen: 64,
				Services: []string{}, Roles: []map[string]any{adminRole},
			}
			if tc.s.Auth.Kind == AuthPAM {
				want.CreateSystemUsers = &no
			}
			tc.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("JupyterHub understood\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

// The check fails on what JupyterHub would only warn about, or fail on at
// start: a misspelt trait, an unknown class, a wrong type, a bad scope.
func TestLabJupyterHubCheckRejects(t *testing.T) {
	img := labImage(t)
	for name, tc := range map[string]struct{ line, want string }{
		"misspelt trait":  {"c.Spawner.notebok_dir = 'x'", "c.Spawner.notebok_dir"}, //nolint:misspell // the misspelt trait is what this case checks
		"unknown section": {"c.KubeSpawner.image = 'x'", "c.KubeSpawner"},
		"unknown class":   {"c.JupyterHub.authenticator_class = 'pamm'", "pamm"},
		"wrong type":      {"c.JupyterHub.allow_named_servers = 'yes'", "allow_named_servers"},
		"unknown scope":   {"c.JupyterHub.load_roles = [{'name': 'r', 'scopes': ['delete:everything']}]", "delete:everything"},
		"python syntax":   {"c.Spawner.notebook_dir = '", "SyntaxError"},
	} {
		t.Run(name, func(t *testing.T) {
			hostRoot := stage(t, classHub(t), staging)
			cfg := filepath.Join(hostRoot, staging, "jupyterhub_config.py")
			orig, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cfg, append(orig, tc.line+"\n"...), 0o644); err != nil {
				t.Fatal(err)
			}
			stdout, stderr, err := inImage(t, img, hostRoot, Checks(staging, DefaultEdgeBinary)[1]...)
			if err == nil {
				t.Fatalf("check accepted %q; stdout %s", tc.line, stdout)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not mention %q:\n%s", tc.want, stderr)
			}
		})
	}
}

// The release's edge.yaml passes the real `jhub-edge check` on Debian at
// its staged paths, and the units pass `systemd-analyze verify` there.
func TestLabEdgeCheckAndUnits(t *testing.T) {
	img := labImage(t)
	cert, key := selfSignedPEM(t, "hub.example.edu")
	pemCHP := classHub(t)
	pemCHP.Edge.TLS = TLS{Mode: TLSPEM, CertPEM: cert, KeyPEM: key}
	pemCHP.Edge.ProxyMode = ProxyCHP
	for name, s := range map[string]Settings{"class hub": classHub(t), "pem behind chp": pemCHP} {
		t.Run(name, func(t *testing.T) {
			// Staged while no release is current: the check must read the
			// staged files, not /opt/jhub/current.
			hostRoot := stage(t, s, staging)
			buildEdge(t, hostRoot, staging)
			check := Checks(staging, DefaultEdgeBinary)[0]
			if stdout, stderr, err := inImage(t, img, hostRoot, check...); err != nil || !strings.Contains(stdout, ": ok (") {
				t.Fatalf("%s: %v\nstdout: %s\nstderr: %s", strings.Join(check, " "), err, stdout, stderr)
			}
			// Switched: the units' commands and paths exist.
			if err := os.Symlink("releases/staged", filepath.Join(hostRoot, ondroplet.Current)); err != nil {
				t.Fatal(err)
			}
			verify := []string{"systemd-analyze", "verify"}
			for _, u := range Units(s) {
				verify = append(verify, filepath.Join(unitsInImage, u))
			}
			stdout, stderr, err := inImage(t, img, hostRoot, verify...)
			if err != nil || strings.TrimSpace(stderr) != "" {
				t.Errorf("%s: %v\nstdout: %s\nstderr: %s", strings.Join(verify, " "), err, stdout, stderr)
			}
		})
	}
}
