//go:build lab

package edge_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/certs"
	"github.com/classhub/terraform-provider-jhub/internal/certs/pebbletest"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// TestLabTLSGradeAPlus runs testssl.sh 3.2 (scripts/install-testssl.sh) against
// the real jhub-edge binary with a Pebble-issued certificate
// (scripts/install-pebble.sh) and fails below A+. Outside CI, without Pebble,
// the edge's self-signed lab CA stands in as the issuer. The testssl run takes
// about 1.5 minutes on an idle 2-core machine (3 at load 10): the lab tier runs it (-tags lab).
func TestLabTLSGradeAPlus(t *testing.T) {
	testssl := lookTestssl(t)
	const host = "grade.jhub.test"
	dir := t.TempDir()
	storage := filepath.Join(dir, "certs")
	begin := time.Now()
	bin := buildEdge(t, dir)
	t.Logf("edge built in %s", time.Since(begin).Round(time.Millisecond))

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hub\n")
	}))
	defer upstream.Close()

	usePebble := testkit.InCI()
	if _, err := os.Stat(filepath.Join(pebbletest.Cache(), "bin", "pebble")); err == nil {
		usePebble = true
	}
	var tlsYAML, rootFile string
	var httpAddr, httpsAddr string
	if usePebble {
		p := pebbletest.Start(t) // fails under CI=true when Pebble is missing
		p.AddA(t, host)
		httpAddr, httpsAddr = fmt.Sprintf("127.0.0.1:%d", p.HTTPPort), fmt.Sprintf("127.0.0.1:%d", p.TLSPort)
		tlsYAML = fmt.Sprintf(`tls:
  mode: acme
  storage_dir: %q
  acme:
    email: admin@jhub.test
    directory_url: %q
    ca_root_file: %q
    challenges: [tls-alpn-01]
    http_port: %d
    tls_port: %d
`, storage, p.DirectoryURL, p.CARootFile, p.HTTPPort, p.TLSPort)
		rootFile = filepath.Join(dir, "pebble-root.pem")
		if err := os.WriteFile(rootFile, p.RootPEM(t), 0o600); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Log("Pebble not installed (scripts/install-pebble.sh): grading with the self-signed lab CA")
		httpAddr, httpsAddr = freeAddr(t), freeAddr(t)
		tlsYAML = fmt.Sprintf("tls:\n  mode: selfsigned\n  storage_dir: %q\n", storage)
		rootFile = certs.SelfSignedRootFile(storage)
	}
	cfg := fmt.Sprintf(`version: 1
listen:
  http: %q
  https: %q
  api: %q
%shub:
  hosts: [%s]
  mode: upstream
  upstream: %q
`, httpAddr, httpsAddr, freeAddr(t), tlsYAML, host, upstream.URL)
	cfgFile := filepath.Join(dir, "edge.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	edgeLog := filepath.Join(dir, "edge.log")
	logFile, err := os.Create(edgeLog)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "run", "-config", cfgFile)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})

	// The edge obtains its certificate after binding; wait until it serves
	// one that chains to the root testssl will be given, with HSTS.
	begin = time.Now()
	hsts := waitForTrustedHSTS(t, httpsAddr, host, rootFile, edgeLog)
	t.Logf("edge serves a trusted certificate for %s %s after start, with Strict-Transport-Security: %s",
		host, time.Since(begin).Round(time.Millisecond), hsts)

	_, port, _ := net.SplitHostPort(httpsAddr)
	jsonFile := filepath.Join(dir, "testssl.json")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	// --nodns=min: the test name exists only for this run; --ip maps it to loopback.
	// The checks listed are all the rating needs; client simulation (-c) is
	// left out because it does not count towards the grade and is slow.
	out, err := exec.CommandContext(ctx, testssl, "--quiet", "--color", "0", "--warnings", "off", "--nodns", "min",
		"--protocols", "--std", "--fs", "--server-defaults", "--server-preference", "--headers", "--vulnerable",
		"--add-ca", rootFile, "--ip", "127.0.0.1", "--jsonfile", jsonFile,
		fmt.Sprintf("https://%s:%s", host, port)).CombinedOutput()
	took := time.Since(start)
	findings := readFindings(t, jsonFile, out, err)
	grade := findings["overall_grade"]
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "Overall Grade") {
			t.Logf("testssl (%s): %s", took.Round(time.Second), strings.TrimSpace(line))
		}
	}
	t.Logf("scores: protocol %s, key exchange %s, cipher strength %s, final %s",
		findings["protocol_support_score"], findings["key_exchange_score"], findings["cipher_strength_score"], findings["final_score"])
	if grade != "A+" {
		var caps []string
		for id, f := range findings {
			if strings.HasPrefix(id, "grade_cap") || strings.HasPrefix(id, "cert_chain_of_trust") || id == "HSTS" {
				caps = append(caps, id+": "+f)
			}
		}
		t.Fatalf("testssl overall grade %q, want A+; %s\ntestssl output:\n%s", grade, strings.Join(caps, "; "), out)
	}
}

func lookTestssl(t *testing.T) string {
	t.Helper()
	msg := "run `bash scripts/install-testssl.sh` as root"
	for _, name := range []string{"testssl", "testssl.sh"} {
		if p, err := exec.LookPath(name); err == nil {
			// Only 3.2 rates; Debian bookworm's own 3.0 does not.
			raw, _ := exec.Command(p, "--version").CombinedOutput()
			out := ansi.ReplaceAllString(string(raw), "")
			if strings.Contains(out, "version 3.2") {
				return p
			}
			msg = fmt.Sprintf("%s is not it (%s); run `bash scripts/install-testssl.sh` as root", p, firstLine(out))
		}
	}
	testkit.Need(t, "testssl.sh 3.2", msg)
	return ""
}

// ansi matches terminal colour codes, which testssl --version always prints.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); strings.Contains(l, "version") {
			return l
		}
	}
	return "no version line"
}

// buildEdge compiles the edge binary the way it ships (static, no cgo), with
// the go that runs the test: `go test` puts it first in PATH.
func buildEdge(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "jhub-edge")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/classhub/terraform-provider-jhub/internal/cmd/jhub-edge")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build jhub-edge: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitForTrustedHSTS(t *testing.T, addr, host, rootFile, edgeLog string) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		pemData, err := os.ReadFile(rootFile)
		if err != nil {
			lastErr = err
			continue
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pemData)
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{ServerName: host, RootCAs: roots},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return (&net.Dialer{}).DialContext(ctx, network, addr)
			},
		}}
		resp, err := c.Get("https://" + host + "/")
		if err != nil {
			lastErr = err
			continue
		}
		resp.Body.Close()
		if v := resp.Header.Get("Strict-Transport-Security"); strings.Contains(v, "max-age=63072000") {
			return v
		}
		t.Fatalf("edge response lacks HSTS max-age=63072000: %q", resp.Header.Get("Strict-Transport-Security"))
	}
	logText, _ := os.ReadFile(edgeLog)
	t.Fatalf("edge did not serve a trusted certificate for %s within 60s: %v\nedge log:\n%s", host, lastErr, logText)
	return ""
}

// readFindings maps testssl's JSON ids to findings.
func readFindings(t *testing.T, path string, out []byte, runErr error) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("testssl wrote no JSON (%v; run error %v):\n%s", err, runErr, out)
	}
	var entries []struct{ ID, Finding string }
	if err := json.Unmarshal(data, &entries); err != nil {
		t.Fatalf("testssl JSON %s: %v", path, err)
	}
	m := map[string]string{}
	for _, e := range entries {
		m[e.ID] = e.Finding
	}
	return m
}
