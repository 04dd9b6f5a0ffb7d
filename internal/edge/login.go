package edge

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

const (
	loginCookie   = "jhub-edge-login"
	pendingTTL    = 10 * time.Minute
	maxPending    = 10000 // bounds memory against login floods
	defaultGitHub = "https://github.com"
)

// pending is one login between the redirect to the provider and the
// callback: single use, bound to the browser by the login cookie.
type pending struct {
	nonce, verifier, next string
	expires               time.Time
}

// pendingLogins lives across reloads (Server), so a reload does not
// break logins in flight.
type pendingLogins struct {
	mu sync.Mutex
	m  map[string]pending
}

func (p *pendingLogins) put(state string, v pending) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if len(p.m) >= maxPending {
		for k, e := range p.m {
			if now.After(e.expires) {
				delete(p.m, k)
			}
		}
		if len(p.m) >= maxPending {
			return false
		}
	}
	p.m[state] = v
	return true
}

// take removes and returns the login for state: a replayed callback
// finds nothing.
func (p *pendingLogins) take(state string) (pending, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[state]
	delete(p.m, state)
	return v, ok && time.Now().Before(v.expires)
}

// loginHandler runs the OAuth2 / OIDC authorization code flow (state,
// PKCE, nonce) in front of the hub and hands the identity to the hub's
// login handler in a signed header.
type loginHandler struct {
	cfg     edgeconfig.LoginConfig
	base    string // hub base_url
	hub     http.Handler
	secret  string
	key     []byte
	names   *regexp.Regexp
	pending *pendingLogins
	log     *slog.Logger
	client  *http.Client // talks to the provider
	now     func() time.Time

	mu       sync.Mutex // guards provider discovery
	provider *oidc.Provider
}

func newLoginHandler(cfg edgeconfig.LoginConfig, base string, hub http.Handler, p *pendingLogins, log *slog.Logger) (*loginHandler, error) {
	secret, err := edgeconfig.ReadToken(cfg.ClientSecretFile)
	if err != nil {
		return nil, fmt.Errorf("hub.login.client_secret_file: %w", err)
	}
	key, err := edgeconfig.ReadToken(cfg.IdentityKeyFile)
	if err != nil {
		return nil, fmt.Errorf("hub.login.identity_key_file: %w", err)
	}
	names, err := regexp.Compile(cfg.UsernamePattern)
	if err != nil {
		return nil, fmt.Errorf("hub.login.username_pattern: %w", err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	if cfg.CAFile != "" {
		pemData, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("hub.login.ca_file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemData) {
			return nil, fmt.Errorf("hub.login.ca_file: %s holds no PEM certificate", cfg.CAFile)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
		client.Transport = tr
	}
	return &loginHandler{cfg: cfg, base: base, hub: hub, secret: secret, key: []byte(key), names: names,
		pending: p, log: log, client: client, now: time.Now}, nil
}

func (h *loginHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case h.base + edgeconfig.LoginPath:
		h.start(w, r)
	case h.base + edgeconfig.CallbackPath:
		h.callback(w, r)
	case h.base + edgeconfig.HubIdentPath:
		// Only the edge itself may call the hub's identity handler.
		http.Error(w, "404 Not Found", http.StatusNotFound)
	case h.base + edgeconfig.LogoutPath:
		h.clearCookie(w, r)
		h.hub.ServeHTTP(w, r)
	default:
		h.hub.ServeHTTP(w, r)
	}
}

func randomString() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redirectURL is the callback URL on the host the browser used.
func (h *loginHandler) redirectURL(r *http.Request) string {
	return "https://" + r.Host + h.base + edgeconfig.CallbackPath
}

func (h *loginHandler) oauth2Config(ctx context.Context, r *http.Request) (*oauth2.Config, error) {
	c := &oauth2.Config{ClientID: h.cfg.ClientID, ClientSecret: h.secret, RedirectURL: h.redirectURL(r), Scopes: h.cfg.Scopes}
	switch h.cfg.Kind {
	case edgeconfig.LoginOIDC:
		p, err := h.discover(ctx)
		if err != nil {
			return nil, err
		}
		c.Endpoint = p.Endpoint()
		if !slices.Contains(c.Scopes, oidc.ScopeOpenID) {
			c.Scopes = append([]string{oidc.ScopeOpenID}, c.Scopes...)
		}
	default:
		web := strings.TrimSuffix(h.githubURL(), "/")
		c.Endpoint = oauth2.Endpoint{AuthURL: web + "/login/oauth/authorize", TokenURL: web + "/login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams}
		if h.cfg.GitHubOrg != "" && !slices.Contains(c.Scopes, "read:org") {
			c.Scopes = append(c.Scopes, "read:org")
		}
	}
	return c, nil
}

// discover fetches the provider's metadata once; a failure is retried on
// the next login rather than stopping the edge.
func (h *loginHandler) discover(ctx context.Context) (*oidc.Provider, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.provider != nil {
		return h.provider, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, h.client), h.cfg.IssuerURL)
	if err != nil {
		return nil, fmt.Errorf("OpenID discovery at %s: %w", h.cfg.IssuerURL, err)
	}
	h.provider = p
	return p, nil
}

func (h *loginHandler) githubURL() string {
	if h.cfg.GitHubURL == "" {
		return defaultGitHub
	}
	return h.cfg.GitHubURL
}

// githubAPI is api.github.com for github.com, BASE/api/v3 for GitHub
// Enterprise Server.
func (h *loginHandler) githubAPI() string {
	if h.cfg.GitHubURL == "" || strings.TrimSuffix(h.cfg.GitHubURL, "/") == defaultGitHub {
		return "https://api.github.com"
	}
	return strings.TrimSuffix(h.cfg.GitHubURL, "/") + "/api/v3"
}

// start redirects to the provider with a fresh state, PKCE verifier and
// nonce, and binds the state to this browser with a cookie.
func (h *loginHandler) start(w http.ResponseWriter, r *http.Request) {
	c, err := h.oauth2Config(r.Context(), r)
	if err != nil {
		h.fail(w, http.StatusBadGateway, "the login provider is unreachable; try again in a minute", err)
		return
	}
	next := r.URL.Query().Get("next")
	if !strings.HasPrefix(next, h.base) || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		next = h.base + "hub/"
	}
	state, p := randomString(), pending{nonce: randomString(), verifier: oauth2.GenerateVerifier(), next: next,
		expires: time.Now().Add(pendingTTL)}
	if !h.pending.put(state, p) {
		h.fail(w, http.StatusServiceUnavailable, "too many logins in progress; try again in a minute", nil)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: state, Path: h.base + "hub/", MaxAge: int(pendingTTL.Seconds()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(p.verifier)}
	if h.cfg.Kind == edgeconfig.LoginOIDC {
		opts = append(opts, oidc.Nonce(p.nonce))
	}
	http.Redirect(w, r, c.AuthCodeURL(state, opts...), http.StatusFound)
}

func (h *loginHandler) clearCookie(w http.ResponseWriter, _ *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: h.base + "hub/", MaxAge: -1, Secure: true, HttpOnly: true})
}

// callback checks the state against the browser's cookie and the pending
// logins (once), redeems the code with the PKCE verifier, maps the
// identity to a hub user name and hands it to the hub.
func (h *loginHandler) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	state := q.Get("state")
	cookie, err := r.Cookie(loginCookie)
	h.clearCookie(w, r)
	if state == "" || err != nil || !hmac.Equal([]byte(cookie.Value), []byte(state)) {
		h.fail(w, http.StatusForbidden, "this login was not started in this browser (state mismatch); start again", nil)
		return
	}
	p, ok := h.pending.take(state)
	if !ok {
		h.fail(w, http.StatusForbidden, "this login has expired or was already used; start again", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		h.fail(w, http.StatusForbidden, "the login provider refused the login", fmt.Errorf("provider error %.100q", e))
		return
	}
	name, err := h.identify(r, q.Get("code"), p)
	if err != nil {
		h.fail(w, http.StatusForbidden, "login refused", err)
		return
	}
	h.log.Info("login", "user", name, "kind", h.cfg.Kind)
	h.handOff(w, r, name, p.next)
}

func (h *loginHandler) identify(r *http.Request, code string, p pending) (string, error) {
	ctx := oidc.ClientContext(r.Context(), h.client)
	c, err := h.oauth2Config(ctx, r)
	if err != nil {
		return "", err
	}
	tok, err := c.Exchange(ctx, code, oauth2.VerifierOption(p.verifier))
	if err != nil {
		return "", fmt.Errorf("redeeming the code: %w", err)
	}
	if h.cfg.Kind == edgeconfig.LoginOIDC {
		raw, _ := tok.Extra("id_token").(string)
		return h.verifyIDToken(ctx, raw, p.nonce, tok)
	}
	return h.githubUser(ctx, tok)
}

// verifyIDToken checks signature, issuer, audience, expiry and nonce,
// and maps the configured claim to a hub user name. Providers that keep
// profile claims out of the ID token (zitadel by default) are asked at
// their userinfo endpoint, whose subject must be the token's.
func (h *loginHandler) verifyIDToken(ctx context.Context, raw, nonce string, tok *oauth2.Token) (string, error) {
	if raw == "" {
		return "", errors.New("the token response has no id_token")
	}
	p, err := h.discover(ctx)
	if err != nil {
		return "", err
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: h.cfg.ClientID, Now: h.now}).Verify(ctx, raw)
	if err != nil {
		return "", fmt.Errorf("ID token: %w", err)
	}
	if !hmac.Equal([]byte(idt.Nonce), []byte(nonce)) {
		return "", errors.New("ID token: nonce does not match this login")
	}
	var claims struct {
		PreferredUsername string `json:"preferred_username"`
		Email             string `json:"email"`
		EmailVerified     *bool  `json:"email_verified"`
	}
	if err := idt.Claims(&claims); err != nil {
		return "", fmt.Errorf("ID token claims: %w", err)
	}
	if claims.PreferredUsername == "" && claims.Email == "" && tok != nil {
		ui, err := p.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			return "", fmt.Errorf("userinfo: %w", err)
		}
		if ui.Subject != idt.Subject {
			return "", errors.New("userinfo: subject differs from the ID token's")
		}
		if err := ui.Claims(&claims); err != nil {
			return "", fmt.Errorf("userinfo claims: %w", err)
		}
	}
	if h.cfg.UsernameClaim == "email" {
		local, domain, ok := strings.Cut(strings.ToLower(claims.Email), "@")
		switch {
		case !ok:
			return "", errors.New("ID token: no email claim (request the email scope)")
		case claims.EmailVerified != nil && !*claims.EmailVerified:
			return "", fmt.Errorf("ID token: email of domain %q is not verified", domain)
		case !slices.ContainsFunc(h.cfg.AllowedDomains, func(d string) bool { return strings.EqualFold(d, domain) }):
			return "", fmt.Errorf("ID token: email domain %q is not in allowed_domains", domain)
		}
		return h.userName(local)
	}
	return h.userName(claims.PreferredUsername)
}

// userName lower-cases (GitHub logins and most directories are
// case-insensitive) and applies the hub's name rule.
func (h *loginHandler) userName(s string) (string, error) {
	n := strings.ToLower(s)
	if !h.names.MatchString(n) {
		return "", fmt.Errorf("%.64q is not a valid hub user name", s)
	}
	return n, nil
}

// githubUser reads /user and, with an organisation set, the user's
// membership, with the access token; the token is then dropped.
func (h *loginHandler) githubUser(ctx context.Context, tok *oauth2.Token) (string, error) {
	get := func(path string, v any) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.githubAPI()+path, nil)
		if err != nil {
			return 0, err
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Accept", "application/vnd.github+json")
		resp, err := h.client.Do(req)
		if err != nil {
			return 0, fmt.Errorf("GitHub API %s: %w", path, err)
		}
		defer func() { _ = resp.Body.Close() }()
		if resp.StatusCode == http.StatusOK {
			err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
		}
		return resp.StatusCode, err
	}
	var user struct {
		Login string `json:"login"`
	}
	if code, err := get("/user", &user); err != nil {
		return "", err
	} else if code != http.StatusOK {
		return "", fmt.Errorf("GitHub API /user: status %d", code)
	}
	name, err := h.userName(user.Login)
	if err != nil {
		return "", err
	}
	if org := h.cfg.GitHubOrg; org != "" {
		var m struct {
			State string `json:"state"`
		}
		code, err := get("/user/memberships/orgs/"+url.PathEscape(org), &m)
		if err != nil || code != http.StatusOK || m.State != "active" {
			return "", fmt.Errorf("GitHub user %q is not an active member of %q (status %d)", name, org, code)
		}
	}
	return name, nil
}

// handOff forwards the callback to the hub's identity handler with the
// signed identity; the hub answers with its session cookie and a
// redirect to next.
func (h *loginHandler) handOff(w http.ResponseWriter, r *http.Request, name, next string) {
	r2 := r.Clone(r.Context())
	r2.Method = http.MethodGet
	r2.URL.Path = h.base + edgeconfig.HubIdentPath
	r2.URL.RawPath = ""
	r2.URL.RawQuery = url.Values{"next": {next}}.Encode()
	r2.RequestURI = r2.URL.RequestURI()
	r2.Header.Set(edgeconfig.IdentityHeader, SignIdentity(h.key, name, h.now(), randomString()[:32]))
	h.hub.ServeHTTP(w, r2)
}

// SignIdentity is the header value "v1:NAME:UNIX:NONCE:HMAC", where HMAC
// is hex HMAC-SHA256 over "v1:NAME:UNIX:NONCE" with the shared key. The
// hub (jhub_hub.py) verifies it with the same construction.
func SignIdentity(key []byte, name string, at time.Time, nonce string) string {
	msg := "v1:" + name + ":" + strconv.FormatInt(at.Unix(), 10) + ":" + nonce
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return msg + ":" + hex.EncodeToString(m.Sum(nil))
}

// fail answers a refused login without details (they go to the log).
func (h *loginHandler) fail(w http.ResponseWriter, code int, msg string, err error) {
	if err != nil {
		h.log.Warn("login refused", "kind", h.cfg.Kind, "reason", msg, "err", err.Error())
	}
	http.Error(w, fmt.Sprintf("%d %s: %s", code, http.StatusText(code), msg), code)
}
