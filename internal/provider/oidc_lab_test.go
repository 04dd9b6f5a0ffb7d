//go:build lab

package provider

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
	"github.com/classhub/terraform-provider-jhub/internal/hubclient"
	"github.com/classhub/terraform-provider-jhub/internal/hubconfig"
	"github.com/classhub/terraform-provider-jhub/internal/testkit/opusers"
)

// Where the lab's stand-ins for outside services listen on the gateway.
const labOPPort = 9443

const (
	labOPPassword     = "op-password-for-the-lab"
	labOAuthClientID  = "jhub"
	labOAuthSecret    = "jhub-client-secret-lab-0123"
	hubLoginCookie    = "jupyterhub-hub-login" // JupyterHub's login cookie
	labOPFormPath     = "login/username"       // the example OP's login form, below the issuer
	labOPFormIDParam  = "authRequestID"
	labOPFormPostName = "id"
)

// startLabOP runs zitadel's example OpenID Provider (their exampleop and
// storage packages: discovery, JWKS, signed ID tokens, PKCE, nonce, a
// login form) on the lab gateway over HTTPS, where the droplet's edge
// reaches it, with one web client whose callback is the hub's. It returns
// the issuer and the CA the droplet must trust (auth.ca_pem).
func (h *classHub) startLabOP(t *testing.T, users ...string) (issuer string, caPEM []byte) {
	t.Helper()
	storage.RegisterClients(storage.WebClient(labOAuthClientID, labOAuthSecret, "https://"+h.hubFQN+"/"+edgeconfig.CallbackPath))
	var accounts []*storage.User
	for _, u := range users {
		accounts = append(accounts, &storage.User{ID: "id-" + u, Username: u, Password: labOPPassword, Email: u + "@cs101.lab.test", EmailVerified: true})
	}
	us := opusers.Store(t, accounts...)
	issuer = fmt.Sprintf("https://%s:%d/", h.lab.Env().Gateway, labOPPort)
	op := exampleop.SetupServer(issuer, storage.NewStorage(us), slog.New(slog.DiscardHandler), false)
	base, caPEM, err := h.lab.ServeTLS(labOPPort, op)
	if err != nil {
		t.Fatal(err)
	}
	if base+"/" != issuer {
		t.Fatalf("the OP serves at %s, not its issuer %s", base, issuer)
	}
	return issuer, caPEM
}

// oauthStudent is a student's browser that trusts the hub's CA and extra
// (a provider's), following redirects like a browser.
func (h *classHub) oauthStudent(t *testing.T, extra []byte) *hubclient.Client {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(h.caPEM)) || !roots.AppendCertsFromPEM(extra) {
		t.Fatal("the lab's CAs hold no certificate")
	}
	c, err := hubclient.New("https://"+h.hubFQN+"/", roots, h.lab.Resolver())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// landing is where a browser ended up.
type landing struct {
	status int
	url    *url.URL
	body   string
}

func (p landing) String() string { return fmt.Sprintf("%d at %s: %.300s", p.status, p.url, p.body) }

func visit(ctx context.Context, c *http.Client, method, u string, form url.Values) (landing, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return landing{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return landing{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return landing{resp.StatusCode, resp.Request.URL, string(b)}, err
}

// opLogin logs user in as a student does: the hub's login page sends the
// browser through the edge to the OP, she fills the OP's form, and the OP
// sends her back to the hub, which lands on /hub/home.
func opLogin(ctx context.Context, c *hubclient.Client, issuer, user string) (landing, error) {
	b := c.Browser()
	form, err := visit(ctx, b, http.MethodGet, c.URL("hub/login?next="+url.QueryEscape("/hub/home")), nil)
	if err != nil {
		return form, err
	}
	id := form.url.Query().Get(labOPFormIDParam)
	if form.status != http.StatusOK || id == "" || !strings.HasPrefix(form.url.String(), issuer) {
		return form, fmt.Errorf("the hub's login did not reach the OP's form: %s", form)
	}
	return visit(ctx, b, http.MethodPost, issuer+labOPFormPath, url.Values{"username": {user}, "password": {labOPPassword}, labOPFormPostName: {id}})
}

// hubCookies are the names of the cookies the browser holds for the hub.
func hubCookies(c *hubclient.Client) []string {
	u, _ := url.Parse(c.URL("hub/"))
	var names []string
	for _, k := range c.Browser().Jar.Cookies(u) {
		names = append(names, k.Name)
	}
	return names
}

// A class hub whose students log in through a real OpenID provider in the
// lab: a student on the roster logs in, spawns and runs code; the admin's
// rights come from admin_users; an outsider is refused; logout sends the
// next visit to the provider again; and a signed-identity header forged
// from the student's kernel against the hub's loopback port logs nobody in.
func TestLabOIDCLogin(t *testing.T) {
	h := newClassHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	issuer, opCA := h.startLabOP(t, "alice", "teacher", "mallory")
	auth := fmt.Sprintf(`auth = { kind = "oidc", client_id = %q, client_secret = %q, issuer_url = %q, scopes = ["profile", "email"], username_claim = "preferred_username", ca_pem = %q }`,
		labOAuthClientID, labOAuthSecret, issuer, opCA)
	cfg := h.config([]string{"alice"}, "/")
	const sharedAuth = `auth          = { kind = "shared-password", password = "class-password", admin_passwords = { teacher = "teacher-password-1234" } }`
	if !strings.Contains(cfg, sharedAuth) {
		t.Fatal("the class hub's config has no shared-password auth line to replace")
	}
	cfg = strings.Replace(cfg, sharedAuth, auth, 1)
	var ip string
	start := time.Now()
	accTest(t, resource.TestCase{Steps: []resource.TestStep{{
		Config: cfg,
		Check: resource.ComposeTestCheckFunc(
			func(s *terraform.State) error {
				ip = h.fromState(s)
				t.Logf("apply took %s", time.Since(start).Round(time.Second))
				return nil
			},
			func(*terraform.State) error { return h.checkOIDCClass(ctx, t, ip, issuer, opCA) },
		),
	}}})
}

func (h *classHub) checkOIDCClass(ctx context.Context, t *testing.T, ip, issuer string, opCA []byte) error {
	// alice, on the roster: the provider's login lands on the hub's home.
	alice := h.oauthStudent(t, opCA)
	var callbacks []*url.URL
	alice.Browser().CheckRedirect = func(r *http.Request, via []*http.Request) error {
		if strings.HasSuffix(r.URL.Path, "/"+edgeconfig.CallbackPath) {
			callbacks = append(callbacks, r.URL)
		}
		if len(via) >= 10 { // as net/http's default policy
			return fmt.Errorf("stopped after %d redirects at %s", len(via), r.URL.Path)
		}
		return nil
	}
	p, err := opLogin(ctx, alice, issuer, "alice")
	if err != nil {
		return err
	}
	if p.status != http.StatusOK || p.url.Host != h.hubFQN || p.url.Path != "/hub/home" || !slices.Contains(hubCookies(alice), hubLoginCookie) {
		return fmt.Errorf("alice's login through the OP ended %s with cookies %v; the edge says:\n%s", p, hubCookies(alice), h.refusals(t, ctx, ip))
	}
	t.Logf("alice logged in through the OP (%d callbacks)", len(callbacks))
	if err := alice.StartServer(ctx, "alice"); err != nil {
		return err
	}
	k, err := alice.OpenKernel(ctx, "alice")
	if err != nil {
		return err
	}
	if out, err := k.Execute(ctx, "import getpass\nprint(getpass.getuser(), 6*7)"); err != nil || out != "alice 42" {
		return fmt.Errorf("alice's kernel printed %q (%v), want \"alice 42\"", out, err)
	}
	if code, body, err := alice.Do(ctx, http.MethodGet, "hub/api/users", nil); err != nil || code != http.StatusForbidden {
		return fmt.Errorf("alice on the admin API: %d %.200s %v, want 403", code, body, err)
	}

	// The forged identity, from alice's kernel on the droplet, straight to
	// the hub's loopback port, for another student and for the admin, with
	// keys a student could guess; none may log in.
	if err := h.forgeFromKernel(ctx, t, k); err != nil {
		return err
	}
	// ...nor through the edge, which strips the header and hides the handler.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, alice.URL(edgeconfig.HubIdentPath+"?next=/hub/home"), nil)
	req.Header.Set(edgeconfig.IdentityHeader, "v1:teacher:"+fmt.Sprint(time.Now().Unix())+":n:00")
	resp, err := alice.Browser().Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		return fmt.Errorf("the hub's identity handler through the edge answered %s, want 404", resp.Status)
	}

	// The code and state of alice's callback are in no log on the droplet.
	for _, cb := range callbacks {
		for _, k := range []string{"code", "state"} {
			v := cb.Query().Get(k)
			if v == "" {
				return fmt.Errorf("alice's callback %s has no %s", cb.Path, k)
			}
			if strings.ContainsAny(v, `'\`) {
				return fmt.Errorf("alice's callback %s %q is not what the edge sends", k, v)
			}
			if n := strings.TrimSpace(h.ssh(t, ctx, ip, "sudo journalctl --no-pager -o cat | grep -cF -e '"+v+"' || true")); n != "0" {
				return fmt.Errorf("the droplet's journal holds the callback's %s (%s lines)", k, n)
			}
		}
	}

	// The admin logs in through the same provider; admin rights come from
	// admin_users (the OP says nothing about them).
	teacher := h.oauthStudent(t, opCA)
	if p, err := opLogin(ctx, teacher, issuer, "teacher"); err != nil || p.status != http.StatusOK || p.url.Path != "/hub/home" {
		return fmt.Errorf("the teacher's login: %v %v", p, err)
	}
	if err := onlyAdmin(ctx, teacher, "teacher"); err != nil {
		return err
	}

	// mallory has an account at the provider but is not on the roster.
	mallory := h.oauthStudent(t, opCA)
	p, err = opLogin(ctx, mallory, issuer, "mallory")
	if err != nil {
		return err
	}
	if p.status != http.StatusForbidden || slices.Contains(hubCookies(mallory), hubLoginCookie) {
		return fmt.Errorf("mallory, not on the roster: %s, cookies %v; want 403 and no login", p, hubCookies(mallory))
	}
	if code, _, err := mallory.Do(ctx, http.MethodGet, "hub/api/user", nil); err != nil || code != http.StatusForbidden {
		return fmt.Errorf("mallory on hub/api/user: %d %v, want 403", code, err)
	}

	// Logout ends the session: the next visit goes to the provider again.
	if _, err := visit(ctx, alice.Browser(), http.MethodGet, alice.URL(edgeconfig.LogoutPath), nil); err != nil {
		return err
	}
	if names := hubCookies(alice); slices.Contains(names, hubLoginCookie) {
		return fmt.Errorf("after logout alice still holds %v", names)
	}
	p, err = visit(ctx, alice.Browser(), http.MethodGet, alice.URL("hub/home"), nil)
	if err != nil {
		return err
	}
	if p.status != http.StatusOK || !strings.HasPrefix(p.url.String(), issuer+labOPFormPath) {
		return fmt.Errorf("after logout hub/home ended %s, want the OP's login form", p)
	}
	if code, _, err := alice.Do(ctx, http.MethodGet, "hub/api/user", nil); err != nil || code != http.StatusForbidden {
		return fmt.Errorf("after logout hub/api/user: %d %v, want 403", code, err)
	}
	return nil
}

// refusals are the edge's last reasons for refusing a login (its log
// has them; the browser gets none).
func (h *classHub) refusals(t *testing.T, ctx context.Context, ip string) string {
	return h.ssh(t, ctx, ip, "sudo journalctl -u "+hubconfig.EdgeUnit+" --no-pager -o cat | grep -i 'login refused' | tail -n 5")
}

// forgeFromKernel sends, from code in the student's kernel, requests
// with a forged identity header to the hub's own loopback port.
func (h *classHub) forgeFromKernel(ctx context.Context, t *testing.T, k *hubclient.Kernel) error {
	code := fmt.Sprintf(`import http.client, hmac, hashlib, time, secrets, json
out = []
for name in ('bob', 'teacher', 'alice'):
    for key in (b'', b'guess', b'0' * 64):
        msg = 'v1:%%s:%%d:%%s' %% (name, int(time.time()), secrets.token_hex(16))
        val = msg + ':' + hmac.new(key, msg.encode(), hashlib.sha256).hexdigest()
        for method, path in (('GET', '/%[3]s?next=/hub/home'), ('GET', '/hub/home'), ('POST', '/hub/login')):
            c = http.client.HTTPConnection(%[1]q, %[2]d, timeout=10)
            c.request(method, path, body='' if method == 'POST' else None, headers={%[4]q: val, 'Content-Type': 'application/x-www-form-urlencoded'})
            r = c.getresponse()
            body = r.read(4000).decode(errors='replace')
            cookies = [v.split('=', 1)[0] for k, v in r.getheaders() if k.lower() == 'set-cookie']
            out.append({'name': name, 'req': method + ' ' + path, 'status': r.status, 'cookies': cookies, 'location': r.getheader('Location') or '', 'refused': 'Login refused' in body})
            c.close()
print(json.dumps(out))
`, hubconfig.LoopbackAddr, hubconfig.HubPort, edgeconfig.HubIdentPath, edgeconfig.IdentityHeader)
	out, err := k.Execute(ctx, code)
	if err != nil {
		return fmt.Errorf("the forging code in alice's kernel: %w", err)
	}
	var tries []struct {
		Name, Req, Location string
		Status              int
		Cookies             []string
		Refused             bool
	}
	if err := json.Unmarshal([]byte(out), &tries); err != nil || len(tries) != 27 {
		return fmt.Errorf("the forging code printed %.500q (%v)", out, err)
	}
	refused := 0 // answers of the hub's identity handler itself
	for _, r := range tries {
		if slices.Contains(r.Cookies, hubLoginCookie) {
			return fmt.Errorf("forged %s as %s got a login cookie: %+v", r.Req, r.Name, r)
		}
		switch {
		case strings.HasPrefix(r.Req, "GET /"+edgeconfig.HubIdentPath):
			if r.Status != http.StatusForbidden {
				return fmt.Errorf("forged %s as %s: %+v, want 403 (Login refused)", r.Req, r.Name, r)
			}
			refused += map[bool]int{true: 1}[r.Refused]
		case r.Req == "GET /hub/home":
			if r.Status != http.StatusFound || !strings.Contains(r.Location, "/hub/login") {
				return fmt.Errorf("forged %s as %s: %+v, want a redirect to the login", r.Req, r.Name, r)
			}
		default: // POST /hub/login
			if r.Status/100 == 2 || (r.Status/100 == 3 && !strings.Contains(r.Location, "/hub/login") && !strings.Contains(r.Location, edgeconfig.LoginPath)) {
				return fmt.Errorf("forged %s as %s: %+v, want a refusal", r.Req, r.Name, r)
			}
		}
	}
	t.Logf("27 forged identities from alice's kernel to %s:%d got no login (%d of 9 at the identity handler answered \"Login refused\")", hubconfig.LoopbackAddr, hubconfig.HubPort, refused)
	return nil
}

// onlyAdmin checks, on the admin API as the admin c, that admin is the
// hub's only admin: admin rights come from admin_users alone.
func onlyAdmin(ctx context.Context, c *hubclient.Client, admin string) error {
	code, body, err := c.Do(ctx, http.MethodGet, "hub/api/users", nil)
	if err != nil || code != http.StatusOK {
		return fmt.Errorf("%s on the admin API: %d %.200s %v", admin, code, body, err)
	}
	var users []struct {
		Name  string `json:"name"`
		Admin bool   `json:"admin"`
	}
	if err := json.Unmarshal(body, &users); err != nil {
		return fmt.Errorf("hub/api/users: %w: %.200s", err, body)
	}
	for _, u := range users {
		if u.Admin != (u.Name == admin) {
			return fmt.Errorf("hub/api/users: %s has admin=%v; only admin_users are admins", u.Name, u.Admin)
		}
	}
	return nil
}
