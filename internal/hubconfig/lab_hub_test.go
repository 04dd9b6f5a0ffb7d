//go:build lab

package hubconfig

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// The booted tests run the lab image with systemd as PID 1 (the spawner
// starts each server as a systemd unit), booting straight into the test's
// own unit: `systemd.unit=` on nspawn's command line replaces the default
// target, so no sshd or cloud-init starts. The unit installs the releases
// the test staged under /jhub-test the way the installer does (files,
// owners, modes, the current symlink, units, daemon-reload), runs the
// test's script, writes everything to /jhub-test/out.log and powers off.

const bootDir = "/jhub-test"

// bootedRelease stages the files of s as release name below host (the
// directory bound at bootDir) and returns the shell that installs it in
// the container and makes it current. The edge build is shared.
func bootedRelease(t *testing.T, host, name string, s Settings) string {
	t.Helper()
	files, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, File{Path: DefaultEdgeBinary, Mode: 0o755, Owner: "root"})
	var sh strings.Builder
	rel := path.Join(ondroplet.Root, "releases", name)
	fmt.Fprintf(&sh, "install_%s() {\n\tmkdir -p %s\n", name, rel)
	for _, f := range files {
		src := path.Join(bootDir, name, strings.TrimPrefix(f.Path, "/"))
		dst := f.Path
		if r, ok := strings.CutPrefix(f.Path, ondroplet.Current+"/"); ok {
			dst = path.Join(rel, r)
		}
		if f.Path == DefaultEdgeBinary {
			src = path.Join(bootDir, "jhub-edge")
		} else {
			writeFiles(t, filepath.Join(host, name), []File{f})
		}
		fmt.Fprintf(&sh, "\tinstall -D -m %o -o %s -g %[2]s %s %s\n", f.Mode, f.Owner, src, dst)
	}
	fmt.Fprintf(&sh, "\tln -sfn releases/%s %s.new && mv -Tf %[2]s.new %[2]s\n\tsystemctl daemon-reload\n}\n", name, ondroplet.Current)
	if _, err := os.Stat(filepath.Join(host, "jhub-edge")); err != nil {
		buildEdgeTo(t, filepath.Join(host, "jhub-edge"))
	}
	return sh.String()
}

// bootWith boots the image with host bound at bootDir, runs script (bash)
// in the test unit, and returns its output once the container is off.
func bootWith(t *testing.T, img, host, script string, timeout time.Duration) string {
	t.Helper()
	unit := "[Unit]\nDescription=jhub lab test\nAfter=basic.target\n\n[Service]\nType=oneshot\n" +
		"ExecStart=/bin/bash -c 'bash " + bootDir + "/test.sh >" + bootDir + "/out.log 2>&1; echo \"exit: $?\" >>" + bootDir + "/out.log'\n" +
		"ExecStopPost=/bin/systemctl poweroff --no-block\n"
	for name, content := range map[string]string{"test.sh": script, "jhub-test.service": unit} {
		if err := os.WriteFile(filepath.Join(host, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "systemd-nspawn", "-D", img, "--volatile=overlay", "-b", "--register=no", "--keep-unit", "-q",
		"--private-network", "--console=pipe",
		"--bind="+host+":"+bootDir,
		"--bind-ro="+filepath.Join(host, "jhub-test.service")+":/etc/systemd/system/jhub-test.service",
		"systemd.unit=jhub-test.service")
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 20 * time.Second
	var console bytes.Buffer
	cmd.Stdout, cmd.Stderr = &console, &console
	runErr := cmd.Run()
	out, err := os.ReadFile(filepath.Join(host, "out.log"))
	if err != nil || runErr != nil && ctx.Err() != nil {
		t.Fatalf("boot: %v (%v)\nconsole:\n%s\nout.log:\n%s", runErr, err, tail(console.String(), 4000), out)
	}
	return string(out)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// rosterSettings is the class of the booted test: students alice, bob and
// carol (whose account the droplet's admin made by hand), admins prof and
// dean, the droplet's admin "teacher".
func rosterSettings(t *testing.T) Settings {
	s := classHub(t)
	s.Auth = Auth{Kind: AuthSharedPassword, Password: "class password 2025", AdminPasswords: map[string]string{
		"prof": "prof's own long password", "dean": "dean's own long password",
	}}
	s.AllowedUsers = []string{"alice", "bob", "carol"}
	s.AdminUsers = []string{"prof", "dean"}
	s.Spawner = Spawner{NotebookDir: "~/assignments"}
	s.NamedServers, s.NamedServerLimit = false, 0
	s.IdleCull = nil
	s.Edge = Edge{TLS: TLS{Mode: TLSSelfSigned}}
	s.Secrets.BasicAuthHashes = nil
	return s
}

// A real JupyterHub (the lab image's, with JupyterLab on jupyter-server)
// runs the release's units and jhub_hub.py; the driver plays the class.
// Then an apply drops bob from the roster and demotes dean, and the hub's
// restart must take their access away.
func TestLabRosterAccountsAndLimits(t *testing.T) {
	img := labImage(t)
	host := t.TempDir()
	if err := os.Chmod(host, 0o755); err != nil {
		t.Fatal(err)
	}
	s1 := rosterSettings(t)
	s2 := rosterSettings(t)
	s2.AllowedUsers = []string{"alice", "carol", "dean"}
	s2.AdminUsers = []string{"prof"}
	s2.Auth.AdminPasswords = map[string]string{"prof": s1.Auth.AdminPasswords["prof"]}
	install := bootedRelease(t, host, "r1", s1) + bootedRelease(t, host, "r2", s2)
	driver, err := os.ReadFile("testdata/hub_driver.py")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, "driver.py"), driver, 0o644); err != nil {
		t.Fatal(err)
	}
	adminPW, err := json.Marshal(s1.Auth.AdminPasswords)
	if err != nil {
		t.Fatal(err)
	}
	script := "set -eu\n" + install + `
export HUB_PORT=` + strconv.Itoa(HubPort) + ` ADDR_FAILURES=` + strconv.Itoa(LoginFailuresPerAddress) + ` CLASS_PW=` + shellQuote(s1.Auth.Password) + ` ADMIN_PW=` + shellQuote(string(adminPW)) + `
trap 'echo "--- journal"; journalctl -u jupyterhub -u jhub-edge -u "jupyter-*" --no-pager | tail -n 150' EXIT
echo "127.0.0.1 hub.example.edu" >>/etc/hosts
touch /tmp/jhub-host-marker
# The droplet as cloud-init and the installer leave it: the admin with
# sudo, the edge's service user; carol's account made by hand.
useradd --create-home --shell /bin/bash --groups sudo teacher
useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin ` + ondroplet.EdgeUser + `
useradd --create-home --shell /bin/bash carol
# dora: a student account from before homes were private.
groupadd --system ` + StudentsGroup + ` && useradd --create-home --groups ` + StudentsGroup + ` dora && chmod 755 /home/dora
install_r1
systemctl start ` + EdgeUnit + ` ` + HubUnit + `
python3 ` + bootDir + `/driver.py phase1
echo "unit: $(for p in User MemoryMax TasksMax CPUQuotaPerSecUSec LimitNPROC OOMScoreAdjust PrivateTmp NoNewPrivileges EnvironmentFiles; do systemctl show -p $p --value jupyter-alice.service; done | tr '\n' '|')"
echo "unit cmdline: $(systemctl show -p ExecStart --value jupyter-alice.service)"
echo "env files left: $(ls -A /run/jhub-spawner | wc -l) $(stat -c %a /run/jhub-spawner)"
pid=$(systemctl show -p MainPID --value jupyter-alice.service)
tok=$(tr '\0' '\n' </proc/$pid/environ | sed -n 's/^JUPYTERHUB_API_TOKEN=//p')
echo "token in the unit: ${#tok} characters in the environment; in unit properties or argv: $( (systemctl show jupyter-alice.service; tr '\0' ' ' </proc/$pid/cmdline) | grep -c -F -e "$tok" -e API_TOKEN || true)"
echo "homes: $(stat -c '%n %a %U' /home/alice /home/bob /home/dora | tr '\n' '|')"
echo "assignments: $(stat -c '%a %U' /home/alice/assignments) $(stat -c '%U' /home/alice/assignments/hello.txt)"
echo "groups: $(id -nG alice) / $(id -u alice)"
echo "bob reads alice: $(runuser -u bob -- ls /home/alice >/dev/null 2>&1 && echo allowed || echo denied)"
# Configuration only: this kernel refuses negative oom_score_adj even to
# root on the host (EIO), so the lab cannot show the effect.
echo "oom: hub $(systemctl show -p OOMScoreAdjust --value ` + HubUnit + `) edge $(systemctl show -p OOMScoreAdjust --value ` + EdgeUnit + `)"
echo "listening: $(ss -Hltn | awk '{print $4}' | sort | tr '\n' ' ')"
install_r2
systemctl restart ` + HubUnit + `
python3 ` + bootDir + `/driver.py phase2
echo "bob's unit: $(systemctl is-active jupyter-bob.service || true)"
echo "bob's files: $(test -d /home/bob && echo kept || echo gone)"
echo "alice's unit: $(systemctl is-active jupyter-alice.service || true)"
`
	start := time.Now()
	out := bootWith(t, img, host, script, 12*time.Minute)
	t.Logf("booted, played the class and changed the roster in %s", time.Since(start).Round(time.Second))
	if !strings.Contains(out, "\nexit: 0\n") {
		t.Fatalf("the test script failed:\n%s", out)
	}
	want := []string{
		"ok: class password refused for teacher",
		"ok: class password refused for root",
		"ok: class password refused for jhub-edge",
		"ok: class password refused for nobody",
		"ok: class password refused for admin prof",
		"ok: admin prof logs in with own password and lists users",
		"ok: student alice may not list users (403)",
		"ok: JupyterLab serves /user/alice/lab",
		"ok: no server as an existing account the hub did not create",
		"homes: /home/alice 700 alice|/home/bob 700 bob|/home/dora 700 dora|",
		"assignments: 755 alice alice",
		"ok: alice saves a file through her server",
		"bob reads alice: denied",
		fmt.Sprintf("oom: hub %d edge %d", ServiceOOMScoreAdjust, ServiceOOMScoreAdjust),
		"env files left: 0 700",
		"in unit properties or argv: 0",
		"ok: removed student bob's old session no longer works",
		"ok: removed student bob cannot log in",
		"ok: demoted admin dean's old session gets 403 on /hub/api/users",
		"ok: demoted admin dean logs in as a student and gets 403 on /hub/api/users",
		"ok: bob is gone from the hub's users; prof is still admin",
		"ok: alice's server survived the hub restart",
		"ok: five failures for one name: the next login answers 429",
		"ok: the address limit of failures from one client through the edge: the next login answers 429",
		"bob's unit: inactive",
		"bob's files: kept",
		"alice's unit: active",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("missing %q", w)
		}
	}
	// The unit carries the limits (cgroup limits are configuration in the
	// lab, whose cgroups are read-only; the rest works by effect below).
	l := s1.Limits
	unit := regexp.MustCompile(`(?m)^unit: (.*)$`).FindStringSubmatch(out)
	wantUnit := fmt.Sprintf("alice|%d|%d|%ds|%d|%d|yes|yes|", l.MemoryMaxMiB<<20, l.TasksMax, l.CPUQuotaPercent/100, l.NProc, StudentOOMScoreAdjust)
	if unit == nil || !strings.HasPrefix(unit[1], wantUnit) || !strings.Contains(unit[1], "/run/jhub-spawner/jupyter-alice.service.env") {
		t.Errorf("jupyter-alice.service properties %q, want %q and the EnvironmentFile", unit, wantUnit)
	}
	if m := regexp.MustCompile(`(?m)^unit cmdline: (.*)$`).FindStringSubmatch(out); m == nil || strings.Contains(m[1], "TOKEN") {
		t.Errorf("unit command line: %q", m)
	}
	// Inside alice's server, as alice.
	m := regexp.MustCompile(`(?m)^student: (\{.*\})$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no student report in\n%s", out)
	}
	var st struct {
		UID            int    `json:"uid"`
		User           string `json:"user"`
		SudoRC         int    `json:"sudo_rc"`
		NoNewPrivs     string `json:"no_new_privs"`
		OOMScoreAdj    string `json:"oom_score_adj"`
		ReadBob        string `json:"read_bob"`
		ReadProxyToken string `json:"read_proxy_token"`
		TmpPrivate     bool   `json:"tmp_private"`
		Threads        int    `json:"threads_started"`
	}
	if err := json.Unmarshal([]byte(m[1]), &st); err != nil {
		t.Fatal(err)
	}
	if st.UID < 1000 || st.User != "alice" {
		t.Errorf("server runs as %d %q", st.UID, st.User)
	}
	if st.SudoRC == 0 || st.NoNewPrivs != "1" {
		t.Errorf("privilege: sudo -n true rc %d, NoNewPrivs %s", st.SudoRC, st.NoNewPrivs)
	}
	if st.OOMScoreAdj != strconv.Itoa(StudentOOMScoreAdjust) || st.ReadBob != "denied" || st.ReadProxyToken != "denied" || !st.TmpPrivate {
		t.Errorf("isolation: %+v", st)
	}
	if st.Threads >= l.NProc || st.Threads < 10 {
		t.Errorf("alice started %d threads; LimitNPROC=%d must stop her below it", st.Threads, l.NProc)
	}
	// Nothing between the edge and the hub listens on a port a student can bind.
	ports := regexp.MustCompile(`(?m)^listening: (.*)$`).FindStringSubmatch(out)
	for _, p := range []int{ProxyAPIPort, HubPort} {
		if ports == nil || !strings.Contains(ports[1], fmt.Sprintf("127.0.0.1:%d ", p)) {
			t.Errorf("nothing listens on 127.0.0.1:%d: %v", p, ports)
		}
	}
	for _, old := range []string{":8000 ", ":8001 ", ":8081 "} {
		if ports != nil && strings.Contains(ports[1], old) {
			t.Errorf("something listens on the old unprivileged port %s: %v", old, ports)
		}
	}
	t.Logf("student report: %s", m[1])
	if t.Failed() {
		t.Log(out)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// jhub_hub.py's logic in the image's real JupyterHub, not booted: logins,
// the throttle, names, quoting (testdata/test_jhub_hub.py); the git-pull
// extension's checks under the image's real jupyter-server
// (testdata/test_jhub_gitpull.py).
func TestLabHubClasses(t *testing.T) {
	img := labImage(t)
	hostRoot := stage(t, classHub(t), staging)
	for _, name := range []string{"test_jhub_hub.py", "test_jhub_gitpull.py"} {
		test, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(hostRoot, ondroplet.Root, name), test, 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr, err := inImage(t, img, hostRoot, "python3", "-B", path.Join(ondroplet.Root, name), staging)
		if err != nil || !strings.Contains(stderr, "\nOK\n") {
			t.Fatalf("%s: %v\n%s\n%s", name, err, stdout, stderr)
		}
		t.Logf("%s: %s", name, tail(stderr, 3000))
	}
}
