package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"
)

// droplet is one booted (or powered-off) container.
type droplet struct {
	mu   sync.Mutex
	spec dosim.MachineSpec
	ns   string
	veth string
	dir  string // disk: upper, work, root (the overlay mount), seed
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

func (d *droplet) root() string { return filepath.Join(d.dir, "root") }
func (d *droplet) seed() string { return filepath.Join(d.dir, "seed") }

var hostnameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Create boots a droplet: its own namespace and address, a writable overlay
// on the golden image (its disk, kept across power cycles), and a NoCloud
// seed holding exactly the user_data the API received. It returns once sshd
// accepts connections on the droplet's public address.
func (l *Lab) Create(ctx context.Context, m dosim.MachineSpec) error {
	if m.Image != ImageSlug {
		return fmt.Errorf("lab: droplet %d: image %q cannot boot in the lab, whose only image is %s (built by %s); use image %q", m.ID, m.Image, ImageSlug, SetupScript, ImageSlug)
	}
	if _, ok := dosim.SizeMemoryMiB(m.Size); !ok {
		return fmt.Errorf("lab: droplet %d: size %q is not in the simulator's catalog", m.ID, m.Size)
	}
	if !l.slot.subnet4().Contains(m.IPv4) {
		return fmt.Errorf("lab: droplet %d got address %s outside the lab subnet %s", m.ID, m.IPv4, l.slot.subnet4())
	}
	l.mu.Lock()
	if _, dup := l.droplets[m.ID]; dup {
		l.mu.Unlock()
		return fmt.Errorf("lab: droplet %d already exists", m.ID)
	}
	d := &droplet{
		spec: m,
		ns:   l.slot.netns(m.ID),
		veth: l.slot.veth(l.nextVeth),
		dir:  filepath.Join(l.slot.diskDir(), strconv.Itoa(m.ID)),
	}
	// Locked before it is published, so a concurrent Destroy waits for Create.
	d.mu.Lock()
	defer d.mu.Unlock()
	l.nextVeth++
	l.droplets[m.ID] = d
	l.byIP[m.IPv4] = m.ID
	l.mu.Unlock()

	for _, sub := range []string{"upper", "work", "root", "seed"} {
		if err := os.MkdirAll(filepath.Join(d.dir, sub), 0o755); err != nil {
			return fmt.Errorf("lab: droplet %d: %w", m.ID, err)
		}
	}
	meta := fmt.Sprintf("instance-id: i-%d\nlocal-hostname: %s\n", m.ID, m.Name)
	if err := os.WriteFile(filepath.Join(d.seed(), "meta-data"), []byte(meta), 0o644); err != nil {
		return fmt.Errorf("lab: droplet %d seed: %w", m.ID, err)
	}
	if err := os.WriteFile(filepath.Join(d.seed(), "user-data"), []byte(m.UserData), 0o644); err != nil {
		return fmt.Errorf("lab: droplet %d seed: %w", m.ID, err)
	}
	if err := l.slot.setupDropletNet(ctx, d.ns, d.veth, m.IPv4, m.IPv6); err != nil {
		return err
	}
	opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", l.image, filepath.Join(d.dir, "upper"), filepath.Join(d.dir, "work"))
	if err := unix.Mount("overlay", d.root(), "overlay", 0, opts); err != nil {
		return fmt.Errorf("lab: droplet %d: mounting its disk (overlay on %s): %w", m.ID, l.image, err)
	}
	// The lab's DNS is the droplet's resolver, as DigitalOcean's is on a droplet.
	if err := os.WriteFile(filepath.Join(d.root(), "etc/resolv.conf"), []byte("nameserver "+l.slot.gateway4().String()+"\n"), 0o644); err != nil {
		return fmt.Errorf("lab: droplet %d: %w", m.ID, err)
	}
	return l.boot(ctx, d)
}

// boot starts the container and waits for sshd. d.mu is held.
func (l *Lab) boot(ctx context.Context, d *droplet) error {
	console, err := os.OpenFile(filepath.Join(d.dir, "console.log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("lab: droplet %d: %w", d.spec.ID, err)
	}
	// nspawn writes to its own copy of the descriptor; this one is never written.
	defer func() { _ = console.Close() }()
	args := []string{
		"-q", "-D", d.root(), "-b",
		// No system bus on these machines: without these nspawn fails.
		"--register=no", "--keep-unit",
		// ufw needs CAP_NET_ADMIN, which nspawn grants with a private network.
		"--private-network", "--network-namespace-path=/run/netns/" + d.ns,
		"--bind-ro=" + d.seed() + ":/var/lib/cloud/seed/nocloud",
		"--machine=" + d.ns,
		"--resolv-conf=off", "--link-journal=no", "--console=read-only",
	}
	// Volumes attached before this boot are found again, as on a droplet.
	gen, err := l.bootGenerator(d)
	if err != nil {
		return err
	}
	args = append(args, gen)
	if hostnameRE.MatchString(d.spec.Name) {
		args = append(args, "--hostname="+d.spec.Name)
	}
	mem, _ := dosim.SizeMemoryMiB(d.spec.Size)
	procs, err := setupCgroups(d.ns, mem)
	if err != nil {
		return err
	}
	// nspawn enters the droplet's cgroups before it runs, so everything it
	// forks is charged there (Go cannot act between fork and exec).
	enter := `while [ "$1" != -- ]; do echo $$ >"$1" || exit 125; shift; done; shift; exec "$@"`
	cmd := exec.Command("sh", append(append([]string{"-c", enter, "jhub-lab-enter"}, procs...), append([]string{"--", "systemd-nspawn"}, args...)...)...)
	cmd.Stdout, cmd.Stderr = console, console
	// Its own process group: a Ctrl-C meant for `lab up` must not reach the
	// containers before the lab shuts them down in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("lab: droplet %d: starting systemd-nspawn: %w", d.spec.ID, err)
	}
	d.cmd, d.done = cmd, make(chan struct{})
	// Its exit status says nothing the console does not.
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(d.done)

	ctx, cancel := context.WithTimeout(ctx, l.opts.BootTimeout)
	defer cancel()
	// Readiness is read from the namespace's socket table, not probed with
	// connections: the payload's ufw rule limits :22 to 6 new connections per
	// 30 s, and a probing loop would lock the host out after a reboot.
	for !sshListening(d.ns) {
		select {
		case <-d.done:
			return fmt.Errorf("lab: droplet %d: systemd-nspawn exited during boot: %s", d.spec.ID, l.consoleTail(d))
		case <-ctx.Done():
			return fmt.Errorf("lab: droplet %d: sshd not listening on :22 within %s: %s\n%s", d.spec.ID, l.opts.BootTimeout, l.consoleTail(d), d.bootJournal())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

// sshListening reports whether something listens on TCP port 22 in the lab
// namespace ns (sshd is the only candidate in a booting droplet).
func sshListening(ns string) bool {
	pids := netnsPIDs(ns)
	if len(pids) == 0 {
		return false
	}
	for _, f := range []string{"tcp", "tcp6"} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pids[0], f))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			// sl local_address rem_address st ...; 0A is LISTEN, 0016 is port 22.
			fields := strings.Fields(line)
			if len(fields) > 3 && strings.HasSuffix(fields[1], ":0016") && fields[3] == "0A" {
				return true
			}
		}
	}
	return false
}

// bootJournal is what the droplet's own journal says of a boot that did
// not finish: the console names the unit that failed, the journal says
// why, and the disk goes when the failed droplet is deleted.
func (d *droplet) bootJournal() string {
	var b strings.Builder
	for _, q := range [][]string{
		{"--priority=warning"},
		{"--unit=cloud-init-local.service", "--unit=cloud-init-network.service"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		args := append([]string{"--directory=" + filepath.Join(d.root(), "var/log/journal"), "--boot", "--no-pager", "--lines=40"}, q...)
		out, err := exec.CommandContext(ctx, "journalctl", args...).CombinedOutput()
		cancel()
		fmt.Fprintf(&b, "journalctl %s:\n%s\n", strings.Join(q, " "), bytes.TrimSpace(out))
		if err != nil {
			fmt.Fprintf(&b, "(journalctl: %v)\n", err)
		}
	}
	return b.String()
}

// consoleTail is the end of a droplet's console, for boot errors.
func (l *Lab) consoleTail(d *droplet) string {
	b, _ := os.ReadFile(filepath.Join(d.dir, "console.log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return strings.TrimSpace(string(b))
}

// halt shuts the container down: SIGTERM makes nspawn power the container
// off cleanly; what still runs after the grace period is killed. d.mu is held.
func (l *Lab) halt(d *droplet) error {
	if d.cmd == nil {
		return nil
	}
	// Signal and Kill fail only once nspawn has exited, which done reports.
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
	d.cmd = nil
	if err := killNetnsProcs(d.ns); err != nil {
		return fmt.Errorf("lab: droplet %d: %w", d.spec.ID, err)
	}
	return nil
}

// errNoDroplet is the error for a droplet the lab does not have (any more).
var errNoDroplet = errors.New("no such droplet")

func (l *Lab) lookup(id int) (*droplet, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	d := l.droplets[id]
	if d == nil {
		return nil, fmt.Errorf("lab: droplet %d: %w", id, errNoDroplet)
	}
	return d, nil
}

// withDroplet runs f on droplet id with the droplet's lock held.
func (l *Lab) withDroplet(id int, f func(d *droplet) error) error {
	d, err := l.lookup(id)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// A Destroy may have removed it while this waited for its lock; acting
	// on it now would boot a deleted disk or tear it down twice.
	if cur, err := l.lookup(id); err != nil || cur != d {
		return fmt.Errorf("lab: droplet %d: %w", id, errNoDroplet)
	}
	return f(d)
}

// PowerOff stops the droplet's container; its disk and address stay.
func (l *Lab) PowerOff(ctx context.Context, id int) error {
	return l.withDroplet(id, l.halt)
}

// PowerOn boots a powered-off droplet from its disk.
func (l *Lab) PowerOn(ctx context.Context, id int) error {
	return l.withDroplet(id, func(d *droplet) error {
		if d.cmd != nil {
			return nil
		}
		return l.boot(ctx, d)
	})
}

// Reboot is a power cycle.
func (l *Lab) Reboot(ctx context.Context, id int) error {
	return l.withDroplet(id, func(d *droplet) error {
		if err := l.halt(d); err != nil {
			return err
		}
		return l.boot(ctx, d)
	})
}

// Destroy stops the droplet and removes its container, disk and namespace.
// Destroying a droplet that is already gone succeeds.
func (l *Lab) Destroy(ctx context.Context, id int) error {
	err := l.withDroplet(id, func(d *droplet) error {
		var errs []error
		if err := l.halt(d); err != nil {
			errs = append(errs, err)
		}
		if err := l.releaseVolumes(ctx, id); err != nil {
			errs = append(errs, err)
		}
		if err := unix.Unmount(d.root(), unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("lab: droplet %d: unmounting its disk: %w", id, err))
		}
		if err := os.RemoveAll(d.dir); err != nil {
			errs = append(errs, fmt.Errorf("lab: droplet %d: %w", id, err))
		}
		var cgs []string
		for _, c := range cgroupControllers {
			if dir := cgroupDir(c, d.ns); exists(dir) {
				cgs = append(cgs, dir)
			}
		}
		if err := removeCgroups(cgs); err != nil {
			errs = append(errs, err)
		}
		if exists("/run/netns/" + d.ns) {
			if _, err := run(ctx, "ip", "netns", "delete", d.ns); err != nil {
				errs = append(errs, err)
			}
		}
		l.mu.Lock()
		delete(l.droplets, id)
		delete(l.byIP, d.spec.IPv4)
		l.mu.Unlock()
		return errors.Join(errs...)
	})
	if errors.Is(err, errNoDroplet) {
		return nil
	}
	return err
}

// Running reports whether the droplet's container is up, and its namespace.
func (l *Lab) Running(id int) (netns string, running bool) {
	d, err := l.lookup(id)
	if err != nil {
		return "", false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ns, d.cmd != nil
}

// dropletByIP finds the droplet that owns a lab address.
func (l *Lab) dropletByIP(ip netip.Addr) (*droplet, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, ok := l.byIP[ip.Unmap()]
	if !ok {
		return nil, false
	}
	return l.droplets[id], true
}
