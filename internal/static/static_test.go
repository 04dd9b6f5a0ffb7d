package static

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const secret = "TOP SECRET outside the site"

// site builds:
//
//	secret.txt                  (outside the root)
//	site/index.html
//	site/a.txt
//	site/docs/index.html
//	site/empty/                 (no index: must not be listed)
//	site/in-link   -> a.txt     (symlink inside the root: allowed)
//	site/out-link  -> ../secret.txt
//	site/abs-link  -> <abs path of secret.txt>
//	site/out-dir   -> ..
func site(t testing.TB) string {
	t.Helper()
	top := t.TempDir()
	root := filepath.Join(top, "site")
	files := map[string]string{
		"secret.txt":           secret,
		"site/index.html":      "<h1>root index</h1>",
		"site/a.txt":           "file a",
		"site/docs/index.html": "<h1>docs index</h1>",
		"site/empty/.keep":     "",
		"site/a b/index.html":  "spaced",
	}
	for p, c := range files {
		full := filepath.Join(top, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"in-link":  "a.txt",
		"out-link": "../secret.txt",
		"abs-link": filepath.Join(top, "secret.txt"),
		"out-dir":  "..",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func serve(h http.Handler, method, p string, hdr ...string) *httptest.ResponseRecorder {
	// Built by hand: httptest.NewRequest would reject some of the hostile paths.
	r := &http.Request{Method: method, URL: &url.URL{Path: p}, Header: http.Header{}, Host: "site.test"}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestTryFiles(t *testing.T) {
	h := Handler(site(t))
	cases := []struct {
		path   string
		status int
		body   string
		loc    string
	}{
		{"/", 200, "<h1>root index</h1>", ""},
		{"", 200, "<h1>root index</h1>", ""},
		{"/a.txt", 200, "file a", ""},              // $uri
		{"/docs/", 200, "<h1>docs index</h1>", ""}, // $uri/ + index
		{"/docs", 301, "", "./docs/"},              // $uri/ without the slash
		{"/a b", 301, "", "./a%20b/"},
		{"/docs/index.html", 200, "<h1>docs index</h1>", ""},
		{"/a.txt/", 404, "", ""}, // a file is not a directory
		{"/empty/", 404, "", ""}, // no index, no listing
		{"/missing", 404, "", ""},
		{"/missing/", 404, "", ""},
		{"/in-link", 200, "file a", ""},
		{"/./a.txt", 200, "file a", ""},
		{"//a.txt", 200, "file a", ""},
	}
	for _, c := range cases {
		w := serve(h, "GET", c.path)
		if w.Code != c.status {
			t.Errorf("GET %q: status %d, want %d", c.path, w.Code, c.status)
			continue
		}
		if c.body != "" && w.Body.String() != c.body {
			t.Errorf("GET %q: body %q, want %q", c.path, w.Body.String(), c.body)
		}
		if c.loc != "" && w.Header().Get("Location") != c.loc {
			t.Errorf("GET %q: Location %q, want %q", c.path, w.Header().Get("Location"), c.loc)
		}
		if w.Code == 404 && strings.Contains(w.Body.String(), ".keep") {
			t.Errorf("GET %q: directory listed", c.path)
		}
	}
}

func TestRedirectKeepsQuery(t *testing.T) {
	h := Handler(site(t))
	r := &http.Request{Method: "GET", URL: &url.URL{Path: "/docs", RawQuery: "v=1"}, Header: http.Header{}}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != 301 || w.Header().Get("Location") != "./docs/?v=1" {
		t.Fatalf("%d %q", w.Code, w.Header().Get("Location"))
	}
}

func TestHeadersAndConditional(t *testing.T) {
	root := site(t)
	mt := time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(root, "index.html"), mt, mt); err != nil {
		t.Fatal(err)
	}
	h := Handler(root)
	w := serve(h, "GET", "/")
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	etag := w.Header().Get("ETag")
	if want := `"68136240-13"`; etag != want {
		t.Errorf("ETag %q, want %q (hex mtime-size)", etag, want)
	}
	if lm := w.Header().Get("Last-Modified"); lm != "Thu, 01 May 2025 12:00:00 GMT" {
		t.Errorf("Last-Modified %q", lm)
	}
	if w := serve(h, "GET", "/", "If-None-Match", etag); w.Code != 304 {
		t.Errorf("If-None-Match: %d, want 304", w.Code)
	}
	if w := serve(h, "GET", "/", "If-Modified-Since", "Thu, 01 May 2025 12:00:00 GMT"); w.Code != 304 {
		t.Errorf("If-Modified-Since: %d, want 304", w.Code)
	}
	if w := serve(h, "GET", "/a.txt", "Range", "bytes=0-3"); w.Code != 206 || w.Body.String() != "file" {
		t.Errorf("Range: %d %q", w.Code, w.Body.String())
	}
}

func TestMethods(t *testing.T) {
	h := Handler(site(t))
	w := serve(h, "HEAD", "/a.txt")
	if w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != "6" {
		t.Errorf("HEAD: %d body=%q len=%q", w.Code, w.Body.String(), w.Header().Get("Content-Length"))
	}
	for _, m := range []string{"POST", "PUT", "DELETE", "OPTIONS", "PATCH"} {
		w := serve(h, m, "/a.txt")
		if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: %d Allow=%q", m, w.Code, w.Header().Get("Allow"))
		}
	}
}

func TestTraversal(t *testing.T) {
	h := Handler(site(t))
	for _, p := range []string{
		"/../secret.txt",
		"/docs/../../secret.txt",
		"../secret.txt",
		"/..",
		`/..\secret.txt`,
		`\..\secret.txt`,
		"/a.txt\x00.html",
		"/\x00",
		"/out-link",
		"/abs-link",
		"/out-dir/secret.txt",
		"/out-dir/",
		"/out-dir",
	} {
		w := serve(h, "GET", p)
		if w.Code != 400 && w.Code != 404 {
			t.Errorf("GET %q: status %d, want 400 or 404", p, w.Code)
		}
		if strings.Contains(w.Body.String(), secret) {
			t.Errorf("GET %q: leaked the file outside the root", p)
		}
	}
}

// TestTraversalOverTheWire sends raw request lines (which Go's client would
// clean or refuse) to a real server, including percent-encoded dots.
func TestTraversalOverTheWire(t *testing.T) {
	srv := httptest.NewServer(Handler(site(t)))
	defer srv.Close()
	for _, target := range []string{
		"/../secret.txt",
		"/%2e%2e/secret.txt",
		"/%2E%2E%2fsecret.txt",
		"/docs/%2e%2e/%2e%2e/secret.txt",
		"/..%5csecret.txt",
		"/a.txt%00",
		"/out-dir/secret.txt",
	} {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if err := conn.SetDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(conn, "GET "+target+" HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n"); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		body, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != 400 && resp.StatusCode != 404 {
			t.Errorf("GET %s: status %d", target, resp.StatusCode)
		}
		if strings.Contains(string(body), secret) {
			t.Errorf("GET %s: leaked the file outside the root", target)
		}
	}
}

func TestMissingRoot(t *testing.T) {
	w := serve(Handler(filepath.Join(t.TempDir(), "nope")), "GET", "/")
	if w.Code != 500 || !strings.Contains(w.Body.String(), "directory unavailable") {
		t.Fatalf("%d %q", w.Code, w.Body.String())
	}
}

func FuzzResolve(f *testing.F) {
	for _, s := range []string{"/", "/a.txt", "/docs", "/docs/", "/../secret.txt", `/..\x`, "/out-dir/secret.txt", "/a\x00b", "//a.txt"} {
		f.Add(s)
	}
	root := site(f)
	h := Handler(root)
	f.Fuzz(func(t *testing.T, p string) {
		name, _, err := resolve(p)
		if err == nil && !filepath.IsLocal(name) {
			t.Fatalf("resolve(%q) = %q, not local to the root", p, name)
		}
		w := serve(h, "GET", p)
		switch w.Code {
		case 200, 301, 400, 404:
		default:
			t.Fatalf("GET %q: status %d", p, w.Code)
		}
		if strings.Contains(w.Body.String(), secret) {
			t.Fatalf("GET %q: leaked the file outside the root", p)
		}
	})
}
