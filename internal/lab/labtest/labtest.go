//go:build lab

// Package labtest starts a lab for the tests of any package: it checks the
// prerequisites (root, the image, Pebble), failing under CI=true where the
// setup installs them and skipping elsewhere, and tears the lab down after.
package labtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/lab"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// Require skips or, with CI=true, fails t when a lab cannot run here.
func Require(t testing.TB) {
	t.Helper()
	var missing string
	if os.Geteuid() != 0 {
		missing = "root"
	} else if _, err := lab.FindImage(); err != nil {
		missing = err.Error()
	} else if _, err := os.Stat(filepath.Join(lab.CacheDir(), "bin", "pebble")); err != nil {
		missing = "pebble in " + filepath.Join(lab.CacheDir(), "bin")
	}
	testkit.Need(t, missing, "run `sudo bash scripts/setup-lab.sh` and the tests as root")
}

// Start brings up a lab for t and closes it when t ends.
func Start(t testing.TB) *lab.Lab {
	t.Helper()
	Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	l, err := lab.Start(ctx, lab.Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("closing the lab: %v", err)
		}
	})
	return l
}
