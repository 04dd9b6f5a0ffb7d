package lab

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
)

// Every object the lab creates on the host carries the "jhub" prefix and the
// lab's slot number, so a janitor can find what a crashed lab left behind and
// never touches anything else: bridge jhub<N>, namespaces jhub<N>-<droplet id>,
// host-side veths jhub<N>v<k>, iptables chains JHUB<N>-*, containers named like
// their namespace, overlay mounts under DiskRoot/lab<N>, v1 memory and pids
// cgroups named like the droplet's namespace.

// Slots is how many labs can run side by side on one machine.
const Slots = 16

// StateRoot holds locks, PID files and the state a running lab publishes.
// It is a tmpfs, so a host reboot (which also removes every namespace) clears it.
const StateRoot = "/run/jhub-lab"

// DiskRoot holds each droplet's writable layer (its "disk"), kept on disk so
// it survives power cycles as a droplet's disk does.
const DiskRoot = "/var/lib/jhub-lab"

var (
	// 198.19.0.0/16 lies in 198.18.0.0/15 (benchmarking, never routed) and
	// away from the simulator's default pool at its low end; slot N uses
	// 198.19.N.0/24.
	v4Base = netip.MustParseAddr("198.19.0.0")
	// A ULA /48 of the lab's own; slot N uses the /64 numbered N.
	v6Base = netip.MustParseAddr("fdb8:6a68:7562::")
)

// slot is one lab's share of names and addresses.
type slot int

func (s slot) bridge() string           { return fmt.Sprintf("jhub%d", s) }
func (s slot) netns(id int) string      { return fmt.Sprintf("jhub%d-%d", s, id) }
func (s slot) veth(k int) string        { return fmt.Sprintf("jhub%dv%d", s, k) }
func (s slot) chain(what string) string { return fmt.Sprintf("JHUB%d-%s", s, what) }
func (s slot) stateDir() string         { return filepath.Join(StateRoot, fmt.Sprintf("lab%d", s)) }
func (s slot) lockFile() string         { return filepath.Join(StateRoot, fmt.Sprintf("lab%d.lock", s)) }
func (s slot) diskDir() string          { return filepath.Join(DiskRoot, fmt.Sprintf("lab%d", s)) }

// subnet4 is the lab's IPv4 subnet; its first address is the gateway, where
// the lab's own services (DNS, Pebble, metadata) listen. The simulator hands
// out the addresses after the gateway.
func (s slot) subnet4() netip.Prefix {
	b := v4Base.As4()
	b[2] = byte(s)
	return netip.PrefixFrom(netip.AddrFrom4(b), 24)
}

func (s slot) gateway4() netip.Addr { return s.subnet4().Addr().Next() }

func (s slot) subnet6() netip.Prefix {
	b := v6Base.As16()
	b[7] = byte(s)
	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

func (s slot) gateway6() netip.Addr { return s.subnet6().Addr().Next() }

// nameRE matches every interface and namespace name the lab creates:
// jhub<N>, jhub<N>-<id>, jhub<N>v<k>.
var nameRE = regexp.MustCompile(`^jhub([0-9]+)(?:-[0-9]+|v[0-9]+)?$`)

// slotOf reports which lab slot a host object name belongs to.
func slotOf(name string) (slot, bool) {
	m := nameRE.FindStringSubmatch(name)
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n >= Slots {
		return 0, false
	}
	return slot(n), true
}

var chainRE = regexp.MustCompile(`^JHUB([0-9]+)-[A-Z]+$`)

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
