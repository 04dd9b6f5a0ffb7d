package hubconfig

import (
	"strings"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

func TestValidateNamesTheAttribute(t *testing.T) {
	cases := []struct {
		name   string
		modify func(*Settings)
		field  string
	}{
		{"no hub host", func(s *Settings) { s.HubHosts = nil }, "hub_hosts"},
		{"host with port", func(s *Settings) { s.HubHosts = []string{"hub.example.edu:443"} }, "hub_hosts[0]"},
		{"upper-case host", func(s *Settings) { s.HubHosts = []string{"Hub.example.edu"} }, "hub_hosts[0]"},
		{"site reuses hub host", func(s *Settings) { s.Edge.Sites[1].Host = "hub.example.edu" }, "sites[1].host"},
		{"base_url query", func(s *Settings) { s.BaseURL = "/jhub?x=1" }, "base_url"},
		{"base_url dot-dot", func(s *Settings) { s.BaseURL = "/a/../b/" }, "base_url"},
		{"base_url percent", func(s *Settings) { s.BaseURL = "/j%2fhub/" }, "base_url"},
		{"no auth kind", func(s *Settings) { s.Auth = Auth{} }, "auth.kind"},
		{"unknown auth kind", func(s *Settings) { s.Auth = Auth{Kind: "ldap"} }, "auth.kind"},
		{"shared password empty", func(s *Settings) { s.Auth = Auth{Kind: AuthSharedPassword} }, "auth.password"},
		{"class password short", func(s *Settings) { s.Auth = sharedAuth(); s.Auth.Password = "elevenchars" }, "auth.password"},
		{"dummy password short", func(s *Settings) { s.Auth = sharedAuth(); s.Auth.Kind = AuthDummy; s.Auth.Password = "short" }, "auth.password"},
		{"admin without password", func(s *Settings) { s.Auth = sharedAuth(); s.Auth.AdminPasswords = nil }, "auth.admin_passwords"},
		{"admin password short", func(s *Settings) {
			s.Auth = sharedAuth()
			s.Auth.AdminPasswords["prof"] = "fifteen chars.."
		}, "auth.admin_passwords"},
		{"admin password is the class password", func(s *Settings) {
			s.Auth = sharedAuth()
			s.Auth.Password = "the same password for all"
			s.Auth.AdminPasswords["prof"] = s.Auth.Password
		}, "auth.admin_passwords"},
		{"password for a non-admin", func(s *Settings) {
			s.Auth = sharedAuth()
			s.Auth.AdminPasswords["alice"] = "alice wants to be admin"
		}, "auth.admin_passwords"},
		{"pam with admin passwords", func(s *Settings) { s.Auth.AdminPasswords = map[string]string{"prof": "0123456789abcdef"} }, "auth.admin_passwords"},
		{"shared password without roster", func(s *Settings) { s.Auth = sharedAuth(); s.AllowedUsers = nil }, "allowed_users"},
		{"dummy without roster", func(s *Settings) { s.Auth = Auth{Kind: AuthDummy}; s.AdminUsers = nil; s.AllowedUsers = nil }, "allowed_users"},
		{"github without roster", func(s *Settings) {
			s.Auth = Auth{Kind: AuthGitHub, ClientID: "id", ClientSecret: "x"}
			s.AllowedUsers = nil
		}, "allowed_users"},
		{"student named root", func(s *Settings) { s.AllowedUsers = []string{"alice", "root"} }, `allowed_users["root"]`},
		{"student named like the edge", func(s *Settings) { s.AllowedUsers = []string{ondroplet.EdgeUser} }, `allowed_users["` + ondroplet.EdgeUser + `"]`},
		{"student named nobody", func(s *Settings) { s.AllowedUsers = []string{"nobody"} }, `allowed_users["nobody"]`},
		{"student named systemd-", func(s *Settings) { s.AllowedUsers = []string{"systemd-network"} }, `allowed_users["systemd-network"]`},
		{"student named jupyterhub", func(s *Settings) { s.AllowedUsers = []string{"jupyterhub"} }, `allowed_users["jupyterhub"]`},
		{"student named sudo", func(s *Settings) { s.AllowedUsers = []string{"sudo"} }, `allowed_users["sudo"]`},
		{"admin is the ssh user", func(s *Settings) { s.AdminUsers = []string{"teacher"} }, `admin_users["teacher"]`},
		{"student is the ssh user", func(s *Settings) { s.AllowedUsers = []string{"alice", "bob", "teacher"} }, `allowed_users["teacher"]`},
		{"upper-case name", func(s *Settings) { s.AllowedUsers = []string{"Alice"} }, `allowed_users["Alice"]`},
		{"digit first", func(s *Settings) { s.AllowedUsers = []string{"1alice"} }, `allowed_users["1alice"]`},
		{"dot in name", func(s *Settings) { s.AllowedUsers = []string{"a.b"} }, `allowed_users["a.b"]`},
		{"33 characters", func(s *Settings) { s.AllowedUsers = []string{strings.Repeat("a", 33)} }, `allowed_users["` + strings.Repeat("a", 33) + `"]`},
		{"ssh user root", func(s *Settings) { s.AdminSSHUser = "root" }, "ssh_user"},
		{"pam with password", func(s *Settings) { s.Auth.Password = "x" }, "auth.password"},
		{"github without secret", func(s *Settings) { s.Auth = Auth{Kind: AuthGitHub, ClientID: "id"} }, "auth.client_secret"},
		{"github with create_system_users", func(s *Settings) {
			s.Auth = Auth{Kind: AuthGitHub, ClientID: "id", ClientSecret: "x", CreateSystemUsers: true}
		}, "auth.create_system_users"},
		{"oidc without issuer", func(s *Settings) {
			s.Auth = Auth{Kind: AuthOIDC, ClientID: "id", ClientSecret: "x", UsernameClaim: ClaimPreferredUsername}
		}, "auth.issuer_url"},
		{"oidc issuer over http", func(s *Settings) {
			s.Auth = Auth{Kind: AuthOIDC, ClientID: "id", ClientSecret: "x", IssuerURL: "http://sso.example.edu", UsernameClaim: ClaimPreferredUsername}
		}, "auth.issuer_url"},
		{"oidc email without domains", func(s *Settings) {
			s.Auth = Auth{Kind: AuthOIDC, ClientID: "id", ClientSecret: "x", IssuerURL: "https://sso.example.edu", UsernameClaim: ClaimEmail}
		}, "auth.allowed_domains"},
		{"oidc bad domain", func(s *Settings) {
			s.Auth = Auth{Kind: AuthOIDC, ClientID: "id", ClientSecret: "x", IssuerURL: "https://sso.example.edu", UsernameClaim: ClaimEmail, AllowedDomains: []string{"uni.edu", "@x"}}
		}, "auth.allowed_domains[1]"},
		{"oidc claim sub", func(s *Settings) {
			s.Auth = Auth{Kind: AuthOIDC, ClientID: "id", ClientSecret: "x", IssuerURL: "https://sso.example.edu", UsernameClaim: "sub"}
		}, "auth.username_claim"},
		{"oidc scope with space", func(s *Settings) {
			s.Auth = Auth{Kind: AuthOIDC, ClientID: "id", ClientSecret: "x", IssuerURL: "https://sso.example.edu", UsernameClaim: ClaimPreferredUsername, Scopes: []string{"openid", "a b"}}
		}, "auth.scopes[1]"},
		{"oidc with github_org", func(s *Settings) {
			s.Auth = Auth{Kind: AuthOIDC, ClientID: "id", ClientSecret: "x", IssuerURL: "https://sso.example.edu", UsernameClaim: ClaimPreferredUsername, GitHubOrg: "cs"}
		}, "auth.github_org"},
		{"github enterprise over http", func(s *Settings) {
			s.Auth = Auth{Kind: AuthGitHub, ClientID: "id", ClientSecret: "x", GitHubURL: "http://git.example.edu"}
		}, "auth.github_url"},
		{"github bad org", func(s *Settings) {
			s.Auth = Auth{Kind: AuthGitHub, ClientID: "id", ClientSecret: "x", GitHubOrg: "a/b"}
		}, "auth.github_org"},
		{"github with issuer", func(s *Settings) {
			s.Auth = Auth{Kind: AuthGitHub, ClientID: "id", ClientSecret: "x", IssuerURL: "https://sso.example.edu"}
		}, "auth.issuer_url"},
		{"github ca_pem not PEM", func(s *Settings) {
			s.Auth = Auth{Kind: AuthGitHub, ClientID: "id", ClientSecret: "x", CAPEM: "not a certificate"}
		}, "auth.ca_pem"},
		{"pam with ca_pem", func(s *Settings) { s.Auth.CAPEM = "x" }, "auth.ca_pem"},
		{"pam with allowed_domains", func(s *Settings) { s.Auth.AllowedDomains = []string{"uni.edu"} }, "auth.allowed_domains"},
		{"empty user", func(s *Settings) { s.AllowedUsers = []string{"a", ""} }, `allowed_users[""]`},
		{"padded admin", func(s *Settings) { s.AdminUsers = []string{" prof"} }, `admin_users[" prof"]`},
		{"duplicate user", func(s *Settings) { s.AllowedUsers = []string{"a", "a"} }, `allowed_users["a"]`},
		{"NUL in user", func(s *Settings) { s.AllowedUsers = []string{"a\x00b"} }, `allowed_users["a\x00b"]`},
		{"notebook_dir outside home", func(s *Settings) { s.Spawner.NotebookDir = "/srv/class" }, "spawner.notebook_dir"},
		{"notebook_dir escapes home", func(s *Settings) { s.Spawner.NotebookDir = "~/../bob" }, "spawner.notebook_dir"},
		{"notebook_dir of another user", func(s *Settings) { s.Spawner.NotebookDir = "~bob/work" }, "spawner.notebook_dir"},
		{"memory below JupyterLab's need", func(s *Settings) { s.Limits.MemoryMaxMiB = 128 }, "limits.memory_max_mib"},
		{"no tasks limit", func(s *Settings) { s.Limits.TasksMax = 0 }, "limits.tasks_max"},
		{"cpu quota", func(s *Settings) { s.Limits.CPUQuotaPercent = 5 }, "limits.cpu_quota_percent"},
		{"nproc", func(s *Settings) { s.Limits.NProc = -1 }, "limits.nproc"},
		{"relative default_url", func(s *Settings) { s.Spawner.DefaultURL = "tree/Welcome.ipynb" }, "spawner.default_url"},
		{"empty cmd arg", func(s *Settings) { s.Spawner.Cmd = []string{""} }, "spawner.cmd[0]"},
		{"negative server limit", func(s *Settings) { s.NamedServerLimit = -1 }, "named_server_limit"},
		{"limit without named servers", func(s *Settings) { s.NamedServers = false }, "named_server_limit"},
		{"short cull", func(s *Settings) { s.IdleCull.Timeout = 30 * time.Second }, "idle_cull.timeout"},
		{"fractional every", func(s *Settings) { s.IdleCull.Every = 1500 * time.Millisecond }, "idle_cull.every"},
		{"public hub bind", func(s *Settings) { s.HubBindURL = "http://0.0.0.0:883" }, "hub_bind_url"},
		{"hub bind path", func(s *Settings) { s.HubBindURL = "http://127.0.0.1:883/hub/" }, "hub_bind_url"},
		{"hub bind port a student can take", func(s *Settings) { s.HubBindURL = "http://127.0.0.1:8081" }, "hub_bind_url"},
		{"hub bind on the proxy API", func(s *Settings) { s.HubBindURL = loopbackURL(ProxyAPIPort) }, "hub_bind_url"},
		{"hub bind on CHP", func(s *Settings) { s.HubBindURL = loopbackURL(CHPPublicPort) }, "hub_bind_url"},
		{"hub bind on the edge API", func(s *Settings) { s.HubBindURL = loopbackURL(EdgeAPIPortCHP) }, "hub_bind_url"},
		{"hub bind on https", func(s *Settings) { s.HubBindURL = "http://127.0.0.1:443" }, "hub_bind_url"},
		{"proxy mode", func(s *Settings) { s.Edge.ProxyMode = "nginx" }, "proxy_mode"},
		{"tls mode", func(s *Settings) { s.Edge.TLS.Mode = "" }, "tls.mode"},
		{"acme email", func(s *Settings) { s.Edge.TLS.ACME.Email = "admin" }, "tls.acme_email"},
		{"acme http directory", func(s *Settings) { s.Edge.TLS.ACME.DirectoryURL = "http://ca/dir" }, "tls.acme_directory_url"},
		{"challenge", func(s *Settings) { s.Edge.TLS.ACME.Challenges = []string{"http01"} }, "tls.acme_challenges[0]"},
		{"dns-01 without token", func(s *Settings) { s.Edge.TLS.ACME.Challenges = []string{"dns-01"} }, "tls.dns_token"},
		{"token without dns-01", func(s *Settings) { s.Edge.TLS.ACME.DNSToken = "x" }, "tls"},
		{"pem missing key", func(s *Settings) { s.Edge.TLS = TLS{Mode: TLSPEM, CertPEM: "x"} }, "tls"},
		{"pem garbage", func(s *Settings) { s.Edge.TLS = TLS{Mode: TLSPEM, CertPEM: "x", KeyPEM: "y"} }, "tls.key_pem"},
		{"acme settings with selfsigned", func(s *Settings) { s.Edge.TLS.Mode = TLSSelfSigned }, "tls"},
		{"site with two sources", func(s *Settings) { s.Edge.Sites[1].Root = "/srv/www" }, "sites[1]"},
		{"site with none", func(s *Settings) { s.Edge.Sites[1].Upstream = "" }, "sites[1]"},
		{"static path escapes", func(s *Settings) { s.Edge.Sites[0].StaticFiles["../etc/passwd"] = "x" }, "sites[0].static_files"},
		{"static path absolute", func(s *Settings) { s.Edge.Sites[0].StaticFiles["/index.html"] = "x" }, "sites[0].static_files"},
		{"relative root", func(s *Settings) { s.Edge.Sites[1] = Site{Host: "docs.example.edu", Root: "srv"} }, "sites[1].root"},
		{"upstream scheme", func(s *Settings) { s.Edge.Sites[1].Upstream = "ftp://127.0.0.1" }, "sites[1].upstream"},
		{"basic auth path", func(s *Settings) { s.Edge.Sites[0].BasicAuth.Paths = []string{"notes"} }, "sites[0].basic_auth.paths[0]"},
		{"realm quote", func(s *Settings) { s.Edge.Sites[0].BasicAuth.Realm = `a"b` }, "sites[0].basic_auth.realm"},
		{"guard without users", func(s *Settings) { s.Edge.BasicAuthUsers = nil; s.Secrets.BasicAuthHashes = nil }, "basic_auth_users"},
		{"users without guard", func(s *Settings) { s.Edge.Sites[0].BasicAuth = nil }, "basic_auth_users"},
		{"colon in basic auth user", func(s *Settings) {
			s.Edge.BasicAuthUsers = map[string]string{"a:b": "pw"}
			s.Secrets, _ = s.Secrets.WithBasicAuth(s.Edge.BasicAuthUsers)
		}, "basic_auth_users"},
		{"stale hash", func(s *Settings) { s.Edge.BasicAuthUsers = map[string]string{"ta": "new-password"} }, "basic_auth_hashes"},
		{"missing hash", func(s *Settings) { s.Secrets.BasicAuthHashes = nil }, "basic_auth_hashes"},
		{"cookie secret", func(s *Settings) { s.Secrets.CookieSecret = "short" }, "cookie_secret"},
		{"proxy token", func(s *Settings) { s.Secrets.ProxyToken = "" }, "proxy_token"},
		{"edge binary", func(s *Settings) { s.EdgeBinary = "/opt/jhub/bin/jhub edge" }, "edge_binary"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := classHub(t)
			tc.modify(&s)
			err := s.Validate()
			if err == nil {
				t.Fatalf("accepted")
			}
			if !strings.Contains(err.Error(), tc.field+": ") {
				t.Errorf("error does not name %s: %v", tc.field, err)
			}
			if _, rerr := Render(s); rerr == nil {
				t.Error("Render accepted what Validate rejects")
			}
		})
	}
}

func TestValidateAcceptsTheClassHub(t *testing.T) {
	if err := classHub(t).Validate(); err != nil {
		t.Fatal(err)
	}
	s := classHub(t)
	s.Auth = sharedAuth()
	s.HubBindURL = "http://127.0.0.1:884"
	s.AdminUsers = append(s.AdminUsers, "alice") // an admin may also be listed as a student
	s.Auth.AdminPasswords["alice"] = "alice's own long password"
	s.AllowedUsers = append(s.AllowedUsers, "a", "z_9-x", strings.Repeat("b", 32))
	s.Spawner.NotebookDir = "~"
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	// pam may leave the roster to the students group.
	s = classHub(t)
	s.AllowedUsers = nil
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
}

// Every error names the attribute and the fix, and the name rule is the
// one the provider imports.
func TestUserNameErrorsSayTheFix(t *testing.T) {
	for name, want := range map[string]string{
		"root":      "system or service account",
		"teacher":   "droplet's admin user (ssh_user)",
		"Alice":     "lower-case letter first",
		"jhub-edge": "system or service account",
	} {
		err := CheckUserName(name, "teacher")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckUserName(%q) = %v, want it to say %q", name, err, want)
		}
	}
	if err := CheckUserName("alice", "teacher"); err != nil {
		t.Error(err)
	}
	s := classHub(t)
	s.Auth = sharedAuth()
	s.AdminUsers = []string{"prof", "dean"}
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), `auth.admin_passwords: no password for admin_users[1] "dean"`) || !strings.Contains(err.Error(), `add "dean" = `) {
		t.Errorf("missing admin password: %v", err)
	}
}

func TestDefaultLimits(t *testing.T) {
	for _, tc := range []struct {
		mem, cpus int
		want      Limits
	}{
		{512, 1, Limits{MemoryMaxMiB: 256, TasksMax: 512, CPUQuotaPercent: 80, NProc: 512}},
		{1024, 1, Limits{MemoryMaxMiB: 256, TasksMax: 512, CPUQuotaPercent: 80, NProc: 512}},
		{2048, 2, Limits{MemoryMaxMiB: 768, TasksMax: 512, CPUQuotaPercent: 100, NProc: 512}},
		{8192, 4, Limits{MemoryMaxMiB: 3584, TasksMax: 512, CPUQuotaPercent: 100, NProc: 512}},
	} {
		got := DefaultLimits(tc.mem, tc.cpus)
		if got != tc.want {
			t.Errorf("DefaultLimits(%d, %d) = %+v, want %+v", tc.mem, tc.cpus, got, tc.want)
		}
		s := classHub(t)
		s.Limits = got
		if err := s.Validate(); err != nil {
			t.Errorf("DefaultLimits(%d, %d) does not validate: %v", tc.mem, tc.cpus, err)
		}
	}
}

func TestNormalizeBaseURL(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/": "/", "jhub": "/jhub/", "/jhub": "/jhub/", "/jhub/": "/jhub/", "a/b.c~d_e-f": "/a/b.c~d_e-f/"} {
		if got, err := NormalizeBaseURL(in); err != nil || got != want {
			t.Errorf("NormalizeBaseURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"/a//b/", "/a b/", "/ä/", "/a/./b"} {
		if got, err := NormalizeBaseURL(bad); err == nil {
			t.Errorf("NormalizeBaseURL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestGenerateSecrets(t *testing.T) {
	a, err := GenerateSecrets()
	if err != nil {
		t.Fatal(err)
	}
	b, err := GenerateSecrets()
	if err != nil {
		t.Fatal(err)
	}
	if !hexSecret.MatchString(a.CookieSecret) || !hexSecret.MatchString(a.ProxyToken) {
		t.Errorf("not 64 hex digits: %d, %d characters", len(a.CookieSecret), len(a.ProxyToken))
	}
	if a.CookieSecret == b.CookieSecret || a.ProxyToken == b.ProxyToken || a.CookieSecret == a.ProxyToken {
		t.Error("generated secrets repeat")
	}
	s := classHub(t)
	s.Secrets.CookieSecret, s.Secrets.ProxyToken = a.CookieSecret, a.ProxyToken
	if err := s.Validate(); err != nil {
		t.Errorf("generated secrets rejected: %v", err)
	}
}

func TestWithBasicAuthKeepsMatchingHashes(t *testing.T) {
	s, err := Secrets{}.WithBasicAuth(map[string]string{"ta": "one", "tb": "two"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.WithBasicAuth(map[string]string{"ta": "one", "tb": "changed", "tc": "three"})
	if err != nil {
		t.Fatal(err)
	}
	if again.BasicAuthHashes["ta"] != s.BasicAuthHashes["ta"] {
		t.Error("unchanged password was re-hashed (plan would never settle)")
	}
	if again.BasicAuthHashes["tb"] == s.BasicAuthHashes["tb"] {
		t.Error("changed password kept its old hash")
	}
	if len(again.BasicAuthHashes) != 3 {
		t.Errorf("hashes for %d users, want 3", len(again.BasicAuthHashes))
	}
	dropped, err := again.WithBasicAuth(map[string]string{"tc": "three"})
	if err != nil {
		t.Fatal(err)
	}
	if len(dropped.BasicAuthHashes) != 1 || dropped.BasicAuthHashes["tc"] != again.BasicAuthHashes["tc"] {
		t.Errorf("removing users: %v", dropped.BasicAuthHashes)
	}
	if s.BasicAuthHashes["tb"] == again.BasicAuthHashes["tb"] || len(s.BasicAuthHashes) != 2 {
		t.Error("WithBasicAuth modified its receiver's map")
	}
}
