package edge

import (
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// serveAPI is the loopback API listener: configurable-http-proxy's REST API
// (/api/routes, /_chp_healthz) plus the edge's own health and reload.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	st := s.state.Load()
	path := r.URL.Path
	switch {
	case path == "/_chp_healthz":
		writeJSON(w, http.StatusOK, map[string]string{"status": "OK"})
	case path == "/_edge/health":
		writeJSON(w, http.StatusOK, map[string]any{
			"status":     "ok",
			"generation": st.generation,
			"routes":     len(s.routes.all()),
			"hosts":      st.cfg.Hosts(),
		})
	case path == "/api/reload":
		if !s.authorized(w, r, st) {
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			apiError(w, http.StatusMethodNotAllowed, "use POST to reload")
			return
		}
		if err := s.ReloadFile(); err != nil {
			apiError(w, http.StatusBadRequest, "reload rejected, previous config still serving: "+err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"status": "reloaded", "generation": s.state.Load().generation})
	case path == "/api/routes" || strings.HasPrefix(path, "/api/routes/"):
		if !s.authorized(w, r, st) {
			return
		}
		if !st.chpRoutes {
			apiError(w, http.StatusNotFound, "the routes API is off: hub.mode is upstream")
			return
		}
		s.serveRoutes(w, r, strings.TrimPrefix(path, "/api/routes"))
	default:
		apiError(w, http.StatusNotFound, "not found")
	}
}

// authorized checks "Authorization: token <secret>" (CHP; "Bearer" also
// accepted) in constant time.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, st *state) bool {
	if st.token == "" {
		apiError(w, http.StatusForbidden, "no API token configured (hub.api_token_file)")
		return false
	}
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	ok := (strings.EqualFold(scheme, "token") || strings.EqualFold(scheme, "bearer")) &&
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(st.token)) == 1
	if !ok {
		apiError(w, http.StatusForbidden, "missing or wrong Authorization: token <secret>")
	}
	return ok
}

func (s *Server) serveRoutes(w http.ResponseWriter, r *http.Request, rest string) {
	prefix := normalizePrefix(rest)
	switch r.Method {
	case http.MethodGet:
		if prefix == "/" {
			s.listRoutes(w, r)
			return
		}
		rt := s.routes.get(prefix)
		if rt == nil {
			apiError(w, http.StatusNotFound, "no route "+prefix)
			return
		}
		writeJSON(w, http.StatusOK, routeJSON(rt))
	case http.MethodPost:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRouteBody))
		if err != nil {
			apiError(w, http.StatusRequestEntityTooLarge, "body too large or unreadable")
			return
		}
		rb, err := parseRouteBody(body)
		if err != nil {
			apiError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.routes.set(s.newRoute(prefix, rb.target, rb.data, false))
		s.log.Info("route added", "prefix", prefix, "target", rb.target.String())
		w.WriteHeader(http.StatusCreated)
	case http.MethodDelete:
		// Idempotent like CHP: deleting a missing route is not an error.
		if s.routes.remove(prefix) {
			s.log.Info("route deleted", "prefix", prefix)
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		apiError(w, http.StatusMethodNotAllowed, "use GET, POST or DELETE")
	}
}

// listRoutes answers GET /api/routes[?inactive_since=ISO8601] with routes
// keyed by prefix; inactive_since keeps those idle since before that time.
func (s *Server) listRoutes(w http.ResponseWriter, r *http.Request) {
	var cutoff int64
	if v := r.URL.Query().Get("inactive_since"); v != "" {
		t, err := parseInactiveSince(v)
		if err != nil {
			apiError(w, http.StatusBadRequest, err.Error())
			return
		}
		cutoff = t.UnixNano()
	}
	out := map[string]any{}
	for prefix, rt := range s.routes.all() {
		if cutoff != 0 && rt.lastActivity.Load() >= cutoff {
			continue
		}
		out[prefix] = routeJSON(rt)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) newRoute(prefix string, target *url.URL, data map[string]json.RawMessage, fromConfig bool) *route {
	rt := &route{prefix: prefix, target: target, data: data, fromConfig: fromConfig}
	rt.lastActivity.Store(time.Now().UnixNano())
	rt.proxy = s.up.newProxy(target, &rt.lastActivity)
	return rt
}

// writeJSON encodes before the status is sent, so that a value that cannot
// be encoded is a 500, not a truncated answer under a success status.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "500 response not encodable as JSON: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func apiError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
