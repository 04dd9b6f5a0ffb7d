package edgeconfig

import (
	"regexp"
	"time"
)

// Login kinds (hub.login.kind).
const (
	LoginOIDC   = "oidc"
	LoginGitHub = "github"
)

// IdentityHeader carries the logged-in user from the edge to the hub's
// login handler. The edge deletes every client-sent copy, and the hub
// accepts it only with a fresh, single-use HMAC (SignIdentity), so a
// student process that reaches the hub's loopback port directly gets
// nothing from forging it.
const IdentityHeader = "X-Jhub-Identity"

// IdentityMaxAge is how old a signed identity may be when the hub sees
// it; the hub remembers each nonce for this long to refuse replays.
const IdentityMaxAge = 60 * time.Second

// Login paths, under the hub's base_url. oauth_login and oauth_callback
// are the names oauthenticator uses, so the callback URL registered with
// the provider is the one admins know (https://HOST/hub/oauth_callback).
const (
	LoginPath    = "hub/oauth_login"
	CallbackPath = "hub/oauth_callback"
	LogoutPath   = "hub/logout"
	HubIdentPath = "hub/jhub-identity" // the hub's handler for the signed identity
)

// LoginConfig makes the edge run the hub's logins (internal/edge/login.go). Secrets are in 0600
// files: the client secret, and the identity key the hub shares.
type LoginConfig struct {
	Kind             string   `yaml:"kind"` // oidc | github
	ClientID         string   `yaml:"client_id"`
	ClientSecretFile string   `yaml:"client_secret_file"`
	IdentityKeyFile  string   `yaml:"identity_key_file"`
	Scopes           []string `yaml:"scopes,omitempty"`
	// UsernamePattern is the hub's user-name rule (hubconfig.UserNamePattern);
	// a name that does not match is refused before the hub sees it.
	UsernamePattern string `yaml:"username_pattern"`
	// OIDC: discovery from the issuer; the claim that becomes the name.
	IssuerURL      string   `yaml:"issuer_url,omitempty"`
	UsernameClaim  string   `yaml:"username_claim,omitempty"`  // preferred_username | email
	AllowedDomains []string `yaml:"allowed_domains,omitempty"` // required with email
	// GitHub: github.com or a GitHub Enterprise Server base URL, and an
	// optional organisation every user must be an active member of.
	GitHubURL string `yaml:"github_url,omitempty"`
	GitHubOrg string `yaml:"github_org,omitempty"`
	// CAFile holds PEM roots trusted for the provider's HTTPS (a campus
	// or GitHub Enterprise CA) instead of the system roots; verification
	// is never switched off.
	CAFile string `yaml:"ca_file,omitempty"`
}

func (l *LoginConfig) validate(errs *fieldErrs, field string) {
	if l.ClientID == "" {
		errs.add(field+".client_id", "required: the OAuth client ID registered with the provider")
	}
	for f, p := range map[string]string{".client_secret_file": l.ClientSecretFile, ".identity_key_file": l.IdentityKeyFile} {
		if p == "" {
			errs.add(field+f, "required (a 0600 file)")
		} else if _, err := ReadToken(p); err != nil {
			errs.add(field+f, "%v", err)
		}
	}
	checkFile(errs, field+".ca_file", l.CAFile, false)
	if _, err := regexp.Compile(l.UsernamePattern); err != nil || l.UsernamePattern == "" {
		errs.add(field+".username_pattern", "must be the hub's user-name regular expression")
	}
	switch l.Kind {
	case LoginOIDC:
		if _, err := ParseHTTPURL(l.IssuerURL); err != nil {
			errs.add(field+".issuer_url", "%v", err)
		}
		switch l.UsernameClaim {
		case "preferred_username":
		case "email":
			if len(l.AllowedDomains) == 0 {
				errs.add(field+".allowed_domains", "required with username_claim email: the domains whose addresses may log in")
			}
		default:
			errs.add(field+".username_claim", "%q is not one of preferred_username, email", l.UsernameClaim)
		}
		if l.GitHubURL != "" || l.GitHubOrg != "" {
			errs.add(field, "github_url and github_org are only used with kind github")
		}
	case LoginGitHub:
		if l.GitHubURL != "" {
			if _, err := ParseHTTPURL(l.GitHubURL); err != nil {
				errs.add(field+".github_url", "%v", err)
			}
		}
		if l.IssuerURL != "" || l.UsernameClaim != "" || len(l.AllowedDomains) > 0 {
			errs.add(field, "issuer_url, username_claim and allowed_domains are only used with kind oidc")
		}
	default:
		errs.add(field+".kind", "%q is not one of oidc, github", l.Kind)
	}
}
