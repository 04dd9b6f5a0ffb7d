package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWebsocketEcho runs the benchmark's client against its echo server over
// TLS, with payload sizes covering the three frame length encodings.
func TestWebsocketEcho(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(wsEcho))
	defer srv.Close()
	c, err := dialWS("wss://"+srv.Listener.Addr().String()+"/ws", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.conn.Close()
	var buf []byte
	for _, n := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
		msg := bytes.Repeat([]byte{byte(n)}, n)
		if buf, err = c.roundTrip(msg, make([]byte, n), buf); err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
	}
}

func TestUpgradeRefused(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	if _, err := dialWS("ws://"+srv.Listener.Addr().String()+"/ws", 5*time.Second); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("err = %v, want the refusal with its status", err)
	}
}

func TestReport(t *testing.T) {
	dir := t.TempDir()
	raw := "round,proxy,metric,value\n" +
		"1,nginx,https_ka_rps,100\n2,nginx,https_ka_rps,300\n3,nginx,https_ka_rps,200\n" +
		"1,edge,https_ka_rps,150\n2,edge,https_ka_rps,250\n3,edge,https_ka_rps,400\n" +
		"1,nginx,rss_1000ws_mib,60\n1,edge,rss_1000ws_mib,90\n" +
		"1,nginx,dl_https_mib_s,100\n1,caddy,dl_https_mib_s,500\n1,edge,dl_https_mib_s,550\n"
	csvPath := filepath.Join(dir, "raw.csv")
	out := filepath.Join(dir, "RESULTS.md")
	if err := os.WriteFile(csvPath, []byte(raw), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := report([]string{"-csv", csvPath, "-out", out}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	md := string(b)
	for _, want := range []string{
		"Medians over 3 interleaved rounds",
		"| HTTPS keep-alive req/s (1 KiB, 64 conns) | 250 (1.25×) | 200 |",          // medians 250 and 200
		"≥ 1.0× nginx | 250 | 200 (1.25×) | yes |",                                  // target met
		"≤ 1.0× nginx | 90.00 | 60.00 (1.50×) | **no** |",                           // RSS: lower is better
		"≥ 1.2× best peer (caddy) | 550 | 500 (1.10×) | **no** |",                   // best peer, not nginx
		"| HTTP keep-alive req/s (1 KiB, 64 conns) | n/a | n/a | n/a | n/a | n/a |", // never measured
		"| new TLS handshakes/s (Connection: close): ≥ 1.0× nginx | n/a | n/a | not measured |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}
