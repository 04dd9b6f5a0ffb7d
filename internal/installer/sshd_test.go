package installer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// The tests in this package run the installer against the host's real
// OpenSSH sshd, started by each test on 127.0.0.1 with a test host key and
// root's test key. They need root and /usr/sbin/sshd (run
// `sudo bash scripts/setup-installer-tests.sh`); with CI=true a missing
// prerequisite fails them, elsewhere they skip.
//
// Everything the installer touches is confined to Client.Root (a temporary
// directory). systemd is not running on the host, so the sshd's sessions
// get a PATH whose `systemctl` records each call and keeps unit states in
// files (see fakeSystemctl); every other tool (sh, tar, cp, mv, sha256sum,
// stat, useradd) is the host's own.

const sshdPath = "/usr/sbin/sshd"

func requireSSHD(t testing.TB) {
	t.Helper()
	var missing string
	if os.Geteuid() != 0 {
		missing = "root"
	} else if _, err := os.Stat(sshdPath); err != nil {
		missing = sshdPath
	}
	require(t, missing, "scripts/setup-installer-tests.sh")
}

// require fails (CI=true) or skips the test when a prerequisite is missing,
// naming the setup script that provides it.
func require(t testing.TB, missing, script string) {
	t.Helper()
	testkit.Need(t, missing, "run `sudo bash "+script+"` and the tests as root")
}

// fakeSystemctl stands in for systemd's systemctl: it appends its
// arguments to $JHUB_FAKE_SYSTEMD/calls and keeps each unit's ActiveState in
// $JHUB_FAKE_SYSTEMD/state/<unit>. A file fail-restart-<unit> makes
// restarts of that unit fail.
const fakeSystemctl = `#!/bin/sh
d="$JHUB_FAKE_SYSTEMD"
echo "$*" >> "$d/calls"
for u; do :; done
case "$1" in
show) cat "$d/state/$u" 2>/dev/null || echo inactive ;;
start|restart)
	if [ -e "$d/fail-restart-$u" ]; then echo "Job for $u failed." >&2; exit 1; fi
	echo active > "$d/state/$u" ;;
stop) echo inactive > "$d/state/$u" ;;
disable) case "$*" in *--now*) echo inactive > "$d/state/$u" ;; esac ;;
reload)
	if [ "$(cat "$d/state/$u" 2>/dev/null)" != active ]; then echo "$u is not active, cannot reload." >&2; exit 1; fi ;;
enable|daemon-reload|status) ;;
*) echo "fake systemctl: unsupported: $*" >&2; exit 2 ;;
esac
`

// testHost is one sshd under test and the root directory it serves.
type testHost struct {
	t       testing.TB
	dir     string // sshd config, keys, fake systemd
	Root    string // Client.Root
	port    int
	hostKey string // authorized_keys line
	userKey []byte // PEM
	started bool
}

// log is what sshd has logged so far.
func (h *testHost) log() string {
	b, _ := os.ReadFile(filepath.Join(h.dir, "sshd.log"))
	return string(b)
}

// newHost prepares an sshd on a free loopback port; start runs it.
func newHost(t testing.TB) *testHost {
	t.Helper()
	requireSSHD(t)
	h := &testHost{t: t, dir: t.TempDir(), Root: t.TempDir()}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation directory
		t.Fatal(err)
	}
	hostKey, userKey := testkit.NewSSHKey(t, ""), testkit.NewSSHKey(t, "")
	h.hostKey = hostKey.AuthorizedKey
	mustWrite(t, filepath.Join(h.dir, "host_ed25519"), hostKey.PrivatePEM, 0o600)
	h.userKey = []byte(userKey.PrivatePEM)
	mustWrite(t, filepath.Join(h.dir, "authorized_keys"), userKey.AuthorizedKey+"\n", 0o600)

	sd := filepath.Join(h.dir, "systemd")
	for _, d := range []string{filepath.Join(h.dir, "bin"), filepath.Join(sd, "state")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(h.dir, "bin", "systemctl"), fakeSystemctl, 0o755)
	mustWrite(t, filepath.Join(sd, "calls"), "", 0o644)

	h.port = freePort(t)
	cfg := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile none
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
LogLevel VERBOSE
SetEnv PATH=%s:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin JHUB_FAKE_SYSTEMD=%s
`, h.port, filepath.Join(h.dir, "host_ed25519"), filepath.Join(h.dir, "authorized_keys"), filepath.Join(h.dir, "bin"), sd)
	mustWrite(t, filepath.Join(h.dir, "sshd_config"), cfg, 0o600)
	return h
}

// start runs sshd in the foreground, logging to sshd.log, and stops it (by
// its PID) at cleanup.
func (h *testHost) start() {
	h.t.Helper()
	cmd := exec.Command(sshdPath, "-D", "-E", filepath.Join(h.dir, "sshd.log"), "-f", filepath.Join(h.dir, "sshd_config"))
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.started = true
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }() // killed at cleanup: its status says nothing
	h.t.Cleanup(func() {
		if err := cmd.Process.Kill(); err != nil {
			h.t.Errorf("stopping sshd (pid %d): %v", cmd.Process.Pid, err)
		}
		<-done
	})
}

func (h *testHost) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(h.port)) }

func (h *testHost) target() Target {
	return Target{Addr: h.addr(), User: "root", PrivateKey: h.userKey, HostKey: h.hostKey}
}

// client dials the host (starting sshd if needed) with Root confined; the
// returned log collects every command the client ran.
func (h *testHost) client() (*Client, *strings.Builder) {
	h.t.Helper()
	if !h.started {
		h.start()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, h.target())
	if err != nil {
		h.t.Fatalf("%v\nsshd log:\n%s", err, h.log())
	}
	h.t.Cleanup(func() { _ = c.Close() })
	cmds := &strings.Builder{} // Logf runs on the caller's goroutine
	c.Root = h.Root
	c.Logf = func(f string, a ...any) { _, _ = fmt.Fprintf(cmds, f+"\n", a...) }
	return c, cmds
}

// calls returns the systemctl calls recorded since the last call of calls.
func (h *testHost) calls() []string {
	h.t.Helper()
	p := filepath.Join(h.dir, "systemd", "calls")
	b, err := os.ReadFile(p)
	if err != nil {
		h.t.Fatal(err)
	}
	mustWrite(h.t, p, "", 0o644)
	if s := strings.TrimSpace(string(b)); s != "" {
		return strings.Split(s, "\n")
	}
	return nil
}

// unitState is what the fake systemd holds for unit.
func (h *testHost) unitState(unit string) string {
	b, _ := os.ReadFile(filepath.Join(h.dir, "systemd", "state", unit))
	return strings.TrimSpace(string(b))
}

func (h *testHost) failRestart(unit string, fail bool) {
	p := filepath.Join(h.dir, "systemd", "fail-restart-"+unit)
	if fail {
		mustWrite(h.t, p, "", 0o644)
	} else if err := os.Remove(p); err != nil {
		h.t.Fatal(err)
	}
}

func mustWrite(t testing.TB, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// testUser creates nothing: it names a system user the installer will
// create on the host, and removes it (and its group) after the test.
func testUser(t testing.TB) string {
	b := make([]byte, 3)
	rand.Read(b)
	u := "jhubt" + hex.EncodeToString(b)
	t.Cleanup(func() {
		// The user exists only if the test got as far as creating it.
		if out, err := exec.Command("userdel", u).CombinedOutput(); err != nil && !strings.Contains(string(out), "does not exist") {
			t.Errorf("userdel %s: %v: %s", u, err, out)
		}
	})
	return u
}
