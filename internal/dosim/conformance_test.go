package dosim

import (
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

func needSpec(t *testing.T, s *Server) {
	t.Helper()
	if !s.Conformance() {
		testkit.Need(t, "the OpenAPI spec", "set "+SpecEnv+"=/path/to/DigitalOcean-public.v2.yaml")
	}
}

func TestConformanceCatchesBadRequests(t *testing.T) {
	s := newLooseSim(t, Options{})
	needSpec(t, s)
	raw(t, s, http.MethodPost, "/v2/domains", `{"name": 5}`)
	if !hasViolation(s, "POST /v2/domains", "request (domains_create)", "name") {
		t.Errorf("a number as domain name was not reported: %q", s.Violations())
	}
	r, _ := raw(t, s, http.MethodPost, "/v2/droplets", `{"name":"x"}`)
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("droplet without size and image: %d", r.StatusCode)
	}
	if !hasViolation(s, "POST /v2/droplets", "request (droplets_create)") {
		t.Errorf("a droplet create without size and image was not reported: %q", s.Violations())
	}
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/v2/account", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !hasViolation(s, "GET /v2/account", "request (account_get)", "bearer") {
		t.Errorf("a request without a token: %d, violations %q", resp.StatusCode, s.Violations())
	}
}

func TestConformanceCatchesBadResponses(t *testing.T) {
	s := newLooseSim(t, Options{})
	needSpec(t, s)
	c := client(t, s, testToken)
	d, resp, err := c.Droplets.Create(ctx(t), createReq("hub"))
	if err != nil {
		t.Fatal(err)
	}
	waitAction(t, c, resp.Links.Actions[0].ID)
	if v := s.Violations(); len(v) != 0 {
		t.Fatalf("violations before tampering: %q", v)
	}
	s.mu.Lock()
	s.tamper = func(r *http.Request, body []byte) []byte {
		if r.Method != http.MethodGet {
			return body
		}
		body = []byte(strings.Replace(string(body), `"status":"active"`, `"status":"running"`, 1))
		return []byte(strings.Replace(string(body), `"memory":1024,`, ``, 1))
	}
	s.mu.Unlock()
	raw(t, s, http.MethodGet, fmt.Sprintf("/v2/droplets/%d", d.ID), "")
	if !hasViolation(s, fmt.Sprintf("GET /v2/droplets/%d", d.ID), "response 200 (droplets_get)", "status") {
		t.Errorf("an unknown droplet status was not reported: %q", s.Violations())
	}
	if !hasViolation(s, "response 200 (droplets_get)", "memory") {
		t.Errorf("a missing required field was not reported: %q", s.Violations())
	}
}

// fakeTB captures what NewTest reports at cleanup.
type fakeTB struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (f *fakeTB) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }
func (f *fakeTB) Errorf(format string, a ...any) {
	f.errors = append(f.errors, fmt.Sprintf(format, a...))
}
func (f *fakeTB) Logf(string, ...any) {}

func TestNewTestFailsOnViolations(t *testing.T) {
	f := &fakeTB{TB: t}
	s := NewTest(f, Options{Token: testToken})
	needSpec(t, s)
	raw(t, s, http.MethodPost, "/v2/domains", `{"name": ["not", "a", "string"]}`)
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	if len(f.errors) != 1 || !strings.Contains(f.errors[0], "1 OpenAPI conformance violation") ||
		!strings.Contains(f.errors[0], "POST /v2/domains: request (domains_create)") {
		t.Errorf("NewTest cleanup reported %q", f.errors)
	}
}

func TestSpecDiscovery(t *testing.T) {
	t.Setenv(SpecEnv, filepath.Join(t.TempDir(), "missing.yaml"))
	if _, err := FindSpec(); err == nil || !strings.Contains(err.Error(), SpecEnv) {
		t.Errorf("FindSpec with a missing %s file: %v", SpecEnv, err)
	}
	t.Setenv(SpecEnv, "")
	t.Chdir(t.TempDir()) // no go.mod above a temp dir
	if _, err := FindSpec(); !errors.Is(err, ErrNoSpec) || !strings.Contains(err.Error(), SpecEnv+"=/path/to/DigitalOcean-public.v2.yaml") {
		t.Errorf("FindSpec without a spec: %v", err)
	}
	var logged []string
	t.Setenv("CI", "")
	s, err := New(Options{Logf: func(f string, a ...any) { logged = append(logged, fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s.Conformance() || len(logged) != 1 || !strings.Contains(logged[0], SpecEnv) {
		t.Errorf("without a spec outside CI: conformance %v, logged %q", s.Conformance(), logged)
	}
	t.Setenv("CI", "true")
	if _, err := New(Options{}); err == nil || !strings.Contains(err.Error(), SpecEnv) {
		t.Errorf("without a spec in CI: %v, want an error naming %s", err, SpecEnv)
	}
}
