package lab

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Pebble ports on the lab gateway.
const (
	pebblePort     = 14000
	pebbleMgmtPort = 15000
)

// startPebble runs Pebble on the gateway, validating through the lab DNS,
// with an HTTPS certificate for the gateway address signed by a CA made for
// this lab run (Pebble's bundled one names only localhost). It writes
// acme-ca.pem (trust for the ACME endpoint) and roots.pem (Pebble's issuing
// root, trust for certificates it issues) into the lab's state dir.
func (l *Lab) startPebble(ctx context.Context) error {
	bin := l.opts.PebbleBin
	if !exists(bin) {
		return fmt.Errorf("lab: pebble not found at %s; install it with `sudo bash scripts/install-pebble.sh` (setup-lab.sh runs it)", bin)
	}
	dir := l.slot.stateDir()
	gw := l.slot.gateway4()
	caPEM, certPEM, keyPEM, err := listenerCert(gw)
	if err != nil {
		return err
	}
	files := map[string][]byte{"acme-ca.pem": caPEM, "pebble-cert.pem": certPEM, "pebble-key.pem": keyPEM}
	cfg := map[string]any{"pebble": map[string]any{
		"listenAddress":                  net.JoinHostPort(gw.String(), strconv.Itoa(pebblePort)),
		"managementListenAddress":        net.JoinHostPort(gw.String(), strconv.Itoa(pebbleMgmtPort)),
		"certificate":                    filepath.Join(dir, "pebble-cert.pem"),
		"privateKey":                     filepath.Join(dir, "pebble-key.pem"),
		"httpPort":                       80,
		"tlsPort":                        443,
		"ocspResponderURL":               "",
		"externalAccountBindingRequired": false,
		"keyAlgorithm":                   "ecdsa",
		"profiles": map[string]any{
			"default": map[string]any{"description": "lab default", "validityPeriod": 7776000},
		},
	}}
	if files["pebble.json"], err = json.MarshalIndent(cfg, "", "  "); err != nil {
		return fmt.Errorf("lab: pebble config: %w", err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return fmt.Errorf("lab: pebble: %w", err)
		}
	}
	// Clients that are not root read the trust for the ACME endpoint.
	if err := os.Chmod(filepath.Join(dir, "acme-ca.pem"), 0o644); err != nil {
		return fmt.Errorf("lab: pebble: %w", err)
	}
	log, err := os.Create(filepath.Join(dir, "pebble.log"))
	if err != nil {
		return fmt.Errorf("lab: pebble: %w", err)
	}
	// Pebble writes to its own copy of the descriptor; this one is never written.
	defer func() { _ = log.Close() }()
	cmd := exec.Command(bin, "-config", filepath.Join(dir, "pebble.json"), "-dnsserver", l.dns.Addr())
	cmd.Env = append(os.Environ(),
		"PEBBLE_VA_NOSLEEP=1",      // no random validation delays
		"PEBBLE_WFE_NONCEREJECT=0", // no random bad-nonce errors
	)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lab: starting pebble: %w", err)
	}
	l.pebble = cmd.Process
	l.pebbleDone = make(chan struct{})
	// How it ended is in pebble.log.
	go func() { _ = cmd.Wait(); close(l.pebbleDone) }()
	// The janitor stops a crashed lab's Pebble by this file.
	if err := os.WriteFile(filepath.Join(dir, "pebble.pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
		return fmt.Errorf("lab: pebble: %w", err)
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	url := fmt.Sprintf("https://%s/roots/0", net.JoinHostPort(gw.String(), strconv.Itoa(pebbleMgmtPort)))
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := hc.Get(url)
		if err == nil {
			roots, rerr := io.ReadAll(resp.Body)
			_ = resp.Body.Close() // read to the end already
			if rerr == nil && resp.StatusCode == http.StatusOK {
				return os.WriteFile(filepath.Join(dir, "roots.pem"), roots, 0o644)
			}
		}
		select {
		case <-l.pebbleDone:
			b, _ := os.ReadFile(filepath.Join(dir, "pebble.log"))
			return fmt.Errorf("lab: pebble exited: %s", b)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("lab: pebble's %s did not answer within 30s (log: %s)", url, filepath.Join(dir, "pebble.log"))
		}
	}
}

// ACMEOrders counts the orders Pebble received since the lab started (its
// log's "Added order" lines), so a test can prove a rebuild did not ask the
// CA again.
func (l *Lab) ACMEOrders() (int, error) {
	b, err := os.ReadFile(filepath.Join(l.slot.stateDir(), "pebble.log"))
	if err != nil {
		return 0, fmt.Errorf("lab: counting ACME orders: %w", err)
	}
	return bytes.Count(b, []byte("Added order ")), nil
}

// listenerCert makes a throwaway CA and a server certificate for ip.
func listenerCert(ip netip.Addr) (caPEM, certPEM, keyPEM []byte, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	ca := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "jhub lab ACME endpoint CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, _ = x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: ip.String()},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{ip.AsSlice()},
	}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}
