package hubconfig

import (
	"fmt"
	"path"

	"gopkg.in/yaml.v3"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

// renderEdge builds the edge's config from the edge package's own structs,
// so a renamed or removed field fails to compile here instead of failing
// `jhub-edge check` on the droplet.
func renderEdge(s Settings, r *release) ([]byte, error) {
	hsts, access := true, true
	cfg := edgeconfig.Config{
		Version: 1,
		Listen:  edgeconfig.ListenConfig{HTTP: ":80", HTTPS: ":443", API: loopbackHostPort(ProxyAPIPort)},
		TLS:     edgeconfig.TLSConfig{Mode: s.Edge.TLS.Mode, StorageDir: path.Join(ondroplet.EdgeStateDir, "tls")},
		HSTS:    &hsts,
		Log:     edgeconfig.LogConfig{Access: &access, Level: "info"},
		Limits: edgeconfig.LimitsConfig{
			MaxHeaderBytes:    edgeconfig.DefaultMaxHeaderBytes,
			ReadHeaderTimeout: edgeconfig.DefaultReadHeaderTimeout,
			IdleTimeout:       edgeconfig.DefaultIdleTimeout,
		},
		Hub: edgeconfig.HubConfig{
			Hosts:        s.HubHosts,
			BaseURL:      s.BaseURL,
			APITokenFile: r.path(secretsDir + "/proxy_token"),
		},
	}
	switch s.Edge.ProxyMode {
	case ProxyCHP:
		// configurable-http-proxy owns ProxyAPIPort; the edge's own API
		// (reload, health) moves aside.
		cfg.Listen.API = loopbackHostPort(EdgeAPIPortCHP)
		cfg.Hub.Mode = edgeconfig.ModeUpstream
		cfg.Hub.Upstream = ProxyPublicURL
	default:
		cfg.Hub.Mode = edgeconfig.ModeCHPAPI
		cfg.Hub.DefaultTarget = s.HubBindURL
	}
	t := s.Edge.TLS
	switch t.Mode {
	case TLSPEM:
		cfg.TLS.PEM = edgeconfig.PEMConfig{CertFile: r.path("tls/cert.pem"), KeyFile: r.path(secretsDir + "/tls_key.pem")}
	case TLSACME:
		a := t.ACME
		cfg.TLS.ACME = edgeconfig.ACMEConfig{Email: a.Email, DirectoryURL: a.DirectoryURL, Challenges: a.Challenges}
		if a.CARootPEM != "" {
			cfg.TLS.ACME.CARootFile = r.path("tls/acme_ca_root.pem")
		}
		if s.gives(SecretDNSToken, a.DNSToken) {
			cfg.TLS.ACME.DNS = edgeconfig.DNSConfig{TokenFile: r.path(secretsDir + "/do_token"), APIURL: a.DNSAPIURL, Resolvers: a.DNSResolvers}
		}
	}
	htpasswd := r.path(secretsDir + "/htpasswd")
	guard := func(b *BasicAuth) *edgeconfig.BasicAuthConfig {
		if b == nil {
			return nil
		}
		return &edgeconfig.BasicAuthConfig{Htpasswd: htpasswd, Paths: b.Paths, Realm: b.Realm}
	}
	cfg.Hub.BasicAuth = guard(s.Edge.HubBasicAuth)
	if a := s.Auth; a.Kind == AuthGitHub || a.Kind == AuthOIDC {
		kind := edgeconfig.LoginGitHub
		if a.Kind == AuthOIDC {
			kind = edgeconfig.LoginOIDC
		}
		cfg.Hub.Login = &edgeconfig.LoginConfig{
			Kind: kind, ClientID: a.ClientID, Scopes: a.Scopes,
			ClientSecretFile: r.path(oauthClientSecretFile), IdentityKeyFile: r.path(IdentityKeyFile),
			UsernamePattern: UserNamePattern,
			IssuerURL:       a.IssuerURL, UsernameClaim: a.UsernameClaim, AllowedDomains: a.AllowedDomains,
			GitHubURL: a.GitHubURL, GitHubOrg: a.GitHubOrg,
		}
		if a.CAPEM != "" {
			cfg.Hub.Login.CAFile = r.path(loginCAFile)
		}
	}
	for _, site := range s.Edge.Sites {
		sc := edgeconfig.SiteConfig{Host: site.Host, Upstream: site.Upstream, BasicAuth: guard(site.BasicAuth)}
		switch {
		case len(site.StaticFiles) > 0:
			sc.Static = &edgeconfig.StaticConfig{Root: r.path(path.Join(sitesDir, site.Host))}
		case site.Root != "":
			sc.Static = &edgeconfig.StaticConfig{Root: site.Root}
		}
		cfg.Sites = append(cfg.Sites, sc)
	}
	out, err := yaml.Marshal(&cfg)
	if err != nil {
		return nil, fmt.Errorf("hubconfig: encoding edge.yaml: %w", err)
	}
	return append([]byte("# Rendered by terraform-provider-jhub (jhub_edge); edits are drift and are replaced on the next apply.\n"), out...), nil
}
