//go:build lab

package lab

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

// issueCert gets a certificate for name from the lab's Pebble, solving the
// challenge of type chalType with solve (which gets the challenge token and
// its key authorization or DNS-01 record value). The certificate must verify
// against the roots the lab exports. With wantInvalid, the challenge must
// fail instead (solve published a wrong answer).
func issueCert(t *testing.T, l *Lab, name, chalType string, wantInvalid bool, solve func(token, answer string)) {
	env := l.Env()
	acmeCA, err := os.ReadFile(env.ACMECAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(acmeCA) {
		t.Fatalf("%s holds no certificate", env.ACMECAFile)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	accountKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ac := &acme.Client{
		Key:          accountKey,
		DirectoryURL: env.ACMEDirectory,
		HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}
	if _, err := ac.Register(ctx, &acme.Account{}, acme.AcceptTOS); err != nil {
		t.Fatalf("ACME register at %s: %v", env.ACMEDirectory, err)
	}
	order, err := ac.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range order.AuthzURLs {
		z, err := ac.GetAuthorization(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if z.Status != acme.StatusPending {
			t.Fatalf("authorization for %s is %q before any challenge was solved: the test would prove nothing", name, z.Status)
		}
		var chal *acme.Challenge
		for _, c := range z.Challenges {
			if c.Type == chalType {
				chal = c
			}
		}
		if chal == nil {
			t.Fatalf("no %s challenge for %s", chalType, name)
		}
		answer, err := ac.HTTP01ChallengeResponse(chal.Token)
		if chalType == "dns-01" {
			answer, err = ac.DNS01ChallengeRecord(chal.Token)
		}
		if err != nil {
			t.Fatal(err)
		}
		solve(chal.Token, answer)
		if _, err := ac.Accept(ctx, chal); err != nil {
			t.Fatal(err)
		}
		_, err = ac.WaitAuthorization(ctx, z.URI)
		if wantInvalid {
			if err == nil {
				t.Fatalf("%s for %s succeeded with a wrong answer: Pebble is not validating", chalType, name)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s for %s: %v", chalType, name, err)
		}
	}
	if _, err = ac.WaitOrder(ctx, order.URI); err != nil {
		t.Fatal(err)
	}
	certKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{name}}, certKey)
	if err != nil {
		t.Fatal(err)
	}
	der, _, err := ac.CreateCertFromOrder(ctx, order, csr, true)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der[0])
	if err != nil {
		t.Fatal(err)
	}
	roots, err := os.ReadFile(env.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	rootPool := x509.NewCertPool()
	if !rootPool.AppendCertsFromPEM(roots) {
		t.Fatalf("%s holds no certificate", env.CAFile)
	}
	inter := x509.NewCertPool()
	for _, d := range der[1:] {
		c, err := x509.ParseCertificate(d)
		if err != nil {
			t.Fatal(err)
		}
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: rootPool, Intermediates: inter}); err != nil {
		t.Fatalf("certificate from Pebble does not verify against %s: %v", env.CAFile, err)
	}
}
