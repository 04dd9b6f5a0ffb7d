package hubconfig

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeHubAPI serves the part of JupyterHub's REST API the culler uses,
// as JupyterHub documents it: GET /users with state, offset and limit
// (at most 200 per page), server models with ready, pending and
// last_activity, and DELETE of default and named servers.
type fakeHubAPI struct {
	token string
	users []map[string]any
	mu    sync.Mutex
	calls []string // "DELETE <escaped path>"
	pages int
}

func (h *fakeHubAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "token "+h.token {
		http.Error(w, `{"status": 403}`, http.StatusForbidden)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/hub/api/users":
		q := r.URL.Query()
		if q.Get("state") != "active" {
			http.Error(w, "test expects state=active", http.StatusBadRequest)
			return
		}
		offset, _ := strconv.Atoi(q.Get("offset"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		limit = min(max(limit, 1), 200)
		page := []map[string]any{}
		if offset < len(h.users) {
			page = h.users[offset:min(offset+limit, len(h.users))]
		}
		h.pages++
		if err := json.NewEncoder(w).Encode(page); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	case r.Method == http.MethodDelete:
		h.calls = append(h.calls, "DELETE "+r.URL.EscapedPath())
		w.WriteHeader(http.StatusNoContent)
	default:
		http.Error(w, "unexpected "+r.Method+" "+r.URL.String(), http.StatusNotFound)
	}
}

func TestIdleCullerStopsOnlyIdleServers(t *testing.T) {
	py := needPython(t)
	now := time.Now().UTC()
	ts := func(ago time.Duration) string { return now.Add(-ago).Format("2006-01-02T15:04:05.000000Z") }
	server := func(ready, pending bool, idle time.Duration) map[string]any {
		var p any
		if pending {
			p = "spawn"
		}
		return map[string]any{"ready": ready, "pending": p, "last_activity": ts(idle), "started": ts(idle + time.Hour)}
	}
	hub := &fakeHubAPI{token: "culler-token"}
	var want []string
	// 250 students: more than one page. Every 7th has been idle for two hours.
	for i := range 250 {
		name := fmt.Sprintf("stu%03d", i)
		idle := time.Minute
		if i%7 == 0 {
			idle = 2 * time.Hour
			want = append(want, "DELETE /hub/api/users/"+name+"/server")
		}
		hub.users = append(hub.users, map[string]any{"name": name, "servers": map[string]any{"": server(true, false, idle)}})
	}
	hub.users = append(hub.users,
		// A named server of a user whose name needs quoting.
		map[string]any{"name": "zoë d'arc", "servers": map[string]any{
			"":           server(true, false, time.Minute),
			"my nb/2024": server(true, false, 3*time.Hour),
		}},
		// Idle but still starting or stopping: left alone.
		map[string]any{"name": "pending", "servers": map[string]any{"": server(true, true, 5*time.Hour)}},
		map[string]any{"name": "notready", "servers": map[string]any{"": server(false, false, 5*time.Hour)}},
		// No activity recorded yet: started counts.
		map[string]any{"name": "fresh", "servers": map[string]any{"": map[string]any{"ready": true, "pending": nil, "last_activity": nil, "started": ts(90 * time.Minute)}}},
	)
	want = append(want, "DELETE /hub/api/users/zo%C3%AB%20d%27arc/servers/my%20nb%2F2024", "DELETE /hub/api/users/fresh/server")

	srv := httptest.NewServer(hub)
	defer srv.Close()
	_, files := renderTo(t, classHub(t))
	script := fileNamed(t, files, "idle_culler.py").Path
	run := func(token string) ([]byte, error) {
		cmd := exec.Command(py, "-B", script, "--timeout=3600", "--every=60", "--once")
		cmd.Env = []string{"JUPYTERHUB_API_URL=" + srv.URL + "/hub/api", "JUPYTERHUB_API_TOKEN=" + token}
		return cmd.CombinedOutput()
	}
	if out, err := run("culler-token"); err != nil {
		t.Fatalf("culler: %v\n%s", err, out)
	}
	slices.Sort(want)
	got := slices.Sorted(slices.Values(hub.calls))
	if !slices.Equal(got, want) {
		t.Errorf("culler stopped\n%v\nwant\n%v", got, want)
	}
	if hub.pages != 3 { // 200 + 54 users, then an empty page
		t.Errorf("culler fetched %d pages, want 3", hub.pages)
	}

	// A rejected token is reported, not silently ignored.
	hub.calls = nil
	out, err := run("wrong")
	if err == nil || len(hub.calls) != 0 {
		t.Errorf("culler with a bad token: err %v, calls %v, output %s", err, hub.calls, out)
	}
}
