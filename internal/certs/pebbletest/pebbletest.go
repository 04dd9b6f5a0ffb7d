// Package pebbletest runs Pebble (Let's Encrypt's test ACME CA) with
// pebble-challtestsrv as its DNS server on loopback, for tests that issue real
// certificates. scripts/install-pebble.sh installs both.
package pebbletest

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// Server is a running Pebble and pebble-challtestsrv pair.
type Server struct {
	DirectoryURL string // ACME directory
	CARootFile   string // root of Pebble's own HTTPS certificate (minica)
	HTTPPort     int    // where Pebble's VA connects for http-01
	TLSPort      int    // where Pebble's VA connects for tls-alpn-01
	DNSAddr      string // challtestsrv's DNS server

	mgmtURL   string // Pebble management API (roots, intermediates)
	challURL  string // challtestsrv management API
	client    *http.Client
	pebbleOut *syncBuffer
}

// Cache is where scripts/install-pebble.sh puts binaries and certificates.
func Cache() string {
	if d := os.Getenv("JHUB_CACHE"); d != "" {
		return d
	}
	return "/var/cache/jhub"
}

// Require returns path when it exists; otherwise the test fails under CI=true
// and is skipped elsewhere, naming the script that installs it.
func Require(t testing.TB, path, script string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		testkit.Need(t, path, "run `bash "+script+"` as root")
	}
	return path
}

// Options change Pebble's defaults.
type Options struct {
	CertValidity time.Duration // lifetime of issued certificates; 90 days when zero
	// DNSServer (host:port) is Pebble's resolver instead of challtestsrv,
	// e.g. the lab DNS answering from the DigitalOcean simulator.
	DNSServer string
}

// Start runs Pebble and challtestsrv on free loopback ports until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith is Start with options.
func StartWith(t testing.TB, o Options) *Server {
	t.Helper()
	if o.CertValidity == 0 {
		o.CertValidity = 90 * 24 * time.Hour
	}
	const script = "scripts/install-pebble.sh"
	bin := filepath.Join(Cache(), "bin")
	pebbleBin := Require(t, filepath.Join(bin, "pebble"), script)
	challBin := Require(t, filepath.Join(bin, "pebble-challtestsrv"), script)
	certDir := filepath.Join(Cache(), "pebble")
	minica := Require(t, filepath.Join(certDir, "pebble.minica.pem"), script)

	ports := freePorts(t, 6)
	s := &Server{
		DirectoryURL: fmt.Sprintf("https://localhost:%d/dir", ports[0]),
		CARootFile:   minica,
		HTTPPort:     ports[2],
		TLSPort:      ports[3],
		DNSAddr:      fmt.Sprintf("127.0.0.1:%d", ports[4]),
		mgmtURL:      fmt.Sprintf("https://localhost:%d", ports[1]),
		challURL:     fmt.Sprintf("http://127.0.0.1:%d", ports[5]),
		pebbleOut:    &syncBuffer{},
	}
	pool := x509.NewCertPool()
	pemData, err := os.ReadFile(minica)
	if err != nil || !pool.AppendCertsFromPEM(pemData) {
		t.Fatalf("read Pebble's minica root %s: %v", minica, err)
	}
	s.client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	// No default A/AAAA answers: tests add the names they use (AddA).
	start(t, "pebble-challtestsrv", nil, io.Discard, challBin,
		"-management", strings.TrimPrefix(s.challURL, "http://"), "-dnsserver", s.DNSAddr,
		"-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "", "-defaultIPv4", "", "-defaultIPv6", "")
	waitHTTP(t, s.client, s.challURL+"/dns-request-history?host=x")

	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  fmt.Sprintf("127.0.0.1:%d", ports[0]),
		"managementListenAddress":        fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"certificate":                    Require(t, filepath.Join(certDir, "localhost-cert.pem"), script),
		"privateKey":                     Require(t, filepath.Join(certDir, "localhost-key.pem"), script),
		"httpPort":                       s.HTTPPort,
		"tlsPort":                        s.TLSPort,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"retryAfter":                     map[string]int{"authz": 1, "order": 1},
		"keyAlgorithm":                   "ecdsa",
		"profiles": map[string]any{"default": map[string]any{
			"description": "test profile", "validityPeriod": int(o.CertValidity.Seconds())}},
	}}
	cfgFile := filepath.Join(t.TempDir(), "pebble.json")
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfgFile, data, 0o600); err != nil {
		t.Fatal(err)
	}
	// Validate every challenge for real, at once, with no reused authorizations
	// and no injected bad nonces, so each test run exercises the full flow.
	env := []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_VA_ALWAYS_VALID=0", "PEBBLE_AUTHZREUSE=0", "PEBBLE_WFE_NONCEREJECT=0"}
	resolver := s.DNSAddr
	if o.DNSServer != "" {
		resolver = o.DNSServer
	}
	start(t, "pebble", env, s.pebbleOut, pebbleBin, "-config", cfgFile, "-dnsserver", resolver)
	waitHTTP(t, s.client, s.DirectoryURL)
	return s
}

// AddA makes challtestsrv answer host's A queries with 127.0.0.1.
func (s *Server) AddA(t testing.TB, host string) {
	t.Helper()
	if err := s.chall("add-a", map[string]any{"host": host, "addresses": []string{"127.0.0.1"}}); err != nil {
		t.Fatal(err)
	}
}

// SetTXT adds a TXT value for host (FQDN) in challtestsrv's DNS.
func (s *Server) SetTXT(host, value string) error {
	return s.chall("set-txt", map[string]string{"host": host, "value": value})
}

// ClearTXT removes every TXT value of host.
func (s *Server) ClearTXT(host string) error {
	return s.chall("clear-txt", map[string]string{"host": host})
}

func (s *Server) chall(op string, body any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("challtestsrv %s: %w", op, err)
	}
	resp, err := s.client.Post(s.challURL+"/"+op, "application/json", bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("challtestsrv %s: %w", op, err)
	}
	_ = resp.Body.Close() // only the status matters
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("challtestsrv %s %s: %s", op, data, resp.Status)
	}
	return nil
}

// Orders is how many orders Pebble has accepted, read from its log.
func (s *Server) Orders() int {
	return strings.Count(s.pebbleOut.String(), "Added order ")
}

// Log is Pebble's output so far, for failure messages.
func (s *Server) Log() string { return s.pebbleOut.String() }

// RootPEM is the root that Pebble's issued chains lead to.
func (s *Server) RootPEM(t testing.TB) []byte {
	t.Helper()
	resp, err := s.client.Get(s.mgmtURL + "/roots/0")
	if err != nil {
		t.Fatalf("fetch Pebble issuing root: %v", err)
	}
	defer func() { _ = resp.Body.Close() }() // read to the end below
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("fetch Pebble issuing root: %s %v", resp.Status, err)
	}
	return data
}

// Roots is RootPEM as a pool.
func (s *Server) Roots(t testing.TB) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(s.RootPEM(t)) {
		t.Fatal("Pebble's /roots/0 is not PEM")
	}
	return pool
}

func start(t testing.TB, name string, env []string, out io.Writer, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
}

func waitHTTP(t testing.TB, c *http.Client, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := c.Get(url)
		if err == nil {
			_ = resp.Body.Close() // only the status matters
			if resp.StatusCode < 500 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not answering after 15s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePorts reserves n loopback ports by binding them all at once, then frees
// them for the processes to take.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		// Closed on return, which frees the port; nothing to do if that fails.
		defer func() { _ = l.Close() }()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
