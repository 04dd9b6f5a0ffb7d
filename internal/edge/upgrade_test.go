package edge

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// slowKernel is a websocket upstream that answers an upgrade only after
// delay, as jupyter-server does for a kernel's channels while the kernel
// is still starting: it waits for the kernel to be alive and to answer
// kernel_info (up to kernel_info_timeout, 60 s, for each) before the 101.
// Every upgrade request whose connection the edge dropped before the
// answer is reported on gone.
func slowKernel(t testing.TB, delay time.Duration) (*httptest.Server, <-chan struct{}) {
	gone := make(chan struct{}, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
			gone <- struct{}{}
			return
		case <-time.After(delay):
		}
		serveEcho(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, gone
}

// TestWebsocketKernelSlowToAnswer replays the one failure of the N = 60
// lecture (bench/results/lecture/after-timeouts-n60.json: a student's kernel
// websocket got 502 from the edge): a student's route is added amid a burst
// of route additions, and the student's server answers the kernel
// websocket's upgrade only after 31 s, as jupyter-server does while the
// kernel starts on a saturated machine. With the edge's former 30 s
// handshake bound this was a 502; with the default limits it must connect.
func TestWebsocketKernelSlowToAnswer(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 31 s for the upstream's answer")
	}
	t.Parallel()
	hub := newUpstream(t, "hub")
	kernel, _ := slowKernel(t, 31*time.Second)
	others := echoServer(t)
	te := startEdge(t, chpConfig(""))
	if resp, body := te.apiDo("POST", "/api/routes/", fmt.Sprintf(`{"hub": true, "target": %q, "jupyterhub": true}`, hub.URL)); resp.StatusCode != 201 {
		t.Fatalf("add hub route: %d %s", resp.StatusCode, body)
	}
	// The lecture's burst: the hub adds a route per spawn, before and
	// while this student's kernel starts.
	burst := func(from, to int) {
		for i := from; i < to; i++ {
			if resp, body := te.apiDo("POST", fmt.Sprintf("/api/routes/user/s%02d", i), fmt.Sprintf(`{"user": "s%02d", "target": %q, "jupyterhub": true}`, i, others.URL)); resp.StatusCode != 201 {
				t.Errorf("add route s%02d: %d %s", i, resp.StatusCode, body)
			}
		}
	}
	burst(0, 30)
	if resp, body := te.apiDo("POST", "/api/routes/user/a37", fmt.Sprintf(`{"user": "a37", "target": %q, "jupyterhub": true}`, kernel.URL)); resp.StatusCode != 201 {
		t.Fatalf("add route a37: %d %s", resp.StatusCode, body)
	}
	churned := make(chan struct{})
	go func() {
		defer close(churned)
		burst(30, 60)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	c := te.dialWS(ctx, "wss://hub.test/user/a37/api/kernels/k1/channels")
	if waited := time.Since(start); waited < 31*time.Second {
		t.Errorf("the upgrade was answered after %v, before the upstream's 31 s", waited)
	}
	echo(t, c, "print(6 * 7)", "/user/a37/api/kernels/k1/channels")
	<-churned
	echo(t, te.dialWS(ctx, "wss://hub.test/user/s59/api/kernels/k2/channels"), "after the burst", "/user/s59/api/kernels/k2/channels")
}

// TestWebsocketUpgradeTimeout: an upstream that never answers the upgrade
// gets limits.upgrade_timeout, then the client a 504 (a timeout, not a
// broken upstream) and the upstream's connection is closed.
func TestWebsocketUpgradeTimeout(t *testing.T) {
	kernel, gone := slowKernel(t, time.Hour)
	te := startEdge(t, fmt.Sprintf(`limits: {upgrade_timeout: 300ms}
hub: {hosts: [hub.test], mode: upstream, upstream: %q}
`, kernel.URL))
	conn := te.tlsConn("hub.test")
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	writeRaw(t, conn, "GET /user/a37/api/kernels/k1/channels HTTP/1.1\r\nHost: hub.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if took := time.Since(start); resp.StatusCode != http.StatusGatewayTimeout || took < 300*time.Millisecond || took > 5*time.Second {
		t.Errorf("upstream silent past upgrade_timeout 300ms: %d after %v, want 504 after 300ms", resp.StatusCode, took)
	}
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Error("the upstream's connection stayed open after the timeout")
	}
}

// TestWebsocketUpgradeClientLeaves: a client that gives up while a slow
// kernel has not answered yet frees the upstream connection at once, not
// after the (minutes long) upgrade timeout.
func TestWebsocketUpgradeClientLeaves(t *testing.T) {
	kernel, gone := slowKernel(t, time.Hour)
	te := startEdge(t, fmt.Sprintf("hub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", kernel.URL))
	conn := te.tlsConn("hub.test")
	writeRaw(t, conn, "GET /user/a37/api/kernels/k1/channels HTTP/1.1\r\nHost: hub.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	time.Sleep(300 * time.Millisecond) // the edge is waiting for the upstream now
	_ = conn.Close()
	select {
	case <-gone:
	case <-time.After(5 * time.Second):
		t.Error("the upstream's connection stayed open after the client left")
	}
}
