package installer

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// These need neither root nor sshd.

func TestRedactHidesEverySecretLine(t *testing.T) {
	c := &Client{secrets: [][]byte{[]byte("first-secret-line\nsecond-secret-line\n")}}
	got := c.redact("x first-secret-line y\nsecond-secret-line z")
	if got != "x [redacted] y\n[redacted] z" {
		t.Errorf("redacted: %q", got)
	}
}

func TestUntarRefusesEscapes(t *testing.T) {
	for _, name := range []string{"../evil", "/abs/evil", "a/../../evil"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Size: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := untar(&buf, t.TempDir()); err == nil || !strings.Contains(err.Error(), "escapes") {
			t.Errorf("%q: %v", name, err)
		}
	}
}

func TestCommandQuotesEveryArgument(t *testing.T) {
	got := Command("/bin/sh", "-ec", `echo "$1" it's`, "x", "{{release}}/edge.yaml")
	want := `'/bin/sh' '-ec' 'echo "$1" it'\''s' 'x' '{{release}}/edge.yaml'`
	if got != want {
		t.Errorf("Command = %s\nwant      %s", got, want)
	}
}

func TestStagedPath(t *testing.T) {
	for in, want := range map[string]string{
		ondroplet.Current + "/edge/edge.yaml":   "edge/edge.yaml",
		"/etc/systemd/system/jhub-edge.service": outsideDir + "/etc/systemd/system/jhub-edge.service",
	} {
		if got := stagedPath(in); got != want {
			t.Errorf("stagedPath(%s) = %s, want %s", in, got, want)
		}
	}
}
