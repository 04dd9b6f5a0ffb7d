package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Self-signed lifetimes: the lab CA outlives many leaves; a leaf is renewed
// when less than selfRenewBefore remains (checked at start and every reload).
const (
	selfCALifetime   = 10 * 365 * 24 * time.Hour
	selfLeafLifetime = 90 * 24 * time.Hour
	selfRenewBefore  = 30 * 24 * time.Hour
)

// SelfSignedRootFile is the lab CA certificate that signs the self-signed leaf;
// clients (testssl --add-ca, curl --cacert) trust it to verify the edge.
func SelfSignedRootFile(storageDir string) string {
	return filepath.Join(storageDir, selfSignedDir, "ca.pem")
}

// selfSigned loads the persisted lab CA and leaf, creating or renewing them
// when missing, expiring soon, or not covering hosts.
func selfSigned(storageDir string, hosts []string, now time.Time) (*tls.Certificate, bool, error) {
	dir := filepath.Join(storageDir, selfSignedDir)
	if err := ensureDirs(storageDir, dir); err != nil {
		return nil, false, err
	}
	ca, caKey, err := loadOrCreateCA(dir, now)
	if err != nil {
		return nil, false, err
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if leaf, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil &&
		slices.Equal(leaf.Leaf.DNSNames, hosts) && leaf.Leaf.NotAfter.Sub(now) > selfRenewBefore &&
		leaf.Leaf.CheckSignatureFrom(ca) == nil {
		return &leaf, false, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		DNSNames:     hosts,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(selfLeafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, false, fmt.Errorf("self-signed certificate for %v: %w", hosts, err)
	}
	chain := append(pemBlock("CERTIFICATE", der), pemBlock("CERTIFICATE", ca.Raw)...)
	if err := writeKey(keyFile, key); err != nil {
		return nil, false, err
	}
	if err := writeSecret(certFile, chain); err != nil {
		return nil, false, err
	}
	leaf, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, false, fmt.Errorf("reload new self-signed certificate %s: %w", certFile, err)
	}
	return &leaf, true, nil
}

func loadOrCreateCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if pair, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil && pair.Leaf.NotAfter.Sub(now) > selfLeafLifetime {
		if key, ok := pair.PrivateKey.(*ecdsa.PrivateKey); ok {
			return pair.Leaf, key, nil
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("self-signed CA in %s is unreadable (delete the directory to start over): %w", dir, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "jhub-edge lab CA", Organization: []string{"jhub"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfCALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := writeKey(keyFile, key); err != nil {
		return nil, nil, err
	}
	if err := writeSecret(certFile, pemBlock("CERTIFICATE", der)); err != nil {
		return nil, nil, err
	}
	ca, err := x509.ParseCertificate(der)
	return ca, key, err
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writeSecret(path, pemBlock("PRIVATE KEY", der))
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return n
}
