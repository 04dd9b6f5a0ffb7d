package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
)

// metadataAddr is DigitalOcean's metadata service address, the same in every
// droplet.
const metadataAddr = "169.254.169.254"

// run executes a host tool and returns its output; a failure carries the
// command line and what the tool printed.
func run(ctx context.Context, name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return out.String(), nil
}

// checkClash refuses a lab subnet that overlaps a route the host already
// has (other than the lab's own bridge): the lab must never shadow a real
// network, such as the machine's own 192.0.2.0/24.
func (s slot) checkClash(ctx context.Context) error {
	for _, fam := range []string{"-4", "-6"} {
		out, err := run(ctx, "ip", "-j", fam, "route", "show", "table", "all")
		if err != nil {
			return err
		}
		var routes []struct {
			Dst string `json:"dst"`
			Dev string `json:"dev"`
		}
		if err := json.Unmarshal([]byte(out), &routes); err != nil {
			return fmt.Errorf("lab: reading ip route: %w", err)
		}
		for _, r := range routes {
			if r.Dev == s.bridge() || r.Dst == "" || r.Dst == "default" {
				continue
			}
			dst := r.Dst
			if !strings.Contains(dst, "/") {
				dst += map[bool]string{true: "/32", false: "/128"}[fam == "-4"]
			}
			p, err := netip.ParsePrefix(dst)
			if err != nil {
				continue // multicast and other non-prefix entries
			}
			for _, mine := range []netip.Prefix{s.subnet4(), s.subnet6()} {
				if p.Overlaps(mine) && p.Bits() > 0 {
					return fmt.Errorf("lab: subnet %s of slot %d clashes with host route %s dev %s; stop what uses it or free that route", mine, s, r.Dst, r.Dev)
				}
			}
		}
	}
	return nil
}

// setupBridge creates the lab's bridge with the gateway addresses, and the
// firewall rules that keep lab traffic inside the lab and send metadata
// requests to the lab's metadata server.
func (s slot) setupBridge(ctx context.Context) error {
	br := s.bridge()
	steps := [][]string{
		{"ip", "link", "add", br, "type", "bridge"},
		{"ip", "addr", "add", prefixOf(s.gateway4(), 24), "dev", br},
		{"ip", "-6", "addr", "add", prefixOf(s.gateway6(), 64), "dev", br, "nodad"},
		{"ip", "link", "set", br, "up"},
	}
	for _, ipt := range []string{"iptables", "ip6tables"} {
		fwd := s.chain("FWD")
		steps = append(steps,
			[]string{ipt, "-w", "-N", fwd},
			[]string{ipt, "-w", "-A", fwd, "-i", br, "-o", br, "-j", "ACCEPT"},
			// Droplets reach each other and the host, nothing beyond.
			[]string{ipt, "-w", "-A", fwd, "-i", br, "-j", "DROP"},
			[]string{ipt, "-w", "-A", fwd, "-o", br, "-j", "DROP"},
			[]string{ipt, "-w", "-I", "FORWARD", "1", "-j", fwd},
		)
	}
	pre := s.chain("PRE")
	steps = append(steps,
		[]string{"iptables", "-w", "-t", "nat", "-N", pre},
		// The droplet's own firewall sees 169.254.169.254 (so the payload's
		// owner-based block is tested for real); only the host rewrites it.
		[]string{"iptables", "-w", "-t", "nat", "-A", pre, "-i", br, "-d", metadataAddr + "/32", "-p", "tcp", "--dport", "80",
			"-j", "DNAT", "--to-destination", s.gateway4().String() + ":80"},
		[]string{"iptables", "-w", "-t", "nat", "-I", "PREROUTING", "1", "-j", pre},
	)
	for _, st := range steps {
		if _, err := run(ctx, st[0], st[1:]...); err != nil {
			return fmt.Errorf("lab: setting up bridge %s: %w", br, err)
		}
	}
	return nil
}

// setupDropletNet creates the droplet's namespace and veth, with its public
// addresses on the namespace side and the bridge as its default gateway.
func (s slot) setupDropletNet(ctx context.Context, ns, veth string, v4, v6 netip.Addr) error {
	steps := [][]string{
		{"ip", "netns", "add", ns},
		{"ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"ip", "link", "set", veth, "master", s.bridge(), "up"},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		{"ip", "-n", ns, "addr", "add", prefixOf(v4, 24), "dev", "eth0"},
		{"ip", "-n", ns, "link", "set", "eth0", "up"},
		{"ip", "-n", ns, "route", "add", "default", "via", s.gateway4().String()},
	}
	if v6.IsValid() && s.subnet6().Contains(v6) {
		steps = append(steps,
			[]string{"ip", "-n", ns, "-6", "addr", "add", prefixOf(v6, 64), "dev", "eth0", "nodad"},
			[]string{"ip", "-n", ns, "-6", "route", "add", "default", "via", s.gateway6().String()},
		)
	}
	for _, st := range steps {
		if _, err := run(ctx, st[0], st[1:]...); err != nil {
			return fmt.Errorf("lab: network of %s: %w", ns, err)
		}
	}
	return nil
}

func prefixOf(a netip.Addr, bits int) string { return netip.PrefixFrom(a, bits).String() }
