package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func chpConfig(extra string) string {
	return `hub:
  hosts: [hub.test]
  mode: chp-api
  api_token_file: "{{dir}}/token"
` + extra
}

func decodeRoutes(t *testing.T, body string) map[string]map[string]any {
	t.Helper()
	var m map[string]map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("routes body %q: %v", body, err)
	}
	return m
}

// TestCHPAPIWithJupyterHubRequests replays the requests JupyterHub's
// ConfigurableHTTPProxy makes (jupyterhub/proxy.py: add_route posts
// data + target + jupyterhub: true to /api/routes<routespec without
// trailing slash>, get_all_routes GETs /api/routes, delete_route DELETEs).
func TestCHPAPIWithJupyterHubRequests(t *testing.T) {
	hub := newUpstream(t, "hub")
	alice := newUpstream(t, "alice")
	te := startEdge(t, chpConfig(""))
	c := te.client()

	if resp, _ := mustGet(t, c, "https://hub.test/hub/login"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("no routes yet: %d, want 503", resp.StatusCode)
	}
	// add_hub_route: routespec "/" -> API path "/" (kept, not stripped).
	if resp, body := te.apiDo("POST", "/api/routes/", fmt.Sprintf(`{"hub": true, "target": %q, "jupyterhub": true}`, hub.URL)); resp.StatusCode != 201 {
		t.Fatalf("add hub route: %d %s", resp.StatusCode, body)
	}
	// add_user route: "/user/alice/" -> "/user/alice".
	if resp, body := te.apiDo("POST", "/api/routes/user/alice", fmt.Sprintf(`{"user": "alice", "server_name": "", "target": %q, "jupyterhub": true}`, alice.URL)); resp.StatusCode != 201 {
		t.Fatalf("add user route: %d %s", resp.StatusCode, body)
	}

	for path, want := range map[string]string{
		"/hub/login":                      "hub /hub/login",
		"/user/alice":                     "alice /user/alice",
		"/user/alice/api/kernels?x=1":     "alice /user/alice/api/kernels?x=1",
		"/user/alicebob/lab":              "hub /user/alicebob/lab", // whole segments only
		"/user/":                          "hub /user/",
		"/services/announcement/latest/x": "hub /services/announcement/latest/x",
	} {
		if resp, body := mustGet(t, c, "https://hub.test"+path); resp.StatusCode != 200 || body != want {
			t.Errorf("GET %s = %d %q, want %q", path, resp.StatusCode, body, want)
		}
	}

	resp, body := te.apiDo("GET", "/api/routes", "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET routes: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	routes := decodeRoutes(t, body)
	if len(routes) != 2 {
		t.Fatalf("routes = %v, want / and /user/alice", routes)
	}
	a := routes["/user/alice"]
	if a["target"] != alice.URL || a["user"] != "alice" || a["server_name"] != "" || a["jupyterhub"] != true {
		t.Errorf("alice route = %v: data must round-trip verbatim", a)
	}
	if _, err := time.Parse(time.RFC3339, a["last_activity"].(string)); err != nil {
		t.Errorf("last_activity %v: %v", a["last_activity"], err)
	}
	if routes["/"]["hub"] != true || routes["/"]["target"] != hub.URL {
		t.Errorf("hub route = %v", routes["/"])
	}
	if resp, body := te.apiDo("GET", "/api/routes/user/alice", ""); resp.StatusCode != 200 || !strings.Contains(body, `"user":"alice"`) {
		t.Errorf("GET one route: %d %s", resp.StatusCode, body)
	}

	// Re-posting a route replaces it (JupyterHub does this on restart).
	te.apiDo("POST", "/api/routes/user/alice", fmt.Sprintf(`{"user": "alice", "server_name": "", "target": %q, "jupyterhub": true}`, hub.URL))
	if _, body := mustGet(t, c, "https://hub.test/user/alice/x"); body != "hub /user/alice/x" {
		t.Errorf("after re-post: %q", body)
	}
	if resp, _ := te.apiDo("DELETE", "/api/routes/user/alice", ""); resp.StatusCode != 204 {
		t.Errorf("DELETE: %d, want 204", resp.StatusCode)
	}
	if resp, _ := te.apiDo("DELETE", "/api/routes/user/alice", ""); resp.StatusCode != 204 {
		t.Errorf("DELETE again: %d, want 204 (idempotent)", resp.StatusCode)
	}
	if resp, _ := te.apiDo("GET", "/api/routes/user/alice", ""); resp.StatusCode != 404 {
		t.Errorf("GET deleted route: %d, want 404", resp.StatusCode)
	}
	if _, body := mustGet(t, c, "https://hub.test/user/alice/api"); body != "hub /user/alice/api" {
		t.Errorf("after delete: %q, want the hub", body)
	}

	// Bad bodies.
	for _, b := range []string{``, `[]`, `null`, `{}`, `{"target": 5}`, `{"target": "ftp://x"}`, `{"target": "/relative"}`, `{"target": "http://a"} {}`} {
		if resp, _ := te.apiDo("POST", "/api/routes/user/bad", b); resp.StatusCode != 400 {
			t.Errorf("POST %q: %d, want 400", b, resp.StatusCode)
		}
	}
	if resp, _ := te.apiDo("PUT", "/api/routes/user/x", "{}"); resp.StatusCode != 405 {
		t.Errorf("PUT: %d, want 405", resp.StatusCode)
	}
}

func TestCHPAPIAuthAndHealth(t *testing.T) {
	te := startEdge(t, chpConfig(""))
	for _, auth := range []string{"", "token wrong", "Basic " + testToken, testToken} {
		req, _ := http.NewRequest("GET", "http://"+te.api+"/api/routes", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Errorf("Authorization %q: %d, want 403", auth, resp.StatusCode)
		}
	}
	req, _ := http.NewRequest("GET", "http://"+te.api+"/api/routes", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("Bearer token: %v %v", resp, err)
	}
	for _, p := range []string{"/_chp_healthz", "/_edge/health"} {
		resp, err := http.Get("http://" + te.api + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, resp, err)
		}
		resp.Body.Close()
	}
	if resp, body := te.apiDo("GET", "/nope", ""); resp.StatusCode != 404 {
		t.Errorf("/nope: %d %s", resp.StatusCode, body)
	}
}

func TestCHPInactiveSinceAndActivity(t *testing.T) {
	ws := echoServer(t)
	te := startEdge(t, chpConfig(""))
	for _, u := range []string{"busy", "idle"} {
		if resp, _ := te.apiDo("POST", "/api/routes/user/"+u, fmt.Sprintf(`{"user": %q, "target": %q, "jupyterhub": true}`, u, ws.URL)); resp.StatusCode != 201 {
			t.Fatal(resp.Status)
		}
	}
	time.Sleep(20 * time.Millisecond)
	cut := time.Now().UTC()
	time.Sleep(20 * time.Millisecond)

	// A websocket opened before the cut-off and then used: its frames
	// must count as activity.
	conn := te.dialWS(context.Background(), "wss://hub.test/user/busy/api/kernels/1/channels")
	_, body := te.apiDo("GET", "/api/routes?inactive_since="+url.QueryEscape(cut.Format(time.RFC3339Nano)), "")
	if r := decodeRoutes(t, body); len(r) != 1 || r["/user/idle"] == nil {
		t.Errorf("inactive since cut-off: %v, want only /user/idle", r)
	}
	la := func() time.Time {
		_, body := te.apiDo("GET", "/api/routes/user/busy", "")
		var r struct {
			LastActivity time.Time `json:"last_activity"`
		}
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatalf("route %s: %v", body, err)
		}
		return r.LastActivity
	}
	t0 := la()
	time.Sleep(50 * time.Millisecond)
	echo(t, conn, "frame", "/user/busy/api/kernels/1/channels")
	if t1 := la(); !t1.After(t0) {
		t.Errorf("last_activity %v not advanced past %v by websocket frames", t1, t0)
	}

	for _, bad := range []string{"yesterday", "2026-13-01T00:00:00Z"} {
		if resp, _ := te.apiDo("GET", "/api/routes?inactive_since="+url.QueryEscape(bad), ""); resp.StatusCode != 400 {
			t.Errorf("inactive_since=%q: %d, want 400", bad, resp.StatusCode)
		}
	}
	if _, body := te.apiDo("GET", "/api/routes?inactive_since=2000-01-01T00:00:00.000Z", ""); len(decodeRoutes(t, body)) != 0 {
		t.Errorf("nothing is inactive since 2000: %s", body)
	}
}

func TestCHPHostRoutingAndDefaultTarget(t *testing.T) {
	hub := newUpstream(t, "hub")
	bob := newUpstream(t, "bob")
	te := startEdge(t, chpConfig(fmt.Sprintf("  host_routing: true\n  default_target: %q\n", hub.URL)))
	if resp, _ := te.apiDo("POST", "/api/routes/hub.test/user/bob", fmt.Sprintf(`{"user": "bob", "target": %q, "jupyterhub": true}`, bob.URL)); resp.StatusCode != 201 {
		t.Fatal(resp.Status)
	}
	c := te.client()
	for path, want := range map[string]string{"/user/bob/lab": "bob /user/bob/lab", "/hub/home": "hub /hub/home"} {
		if _, body := mustGet(t, c, "https://hub.test"+path); body != want {
			t.Errorf("GET %s = %q, want %q", path, body, want)
		}
	}
	routes := decodeRoutes(t, mustAPI(te, "/api/routes"))
	if routes["/"] == nil || routes["/"]["jupyterhub"] != nil || routes["/hub.test/user/bob"] == nil {
		t.Errorf("routes %v: want the default route (not marked jupyterhub) and the host route", routes)
	}
	// JupyterHub's own "/" route replaces the default target and survives reloads.
	te.apiDo("POST", "/api/routes/", fmt.Sprintf(`{"hub": true, "target": %q, "jupyterhub": true}`, bob.URL))
	if resp, body := te.apiDo("POST", "/api/reload", ""); resp.StatusCode != 200 {
		t.Fatalf("reload: %d %s", resp.StatusCode, body)
	}
	if _, body := mustGet(t, c, "https://hub.test/hub/home"); body != "bob /hub/home" {
		t.Errorf("after reload: %q, JupyterHub's / route must stay", body)
	}
}

func TestUpstreamModeHasNoRoutesAPI(t *testing.T) {
	hub := newUpstream(t, "chp")
	te := startEdge(t, fmt.Sprintf("hub: {hosts: [hub.test], mode: upstream, upstream: %q, api_token_file: \"{{dir}}/token\"}\n", hub.URL))
	if resp, _ := te.apiDo("GET", "/api/routes", ""); resp.StatusCode != 404 {
		t.Errorf("routes API in upstream mode: %d, want 404", resp.StatusCode)
	}
	if _, body := mustGet(t, te.client(), "https://hub.test/user/x/lab"); body != "chp /user/x/lab" {
		t.Errorf("upstream mode: %q", body)
	}
}

func mustAPI(te *testEdge, path string) string {
	_, body := te.apiDo("GET", path, "")
	return body
}
