package edge

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/certs"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

const testToken = "s3cret-proxy-token"

// testEdge is a real edge on loopback ports with a self-signed certificate
// from the certs package.
type testEdge struct {
	t                        testing.TB
	srv                      *Server
	dir, cfgPath             string
	httpAddr, httpsAddr, api string
	roots                    *x509.CertPool
	logs                     *syncBuffer
	cancel                   context.CancelFunc
	done                     chan error
	stopOnce                 sync.Once
}

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// baseConfig is a complete config; tests append hub/sites sections and
// "{{dir}}" is replaced by the test's temporary directory.
const baseConfig = `version: 1
listen: {http: "127.0.0.1:0", https: "127.0.0.1:0", api: "127.0.0.1:0"}
tls: {mode: selfsigned, storage_dir: "{{dir}}/tls"}
`

// tlsWrap lets a test replace the ACME challenge handler while keeping the
// real certificates.
type tlsWrap struct {
	*certs.Manager
	challenge func(next http.Handler) http.Handler
}

func (w tlsWrap) HTTPChallengeHandler(next http.Handler) http.Handler {
	if w.challenge != nil {
		return w.challenge(next)
	}
	return w.Manager.HTTPChallengeHandler(next)
}

func writeConfig(t testing.TB, dir, body string) string {
	t.Helper()
	p := filepath.Join(dir, "edge.yaml")
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(baseConfig+body, "{{dir}}", dir)), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// prepareDir creates the token file every chp-api config refers to.
func prepareDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func startEdge(t testing.TB, body string, opts ...func(*edgeconfig.Config, *Options, *tlsWrap)) *testEdge {
	t.Helper()
	dir := prepareDir(t)
	return startEdgeIn(t, dir, body, opts...)
}

func startEdgeIn(t testing.TB, dir, body string, opts ...func(*edgeconfig.Config, *Options, *tlsWrap)) *testEdge {
	t.Helper()
	te := &testEdge{t: t, dir: dir, logs: &syncBuffer{}}
	te.cfgPath = writeConfig(t, dir, body)
	cfg, err := edgeconfig.LoadConfig(te.cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(te.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cm, err := certs.New(context.Background(), cfg.ToCerts(), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := cm.Close(); err != nil {
			t.Error(err)
		}
	})
	wrap := &tlsWrap{Manager: cm}
	o := Options{ConfigPath: te.cfgPath, Logger: log}
	for _, f := range opts {
		f(cfg, &o, wrap)
	}
	o.TLS = wrap
	te.srv, err = New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := te.srv.Listen(); err != nil {
		t.Fatal(err)
	}
	te.httpAddr, te.httpsAddr, te.api = te.srv.Addrs()
	pemBytes, err := os.ReadFile(certs.SelfSignedRootFile(cfg.TLS.StorageDir))
	if err != nil {
		t.Fatal(err)
	}
	te.roots = x509.NewCertPool()
	te.roots.AppendCertsFromPEM(pemBytes)
	ctx, cancel := context.WithCancel(context.Background())
	te.cancel = cancel
	te.done = make(chan error, 1)
	go func() { te.done <- te.srv.Serve(ctx) }()
	t.Cleanup(te.stop)
	return te
}

func (te *testEdge) stop() {
	te.stopOnce.Do(func() {
		te.cancel()
		select {
		case err := <-te.done:
			if err != nil {
				te.t.Error(err) // a listener stopped before the test was done
			}
		case <-time.After(15 * time.Second):
			te.t.Error("edge did not stop")
		}
	})
}

// transport dials the edge's HTTPS port whatever host the URL names, so
// tests use real host names (https://hub.test/...) as browsers would.
func (te *testEdge) transport(h2 bool) *http.Transport {
	d := &net.Dialer{}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, te.httpsAddr)
		},
		TLSClientConfig:   &tls.Config{RootCAs: te.roots},
		ForceAttemptHTTP2: h2,
	}
	if !h2 {
		tr.TLSClientConfig.NextProtos = []string{"http/1.1"}
	}
	te.t.Cleanup(tr.CloseIdleConnections)
	return tr
}

func (te *testEdge) client() *http.Client {
	return &http.Client{
		Transport:     te.transport(false),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// tlsConn opens a raw TLS connection with the given SNI (none when empty),
// for requests a well-behaved client would not send.
func (te *testEdge) tlsConn(sni string) *tls.Conn {
	te.t.Helper()
	cfg := &tls.Config{RootCAs: te.roots, ServerName: sni, NextProtos: []string{"http/1.1"}}
	if sni == "" {
		cfg.InsecureSkipVerify = true // no name to verify against
	}
	c, err := tls.Dial("tcp", te.httpsAddr, cfg)
	if err != nil {
		te.t.Fatal(err)
	}
	te.t.Cleanup(func() { c.Close() })
	return c
}

// apiDo calls the loopback API with the proxy token.
func (te *testEdge) apiDo(method, path, body string) (*http.Response, string) {
	te.t.Helper()
	req, err := http.NewRequest(method, "http://"+te.api+path, strings.NewReader(body))
	if err != nil {
		te.t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		te.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// rawGet sends one HTTP/1.1 request for host over a connection without SNI.
func (te *testEdge) rawGet(host, path string) *http.Response {
	te.t.Helper()
	conn := te.tlsConn("")
	writeRaw(te.t, conn, fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		te.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// writeRaw sends bytes a well-behaved client would not, for requests
// written by hand.
func writeRaw(t testing.TB, conn io.Writer, s string) {
	t.Helper()
	if _, err := io.WriteString(conn, s); err != nil {
		t.Fatal(err)
	}
}

func mustGet(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}
