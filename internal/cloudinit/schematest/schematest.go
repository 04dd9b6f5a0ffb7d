// Package schematest checks cloud-init payloads with the real `cloud-init
// schema`, for the tests of every package that renders or receives one.
package schematest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// NeedTool returns the path of a tool scripts/setup-cloudinit.sh installs.
// Outside CI a missing tool skips the test; under CI=true it fails, because
// the CI setup installs it.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err == nil {
		return bin
	}
	testkit.Need(t, name, "run `sudo bash scripts/setup-cloudinit.sh` before the tests")
	return ""
}

// Schema runs `cloud-init schema` on payload and returns its verdict; a
// deprecation warning counts as a failure, since it breaks on the next release.
func Schema(t testing.TB, payload []byte) (ok bool, output string) {
	t.Helper()
	bin := NeedTool(t, "cloud-init")
	f := filepath.Join(t.TempDir(), "user-data")
	if err := os.WriteFile(f, payload, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "schema", "--config-file", f).CombinedOutput()
	valid := err == nil && strings.Contains(string(out), "Valid cloud-config") && !strings.Contains(string(out), "DEPRECATED")
	return valid, string(out)
}

// RequireValid fails the test unless cloud-init accepts payload.
func RequireValid(t testing.TB, payload []byte) {
	t.Helper()
	if ok, out := Schema(t, payload); !ok {
		t.Fatalf("cloud-init schema rejects the payload:\n%s\n--- payload ---\n%s", out, payload)
	}
}
