package edge

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

func TestCleanPath(t *testing.T) {
	for _, tc := range []struct{ raw, dec, enc string }{
		{"/", "/", "/"},
		{"", "/", "/"},
		{"/hub/login", "/hub/login", "/hub/login"},
		{"/user/alice/lab/", "/user/alice/lab/", "/user/alice/lab/"},
		{"//private/x", "/private/x", "/private/x"},
		{"/./private/x", "/private/x", "/private/x"},
		{"/%2e/private/x", "/private/x", "/private/x"},
		{"/%2E%2e/", "", ""},
		{"/a/%2e%2e/private/x", "/private/x", "/private/x"},
		{"/a/b/../../private/x", "/private/x", "/private/x"},
		{"/private//x", "/private/x", "/private/x"},
		{"/private/x/.", "/private/x/", "/private/x/"},
		{"/private/x/..", "/private/", "/private/"},
		{"/private/x//", "/private/x/", "/private/x/"},
		{"/%70rivate/x", "/private/x", "/private/x"},
		{"/.well-known/acme-challenge/tok", "/.well-known/acme-challenge/tok", "/.well-known/acme-challenge/tok"},
		{"/user/alice/files/My%20Notebook.ipynb", "/user/alice/files/My Notebook.ipynb", "/user/alice/files/My%20Notebook.ipynb"},
		{"/user/alice/lab/tree/%C3%BCbung%201.ipynb", "/user/alice/lab/tree/übung 1.ipynb", "/user/alice/lab/tree/%C3%BCbung%201.ipynb"},
		{"/user/alice/lab/tree/%c3%bcbung", "/user/alice/lab/tree/übung", "/user/alice/lab/tree/%c3%bcbung"},
		{"/user/alice/files/50%25.txt", "/user/alice/files/50%.txt", "/user/alice/files/50%25.txt"},
		{"/user/alice@uni.edu/api/kernels/1;x=2", "/user/alice@uni.edu/api/kernels/1;x=2", "/user/alice@uni.edu/api/kernels/1;x=2"},
		{"/a/%3B/%3F%23", "/a/;/?#", "/a/%3B/%3F%23"},
		{"/a/{b}|c", "/a/{b}|c", "/a/%7Bb%7D%7Cc"},
		{"/a/\xc3\xbc", "/a/ü", "/a/%C3%BC"},
		{"/a/...", "/a/...", "/a/..."},
		{"/a/.hidden", "/a/.hidden", "/a/.hidden"},
		{"/a/..b", "/a/..b", "/a/..b"},
		// Refused: no single meaning.
		{"/..", "", ""},
		{"/a/../..", "", ""},
		{"/%2e%2e/x", "", ""},
		{"/%2F/private/x", "", ""},
		{"/private%2fx", "", ""},
		{"/private%5Cx", "", ""},
		{"/private\\x", "", ""},
		{"/a/..%5C..%5Cx", "", ""},
		{"/a%00.txt", "", ""},
		{"/a\x00", "", ""},
		{"/a%0d%0aX:1", "", ""},
		{"/a%7f", "", ""},
		{"/a%ff", "", ""},
		{"/a%c3", "", ""},
		{"/a%", "", ""},
		{"/a%2", "", ""},
		{"/a%zz", "", ""},
		{"/public/..;/private/x", "", ""},
		{"/public/.;x/private", "", ""},
		{"x/y", "", ""},
		{"*", "", ""},
	} {
		dec, enc, err := cleanPath(tc.raw)
		if tc.dec == "" {
			if err == nil {
				t.Errorf("cleanPath(%q) = %q, %q; want it refused", tc.raw, dec, enc)
			}
			continue
		}
		if err != nil || dec != tc.dec || enc != tc.enc {
			t.Errorf("cleanPath(%q) = %q, %q, %v; want %q, %q", tc.raw, dec, enc, err, tc.dec, tc.enc)
		}
	}
}

// The common, already normal path costs no allocation.
func TestCleanPathFastPath(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _, _, _ = cleanPath("/user/alice/api/kernels/4f2c-11;x") }); n != 0 {
		t.Errorf("normal path: %v allocations", n)
	}
}

// guarded is the fixture for the bypass tests: a static site, an upstream
// site and the hub (CHP routes, base_url /jhub/), each with basic auth on
// one prefix.
type guarded struct {
	te       *testEdge
	upstream *pathRecorder
	hub      *pathRecorder
}

// pathRecorder is an upstream that records the raw and decoded path of
// every request and answers with the decoded one.
type pathRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string // RequestURI as received
}

func newPathRecorder(t *testing.T) *pathRecorder {
	p := &pathRecorder{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.RequestURI)
		p.mu.Unlock()
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *pathRecorder) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

func startGuarded(t *testing.T) *guarded {
	dir := prepareDir(t)
	// alice:wonderland, SHA form.
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte("alice:{SHA}tiY7sUhYKUwI5L3866kDY+ENcrQ=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	site := filepath.Join(dir, "www")
	for name, body := range map[string]string{"private/x": "SECRET", "private/index.html": "SECRET INDEX", "public/x": "public"} {
		p := filepath.Join(site, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	g := &guarded{upstream: newPathRecorder(t), hub: newPathRecorder(t)}
	g.te = startEdgeIn(t, dir, fmt.Sprintf(`hub:
  hosts: [hub.test]
  base_url: /jhub/
  api_token_file: "{{dir}}/token"
  default_target: %q
  basic_auth: {htpasswd: "{{dir}}/htpasswd", paths: [/jhub/private/]}
sites:
  - host: static.test
    static: {root: %q}
    basic_auth: {htpasswd: "{{dir}}/htpasswd", paths: [/private/]}
  - host: app.test
    upstream: %q
    basic_auth: {htpasswd: "{{dir}}/htpasswd", paths: [/private/]}
`, g.hub.URL, site, g.upstream.URL))
	return g
}

// rawRequest sends path exactly as given (no client-side cleaning) and
// returns the status and body.
func (te *testEdge) rawRequest(host, path string, header ...string) (int, string) {
	te.t.Helper()
	conn := te.tlsConn(host)
	writeRaw(te.t, conn, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n%s\r\n", path, host, strings.Join(header, "")))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		te.t.Fatalf("GET %s%s: %v", host, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// bypasses are spellings of a guarded path that some component resolves
// to it: the guard must see them as the same path (401) or refuse them (400).
var bypasses = []string{
	"//private/x", "/./private/x", "/%2e/private/x", "/%2F/private/x", "/%2f/private/x",
	"///private/x", "/public/../private/x", "/public/%2e%2e/private/x", "/public/%2E%2E/private/x",
	"/public/.%2e/private/x", "/%70rivate/x", "/priv%61te/x", "/private%2Fx", "/public%2F..%2Fprivate/x",
	"/public/..%2Fprivate/x", "/public\\..\\private\\x", "/public/..%5Cprivate/x", "/public/..;/private/x",
	"/private", "/private/", "/private/./x", "/private//x", "/./private/", "/%2e/private",
	"/private/x%00", "/private/x%00.html",
}

func TestBasicAuthPathBypassesRefused(t *testing.T) {
	g := startGuarded(t)
	for _, host := range []string{"static.test", "app.test", "hub.test"} {
		prefix := ""
		if host == "hub.test" {
			prefix = "/jhub"
		}
		for _, p := range bypasses {
			code, body := g.te.rawRequest(host, prefix+p)
			if code != http.StatusUnauthorized && code != http.StatusBadRequest {
				t.Errorf("GET %s%s%s = %d %q, want 401 or 400", host, prefix, p, code, body)
			}
			if strings.Contains(body, "SECRET") || strings.Contains(body, "private") {
				t.Errorf("GET %s%s%s leaked %q", host, prefix, p, body)
			}
		}
		// The guarded path itself, with and without credentials.
		if code, _ := g.te.rawRequest(host, prefix+"/private/x"); code != 401 {
			t.Errorf("%s: the guarded path itself: %d, want 401", host, code)
		}
		const creds = "Authorization: Basic YWxpY2U6d29uZGVybGFuZA==\r\n" // alice:wonderland
		if code, _ := g.te.rawRequest(host, prefix+"//private/./x", creds); code != 200 {
			t.Errorf("%s: a messy spelling with credentials: %d, want 200", host, code)
		}
		if code, _ := g.te.rawRequest(host, prefix+"/public/x"); code != 200 {
			t.Errorf("%s: unguarded path: %d, want 200", host, code)
		}
	}
	for _, rec := range []*pathRecorder{g.upstream, g.hub} {
		for _, uri := range rec.requests() {
			if strings.Contains(uri, "private") && uri != "/private/x" && uri != "/jhub/private/x" {
				t.Errorf("upstream saw %q without the guard agreeing", uri)
			}
		}
	}
}

// TestUpstreamGetsTheDecisionPath: for every spelling, the path the
// upstream receives is the one the access log (and every guard) saw, and
// real JupyterHub URLs arrive byte for byte.
func TestUpstreamGetsTheDecisionPath(t *testing.T) {
	g := startGuarded(t)
	for _, tc := range []struct{ sent, want string }{
		{"/jhub/user/alice/files/My%20Notebook.ipynb", "/jhub/user/alice/files/My%20Notebook.ipynb"},
		{"/jhub/user/alice/lab/tree/%C3%9Cbung%20%E2%84%961.ipynb", "/jhub/user/alice/lab/tree/%C3%9Cbung%20%E2%84%961.ipynb"},
		{"/jhub/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fa%2Fb&urlpath=lab%2Ftree%2Fb%2Fx.ipynb&branch=main",
			"/jhub/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fa%2Fb&urlpath=lab%2Ftree%2Fb%2Fx.ipynb&branch=main"},
		{"/jhub/hub/api/users/alice@uni.edu/server/progress", "/jhub/hub/api/users/alice@uni.edu/server/progress"},
		{"/jhub/user/alice/api/kernels/0f1e/channels?session_id=ab12", "/jhub/user/alice/api/kernels/0f1e/channels?session_id=ab12"},
		{"/jhub/user/alice/api/contents/a%2Bb%20(1).ipynb?content=1", "/jhub/user/alice/api/contents/a%2Bb%20(1).ipynb?content=1"},
		{"/jhub//user/./alice/x/../lab?a=%2e%2e", "/jhub/user/alice/lab?a=%2e%2e"},
		{"/jhub/user/%61lice/lab", "/jhub/user/alice/lab"},
		{"/jhub/user/alice/files/{x}", "/jhub/user/alice/files/%7Bx%7D"},
	} {
		before := len(g.hub.requests())
		code, body := g.te.rawRequest("hub.test", tc.sent)
		got := g.hub.requests()
		if code != 200 || len(got) != before+1 {
			t.Errorf("GET %s = %d %q", tc.sent, code, body)
			continue
		}
		if got[before] != tc.want {
			t.Errorf("GET %s: upstream got %q, want %q", tc.sent, got[before], tc.want)
		}
		u, _ := url.ParseRequestURI(tc.want)
		if body != u.Path {
			t.Errorf("GET %s: upstream decoded %q, want %q", tc.sent, body, u.Path)
		}
	}
	// The access log records the path every decision was made on.
	g.te.stop()
	logs := g.te.logs.String()
	for _, p := range []string{`"path":"/jhub/user/alice/lab"`, `"path":"/jhub/user/alice/files/My Notebook.ipynb"`} {
		if !strings.Contains(logs, p) {
			t.Errorf("access log lacks %s", p)
		}
	}
}

// TestACMEExemptionOnNormalisedPath: on :80 only the normal form of a
// challenge path reaches the challenge handler, and other paths spelt to
// look like one are redirected like any other.
func TestACMEExemptionOnNormalisedPath(t *testing.T) {
	var got []string
	var mu sync.Mutex
	hub := newUpstream(t, "hub")
	te := startEdge(t, fmt.Sprintf("hub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", hub.URL),
		func(_ *edgeconfig.Config, _ *Options, w *tlsWrap) {
			w.challenge = func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
					if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
						mu.Lock()
						got = append(got, r.URL.Path)
						mu.Unlock()
						_, _ = io.WriteString(rw, "challenge")
						return
					}
					next.ServeHTTP(rw, r)
				})
			}
		})
	for raw, want := range map[string]int{
		"/.well-known/acme-challenge/tok":           200,
		"//.well-known/acme-challenge/tok":          200,
		"/.well-known/./acme-challenge/tok":         200,
		"/%2ewell-known/acme-challenge/tok":         200,
		"/.well-known/acme-challenge/../../hub/x":   301,
		"/.well-known/acme-challenge/%2e%2e/x":      301,
		"/.well-known/acme-challenge/..%2F..%2Fx":   400,
		"/x/../.well-known/acme-challenge/tok?q=1":  200,
		"/.well-known/acme-challenge%2Ftok":         400,
		"/.well-known/acme-challenge/../../../etc/": 400,
	} {
		conn, err := net.Dial("tcp", te.httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		writeRaw(t, conn, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: hub.test\r\nConnection: close\r\n\r\n", raw))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != want {
			t.Errorf("GET :80%s = %d, want %d", raw, resp.StatusCode, want)
		}
		if want == 301 && strings.Contains(resp.Header.Get("Location"), "..") {
			t.Errorf("GET :80%s redirects to %q", raw, resp.Header.Get("Location"))
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range got {
		if p != "/.well-known/acme-challenge/tok" {
			t.Errorf("challenge handler saw %q", p)
		}
	}
}

// FuzzCleanPath: whatever a client sends, the decision path is normal
// (absolute, no empty, "." or ".." segments, no NUL, control character or
// backslash, valid UTF-8, so nothing can climb out of a static root), and
// the path the proxy forwards decodes to exactly it, segment by segment.
func FuzzCleanPath(f *testing.F) {
	for _, p := range append(bypasses, "/", "/jhub/user/alice/files/My%20Notebook.ipynb", "/a/{b}", "/%C3%BC", "/a;b/..;/c") {
		f.Add(p)
	}
	target, _ := url.Parse("http://127.0.0.1:8081/base/")
	pr := newUpstreams(slog.New(slog.DiscardHandler), edgeconfig.DefaultUpgradeTimeout).newProxy(target, new(atomic.Int64))
	f.Fuzz(func(t *testing.T, raw string) {
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader("GET " + raw + " HTTP/1.1\r\nHost: h\r\n\r\n")))
		if err != nil {
			return // net/http refuses it before the edge sees it
		}
		rec := httptest.NewRecorder()
		if !normalizeRequest(rec, req) {
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("%q refused with %d", raw, rec.Code)
			}
			return
		}
		dec := req.URL.Path
		if !strings.HasPrefix(dec, "/") || strings.Contains(dec, "//") || strings.ContainsAny(dec, "\\\x00") || !utf8.ValidString(dec) {
			t.Fatalf("%q: decision path %q is not normal", raw, dec)
		}
		for _, seg := range strings.Split(dec, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("%q: decision path %q has a dot segment", raw, dec)
			}
			for _, c := range []byte(seg) {
				if isControl(c) {
					t.Fatalf("%q: decision path %q has a control character", raw, dec)
				}
			}
		}
		if c := path.Clean(dec); c != strings.TrimSuffix(dec, "/") && c != dec {
			t.Fatalf("%q: decision path %q cleans to %q", raw, dec, c)
		}
		// What the proxy puts on the wire to the upstream.
		out := req.Clone(req.Context())
		pr.rewrite(&httputil.ProxyRequest{In: req, Out: out})
		wire := out.URL.RequestURI()
		fwd, _, _ := strings.Cut(wire, "?")
		if !strings.HasPrefix(fwd, "/base/") {
			t.Fatalf("%q: forwarded %q outside the target's path", raw, wire)
		}
		fwd = strings.TrimPrefix(fwd, "/base")
		segs := strings.Split(fwd, "/")
		for i, s := range segs {
			if segs[i], err = url.PathUnescape(s); err != nil || strings.Contains(segs[i], "/") {
				t.Fatalf("%q: forwarded segment %q of %q does not decode to one segment", raw, s, wire)
			}
		}
		if got := strings.Join(segs, "/"); got != dec {
			t.Fatalf("%q: upstream decodes %q to %q, the decision was on %q", raw, wire, got, dec)
		}
		if out.URL.RawQuery != req.URL.RawQuery {
			t.Fatalf("%q: query changed to %q", raw, out.URL.RawQuery)
		}
		// Normal is a fixed point: the upstream cleaning it again changes nothing.
		if dec2, enc2, err := cleanPath(fwd); err != nil || dec2 != dec || enc2 != fwd {
			t.Fatalf("%q: cleaning the forwarded %q again gave %q, %q, %v", raw, fwd, dec2, enc2, err)
		}
	})
}

// TestCHPRoutesOnNormalisedPath: a student's server receives only requests
// whose normalised path lies under its route, and the route is chosen on
// the path it receives: no spelling takes a request to another student's
// server, or carries another route's path into one.
func TestCHPRoutesOnNormalisedPath(t *testing.T) {
	hub := newUpstream(t, "hub")
	alice := newUpstream(t, "alice")
	bob := newUpstream(t, "bob")
	te := startEdge(t, chpConfig(""))
	for prefix, target := range map[string]string{"/": hub.URL, "/user/alice": alice.URL, "/user/bob": bob.URL, "/user/b%20b": bob.URL} {
		if resp, body := te.apiDo("POST", "/api/routes"+prefix, fmt.Sprintf(`{"target": %q}`, target)); resp.StatusCode != 201 {
			t.Fatalf("add route %s: %d %s", prefix, resp.StatusCode, body)
		}
	}
	for sent, want := range map[string]string{
		"/user/alice/lab":                     "alice /user/alice/lab",
		"/user/bob/../alice/api/kernels":      "alice /user/alice/api/kernels",
		"/user/alice/../bob/api/kernels":      "bob /user/bob/api/kernels",
		"/user/alice/%2e%2e/bob/api/contents": "bob /user/bob/api/contents",
		"//user//bob/lab":                     "bob /user/bob/lab",
		"/user/./bob":                         "bob /user/bob",
		"/user/%62ob/lab":                     "bob /user/bob/lab",
		"/user/b%20b/lab":                     "bob /user/b%20b/lab",
		"/user/alice/../../hub/admin":         "hub /hub/admin",
		"/user/alicebob/lab":                  "hub /user/alicebob/lab",
	} {
		code, body := te.rawRequest("hub.test", sent)
		if code != 200 || body != want {
			t.Errorf("GET %s = %d %q, want %q", sent, code, body, want)
		}
	}
	for _, sent := range []string{"/user/alice%2F..%2Fbob/lab", "/user/alice/..%2Fbob", "/user/../../x"} {
		if code, body := te.rawRequest("hub.test", sent); code != http.StatusBadRequest {
			t.Errorf("GET %s = %d %q, want 400", sent, code, body)
		}
	}
}
