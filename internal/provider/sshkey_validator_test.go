package provider

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestCheckSSHPrivateKey(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	locked, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := ssh.NewSignerFromKey(priv)
	public := ssh.MarshalAuthorizedKey(signer.PublicKey())

	if msg := checkSSHPrivateKey(pem.EncodeToMemory(plain)); msg != "" {
		t.Errorf("a good key was refused: %s", msg)
	}
	for name, c := range map[string]struct {
		key  []byte
		want string
	}{
		"passphrase": {pem.EncodeToMemory(locked), "passphrase"},
		"public key": {public, "public key"},
		"garbage":    {[]byte("not a key"), "Not an SSH private key"},
	} {
		msg := checkSSHPrivateKey(c.key)
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: got %q, want it to mention %q", name, msg, c.want)
		}
		if strings.Contains(msg, string(c.key)) {
			t.Errorf("%s: the message quotes the key", name)
		}
	}
}
