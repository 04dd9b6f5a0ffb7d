package edge

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

func TestRouteLookupLongestSegmentPrefix(t *testing.T) {
	tab := newRouteTable()
	for _, p := range []string{"/", "/user/alice", "/user/alice/lab", "/services/x"} {
		tab.set(&route{prefix: p})
	}
	for path, want := range map[string]string{
		"/":                        "/",
		"":                         "/",
		"/user/alice":              "/user/alice",
		"/user/alice/":             "/user/alice",
		"/user/alice/api/kernels":  "/user/alice",
		"/user/alice/lab":          "/user/alice/lab",
		"/user/alice/lab/tree/a.b": "/user/alice/lab",
		"/user/alicebob":           "/",
		"/user/alic":               "/",
		"/services/x/y":            "/services/x",
		"//user/alice":             "/",
	} {
		if got := tab.lookup("hub.test", path); got == nil || got.prefix != want {
			t.Errorf("lookup(%q) = %v, want %q", path, got, want)
		}
	}
	tab.remove("/")
	if got := tab.lookup("hub.test", "/hub/login"); got != nil {
		t.Errorf("without a / route: %v, want nil", got.prefix)
	}
	tab.hostRouting.Store(true)
	tab.set(&route{prefix: "/hub.test/user/bob"})
	if got := tab.lookup("hub.test", "/user/bob/x"); got == nil || got.prefix != "/hub.test/user/bob" {
		t.Errorf("host routing: %v", got)
	}
	if got := tab.lookup("other.test", "/user/bob/x"); got != nil {
		t.Errorf("host routing for another host: %v, want nil", got.prefix)
	}
}

func TestNormalizePrefix(t *testing.T) {
	for in, want := range map[string]string{"": "/", "/": "/", "//": "/", "/user/a/": "/user/a", "user/a": "/user/a", "/a//": "/a"} {
		if got := normalizePrefix(in); got != want {
			t.Errorf("normalizePrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseRouteBody: never panics; an accepted body has an absolute http(s)
// target, and every other member survives verbatim.
func FuzzParseRouteBody(f *testing.F) {
	f.Add([]byte(`{"target": "http://127.0.0.1:8081", "hub": true, "jupyterhub": true}`))
	f.Add([]byte(`{"user": "alice", "server_name": "", "target": "http://10.0.0.5:8888", "jupyterhub": true}`))
	f.Add([]byte(`{"target": "https://h/x", "last_activity": "2020-01-01T00:00:00.000Z", "nested": {"a": [1, 2]}}`))
	f.Add([]byte(`{"target": 1}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, body []byte) {
		rb, err := parseRouteBody(body)
		if err != nil {
			return
		}
		if (rb.target.Scheme != "http" && rb.target.Scheme != "https") || rb.target.Host == "" {
			t.Fatalf("accepted target %v", rb.target)
		}
		if _, ok := rb.data["target"]; ok {
			t.Fatal("target left in data")
		}
		if _, ok := rb.data["last_activity"]; ok {
			t.Fatal("client-supplied last_activity kept")
		}
		var orig map[string]json.RawMessage
		if err := json.Unmarshal(body, &orig); err != nil {
			t.Fatalf("accepted a body encoding/json rejects: %v", err)
		}
		for k, v := range rb.data {
			if string(orig[k]) != string(v) {
				t.Fatalf("member %q changed: %s -> %s", k, orig[k], v)
			}
		}
		rt := &route{prefix: "/x", target: rb.target, data: rb.data}
		out, err := json.Marshal(routeJSON(rt))
		if err != nil || !strings.Contains(string(out), `"last_activity"`) {
			t.Fatalf("route renders as %s (%v)", out, err)
		}
		if _, err := url.Parse(rt.target.String()); err != nil {
			t.Fatal(err)
		}
	})
}
