package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
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
	"golang.org/x/net/http2/hpack"
)

// echoServer is a websocket upstream that echoes every message, prefixed
// with the path it was opened on.
func echoServer(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(serveEcho))
	t.Cleanup(srv.Close)
	return srv
}

func serveEcho(w http.ResponseWriter, r *http.Request) {
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
	s, err := dialH2(te)
	if err != nil {
		t.Fatal(err)
	}
	if s.extendedConnect {
		t.Fatal("the server advertises SETTINGS_ENABLE_CONNECT_PROTOCOL without GODEBUG=http2xconnect=1")
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
	s, err := dialH2(te)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.connect("/user/alice/api/kernels/1/channels"); err != nil {
		t.Fatal(err)
	}
	if s.status != "200" {
		t.Fatalf("extended CONNECT answered %q", s.status)
	}
	if got := s.header.Get("Sec-Websocket-Protocol"); got != "v1.kernel.websocket.jupyter.org" {
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

// h2Socket is a minimal RFC 8441 client, one websocket on stream 1 of its
// own HTTP/2 connection, with enough RFC 6455 framing for unfragmented text
// messages. It speaks frames itself: net/http's client refuses the
// ":protocol" pseudo-header.
type h2Socket struct {
	conn *tls.Conn
	fr   *http2.Framer
	// extendedConnect: the server's SETTINGS enable RFC 8441.
	extendedConnect bool
	status          string
	header          http.Header
	data            bytes.Buffer // received on the stream, not yet read
	ended           bool
}

const h2WebsocketStream = 1

// dialH2 opens an HTTP/2 connection to the edge and reads its SETTINGS.
func dialH2(te *testEdge) (*h2Socket, error) {
	conn, err := tls.Dial("tcp", te.httpsAddr, &tls.Config{RootCAs: te.roots, ServerName: "hub.test", NextProtos: []string{"h2"}})
	if err != nil {
		return nil, err
	}
	te.t.Cleanup(func() { conn.Close() })
	if p := conn.ConnectionState().NegotiatedProtocol; p != "h2" {
		return nil, fmt.Errorf("ALPN chose %q, not h2", p)
	}
	if err := conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return nil, err
	}
	s := &h2Socket{conn: conn, fr: http2.NewFramer(conn, conn)}
	s.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		return nil, err
	}
	if err := s.fr.WriteSettings(); err != nil {
		return nil, err
	}
	f, err := s.fr.ReadFrame()
	if err != nil {
		return nil, err
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		return nil, fmt.Errorf("the server opened with %v, not SETTINGS", f)
	}
	v, _ := sf.Value(http2.SettingEnableConnectProtocol)
	s.extendedConnect = v == 1
	return s, s.fr.WriteSettingsAck()
}

// connect opens the websocket as a browser does and reads the answer.
func (s *h2Socket) connect(path string) error {
	if !s.extendedConnect {
		return errors.New("the server does not advertise SETTINGS_ENABLE_CONNECT_PROTOCOL")
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{
		{":method", "CONNECT"}, {":protocol", "websocket"}, {":scheme", "https"}, {":authority", "hub.test"}, {":path", path},
		{"sec-websocket-version", "13"}, {"sec-websocket-protocol", "v1.kernel.websocket.jupyter.org"}, {"origin", "https://hub.test"},
	} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			return err
		}
	}
	if err := s.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: h2WebsocketStream, BlockFragment: block.Bytes(), EndHeaders: true}); err != nil {
		return err
	}
	for s.header == nil {
		if err := s.readFrame(); err != nil {
			return err
		}
	}
	return nil
}

// readFrame handles one frame from the server.
func (s *h2Socket) readFrame() error {
	f, err := s.fr.ReadFrame()
	if err != nil {
		return err
	}
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if !f.IsAck() {
			return s.fr.WriteSettingsAck()
		}
	case *http2.PingFrame:
		if !f.IsAck() {
			return s.fr.WritePing(true, f.Data)
		}
	case *http2.GoAwayFrame:
		return fmt.Errorf("GOAWAY %v", f.ErrCode)
	case *http2.RSTStreamFrame:
		return fmt.Errorf("stream reset: %v", f.ErrCode)
	case *http2.MetaHeadersFrame:
		s.status = f.PseudoValue("status")
		s.header = http.Header{}
		for _, hf := range f.RegularFields() {
			s.header.Add(hf.Name, hf.Value)
		}
		s.ended = f.StreamEnded()
	case *http2.DataFrame:
		s.data.Write(f.Data())
		s.ended = f.StreamEnded()
		if n := uint32(len(f.Data())); n > 0 {
			if err := s.fr.WriteWindowUpdate(0, n); err != nil {
				return err
			}
			return s.fr.WriteWindowUpdate(h2WebsocketStream, n)
		}
	}
	return nil
}

// Read returns what the stream carried.
func (s *h2Socket) Read(b []byte) (int, error) {
	for s.data.Len() == 0 {
		if s.ended {
			return 0, io.EOF
		}
		if err := s.readFrame(); err != nil {
			return 0, err
		}
	}
	return s.data.Read(b)
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
	return s.fr.WriteData(h2WebsocketStream, false, frame)
}

func (s *h2Socket) readText() (string, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(s, hdr[:]); err != nil {
		return "", err
	}
	if hdr[0] != 0x81 || hdr[1]&0x80 != 0 {
		return "", fmt.Errorf("unexpected frame header %x", hdr)
	}
	n := int(hdr[1] & 0x7f)
	if n == 126 {
		var ext [2]byte
		if _, err := io.ReadFull(s, ext[:]); err != nil {
			return "", err
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	}
	buf := make([]byte, n)
	_, err := io.ReadFull(s, buf)
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
	writeRaw(t, conn, "GET /denied HTTP/1.1\r\nHost: hub.test:443\r\nConnection: Upgrade, X-Hop\r\nUpgrade: websocket\r\n"+
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
	writeRaw(t, conn, "GET /cut HTTP/1.1\r\nHost: hub.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
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
