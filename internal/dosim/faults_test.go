package dosim

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

func TestRateLimitFault(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	s.Faults().RateLimit(2, time.Second)
	before := time.Now()
	resp, body := raw(t, s, http.MethodGet, "/v2/account", "")
	if resp.StatusCode != http.StatusTooManyRequests || body["id"] != "too_many_requests" || body["request_id"] == "" {
		t.Fatalf("rate-limited request: %d %v", resp.StatusCode, body)
	}
	reset, _ := strconv.ParseInt(resp.Header.Get("Ratelimit-Reset"), 10, 64)
	if resp.Header.Get("Retry-After") != "1" || resp.Header.Get("Ratelimit-Remaining") != "0" ||
		resp.Header.Get("Ratelimit-Limit") != "5000" || reset < before.Unix() || reset > before.Add(2*time.Second).Unix() {
		t.Errorf("429 headers: %v", resp.Header)
	}
	// godo meets the second 429, honours Retry-After and succeeds.
	n := s.Requests()
	start := time.Now()
	if _, _, err := c.Account.Get(ctx(t)); err != nil {
		t.Fatalf("godo did not survive a 429: %v", err)
	}
	if got := s.Requests() - n; got != 2 {
		t.Errorf("godo sent %d requests, want 2 (one 429, one retry)", got)
	}
	if el := time.Since(start); el < 900*time.Millisecond {
		t.Errorf("the retry came after %v, before Retry-After (1s)", el)
	}
}

func TestServerErrorFaults(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	for _, code := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable} {
		s.Faults().ServerErrors(2, code)
		// A POST is retried too, and the domain is created exactly once.
		name := fmt.Sprintf("e%d.example", code)
		if _, _, err := c.Domains.Create(ctx(t), &godo.DomainCreateRequest{Name: name}); err != nil {
			t.Fatalf("godo did not survive 2x %d: %v", code, err)
		}
	}
	if n := len(s.Domains()); n != 2 {
		t.Errorf("%d domains, want 2", n)
	}
	s.Faults().ServerErrors(10, http.StatusServiceUnavailable)
	_, _, err := c.Account.Get(ctx(t))
	wantStatus(t, err, http.StatusServiceUnavailable, "more 503s than retries")
	s.Faults().Clear()
	if _, _, err := c.Account.Get(ctx(t)); err != nil {
		t.Errorf("after Clear: %v", err)
	}
}

func TestScopedFaults(t *testing.T) {
	s := newSim(t, Options{})
	s.Faults().On(http.MethodPost, "/v2/domains").ServerErrors(1, http.StatusInternalServerError)
	s.Faults().On("", "/v2/account").Latency(150 * time.Millisecond)
	if r, _ := raw(t, s, http.MethodGet, "/v2/domains", ""); r.StatusCode != http.StatusOK {
		t.Errorf("GET outside the fault's scope: %d", r.StatusCode)
	}
	if r, b := raw(t, s, http.MethodPost, "/v2/domains", `{"name":"a.example"}`); r.StatusCode != http.StatusInternalServerError || b["id"] != "server_error" {
		t.Errorf("POST in scope: %d %v", r.StatusCode, b)
	}
	if r, _ := raw(t, s, http.MethodPost, "/v2/domains", `{"name":"a.example"}`); r.StatusCode != http.StatusCreated {
		t.Errorf("POST after the fault was used up: %d", r.StatusCode)
	}
	start := time.Now()
	raw(t, s, http.MethodGet, "/v2/account", "")
	if el := time.Since(start); el < 150*time.Millisecond {
		t.Errorf("GET /v2/account took %v with 150ms latency", el)
	}
}

func TestLatencyFault(t *testing.T) {
	s := newSim(t, Options{})
	s.Faults().Latency(200 * time.Millisecond)
	start := time.Now()
	if r, _ := raw(t, s, http.MethodGet, "/v2/droplets", ""); r.StatusCode != http.StatusOK {
		t.Fatal(r.Status)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("request took %v with 200ms latency", el)
	}
}

func TestNotFoundAfterCreateFault(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	old, _, err := c.Droplets.Create(ctx(t), createReq("before"))
	if err != nil {
		t.Fatal(err)
	}
	s.Faults().NotFoundAfterCreate(2)
	d, _, err := c.Droplets.Create(ctx(t), createReq("after"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		_, _, err := c.Droplets.Get(ctx(t), d.ID)
		wantStatus(t, err, http.StatusNotFound, fmt.Sprintf("GET %d of a just-created droplet", i+1))
	}
	if _, _, err := c.Droplets.Get(ctx(t), d.ID); err != nil {
		t.Errorf("third GET: %v", err)
	}
	if _, _, err := c.Droplets.Get(ctx(t), old.ID); err != nil {
		t.Errorf("a droplet created before the fault: %v", err)
	}
	if _, _, err := c.Domains.Create(ctx(t), &godo.DomainCreateRequest{Name: "hub.example"}); err != nil {
		t.Fatal(err)
	}
	rec, _, err := c.Domains.CreateRecord(ctx(t), "hub.example", &godo.DomainRecordEditRequest{Type: "A", Name: "www", Data: "198.18.0.9"})
	if err != nil {
		t.Fatal(err)
	}
	list, _, err := c.Domains.RecordsByType(ctx(t), "hub.example", "A", nil)
	if err != nil || len(list) != 1 {
		t.Errorf("the list shows the record at once: %+v %v", list, err)
	}
	for range 2 {
		_, _, err := c.Domains.Record(ctx(t), "hub.example", rec.ID)
		wantStatus(t, err, http.StatusNotFound, "GET of a just-created record")
	}
	if _, _, err := c.Domains.Record(ctx(t), "hub.example", rec.ID); err != nil {
		t.Errorf("third record GET: %v", err)
	}
}

func TestFailActionsFault(t *testing.T) {
	b := &recordingBackend{}
	s := newSim(t, Options{Backend: b})
	c := client(t, s, testToken)
	d, resp, err := c.Droplets.Create(ctx(t), createReq("ok"))
	if err != nil {
		t.Fatal(err)
	}
	waitAction(t, c, resp.Links.Actions[0].ID)
	s.Faults().FailActions(1)
	a, _, err := c.DropletActions.PowerOff(ctx(t), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := waitAction(t, c, a.ID); got.Status != "errored" {
		t.Errorf("power_off with FailActions(1) ended %s", got.Status)
	}
	if g, _, _ := c.Droplets.Get(ctx(t), d.ID); g.Status != "active" {
		t.Errorf("an errored power_off changed the status to %s", g.Status)
	}
	a, _, err = c.DropletActions.PowerOff(ctx(t), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := waitAction(t, c, a.ID); got.Status != "completed" {
		t.Errorf("the next power_off ended %s", got.Status)
	}

	s.Faults().FailActions(1)
	failed, resp, err := c.Droplets.Create(ctx(t), createReq("fails"))
	if err != nil {
		t.Fatal(err)
	}
	if got := waitAction(t, c, resp.Links.Actions[0].ID); got.Status != "errored" {
		t.Errorf("create with FailActions(1) ended %s", got.Status)
	}
	if g, _, _ := c.Droplets.Get(ctx(t), failed.ID); g.Status != "new" {
		t.Errorf("a droplet whose create errored is %s", g.Status)
	}
	for _, call := range b.Calls() {
		if call == fmt.Sprintf("create %d", failed.ID) {
			t.Error("the backend booted a droplet whose create was made to fail")
		}
	}
}

func TestSlowActionsFault(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	s.Faults().SlowActions(300 * time.Millisecond)
	start := time.Now()
	d, resp, err := c.Droplets.Create(ctx(t), createReq("slow"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if a, _, _ := c.Actions.Get(ctx(t), resp.Links.Actions[0].ID); a.Status != "in-progress" {
		t.Errorf("create of a slow droplet is %s after 100ms", a.Status)
	}
	if g, _, _ := c.Droplets.Get(ctx(t), d.ID); g.Status != "new" {
		t.Errorf("slow droplet is %s after 100ms", g.Status)
	}
	waitAction(t, c, resp.Links.Actions[0].ID)
	if el := time.Since(start); el < 300*time.Millisecond {
		t.Errorf("slow create took %v, want at least 300ms", el)
	}
}

// TestFaultsConcurrent: a budget of faults is spent exactly once across
// concurrent requests (run with -race).
func TestFaultsConcurrent(t *testing.T) {
	s := newSim(t, Options{})
	s.Faults().RateLimit(15, time.Second).ServerErrors(5, http.StatusServiceUnavailable)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				r, _ := raw(t, s, http.MethodGet, "/v2/account", "")
				mu.Lock()
				codes[r.StatusCode]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if codes[429] != 15 || codes[503] != 5 || codes[200] != 60 {
		t.Errorf("status counts = %v, want 15x429, 5x503, 60x200", codes)
	}
}
