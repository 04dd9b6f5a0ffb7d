//go:build lab

package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"golang.org/x/crypto/ssh"
	"golang.org/x/oauth2"

	"github.com/classhub/terraform-provider-jhub/internal/cloudinit"
	"github.com/classhub/terraform-provider-jhub/internal/dosim"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// The tests below need root, the image from scripts/setup-lab.sh and Pebble
// (scripts/install-pebble.sh, run by setup-lab.sh). With CI=true a missing
// prerequisite fails them; elsewhere they skip saying what to run.

var (
	sharedOnce sync.Once
	sharedLab  *Lab
	sharedErr  error
)

func TestMain(m *testing.M) {
	if os.Getenv("JHUB_LAB_CHILD") == "1" {
		labChild()
		return
	}
	code := m.Run()
	if sharedLab != nil {
		if err := sharedLab.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the lab:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// requireLab skips (or in CI fails) when the lab cannot run here.
func requireLab(t testing.TB) {
	t.Helper()
	var missing string
	if os.Geteuid() != 0 {
		missing = "root"
	} else if _, err := FindImage(); err != nil {
		missing = err.Error()
	} else if !exists(filepath.Join(CacheDir(), "bin", "pebble")) {
		missing = "pebble in " + filepath.Join(CacheDir(), "bin")
	}
	testkit.Need(t, missing, "run `sudo bash scripts/setup-lab.sh` and the tests as root")
}

// theLab is one lab shared by the tests of this package (starting one costs
// a second; booting droplets is what the tests measure).
func theLab(t testing.TB) *Lab {
	t.Helper()
	requireLab(t)
	sharedOnce.Do(func() {
		sharedLab, sharedErr = Start(context.Background(), Options{Owner: "internal/lab tests", Logf: func(f string, a ...any) {
			if os.Getenv("JHUB_LAB_DEBUG") != "" {
				fmt.Fprintf(os.Stderr, "lab: "+f+"\n", a...)
			}
		}})
	})
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return sharedLab
}

func apiClient(t testing.TB, env Env) *godo.Client {
	t.Helper()
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: env.Token}))
	c, err := godo.New(hc, godo.SetBaseURL(env.APIURL))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// machine is a droplet under test with the keys to reach it.
type machine struct {
	id       int
	ip       string
	hostKey  ssh.PublicKey
	admin    ssh.Signer
	userData string
	created  time.Time
}

// hubSize is the size the tests give a droplet that runs a hub.
const hubSize = "s-1vcpu-2gb"

// createDroplet renders the real payload (the one a DigitalOcean droplet
// gets, with the lab's apt mirror) and creates the droplet through the API.
func createDroplet(t testing.TB, l *Lab, c *godo.Client, name, size string, ipv6 bool) *machine {
	t.Helper()
	adminKey := testkit.NewSSHKey(t, "")
	admin := adminKey.Signer
	hk, err := cloudinit.GenerateHostKey()
	if err != nil {
		t.Fatal(err)
	}
	pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(hk.Public))
	if err != nil {
		t.Fatal(err)
	}
	env := l.Env()
	ud, err := cloudinit.Render(cloudinit.Config{
		Hostname:          name,
		AdminUser:         "teacher",
		AdminKeys:         []string{adminKey.AuthorizedKey},
		HostKey:           hk,
		AptMirror:         env.AptMirror,
		AptSecurityMirror: env.AptSecurityMirror,
	})
	if err != nil {
		t.Fatal(err)
	}
	m := &machine{hostKey: pinned, admin: admin, userData: string(ud), created: time.Now()}
	d, _, err := c.Droplets.Create(context.Background(), &godo.DropletCreateRequest{
		Name: name, Region: "fra1", Size: size,
		Image: godo.DropletCreateImage{Slug: ImageSlug}, UserData: string(ud),
		IPv6: ipv6,
	})
	if err != nil {
		t.Fatal(err)
	}
	m.id = d.ID
	t.Cleanup(func() {
		if err := unlessGone(c.Droplets.Delete(context.Background(), m.id)); err != nil {
			t.Errorf("cleanup: deleting droplet %d: %v", m.id, err)
		}
	})
	return m
}

// unlessGone is the error of a cleanup's delete, nil when the test deleted
// the object itself.
func unlessGone(resp *godo.Response, err error) error {
	if err != nil && (resp == nil || resp.StatusCode != http.StatusNotFound) {
		return err
	}
	return nil
}

// waitActive polls the API until the droplet is active and returns its IPv4.
func waitActive(t testing.TB, c *godo.Client, m *machine) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		d, _, err := c.Droplets.Get(context.Background(), m.id)
		if err != nil {
			t.Fatal(err)
		}
		if d.Status == "active" {
			if m.ip, err = d.PublicIPv4(); err != nil || m.ip == "" {
				t.Fatalf("droplet %d active without a public IPv4 (%v)", m.id, err)
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("droplet %d not active within 3m", m.id)
}

func (m *machine) dial(t testing.TB) *ssh.Client {
	t.Helper()
	cfg := &ssh.ClientConfig{
		User:            "teacher",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(m.admin)},
		HostKeyCallback: ssh.FixedHostKey(m.hostKey),
		Timeout:         5 * time.Second,
	}
	var lastErr error
	for range 30 {
		c, err := ssh.Dial("tcp", net.JoinHostPort(m.ip, "22"), cfg)
		if err == nil {
			t.Cleanup(func() { c.Close() })
			return c
		}
		lastErr = err
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("ssh to droplet %d at %s with the pinned host key: %v", m.id, m.ip, lastErr)
	return nil
}

func sshRun(c *ssh.Client, cmd string) (string, error) {
	s, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var out, errOut bytes.Buffer
	s.Stdout, s.Stderr = &out, &errOut
	if err = s.Run(cmd); err != nil {
		return out.String() + errOut.String(), err
	}
	return out.String(), nil
}

func mustRun(t testing.TB, c *ssh.Client, cmd string) string {
	t.Helper()
	out, err := sshRun(c, cmd)
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return out
}

// cloudInitDone waits for cloud-init and fails with its logs unless it
// ended "done".
func cloudInitDone(t testing.TB, c *ssh.Client) {
	t.Helper()
	out, err := sshRun(c, "sudo cloud-init status --wait")
	if err != nil || !strings.Contains(out, "status: done") {
		logs, _ := sshRun(c, "sudo cloud-init status --long; sudo tail -n 60 /var/log/cloud-init-output.log")
		t.Fatalf("cloud-init did not end done (%v): %s\n%s", err, out, logs)
	}
}

func tcpOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// TestLabDroplet is the lab end to end: a droplet with the real payload boots,
// is reachable with its pinned host key, cloud-init ends done with a no-op
// package step, ufw is what the payload says, the metadata service answers
// root only, its name resolves, Pebble issues it certificates over HTTP-01
// and DNS-01,
// it keeps its disk across a power cycle, and delete removes it all.
func TestLabDroplet(t *testing.T) {
	l := theLab(t)
	c := apiClient(t, l.Env())
	ctx := context.Background()
	const zone = "jhub-lab.test"
	if _, _, err := c.Domains.Create(ctx, &godo.DomainCreateRequest{Name: zone}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unlessGone(c.Domains.Delete(ctx, zone)); err != nil {
			t.Errorf("cleanup: deleting domain %s: %v", zone, err)
		}
	})
	m := createDroplet(t, l, c, "hub", hubSize, false)
	waitActive(t, c, m)
	// On trixie sshd starts alongside cloud-init's config stage, which then
	// restarts it (and runcmd reloads ufw): a connection in that instant is
	// refused, so a few tries.
	open := false
	for range 10 {
		if open = tcpOpen(net.JoinHostPort(m.ip, "22")); open {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if !open {
		d, _ := l.lookup(m.id)
		t.Fatalf("droplet active but %s:22 closed; console:\n%s", m.ip, l.consoleTail(d))
	}
	cli := m.dial(t)
	cloudInitDone(t, cli)

	t.Run("hostname", func(t *testing.T) {
		if got := strings.TrimSpace(mustRun(t, cli, "hostname")); got != "hub" {
			t.Fatalf("hostname %q, want hub", got)
		}
	})
	t.Run("packages", func(t *testing.T) {
		// apt-get update went through the lab mirror, and the install step
		// changed nothing: every package was already in the image.
		mustRun(t, cli, "ls /var/lib/apt/lists/ | grep -F '"+l.Env().Gateway+":8080_debian_dists_"+ImageSuite+"_InRelease'")
		// The payload's sources replaced the image's: apt asks the lab mirror
		// only.
		uris := mustRun(t, cli, "cat /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | grep -E '^(URIs:|deb )' || true")
		for _, u := range strings.Split(strings.TrimSpace(uris), "\n") {
			if !strings.Contains(u, "http://"+l.Env().Gateway+":8080/") {
				t.Errorf("apt source %q in the droplet is not the lab mirror; all sources:\n%s", u, uris)
			}
		}
		if out, _ := sshRun(cli, "test /var/log/dpkg.log -nt /etc/jhub-lab-recipe && tail -n 20 /var/log/dpkg.log"); out != "" {
			t.Fatalf("cloud-init installed packages the image lacks; add them to scripts/setup-lab.sh:\n%s", out)
		}
		mustRun(t, cli, "dpkg-query -W jupyterhub jupyterlab python3-jupyter-server python3-nbgitpuller node-configurable-http-proxy ufw unattended-upgrades")
	})
	t.Run("apt-install", func(t *testing.T) {
		// A package the image lacks installs for real through the lab's
		// mirror, from the archive the host's apt sources name.
		if out, err := sshRun(cli, "dpkg-query -W python3-numpy"); err == nil {
			t.Fatalf("python3-numpy already in the image (%s): the test proves nothing", out)
		}
		if out, err := sshRun(cli, "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-numpy"); err != nil {
			srcs, _ := sshRun(cli, "grep -r . /etc/apt/sources.list /etc/apt/sources.list.d/")
			t.Fatalf("apt-get install python3-numpy: %v\n%s\napt sources:\n%s", err, out, srcs)
		}
		mustRun(t, cli, "python3 -c 'import numpy; print(numpy.arange(3).sum())'")
	})
	t.Run("firewall", func(t *testing.T) {
		// Listeners on every port; only the firewall decides what the
		// outside sees.
		mustRun(t, cli, "sudo mkdir -p /srv/www/.well-known/acme-challenge")
		for _, p := range []string{"80", "443", "8000"} {
			mustRun(t, cli, "sudo sh -c 'nohup python3 -m http.server "+p+" --directory /srv/www >/dev/null 2>&1 &'")
		}
		for _, p := range []string{"80", "443", "8000"} {
			mustRun(t, cli, "for i in $(seq 50); do curl -s -o /dev/null http://127.0.0.1:"+p+"/ && exit 0; sleep 0.1; done; exit 1")
		}
		for port, want := range map[string]bool{"22": true, "80": true, "443": true, "8000": false} {
			if got := tcpOpen(net.JoinHostPort(m.ip, port)); got != want {
				t.Errorf("port %s from outside: open=%v, want %v", port, got, want)
			}
		}
	})
	t.Run("metadata", func(t *testing.T) {
		base := "http://169.254.169.254/metadata/v1"
		if got := mustRun(t, cli, "sudo curl -sf "+base+"/id"); got != fmt.Sprint(m.id) {
			t.Errorf("metadata id %q, want %d", got, m.id)
		}
		if got := mustRun(t, cli, "sudo curl -sf "+base+"/hostname"); got != "hub" {
			t.Errorf("metadata hostname %q", got)
		}
		if got := mustRun(t, cli, "sudo curl -sf "+base+"/user-data"); got != m.userData {
			t.Errorf("metadata user-data differs from what the API received (%d vs %d bytes)", len(got), len(m.userData))
		}
		if got := mustRun(t, cli, "sudo curl -sf "+base+".json"); !strings.Contains(got, fmt.Sprintf(`"droplet_id":%d`, m.id)) {
			t.Errorf("metadata v1.json: %s", got)
		}
		// The admin is uid 1000: the payload's rule must reject it.
		if out, err := sshRun(cli, "curl -s --max-time 5 "+base+"/user-data"); err == nil {
			t.Errorf("a non-root user read the metadata service: %q", out)
		}
	})
	t.Run("dns", func(t *testing.T) {
		for _, r := range []godo.DomainRecordEditRequest{
			{Type: "A", Name: "hub", Data: m.ip, TTL: 60},
			{Type: "TXT", Name: "hub", Data: "lab-check", TTL: 60},
		} {
			if _, _, err := c.Domains.CreateRecord(ctx, zone, &r); err != nil {
				t.Fatal(err)
			}
		}
		addrs, err := l.Resolver().LookupHost(ctx, "hub."+zone)
		if err != nil || len(addrs) != 1 || addrs[0] != m.ip {
			t.Fatalf("hub.%s resolves to %v (%v), want %s", zone, addrs, err, m.ip)
		}
		txt, err := l.Resolver().LookupTXT(ctx, "hub."+zone)
		if err != nil || len(txt) != 1 || txt[0] != "lab-check" {
			t.Fatalf("TXT hub.%s = %v (%v)", zone, txt, err)
		}
		// The droplet resolves through the lab DNS too.
		if out := mustRun(t, cli, "getent hosts hub."+zone); !strings.HasPrefix(out, m.ip) {
			t.Fatalf("inside the droplet hub.%s resolves to %q", zone, out)
		}
	})
	t.Run("acme-http-01", func(t *testing.T) {
		// Pebble resolves the name through the lab DNS and fetches the key
		// authorization from the droplet's web server on :80 (started by the
		// firewall subtest), over the lab network.
		issueCert(t, l, "hub."+zone, "http-01", false, func(token, keyAuth string) {
			mustRun(t, cli, "printf %s '"+keyAuth+"' | sudo tee /srv/www/.well-known/acme-challenge/"+token+" >/dev/null")
		})
	})
	t.Run("acme-dns-01", func(t *testing.T) {
		// The TXT record goes through the DigitalOcean API, as DNS-01 in the
		// edge will do it; the name has no address at all.
		issueCert(t, l, "dns01."+zone, "dns-01", false, func(_, value string) {
			r := godo.DomainRecordEditRequest{Type: "TXT", Name: "_acme-challenge.dns01", Data: value, TTL: 30}
			if _, _, err := c.Domains.CreateRecord(ctx, zone, &r); err != nil {
				t.Fatal(err)
			}
		})
		// And Pebble really checks the record.
		issueCert(t, l, "wrong."+zone, "dns-01", true, func(_, _ string) {
			r := godo.DomainRecordEditRequest{Type: "TXT", Name: "_acme-challenge.wrong", Data: "not-the-key-authorization", TTL: 30}
			if _, _, err := c.Domains.CreateRecord(ctx, zone, &r); err != nil {
				t.Fatal(err)
			}
		})
	})
	t.Run("power-cycle", func(t *testing.T) {
		mustRun(t, cli, "echo kept > ~/disk-check")
		cli.Close()
		act, _, err := c.DropletActions.PowerOff(ctx, m.id)
		if err != nil {
			t.Fatal(err)
		}
		waitAction(t, c, m.id, act.ID)
		if _, running := l.Running(m.id); running {
			t.Fatal("powered off but the container still runs")
		}
		if tcpOpen(net.JoinHostPort(m.ip, "22")) {
			t.Fatal("powered off but sshd answers")
		}
		if act, _, err = c.DropletActions.PowerOn(ctx, m.id); err != nil {
			t.Fatal(err)
		}
		waitAction(t, c, m.id, act.ID)
		cli = m.dial(t)
		if got := mustRun(t, cli, "cat ~/disk-check"); got != "kept\n" {
			t.Fatalf("disk after power cycle: %q", got)
		}
		cloudInitDone(t, cli)
	})
	t.Run("delete", func(t *testing.T) {
		ns, _ := l.Running(m.id)
		if _, err := c.Droplets.Delete(ctx, m.id); err != nil {
			t.Fatal(err)
		}
		waitGone(t, l, m.id, ns)
	})
}

func waitAction(t testing.TB, c *godo.Client, dropletID, actionID int) {
	t.Helper()
	for range 1500 {
		a, _, err := c.DropletActions.Get(context.Background(), dropletID, actionID)
		if err != nil {
			t.Fatal(err)
		}
		switch a.Status {
		case "completed":
			return
		case "errored":
			t.Fatalf("action %d (%s) errored", actionID, a.Type)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("action %d did not complete", actionID)
}

// waitGone waits until the droplet's container, namespace and disk are gone.
func waitGone(t testing.TB, l *Lab, id int, ns string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		left := []string{}
		if exists("/run/netns/" + ns) {
			left = append(left, "namespace "+ns)
		}
		if len(nspawnProcs(ns)) > 0 {
			left = append(left, "container process")
		}
		if m := mountsUnder(filepath.Join(l.slot.diskDir(), fmt.Sprint(id))); len(m) > 0 {
			left = append(left, "mounts "+strings.Join(m, ","))
		}
		if exists(filepath.Join(l.slot.diskDir(), fmt.Sprint(id))) {
			left = append(left, "disk")
		}
		for _, c := range cgroupControllers {
			if exists(cgroupDir(c, ns)) {
				left = append(left, c+" cgroup")
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("droplet %d deleted but still present: %v", id, left)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestLabTwoDroplets boots two droplets at once; each has its own address and
// host key, and they reach each other over the lab network.
func TestLabTwoDroplets(t *testing.T) {
	l := theLab(t)
	c := apiClient(t, l.Env())
	a := createDroplet(t, l, c, "node-a", hubSize, true)
	b := createDroplet(t, l, c, "node-b", hubSize, false)
	var wg sync.WaitGroup
	for _, m := range []*machine{a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); waitActive(t, c, m) }()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if a.ip == b.ip {
		t.Fatalf("both droplets got %s", a.ip)
	}
	ca, cb := a.dial(t), b.dial(t)
	if got := strings.TrimSpace(mustRun(t, ca, "hostname")); got != "node-a" {
		t.Errorf("a's hostname %q", got)
	}
	if got := strings.TrimSpace(mustRun(t, cb, "hostname")); got != "node-b" {
		t.Errorf("b's hostname %q", got)
	}
	mustRun(t, ca, "timeout 5 bash -c 'exec 3<>/dev/tcp/"+b.ip+"/22'")
	// a asked for IPv6: its address answers from the host too, through the
	// firewall the payload set up.
	cloudInitDone(t, ca)
	d, _, err := c.Droplets.Get(context.Background(), a.id)
	if err != nil {
		t.Fatal(err)
	}
	v6, err := d.PublicIPv6()
	if err != nil || v6 == "" || !tcpOpen(net.JoinHostPort(v6, "22")) {
		t.Errorf("droplet a's IPv6 %q (%v) does not answer on :22", v6, err)
	}
	for _, m := range []*machine{a, b} {
		ns, _ := l.Running(m.id)
		if _, err := c.Droplets.Delete(context.Background(), m.id); err != nil {
			t.Fatal(err)
		}
		waitGone(t, l, m.id, ns)
	}
}

// TestLabDropletMemory: a droplet has the RAM of its size. The smallest size's
// droplet runs inside a host memory cgroup of that size (nspawn and every
// process under it), and a process that allocates more is OOM-killed while
// PID 1 and sshd keep running.
func TestLabDropletMemory(t *testing.T) {
	const size = "s-1vcpu-512mb-10gb"
	memMiB, ok := dosim.SizeMemoryMiB(size)
	if !ok {
		t.Fatalf("size %s not in the catalog", size)
	}
	l := theLab(t)
	c := apiClient(t, l.Env())
	m := createDroplet(t, l, c, "small", size, false)
	waitActive(t, c, m)
	cli := m.dial(t)
	cloudInitDone(t, cli)
	ns, _ := l.Running(m.id)

	memDir := cgroupDir("memory", ns)
	limit, err := os.ReadFile(filepath.Join(memDir, "memory.limit_in_bytes"))
	if err != nil || strings.TrimSpace(string(limit)) != strconv.Itoa(memMiB<<20) {
		t.Fatalf("memory.limit_in_bytes = %q (%v), want %d", limit, err, memMiB<<20)
	}
	if b, err := os.ReadFile(filepath.Join(cgroupDir("pids", ns), "pids.max")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(dropletPidsMax) {
		t.Fatalf("pids.max = %q (%v)", b, err)
	}
	// Every process of the container, nspawn included, is charged there.
	procs := netnsPIDs(ns)
	for _, p := range nspawnProcs(ns) {
		procs = append(procs, p.pid)
	}
	if len(procs) < 3 {
		t.Fatalf("only %d processes found for droplet %d", len(procs), m.id)
	}
	for _, pid := range procs {
		for _, c := range cgroupControllers {
			if got := procCgroup(pid, c); got != "/"+ns && !strings.HasPrefix(got, "/"+ns+"/") {
				t.Errorf("process %d %v is in %s cgroup %q, want /%s", pid, cmdline(pid), c, got, ns)
			}
		}
	}

	// The hog touches every page it allocates, in 16 MiB steps up to 256 MiB
	// over the droplet's RAM.
	hog := fmt.Sprintf("python3 -c 'x = []\nfor i in range(%d): x.append(bytearray(b\"x\" * (16 << 20)))\nprint(\"survived\")'", (memMiB+256)/16)
	out, err := sshRun(cli, hog)
	var exit *ssh.ExitError
	if !errors.As(err, &exit) || (exit.Signal() != "KILL" && exit.ExitStatus() != 137) {
		t.Fatalf("allocating %d MiB in a %d MiB droplet: %v %q, want killed", memMiB+256, memMiB, err, out)
	}
	oom, _ := os.ReadFile(filepath.Join(memDir, "memory.oom_control"))
	if !regexp.MustCompile(`(?m)^oom_kill [1-9]`).Match(oom) {
		t.Errorf("the hog died but the droplet's cgroup counted no OOM kill:\n%s", oom)
	}
	// PID 1 and sshd are still there: a new session logs in.
	cli2 := m.dial(t)
	if got := mustRun(t, cli2, "cat /proc/1/comm"); got != "systemd\n" {
		t.Errorf("PID 1 is %q after the OOM kill", got)
	}
	mustRun(t, cli2, "systemctl is-active ssh.service")
	if _, err := c.Droplets.Delete(context.Background(), m.id); err != nil {
		t.Fatal(err)
	}
	waitGone(t, l, m.id, ns)
}

// procCgroup is the path of pid's cgroup in a v1 controller's hierarchy.
func procCgroup(pid int, controller string) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	for _, line := range strings.Split(string(b), "\n") {
		// hierarchy-ID:controller-list:path
		f := strings.SplitN(line, ":", 3)
		if len(f) == 3 && slices.Contains(strings.Split(f[1], ","), controller) {
			return f[2]
		}
	}
	return ""
}

// labChild is a lab in a child process, for the janitor test: it boots a
// droplet, reports, and waits to be killed.
func labChild() {
	l, err := Start(context.Background(), Options{})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: l.Env().Token}))
	c, _ := godo.New(hc, godo.SetBaseURL(l.Env().APIURL))
	d, _, err := c.Droplets.Create(context.Background(), &godo.DropletCreateRequest{
		Name: "doomed", Region: "fra1", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: ImageSlug},
		UserData: "#cloud-config\n{}\n",
	})
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	for {
		if _, running := l.Running(d.ID); running {
			if d, _, err := c.Droplets.Get(context.Background(), d.ID); err == nil && d.Status == "active" {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("READY %d %s\n", l.Env().Slot, l.NetNS(d.ID))
	select {}
}

// TestLabJanitor kills a lab with a running droplet and checks that Down
// removes every trace of it.
func TestLabJanitor(t *testing.T) {
	requireLab(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "JHUB_LAB_CHILD=1")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var line string
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if line = out.String(); strings.Contains(line, "\n") {
			break
		}
	}
	crash := func() {
		if err := cmd.Process.Kill(); err != nil {
			t.Fatalf("killing the child lab: %v", err)
		}
		_ = cmd.Wait() // "signal: killed", as meant
	}
	var s slot
	var ns string
	if _, err := fmt.Sscanf(line, "READY %d %s", &s, &ns); err != nil {
		crash()
		t.Fatalf("child lab: %q", line)
	}
	crash()
	// The crash leaves the container, namespace, bridge, chains and mounts.
	if !exists("/run/netns/"+ns) || len(nspawnProcs(ns)) == 0 || len(mountsUnder(s.diskDir())) == 0 || len(labCgroups(s)) < len(cgroupControllers) {
		t.Fatalf("the killed lab left less than expected (netns %v, nspawn %d, mounts %v, cgroups %v): the test proves nothing",
			exists("/run/netns/"+ns), len(nspawnProcs(ns)), mountsUnder(s.diskDir()), labCgroups(s))
	}
	if err := Down(context.Background(), DownOptions{Logf: t.Logf}); err != nil {
		t.Fatal(err)
	}
	names, err := hostNames(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if sl, _ := slotOf(n); sl == s {
			t.Errorf("left behind: %s", n)
		}
	}
	if p := nspawnProcs(fmt.Sprintf("jhub%d-", s)); len(p) > 0 {
		t.Errorf("left behind: nspawn processes %v", p)
	}
	if m := mountsUnder(s.diskDir()); len(m) > 0 {
		t.Errorf("left behind: mounts %v", m)
	}
	if c := ourChains(context.Background(), s); len(c) > 0 {
		t.Errorf("left behind: iptables chains %v", c)
	}
	if cg := labCgroups(s); len(cg) > 0 {
		t.Errorf("left behind: cgroups %v", cg)
	}
	for _, d := range []string{s.stateDir(), s.diskDir()} {
		if exists(d) {
			t.Errorf("left behind: %s", d)
		}
	}
	// Pebble ran with its config in the state dir.
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil && processAlive(pid) && cmdlineHas(pid, s.stateDir()) {
			t.Errorf("left behind: process %d %v", pid, cmdline(pid))
		}
	}
}

// BenchmarkBoot measures, per droplet, create request to sshd accepting and
// to cloud-init done. Run with -benchtime=5x; it reports the medians.
func BenchmarkBoot(b *testing.B) {
	l := theLab(b)
	c := apiClient(b, l.Env())
	var toSSH, toDone []float64
	for i := range b.N {
		m := createDroplet(b, l, c, fmt.Sprintf("bench-%d", i), hubSize, false)
		addr := ""
		for ; addr == ""; time.Sleep(20 * time.Millisecond) {
			if d, _, err := c.Droplets.Get(context.Background(), m.id); err == nil {
				if ip, _ := d.PublicIPv4(); ip != "" {
					addr = net.JoinHostPort(ip, "22")
					m.ip = ip
				}
			}
		}
		for !tcpOpen(addr) {
			time.Sleep(50 * time.Millisecond)
		}
		toSSH = append(toSSH, time.Since(m.created).Seconds())
		cli := m.dial(b)
		cloudInitDone(b, cli)
		toDone = append(toDone, time.Since(m.created).Seconds())
		cli.Close()
		if _, err := c.Droplets.Delete(context.Background(), m.id); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(median(toSSH), "s-to-ssh")
	b.ReportMetric(median(toDone), "s-to-cloudinit-done")
	b.Logf("boot-to-ssh %v s, boot-to-cloud-init-done %v s", toSSH, toDone)
}

func median(v []float64) float64 {
	s := slices.Sorted(slices.Values(v))
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
