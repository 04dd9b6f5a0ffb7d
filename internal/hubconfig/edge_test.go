package hubconfig

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path"
	"slices"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/basicauth"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

func selfSignedPEM(t *testing.T, host string) (certPEM, keyPEM string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
}

// loadEdge writes the release and loads its edge.yaml with the edge's own
// loader, the code behind `jhub-edge check` (which also checks that every
// file it names exists, and that secret files are 0600).
func loadEdge(t *testing.T, s Settings) (*edgeconfig.Config, string) {
	t.Helper()
	dir, _ := renderTo(t, s)
	cfg, err := edgeconfig.LoadConfig(path.Join(dir, "edge.yaml"))
	if err != nil {
		t.Fatalf("edge rejects the rendered edge.yaml: %v", err)
	}
	return cfg, dir
}

func TestEdgeConfigAcceptedByEdge(t *testing.T) {
	s := classHub(t)
	cfg, dir := loadEdge(t, s)
	if cfg.Hub.Mode != edgeconfig.ModeCHPAPI || cfg.Hub.DefaultTarget != "http://127.0.0.1:883" || cfg.Listen.API != "127.0.0.1:881" {
		t.Errorf("hub: mode %q default_target %q api %q", cfg.Hub.Mode, cfg.Hub.DefaultTarget, cfg.Listen.API)
	}
	if !slices.Equal(cfg.Hosts(), []string{"hub.example.edu", "www.example.edu", "grades.example.edu"}) {
		t.Errorf("hosts = %v", cfg.Hosts())
	}
	if cfg.Hub.APITokenFile != dir+"/secrets/proxy_token" || cfg.Hub.BaseURL != "/" || cfg.Hub.BasicAuth != nil {
		t.Errorf("hub = %+v", cfg.Hub)
	}
	if cfg.TLS.Mode != "acme" || cfg.TLS.ACME.Email != "admin@example.edu" || !slices.Equal(cfg.TLS.ACME.Challenges, []string{"http-01", "tls-alpn-01"}) ||
		cfg.TLS.StorageDir != "/var/lib/jhub-edge/tls" {
		t.Errorf("tls = %+v", cfg.TLS)
	}
	if !*cfg.HSTS || !*cfg.Log.Access {
		t.Error("HSTS or access log off")
	}
	www := cfg.Sites[0]
	if www.Static == nil || www.Static.Root != dir+"/sites/www.example.edu" || www.BasicAuth == nil ||
		www.BasicAuth.Htpasswd != dir+"/secrets/htpasswd" || !slices.Equal(www.BasicAuth.Paths, []string{"/notes/"}) || www.BasicAuth.Realm != "CS101" {
		t.Errorf("www site = %+v %+v", www, www.BasicAuth)
	}
	if b, err := os.ReadFile(path.Join(www.Static.Root, "notes/week1.html")); err != nil || string(b) != "week 1\n" {
		t.Errorf("static file: %q %v", b, err)
	}
	if g := cfg.Sites[1]; g.Upstream != "http://127.0.0.1:9000" || g.Static != nil || g.BasicAuth != nil {
		t.Errorf("grades site = %+v", g)
	}
	// The htpasswd is what the edge verifies against: the password works,
	// another does not.
	h, err := basicauth.Load(www.BasicAuth.Htpasswd)
	if err != nil {
		t.Fatal(err)
	}
	if !h.Verify("ta", "ta-password-1") || h.Verify("ta", "wrong") {
		t.Error("htpasswd does not verify the configured password (or accepts a wrong one)")
	}
}

func TestEdgeConfigVariantsAccepted(t *testing.T) {
	cert, key := selfSignedPEM(t, "hub.example.edu")
	t.Run("pem, /jhub/, hub basic auth, root site", func(t *testing.T) {
		s := classHub(t)
		s.BaseURL = "/jhub/"
		s.Edge.TLS = TLS{Mode: TLSPEM, CertPEM: cert, KeyPEM: key}
		s.Edge.HubBasicAuth = &BasicAuth{Paths: []string{"/jhub/hub/login"}}
		s.Edge.Sites[1] = Site{Host: "docs.example.edu", Root: t.TempDir()}
		cfg, dir := loadEdge(t, s)
		if cfg.TLS.PEM.CertFile != dir+"/tls/cert.pem" || cfg.TLS.PEM.KeyFile != dir+"/secrets/tls_key.pem" {
			t.Errorf("pem = %+v", cfg.TLS.PEM)
		}
		if cfg.Hub.BaseURL != "/jhub/" || cfg.Hub.BasicAuth == nil || !slices.Equal(cfg.Hub.BasicAuth.Paths, []string{"/jhub/hub/login"}) {
			t.Errorf("hub = %+v", cfg.Hub)
		}
		if cfg.Sites[1].Static.Root != s.Edge.Sites[1].Root {
			t.Errorf("root site = %+v", cfg.Sites[1].Static)
		}
		if certs := cfg.ToCerts(); certs.PEM.KeyFile == "" {
			t.Error("ToCerts lost the key file")
		}
	})
	t.Run("dns-01 with a test CA", func(t *testing.T) {
		s := classHub(t)
		s.Edge.TLS.ACME = ACME{Email: "a@example.edu", DirectoryURL: "https://127.0.0.1:14000/dir", CARootPEM: cert,
			Challenges: []string{"dns-01"}, DNSToken: "dop_v1_x", DNSAPIURL: "http://127.0.0.1:9999", DNSResolvers: []string{"127.0.0.1:53"}}
		cfg, dir := loadEdge(t, s)
		a := cfg.TLS.ACME
		if a.DirectoryURL != "https://127.0.0.1:14000/dir" || a.CARootFile != dir+"/tls/acme_ca_root.pem" ||
			a.DNS.TokenFile != dir+"/secrets/do_token" || a.DNS.APIURL != "http://127.0.0.1:9999" || !slices.Equal(a.DNS.Resolvers, []string{"127.0.0.1:53"}) {
			t.Errorf("acme = %+v", a)
		}
	})
	t.Run("oidc and github logins", func(t *testing.T) {
		for _, a := range []Auth{
			{Kind: AuthOIDC, ClientID: "jhub", ClientSecret: "oidc-secret", IssuerURL: "https://sso.example.edu/realms/cs",
				Scopes: []string{"profile", "email"}, UsernameClaim: ClaimEmail, AllowedDomains: []string{"example.edu"}},
			{Kind: AuthGitHub, ClientID: "Iv1.x", ClientSecret: "gh-secret", GitHubOrg: "cs101", GitHubURL: "https://git.example.edu", CAPEM: cert},
		} {
			s := classHub(t)
			s.Auth = a
			cfg, dir := loadEdge(t, s)
			l := cfg.Hub.Login
			if l == nil || l.Kind != a.Kind || l.ClientID != a.ClientID || l.ClientSecretFile != dir+"/secrets/oauth_client_secret" ||
				l.IdentityKeyFile != dir+"/"+IdentityKeyFile || l.UsernamePattern != UserNamePattern || l.IssuerURL != a.IssuerURL ||
				l.UsernameClaim != a.UsernameClaim || l.GitHubOrg != a.GitHubOrg || l.GitHubURL != a.GitHubURL {
				t.Errorf("%s: login = %+v", a.Kind, l)
			}
			if ca, want := l.CAFile != "", a.CAPEM != ""; ca != want {
				t.Errorf("%s: ca_file %q with ca_pem set %v", a.Kind, l.CAFile, want)
			} else if ca {
				if b, err := os.ReadFile(l.CAFile); err != nil || string(b) != a.CAPEM {
					t.Errorf("%s: %s holds %q (%v), want ca_pem", a.Kind, l.CAFile, b, err)
				}
			}
		}
	})
	t.Run("chp mode", func(t *testing.T) {
		s := classHub(t)
		s.Edge.ProxyMode = ProxyCHP
		s.Edge.TLS = TLS{Mode: TLSSelfSigned}
		cfg, _ := loadEdge(t, s)
		if cfg.Hub.Mode != edgeconfig.ModeUpstream || cfg.Hub.Upstream != "http://127.0.0.1:880" || cfg.Listen.API != "127.0.0.1:882" {
			t.Errorf("chp: mode %q upstream %q api %q", cfg.Hub.Mode, cfg.Hub.Upstream, cfg.Listen.API)
		}
	})
}
