package edge

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/net/http2"
)

// echoServer is a websocket upstream that echoes every message, prefixed
// with the path it was opened on.
func echoServer(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{Subprotocols: []string{"v1.kernel.websocket.jupyter.org"}})
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil {
				return
			}
			if err := c.Write(context.Background(), typ, append([]byte(r.URL.Path+" "), msg...)); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (te *testEdge) dialWS(ctx context.Context, url string) *websocket.Conn {
	te.t.Helper()
	c, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPClient:   &http.Client{Transport: te.transport(false)},
		Subprotocols: []string{"v1.kernel.websocket.jupyter.org"},
		HTTPHeader:   http.Header{"Origin": {"https://hub.test"}},
	})
	if err != nil {
		te.t.Fatalf("dial %s: %v", url, err)
	}
	if resp.Header.Get("Sec-Websocket-Protocol") != "v1.kernel.websocket.jupyter.org" {
		te.t.Errorf("subprotocol not negotiated through the edge: %q", resp.Header.Get("Sec-Websocket-Protocol"))
	}
	c.SetReadLimit(1 << 20)
	te.t.Cleanup(func() { c.CloseNow() })
	return c
}

func echo(t *testing.T, c *websocket.Conn, msg, wantPrefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	_, got, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != wantPrefix+" "+msg {
		t.Fatalf("echo = %q, want %q", got, wantPrefix+" "+msg)
	}
}

// TestWebsocketAnyPathAndIdle: upgrades work on any path, and a socket idle
// for far longer than every server timeout (the slow-body cut-off
// included) still works, because the edge sets no deadline on upgraded
// connections.
func TestWebsocketAnyPathAndIdle(t *testing.T) {
	up := echoServer(t)
	te := startEdge(t, fmt.Sprintf(`limits: {read_header_timeout: 100ms, idle_timeout: 100ms, body_timeout: 100ms, body_min_rate: 1000000}
hub: {hosts: [hub.test], mode: upstream, upstream: %q}
`, up.URL))
	ctx := context.Background()
	for _, path := range []string{"/user/alice/api/kernels/1/channels", "/user/alice/terminals/websocket/1", "/services/collab/x", "/"} {
		c := te.dialWS(ctx, "wss://hub.test"+path)
		echo(t, c, "hello", path)
	}
	c := te.dialWS(ctx, "wss://hub.test/user/alice/api/kernels/2/channels")
	echo(t, c, "before", "/user/alice/api/kernels/2/channels")
	// Larger than the idle buffer: the copy switches to pooled buffers.
	echo(t, c, strings.Repeat("0123456789", 50<<10), "/user/alice/api/kernels/2/channels")
	time.Sleep(time.Second) // 10x read_header_timeout and idle_timeout
	echo(t, c, "after idling", "/user/alice/api/kernels/2/channels")
	c.Close(websocket.StatusNormalClosure, "")
}

// TestWebsocketH2ClientsFallBack: without GODEBUG=http2xconnect=1 the edge
// does not advertise RFC 8441, so an HTTP/2 client cannot try websockets
// over h2 (browsers then open an HTTP/1.1 connection, as below).
func TestWebsocketH2ClientsFallBack(t *testing.T) {
	if strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		t.Skip("extended CONNECT is on in this process; TestWebsocketOverHTTP2 covers it")
	}
	up := echoServer(t)
	te := startEdge(t, fmt.Sprintf("hub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", up.URL))
	_, err := extendedConnect(te, "/user/alice/api/kernels/1/channels")
	if err == nil || !strings.Contains(err.Error(), "extended connect not supported") {
		t.Fatalf("h2 extended CONNECT: err %v, want 'not supported by peer' (the server must not advertise it)", err)
	}
	// Plain h2 requests still work on the same listener...
	resp, err := (&http.Client{Transport: te.transport(true)}).Get("https://hub.test/hub/api")
	if err != nil || resp.ProtoMajor != 2 {
		t.Fatalf("h2 GET: %v %v", resp, err)
	}
	resp.Body.Close()
	// ...and the websocket falls back to HTTP/1.1.
	echo(t, te.dialWS(context.Background(), "wss://hub.test/user/alice/api/kernels/1/channels"), "fallback", "/user/alice/api/kernels/1/channels")
}

// TestWebsocketOverHTTP2 runs the RFC 8441 bridge in a child test process
// with GODEBUG=http2xconnect=1 (Go reads it once at start-up).
func TestWebsocketOverHTTP2(t *testing.T) {
	if !strings.Contains(os.Getenv("GODEBUG"), "http2xconnect=1") {
		cmd := exec.Command(os.Args[0], "-test.run=^TestWebsocketOverHTTP2$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "GODEBUG=http2xconnect=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestWebsocketOverHTTP2") {
			t.Fatalf("child with GODEBUG=http2xconnect=1: %v\n%s", err, out)
		}
		return
	}
	up := echoServer(t)
	// The stream is a request body to net/http: the slow-body cut-off must
	// leave it alone.
	te := startEdge(t, fmt.Sprintf(`limits: {idle_timeout: 100ms, body_timeout: 100ms, body_min_rate: 1000000}
hub: {hosts: [hub.test], mode: upstream, upstream: %q}
`, up.URL))
	s, err := extendedConnect(te, "/user/alice/api/kernels/1/channels")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	if s.resp.StatusCode != 200 || s.resp.ProtoMajor != 2 {
		t.Fatalf("extended CONNECT answered %s %d", s.resp.Proto, s.resp.StatusCode)
	}
	if got := s.resp.Header.Get("Sec-Websocket-Protocol"); got != "v1.kernel.websocket.jupyter.org" {
		t.Errorf("subprotocol %q", got)
	}
	for _, msg := range []string{"over h2", "after idling"} {
		if msg == "after idling" {
			time.Sleep(500 * time.Millisecond)
		}
		if err := s.writeText(msg); err != nil {
			t.Fatal(err)
		}
		got, err := s.readText()
		if err != nil {
			t.Fatal(err)
		}
		if want := "/user/alice/api/kernels/1/channels " + msg; got != want {
			t.Fatalf("echo %q, want %q", got, want)
		}
	}
}

// h2Socket is a minimal RFC 6455 client over an RFC 8441 stream: enough
// framing for unfragmented text messages.
type h2Socket struct {
	resp *http.Response
	w    *io.PipeWriter
	r    *bufio.Reader
}

func extendedConnect(te *testEdge, path string) (*h2Socket, error) {
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodConnect, "https://hub.test"+path, pr)
	if err != nil {
		return nil, err
	}
	req.Header.Set(":protocol", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Protocol", "v1.kernel.websocket.jupyter.org")
	req.Header.Set("Origin", "https://hub.test")
	ctx := context.Background()
	// net/http's Transport rejects the ":protocol" pseudo-header before
	// HTTP/2 sees it; x/net's HTTP/2 transport speaks RFC 8441.
	tr := &http2.Transport{
		TLSClientConfig: &tls.Config{RootCAs: te.roots, NextProtos: []string{"h2"}},
		DialTLSContext: func(ctx context.Context, network, _ string, cfg *tls.Config) (net.Conn, error) {
			d := &tls.Dialer{Config: cfg}
			return d.DialContext(ctx, network, te.httpsAddr)
		},
	}
	te.t.Cleanup(tr.CloseIdleConnections)
	resp, err := tr.RoundTrip(req.WithContext(ctx))
	if err != nil {
		pw.Close()
		return nil, err
	}
	return &h2Socket{resp: resp, w: pw, r: bufio.NewReader(resp.Body)}, nil
}

func (s *h2Socket) close() {
	s.w.Close()
	s.resp.Body.Close()
}

func (s *h2Socket) writeText(msg string) error {
	if len(msg) > 125 {
		return errors.New("test client only sends short frames")
	}
	var mask [4]byte
	rand.Read(mask[:])
	frame := []byte{0x81, 0x80 | byte(len(msg))}
	frame = append(frame, mask[:]...)
	for i := 0; i < len(msg); i++ {
		frame = append(frame, msg[i]^mask[i%4])
	}
	_, err := s.w.Write(frame)
	return err
}

func (s *h2Socket) readText() (string, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
		return "", err
	}
	if hdr[0] != 0x81 || hdr[1]&0x80 != 0 {
		return "", fmt.Errorf("unexpected frame header %x", hdr)
	}
	n := int(hdr[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(s.r, ext[:]); err != nil {
			return "", err
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	}
	buf := make([]byte, n)
	_, err := io.ReadFull(s.r, buf)
	return string(buf), err
}

// TestWebsocketUpgradeHeadersAndRefusal: the upgrade request carries the
// edge's forwarding headers and no client hop-by-hop ones, an upstream that
// refuses the upgrade has its answer relayed, and a refusal cut short does
// not reach the client looking complete.
func TestWebsocketUpgradeHeadersAndRefusal(t *testing.T) {
	var mu sync.Mutex
	var seen http.Header
	var seenHost string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen, seenHost = r.Header.Clone(), r.Host
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/denied") {
			http.Error(w, "no kernel for you", http.StatusForbidden)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/cut") {
			// Chunked, and the connection drops before the last chunk.
			w.WriteHeader(http.StatusForbidden)
			if _, err := io.WriteString(w, "no kernel"); err != nil {
				return
			}
			if err := http.NewResponseController(w).Flush(); err != nil {
				return
			}
			panic(http.ErrAbortHandler)
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c.Close(websocket.StatusNormalClosure, "bye")
	}))
	defer up.Close()
	te := startEdge(t, fmt.Sprintf("hub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", up.URL))

	conn := te.tlsConn("hub.test")
	fmt.Fprint(conn, "GET /denied HTTP/1.1\r\nHost: hub.test:443\r\nConnection: Upgrade, X-Hop\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nX-Hop: 1\r\nX-Forwarded-For: 6.6.6.6\r\nX-Real-IP: 6.6.6.6\r\nOrigin: https://hub.test\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "no kernel for you") {
		t.Errorf("refused upgrade: %d %q, want the upstream's 403", resp.StatusCode, body)
	}
	mu.Lock()
	if seenHost != "hub.test:443" || seen.Get("X-Hop") != "" || seen.Get("X-Forwarded-For") != "127.0.0.1" ||
		seen.Get("X-Real-Ip") != "127.0.0.1" || seen.Get("X-Forwarded-Proto") != "https" || seen.Get("Origin") != "https://hub.test" ||
		seen.Get("Upgrade") != "websocket" || seen.Get("Sec-Websocket-Key") != "dGhlIHNhbXBsZSBub25jZQ==" {
		t.Errorf("upgrade request at the upstream: host %q headers %v", seenHost, seen)
	}
	mu.Unlock()

	conn = te.tlsConn("hub.test")
	if err := conn.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(conn, "GET /cut HTTP/1.1\r\nHost: hub.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
		if body, err := io.ReadAll(resp.Body); err == nil {
			t.Errorf("refusal cut short by the upstream: %d %q arrived looking complete", resp.StatusCode, body)
		}
	}

	// The upstream closing the socket reaches the client as a close frame.
	c := te.dialWSPlain(context.Background(), "wss://hub.test/closing")
	_, _, err = c.Read(context.Background())
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("read after upstream close: %v, want a normal closure", err)
	}
}

func (te *testEdge) dialWSPlain(ctx context.Context, url string) *websocket.Conn {
	te.t.Helper()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: &http.Client{Transport: te.transport(false)}})
	if err != nil {
		te.t.Fatalf("dial %s: %v", url, err)
	}
	te.t.Cleanup(func() { c.CloseNow() })
	return c
}
