package certs_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"io/fs"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/certs"
)

// serveTLS runs an HTTPS server on loopback with m's TLS config.
func serveTLS(t *testing.T, m *certs.Manager) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:   http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }),
		TLSConfig: m.TLSConfig(),
		ErrorLog:  log.New(io.Discard, "", 0), // refused handshakes are the point of some tests
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }() // ErrServerClosed at cleanup
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// handshake connects to addr as name and returns the connection state.
func handshake(addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer c.Close()
	return c.ConnectionState(), nil
}

func poolFromFile(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(data) {
		t.Fatalf("%s: no certificate", path)
	}
	return p
}

// assertPrivate fails unless every file under dir is 0600 and every directory 0700.
func assertPrivate(t *testing.T, dir string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		} else {
			n++
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walk %s: %v (%d files)", dir, err, n)
	}
}

func newManager(t *testing.T, c certs.Config) *certs.Manager {
	t.Helper()
	m, err := certs.New(context.Background(), c, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func TestSelfSignedServesPersistsAndRenamesHosts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "store")
	hosts := []string{"hub.jhub.test", "www.jhub.test"}
	m := newManager(t, certs.Config{Mode: certs.ModeSelfSigned, Hosts: hosts, StorageDir: dir})
	addr := serveTLS(t, m)
	roots := poolFromFile(t, certs.SelfSignedRootFile(dir))

	var serial *big.Int
	for _, h := range hosts {
		st, err := handshake(addr, &tls.Config{ServerName: h, RootCAs: roots})
		if err != nil {
			t.Fatalf("verify %s against the lab CA: %v", h, err)
		}
		leaf := st.PeerCertificates[0]
		if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
			t.Fatalf("leaf key %T, want ECDSA P-256", leaf.PublicKey)
		}
		if !slices.Equal(leaf.DNSNames, hosts) {
			t.Fatalf("SANs %v, want %v", leaf.DNSNames, hosts)
		}
		serial = leaf.SerialNumber
	}
	assertPrivate(t, dir)
	m.Close()

	// A restart keeps the same certificate.
	m2 := newManager(t, certs.Config{Mode: certs.ModeSelfSigned, Hosts: hosts, StorageDir: dir})
	st, err := handshake(serveTLS(t, m2), &tls.Config{ServerName: hosts[0], RootCAs: roots})
	if err != nil || st.PeerCertificates[0].SerialNumber.Cmp(serial) != 0 {
		t.Fatalf("after restart: %v; serial %v, want the persisted %v", err, st.PeerCertificates[0].SerialNumber, serial)
	}
	m2.Close()

	// New hosts: a new leaf from the same CA.
	m3 := newManager(t, certs.Config{Mode: certs.ModeSelfSigned, Hosts: []string{"lab.jhub.test"}, StorageDir: dir})
	st, err = handshake(serveTLS(t, m3), &tls.Config{ServerName: "lab.jhub.test", RootCAs: roots})
	if err != nil || st.PeerCertificates[0].SerialNumber.Cmp(serial) == 0 {
		t.Fatalf("after changing hosts: %v; want a new leaf under the same CA", err)
	}
}

func TestTLSPolicy(t *testing.T) {
	dir := t.TempDir()
	m := newManager(t, certs.Config{Mode: certs.ModeSelfSigned, Hosts: []string{"hub.jhub.test"}, StorageDir: dir})
	addr := serveTLS(t, m)
	roots := poolFromFile(t, certs.SelfSignedRootFile(dir))
	base := func() *tls.Config {
		return &tls.Config{ServerName: "hub.jhub.test", RootCAs: roots, NextProtos: []string{"h2", "http/1.1"}}
	}

	st, err := handshake(addr, base())
	if err != nil {
		t.Fatal(err)
	}
	if st.Version != tls.VersionTLS13 || st.CurveID != tls.X25519MLKEM768 || st.NegotiatedProtocol != "h2" {
		t.Fatalf("default client got %s, %v, ALPN %q; want TLS 1.3, X25519MLKEM768, h2",
			tls.VersionName(st.Version), st.CurveID, st.NegotiatedProtocol)
	}

	for _, curve := range []tls.CurveID{tls.X25519, tls.CurveP256} {
		c := base()
		c.CurvePreferences = []tls.CurveID{curve}
		if st, err := handshake(addr, c); err != nil || st.CurveID != curve {
			t.Errorf("client offering only %v: %v, got %v", curve, err, st.CurveID)
		}
	}
	c := base()
	c.CurvePreferences = []tls.CurveID{tls.CurveP384}
	if _, err := handshake(addr, c); err == nil {
		t.Error("P-384-only client accepted; the edge offers X25519MLKEM768, X25519 and P-256 only")
	}

	c = base()
	c.MaxVersion = tls.VersionTLS11
	if _, err := handshake(addr, c); err == nil {
		t.Error("TLS 1.1 accepted; minimum is TLS 1.2")
	}

	aead := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}
	for _, s := range aead {
		c = base()
		c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{s}
		if st, err := handshake(addr, c); err != nil || st.CipherSuite != s {
			t.Errorf("TLS 1.2 with %s: %v", tls.CipherSuiteName(s), err)
		}
	}
	for _, s := range []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256} {
		c = base()
		c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{s}
		if _, err := handshake(addr, c); err == nil {
			t.Errorf("TLS 1.2 with non-AEAD %s accepted", tls.CipherSuiteName(s))
		}
	}
	if slices.Contains(m.TLSConfig().NextProtos, "acme-tls/1") {
		t.Error("acme-tls/1 offered without ACME")
	}
}

// writePair writes a fresh ECDSA certificate for names, signed by itself.
func writePair(t *testing.T, certFile, keyFile string, names ...string) *big.Int {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}, &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: names[0]}}, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return serial
}

func servedSerial(t *testing.T, addr, name string) *big.Int {
	t.Helper()
	st, err := handshake(addr, &tls.Config{ServerName: name, InsecureSkipVerify: true}) // comparing serials, not trust
	if err != nil {
		t.Fatal(err)
	}
	return st.PeerCertificates[0].SerialNumber
}

func TestPEMLoadAndReload(t *testing.T) {
	d := t.TempDir()
	cf, kf := filepath.Join(d, "fullchain.pem"), filepath.Join(d, "privkey.pem")
	s1 := writePair(t, cf, kf, "hub.jhub.test")
	m := newManager(t, certs.Config{Mode: certs.ModePEM, Hosts: []string{"hub.jhub.test"}, StorageDir: filepath.Join(d, "store"),
		PEM: certs.PEMConfig{CertFile: cf, KeyFile: kf}, ReloadInterval: time.Hour})
	addr := serveTLS(t, m)
	if got := servedSerial(t, addr, "hub.jhub.test"); got.Cmp(s1) != 0 {
		t.Fatalf("serving %v, want %v", got, s1)
	}

	s2 := writePair(t, cf, kf, "hub.jhub.test")
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(t, addr, "hub.jhub.test"); got.Cmp(s2) != 0 {
		t.Fatalf("after Reload serving %v, want %v", got, s2)
	}

	// A broken or wrong-host replacement is refused; the old one keeps serving.
	if err := os.WriteFile(kf, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(); err == nil || !strings.Contains(err.Error(), "tls.pem.cert_file/key_file") {
		t.Fatalf("broken key: %v", err)
	}
	writePair(t, cf, kf, "other.jhub.test")
	if err := m.Reload(); err == nil || !strings.Contains(err.Error(), `tls.hosts[0]`) {
		t.Fatalf("certificate for another host: %v", err)
	}
	if got := servedSerial(t, addr, "hub.jhub.test"); got.Cmp(s2) != 0 {
		t.Fatalf("after refused reloads serving %v, want still %v", got, s2)
	}
}

func TestPEMReloadsOnFileChange(t *testing.T) {
	d := t.TempDir()
	cf, kf := filepath.Join(d, "fullchain.pem"), filepath.Join(d, "privkey.pem")
	writePair(t, cf, kf, "hub.jhub.test")
	m := newManager(t, certs.Config{Mode: certs.ModePEM, StorageDir: filepath.Join(d, "store"),
		PEM: certs.PEMConfig{CertFile: cf, KeyFile: kf}, ReloadInterval: 20 * time.Millisecond})
	addr := serveTLS(t, m)
	s2 := writePair(t, cf, kf, "hub.jhub.test")
	deadline := time.Now().Add(5 * time.Second)
	for servedSerial(t, addr, "hub.jhub.test").Cmp(s2) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("changed PEM files not picked up within 5s at a 20ms reload interval")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		cfg  certs.Config
		want []string
	}{
		{certs.Config{Mode: "letsencrypt", StorageDir: dir}, []string{"tls.mode:"}},
		{certs.Config{Mode: certs.ModeSelfSigned}, []string{"tls.storage_dir:", "tls.hosts:"}},
		{certs.Config{Mode: certs.ModePEM, StorageDir: dir}, []string{"tls.pem.cert_file:", "tls.pem.key_file:"}},
		{certs.Config{Mode: certs.ModeSelfSigned, StorageDir: dir, Hosts: []string{"Hub.example.org", "*.x.org", "a..b"}},
			[]string{"tls.hosts[0]:", "tls.hosts[1]:", "tls.hosts[2]:"}},
		{certs.Config{Mode: certs.ModeACME, StorageDir: dir, Hosts: []string{"hub.example.org"}, ACME: certs.ACMEConfig{
			DirectoryURL: "http://ca", Challenges: []string{"http-01", "dns-01", "smtp-01"}, HTTPPort: 70000}},
			[]string{"tls.acme.email:", "tls.acme.directory_url:", "tls.acme.challenges[2]:", "tls.acme.challenges:", "tls.acme.dns.token_file:", "tls.acme.http_port:"}},
		{certs.Config{Mode: certs.ModeACME, StorageDir: dir, Hosts: []string{"hub.example.org"}, ACME: certs.ACMEConfig{
			Email: "a@example.org", CARootFile: filepath.Join(dir, "nope.pem")}}, []string{"tls.acme.ca_root_file:"}},
	} {
		_, err := certs.New(context.Background(), tc.cfg, nil)
		if err == nil {
			t.Errorf("%+v: accepted", tc.cfg)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: error %q does not name %s", tc.cfg, err, w)
			}
		}
	}
}

func TestExportImportSelfSigned(t *testing.T) {
	src := filepath.Join(t.TempDir(), "a")
	m := newManager(t, certs.Config{Mode: certs.ModeSelfSigned, Hosts: []string{"hub.jhub.test"}, StorageDir: src})
	want := servedSerial(t, serveTLS(t, m), "hub.jhub.test")
	m.Close()

	bundle, err := certs.Export(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "b")
	if err := certs.Import(dst, bundle); err != nil {
		t.Fatal(err)
	}
	assertPrivate(t, dst)
	m2 := newManager(t, certs.Config{Mode: certs.ModeSelfSigned, Hosts: []string{"hub.jhub.test"}, StorageDir: dst})
	if got := servedSerial(t, serveTLS(t, m2), "hub.jhub.test"); got.Cmp(want) != 0 {
		t.Fatalf("imported storage serves %v, want the exported %v", got, want)
	}

	for _, evil := range []string{"../escape", "/abs/path", "a/../../b"} {
		b, err := json.Marshal(map[string]any{"version": 1, "files": map[string][]byte{evil: []byte("x")}})
		if err != nil {
			t.Fatal(err)
		}
		if err := certs.Import(t.TempDir(), b); err == nil || !strings.Contains(err.Error(), "escapes") {
			t.Errorf("bundle path %q: %v, want refused", evil, err)
		}
	}
	if err := certs.Import(t.TempDir(), []byte(`{"version":9,"files":{}}`)); err == nil {
		t.Error("unknown bundle version accepted")
	}
	if _, err := certs.Export(t.TempDir()); err == nil {
		t.Error("export of empty storage succeeded")
	}
}
