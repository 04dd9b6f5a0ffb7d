package basicauth

import (
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestLimiterRefillsAtTheWindowRate(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter(3, 30*time.Second) // one token per 10 s, 3 at most
	l.now = func() time.Time { return now }
	for i := 0; i < 3; i++ {
		if ok, _ := l.take("a"); !ok {
			t.Fatalf("failure %d refused", i+1)
		}
	}
	ok, wait := l.take("a")
	if ok || wait.Round(time.Millisecond) != 10*time.Second {
		t.Fatalf("4th: %v, wait %v; want refused for 10s", ok, wait)
	}
	if ok, _ := l.take("b"); !ok {
		t.Fatal("another client shares the first one's bucket")
	}
	now = now.Add(4 * time.Second)
	if ok, wait := l.take("a"); ok || wait.Round(time.Millisecond) != 6*time.Second {
		t.Fatalf("after 4 s: %v, wait %v; want refused for 6s", ok, wait)
	}
	now = now.Add(6 * time.Second)
	if ok, _ := l.take("a"); !ok {
		t.Fatal("after 10 s the bucket has not refilled by one")
	}
	l.giveBack("a") // the login succeeded
	if ok, _ := l.take("a"); !ok {
		t.Fatal("a successful login's token was not given back")
	}
	now = now.Add(time.Hour)
	for i := 0; i < 3; i++ {
		if ok, _ := l.take("a"); !ok {
			t.Fatal("the bucket does not refill to its maximum")
		}
	}
	if ok, _ := l.take("a"); ok {
		t.Fatal("the bucket refilled beyond its maximum")
	}
}

// TestLimiterForgetsRefilledClients: memory follows recent failures, not
// every address ever seen.
func TestLimiterForgetsRefilledClients(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewLimiter(5, time.Minute)
	l.now = func() time.Time { return now }
	for i := 0; i < 10*minSweep; i++ {
		l.take(fmt.Sprint("client", i))
		if i%minSweep == 0 {
			now = now.Add(2 * time.Minute)
		}
	}
	if n := len(l.buckets); n > 2*minSweep {
		t.Fatalf("%d buckets kept for clients whose failures are long forgiven", n)
	}
}

// throttled is a Middleware with a Limiter, keyed by the TCP peer, and a
// count of the password hashes it computes.
type throttled struct {
	srv    *httptest.Server
	hashes atomic.Int64
}

func newThrottled(t *testing.T, maxFailures int) *throttled {
	t.Helper()
	f, err := Load("testdata/vectors.htpasswd")
	if err != nil {
		t.Fatal(err)
	}
	th := &throttled{}
	h := Middleware(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), Options{
		Users:   f,
		Limiter: NewLimiter(maxFailures, time.Minute),
		ClientKey: func(r *http.Request) string {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			return host
		},
		verify: func(user, pass string) bool {
			th.hashes.Add(1)
			return f.Verify(user, pass)
		},
	})
	th.srv = httptest.NewTLSServer(h)
	t.Cleanup(th.srv.Close)
	return th
}

func (th *throttled) do(t *testing.T, c *http.Client, user, pass string, h ...string) *http.Response {
	t.Helper()
	req := get(t, th.srv.URL+"/user/alice/lab", h...)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestFailedLoginsThrottled: after the allowance of failures a client
// gets 429 with Retry-After and no hash is computed, however many
// requests it sends; Lab token requests are never counted as failures.
func TestFailedLoginsThrottled(t *testing.T) {
	th := newThrottled(t, 3)
	c := th.srv.Client()
	for i := 0; i < 3; i++ {
		if resp := th.do(t, c, "alice-B", "guess"); resp.StatusCode != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	if n := th.hashes.Load(); n != 3 {
		t.Fatalf("%d hashes for 3 failures", n)
	}
	var wg sync.WaitGroup
	var codes sync.Map
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := th.do(t, c, "alice-B", fmt.Sprint("guess", i))
			codes.Store(resp.StatusCode, resp.Header.Get("Retry-After"))
		}()
	}
	wg.Wait()
	codes.Range(func(k, v any) bool {
		if k != http.StatusTooManyRequests || v == "" || v == "0" {
			t.Errorf("throttled login: %v Retry-After %q, want 429 with a wait", k, v)
		}
		return true
	})
	if n := th.hashes.Load(); n != 3 {
		t.Errorf("%d hashes: throttled logins must not hash", n)
	}
	// A Lab request without credentials or cookie is a 401, not a failure.
	for i := 0; i < 5; i++ {
		if resp := th.do(t, c, "", "", "Authorization", "token lab"); resp.StatusCode != 401 {
			t.Errorf("token request: %d, want 401 (as without throttling)", resp.StatusCode)
		}
	}
}

// TestThrottlingSparesGoodLogins: a throttled client whose credentials
// verified before still gets in, without a hash, and so do its cookie and
// Lab token requests; a correct login is never delayed, and the browser
// repeating its Basic header costs one hash, not one per request.
func TestThrottlingSparesGoodLogins(t *testing.T) {
	th := newThrottled(t, 2)
	c := th.srv.Client()
	c.Jar, _ = cookiejar.New(nil)
	if resp := th.do(t, c, "alice-B", "correct horse battery staple"); resp.StatusCode != 200 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	for i := 0; i < 5; i++ {
		th.do(t, c, "alice-B", "correct horse battery staple")
	}
	if n := th.hashes.Load(); n != 1 {
		t.Fatalf("%d hashes for one password sent 6 times", n)
	}
	anon := &http.Client{Transport: c.Transport} // same address, no cookie
	for i := 0; i < 4; i++ {
		th.do(t, anon, "alice-B", "wrong")
	}
	if resp := th.do(t, anon, "alice-B", "wrong"); resp.StatusCode != 429 {
		t.Fatalf("after the allowance: %d, want 429", resp.StatusCode)
	}
	hashes := th.hashes.Load()
	start := time.Now()
	if resp := th.do(t, anon, "alice-B", "correct horse battery staple"); resp.StatusCode != 200 {
		t.Errorf("known good credentials while throttled: %d, want 200", resp.StatusCode)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("a good login took %v", took)
	}
	if resp := th.do(t, c, "", "", "Authorization", "token lab"); resp.StatusCode != 200 {
		t.Errorf("Lab token request with the session cookie while throttled: %d, want 200", resp.StatusCode)
	}
	if resp := th.do(t, anon, "bob-B", "x"); resp.StatusCode != 429 {
		t.Errorf("credentials never verified, while throttled: %d, want 429 (checking them would cost a hash)", resp.StatusCode)
	}
	if n := th.hashes.Load(); n != hashes {
		t.Errorf("%d hashes while throttled", n-hashes)
	}
}
