package edge

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

// route is one entry of the configurable-http-proxy routing table. It is
// immutable once published except for lastActivity, so lookups take no lock.
type route struct {
	prefix string // normalised: "/" or "/a/b" (no trailing slash)
	target *url.URL
	// data is the client-supplied JSON object minus target/last_activity,
	// kept as raw JSON so JupyterHub gets back exactly what it stored.
	data map[string]json.RawMessage
	// fromConfig marks the default_target route the edge installed itself.
	fromConfig bool

	lastActivity atomic.Int64 // unix nanoseconds
	proxy        *proxy
}

// routeTable is a copy-on-write map from prefix to route: readers load one
// pointer; writers (the API, rarely) copy the map under a mutex.
type routeTable struct {
	mu          sync.Mutex
	m           atomic.Pointer[map[string]*route]
	hostRouting atomic.Bool
}

func newRouteTable() *routeTable {
	t := &routeTable{}
	t.m.Store(&map[string]*route{})
	return t
}

// normalizePrefix turns an API path or routespec into a table key, the way
// CHP does: leading slash, no trailing slash except for the root.
func normalizePrefix(p string) string {
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	for len(p) > 1 && strings.HasSuffix(p, "/") {
		p = p[:len(p)-1]
	}
	return p
}

// lookup returns the route with the longest prefix matching path on whole
// path segments ("/user/a" matches "/user/a/x", not "/user/ab"). With host
// routing the key is "/<host>/<path>" as in CHP.
func (t *routeTable) lookup(host, path string) *route {
	m := *t.m.Load()
	if len(m) == 0 {
		return nil
	}
	key := path
	if t.hostRouting.Load() {
		key = "/" + host + path
	}
	for len(key) > 1 && key[len(key)-1] == '/' {
		key = key[:len(key)-1]
	}
	for {
		if r, ok := m[key]; ok {
			return r
		}
		i := strings.LastIndexByte(key, '/')
		if i <= 0 {
			break
		}
		key = key[:i]
	}
	return m["/"]
}

func (t *routeTable) get(prefix string) *route { return (*t.m.Load())[prefix] }

func (t *routeTable) set(r *route) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.m.Load()
	m := make(map[string]*route, len(old)+1)
	maps.Copy(m, old)
	m[r.prefix] = r
	t.m.Store(&m)
}

func (t *routeTable) remove(prefix string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.m.Load()
	if _, ok := old[prefix]; !ok {
		return false
	}
	m := maps.Clone(old)
	delete(m, prefix)
	t.m.Store(&m)
	return true
}

// setDefault installs def (nil: none) as the "/" route unless JupyterHub
// registered its own "/" route, which always wins over the edge's default.
func (t *routeTable) setDefault(def *route) {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.m.Load()
	cur := old["/"]
	if cur != nil && !cur.fromConfig {
		return
	}
	if def != nil && cur != nil && cur.target.String() == def.target.String() {
		return // keep its last_activity
	}
	if def == nil && cur == nil {
		return
	}
	m := maps.Clone(old)
	if def == nil {
		delete(m, "/")
	} else {
		m["/"] = def
	}
	t.m.Store(&m)
}

func (t *routeTable) all() map[string]*route { return *t.m.Load() }

// routeBody is a decoded POST /api/routes/<prefix> body.
type routeBody struct {
	target *url.URL
	data   map[string]json.RawMessage
}

const maxRouteBody = 1 << 20

// parseRouteBody decodes a CHP route body: a JSON object with a string
// "target" (absolute http(s) URL) and any other members, kept verbatim.
func parseRouteBody(b []byte) (routeBody, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return routeBody{}, fmt.Errorf("body must be one JSON object: %w", err)
	}
	if raw == nil {
		return routeBody{}, errors.New("body must be a JSON object, not null")
	}
	tj, ok := raw["target"]
	if !ok {
		return routeBody{}, errors.New(`body must have a "target" (for example {"target": "http://127.0.0.1:8081"})`)
	}
	var ts string
	if err := json.Unmarshal(tj, &ts); err != nil {
		return routeBody{}, errors.New(`"target" must be a string URL`)
	}
	u, err := edgeconfig.ParseHTTPURL(ts)
	if err != nil {
		return routeBody{}, fmt.Errorf(`"target": %w`, err)
	}
	delete(raw, "target")
	delete(raw, "last_activity")
	return routeBody{target: u, data: raw}, nil
}

// chpTime formats like JavaScript's Date.toISOString, which CHP emits.
const chpTime = "2006-01-02T15:04:05.000Z"

// routeJSON renders a route as CHP does: its data plus target and last_activity.
func routeJSON(r *route) map[string]any {
	out := make(map[string]any, len(r.data)+2)
	for k, v := range r.data {
		out[k] = v
	}
	out["target"] = r.target.String()
	out["last_activity"] = time.Unix(0, r.lastActivity.Load()).UTC().Format(chpTime)
	return out
}

// parseInactiveSince accepts ISO 8601 timestamps as JupyterHub and CHP send them.
func parseInactiveSince(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("inactive_since %q is not an ISO 8601 timestamp (for example 2026-01-02T15:04:05Z)", s)
}
