package bundle

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEdgeFrom(t *testing.T) {
	fsys := fstest.MapFS{"builds/jhub-edge-linux-amd64.gz": {Data: gz(t, []byte("\x7fELF amd64"))}}
	if b, err := edgeFrom(fsys, "amd64"); err != nil || string(b) != "\x7fELF amd64" {
		t.Fatalf("edgeFrom(amd64) = %q, %v", b, err)
	}
	if _, err := edgeFrom(fsys, "arm64"); err == nil || !strings.Contains(err.Error(), "make build") {
		t.Errorf("a missing build must say how to get one, got %v", err)
	}
	if _, err := edgeFrom(fsys, "riscv64"); err == nil || !strings.Contains(err.Error(), "[amd64 arm64]") {
		t.Errorf("an unsupported arch must list the supported ones, got %v", err)
	}
	bad := fstest.MapFS{"builds/jhub-edge-linux-amd64.gz": {Data: []byte("not gzip")}}
	if _, err := edgeFrom(bad, "amd64"); err == nil || !strings.Contains(err.Error(), "corrupt") {
		t.Errorf("corrupt build: %v", err)
	}
}

// With a real bundle (make bundle), both builds are static linux executables
// for their machine.
func TestEmbeddedBuilds(t *testing.T) {
	if _, err := Edge("amd64"); err != nil {
		testkit.Need(t, "the embedded edge builds ("+err.Error()+")", "run `make bundle` (CI runs it before the tests)")
	}
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}
	for _, arch := range Arches {
		b, err := Edge(arch)
		if err != nil {
			t.Fatal(err)
		}
		f, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: not an ELF file: %v", arch, err)
		}
		if f.Machine != want[arch] {
			t.Errorf("%s build is for %v", arch, f.Machine)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s build is dynamically linked; the bundle must be static (CGO_ENABLED=0)", arch)
			}
		}
	}
}
