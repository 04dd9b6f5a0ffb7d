package edge

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

// bodyServer runs limitBody in front of handle on a real net/http server,
// over HTTP/1.1 or HTTP/2 (TLS), as the edge runs it.
func bodyServer(t *testing.T, h2 bool, lim edgeconfig.LimitsConfig, handle func(w http.ResponseWriter, r *http.Request)) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, finish := limitBody(w, r, &lim)
		defer finish()
		handle(w, r)
	}))
	srv.EnableHTTP2 = h2
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func protoName(h2 bool) string {
	if h2 {
		return "h2"
	}
	return "http1"
}

// trickle is a request body that sends one byte every gap, up to n bytes.
type trickle struct {
	n    int
	gap  time.Duration
	sent int
}

func (tr *trickle) Read(p []byte) (int, error) {
	if tr.sent >= tr.n {
		return 0, io.EOF
	}
	time.Sleep(tr.gap)
	p[0] = 'x'
	tr.sent++
	return 1, nil
}

var testBodyLimits = edgeconfig.LimitsConfig{BodyTimeout: 400 * time.Millisecond, BodyMinRate: 1000}

// TestSlowBodyCutOff: a body that stalls (1 byte/s) is cut after
// body_timeout; one that trickles with every gap under body_timeout but far
// below body_min_rate is cut once it has used up its grace. Both protocols.
func TestSlowBodyCutOff(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		for _, tc := range []struct {
			name string
			gap  time.Duration
		}{
			{"1 byte per s", time.Second},
			{"20 bytes per s", 50 * time.Millisecond},
		} {
			t.Run(protoName(h2)+" "+tc.name, func(t *testing.T) {
				type result struct {
					n   int64
					err error
					at  time.Duration
				}
				got := make(chan result, 1)
				start := time.Now()
				srv := bodyServer(t, h2, testBodyLimits, func(w http.ResponseWriter, r *http.Request) {
					n, err := io.Copy(io.Discard, r.Body)
					got <- result{n, err, time.Since(start)}
				})
				req, _ := http.NewRequest("POST", srv.URL, &trickle{n: 1000, gap: tc.gap})
				go func() {
					if resp, err := srv.Client().Do(req); err == nil {
						resp.Body.Close()
					}
				}()
				select {
				case r := <-got:
					if !errors.Is(r.err, errBodyTooSlow) {
						t.Fatalf("handler read %d bytes, err %v; want errBodyTooSlow", r.n, r.err)
					}
					// 400 ms of grace, plus 1 ms per byte earned.
					if r.at > 2*time.Second {
						t.Errorf("cut after %v, want within 2s", r.at)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("a trickling body was never cut off")
				}
			})
		}
	}
}

// TestSlowBodyClockStopsWhileTheEdgeIsBusy: time the handler spends
// elsewhere (an upstream slow to take the body) is not held against the
// client, and once the body is complete no deadline is left to cut the
// response or the connection's next request.
func TestSlowBodyClockStopsWhileTheEdgeIsBusy(t *testing.T) {
	lim := edgeconfig.LimitsConfig{BodyTimeout: 150 * time.Millisecond, BodyMinRate: 1000}
	pause := 3 * lim.BodyTimeout
	for _, h2 := range []bool{false, true} {
		t.Run(protoName(h2), func(t *testing.T) {
			srv := bodyServer(t, h2, lim, func(w http.ResponseWriter, r *http.Request) {
				first := make([]byte, 1024)
				if _, err := io.ReadFull(r.Body, first); err != nil {
					http.Error(w, "first read: "+err.Error(), 500)
					return
				}
				time.Sleep(pause) // busy, not reading
				n, err := io.Copy(io.Discard, r.Body)
				if err != nil {
					http.Error(w, "second read: "+err.Error(), 500)
					return
				}
				time.Sleep(pause) // the body is done: nothing may time out now
				if err := r.Context().Err(); err != nil {
					http.Error(w, "context: "+err.Error(), 500)
					return
				}
				_, _ = fmt.Fprint(w, 1024+n)
			})
			c := srv.Client()
			for i := 0; i < 2; i++ { // the second request reuses the connection
				resp, err := c.Post(srv.URL, "application/octet-stream", strings.NewReader(strings.Repeat("x", 64<<10)))
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != fmt.Sprint(64<<10) {
					t.Fatalf("request %d: %d %q", i, resp.StatusCode, b)
				}
			}
		})
	}
}

// TestSlowBodyUnreadIsBounded: when a handler answers without reading the
// body (401, a redirect, a static file), net/http drains it before it
// writes the answer; a trickling client cannot hold that up for longer
// than body_timeout.
func TestSlowBodyUnreadIsBounded(t *testing.T) {
	srv := bodyServer(t, false, testBodyLimits, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "401 unauthorized", http.StatusUnauthorized)
	})
	conn, err := tls.Dial("tcp", srv.Listener.Addr().String(), srv.Client().Transport.(*http.Transport).TLSClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	writeRaw(t, conn, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
	var mu sync.Mutex
	done := false
	go func() {
		for {
			mu.Lock()
			stop := done
			mu.Unlock()
			if stop {
				return
			}
			if _, err := conn.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	mu.Lock()
	done = true
	mu.Unlock()
	if took := time.Since(start); resp.StatusCode != 401 || took > 3*time.Second {
		t.Errorf("answer %d after %v; want 401 within 3s", resp.StatusCode, took)
	}
}

// TestEdgeCutsSlowUploads: through the edge, a trickling upload gets 408
// and the upstream's request ends too, instead of both being held.
func TestEdgeCutsSlowUploads(t *testing.T) {
	upErr := make(chan error, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		upErr <- err
	}))
	defer up.Close()
	te := startEdge(t, fmt.Sprintf(`limits: {body_timeout: 300ms, body_min_rate: 1000}
hub: {hosts: [hub.test], mode: chp-api, api_token_file: "{{dir}}/token", default_target: %q}
`, up.URL))
	conn := te.tlsConn("hub.test")
	start := time.Now()
	writeRaw(t, conn, "POST /user/alice/api/contents/x.bin HTTP/1.1\r\nHost: hub.test\r\nContent-Length: 1000\r\n\r\n")
	go func() {
		for i := 0; i < 1000; i++ {
			if _, err := conn.Write([]byte("x")); err != nil {
				return
			}
			time.Sleep(time.Second)
		}
	}()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != http.StatusRequestTimeout || took > 3*time.Second {
		t.Errorf("answer %d after %v; want 408 within 3s", resp.StatusCode, took)
	}
	select {
	case err := <-upErr:
		if err == nil {
			t.Error("the upstream read a complete body")
		}
	case <-time.After(5 * time.Second):
		t.Error("the upstream request was left hanging")
	}
}
