package installer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/certs"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

func (c *Client) edgeUser() string {
	if c.EdgeUser != "" {
		return c.EdgeUser
	}
	return ondroplet.EdgeUser
}

// ExportTLS reads the edge's certificate storage (ondroplet.TLSDir) as one
// certs.Export bundle, for the provider to keep in state (sensitive). It
// returns nil when the host has no certificates yet.
func (c *Client) ExportTLS(ctx context.Context) ([]byte, error) {
	dir := quote(c.p(ondroplet.TLSDir))
	out, err := c.sh(ctx, "if [ -d "+dir+" ]; then tar -c -C "+dir+" --exclude=./locks -f - .; fi", nil)
	if err != nil {
		return nil, fmt.Errorf("reading the edge's TLS storage %s: %w", ondroplet.TLSDir, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	local, err := os.MkdirTemp("", "jhub-tls-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(local) }()
	n, err := untar(bytes.NewReader(out), local)
	if err != nil {
		return nil, fmt.Errorf("reading the edge's TLS storage %s: %w", ondroplet.TLSDir, err)
	}
	if n == 0 {
		return nil, nil
	}
	return certs.Export(local)
}

// ImportTLS restores a bundle made by ExportTLS into ondroplet.TLSDir (files 0600,
// directories 0700, owned by the edge's user, created if missing) before the
// edge starts, so a rebuilt droplet serves without issuing again. An empty
// bundle does nothing, and so does a storage that already holds files (the
// class volume's, perhaps renewed since the bundle was read).
func (c *Client) ImportTLS(ctx context.Context, bundle []byte) error {
	if len(bundle) == 0 {
		return nil
	}
	local, err := os.MkdirTemp("", "jhub-tls-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(local) }()
	if err := certs.Import(local, bundle); err != nil {
		return err
	}
	accounts, err := c.ensureUsers(ctx, []File{{Owner: c.edgeUser()}})
	if err != nil {
		return fmt.Errorf("importing TLS storage: %w", err)
	}
	a := accounts[c.edgeUser()]
	var archive bytes.Buffer
	if err := tarDir(&archive, local, a); err != nil {
		return err
	}
	dir, parent := quote(c.p(ondroplet.TLSDir)), quote(c.p(filepath.Dir(ondroplet.TLSDir)))
	owner := strconv.Itoa(a.uid) + ":" + strconv.Itoa(a.gid)
	_, err = c.sh(ctx, "if [ -d "+dir+" ] && [ -n \"$(find "+dir+" -type f -print -quit)\" ]; then cat >/dev/null; exit 0; fi\n"+
		"mkdir -p "+dir+" && chown "+owner+" "+parent+" "+dir+" && chmod 700 "+parent+" "+dir+
		" && tar -x --numeric-owner --same-owner --same-permissions -C "+dir+" -f -", &archive)
	if err != nil {
		return fmt.Errorf("writing the edge's TLS storage %s: %w", ondroplet.TLSDir, err)
	}
	return nil
}

// tarDir archives dir's files and directories with the modes the edge
// expects and a as owner.
func tarDir(w io.Writer, dir string, a account) error {
	tw := tar.NewWriter(w)
	now := time.Now()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h := &tar.Header{Name: filepath.ToSlash(rel), ModTime: now, Uid: a.uid, Gid: a.gid, Uname: a.user, Gname: a.group}
		if d.IsDir() {
			h.Typeflag, h.Mode, h.Name = tar.TypeDir, int64(ondroplet.SecretDirMode), h.Name+"/"
			return tw.WriteHeader(h)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h.Typeflag, h.Mode, h.Size = tar.TypeReg, int64(ondroplet.SecretMode), int64(len(data))
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// untar extracts regular files and directories under dir, refusing entries
// that would escape it; it returns the number of files.
func untar(r io.Reader, dir string) (int, error) {
	tr := tar.NewReader(r)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		name := filepath.FromSlash(strings.TrimPrefix(h.Name, "./"))
		if name == "" || name == "." {
			continue
		}
		if !filepath.IsLocal(name) {
			return n, fmt.Errorf("archive entry %q escapes the storage directory", h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return n, err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return n, err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				return n, err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return n, err
			}
			n++
		}
	}
}

// SelfSignedRoot returns the root certificate (PEM) of the edge's own CA
// (tls mode self_signed), which the edge creates on its first start; nil
// while it has none.
func (c *Client) SelfSignedRoot(ctx context.Context) ([]byte, error) {
	f := quote(c.p(certs.SelfSignedRootFile(ondroplet.TLSDir)))
	out, err := c.sh(ctx, "if [ -f "+f+" ]; then cat "+f+"; fi", nil)
	if err != nil {
		return nil, fmt.Errorf("reading the edge's self-signed root: %w", err)
	}
	return out, nil
}
