package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/classhub/terraform-provider-jhub/internal/certs"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

const token = "cmd-test-token"

func writeConfig(t *testing.T, dir, listen, hub string) string {
	t.Helper()
	p := filepath.Join(dir, "edge.yaml")
	cfg := fmt.Sprintf(`version: 1
listen: %s
tls: {mode: selfsigned, storage_dir: %q}
hub: {hosts: [hub.test], mode: chp-api, api_token_file: %q%s}
`, listen, filepath.Join(dir, "tls"), filepath.Join(dir, "token"), hub)
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeToken(t *testing.T, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestVersionAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "jhub-edge ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	if code := run(nil, &out, &errb); code != 2 {
		t.Errorf("no args: %d", code)
	}
	if code := run([]string{"serve"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), `unknown command "serve"`) {
		t.Errorf("unknown command: %d %q", code, errb.String())
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	writeToken(t, dir)
	good := writeConfig(t, dir, `{api: "127.0.0.1:8001"}`, "")
	var out, errb bytes.Buffer
	if code := run([]string{"check", "-config", good}, &out, &errb); code != 0 || !strings.Contains(out.String(), "ok (1 hosts)") {
		t.Errorf("check good: %d %q %q", code, out.String(), errb.String())
	}
	bad := writeConfig(t, dir, `{api: "0.0.0.0:8001"}`, ", base_url: jhub")
	out.Reset()
	errb.Reset()
	code := run([]string{"check", "-config", bad}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "listen.api:") || !strings.Contains(errb.String(), "hub.base_url:") {
		t.Errorf("check bad: %d %q", code, errb.String())
	}
}

// TestRunReloadsOnSIGHUP runs the command in-process: SIGHUP reloads the
// file while a websocket stays open, and SIGTERM stops it cleanly, writing
// the JHUB_EDGE_CPUPROFILE profile completely.
func TestRunReloadsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	writeToken(t, dir)
	httpsAddr, apiAddr := freePort(t), freePort(t)
	listen := fmt.Sprintf("{http: %q, https: %q, api: %q}", freePort(t), httpsAddr, apiAddr)
	path := writeConfig(t, dir, listen, "")
	profile := filepath.Join(dir, "cpu.pprof")
	t.Setenv("JHUB_EDGE_CPUPROFILE", profile)

	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			typ, msg, err := c.Read(context.Background())
			if err != nil || c.Write(context.Background(), typ, msg) != nil {
				return
			}
		}
	}))
	defer echo.Close()

	var stdout, stderr syncBuf
	done := make(chan int, 1)
	go func() { done <- run([]string{"run", "-config", path}, &stdout, &stderr) }()

	api := func(method, p, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, "http://"+apiAddr+p, strings.NewReader(body))
		req.Header.Set("Authorization", "token "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil && !errors.Is(err, io.EOF) {
			t.Errorf("%s %s: %d with a body that is not JSON: %v", method, p, resp.StatusCode, err)
		}
		return resp.StatusCode, m
	}
	waitGeneration := func(want float64) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if code, m := api("GET", "/_edge/health", ""); code == 200 && m["generation"] == want {
				return
			}
		}
		t.Fatalf("generation %v not reached; log:\n%s", want, stderr.String())
	}
	waitGeneration(1)
	if code, _ := api("POST", "/api/routes/user/alice", fmt.Sprintf(`{"target": %q, "jupyterhub": true}`, echo.URL)); code != 201 {
		t.Fatalf("add route: %d", code)
	}

	roots := x509.NewCertPool()
	pemBytes, err := os.ReadFile(certs.SelfSignedRootFile(filepath.Join(dir, "tls")))
	if err != nil {
		t.Fatal(err)
	}
	roots.AppendCertsFromPEM(pemBytes)
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, httpsAddr)
		},
		TLSClientConfig: &tls.Config{RootCAs: roots, NextProtos: []string{"http/1.1"}},
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss://hub.test/user/alice/api/kernels/1/channels", &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	roundTrip := func(msg string) {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, got, err := ws.Read(ctx); err != nil || string(got) != msg {
			t.Fatalf("echo %q: %q %v", msg, got, err)
		}
	}
	roundTrip("before")

	writeConfig(t, dir, listen, fmt.Sprintf(", default_target: %q", echo.URL))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitGeneration(2)
	roundTrip("after SIGHUP")

	// A broken file on SIGHUP: logged, old config kept.
	if err := os.WriteFile(path, []byte("version: 1\nbogus: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stderr.String(), "config reload rejected"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("rejected reload not logged:\n%s", stderr.String())
		}
	}
	waitGeneration(2)
	roundTrip("after a rejected SIGHUP")

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("run exited %d:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not stop on SIGTERM")
	}
	if st, err := os.Stat(profile); err != nil || st.Size() == 0 {
		t.Errorf("JHUB_EDGE_CPUPROFILE: no profile written at exit: %v", err)
	}
	if strings.Contains(stderr.String(), token) {
		t.Error("the proxy token appeared in the log")
	}
}
