package lab

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DownOptions says which labs Down stops.
type DownOptions struct {
	// StopLive also stops labs that are still running (their owner process
	// gets SIGTERM and cleans up itself); without it only what crashed labs
	// left behind is removed.
	StopLive bool
	// StopOwner limits StopLive to labs whose Options.Owner was this ("" =
	// any), so stopping `lab up` never kills a test process that runs its
	// own lab.
	StopOwner string
	Logf      func(format string, args ...any)
}

// Down is the janitor: it finds every lab slot that has anything on this
// host (state, namespaces, links, firewall chains, mounts, containers,
// cgroups),
// stops live labs if asked, and removes everything a dead lab left behind.
// It only ever touches objects named with the lab's prefix.
func Down(ctx context.Context, opts DownOptions) error {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	slots, err := findSlots(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range slots {
		lk, err := tryLock(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if lk == nil {
			if !opts.StopLive || (opts.StopOwner != "" && readEnv(s).Owner != opts.StopOwner) {
				logf("lab %d is running (owner %q, pid %d); left alone", s, readEnv(s).Owner, readEnv(s).OwnerPID)
				continue
			}
			if lk, err = stopLive(ctx, s, logf); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		if err := s.clean(ctx, logf); err != nil {
			errs = append(errs, err)
		}
		if err := s.unlock(lk); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// stopLive asks a running lab's owner to stop and waits for its lock.
func stopLive(ctx context.Context, s slot, logf func(string, ...any)) (*os.File, error) {
	pid, err := readPID(filepath.Join(s.stateDir(), "owner.pid"))
	if err != nil {
		return nil, fmt.Errorf("lab %d is locked but has no readable owner.pid (%w); stop its process by hand", s, err)
	}
	logf("stopping lab %d (pid %d)", s, pid)
	if err := kill(pid, syscall.SIGTERM); err != nil {
		return nil, fmt.Errorf("lab %d: stopping its owner: %w", s, err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		lk, err := tryLock(s)
		if err != nil || lk != nil {
			return lk, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil, fmt.Errorf("lab %d: owner pid %d did not stop within 2m", s, pid)
}

// tryLock takes the slot's lock without waiting; nil, nil means a live lab
// holds it.
func tryLock(s slot) (*os.File, error) {
	if err := os.MkdirAll(StateRoot, 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	f, err := os.OpenFile(s.lockFile(), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close() // never locked nor written: nothing to report beside err
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lab: locking %s: %w", s.lockFile(), err)
	}
	return f, nil
}

// unlock releases a lock taken by tryLock.
func (s slot) unlock(lk *os.File) error {
	if err := lk.Close(); err != nil {
		return fmt.Errorf("lab %d: releasing its lock %s: %w", s, s.lockFile(), err)
	}
	return nil
}

// findSlots lists every slot with a trace on the host.
func findSlots(ctx context.Context) ([]slot, error) {
	seen := map[slot]bool{}
	add := func(name string) {
		if s, ok := slotOf(name); ok {
			seen[s] = true
		}
	}
	for _, dir := range []string{StateRoot, DiskRoot} {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			// Lock files stay behind on purpose (removing one races with
			// a lab taking it); they are no trace of a lab.
			if !e.IsDir() {
				continue
			}
			n := strings.TrimPrefix(e.Name(), "lab")
			if i, err := strconv.Atoi(n); err == nil && i >= 0 && i < Slots {
				seen[slot(i)] = true
			}
		}
	}
	names, err := hostNames(ctx)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		add(n)
	}
	for _, p := range nspawnProcs("jhub") {
		add(p.machine)
	}
	for _, dir := range labCgroups(-1) {
		add(filepath.Base(dir))
	}
	for _, c := range ourChains(ctx, -1) {
		if m := chainRE.FindStringSubmatch(c.chain); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i < Slots {
				seen[slot(i)] = true
			}
		}
	}
	var out []slot
	for s := range seen {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// hostNames lists network namespaces and links that carry the lab prefix.
func hostNames(ctx context.Context) ([]string, error) {
	var out []string
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if nameRE.MatchString(e.Name()) {
			out = append(out, e.Name())
		}
	}
	js, err := run(ctx, "ip", "-j", "link", "show")
	if err != nil {
		return nil, err
	}
	var links []struct {
		Name string `json:"ifname"`
	}
	if err := json.Unmarshal([]byte(js), &links); err != nil {
		return nil, fmt.Errorf("lab: reading ip link: %w", err)
	}
	for _, l := range links {
		if nameRE.MatchString(l.Name) {
			out = append(out, l.Name)
		}
	}
	return out, nil
}

// clean removes everything of slot s. The caller holds its lock.
func (s slot) clean(ctx context.Context, logf func(string, ...any)) error {
	var errs []error
	// Containers first: nspawn gets SIGTERM (a clean shutdown), then
	// whatever still runs inside a namespace of ours is killed.
	var pids []int
	for _, p := range nspawnProcs(fmt.Sprintf("jhub%d-", s)) {
		pids = append(pids, p.pid)
	}
	if len(pids) > 0 {
		logf("lab %d: stopping %d container(s)", s, len(pids))
		if err := stopPIDs(pids, 20*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("lab %d: stopping its containers: %w", s, err))
		}
	}
	names, err := hostNames(ctx)
	if err != nil {
		errs = append(errs, err)
	}
	for _, n := range names {
		if sl, _ := slotOf(n); sl != s || !exists(filepath.Join("/run/netns", n)) {
			continue
		}
		if err := killNetnsProcs(n); err != nil {
			errs = append(errs, err)
		}
	}
	if p, err := readPID(filepath.Join(s.stateDir(), "pebble.pid")); err == nil && cmdlineHas(p, s.stateDir()) {
		if err := stopPIDs([]int{p}, 5*time.Second); err != nil {
			errs = append(errs, fmt.Errorf("lab %d: stopping its pebble: %w", s, err))
		}
	}
	if err := removeCgroups(labCgroups(s)); err != nil {
		errs = append(errs, err)
	}
	for _, m := range mountsUnder(s.diskDir()) {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			errs = append(errs, fmt.Errorf("lab %d: unmount %s: %w", s, m, err))
		}
	}
	// Volumes' loop devices hold their images open.
	for _, loop := range loopsUnder(s.diskDir()) {
		if _, err := run(ctx, "losetup", "-d", loop); err != nil {
			errs = append(errs, fmt.Errorf("lab %d: %w", s, err))
		}
	}
	if err := os.RemoveAll(s.diskDir()); err != nil {
		errs = append(errs, fmt.Errorf("lab %d: %w", s, err))
	}
	for _, n := range names {
		if sl, _ := slotOf(n); sl != s {
			continue
		}
		if exists(filepath.Join("/run/netns", n)) {
			if _, err := run(ctx, "ip", "netns", "delete", n); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		// A veth disappears with its peer's namespace.
		if _, err := run(ctx, "ip", "link", "show", n); err == nil {
			if _, err := run(ctx, "ip", "link", "delete", n); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := s.removeChains(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := os.RemoveAll(s.stateDir()); err != nil {
		errs = append(errs, fmt.Errorf("lab %d: %w", s, err))
	}
	return errors.Join(errs...)
}

type chainRef struct {
	tool, table, chain string
	jumps              [][]string // rules in built-in chains that jump to chain, as -D arguments
}

// ourChains lists the JHUB chains of slot s (all slots when s < 0) in
// every table the lab uses, with the rules that jump to them.
func ourChains(ctx context.Context, s slot) []chainRef {
	var out []chainRef
	for _, tt := range [][2]string{{"iptables", "filter"}, {"iptables", "nat"}, {"ip6tables", "filter"}} {
		listing, err := run(ctx, tt[0], "-w", "-t", tt[1], "-S")
		if err != nil {
			continue // the tool or table is absent: nothing of ours there
		}
		byName := map[string]*chainRef{}
		var order []string
		lines := strings.Split(listing, "\n")
		for _, ln := range lines {
			f := strings.Fields(ln)
			if len(f) == 2 && f[0] == "-N" && chainRE.MatchString(f[1]) {
				if m := chainRE.FindStringSubmatch(f[1]); s < 0 || m[1] == strconv.Itoa(int(s)) {
					byName[f[1]] = &chainRef{tool: tt[0], table: tt[1], chain: f[1]}
					order = append(order, f[1])
				}
			}
		}
		for _, ln := range lines {
			f := strings.Fields(ln)
			if len(f) >= 4 && f[0] == "-A" && f[len(f)-2] == "-j" {
				if c := byName[f[len(f)-1]]; c != nil && byName[f[1]] == nil {
					c.jumps = append(c.jumps, f[1:])
				}
			}
		}
		for _, n := range order {
			out = append(out, *byName[n])
		}
	}
	return out
}

func (s slot) removeChains(ctx context.Context) error {
	var errs []error
	for _, c := range ourChains(ctx, s) {
		for _, j := range c.jumps {
			if _, err := run(ctx, c.tool, append([]string{"-w", "-t", c.table, "-D"}, j...)...); err != nil {
				errs = append(errs, err)
			}
		}
		if _, err := run(ctx, c.tool, "-w", "-t", c.table, "-F", c.chain); err != nil {
			errs = append(errs, err)
		}
		if _, err := run(ctx, c.tool, "-w", "-t", c.table, "-X", c.chain); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type nspawnProc struct {
	pid     int
	machine string
}

// nspawnProcs finds systemd-nspawn processes whose --machine= starts with prefix.
func nspawnProcs(prefix string) []nspawnProc {
	var out []nspawnProc
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		args := cmdline(pid)
		if len(args) == 0 || filepath.Base(args[0]) != "systemd-nspawn" {
			continue
		}
		for _, a := range args[1:] {
			if m, ok := strings.CutPrefix(a, "--machine="); ok && strings.HasPrefix(m, prefix) {
				out = append(out, nspawnProc{pid, m})
			}
		}
	}
	return out
}

func cmdline(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

func cmdlineHas(pid int, s string) bool {
	for _, a := range cmdline(pid) {
		if strings.Contains(a, s) {
			return true
		}
	}
	return false
}

// kill sends sig to pid; a process that is gone already is no error.
func kill(pid int, sig syscall.Signal) error {
	if err := syscall.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("lab: sending %v to pid %d: %w", sig, pid, err)
	}
	return nil
}

// stopPIDs sends SIGTERM, waits up to grace, then SIGKILLs the survivors.
func stopPIDs(pids []int, grace time.Duration) error {
	var errs []error
	for _, p := range pids {
		if err := kill(p, syscall.SIGTERM); err != nil {
			errs = append(errs, err)
		}
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		alive := false
		for _, p := range pids {
			if processAlive(p) {
				alive = true
			}
		}
		if !alive {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range pids {
		if err := kill(p, syscall.SIGKILL); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// processAlive is false for gone and zombie processes.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := strings.LastIndexByte(string(b), ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

// netnsPIDs lists the live processes in the lab namespace ns.
func netnsPIDs(ns string) []int {
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join("/run/netns", ns), &st); err != nil {
		return nil
	}
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		var ps unix.Stat_t
		if unix.Stat(fmt.Sprintf("/proc/%d/ns/net", pid), &ps) == nil && ps.Ino == st.Ino && ps.Dev == st.Dev && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killNetnsProcs kills every process living in the lab namespace ns: all of
// them belong to the container the lab booted there.
func killNetnsProcs(ns string) error {
	var errs []error
	for range 50 {
		pids := netnsPIDs(ns)
		if len(pids) == 0 {
			return nil
		}
		errs = errs[:0]
		for _, p := range pids {
			if err := kill(p, syscall.SIGKILL); err != nil {
				errs = append(errs, err)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.Join(append(errs, fmt.Errorf("lab: processes %v still run in namespace %s after SIGKILL", netnsPIDs(ns), ns))...)
}

// mountsUnder lists mount points below dir, deepest first.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }() // read only
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			out = append(out, fields[4])
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// SlotStatus is what `lab status` reports for one slot.
type SlotStatus struct {
	Slot       int
	Live       bool     // a process holds the slot's lock
	Env        *Env     // from state.json; nil if absent
	Namespaces []string // network namespaces of the slot (one per droplet)
}

// Status lists every slot with a trace on this host.
func Status(ctx context.Context) ([]SlotStatus, error) {
	slots, err := findSlots(ctx)
	if err != nil {
		return nil, err
	}
	names, err := hostNames(ctx)
	if err != nil {
		return nil, err
	}
	var out []SlotStatus
	for _, s := range slots {
		st := SlotStatus{Slot: int(s)}
		lk, err := tryLock(s)
		if err != nil {
			return nil, err
		}
		if lk != nil {
			if err := s.unlock(lk); err != nil {
				return nil, err
			}
		} else {
			st.Live = true
		}
		if e := readEnv(s); e.APIURL != "" {
			st.Env = &e
		}
		for _, n := range names {
			if sl, _ := slotOf(n); sl == s && exists(filepath.Join("/run/netns", n)) {
				st.Namespaces = append(st.Namespaces, n)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// readEnv reads a lab's state.json; the zero Env if there is none (yet) or
// it is being written.
func readEnv(s slot) Env {
	var e Env
	b, err := os.ReadFile(filepath.Join(s.stateDir(), "state.json"))
	if err != nil || json.Unmarshal(b, &e) != nil {
		return Env{}
	}
	return e
}
