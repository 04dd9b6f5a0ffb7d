// Package testkit holds what the tests of every package share: skipping a
// test whose prerequisite is missing here while failing it in CI (where the
// setup scripts install everything), and SSH keys.
package testkit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// InCI reports whether the tests run in CI (CI=true), where every
// prerequisite is installed and a missing one is a failure.
func InCI() bool { return os.Getenv("CI") == "true" }

// Need skips t when missing is non-empty, or fails it in CI. missing says
// what is absent, fix how to get it.
func Need(t testing.TB, missing, fix string) {
	t.Helper()
	if missing == "" {
		return
	}
	msg := "missing " + missing + "; " + fix
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// SSHKey is a fresh ed25519 key pair.
type SSHKey struct {
	Private       ed25519.PrivateKey
	Signer        ssh.Signer
	PrivatePEM    string // OpenSSH format, no passphrase
	AuthorizedKey string // one authorized_keys line, with the comment
}

// NewSSHKey generates a key pair whose public line ends in comment.
func NewSSHKey(t testing.TB, comment string) SSHKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	if comment != "" {
		line += " " + comment
	}
	return SSHKey{Private: priv, Signer: signer, PrivatePEM: string(pem.EncodeToMemory(block)), AuthorizedKey: line}
}
