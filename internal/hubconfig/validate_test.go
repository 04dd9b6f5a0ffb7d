package hubconfig

import (
	"strings"
	"testing"
	"time"
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
		{"site reuses hub host", func(s *Settings) { s.Edge.Sites[1].Host = "hub.example.edu" }, "edge.sites[1].host"},
		{"base_url query", func(s *Settings) { s.BaseURL = "/jhub?x=1" }, "base_url"},
		{"base_url dot-dot", func(s *Settings) { s.BaseURL = "/a/../b/" }, "base_url"},
		{"base_url percent", func(s *Settings) { s.BaseURL = "/j%2fhub/" }, "base_url"},
		{"no auth kind", func(s *Settings) { s.Auth = Auth{} }, "auth.kind"},
		{"unknown auth kind", func(s *Settings) { s.Auth = Auth{Kind: "ldap"} }, "auth.kind"},
		{"shared password empty", func(s *Settings) { s.Auth = Auth{Kind: AuthSharedPassword} }, "auth.password"},
		{"pam with password", func(s *Settings) { s.Auth.Password = "x" }, "auth.password"},
		{"github without secret", func(s *Settings) { s.Auth = Auth{Kind: AuthGitHub, ClientID: "id"} }, "auth.client_secret"},
		{"github with create_system_users", func(s *Settings) {
			s.Auth = Auth{Kind: AuthGitHub, ClientID: "id", ClientSecret: "x", CreateSystemUsers: true}
		}, "auth.create_system_users"},
		{"empty user", func(s *Settings) { s.AllowedUsers = []string{"a", ""} }, "allowed_users[1]"},
		{"padded admin", func(s *Settings) { s.AdminUsers = []string{" prof"} }, "admin_users[0]"},
		{"duplicate user", func(s *Settings) { s.AllowedUsers = []string{"a", "a"} }, "allowed_users[1]"},
		{"NUL in user", func(s *Settings) { s.AllowedUsers = []string{"a\x00b"} }, "allowed_users[0]"},
		{"relative default_url", func(s *Settings) { s.Spawner.DefaultURL = "tree/Welcome.ipynb" }, "spawner.default_url"},
		{"empty cmd arg", func(s *Settings) { s.Spawner.Cmd = []string{""} }, "spawner.cmd[0]"},
		{"negative server limit", func(s *Settings) { s.NamedServerLimit = -1 }, "named_server_limit"},
		{"limit without named servers", func(s *Settings) { s.NamedServers = false }, "named_server_limit"},
		{"short cull", func(s *Settings) { s.IdleCull.Timeout = 30 * time.Second }, "idle_cull.timeout"},
		{"fractional every", func(s *Settings) { s.IdleCull.Every = 1500 * time.Millisecond }, "idle_cull.every"},
		{"public hub bind", func(s *Settings) { s.HubBindURL = "http://0.0.0.0:8081" }, "hub_bind_url"},
		{"hub bind path", func(s *Settings) { s.HubBindURL = "http://127.0.0.1:8081/hub/" }, "hub_bind_url"},
		{"proxy mode", func(s *Settings) { s.Edge.ProxyMode = "nginx" }, "edge.proxy_mode"},
		{"tls mode", func(s *Settings) { s.Edge.TLS.Mode = "" }, "edge.tls.mode"},
		{"acme email", func(s *Settings) { s.Edge.TLS.ACME.Email = "admin" }, "edge.tls.acme.email"},
		{"acme http directory", func(s *Settings) { s.Edge.TLS.ACME.DirectoryURL = "http://ca/dir" }, "edge.tls.acme.directory_url"},
		{"challenge", func(s *Settings) { s.Edge.TLS.ACME.Challenges = []string{"http01"} }, "edge.tls.acme.challenges[0]"},
		{"dns-01 without token", func(s *Settings) { s.Edge.TLS.ACME.Challenges = []string{"dns-01"} }, "edge.tls.acme.dns_token"},
		{"token without dns-01", func(s *Settings) { s.Edge.TLS.ACME.DNSToken = "x" }, "edge.tls.acme"},
		{"pem missing key", func(s *Settings) { s.Edge.TLS = TLS{Mode: TLSPEM, CertPEM: "x"} }, "edge.tls"},
		{"pem garbage", func(s *Settings) { s.Edge.TLS = TLS{Mode: TLSPEM, CertPEM: "x", KeyPEM: "y"} }, "edge.tls.key_pem"},
		{"acme settings with selfsigned", func(s *Settings) { s.Edge.TLS.Mode = TLSSelfSigned }, "edge.tls.acme"},
		{"site with two sources", func(s *Settings) { s.Edge.Sites[1].Root = "/srv/www" }, "edge.sites[1]"},
		{"site with none", func(s *Settings) { s.Edge.Sites[1].Upstream = "" }, "edge.sites[1]"},
		{"static path escapes", func(s *Settings) { s.Edge.Sites[0].StaticFiles["../etc/passwd"] = "x" }, "edge.sites[0].static_files"},
		{"static path absolute", func(s *Settings) { s.Edge.Sites[0].StaticFiles["/index.html"] = "x" }, "edge.sites[0].static_files"},
		{"relative root", func(s *Settings) { s.Edge.Sites[1] = Site{Host: "docs.example.edu", Root: "srv"} }, "edge.sites[1].root"},
		{"upstream scheme", func(s *Settings) { s.Edge.Sites[1].Upstream = "ftp://127.0.0.1" }, "edge.sites[1].upstream"},
		{"basic auth path", func(s *Settings) { s.Edge.Sites[0].BasicAuth.Paths = []string{"notes"} }, "edge.sites[0].basic_auth.paths[0]"},
		{"realm quote", func(s *Settings) { s.Edge.Sites[0].BasicAuth.Realm = `a"b` }, "edge.sites[0].basic_auth.realm"},
		{"guard without users", func(s *Settings) { s.Edge.BasicAuthUsers = nil; s.Secrets.BasicAuthHashes = nil }, "edge.basic_auth_users"},
		{"users without guard", func(s *Settings) { s.Edge.Sites[0].BasicAuth = nil }, "edge.basic_auth_users"},
		{"colon in basic auth user", func(s *Settings) {
			s.Edge.BasicAuthUsers = map[string]string{"a:b": "pw"}
			s.Secrets, _ = s.Secrets.WithBasicAuth(s.Edge.BasicAuthUsers)
		}, "edge.basic_auth_users"},
		{"stale hash", func(s *Settings) { s.Edge.BasicAuthUsers = map[string]string{"ta": "new-password"} }, "secrets.basic_auth_hashes"},
		{"missing hash", func(s *Settings) { s.Secrets.BasicAuthHashes = nil }, "secrets.basic_auth_hashes"},
		{"cookie secret", func(s *Settings) { s.Secrets.CookieSecret = "short" }, "secrets.cookie_secret"},
		{"proxy token", func(s *Settings) { s.Secrets.ProxyToken = "" }, "secrets.proxy_token"},
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
