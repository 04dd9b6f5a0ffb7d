package cloudinit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// TestFirewallInNamespace runs the payload's own write_files and firewall
// runcmd entries with the real ufw inside private mount, network and PID
// namespaces, starting from an /etc/ufw that already allows 8000 (an image
// with rules of its own), then probes: the metadata address answers root and nobody else;
// from a second namespace on a veth pair, 22, 80 and 443 answer and 8000 does
// not. It repeats the probes after `ufw reload` and after a disable/enable
// cycle (what a reboot does: rules rebuilt from the files).
func TestFirewallInNamespace(t *testing.T) {
	needRootTools(t, "ufw", "iptables", "unshare", "nsenter", "setpriv", "curl", "ip")
	t.Parallel()
	doc := decode(t, mustRender(t, fullConfig(t)))

	dir := t.TempDir()
	ufwDir, sbin := filepath.Join(dir, "ufw"), filepath.Join(dir, "sbin")
	run(t, "cp", "-a", "/etc/ufw", ufwDir)
	// ufw's pristine rules and config, as its postinst creates them.
	for _, f := range []string{"before.rules", "before6.rules", "after.rules", "after6.rules", "user.rules", "user6.rules"} {
		run(t, "cp", "/usr/share/ufw/iptables/"+f, filepath.Join(ufwDir, f))
	}
	run(t, "cp", "/usr/share/ufw/ufw.conf", filepath.Join(ufwDir, "ufw.conf"))
	defaults, err := os.ReadFile("/etc/default/ufw")
	if err != nil {
		t.Fatal(err)
	}
	// No sysctl changes: the namespace is for rules only.
	defaults = regexp.MustCompile(`(?m)^IPT_SYSCTL=.*$`).ReplaceAll(defaults, []byte(`IPT_SYSCTL=""`))
	writeTestFile(t, filepath.Join(dir, "default-ufw"), string(defaults), 0o644)
	if err := os.Mkdir(sbin, 0o755); err != nil {
		t.Fatal(err)
	}

	placed := 0
	for path, f := range writeFilesByPath(t, doc) {
		var target string
		switch {
		case strings.HasPrefix(path, "/etc/ufw/"):
			target = filepath.Join(ufwDir, strings.TrimPrefix(path, "/etc/ufw/"))
		case strings.HasPrefix(path, "/usr/local/sbin/"):
			target = filepath.Join(sbin, strings.TrimPrefix(path, "/usr/local/sbin/"))
		default:
			continue
		}
		mode, err := strconv.ParseUint(f["permissions"].(string), 8, 32)
		if err != nil {
			t.Fatalf("%s: permissions %v", path, f["permissions"])
		}
		writeTestFile(t, target, f["content"].(string), os.FileMode(mode))
		placed++
	}
	if placed != 2 {
		t.Fatalf("want the ufw snippet and the metadata script from write_files, placed %d files", placed)
	}

	var firewall []string
	for _, e := range get(t, doc, "runcmd").([]any) {
		argv := strList(t, e)
		if argv[0] == "ufw" || strings.HasPrefix(argv[0], "/usr/local/sbin/") {
			firewall = append(firewall, shellJoin(argv))
		}
	}
	writeTestFile(t, filepath.Join(dir, "listen.py"), listenPy, 0o644)
	script := fmt.Sprintf(firewallScript, dir, strings.Join(firewall, "\n"))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--mount-proc", "--propagation", "private", "/bin/sh", "-c", script)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("firewall script: %v\n%s", err, out)
	}
	text := string(out)

	probes := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^probe (\S+) (\S+) (\d+)$`).FindAllStringSubmatch(text, -1) {
		probes[m[1]+" "+m[2]] = m[3]
	}
	// Before the firewall every probe gets through: the probes can succeed.
	for _, p := range []string{"metadata-root", "metadata-nobody", "inbound-22", "inbound-80", "inbound-443", "inbound-8000"} {
		if probes["open "+p] != "200" {
			t.Errorf("without the firewall %s = %q, want 200 (probe broken)\n%s", p, probes["open "+p], text)
		}
	}
	for _, phase := range []string{"enabled", "reloaded", "restarted"} {
		want := map[string]string{
			"metadata-root": "200", "metadata-nobody": "000",
			"inbound-22": "200", "inbound-80": "200", "inbound-443": "200", "inbound-8000": "000",
		}
		for p, code := range want {
			if got := probes[phase+" "+p]; got != code {
				t.Errorf("%s: %s = %q, want %s", phase, p, got, code)
			}
		}
	}

	status := section(text, "== ufw status")
	if !strings.Contains(status, "Default: deny (incoming), allow (outgoing)") {
		t.Errorf("ufw defaults:\n%s", status)
	}
	var rules []string
	for _, l := range strings.Split(status, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && strings.Contains(f[0], "/") {
			rules = append(rules, strings.Join(f, " "))
		}
	}
	wantRules := "22/tcp LIMIT IN Anywhere|80/tcp ALLOW IN Anywhere|443/tcp ALLOW IN Anywhere|" +
		"22/tcp (v6) LIMIT IN Anywhere (v6)|80/tcp (v6) ALLOW IN Anywhere (v6)|443/tcp (v6) ALLOW IN Anywhere (v6)"
	if strings.Join(rules, "|") != wantRules {
		t.Errorf("ufw rules:\n got %q\nwant %q\n%s", strings.Join(rules, "|"), wantRules, status)
	}
	if !strings.Contains(text, "markers 1\n") {
		t.Errorf("the metadata rule is not in before.rules exactly once after re-running the script:\n%s", text)
	}
}

// section returns the lines after header up to the next "== " header.
func section(text, header string) string {
	_, after, _ := strings.Cut(text, header+"\n")
	before, _, _ := strings.Cut(after, "\n== ")
	return before
}

func needRootTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	testkit.Need(t, strings.Join(missing, ", "), "run as root after `bash scripts/setup-cloudinit.sh` (installs ufw)")
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func writeTestFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// shellJoin quotes argv the way cloud-init turns a runcmd list into a line.
func shellJoin(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// listenPy answers 200 on every address:port it is given.
const listenPy = `import http.server, sys, threading
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass
for a in sys.argv[1:]:
    host, port = a.rsplit(":", 1)
    s = http.server.ThreadingHTTPServer((host, int(port)), H)
    threading.Thread(target=s.serve_forever, daemon=True).start()
print("listening", flush=True)
threading.Event().wait()
`

// firewallScript runs as PID 1 of fresh namespaces; %[1]s is the test's temp
// directory, %[2]s the payload's firewall commands. The "outside" is a child
// network namespace on a veth pair in the lab range 198.18.0.0/15; a fresh
// namespace has no routes to clash with.
const firewallScript = `set -eu
T=%[1]s
mount -t tmpfs tmpfs /run
mount --bind "$T/ufw" /etc/ufw
mount --bind "$T/default-ufw" /etc/default/ufw
mount --bind "$T/sbin" /usr/local/sbin
ip link set lo up
ip addr add 169.254.169.254/32 dev lo
unshare --net sleep 120 &
OUT=$!
while [ "$(readlink /proc/$OUT/ns/net)" = "$(readlink /proc/self/ns/net)" ]; do sleep 0.05; done
ip link add jhubfw0 type veth peer name jhubfw1 netns $OUT
ip addr add 198.18.250.1/30 dev jhubfw0
ip link set jhubfw0 up
nsenter -t $OUT -n sh -c 'ip link set lo up; ip addr add 198.18.250.2/30 dev jhubfw1; ip link set jhubfw1 up'
/usr/bin/python3 "$T/listen.py" 169.254.169.254:80 198.18.250.1:22 198.18.250.1:80 198.18.250.1:443 198.18.250.1:8000 &
SRV=$!
trap 'kill $SRV $OUT' EXIT
i=0
until curl -s -m 1 -o /dev/null http://169.254.169.254/; do i=$((i+1)); [ $i -lt 100 ] || exit 1; sleep 0.05; done
code() { curl -s -m 0.5 -o /dev/null -w '%%{http_code}' "$@" || true; }
probe() {
	echo "probe $1 metadata-root $(code http://169.254.169.254/)"
	echo "probe $1 metadata-nobody $(setpriv --reuid=65534 --regid=65534 --clear-groups curl -s -m 0.5 -o /dev/null -w '%%{http_code}' http://169.254.169.254/ || true)"
	for p in 22 80 443 8000; do
		echo "probe $1 inbound-$p $(nsenter -t $OUT -n curl -s -m 0.5 -o /dev/null -w '%%{http_code}' http://198.18.250.1:$p/ || true)"
	done
}
probe open
# the image's own rule, which the payload must not keep
ufw allow 8000/tcp >/dev/null
%[2]s
probe enabled
echo "== ufw status"
ufw status verbose
echo "== before-output"
iptables -S ufw-before-output
/usr/local/sbin/jhub-block-metadata
ufw reload
probe reloaded
ufw disable
ufw --force enable
probe restarted
echo "markers $(grep -c -x -F '# jhub: metadata service for root only' /etc/ufw/before.rules)"
`
