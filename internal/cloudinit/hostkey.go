package cloudinit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// GenerateHostKey returns a fresh ed25519 host key pair: the private half in
// OpenSSH PEM form (what sshd reads) and the public half as one authorized_keys
// line without a comment (what the provider pins and exports).
func GenerateHostKey() (HostKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return HostKey{}, fmt.Errorf("cloudinit: generating the ed25519 host key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return HostKey{}, fmt.Errorf("cloudinit: encoding the host private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return HostKey{}, fmt.Errorf("cloudinit: encoding the host public key: %w", err)
	}
	return HostKey{
		Private: string(pem.EncodeToMemory(block)),
		Public:  strings.TrimSuffix(string(ssh.MarshalAuthorizedKey(sshPub)), "\n"),
	}, nil
}
