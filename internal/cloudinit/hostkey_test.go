package cloudinit

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestGenerateHostKey(t *testing.T) {
	k, err := GenerateHostKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.Private, "-----BEGIN OPENSSH PRIVATE KEY-----\n") || !strings.HasSuffix(k.Private, "-----END OPENSSH PRIVATE KEY-----\n") {
		t.Errorf("private half is not an OpenSSH PEM block:\n%.60s...", k.Private)
	}
	signer, err := ssh.ParsePrivateKey([]byte(k.Private))
	if err != nil {
		t.Fatalf("ssh.ParsePrivateKey: %v", err)
	}
	pub, comment, _, rest, err := ssh.ParseAuthorizedKey([]byte(k.Public))
	if err != nil || comment != "" || len(rest) != 0 || strings.Contains(k.Public, "\n") {
		t.Fatalf("public half %q: err %v, comment %q, rest %q", k.Public, err, comment, rest)
	}
	if pub.Type() != ssh.KeyAlgoED25519 {
		t.Errorf("type %s, want ssh-ed25519", pub.Type())
	}
	if !bytes.Equal(signer.PublicKey().Marshal(), pub.Marshal()) {
		t.Fatal("public half does not match the private half")
	}
	// What pinning relies on: a signature by the private half verifies
	// with the exported public half.
	data := []byte("session id")
	sig, err := signer.Sign(rand.Reader, data)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Verify(data, sig); err != nil {
		t.Fatalf("signature does not verify with the public half: %v", err)
	}
	if err := k.validate(); err != nil {
		t.Fatalf("validate rejects a generated key: %v", err)
	}

	// OpenSSH itself reads the private half and derives the same public key.
	keyFile := filepath.Join(t.TempDir(), "ssh_host_ed25519_key")
	if err := os.WriteFile(keyFile, []byte(k.Private), 0o600); err != nil {
		t.Fatal(err)
	}
	derived, err := exec.Command(needTool(t, "ssh-keygen"), "-y", "-f", keyFile).Output()
	if err != nil {
		t.Fatalf("ssh-keygen -y rejects the private half: %v", err)
	}
	if strings.TrimSpace(string(derived)) != k.Public {
		t.Fatalf("ssh-keygen derives %q, GenerateHostKey exported %q", derived, k.Public)
	}

	other, err := GenerateHostKey()
	if err != nil {
		t.Fatal(err)
	}
	if other.Private == k.Private || other.Public == k.Public {
		t.Fatal("two generated keys are equal")
	}
	if err := (HostKey{Private: k.Private, Public: other.Public}).validate(); err == nil || !strings.Contains(err.Error(), "HostKey.Public") {
		t.Fatalf("mismatched halves: want an error naming HostKey.Public, got %v", err)
	}
}

// tlsKeyPEM is a PKCS#8 ECDSA key, the shape of a TLS key.
func tlsKeyPEM(t testing.TB) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// ecdsaHostKey is a valid OpenSSH key of the wrong type.
func ecdsaHostKey(t testing.TB) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := ssh.MarshalPrivateKey(k, "")
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(b))
}

func encryptedHostKey(t testing.TB) string {
	t.Helper()
	raw, err := ssh.ParseRawPrivateKey([]byte(hostKey(t).Private))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ssh.MarshalPrivateKeyWithPassphrase(raw, "", []byte("passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(b))
}
