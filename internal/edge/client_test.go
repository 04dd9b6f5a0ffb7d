package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":                 "203.0.113.7",
		"::ffff:203.0.113.7":          "203.0.113.7",
		"2001:db8:1:2:3:4:5:6":        "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":        "2001:db8:1:2::/64",
		"fe80::1%eth0":                "fe80::/64",
		"2001:db8:1:3::1":             "2001:db8:1:3::/64",
		"::1":                         "::/64",
		"2001:db8:abcd:12:0:0:0:8a2e": "2001:db8:abcd:12::/64",
	} {
		if got := clientKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("clientKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// dialFrom opens a TLS connection to the edge from a given loopback
// address (all of 127/8 is local on Linux, no privileges needed) and
// reports whether the handshake completed.
func (te *testEdge) dialFrom(src string) (*tls.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", te.httpsAddr, &tls.Config{RootCAs: te.roots, ServerName: "hub.test"})
	if err == nil {
		te.t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// TestConnCapPerClient: beyond limits.max_conns_per_client a client's new
// connections (HTTPS and HTTP alike) are closed before the TLS handshake,
// other clients are unaffected, a closed connection frees its slot, and the
// refusals make one log line, not one each.
func TestConnCapPerClient(t *testing.T) {
	hub := newUpstream(t, "hub")
	te := startEdge(t, fmt.Sprintf("limits: {max_conns_per_client: 3}\nhub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", hub.URL))
	var open []*tls.Conn
	for i := 0; i < 3; i++ {
		c, err := te.dialFrom("127.0.0.1")
		if err != nil {
			t.Fatalf("connection %d under the cap: %v", i, err)
		}
		open = append(open, c)
	}
	for i := 0; i < 5; i++ {
		if _, err := te.dialFrom("127.0.0.1"); err == nil {
			t.Fatalf("connection %d over the cap completed its TLS handshake", 4+i)
		}
	}
	if c, err := net.DialTimeout("tcp", te.httpAddr, 5*time.Second); err == nil {
		if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		// May fail: the edge closes such connections on accept.
		_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: hub.test\r\n\r\n")
		if n, _ := c.Read(make([]byte, 1)); n != 0 {
			t.Error("plain HTTP answered a client over the cap")
		}
		c.Close()
	}
	// Another client address is another client.
	if _, err := te.dialFrom("127.0.0.2"); err != nil {
		t.Errorf("a second client was refused: %v", err)
	}
	// The first client's connections still work; closing one frees a slot.
	writeRaw(t, open[0], "GET /x HTTP/1.1\r\nHost: hub.test\r\n\r\n")
	if n, err := open[0].Read(make([]byte, 64)); n == 0 {
		t.Errorf("an admitted connection stopped working: %v", err)
	}
	open[1].Close()
	te.waitAdmitted("127.0.0.1", "the slot of a closed connection")
	if n := strings.Count(te.logs.String(), "connections refused"); n != 1 {
		t.Errorf("%d log lines about refused connections, want 1 (rate-limited):\n%s", n, te.logs.String())
	}
}

// TestConnCapCountsWebsockets: an upgraded connection keeps its slot for
// as long as it lives, and gives it back when it ends.
func TestConnCapCountsWebsockets(t *testing.T) {
	up := echoServer(t)
	te := startEdge(t, fmt.Sprintf("limits: {max_conns_per_client: 1}\nhub: {hosts: [hub.test], mode: upstream, upstream: %q}\n", up.URL))
	ctx := context.Background()
	ws := te.dialWS(ctx, "wss://hub.test/user/alice/api/kernels/1/channels")
	echo(t, ws, "hi", "/user/alice/api/kernels/1/channels")
	if _, err := te.dialFrom("127.0.0.1"); err == nil {
		t.Fatal("a second connection was admitted while the websocket holds the only slot")
	}
	ws.CloseNow()
	te.waitAdmitted("127.0.0.1", "the websocket's slot")
}

// waitAdmitted dials from src until the edge admits it: the edge frees a
// slot when it notices the client's close, not at once.
func (te *testEdge) waitAdmitted(src, what string) {
	te.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := te.dialFrom(src)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			te.t.Fatalf("%s was not freed: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
