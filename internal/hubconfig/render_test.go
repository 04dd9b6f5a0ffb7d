package hubconfig

import (
	"bytes"
	"os"
	"os/exec"
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

func TestRenderIsDeterministic(t *testing.T) {
	s := classHub(t)
	a, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	// Equal settings, including the kept basic auth hashes.
	b, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two renders of equal settings differ")
	}
	// Adding a student changes the hub config and nothing else.
	s.AllowedUsers = append(s.AllowedUsers, "carol")
	c, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	var changed []string
	for i := range a {
		if a[i].Path != c[i].Path {
			t.Fatalf("file list changed: %s became %s", a[i].Path, c[i].Path)
		}
		if !bytes.Equal(a[i].Content, c[i].Content) {
			changed = append(changed, c[i].Path)
		}
	}
	if want := []string{ondroplet.Current + "/jupyterhub_config.py"}; !slices.Equal(changed, want) {
		t.Errorf("adding a student changed %v, want %v", changed, want)
	}
}

func TestRenderLayout(t *testing.T) {
	s := classHub(t)
	files, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	type meta struct {
		mode   os.FileMode
		owner  string
		secret bool
	}
	got := map[string]meta{}
	for _, f := range files {
		rel, ok := strings.CutPrefix(f.Path, ondroplet.Current+"/")
		if !ok {
			rel, ok = strings.CutPrefix(f.Path, ondroplet.UnitDir+"/")
		}
		if !ok {
			t.Errorf("%s is neither under %s nor under %s", f.Path, ondroplet.Current, ondroplet.UnitDir)
		}
		got[rel] = meta{f.Mode, f.Owner, f.Secret}
	}
	pub := meta{0o644, "root", false}
	want := map[string]meta{
		"edge.yaml":                              pub,
		"jupyterhub_config.py":                   {0o600, "root", false},
		"jhub_hub.py":                            pub,
		"check_hub.py":                           pub,
		"seed_course.py":                         pub,
		"jhub_gitpull.py":                        pub,
		"lab_overrides.json":                     pub,
		"course/Welcome.ipynb":                   pub,
		"course/week1/data.csv":                  pub,
		"idle_culler.py":                         pub,
		"jhub-edge.service":                      pub,
		"jupyterhub.service":                     pub,
		"sites/www.example.edu/index.html":       pub,
		"sites/www.example.edu/notes/week1.html": pub,
		"secrets/cookie_secret":                  {0o600, "root", true},
		"secrets/proxy_token":                    {0o600, ondroplet.EdgeUser, true},
		"secrets/htpasswd":                       {0o600, ondroplet.EdgeUser, true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("release files:\n got %v\nwant %v", got, want)
	}
	if !slices.IsSortedFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) }) {
		t.Error("files are not sorted by path")
	}
	if got := Units(s); !slices.Equal(got, []string{EdgeUnit, HubUnit}) {
		t.Errorf("Units = %v", got)
	}
}

func TestRenderVariantsFiles(t *testing.T) {
	cert, key := selfSignedPEM(t, "hub.example.edu")
	cases := []struct {
		name   string
		modify func(*Settings)
		want   map[string]string // extra file -> owner, all secret
		units  []string
	}{
		{"shared password", func(s *Settings) { s.Auth = sharedAuth() },
			map[string]string{"secrets/hub_password": "root", "secrets/admin_passwords": "root"}, nil},
		{"github", func(s *Settings) { s.Auth = Auth{Kind: AuthGitHub, ClientID: "Iv1.abc", ClientSecret: "gh-secret"} },
			map[string]string{"secrets/oauth_client_secret": ondroplet.EdgeUser, "secrets/identity_key": ondroplet.EdgeUser}, nil},
		{"pem", func(s *Settings) { s.Edge.TLS = TLS{Mode: TLSPEM, CertPEM: cert, KeyPEM: key} },
			map[string]string{"secrets/tls_key.pem": ondroplet.EdgeUser}, nil},
		{"dns-01", func(s *Settings) {
			s.Edge.TLS.ACME.Challenges = []string{"dns-01"}
			s.Edge.TLS.ACME.DNSToken = "dop_v1_token"
		}, map[string]string{"secrets/do_token": ondroplet.EdgeUser}, nil},
		{"chp", func(s *Settings) { s.Edge.ProxyMode = ProxyCHP },
			map[string]string{"secrets/chp.env": "root"}, []string{EdgeUnit, CHPUnit, HubUnit}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := classHub(t)
			tc.modify(&s)
			files, err := Render(s)
			if err != nil {
				t.Fatal(err)
			}
			for rel, owner := range tc.want {
				f := fileNamed(t, files, rel)
				if f.Mode != 0o600 || f.Owner != owner || !f.Secret {
					t.Errorf("%s: mode %o owner %s secret %t, want 0600 %s secret", rel, f.Mode, f.Owner, f.Secret, owner)
				}
			}
			if tc.units != nil {
				if got := Units(s); !slices.Equal(got, tc.units) {
					t.Errorf("Units = %v, want %v", got, tc.units)
				}
				for _, u := range tc.units {
					fileNamed(t, files, u)
				}
			}
		})
	}
}

// Every secret value appears only in Secret files with mode 0600, never in
// another file and never in an error.
func TestSecretsOnlyInSecretFiles(t *testing.T) {
	cert, key := selfSignedPEM(t, "hub.example.edu")
	base := classHub(t)
	variants := map[string]Settings{}
	v := base
	v.Auth = Auth{Kind: AuthSharedPassword, Password: "Sh4red-class-pw", AdminPasswords: map[string]string{"prof": "pr0f-own-password-xyz"}}
	variants["shared"] = v
	v = base
	v.Auth = Auth{Kind: AuthGitHub, ClientID: "Iv1.public-id", ClientSecret: "0123gh-client-secret"}
	variants["github"] = v
	v = base
	v.Edge.TLS = TLS{Mode: TLSPEM, CertPEM: cert, KeyPEM: key}
	v.Edge.ProxyMode = ProxyCHP
	variants["pem-chp"] = v
	v = base
	v.Edge.TLS.ACME.Challenges = []string{"dns-01"}
	v.Edge.TLS.ACME.DNSToken = "dop_v1_do-api-token"
	variants["dns"] = v

	secretsOf := func(s Settings) []string {
		out := []string{s.Secrets.CookieSecret, s.Secrets.ProxyToken, s.Auth.Password, s.Auth.ClientSecret, s.Edge.TLS.ACME.DNSToken}
		for _, pw := range s.Auth.AdminPasswords {
			out = append(out, pw)
		}
		if s.Edge.TLS.KeyPEM != "" {
			// The base64 body of the key, not its public BEGIN/END lines.
			out = append(out, strings.Split(s.Edge.TLS.KeyPEM, "\n")[1])
		}
		for u, pw := range s.Edge.BasicAuthUsers {
			out = append(out, pw, s.Secrets.BasicAuthHashes[u])
		}
		return slices.DeleteFunc(out, func(x string) bool { return x == "" })
	}
	for name, s := range variants {
		files, err := Render(s)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		secrets := secretsOf(s)
		found := map[string]bool{}
		for _, f := range files {
			for _, sec := range secrets {
				if !bytes.Contains(f.Content, []byte(sec)) {
					continue
				}
				found[sec] = true
				if !f.Secret || f.Mode != 0o600 {
					t.Errorf("%s: secret %.6s… in %s (secret=%t mode %o)", name, sec, f.Path, f.Secret, f.Mode)
				}
			}
		}
		for _, sec := range secrets {
			// Plain basic auth passwords never land anywhere, only their hashes.
			isPlain := slices.Contains(slices.Collect(mapsValues(s.Edge.BasicAuthUsers)), sec)
			if found[sec] == isPlain {
				t.Errorf("%s: secret %.6s… written=%t, want %t", name, sec, found[sec], !isPlain)
			}
		}

		// Broken settings: the error lists fields, never the secret values.
		bad := s
		bad.HubHosts = []string{"Bad Host"}
		bad.Auth.Kind += "-typo"
		bad.Edge.TLS.Mode = "pemx"
		bad.Secrets.ProxyToken += " \n"
		bad.Secrets.CookieSecret = s.Secrets.CookieSecret[:10]
		bad.Edge.BasicAuthUsers = map[string]string{"ta": "changed-" + s.Edge.BasicAuthUsers["ta"]}
		_, err = Render(bad)
		if err == nil {
			t.Fatalf("%s: broken settings rendered", name)
		}
		for _, sec := range append(secrets, secretsOf(bad)...) {
			if strings.Contains(err.Error(), sec) {
				t.Errorf("%s: error carries secret %.6s…: %v", name, sec, err)
			}
		}
	}
}

func mapsValues(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for _, v := range m {
			if !yield(v) {
				return
			}
		}
	}
}

func TestPythonFilesCompile(t *testing.T) {
	py := needPython(t)
	for name, s := range map[string]Settings{"class": classHub(t), "chp-dummy": func() Settings {
		s := classHub(t)
		s.Auth = Auth{Kind: AuthDummy, AdminPasswords: sharedAuth().AdminPasswords}
		s.Edge.ProxyMode = ProxyCHP
		s.IdleCull = nil
		return s
	}()} {
		_, files := renderTo(t, s)
		for _, f := range files {
			if !strings.HasSuffix(f.Path, ".py") {
				continue
			}
			out, err := exec.Command(py, "-m", "py_compile", f.Path).CombinedOutput()
			if err != nil {
				t.Errorf("%s: py_compile %s: %v\n%s", name, path.Base(f.Path), err, out)
			}
		}
	}
}

// The rendered config, executed by python3, assigns exactly these values.
func TestHubConfigMeaning(t *testing.T) {
	dir, _ := renderTo(t, classHub(t))
	got := execHubConfig(t, path.Join(dir, "jupyterhub_config.py"))
	want := map[string]map[string]any{
		"JupyterHub": {
			"bind_url":                    "http://127.0.0.1:880/",
			"hub_bind_url":                "http://127.0.0.1:883",
			"cookie_secret_file":          dir + "/secrets/cookie_secret",
			"db_url":                      "sqlite:////var/lib/jupyterhub/jupyterhub.sqlite",
			"tornado_settings":            map[string]any{"cookie_options": map[string]any{"secure": true}, "xsrf_cookie_kwargs": map[string]any{"secure": true}},
			"cleanup_servers":             false,
			"authenticator_class":         map[string]any{"__class__": "JhubPAMAuthenticator"},
			"spawner_class":               map[string]any{"__class__": "JhubSpawner"},
			"allow_named_servers":         true,
			"named_server_limit_per_user": float64(2),
			"load_roles": []any{
				map[string]any{"name": "admin", "users": []any{"prof"}},
				map[string]any{
					"name": "jhub-idle-culler", "description": "Stop idle single-user servers",
					"scopes":   []any{"list:users", "read:users:activity", "read:servers", "delete:servers"},
					"services": []any{"jhub-idle-culler"},
				},
			},
			"services": []any{map[string]any{
				"name":    "jhub-idle-culler",
				"command": []any{"/usr/bin/python3", "-B", dir + "/idle_culler.py", "--timeout=3600", "--every=300"},
			}},
		},
		"ConfigurableHTTPProxy": {
			"should_start": false,
			"api_url":      "http://127.0.0.1:881",
			"auth_token":   testSecrets.ProxyToken, // read back from secrets/proxy_token
		},
		"Authenticator": {
			"allowed_users": set("alice", "bob", "prof"), "allow_all": false, "allow_existing_users": false,
			"delete_invalid_users": true, "username_pattern": UserNamePattern,
		},
		"Roster": {"admins": set("prof")},
		"AccountRules": {
			"name_pattern":      UserNamePattern,
			"reserved_names":    set(slices.Sorted(slices.Values(append(slices.Clone(ReservedUserNames), "teacher")))...),
			"reserved_prefixes": []any{"systemd-"},
			"students_group":    "jhub-students",
		},
		"LocalAuthenticator": {"create_system_users": true},
		"JhubSpawner": {"course_group": CourseGroup, "course_files": dir + "/course", "unit_properties": []any{
			"MemoryMax=768M", "TasksMax=512", "CPUQuota=100%", "LimitNPROC=512", "OOMScoreAdjust=500",
			"PrivateTmp=yes", "NoNewPrivileges=yes", "TimeoutStopSec=20s",
		}},
		"Spawner": {"notebook_dir": "~/assignments", "default_url": "/lab/tree/Welcome.ipynb", "start_timeout": float64(SpawnStartTimeout), "http_timeout": float64(SpawnHTTPTimeout)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config assigns\n%v\nwant\n%v", got, want)
	}
}

func TestHubConfigAuthVariants(t *testing.T) {
	cases := []struct {
		name string
		auth Auth
		base string
		want map[string]map[string]any
	}{
		{"shared password under /jhub/", Auth{Kind: AuthSharedPassword, Password: " pw 'with' \"quotes\"\n", AdminPasswords: map[string]string{"prof": "pr\"of's pass\\word "}}, "jhub", map[string]map[string]any{
			// Passwords arrive exactly, surrounding space included.
			"PasswordCheck": {"class_password": " pw 'with' \"quotes\"\n", "admin_passwords": map[string]any{"prof": "pr\"of's pass\\word "}},
		}},
		{"dummy without password", Auth{Kind: AuthDummy, AdminPasswords: sharedAuth().AdminPasswords}, "/", map[string]map[string]any{
			"PasswordCheck": {"admin_passwords": map[string]any{"prof": "prof's own long password"}},
		}},
		{"github", Auth{Kind: AuthGitHub, ClientID: "Iv1.abc", ClientSecret: "s3cr3t"}, "/jhub", map[string]map[string]any{
			// The key is the edge's; the client secret never reaches the hub.
			"EdgeIdentity": {"key": Secrets{CookieSecret: testSecrets.CookieSecret}.identityKey(), "header": "X-Jhub-Identity",
				"max_age": float64(60), "login_path": "oauth_login", "identity_path": "jhub-identity"},
		}},
		{"oidc", Auth{Kind: AuthOIDC, ClientID: "jhub", ClientSecret: "s3cr3t", IssuerURL: "https://sso.example.edu/realms/cs",
			UsernameClaim: ClaimEmail, AllowedDomains: []string{"example.edu"}}, "/", map[string]map[string]any{
			"EdgeIdentity": {"key": Secrets{CookieSecret: testSecrets.CookieSecret}.identityKey(), "header": "X-Jhub-Identity",
				"max_age": float64(60), "login_path": "oauth_login", "identity_path": "jhub-identity"},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := classHub(t)
			s.Auth, s.BaseURL = tc.auth, tc.base
			_, files := renderTo(t, s)
			got := execHubConfig(t, fileNamed(t, files, "jupyterhub_config.py").Path)
			if _, ok := got["LocalAuthenticator"]; ok {
				t.Error("create_system_users set for a non-PAM authenticator")
			}
			if tc.auth.Kind != AuthSharedPassword {
				if _, ok := got["PasswordCheck"]["class_password"]; ok {
					t.Error("class password set without one")
				}
			}
			for section, kv := range tc.want {
				if !reflect.DeepEqual(got[section], kv) {
					t.Errorf("c.%s = %v, want %v", section, got[section], kv)
				}
			}
			base, _ := NormalizeBaseURL(tc.base)
			if got["JupyterHub"]["bind_url"] != "http://127.0.0.1:880"+base {
				t.Errorf("urls: %v", got["JupyterHub"])
			}
			wantClass := map[string]any{"__class__": map[string]string{AuthSharedPassword: "JhubPasswordAuthenticator", AuthDummy: "JhubPasswordAuthenticator", AuthGitHub: "JhubEdgeAuthenticator", AuthOIDC: "JhubEdgeAuthenticator"}[tc.auth.Kind]}
			if !reflect.DeepEqual(got["JupyterHub"]["authenticator_class"], wantClass) {
				t.Errorf("authenticator_class = %v, want %s", got["JupyterHub"]["authenticator_class"], wantClass)
			}
		})
	}
}

// The seeds' example is expressible, also with culling off and the
// defaults, and options left unset are not written at all.
func TestHubConfigMinimal(t *testing.T) {
	s := Settings{
		HubHosts: []string{"hub.example.edu"},
		Auth:     Auth{Kind: AuthPAM},
		Edge:     Edge{TLS: TLS{Mode: TLSSelfSigned}},
		Limits:   DefaultLimits(1024, 1),
		Secrets:  testSecrets,
	}
	_, files := renderTo(t, s)
	got := execHubConfig(t, fileNamed(t, files, "jupyterhub_config.py").Path)
	for _, absent := range []string{"services", "named_server_limit_per_user"} {
		if _, ok := got["JupyterHub"][absent]; ok {
			t.Errorf("c.JupyterHub.%s set without being asked for", absent)
		}
	}
	// No admins: the admin role is emptied, not left as it was.
	if roles := got["JupyterHub"]["load_roles"]; !reflect.DeepEqual(roles, []any{map[string]any{"name": "admin", "users": []any{}}}) {
		t.Errorf("load_roles = %v", roles)
	}
	// JupyterLab, in the home directory.
	if sp := got["Spawner"]; !reflect.DeepEqual(sp, map[string]any{"default_url": "/lab", "start_timeout": float64(SpawnStartTimeout), "http_timeout": float64(SpawnHTTPTimeout)}) {
		t.Errorf("c.Spawner = %v", sp)
	}
	if got["Authenticator"]["any_allow_config"] != true {
		t.Errorf("pam without a roster: %v", got["Authenticator"])
	}
	if got["Authenticator"]["allowed_users"] == nil || !reflect.DeepEqual(got["Authenticator"]["allowed_users"], set()) {
		t.Errorf("allowed_users = %v, want an empty set", got["Authenticator"]["allowed_users"])
	}
	if got["JupyterHub"]["allow_named_servers"] != false || got["LocalAuthenticator"]["create_system_users"] != false {
		t.Errorf("defaults: %v %v", got["JupyterHub"], got["LocalAuthenticator"])
	}
	for _, f := range files {
		if strings.HasSuffix(f.Path, "idle_culler.py") || strings.HasSuffix(f.Path, "htpasswd") {
			t.Errorf("%s rendered without being asked for", f.Path)
		}
	}
}

func TestIdleCullEveryDefault(t *testing.T) {
	for _, tc := range []struct{ timeout, every, want time.Duration }{
		{time.Hour, 0, 5 * time.Minute},
		{4 * time.Minute, 0, 2 * time.Minute},
		{time.Hour, 30 * time.Second, 30 * time.Second},
	} {
		s := classHub(t)
		s.IdleCull = &IdleCull{Timeout: tc.timeout, Every: tc.every}
		if got := normalize(s).IdleCull.Every; got != tc.want {
			t.Errorf("timeout %s every %s: every = %s, want %s", tc.timeout, tc.every, got, tc.want)
		}
	}
}

// restarts lists the units a switch from old to next restarts: those with
// a Restart file whose content changed.
func restarts(t *testing.T, old, next Settings) []string {
	t.Helper()
	a, b := mustRender(t, old), mustRender(t, next)
	before := map[string][]byte{}
	for _, f := range a {
		before[f.Path] = f.Content
	}
	var units []string
	for _, f := range b {
		if f.Restart == "" {
			continue
		}
		if prev, ok := before[f.Path]; !ok || !bytes.Equal(prev, f.Content) {
			units = append(units, f.Restart)
		}
	}
	slices.Sort(units)
	return slices.Compact(units)
}

func mustRender(t *testing.T, s Settings) []File {
	t.Helper()
	files, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// A release that changes only what the edge reloads restarts nothing;
// hub settings restart the hub; TLS and host names restart the edge.
func TestRestartOnlyWhatChanged(t *testing.T) {
	base := classHub(t)
	cases := []struct {
		name   string
		modify func(*Settings)
		want   []string
	}{
		{"nothing", func(*Settings) {}, nil},
		{"static file", func(s *Settings) { s.Edge.Sites[0].StaticFiles = map[string]string{"index.html": "new"} }, nil},
		{"site upstream", func(s *Settings) { s.Edge.Sites[1].Upstream = "http://127.0.0.1:9001" }, nil},
		{"basic auth paths", func(s *Settings) { s.Edge.Sites[0].BasicAuth.Paths = nil }, nil},
		{"new student", func(s *Settings) { s.AllowedUsers = append(s.AllowedUsers, "carol") }, []string{HubUnit}},
		{"culler timeout", func(s *Settings) { s.IdleCull.Timeout = 2 * time.Hour }, []string{HubUnit}},
		{"rotated secrets", func(s *Settings) { s.Secrets.CookieSecret = strings.Repeat("d1", 32) }, []string{HubUnit}},
		{"new site host", func(s *Settings) { s.Edge.Sites[1].Host = "marks.example.edu" }, []string{EdgeUnit}},
		{"acme email", func(s *Settings) { s.Edge.TLS.ACME.Email = "other@example.edu" }, []string{EdgeUnit}},
		{"new edge build", func(s *Settings) { s.EdgeBinary = "/opt/jhub/current/bin/jhub-edge-2" }, []string{EdgeUnit}},
		{"chp mode", func(s *Settings) { s.Edge.ProxyMode = ProxyCHP }, []string{CHPUnit, HubUnit, EdgeUnit}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			next := base
			next.Edge.Sites = slices.Clone(base.Edge.Sites)
			ba := *base.Edge.Sites[0].BasicAuth
			next.Edge.Sites[0].BasicAuth = &ba
			cull := *base.IdleCull
			next.IdleCull = &cull
			next.AllowedUsers = slices.Clone(base.AllowedUsers)
			tc.modify(&next)
			got := restarts(t, base, next)
			want := slices.Sorted(slices.Values(tc.want))
			if !slices.Equal(got, want) {
				t.Errorf("restarts %v, want %v", got, want)
			}
		})
	}
}

// A withheld secret (a write-only attribute between its changes) renders
// the release it was installed with: the same files, byte for byte, except
// that its own file has no content. A new value restarts the unit that
// reads it only at start.
func TestWithheldSecretsRenderTheSameRelease(t *testing.T) {
	cert, key := selfSignedPEM(t, "hub.example.edu")
	otherCert, otherKey := selfSignedPEM(t, "hub.example.edu")
	base := classHub(t)
	variants := map[string]func(*Settings){
		"shared": func(s *Settings) { s.Auth = sharedAuth() },
		"github": func(s *Settings) {
			s.Auth = Auth{Kind: AuthGitHub, ClientID: "Iv1.abc", ClientSecret: "gh-secret"}
		},
		"pem": func(s *Settings) { s.Edge.TLS = TLS{Mode: TLSPEM, CertPEM: cert, KeyPEM: key} },
		"dns": func(s *Settings) {
			s.Edge.TLS.ACME.Challenges = []string{"dns-01"}
			s.Edge.TLS.ACME.DNSToken = "dop_v1_token"
		},
	}
	for name, modify := range variants {
		t.Run(name, func(t *testing.T) {
			given := base
			modify(&given)
			withheld := given
			withheld.Withheld = map[string]bool{}
			// Each secret the variant sets is withheld.
			for attr, v := range map[string]*string{
				SecretPassword:     &withheld.Auth.Password,
				SecretClientSecret: &withheld.Auth.ClientSecret,
				SecretDNSToken:     &withheld.Edge.TLS.ACME.DNSToken,
				SecretKeyPEM:       &withheld.Edge.TLS.KeyPEM,
			} {
				withheld.Withheld[attr] = *v != ""
				*v = ""
			}
			withheld.Withheld[SecretAdminPasswords] = len(withheld.Auth.AdminPasswords) > 0
			withheld.Auth.AdminPasswords = nil
			a, b := mustRender(t, given), mustRender(t, withheld)
			if len(a) != len(b) {
				t.Fatalf("%d files with the values, %d withheld", len(a), len(b))
			}
			attrs := 0
			for i := range a {
				fa, fb := a[i], b[i]
				if fa.Path != fb.Path || fa.Mode != fb.Mode || fa.Owner != fb.Owner || fa.Restart != fb.Restart || fa.Attr != fb.Attr || fa.Secret != fb.Secret {
					t.Errorf("file %d: %s %o %s %q %q, withheld %s %o %s %q %q", i, fa.Path, fa.Mode, fa.Owner, fa.Restart, fa.Attr, fb.Path, fb.Mode, fb.Owner, fb.Restart, fb.Attr)
				}
				switch {
				case fa.Attr != "":
					attrs++
					if len(fa.Content) == 0 || fb.Content != nil || !fa.Secret {
						t.Errorf("%s (%s): %d bytes given, %d withheld, secret %v", fa.Path, fa.Attr, len(fa.Content), len(fb.Content), fa.Secret)
					}
				case !bytes.Equal(fa.Content, fb.Content):
					t.Errorf("%s differs when the secrets are withheld", fa.Path)
				}
			}
			if attrs == 0 {
				t.Error("no file holds a given secret")
			}
		})
	}

	// The edge reads its key and its DNS token only at start.
	pem := base
	pem.Edge.TLS = TLS{Mode: TLSPEM, CertPEM: cert, KeyPEM: key}
	rekeyed := pem
	rekeyed.Edge.TLS = TLS{Mode: TLSPEM, CertPEM: otherCert, KeyPEM: otherKey}
	if got := restarts(t, pem, rekeyed); !slices.Contains(got, EdgeUnit) {
		t.Errorf("a new key restarts %v, want %s among them", got, EdgeUnit)
	}
	dns := base
	dns.Edge.TLS.ACME.Challenges = []string{"dns-01"}
	dns.Edge.TLS.ACME.DNSToken = "dop_v1_token"
	retoken := dns
	retoken.Edge.TLS.ACME.DNSToken = "dop_v1_other"
	if got := restarts(t, dns, retoken); !slices.Equal(got, []string{EdgeUnit}) {
		t.Errorf("a new DNS token restarts %v, want only %s", got, EdgeUnit)
	}
}

// On the class volume, the services need their state's mounts (systemd
// then refuses to start them on an empty disk), and new homes go there.
func TestOnVolume(t *testing.T) {
	s := classHub(t)
	s.OnVolume = true
	dir, _ := renderTo(t, s)
	units := renderUnits(s, dir)
	for unit, want := range map[string]string{
		EdgeUnit: "RequiresMountsFor=" + ondroplet.EdgeStateDir + "\n",
		HubUnit:  "RequiresMountsFor=" + ondroplet.HubStateDir + " " + CourseDir + " " + ondroplet.VolumeHomes + "\n",
	} {
		if !strings.Contains(string(units[unit]), want) {
			t.Errorf("%s lacks %q:\n%s", unit, want, units[unit])
		}
	}
	got := execHubConfig(t, path.Join(dir, "jupyterhub_config.py"))
	if hb := got["AccountRules"]["home_base"]; hb != ondroplet.VolumeHomes {
		t.Errorf("AccountRules.home_base = %v, want %s", hb, ondroplet.VolumeHomes)
	}
	// Without a volume, neither.
	for unit, content := range renderUnits(classHub(t), dir) {
		if strings.Contains(string(content), "RequiresMountsFor") {
			t.Errorf("%s requires mounts without a volume", unit)
		}
	}
}

// ServerUnits is the glob of the units jhub_hub.py names.
func TestServerUnitsMatchesTheSpawner(t *testing.T) {
	prefix, _, _ := strings.Cut(ServerUnits, "*")
	if !strings.Contains(string(hubClassesPy), "\nUNIT_PREFIX = \""+prefix+"\"\n") {
		t.Errorf("jhub_hub.py's UNIT_PREFIX is not %q", prefix)
	}
}
