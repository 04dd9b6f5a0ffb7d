package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
)

// Manager serves certificates for the edge's TLS listener and keeps them fresh.
type Manager struct {
	cfg Config
	log *slog.Logger

	// ACME mode.
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer
	cache  *certmagic.Cache

	// PEM and self-signed modes: the one certificate served to every SNI.
	static  atomic.Pointer[tls.Certificate]
	pemStat [2]fileStamp // cert and key file as last loaded
	mu      sync.Mutex   // serialises Reload

	stop chan struct{}
	done sync.WaitGroup
	once sync.Once
}

// New validates c and prepares its certificate source. PEM and self-signed
// certificates are loaded (or created) here; ACME certificates by ManageSync.
func New(ctx context.Context, c Config, log *slog.Logger) (*Manager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c.Hosts = slices.Clone(c.Hosts)
	if err := c.validate(); err != nil {
		return nil, err
	}
	if err := ensureDir(c.StorageDir); err != nil {
		return nil, err
	}
	m := &Manager{cfg: c, log: log.With("component", "certs", "mode", c.Mode), stop: make(chan struct{})}
	switch c.Mode {
	case ModeACME:
		if err := m.setupACME(); err != nil {
			return nil, err
		}
	case ModePEM, ModeSelfSigned:
		if err := m.Reload(); err != nil {
			return nil, err
		}
		m.done.Add(1)
		go m.reloadLoop()
	}
	return m, nil
}

func (m *Manager) setupACME() error {
	a := m.cfg.ACME
	zl := newZapLogger(m.log)
	var roots *x509.CertPool
	if a.CARootFile != "" {
		pemData, err := os.ReadFile(a.CARootFile)
		if err != nil {
			return fmt.Errorf("tls.acme.ca_root_file: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pemData) {
			return fmt.Errorf("tls.acme.ca_root_file: %s holds no PEM certificate", a.CARootFile)
		}
	}
	var dns acmez.Solver
	if slices.Contains(a.Challenges, ChallengeDNS01) {
		p, err := NewDOProvider(a.DNS.TokenFile, a.DNS.APIURL)
		if err != nil {
			return err
		}
		dns = &dnsSolver{provider: p, resolvers: withDNSPort(a.DNS.Resolvers), timeout: a.DNS.PropagationTimeout, interval: time.Second}
	}
	storage := &certmagic.FileStorage{Path: filepath.Join(m.cfg.StorageDir, acmeDir)}
	if err := ensureDirs(m.cfg.StorageDir, storage.Path); err != nil {
		return err
	}
	tmpl := certmagic.Config{
		Storage:   storage,
		KeySource: certmagic.StandardKeyGenerator{KeyType: certmagic.P256},
		Logger:    zl,
	}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		RenewCheckInterval: m.cfg.ReloadInterval,
		Logger:             zl,
	})
	m.magic = certmagic.New(m.cache, tmpl)
	m.issuer = certmagic.NewACMEIssuer(m.magic, certmagic.ACMEIssuer{
		CA:                      a.DirectoryURL,
		Email:                   a.Email,
		Agreed:                  true,
		TrustedRoots:            roots,
		DisableHTTPChallenge:    !slices.Contains(a.Challenges, ChallengeHTTP01),
		DisableTLSALPNChallenge: !slices.Contains(a.Challenges, ChallengeTLSALPN01),
		AltHTTPPort:             a.HTTPPort,
		AltTLSALPNPort:          a.TLSPort,
		DNS01Solver:             dns,
		Logger:                  zl,
	})
	m.magic.Issuers = []certmagic.Issuer{m.issuer}
	return nil
}

// TLSConfig is the hardened server configuration (DESIGN item 9): TLS 1.2+,
// ECDHE with AEAD ciphers only, hybrid post-quantum key exchange first.
// Serve it from a listener that is already bound when ManageSync runs, so
// TLS-ALPN-01 challenges reach it.
func (m *Manager) TLSConfig() *tls.Config {
	protos := []string{"h2", "http/1.1"}
	if m.magic != nil && !m.issuer.DisableTLSALPNChallenge {
		protos = append(protos, acmez.ACMETLS1Protocol)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// TLS 1.3 suites are not configurable in Go and are all AEAD.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256},
		NextProtos:       protos,
		GetCertificate:   m.getCertificate,
	}
}

func (m *Manager) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if m.magic != nil {
		return m.magic.GetCertificate(hello)
	}
	return m.static.Load(), nil
}

// HTTPChallengeHandler answers ACME HTTP-01 requests under
// /.well-known/acme-challenge/ and passes everything else to next.
func (m *Manager) HTTPChallengeHandler(next http.Handler) http.Handler {
	if m.magic == nil || m.issuer.DisableHTTPChallenge {
		return next
	}
	return m.issuer.HTTPChallengeHandler(next)
}

// ManageSync obtains (or loads from storage) a certificate for every host and
// starts automatic renewal, so the edge serves a real certificate from its
// first handshake. It is a no-op for PEM and self-signed certificates.
func (m *Manager) ManageSync(ctx context.Context) error {
	if m.magic == nil {
		return nil
	}
	if err := m.magic.ManageSync(ctx, m.cfg.Hosts); err != nil {
		return fmt.Errorf("tls.acme: obtain certificates for %v from %s: %w", m.cfg.Hosts, m.cfg.ACME.DirectoryURL, err)
	}
	return nil
}

// Reload re-reads PEM files (keeping the served certificate when the new files
// are invalid) or renews the self-signed leaf when it nears expiry. The edge
// calls it on SIGHUP; it also runs every Config.ReloadInterval.
func (m *Manager) Reload() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.cfg.Mode {
	case ModePEM:
		return m.reloadPEM()
	case ModeSelfSigned:
		cert, created, err := selfSigned(m.cfg.StorageDir, m.cfg.Hosts, time.Now())
		if err != nil {
			return err
		}
		if created || m.static.Load() == nil {
			m.static.Store(cert)
			m.log.Info("self-signed certificate loaded", "hosts", cert.Leaf.DNSNames, "not_after", cert.Leaf.NotAfter, "created", created)
		}
	}
	return nil
}

func (m *Manager) reloadLoop() {
	defer m.done.Done()
	t := time.NewTicker(m.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			if err := m.Reload(); err != nil {
				m.log.Error("certificate reload failed; still serving the previous certificate", "err", err)
			}
		}
	}
}

// fileStamp identifies a file version cheaply.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stamp(path string) (fileStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.ModTime(), fi.Size()}, nil
}

func (m *Manager) reloadPEM() error {
	p := m.cfg.PEM
	cs, err := stamp(p.CertFile)
	if err != nil {
		return fmt.Errorf("tls.pem.cert_file: %w", err)
	}
	ks, err := stamp(p.KeyFile)
	if err != nil {
		return fmt.Errorf("tls.pem.key_file: %w", err)
	}
	if m.static.Load() != nil && m.pemStat == [2]fileStamp{cs, ks} {
		return nil
	}
	cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
	if err != nil {
		return fmt.Errorf("tls.pem.cert_file/key_file: %s and %s: %w", p.CertFile, p.KeyFile, err)
	}
	for i, h := range m.cfg.Hosts {
		if err := cert.Leaf.VerifyHostname(h); err != nil {
			return fmt.Errorf("tls.hosts[%d]: %s (tls.pem.cert_file) does not cover %q: %w", i, p.CertFile, h, err)
		}
	}
	if old := m.static.Load(); old == nil || !bytes.Equal(old.Leaf.Raw, cert.Leaf.Raw) {
		m.log.Info("PEM certificate loaded", "file", p.CertFile, "names", cert.Leaf.DNSNames, "not_after", cert.Leaf.NotAfter)
	}
	m.static.Store(&cert)
	m.pemStat = [2]fileStamp{cs, ks}
	return nil
}

// Close stops renewal and reload; certificates stay in storage.
func (m *Manager) Close() error {
	m.once.Do(func() {
		close(m.stop)
		m.done.Wait()
		if m.cache != nil {
			m.cache.Stop()
		}
	})
	return nil
}
