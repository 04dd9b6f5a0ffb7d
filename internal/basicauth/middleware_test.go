package basicauth

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// seen is what the upstream received.
type seen struct {
	Authorization []string
	Cookie        []string
}

// newServer runs Middleware in front of an upstream that reports the
// Authorization and Cookie headers it received, over real TLS so that the
// Secure cookie travels like in a browser.
func newServer(t *testing.T, o Options) (*httptest.Server, *http.Client) {
	t.Helper()
	f, err := Load("testdata/vectors.htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	o.Users = f
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := json.NewEncoder(w).Encode(seen{r.Header.Values("Authorization"), r.Header.Values("Cookie")}); err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewTLSServer(Middleware(up, o))
	t.Cleanup(srv.Close)
	c := srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	return srv, c
}

func do(t *testing.T, c *http.Client, req *http.Request) (*http.Response, seen) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s seen
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
			t.Fatal(err)
		}
	}
	return resp, s
}

func get(t *testing.T, url string, h ...string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Add(h[i], h[i+1])
	}
	return req
}

func TestJupyterLabFlow(t *testing.T) {
	srv, c := newServer(t, Options{Realm: `class "hub"`, CookieKey: []byte("0123456789abcdef0123456789abcdef")})

	// No credentials: challenge.
	resp, _ := do(t, c, get(t, srv.URL+"/hub/"))
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="class \"hub\"", charset="UTF-8"` {
		t.Fatalf("no credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	// A token request before any Basic login is refused.
	resp, _ = do(t, c, get(t, srv.URL+"/user/alice/api/kernels", "Authorization", "token abc123"))
	if resp.StatusCode != 401 {
		t.Fatalf("token without cookie: %d, want 401", resp.StatusCode)
	}

	// Basic login: passes, Basic header stripped, cookie set with the right attributes.
	req := get(t, srv.URL+"/hub/", "Cookie", "other=1; _xsrf=abc")
	req.SetBasicAuth("alice-m", "correct horse battery staple")
	resp, s := do(t, c, req)
	if resp.StatusCode != 200 {
		t.Fatalf("basic login: %d", resp.StatusCode)
	}
	if len(s.Authorization) != 0 {
		t.Fatalf("upstream saw the edge's Basic credentials: %q", s.Authorization)
	}
	var ck *http.Cookie
	for _, k := range resp.Cookies() {
		if k.Name == DefaultCookieName {
			ck = k
		}
	}
	if ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge != 12*3600 {
		t.Fatalf("cookie = %+v", ck)
	}

	// Lab-style API call: token auth plus the cookie (from the jar) passes,
	// the token reaches the upstream untouched and the edge cookie does not.
	resp, s = do(t, c, get(t, srv.URL+"/user/alice/api/kernels", "Authorization", "token abc123", "Cookie", "_xsrf=abc"))
	if resp.StatusCode != 200 {
		t.Fatalf("token with cookie: %d", resp.StatusCode)
	}
	if len(s.Authorization) != 1 || s.Authorization[0] != "token abc123" {
		t.Fatalf("upstream Authorization = %q, want the token untouched", s.Authorization)
	}
	for _, v := range s.Cookie {
		if strings.Contains(v, DefaultCookieName) {
			t.Fatalf("upstream saw the edge cookie: %q", s.Cookie)
		}
	}
	if strings.Join(s.Cookie, ";") != "_xsrf=abc" {
		t.Fatalf("upstream cookies = %q, want the hub's own cookie kept", s.Cookie)
	}

	// The same request from a client without the cookie fails.
	fresh := &http.Client{Transport: srv.Client().Transport} // Client() is shared and has the jar
	resp, _ = do(t, fresh, get(t, srv.URL+"/user/alice/api/kernels", "Authorization", "token abc123"))
	if resp.StatusCode != 401 {
		t.Fatalf("token without cookie: %d, want 401", resp.StatusCode)
	}

	// Wrong Basic credentials are refused even with a valid cookie.
	req = get(t, srv.URL+"/hub/")
	req.SetBasicAuth("alice-m", "wrong")
	if resp, _ = do(t, c, req); resp.StatusCode != 401 {
		t.Fatalf("wrong password with cookie: %d, want 401", resp.StatusCode)
	}
}

func TestCookieTamperedAndForeign(t *testing.T) {
	key := []byte("k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1k1")
	f, err := Load("testdata/vectors.htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	m := Middleware(http.NotFoundHandler(), Options{Users: f, CookieKey: key}).(*middleware)
	good := m.sign("alice-m", time.Now().Add(time.Hour))
	if !m.valid(good) {
		t.Fatal("fresh cookie invalid")
	}
	parts := strings.Split(good, ".")
	other := Middleware(http.NotFoundHandler(), Options{Users: f, CookieKey: []byte("another key, same length........")}).(*middleware)
	bad := map[string]string{
		"user swapped":    strings.Join([]string{parts[0], "Ym9iLW0", parts[2], parts[3]}, "."), // "bob-m"
		"expiry extended": strings.Join([]string{parts[0], parts[1], "99999999999", parts[3]}, "."),
		"mac flipped":     flip(good, len(good)-5),
		"version":         "v2" + good[2:],
		"other key":       other.sign("alice-m", time.Now().Add(time.Hour)),
		"removed user":    m.sign("mallory", time.Now().Add(time.Hour)),
		"garbage":         "not-a-cookie",
		"empty":           "",
	}
	for name, v := range bad {
		if m.valid(v) {
			t.Errorf("%s: cookie %q accepted", name, v)
		}
	}
	// End to end: a tampered cookie gets 401.
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: DefaultCookieName, Value: bad["expiry extended"]})
	m.ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Fatalf("tampered cookie: %d", rec.Code)
	}
}

func TestCookieExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	srv, c := newServer(t, Options{CookieTTL: time.Hour, now: func() time.Time { return now }})
	req := get(t, srv.URL+"/")
	req.SetBasicAuth("bob-B", "x")
	if resp, _ := do(t, c, req); resp.StatusCode != 200 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	now = now.Add(59 * time.Minute)
	if resp, _ := do(t, c, get(t, srv.URL+"/api", "Authorization", "token t")); resp.StatusCode != 200 {
		t.Fatalf("before expiry: %d", resp.StatusCode)
	}
	now = now.Add(time.Minute)
	if resp, _ := do(t, c, get(t, srv.URL+"/api", "Authorization", "token t")); resp.StatusCode != 401 {
		t.Fatalf("at expiry: %d, want 401", resp.StatusCode)
	}
}

func TestRandomKeyWhenUnset(t *testing.T) {
	f, err := Load("testdata/vectors.htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	a := Middleware(http.NotFoundHandler(), Options{Users: f}).(*middleware)
	b := Middleware(http.NotFoundHandler(), Options{Users: f}).(*middleware)
	if len(a.o.CookieKey) != 32 || b.valid(a.sign("alice-m", time.Now().Add(time.Hour))) {
		t.Fatal("unset CookieKey must give each middleware its own random key")
	}
}

// flip changes the character at i to another base64url character.
func flip(s string, i int) string {
	b := []byte(s)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
