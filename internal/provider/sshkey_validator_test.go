package provider

import (
	"encoding/pem"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

func TestCheckSSHPrivateKey(t *testing.T) {
	key := testkit.NewSSHKey(t, "")
	locked, err := ssh.MarshalPrivateKeyWithPassphrase(key.Private, "", []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	public := []byte(key.AuthorizedKey + "\n")

	if msg := checkSSHPrivateKey([]byte(key.PrivatePEM)); msg != "" {
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
