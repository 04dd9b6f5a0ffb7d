package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

var kib = strings.Repeat("x", 1024)

func benchUpstream(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, kib)
	}))
	b.Cleanup(srv.Close)
	return srv
}

func benchEdge(b *testing.B, accessLog bool) *testEdge {
	up := benchUpstream(b)
	te := startEdge(b, fmt.Sprintf(`log: {access: %v}
hub: {hosts: [hub.test], mode: chp-api, api_token_file: "{{dir}}/token", default_target: %q}
`, accessLog, up.URL))
	return te
}

func discardLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }

// discardWriter is a minimal ResponseWriter so the handler benchmark
// measures the edge and the upstream round trip, not a client.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Flush()                      {}

// BenchmarkProxyHandler is the per-request hot path: vhost, route lookup,
// rewrite, upstream keep-alive round trip, copy. allocs/op is the number
// to watch.
func BenchmarkProxyHandler(b *testing.B) {
	for _, logOn := range []bool{false, true} {
		b.Run(fmt.Sprintf("accesslog=%v", logOn), func(b *testing.B) {
			te := benchEdge(b, logOn)
			te.srv.access = discardLogger()
			serve := te.srv.withState(te.srv.serveHTTPS)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				w := &discardWriter{h: make(http.Header)}
				req := httptest.NewRequest("GET", "https://hub.test/user/alice/api/contents", nil)
				req.RemoteAddr = "127.0.0.1:40000"
				for pb.Next() {
					clear(w.h)
					serve(w, req)
				}
			})
		})
	}
}

// BenchmarkProxyKeepAliveHTTPS is end to end: 64 keep-alive HTTP/1.1 TLS
// clients through the edge to a 1 KiB upstream, all in this process.
func BenchmarkProxyKeepAliveHTTPS(b *testing.B) {
	te := benchEdge(b, false)
	tr := te.transport(false)
	tr.MaxIdleConnsPerHost = 64
	c := &http.Client{Transport: tr}
	b.SetParallelism(32)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := c.Get("https://hub.test/user/alice/api/contents")
			if err != nil {
				b.Error(err)
				return
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkRouteLookup(b *testing.B) {
	tab := newRouteTable()
	tab.set(&route{prefix: "/"})
	for i := 0; i < 1000; i++ {
		tab.set(&route{prefix: fmt.Sprintf("/user/u%d", i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		if tab.lookup("hub.test", "/user/u500/api/kernels/abc/channels") == nil {
			b.Fatal("no route")
		}
	}
}

// BenchmarkProxyWebsocketEcho: one small message round trip through the
// edge's upgrade path on an open websocket.
func BenchmarkProxyWebsocketEcho(b *testing.B) {
	up := echoServer(b)
	te := startEdge(b, fmt.Sprintf("log: {access: false}\nhub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", up.URL))
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, "wss://hub.test/ws", &websocket.DialOptions{HTTPClient: &http.Client{Transport: te.transport(false)}})
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	msg := []byte(strings.Repeat("m", 128))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleWebsocketsRSS builds jhub-edge, opens 1000 websockets
// through it, leaves them idle and reports the edge process's resident
// memory per socket (run with -benchtime=1x).
func BenchmarkIdleWebsocketsRSS(b *testing.B) {
	const sockets = 1000
	bin := filepath.Join(b.TempDir(), "jhub-edge")
	build := exec.Command("go", "build", "-o", bin, "../cmd/jhub-edge")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	up := echoServer(b)
	dir := prepareDir(b)
	httpsAddr := freeLoopbackAddr(b)
	cfg := writeConfig(b, dir, fmt.Sprintf("log: {access: false, level: warn}\nhub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", up.URL))
	data, err := os.ReadFile(cfg)
	if err != nil {
		b.Fatal(err)
	}
	data = []byte(strings.Replace(string(data), `https: "127.0.0.1:0"`, fmt.Sprintf("https: %q", httpsAddr), 1))
	if err := os.WriteFile(cfg, data, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "-config", cfg)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, httpsAddr)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}},
	}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	ctx := context.Background()
	var first *websocket.Conn
	for deadline := time.Now().Add(10 * time.Second); first == nil; time.Sleep(50 * time.Millisecond) {
		first, _, _ = websocket.Dial(ctx, "wss://hub.test/ws", &websocket.DialOptions{HTTPClient: client})
		if time.Now().After(deadline) {
			b.Fatal("edge did not come up")
		}
	}
	base := rssKiB(b, cmd.Process.Pid)
	conns := []*websocket.Conn{first}
	for len(conns) < sockets {
		c, _, err := websocket.Dial(ctx, "wss://hub.test/ws", &websocket.DialOptions{HTTPClient: client})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.Read(ctx); err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	time.Sleep(2 * time.Second)
	total := rssKiB(b, cmd.Process.Pid)
	b.ReportMetric(float64(total), "RSS-KiB")
	b.ReportMetric(float64(total-base)/sockets, "KiB/socket")
	for _, c := range conns {
		c.CloseNow()
	}
}

func rssKiB(b *testing.B, pid int) int {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int
			if _, err := fmt.Sscan(v, &kib); err != nil {
				b.Fatalf("VmRSS:%s: %v", v, err)
			}
			return kib
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

func freeLoopbackAddr(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
