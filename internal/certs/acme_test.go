package certs_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/certs"
	"github.com/classhub/terraform-provider-jhub/internal/certs/pebbletest"
	"github.com/classhub/terraform-provider-jhub/internal/labdns"
)

// edgeStub listens like the edge does on the ports Pebble validates: HTTP with
// the challenge handler in front of a 404, TLS with the manager's config. It
// counts what reached the manager's handlers, to prove they answered.
type edgeStub struct {
	httpChallenges atomic.Int32 // /.well-known/acme-challenge/ requests
	alpnHellos     atomic.Int32 // ClientHellos offering acme-tls/1
}

func startEdgeStub(t *testing.T, m *certs.Manager, p *pebbletest.Server) *edgeStub {
	t.Helper()
	e := &edgeStub{}
	quiet := log.New(io.Discard, "", 0)

	hl, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.HTTPPort))
	if err != nil {
		t.Fatal(err)
	}
	h := m.HTTPChallengeHandler(http.NotFoundHandler())
	hs := &http.Server{ErrorLog: quiet, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
			e.httpChallenges.Add(1)
		}
		h.ServeHTTP(w, r)
	})}
	go func() { _ = hs.Serve(hl) }() // ErrServerClosed at cleanup

	tl, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p.TLSPort))
	if err != nil {
		t.Fatal(err)
	}
	cfg := m.TLSConfig()
	get := cfg.GetCertificate
	cfg.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if slices.Contains(hello.SupportedProtos, "acme-tls/1") {
			e.alpnHellos.Add(1)
		}
		return get(hello)
	}
	ts := &http.Server{ErrorLog: quiet, TLSConfig: cfg, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000")
		_, _ = io.WriteString(w, "ok")
	})}
	go func() { _ = ts.ServeTLS(tl, "", "") }() // ErrServerClosed at cleanup
	t.Cleanup(func() { hs.Close(); ts.Close() })
	return e
}

func acmeConfig(p *pebbletest.Server, dir, challenge string, hosts ...string) certs.Config {
	return certs.Config{Mode: certs.ModeACME, Hosts: hosts, StorageDir: dir, ACME: certs.ACMEConfig{
		Email: "admin@jhub.test", DirectoryURL: p.DirectoryURL, CARootFile: p.CARootFile,
		Challenges: []string{challenge}, HTTPPort: p.HTTPPort, TLSPort: p.TLSPort,
	}}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// issue runs ManageSync and returns how long issuance took.
func issue(t *testing.T, m *certs.Manager, p *pebbletest.Server) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	if err := m.ManageSync(ctx); err != nil {
		t.Fatalf("ManageSync: %v\npebble log:\n%s", err, p.Log())
	}
	return time.Since(start)
}

// verifyServed checks that the TLS port serves host a P-256 leaf that chains
// to Pebble's issuing root, and returns the leaf.
func verifyServed(t *testing.T, p *pebbletest.Server, host string) *x509.Certificate {
	t.Helper()
	st, err := handshake(fmt.Sprintf("127.0.0.1:%d", p.TLSPort), &tls.Config{ServerName: host, RootCAs: p.Roots(t)})
	if err != nil {
		t.Fatalf("served certificate for %s does not verify against Pebble's /roots/0: %v", host, err)
	}
	leaf := st.PeerCertificates[0]
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("ACME leaf key %T, want ECDSA P-256", leaf.PublicKey)
	}
	return leaf
}

// newACME is certs.New for c, closed at test end, behind an edge stub.
func newACME(t *testing.T, p *pebbletest.Server, c certs.Config) (*certs.Manager, *edgeStub) {
	t.Helper()
	m, err := certs.New(context.Background(), c, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, startEdgeStub(t, m, p)
}

func TestACMEHTTP01AndTLSALPN01(t *testing.T) {
	for _, tc := range []struct{ challenge, host string }{
		{certs.ChallengeHTTP01, "http01.jhub.test"},
		{certs.ChallengeTLSALPN01, "alpn.jhub.test"},
	} {
		t.Run(tc.challenge, func(t *testing.T) {
			p := pebbletest.Start(t)
			p.AddA(t, tc.host)
			dir := filepath.Join(t.TempDir(), "store")
			m, e := newACME(t, p, acmeConfig(p, dir, tc.challenge, tc.host))
			took := issue(t, m, p)
			t.Logf("%s issuance took %v", tc.challenge, took.Round(time.Millisecond))
			verifyServed(t, p, tc.host)
			// Pebble's validation must have reached the manager's own handler
			// for this challenge (HTTPChallengeHandler or TLSConfig), and only that.
			viaHTTP, viaALPN := e.httpChallenges.Load() > 0, e.alpnHellos.Load() > 0
			if viaHTTP != (tc.challenge == certs.ChallengeHTTP01) || viaALPN != (tc.challenge == certs.ChallengeTLSALPN01) {
				t.Fatalf("validated through HTTPChallengeHandler: %v, through TLSConfig (acme-tls/1): %v", viaHTTP, viaALPN)
			}
			assertPrivate(t, dir)
		})
	}
}

func TestACMEDNS01DigitalOcean(t *testing.T) {
	// The TXT records go through the DigitalOcean simulator; the lab's DNS
	// server answers from it, and Pebble resolves through that server.
	sim := newSim(t, "jhub.test", "unrelated.test")
	ns, err := labdns.Start("127.0.0.1:0", sim)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	p := pebbletest.StartWith(t, pebbletest.Options{DNSServer: ns.Addr()})
	hosts := []string{"dns01.jhub.test", "*.dns01.jhub.test"} // a wildcard needs DNS-01

	dir := filepath.Join(t.TempDir(), "store")
	c := acmeConfig(p, dir, certs.ChallengeDNS01, hosts...)
	c.ACME.DNS = certs.DNSConfig{TokenFile: tokenFile(t, doToken), APIURL: sim.URL() + "/",
		Resolvers: []string{ns.Addr()}, PropagationTimeout: 20 * time.Second}
	m, e := newACME(t, p, c)
	before := sim.Requests()
	took := issue(t, m, p)
	t.Logf("dns-01 issuance (2 names incl. wildcard) took %v", took.Round(time.Millisecond))
	verifyServed(t, p, hosts[0])
	verifyServed(t, p, "anything.dns01.jhub.test") // certmagic keeps one certificate per name: this is the wildcard's
	if sim.Requests() == before {
		t.Fatal("issuance made no DigitalOcean API requests")
	}
	if left := txtValues(sim, "jhub.test", "_acme-challenge.dns01"); len(left) != 0 {
		t.Fatalf("challenge TXT records left behind: %v", left)
	}
	if e.httpChallenges.Load() != 0 || e.alpnHellos.Load() != 0 {
		t.Fatal("dns-01 configuration also answered HTTP or TLS-ALPN challenges")
	}
	assertPrivate(t, dir)
}

func TestACMEExportImportReusesCertificate(t *testing.T) {
	p := pebbletest.Start(t)
	host := "rebuild.jhub.test"
	p.AddA(t, host)
	first := filepath.Join(t.TempDir(), "old-droplet")
	m, _ := newACME(t, p, acmeConfig(p, first, certs.ChallengeHTTP01, host))
	issue(t, m, p)
	want := verifyServed(t, p, host).SerialNumber
	m.Close()
	if n := p.Orders(); n != 1 {
		t.Fatalf("Pebble saw %d orders for the first issuance, want 1", n)
	}

	bundle, err := certs.Export(first)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(first); err != nil {
		t.Fatal(err)
	}
	second := filepath.Join(t.TempDir(), "new-droplet")
	if err := certs.Import(second, bundle); err != nil {
		t.Fatal(err)
	}
	assertPrivate(t, second)

	// A fresh process on the rebuilt machine: new listeners, same storage.
	m2, err := certs.New(context.Background(), acmeConfig(p, second, certs.ChallengeHTTP01, host), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	issue(t, m2, p)
	got := servedSerialVia(t, m2, host, p)
	if got.Cmp(want) != 0 {
		t.Fatalf("imported storage serves serial %v, want the exported %v", got, want)
	}
	if n := p.Orders(); n != 1 {
		t.Fatalf("Pebble saw %d orders after import, want still 1 (no re-issuance)", n)
	}
}

// servedSerialVia serves m on a fresh loopback port and verifies host's chain.
func servedSerialVia(t *testing.T, m *certs.Manager, host string, p *pebbletest.Server) *big.Int {
	t.Helper()
	st, err := handshake(serveTLS(t, m), &tls.Config{ServerName: host, RootCAs: p.Roots(t)})
	if err != nil {
		t.Fatal(err)
	}
	return st.PeerCertificates[0].SerialNumber
}

// TestACMERenewsAutomatically issues a short-lived certificate and waits for
// the manager to replace it on its own, as it must every 60 days in production.
// Pebble's renewal window (ARI) for such a certificate spans its whole life and
// certmagic picks a random time in it, so the replacement may come as late as
// the last second; it must be served by then (plus one issuance).
func TestACMERenewsAutomatically(t *testing.T) {
	p := pebbletest.StartWith(t, pebbletest.Options{CertValidity: 15 * time.Second})
	host := "renew.jhub.test"
	p.AddA(t, host)
	c := acmeConfig(p, filepath.Join(t.TempDir(), "store"), certs.ChallengeHTTP01, host)
	c.ReloadInterval = time.Second
	m, _ := newACME(t, p, c)
	issue(t, m, p)
	first := verifyServed(t, p, host)
	addr := fmt.Sprintf("127.0.0.1:%d", p.TLSPort)
	deadline := first.NotAfter.Add(5 * time.Second)
	for servedSerial(t, addr, host).Cmp(first.SerialNumber) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("certificate expiring %s not renewed\npebble log:\n%s", first.NotAfter, p.Log())
		}
		time.Sleep(250 * time.Millisecond)
	}
	renewed := verifyServed(t, p, host)
	t.Logf("renewed %s after issuance, %s before expiry; Pebble orders: %d",
		time.Since(first.NotBefore).Round(time.Second), time.Until(first.NotAfter).Round(time.Second), p.Orders())
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Fatalf("new certificate expires %s, not after the old one's %s", renewed.NotAfter, first.NotAfter)
	}
}
