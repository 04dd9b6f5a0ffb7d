package installer

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/certs"
	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// The host's ufw sees the dropped rules deleted and the wanted ones added,
// in that order; a rule a shell would read as more than words never leaves
// the provider.
func TestApplyFirewall(t *testing.T) {
	h := newHost(t)
	// Records each call beside systemctl's, as the real ufw's arguments.
	mustWrite(t, filepath.Join(h.dir, "bin", "ufw"), "#!/bin/sh\necho \"ufw $*\" >> \"$JHUB_FAKE_SYSTEMD/calls\"\n", 0o755)
	c, _ := h.client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h.calls()

	if err := c.ApplyFirewall(ctx, []string{"allow 8443/tcp", "allow 9000"}, []string{"allow 9000", "limit 2222/tcp"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"ufw delete allow 8443/tcp", "ufw allow 9000", "ufw limit 2222/tcp"}
	if got := h.calls(); !slices.Equal(got, want) {
		t.Errorf("ufw calls %q, want %q", got, want)
	}
	if err := c.ApplyFirewall(ctx, nil, nil); err != nil || len(h.calls()) != 0 {
		t.Errorf("nothing to do: %v, calls %q", err, h.calls())
	}
	for _, bad := range []string{"allow 22; rm -rf /", "allow $(id)", "allow 80\nreset"} {
		err := c.ApplyFirewall(ctx, nil, []string{bad})
		if err == nil || len(h.calls()) != 0 {
			t.Errorf("%q: err %v, calls %q", bad, err, h.calls())
		}
	}
}

// SelfSignedRoot reads the edge's own root where the edge keeps it, and is
// empty before the edge made one.
func TestSelfSignedRoot(t *testing.T) {
	h := newHost(t)
	c, _ := h.client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if root, err := c.SelfSignedRoot(ctx); err != nil || len(root) != 0 {
		t.Fatalf("before the edge made one: %q, %v", root, err)
	}
	p := filepath.Join(h.Root, certs.SelfSignedRootFile(ondroplet.TLSDir))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
	mustWrite(t, p, pem, 0o600)
	if root, err := c.SelfSignedRoot(ctx); err != nil || strings.TrimSpace(string(root)) != strings.TrimSpace(pem) {
		t.Fatalf("root %q, %v", root, err)
	}
}
