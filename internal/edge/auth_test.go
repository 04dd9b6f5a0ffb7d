package edge

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBasicAuthThrottledPerTCPPeer: failed logins are counted per TCP
// peer, whatever X-Forwarded-For or X-Real-IP the client claims, across
// the hub and the sites and across reloads; another address is another
// client, and a logged-in Lab keeps working.
func TestBasicAuthThrottledPerTCPPeer(t *testing.T) {
	hub := newUpstream(t, "hub")
	app := newUpstream(t, "app")
	dir := prepareDir(t)
	// alice:wonderland, SHA form.
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), []byte("alice:{SHA}tiY7sUhYKUwI5L3866kDY+ENcrQ=\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	te := startEdgeIn(t, dir, fmt.Sprintf(`limits: {auth_max_failures: 4, auth_failure_window: 1h}
hub:
  hosts: [hub.test]
  mode: upstream
  upstream: %q
  basic_auth: {htpasswd: "{{dir}}/htpasswd"}
sites:
  - {host: app.test, upstream: %q, basic_auth: {htpasswd: "{{dir}}/htpasswd"}}
`, hub.URL, app.URL))
	from := func(src string) *http.Client {
		tr := te.transport(false)
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, te.httpsAddr)
		}
		return &http.Client{Transport: tr}
	}
	do := func(c *http.Client, url, pass string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		if pass != "" {
			req.SetBasicAuth("alice", pass)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	c := from("127.0.0.1")
	login := do(c, "https://hub.test/hub/", "wonderland")
	if login.StatusCode != 200 || len(login.Cookies()) == 0 {
		t.Fatalf("login: %d", login.StatusCode)
	}
	cookie := login.Cookies()[0]
	for i := 0; i < 4; i++ {
		host := []string{"hub.test", "app.test"}[i%2]
		spoof := fmt.Sprintf("10.%d.0.1", i)
		if r := do(c, "https://"+host+"/x", "guess", "X-Forwarded-For", spoof, "X-Real-IP", spoof); r.StatusCode != 401 {
			t.Fatalf("failure %d: %d", i+1, r.StatusCode)
		}
	}
	lab := do(c, "https://hub.test/user/alice/api/kernels", "", "Authorization", "token lab-token", "Cookie", cookie.Name+"="+cookie.Value)
	if lab.StatusCode != 200 {
		t.Errorf("Lab token request with the session cookie while throttled: %d, want 200", lab.StatusCode)
	}
	if r := do(c, "https://hub.test/hub/", "wonderland"); r.StatusCode != 200 {
		t.Errorf("the password that worked before, while throttled: %d, want 200", r.StatusCode)
	}
	if r := do(from("127.0.0.2"), "https://hub.test/x", "guess"); r.StatusCode != 401 {
		t.Errorf("another address: %d, want 401", r.StatusCode)
	}
	// The count outlives a reload (which forgets the good passwords: the
	// htpasswd file may have changed).
	if err := te.srv.ReloadFile(); err != nil {
		t.Fatal(err)
	}
	r := do(c, "https://app.test/x", "guess", "X-Forwarded-For", "10.9.9.9", "X-Real-IP", "10.9.9.9")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Errorf("after the allowance (spoofed X-Forwarded-For, after a reload): %d Retry-After %q, want 429", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if req, _ := hub.lastRequest(); strings.HasPrefix(req.Header.Get("Authorization"), "Basic") {
		t.Errorf("the hub saw the edge's credentials: %q", req.Header.Get("Authorization"))
	}
}
