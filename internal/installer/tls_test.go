package installer

import (
	"bytes"
	"context"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/classhub/terraform-provider-jhub/internal/certs"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

func TestTLSExportImportRoundTrip(t *testing.T) {
	h := newHost(t)
	c, _ := h.client()
	c.EdgeUser = testUser(t)
	ctx := context.Background()

	if b, err := c.ExportTLS(ctx); err != nil || b != nil {
		t.Fatalf("a host without TLS storage exports %q, %v; want nothing", b, err)
	}

	// A storage directory as the edge leaves it: ACME account and
	// certificate, the lab CA, and lock files that never travel.
	src := t.TempDir()
	for rel, content := range map[string]string{
		"acme/acme-v02.api.letsencrypt.org-directory/users/admin@example.test/admin.key":  "ACCOUNT KEY",
		"acme/acme-v02.api.letsencrypt.org-directory/users/admin@example.test/admin.json": `{"status":"valid"}`,
		"acme/certificates/pebble/hub.example.test/hub.example.test.crt":                  "CERT",
		"acme/certificates/pebble/hub.example.test/hub.example.test.key":                  "LEAF KEY",
		"selfsigned/ca.pem":                      "CA",
		"locks/issue_cert_hub.example.test.lock": "lock",
	} {
		p := filepath.Join(src, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, p, content, 0o600)
	}
	bundle, err := certs.Export(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ImportTLS(ctx, bundle); err != nil {
		t.Fatal(err)
	}

	u, err := user.Lookup(c.EdgeUser)
	if err != nil {
		t.Fatalf("ImportTLS did not create the edge's user: %v", err)
	}
	dir := filepath.Join(h.Root, ondroplet.TLSDir)
	files := 0
	err = filepath.Walk(filepath.Dir(dir), func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s has mode %o, want %o", p, fi.Mode().Perm(), want)
		}
		if uid := fi.Sys().(*syscall.Stat_t).Uid; strconv.Itoa(int(uid)) != u.Uid {
			t.Errorf("%s owned by uid %d, want the edge's user %s (%s)", p, uid, c.EdgeUser, u.Uid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != 5 {
		t.Errorf("%d files imported, want 5 (locks stay behind)", files)
	}
	if got := h.read(ondroplet.TLSDir + "/acme/certificates/pebble/hub.example.test/hub.example.test.key"); got != "LEAF KEY" {
		t.Errorf("leaf key %q", got)
	}

	// The edge renews: a file changes on the host, export reads it back.
	mustWrite(t, filepath.Join(dir, "acme/certificates/pebble/hub.example.test/hub.example.test.crt"), "RENEWED", 0o600)
	if err := os.Mkdir(filepath.Join(dir, "locks"), 0o700); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "locks/x.lock"), "lock", 0o600)
	out, err := c.ExportTLS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(src, "acme/certificates/pebble/hub.example.test/hub.example.test.crt"), "RENEWED", 0o600)
	want, _ := certs.Export(src)
	if !bytes.Equal(out, want) {
		t.Errorf("exported bundle differs from the storage's:\n got %s\nwant %s", out, want)
	}

	// A storage that holds certificates (the class volume's, renewed since
	// the bundle in state was read) keeps them: the old bundle does not win.
	if err := c.ImportTLS(ctx, bundle); err != nil {
		t.Fatal(err)
	}
	if got := h.read(ondroplet.TLSDir + "/acme/certificates/pebble/hub.example.test/hub.example.test.crt"); got != "RENEWED" {
		t.Errorf("importing into a storage with certificates replaced the renewed one: %q", got)
	}

	if err := c.ImportTLS(ctx, nil); err != nil {
		t.Errorf("an empty bundle: %v", err)
	}
	if err := c.ImportTLS(ctx, []byte("not a bundle")); err == nil {
		t.Error("a broken bundle was accepted")
	}
}
