package edge

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"golang.org/x/oauth2"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
	"github.com/classhub/terraform-provider-jhub/internal/testkit/ghstandin"
	"github.com/classhub/terraform-provider-jhub/internal/testkit/opusers"
)

const (
	testIdentityKey = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	testNamePattern = `^[a-z][a-z0-9_-]{0,31}$` // hubconfig.UserNamePattern, which the edge cannot import
	opPassword      = "correct horse battery"
)

var registerClients sync.Once

// startOP runs zitadel's example OpenID Provider (a real OP: discovery,
// JWKS, signed ID tokens, PKCE, nonce) on loopback with two web clients,
// "jhub" and "other", both allowed to return to the hub's callback;
// withTLS serves it over HTTPS with httptest's own certificate.
func startOP(t *testing.T, withTLS bool) *httptest.Server {
	t.Helper()
	registerClients.Do(func() {
		cb := "https://hub.test/hub/oauth_callback"
		storage.RegisterClients(storage.WebClient("jhub", "jhub-secret", cb), storage.WebClient("other", "other-secret", cb))
	})
	var users []*storage.User
	for i, u := range []struct{ name, email string }{
		{"alice", "alice@uni.test"}, {"Bob", "bob@elsewhere.test"}, {"not a name", "x@uni.test"},
	} {
		users = append(users, &storage.User{ID: "id" + strconv.Itoa(i), Username: u.name, Password: opPassword, Email: u.email, EmailVerified: true})
	}
	us := opusers.Store(t, users...)
	srv := httptest.NewUnstartedServer(nil)
	if withTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	srv.Config.Handler = exampleop.SetupServer(srv.URL+"/", storage.NewStorage(us), slog.New(slog.DiscardHandler), false)
	t.Cleanup(srv.Close)
	return srv
}

// identityHub stands in for JupyterHub's identity handler: it records
// the identity header it got and answers as the hub does, with a
// session cookie and a redirect to next.
type identityHub struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // edgeconfig.IdentityHeader of every request, "" when absent
	path []string
}

func newIdentityHub(t *testing.T) *identityHub {
	h := &identityHub{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.seen = append(h.seen, r.Header.Get(edgeconfig.IdentityHeader))
		h.path = append(h.path, r.URL.Path)
		h.mu.Unlock()
		if r.URL.Path == "/hub/jhub-identity" {
			http.SetCookie(w, &http.Cookie{Name: "jupyterhub-session-id", Value: "x", Path: "/"})
			http.Redirect(w, r, r.URL.Query().Get("next"), http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, "hub "+r.URL.Path)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *identityHub) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.seen)
}

func (h *identityHub) last() (path, header string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) == 0 {
		return "", ""
	}
	return h.path[len(h.path)-1], h.seen[len(h.seen)-1]
}

// checkIdentity verifies a header value the way the hub does
// (jhub_hub.py), written out again so the test does not agree with
// SignIdentity by construction.
func checkIdentity(t *testing.T, v string) string {
	t.Helper()
	parts := strings.Split(v, ":")
	if len(parts) != 5 || parts[0] != "v1" {
		t.Fatalf("identity header %q is not v1:NAME:UNIX:NONCE:HMAC", v)
	}
	m := hmac.New(sha256.New, []byte(testIdentityKey))
	m.Write([]byte(strings.Join(parts[:4], ":")))
	if !hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(parts[4])) {
		t.Fatalf("identity header %q: bad signature", v)
	}
	ts, _ := strconv.ParseInt(parts[2], 10, 64)
	if d := time.Since(time.Unix(ts, 0)); d < -time.Second || d > 5*time.Second {
		t.Fatalf("identity header %q is not fresh (%v)", v, d)
	}
	return parts[1]
}

type loginEnv struct {
	t   *testing.T
	te  *testEdge
	op  *httptest.Server
	hub *identityHub
}

func startLoginEdge(t *testing.T, login string) *loginEnv {
	t.Helper()
	return startLoginEdgeOP(t, startOP(t, false), login)
}

func startLoginEdgeOP(t *testing.T, op *httptest.Server, login string) *loginEnv {
	t.Helper()
	env := &loginEnv{t: t, op: op, hub: newIdentityHub(t)}
	dir := prepareDir(t)
	for name, v := range map[string]string{"client_secret": "jhub-secret", "identity_key": testIdentityKey} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	login = strings.ReplaceAll(login, "{{op}}", env.op.URL+"/")
	env.te = startEdgeIn(t, dir, fmt.Sprintf(`hub:
  hosts: [hub.test]
  mode: upstream
  upstream: %q
  login:
    client_id: jhub
    client_secret_file: "{{dir}}/client_secret"
    identity_key_file: "{{dir}}/identity_key"
    username_pattern: %q
%s`, env.hub.URL, testNamePattern, login))
	return env
}

// browser follows redirects between the edge (https://hub.test) and the
// OP like a browser, with cookies, and stops at the edge's callback so
// tests can replay or tamper with it.
func (e *loginEnv) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	edgeTr := e.te.transport(false)
	return &http.Client{
		Jar: jar,
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Host == "hub.test" {
				return edgeTr.RoundTrip(r)
			}
			return http.DefaultTransport.RoundTrip(r)
		}),
		CheckRedirect: func(r *http.Request, _ []*http.Request) error {
			if r.URL.Path == "/hub/oauth_callback" || r.URL.Path == "/hub/spawn" {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// authorize starts a login at the edge and signs in at the OP's login
// form; it returns the callback URL the OP sends the browser to.
func (e *loginEnv) authorize(c *http.Client, user string) *url.URL {
	t := e.t
	t.Helper()
	resp, err := c.Get("https://hub.test/hub/oauth_login?next=" + url.QueryEscape("/hub/spawn"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Request.URL.Query().Get("authRequestID")
	if resp.StatusCode != http.StatusOK || id == "" {
		t.Fatalf("expected the OP's login form, got %d at %s: %s", resp.StatusCode, resp.Request.URL, body)
	}
	resp, err = c.PostForm(e.op.URL+"/login/username", url.Values{"username": {user}, "password": {opPassword}, "id": {id}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil || loc.Path != "/hub/oauth_callback" {
		t.Fatalf("expected a redirect to the callback, got %d %v", resp.StatusCode, loc)
	}
	return loc
}

func (e *loginEnv) get(c *http.Client, u string) (*http.Response, string) {
	e.t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const oidcLogin = `    kind: oidc
    issuer_url: "{{op}}"
    scopes: [openid, profile, email]
`

// TestOIDCLogin: a student signs in at a real OP; the hub gets exactly
// one signed, fresh identity naming them (lower-cased), with the browser
// sent on to next; replaying the callback gets nothing.
func TestOIDCLogin(t *testing.T) {
	env := startLoginEdge(t, oidcLogin+"    username_claim: preferred_username\n")
	c := env.browser()
	cb := env.authorize(c, "Bob")
	resp, body := env.get(c, cb.String())
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/hub/spawn" {
		t.Fatalf("callback: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	path, hdr := env.hub.last()
	if path != "/hub/jhub-identity" {
		t.Fatalf("the hub saw %s, want its identity handler", path)
	}
	if got := checkIdentity(t, hdr); got != "bob" {
		t.Fatalf("identity %q, want bob", got)
	}
	// Replayed callback: same browser, same code and state.
	n := env.hub.count()
	resp, _ = env.get(c, cb.String())
	if resp.StatusCode != http.StatusForbidden || env.hub.count() != n {
		t.Fatalf("replayed callback: %d, hub saw %d requests (want 403, %d)", resp.StatusCode, env.hub.count(), n)
	}
	// The access log never holds the code or the state.
	logs := env.te.logs.String()
	for _, k := range []string{"code", "state"} {
		if v := cb.Query().Get(k); v == "" || strings.Contains(logs, v) {
			t.Errorf("the log holds the callback's %s", k)
		}
	}
}

// TestOIDCLoginRefusals: what must never reach the hub as an identity.
func TestOIDCLoginRefusals(t *testing.T) {
	env := startLoginEdge(t, oidcLogin+"    username_claim: email\n    allowed_domains: [uni.test]\n")
	refused := func(name string, resp *http.Response, body string) {
		t.Helper()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403: %s", name, resp.StatusCode, body)
		}
		if n := env.hub.count(); n != 0 {
			t.Errorf("%s: the hub got %d requests", name, n)
		}
	}

	t.Run("email outside allowed_domains", func(t *testing.T) {
		c := env.browser()
		resp, body := env.get(c, env.authorize(c, "Bob").String())
		refused("bob@elsewhere.test", resp, body)
	})
	t.Run("tampered state", func(t *testing.T) {
		c := env.browser()
		cb := env.authorize(c, "alice")
		q := cb.Query()
		// Change one character for sure (replacing it with "0" left a
		// state whose 11th character was "0" untouched, 1 run in 16).
		st := []byte(q.Get("state"))
		st[10] ^= 1
		q.Set("state", string(st))
		cb.RawQuery = q.Encode()
		resp, body := env.get(c, cb.String())
		refused("tampered state", resp, body)
	})
	t.Run("callback in another browser", func(t *testing.T) {
		cb := env.authorize(env.browser(), "alice")
		resp, body := env.get(env.browser(), cb.String())
		refused("other browser", resp, body)
	})
	t.Run("forged header", func(t *testing.T) {
		c := env.browser()
		req, _ := http.NewRequest("GET", "https://hub.test/hub/home", nil)
		req.Header.Set(edgeconfig.IdentityHeader, SignIdentity([]byte("guess"), "alice", time.Now(), "n"))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if path, hdr := env.hub.last(); path != "/hub/home" || hdr != "" {
			t.Fatalf("the hub saw %s with identity %q; the edge must strip it", path, hdr)
		}
		resp, _ = env.get(c, "https://hub.test/hub/jhub-identity?next=/hub/")
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("the hub's identity handler answered %d through the edge, want 404", resp.StatusCode)
		}
	})
	t.Run("email inside allowed_domains", func(t *testing.T) {
		c := env.browser()
		resp, body := env.get(c, env.authorize(c, "alice").String())
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("alice@uni.test: %d %s", resp.StatusCode, body)
		}
		if _, hdr := env.hub.last(); checkIdentity(t, hdr) != "alice" {
			t.Fatalf("identity %q", hdr)
		}
	})
}

// TestOIDCTokenChecks runs the ID-token checks on tokens the real OP
// issued: another client's token (wrong audience), an expired one, and a
// nonce of another login are all refused.
func TestOIDCTokenChecks(t *testing.T) {
	op := startOP(t, false)
	dir := t.TempDir()
	for name, v := range map[string]string{"jhub": "jhub-secret", "other": "other-secret", "key": testIdentityKey} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	handler := func(client string) *loginHandler {
		h, err := newLoginHandler(edgeconfig.LoginConfig{Kind: edgeconfig.LoginOIDC, ClientID: client, ClientSecretFile: filepath.Join(dir, client),
			IdentityKeyFile: filepath.Join(dir, "key"), UsernamePattern: testNamePattern, IssuerURL: op.URL + "/",
			UsernameClaim: "preferred_username", Scopes: []string{"openid", "profile"}}, "/", http.NotFoundHandler(),
			&pendingLogins{m: map[string]pending{}}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	// A token for "other", obtained through the login flow as that client.
	ctx := context.Background()
	other := handler("other")
	raw, nonce, tok := issueIDToken(t, op, other)
	if name, err := other.verifyIDToken(ctx, raw, nonce, tok); err != nil || name != "alice" {
		t.Fatalf("the token is valid for its own client: %q %v", name, err)
	}
	jhub := handler("jhub")
	for name, check := range map[string]func() error{
		"wrong audience": func() error { _, err := jhub.verifyIDToken(ctx, raw, nonce, tok); return err },
		"bad nonce":      func() error { _, err := other.verifyIDToken(ctx, raw, nonce+"x", tok); return err },
		"expired": func() error {
			late := handler("other")
			late.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
			_, err := late.verifyIDToken(ctx, raw, nonce, tok)
			return err
		},
		"tampered signature": func() error {
			_, err := other.verifyIDToken(ctx, raw[:len(raw)-4]+"AAAA", nonce, tok)
			return err
		},
	} {
		if err := check(); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// issueIDToken runs h's start and the OP's login, then redeems the code
// itself, returning the raw ID token and the login's nonce.
func issueIDToken(t *testing.T, op *httptest.Server, h *loginHandler) (raw, nonce string, tok *oauth2.Token) {
	t.Helper()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "https://hub.test/hub/oauth_login", nil)
	h.start(rec, req)
	state := rec.Result().Cookies()[0].Value
	p := h.pending.m[state]
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if r.URL.Host == "hub.test" {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(rec.Header().Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, err = c.PostForm(op.URL+"/login/username", url.Values{"username": {"alice"}, "password": {opPassword},
		"id": {resp.Request.URL.Query().Get("authRequestID")}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := resp.Location()
	cfg, err := h.oauth2Config(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	tok, err = cfg.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ = tok.Extra("id_token").(string)
	return raw, p.nonce, tok
}

// githubStandIn serves GitHub's OAuth web flow and API (ghstandin) for
// one OAuth app, "jhub", with login's organisations.
func githubStandIn(t *testing.T, login string, orgs map[string]string) *httptest.Server {
	s := httptest.NewServer(ghstandin.New("jhub", "jhub-secret", "https://hub.test/hub/oauth_callback", map[string]map[string]string{login: orgs}))
	t.Cleanup(s.Close)
	return s
}

// TestGitHubLogin: GitHub's web flow against the stand-in, with an
// Enterprise base URL: the login is lower-cased, an organisation
// restriction admits active members only.
func TestGitHubLogin(t *testing.T) {
	for _, tc := range []struct {
		name, login, org string
		orgs             map[string]string
		want             string // "" refused
	}{
		{"member", "Alice-Smith", "cs101", map[string]string{"cs101": "active"}, "alice-smith"},
		{"no org restriction", "Bob", "", nil, "bob"},
		{"pending member", "carol", "cs101", map[string]string{"cs101": "pending"}, ""},
		{"not a member", "dave", "cs101", nil, ""},
		{"login not a hub name", "9lives", "", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gh := githubStandIn(t, tc.login, tc.orgs)
			env := startLoginEdge(t, fmt.Sprintf("    kind: github\n    github_url: %q\n    github_org: %q\n", gh.URL, tc.org))
			c := env.browser()
			// The browser is signed in to GitHub already.
			ghURL, _ := url.Parse(gh.URL)
			c.Jar.SetCookies(ghURL, []*http.Cookie{{Name: ghstandin.SessionCookie, Value: tc.login}})
			resp, body := env.get(c, "https://hub.test/hub/oauth_login?next=/hub/spawn")
			if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "https://hub.test/hub/oauth_callback?") {
				t.Fatalf("authorize: %d %s %s", resp.StatusCode, resp.Header.Get("Location"), body)
			}
			resp, body = env.get(c, resp.Header.Get("Location"))
			if tc.want == "" {
				if resp.StatusCode != http.StatusForbidden || env.hub.count() != 0 {
					t.Fatalf("want a refusal, got %d (%s), hub saw %d", resp.StatusCode, body, env.hub.count())
				}
				return
			}
			if _, hdr := env.hub.last(); resp.StatusCode != http.StatusFound || checkIdentity(t, hdr) != tc.want {
				t.Fatalf("got %d %q, want %s", resp.StatusCode, hdr, tc.want)
			}
		})
	}
}

// TestLogoutEndsTheEdgeSession: the hub's logout also drops the edge's
// login cookie, and reaches the hub (which ends its own session).
func TestLogoutEndsTheEdgeSession(t *testing.T) {
	env := startLoginEdge(t, oidcLogin+"    username_claim: preferred_username\n")
	c := env.browser()
	env.authorize(c, "alice") // a login in flight holds the edge's cookie
	hub, _ := url.Parse("https://hub.test/hub/")
	if len(c.Jar.Cookies(hub)) == 0 {
		t.Fatal("no edge login cookie after starting a login")
	}
	resp, body := env.get(c, "https://hub.test/hub/logout")
	if resp.StatusCode != http.StatusOK || body != "hub /hub/logout" {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	if got := c.Jar.Cookies(hub); len(got) != 0 {
		t.Fatalf("cookies after logout: %v", got)
	}
}

// TestLoginProviderCA: an OP whose certificate only ca_file's roots
// vouch for is unreachable with the system roots (no login starts) and
// reached with ca_file; verification is never switched off.
func TestLoginProviderCA(t *testing.T) {
	op := startOP(t, true)
	start := func(env *loginEnv) *http.Response {
		c := env.browser()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		resp, _ := env.get(c, "https://hub.test/hub/oauth_login")
		return resp
	}
	if resp := start(startLoginEdgeOP(t, op, oidcLogin+"    username_claim: preferred_username\n")); resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("with the system roots the login started: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: op.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	resp := start(startLoginEdgeOP(t, op, oidcLogin+"    username_claim: preferred_username\n    ca_file: "+strconv.Quote(caFile)+"\n"))
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, op.URL+"/") {
		t.Fatalf("with ca_file: %d Location %q, want a redirect to the OP", resp.StatusCode, loc)
	}
}

// TestGitHubSignIn: a browser not signed in to GitHub is sent to the
// stand-in's sign-in form and, once signed in, back through the
// authorization to the edge's callback, which logs it in.
func TestGitHubSignIn(t *testing.T) {
	gh := githubStandIn(t, "Alice", nil)
	env := startLoginEdge(t, fmt.Sprintf("    kind: github\n    github_url: %q\n", gh.URL))
	c := env.browser()
	resp, body := env.get(c, "https://hub.test/hub/oauth_login?next=/hub/spawn")
	back := resp.Request.URL.Query().Get("return_to")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/login" || back == "" {
		t.Fatalf("want GitHub's sign-in form, got %d at %s: %s", resp.StatusCode, resp.Request.URL, body)
	}
	resp, err := c.PostForm(gh.URL+"/session", url.Values{"login": {"Alice"}, "return_to": {back}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "https://hub.test/hub/oauth_callback?") {
		t.Fatalf("after signing in: %d %s", resp.StatusCode, loc)
	}
	resp, body = env.get(c, resp.Header.Get("Location"))
	if _, hdr := env.hub.last(); resp.StatusCode != http.StatusFound || checkIdentity(t, hdr) != "alice" {
		t.Fatalf("callback: %d %s %q", resp.StatusCode, body, hdr)
	}
}
