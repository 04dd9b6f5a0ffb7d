package edge

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

// upstream is an httptest backend that answers "<name> <path>" and keeps
// the last request's headers.
type upstream struct {
	*httptest.Server
	name string
	mu   sync.Mutex
	last *http.Request
	hits int
}

func newUpstream(t *testing.T, name string) *upstream {
	u := &upstream{name: name}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.last = r.Clone(r.Context())
		u.hits++
		u.mu.Unlock()
		_, _ = fmt.Fprintf(w, "%s %s", u.name, r.URL.RequestURI())
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) lastRequest() (*http.Request, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.last, u.hits
}

func TestVirtualHosts(t *testing.T) {
	hub := newUpstream(t, "hub")
	app := newUpstream(t, "app")
	docs := t.TempDir()
	if err := os.WriteFile(filepath.Join(docs, "index.html"), []byte("docs index"), 0o644); err != nil {
		t.Fatal(err)
	}
	te := startEdge(t, fmt.Sprintf(`hub: {hosts: [hub.test], mode: upstream, upstream: %q}
sites:
  - {host: app.test, upstream: %q}
  - {host: docs.test, static: {root: %q}}
`, hub.URL, app.URL, docs))
	c := te.client()

	for url, want := range map[string]string{
		"https://hub.test/hub/login": "hub /hub/login",
		"https://HUB.test/x":         "hub /x",
		"https://app.test/a?b=c":     "app /a?b=c",
		"https://docs.test/":         "docs index",
	} {
		resp, body := mustGet(t, c, url)
		if resp.StatusCode != 200 || body != want {
			t.Errorf("GET %s = %d %q, want 200 %q", url, resp.StatusCode, body, want)
		}
	}
	if resp, _ := mustGet(t, c, "https://docs.test/missing"); resp.StatusCode != 404 {
		t.Errorf("static missing file: %d, want 404", resp.StatusCode)
	}
	if resp := te.rawGet("unknown.test", "/"); resp.StatusCode != 404 {
		t.Errorf("unknown host: %d, want 404", resp.StatusCode)
	}

	_, hubHits := hub.lastRequest()
	_, appHits := app.lastRequest()

	// SNI for one of our hosts, Host header for another: 421.
	conn := te.tlsConn("hub.test")
	writeRaw(t, conn, "GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
	if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil || resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("SNI/Host mismatch: %v %v, want 421", resp, err)
	}

	// Never an open proxy: absolute-form requests for other hosts and CONNECT.
	for _, raw := range []string{
		"GET http://example.com/ HTTP/1.1\r\nHost: hub.test\r\n\r\n",
		"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
		"CONNECT hub.test:443 HTTP/1.1\r\nHost: hub.test:443\r\n\r\n",
	} {
		conn := te.tlsConn("")
		writeRaw(t, conn, raw)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if resp.StatusCode != 404 && resp.StatusCode != 405 {
			t.Errorf("%q: status %d, want 404 or 405", raw, resp.StatusCode)
		}
	}
	if _, n := hub.lastRequest(); n != hubHits {
		t.Errorf("hub upstream saw %d refused requests", n-hubHits)
	}
	if _, n := app.lastRequest(); n != appHits {
		t.Errorf("app upstream saw %d refused requests", n-appHits)
	}
}

func TestForwardedHeadersAndHopByHop(t *testing.T) {
	var got http.Header
	var gotHost string
	var mu sync.Mutex
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got, gotHost = r.Header.Clone(), r.Host
		mu.Unlock()
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "1")
		w.Header().Set("X-Kept", "1")
	}))
	defer up.Close()
	te := startEdge(t, fmt.Sprintf("hub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", up.URL))

	conn := te.tlsConn("hub.test")
	writeRaw(t, conn, "GET /hub/api HTTP/1.1\r\nHost: hub.test:8443\r\n"+
		"X-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nX-Forwarded-Proto: http\r\nX-Scheme: http\r\nForwarded: for=6.6.6.6\r\n"+
		"Origin: https://hub.test:8443\r\nReferer: https://hub.test:8443/hub/home\r\n"+
		"Connection: keep-alive, X-Hop\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	defer mu.Unlock()
	if gotHost != "hub.test:8443" {
		t.Errorf("Host = %q, want hub.test:8443 (port preserved)", gotHost)
	}
	want := map[string]string{
		"X-Forwarded-For":   "127.0.0.1",
		"X-Real-Ip":         "127.0.0.1",
		"X-Forwarded-Proto": "https",
		"X-Scheme":          "https",
		"Origin":            "https://hub.test:8443",
		"Referer":           "https://hub.test:8443/hub/home",
	}
	for k, v := range want {
		if vv := got.Values(k); len(vv) != 1 || vv[0] != v {
			t.Errorf("upstream %s = %q, want exactly %q", k, vv, v)
		}
	}
	for _, k := range []string{"X-Hop", "Keep-Alive", "Proxy-Connection", "Forwarded"} {
		if v := got.Get(k); v != "" {
			t.Errorf("upstream got %s: %q; it must be stripped", k, v)
		}
	}
	if resp.Header.Get("X-Resp-Hop") != "" || resp.Header.Get("X-Kept") != "1" {
		t.Errorf("response headers %v: X-Resp-Hop must be stripped, X-Kept kept", resp.Header)
	}
}

func TestServerSentEventsFlushedPerEvent(t *testing.T) {
	next := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; i < 3; i++ {
			if _, err := fmt.Fprintf(w, "data: {\"progress\": %d}\n\n", i*50); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	}))
	defer up.Close()
	te := startEdge(t, fmt.Sprintf("hub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", up.URL))
	for _, h2 := range []bool{false, true} {
		c := &http.Client{Transport: te.transport(h2)}
		resp, err := c.Get("https://hub.test/hub/api/users/alice/server/progress")
		if err != nil {
			t.Fatal(err)
		}
		if h2 != (resp.ProtoMajor == 2) {
			t.Fatalf("protocol %s, wanted h2=%v", resp.Proto, h2)
		}
		br := bufio.NewReader(resp.Body)
		for i := 0; i < 3; i++ {
			// The upstream waits for us before sending the next event, so
			// this read only succeeds if the edge flushed this one.
			line, err := readWithin(br, 5*time.Second)
			if err != nil {
				t.Fatalf("%s event %d: %v", resp.Proto, i, err)
			}
			if want := fmt.Sprintf("data: {\"progress\": %d}\n", i*50); line != want {
				t.Fatalf("event %d = %q, want %q", i, line, want)
			}
			if _, err := br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
			next <- struct{}{}
		}
		resp.Body.Close()
	}
}

func readWithin(br *bufio.Reader, d time.Duration) (string, error) {
	type res struct {
		s   string
		err error
	}
	ch := make(chan res, 1)
	go func() {
		s, err := br.ReadString('\n')
		ch <- res{s, err}
	}()
	select {
	case r := <-ch:
		return r.s, r.err
	case <-time.After(d):
		return "", fmt.Errorf("nothing within %v: response buffered?", d)
	}
}

func TestBaseURLRedirectsWithoutLoops(t *testing.T) {
	hub := newUpstream(t, "hub")
	te := startEdge(t, fmt.Sprintf("hub: {hosts: [hub.test], base_url: /jhub/, mode: upstream, upstream: %q}\n", hub.URL))
	c := te.client()
	for path, loc := range map[string]string{"/": "/jhub/", "/jhub": "/jhub/", "/jhub?next=%2Fx": "/jhub/?next=%2Fx"} {
		resp, _ := mustGet(t, c, "https://hub.test"+path)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != loc {
			t.Errorf("GET %s = %d Location %q, want 302 %q", path, resp.StatusCode, resp.Header.Get("Location"), loc)
		}
	}
	for _, path := range []string{"/jhub/", "/jhub/hub/login?next=%2Fjhub%2Fhub%2F", "/jhub/user/a%20b/lab"} {
		resp, body := mustGet(t, c, "https://hub.test"+path)
		if resp.StatusCode != 200 || body != "hub "+path {
			t.Errorf("GET %s = %d %q, want forwarded unstripped", path, resp.StatusCode, body)
		}
	}
	// An encoded '/' has no single meaning (one segment to the edge, two to
	// whatever decodes first): refused rather than guessed.
	if resp, _ := mustGet(t, c, "https://hub.test/jhub/user/a%2Fb/lab"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("encoded slash: %d, want 400", resp.StatusCode)
	}
	// A client that follows redirects from / and /jhub ends at the hub.
	follow := &http.Client{Transport: te.transport(false)}
	for _, path := range []string{"/", "/jhub"} {
		resp, body := mustGet(t, follow, "https://hub.test"+path)
		if resp.StatusCode != 200 || body != "hub /jhub/" {
			t.Errorf("following %s: %d %q", path, resp.StatusCode, body)
		}
	}
}

func TestHTTPRedirectsToHTTPSExceptACME(t *testing.T) {
	hub := newUpstream(t, "hub")
	te := startEdge(t, fmt.Sprintf("hub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", hub.URL),
		func(_ *edgeconfig.Config, _ *Options, w *tlsWrap) {
			w.challenge = func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/.well-known/acme-challenge/tok123" {
						_, _ = io.WriteString(rw, "tok123.keyauth")
						return
					}
					next.ServeHTTP(rw, r)
				})
			}
		})
	_, httpsPort, _ := strings.Cut(te.httpsAddr, ":")
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, path, host string) *http.Response {
		req, _ := http.NewRequest(method, "http://"+te.httpAddr+path, nil)
		req.Host = host
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := do("GET", "/hub/login?next=%2Fhub%2F", "hub.test"); r.StatusCode != 301 ||
		r.Header.Get("Location") != "https://hub.test:"+httpsPort+"/hub/login?next=%2Fhub%2F" {
		t.Errorf("GET redirect: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	if r := do("POST", "/x", "hub.test:80"); r.StatusCode != 308 {
		t.Errorf("POST redirect: %d, want 308", r.StatusCode)
	}
	if r := do("GET", "/", "evil.test"); r.StatusCode != 404 {
		t.Errorf("unknown host on :80: %d, want 404", r.StatusCode)
	}
	req, _ := http.NewRequest("GET", "http://"+te.httpAddr+"/.well-known/acme-challenge/tok123", nil)
	req.Host = "hub.test"
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "tok123.keyauth" {
		t.Errorf("ACME challenge: %d %q, want the challenge handler's answer", resp.StatusCode, b)
	}
	if r := do("GET", "/.well-known/acme-challenge/other", "hub.test"); r.StatusCode != 404 {
		t.Errorf("unknown challenge: %d, want 404 (not a redirect)", r.StatusCode)
	}
	if _, n := hub.lastRequest(); n != 0 {
		t.Errorf("the hub saw %d plain-HTTP requests", n)
	}
}

func TestHSTS(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=1")
	}))
	defer up.Close()
	for _, on := range []bool{true, false} {
		te := startEdge(t, fmt.Sprintf("hsts: %v\nhub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", on, up.URL))
		resp, _ := mustGet(t, te.client(), "https://hub.test/")
		got := resp.Header.Values("Strict-Transport-Security")
		if on && (len(got) != 1 || got[0] != "max-age=63072000; includeSubDomains") {
			t.Errorf("hsts on: %q", got)
		}
		if !on && (len(got) != 1 || got[0] != "max-age=1") {
			t.Errorf("hsts off: %q, want the upstream's own header only", got)
		}
		resp = te.rawGet("nope.test", "/")
		if on && resp.Header.Get("Strict-Transport-Security") == "" {
			t.Error("hsts missing on an edge-generated 404")
		}
	}
}

func TestLimits(t *testing.T) {
	hub := newUpstream(t, "hub")
	te := startEdge(t, fmt.Sprintf(`limits: {max_header_bytes: 8192, read_header_timeout: 200ms}
hub: {hosts: [hub.test], mode: upstream, upstream: %q}
`, hub.URL))
	req, _ := http.NewRequest("GET", "https://hub.test/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := te.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB header: %d, want 431", resp.StatusCode)
	}

	// Slowloris: a header that never ends is cut off after read_header_timeout.
	conn := te.tlsConn("hub.test")
	writeRaw(t, conn, "GET / HTTP/1.1\r\nHost: hub.test\r\nX-Slow: ")
	start := time.Now()
	if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(conn)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("slow header held the connection for %v (err %v)", took, err)
	}
	if _, n := hub.lastRequest(); n != 0 {
		t.Errorf("hub saw %d requests", n)
	}
}

func TestAccessLogHasNoSecrets(t *testing.T) {
	hub := newUpstream(t, "hub")
	te := startEdge(t, fmt.Sprintf("hub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", hub.URL))
	req, _ := http.NewRequest("GET", "https://hub.test/user/a/api/kernels?token=TOPSECRET1&x=1&access_token=TOPSECRET2&%74oken=TOPSECRET3", nil)
	req.Header.Set("Authorization", "token TOPSECRET4")
	req.Header.Set("Cookie", "jupyterhub-session-id=TOPSECRET5")
	resp, err := te.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	te.stop()
	logs := te.logs.String()
	if strings.Contains(logs, "TOPSECRET") {
		t.Fatalf("secret in logs:\n%s", logs)
	}
	var entry map[string]any
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"request"`) {
			if err := json.Unmarshal([]byte(line), &entry); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := map[string]any{"method": "GET", "host": "hub.test", "path": "/user/a/api/kernels", "status": float64(200),
		"query": "token=REDACTED&x=1&access_token=REDACTED&%74oken=REDACTED", "upstream": hub.URL, "proto": "HTTP/1.1"}
	for k, v := range want {
		if entry[k] != v {
			t.Errorf("access log %s = %v, want %v (entry %v)", k, entry[k], v, entry)
		}
	}
	if entry["bytes"] == float64(0) || entry["duration"] == nil {
		t.Errorf("access log lacks bytes/duration: %v", entry)
	}
}

func TestRedactQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "",
		"a=1&b=2":              "a=1&b=2",
		"token=abc":            "token=REDACTED",
		"TOKEN=abc&next=/x":    "TOKEN=REDACTED&next=/x",
		"auth_token=a&token":   "auth_token=REDACTED&token",
		"q=token":              "q=token",
		"%74oken=a&b=%20":      "%74oken=REDACTED&b=%20",
		"_xsrf=abc&tokenx=123": "_xsrf=abc&tokenx=REDACTED",
		"code=c1&state=s1&x=1": "code=REDACTED&state=REDACTED&x=1",
		"Code=c1&%73tate=s1":   "Code=REDACTED&%73tate=REDACTED",
		"codes=1&statement=2":  "codes=1&statement=2",
	} {
		if got := redactQuery(in); got != want {
			t.Errorf("redactQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHostOnly(t *testing.T) {
	for in, want := range map[string]string{
		"hub.test": "hub.test", "Hub.Test:8443": "hub.test", "[::1]:443": "::1", "[::1]": "::1", "127.0.0.1:80": "127.0.0.1",
	} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBasicAuthPerPathKeepsLabTokens(t *testing.T) {
	var mu sync.Mutex
	var gotAuth string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gotAuth = r.Header.Get("Authorization")
		mu.Unlock()
		_, _ = io.WriteString(w, "ok "+r.URL.Path)
	}))
	defer up.Close()
	dir := prepareDir(t)
	// alice:wonderland, SHA form.
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte("alice:{SHA}tiY7sUhYKUwI5L3866kDY+ENcrQ=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	te := startEdgeIn(t, dir, fmt.Sprintf(`hub:
  hosts: [hub.test]
  mode: upstream
  upstream: %q
  basic_auth: {htpasswd: "{{dir}}/htpasswd", paths: [/user/]}
`, up.URL))
	c := te.client()
	if resp, _ := mustGet(t, c, "https://hub.test/hub/login"); resp.StatusCode != 200 {
		t.Errorf("unprotected path: %d", resp.StatusCode)
	}
	lab := func(cookie *http.Cookie) int {
		req, _ := http.NewRequest("GET", "https://hub.test/user/alice/api/kernels", nil)
		req.Header.Set("Authorization", "token lab-token")
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := lab(nil); code != 401 {
		t.Errorf("lab request before login: %d, want 401", code)
	}
	req, _ := http.NewRequest("GET", "https://hub.test/user/alice/lab", nil)
	req.SetBasicAuth("alice", "wonderland")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(resp.Cookies()) == 0 {
		t.Fatalf("basic login: %d cookies %v", resp.StatusCode, resp.Cookies())
	}
	if code := lab(resp.Cookies()[0]); code != 200 {
		t.Errorf("lab request after login: %d, want 200", code)
	}
	if err := te.srv.ReloadFile(); err != nil {
		t.Fatal(err)
	}
	if code := lab(resp.Cookies()[0]); code != 200 {
		t.Errorf("lab request after a reload: %d, want 200 (sessions survive reloads)", code)
	}
	mu.Lock()
	defer mu.Unlock()
	if gotAuth != "token lab-token" {
		t.Errorf("upstream Authorization = %q, want the Lab token untouched", gotAuth)
	}
}

// Cookies set behind the edge come out Secure: the upstream sees plain HTTP
// and leaves the flag off some of them (JupyterHub's _xsrf, OAuth state).
func TestSetCookieMadeSecure(t *testing.T) {
	for in, want := range map[string]string{
		"_xsrf=2|ab; expires=Tue, 22 Dec 2026 07:59:42 GMT; Path=/": "_xsrf=2|ab; expires=Tue, 22 Dec 2026 07:59:42 GMT; Path=/; Secure",
		`state=""; expires=Sat, 22 Nov 2025 07:59:42 GMT; Path=/u/`: `state=""; expires=Sat, 22 Nov 2025 07:59:42 GMT; Path=/u/; Secure`,
		"a=b; Path=/; secure; HttpOnly":                             "a=b; Path=/; secure; HttpOnly",
		"a=b; Secure":                                               "a=b; Secure",
		"secure=1; Path=/":                                          "secure=1; Path=/; Secure",
	} {
		h := http.Header{"Set-Cookie": {in}}
		secureCookies(h)
		if got := h.Get("Set-Cookie"); got != want {
			t.Errorf("secureCookies(%q) = %q, want %q", in, got, want)
		}
	}
}
