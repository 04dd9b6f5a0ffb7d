package certs

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Layout under Config.StorageDir.
const (
	acmeDir       = "acme"       // certmagic's FileStorage: accounts, certificates
	selfSignedDir = "selfsigned" // the lab CA and its leaf
	lockDir       = "locks"      // certmagic's lock files: never exported
)

// bundleVersion identifies the Export format.
const bundleVersion = 1

type bundle struct {
	Version int               `json:"version"`
	Files   map[string][]byte `json:"files"` // slash-separated path under StorageDir -> content
}

// ensureDir creates dir (and parents) and forces it to 0700, because MkdirAll
// leaves existing directories as they are.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("tls.storage_dir: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("tls.storage_dir: %w", err)
	}
	return nil
}

// writeSecret writes data to path with mode 0600 atomically (temp file and
// rename), so a reader never sees half a key and a crash leaves the old file.
func writeSecret(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	err = f.Chmod(0o600)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		// The temp file is half written or unnamed; the error above is the one
		// to report, whether or not removing it works.
		_ = os.Remove(f.Name())
	}
	return err
}

// Export returns every certificate, key and ACME account under storageDir as
// one JSON bundle, so a rebuilt machine can Import it and serve without
// issuing again. The bundle holds private keys: treat it as a secret.
func Export(storageDir string) ([]byte, error) {
	b := bundle{Version: bundleVersion, Files: map[string][]byte{}}
	err := filepath.WalkDir(storageDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(storageDir, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == lockDir && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b.Files[filepath.ToSlash(rel)] = data
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("export certificate storage %s: %w", storageDir, err)
	}
	if len(b.Files) == 0 {
		return nil, fmt.Errorf("export certificate storage %s: no files; start the edge once so it issues or loads certificates", storageDir)
	}
	return json.Marshal(b)
}

// Import writes a bundle made by Export into storageDir (files 0600, dirs
// 0700), replacing files of the same name and leaving others alone.
func Import(storageDir string, data []byte) error {
	var b bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return fmt.Errorf("import certificate bundle: not a bundle made by Export: %w", err)
	}
	if b.Version != bundleVersion {
		return fmt.Errorf("import certificate bundle: version %d, this edge reads version %d", b.Version, bundleVersion)
	}
	if err := ensureDir(storageDir); err != nil {
		return err
	}
	var errs []error
	for rel, content := range b.Files {
		if !filepath.IsLocal(filepath.FromSlash(rel)) {
			errs = append(errs, fmt.Errorf("import certificate bundle: %q escapes the storage directory", rel))
			continue
		}
		path := filepath.Join(storageDir, filepath.FromSlash(rel))
		if err := ensureDirs(storageDir, filepath.Dir(path)); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := writeSecret(path, content); err != nil {
			errs = append(errs, fmt.Errorf("import certificate bundle: %w", err))
		}
	}
	return errors.Join(errs...)
}

// ensureDirs creates every directory from root down to dir with mode 0700.
func ensureDirs(root, dir string) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return err
	}
	cur := root
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part == "." {
			continue
		}
		cur = filepath.Join(cur, part)
		if err := ensureDir(cur); err != nil {
			return err
		}
	}
	return nil
}
