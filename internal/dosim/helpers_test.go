package dosim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"golang.org/x/oauth2"
)

const testToken = "dop_v1_simulator-test"

// checkedTotal counts the exchanges validated against the spec across the
// package's tests, reported by TestMain.
var checkedTotal atomic.Int64

func TestMain(m *testing.M) {
	code := m.Run()
	if testing.Verbose() {
		fmt.Printf("dosim: %d request/response pairs validated against the OpenAPI spec\n", checkedTotal.Load())
	}
	os.Exit(code)
}

// newSim starts a simulator whose traffic must conform to the spec.
func newSim(t *testing.T, opts Options) *Server {
	t.Helper()
	opts.Token = testToken
	s := NewTest(t, opts)
	t.Cleanup(func() { checkedTotal.Add(int64(s.Checked())) })
	return s
}

// newLooseSim starts a simulator for tests that send what the spec forbids
// on purpose; they assert the violations themselves.
func newLooseSim(t *testing.T, opts Options) *Server {
	t.Helper()
	opts.Token = testToken
	opts.Logf = t.Logf
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		checkedTotal.Add(int64(s.Checked()))
	})
	return s
}

// client is a godo client the way the provider builds one: oauth2 transport,
// retries with backoff, base URL pointing at the simulator.
func client(t *testing.T, s *Server, token string) *godo.Client {
	t.Helper()
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
	hc.Timeout = 30 * time.Second
	wmin, wmax := 0.01, 2.0
	c, err := godo.New(hc,
		godo.SetBaseURL(s.URL()+"/"),
		godo.WithRetryAndBackoffs(godo.RetryConfig{RetryMax: 4, RetryWaitMin: &wmin, RetryWaitMax: &wmax}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// status is the HTTP status of a godo error (0 if none).
func status(err error) int {
	var er *godo.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		return er.Response.StatusCode
	}
	return 0
}

// wantStatus fails unless err is an API error with this status.
func wantStatus(t *testing.T, err error, code int, what string) {
	t.Helper()
	if got := status(err); got != code {
		t.Fatalf("%s: want HTTP %d, got %d (%v)", what, code, got, err)
	}
}

// raw sends one request with the test token and decodes the JSON answer.
func raw(t *testing.T, s *Server, method, path, body string) (*http.Response, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if len(bytes.TrimSpace(b)) > 0 {
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v: %s", method, path, err, b)
		}
	}
	return resp, v
}

// waitAction polls an action until it leaves in-progress.
func waitAction(t *testing.T, c *godo.Client, id int) *godo.Action {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		a, _, err := c.Actions.Get(ctx(t), id)
		if err != nil {
			t.Fatalf("get action %d: %v", id, err)
		}
		if a.Status != "in-progress" {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("action %d (%s) still in progress after 10s", id, a.Type)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasViolation reports whether a recorded violation contains every part.
func hasViolation(s *Server, parts ...string) bool {
	for _, v := range s.Violations() {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(v, p)
		}
		if all {
			return true
		}
	}
	return false
}

func asErr(err error, target **godo.ErrorResponse) bool { return errors.As(err, target) }
