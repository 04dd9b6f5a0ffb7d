// Package lab is the local DigitalOcean world: the DigitalOcean simulator
// with a machine backend that boots each droplet as a real Debian 13 system
// container (systemd-nspawn in a network namespace of its own, reachable on
// its public address from the host), a metadata service, an authoritative DNS
// server over the simulator's records, a Pebble ACME CA and an apt mirror for
// the droplets. It needs root and the image built by scripts/setup-lab.sh.
package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"
	"github.com/classhub/terraform-provider-jhub/internal/labdns"
)

// Options tune a lab; the zero value works on a machine set up by
// scripts/setup-lab.sh.
type Options struct {
	Image       string        // golden root filesystem; default FindImage()
	Token       string        // API token; default a random one
	PebbleBin   string        // default $JHUB_CACHE/bin/pebble
	BootTimeout time.Duration // power-on to sshd; default 2m
	// Owner says who runs the lab (recorded in state.json); `lab down`
	// stops only labs owned by "lab up" unless told -all.
	Owner string
	Logf  func(format string, args ...any)
}

// Env is what a client of the lab needs, also published as state.json in
// the lab's state directory for `lab status`.
type Env struct {
	Slot              int    `json:"slot"`
	Owner             string `json:"owner"`
	OwnerPID          int    `json:"owner_pid"`
	APIURL            string `json:"api_url"`        // DIGITALOCEAN_API_URL
	Token             string `json:"token"`          // DIGITALOCEAN_TOKEN
	DNS               string `json:"dns"`            // JHUB_LAB_DNS, host:port
	CAFile            string `json:"ca_file"`        // JHUB_LAB_CA: roots of certificates Pebble issues
	ACMEDirectory     string `json:"acme_directory"` // JHUB_LAB_ACME_DIRECTORY
	ACMECAFile        string `json:"acme_ca_file"`   // JHUB_LAB_ACME_CA: trust for the ACME endpoint itself
	AptMirror         string `json:"apt_mirror"`     // JHUB_LAB_APT_MIRROR, for cloudinit.Config.AptMirror
	AptSecurityMirror string `json:"apt_security"`   // JHUB_LAB_APT_SECURITY_MIRROR
	Gateway           string `json:"gateway"`        // the host's address on the lab network
	Subnet            string `json:"subnet"`         // droplets' IPv4 subnet
}

// Exports are the shell lines `lab up` prints.
func (e Env) Exports() []string {
	kv := [][2]string{
		{"DIGITALOCEAN_API_URL", e.APIURL},
		{"DIGITALOCEAN_TOKEN", e.Token},
		{"JHUB_LAB_DNS", e.DNS},
		{"JHUB_LAB_CA", e.CAFile},
		{"JHUB_LAB_ACME_DIRECTORY", e.ACMEDirectory},
		{"JHUB_LAB_ACME_CA", e.ACMECAFile},
		{"JHUB_LAB_APT_MIRROR", e.AptMirror},
		{"JHUB_LAB_APT_SECURITY_MIRROR", e.AptSecurityMirror},
	}
	out := make([]string, len(kv))
	for i, p := range kv {
		out[i] = "export " + p[0] + "=" + p[1]
	}
	return out
}

// Lab is a running lab. It is the simulator's machine backend.
type Lab struct {
	opts  Options
	image string
	slot  slot
	lock  *os.File

	sim        *dosim.Server
	dns        *labdns.Server
	http       []*http.Server
	pebble     *os.Process
	pebbleDone chan struct{}
	env        Env

	mu       sync.Mutex
	droplets map[int]*droplet
	byIP     map[netip.Addr]int
	nextVeth int
	attached map[string]*attachment // by volume ID
	closed   bool
}

var _ dosim.Backend = (*Lab)(nil)

// Start brings a lab up in the first free slot, after clearing whatever a
// crashed lab left in that slot. Close tears it all down.
func Start(ctx context.Context, opts Options) (l *Lab, err error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("lab: needs root (network namespaces, mounts, iptables)")
	}
	if opts.Image == "" {
		if opts.Image, err = FindImage(); err != nil {
			return nil, err
		}
	}
	if opts.Token == "" {
		b := make([]byte, 16)
		rand.Read(b)
		opts.Token = "lab-" + hex.EncodeToString(b)
	}
	if opts.PebbleBin == "" {
		opts.PebbleBin = filepath.Join(CacheDir(), "bin", "pebble")
	}
	if opts.BootTimeout == 0 {
		opts.BootTimeout = 2 * time.Minute
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	l = &Lab{opts: opts, image: opts.Image, droplets: map[int]*droplet{}, byIP: map[netip.Addr]int{}}
	for i := range Slots {
		if l.lock, err = tryLock(slot(i)); err != nil {
			return nil, err
		}
		if l.lock != nil {
			l.slot = slot(i)
			break
		}
	}
	if l.lock == nil {
		return nil, fmt.Errorf("lab: all %d lab slots are in use; stop one with `lab down`", Slots)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, l.Close())
			l = nil
		}
	}()
	if err := l.slot.clean(ctx, opts.Logf); err != nil {
		return nil, fmt.Errorf("lab: clearing slot %d left by an earlier run: %w", l.slot, err)
	}
	if err := os.MkdirAll(l.slot.stateDir(), 0o755); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := os.WriteFile(filepath.Join(l.slot.stateDir(), "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	if err := l.slot.checkClash(ctx); err != nil {
		return nil, err
	}
	if err := l.slot.setupBridge(ctx); err != nil {
		return nil, err
	}
	sources, err := aptSources("/etc/apt/sources.list.d/*.sources")
	if err != nil {
		return nil, err
	}
	mirror, err := aptMirror(sources, hostSuite(), filepath.Join(CacheDir(), "lab", "apt-cache"))
	if err != nil {
		return nil, err
	}

	l.sim, err = dosim.New(dosim.Options{
		Token:    opts.Token,
		IPv4Pool: l.slot.subnet4(),
		IPv6Pool: l.slot.subnet6(),
		Backend:  l,
		Logf:     opts.Logf,
	})
	if err != nil {
		return nil, fmt.Errorf("lab: simulator: %w", err)
	}
	apiURL, err := l.sim.Start()
	if err != nil {
		return nil, fmt.Errorf("lab: simulator: %w", err)
	}
	gw := l.slot.gateway4().String()
	if l.dns, err = labdns.Start(net.JoinHostPort(gw, "53"), l.sim); err != nil {
		return nil, err
	}
	for port, h := range map[string]http.Handler{"80": l.metadataHandler(), "8080": mirror} {
		ln, err := net.Listen("tcp", net.JoinHostPort(gw, port))
		if err != nil {
			return nil, fmt.Errorf("lab: listening on %s:%s: %w", gw, port, err)
		}
		srv := &http.Server{Addr: ln.Addr().String(), Handler: h, ReadHeaderTimeout: 10 * time.Second}
		l.http = append(l.http, srv)
		go func() {
			if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
				opts.Logf("lab %d: server on %s stopped: %v", l.slot, ln.Addr(), err)
			}
		}()
	}
	if err := l.startPebble(ctx); err != nil {
		return nil, err
	}
	dir := l.slot.stateDir()
	l.env = Env{
		Slot:              int(l.slot),
		Owner:             opts.Owner,
		OwnerPID:          os.Getpid(),
		APIURL:            apiURL,
		Token:             opts.Token,
		DNS:               l.dns.Addr(),
		CAFile:            filepath.Join(dir, "roots.pem"),
		ACMEDirectory:     fmt.Sprintf("https://%s/dir", net.JoinHostPort(gw, strconv.Itoa(pebblePort))),
		ACMECAFile:        filepath.Join(dir, "acme-ca.pem"),
		AptMirror:         "http://" + gw + ":8080/debian",
		AptSecurityMirror: "http://" + gw + ":8080/debian-security",
		Gateway:           gw,
		Subnet:            l.slot.subnet4().String(),
	}
	js, err := json.MarshalIndent(l.env, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("lab: state.json: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "state.json"), js, 0o600); err != nil {
		return nil, fmt.Errorf("lab: %w", err)
	}
	opts.Logf("lab %d up: api %s, dns %s, acme %s", l.slot, apiURL, l.env.DNS, l.env.ACMEDirectory)
	return l, nil
}

// Env describes the running lab.
func (l *Lab) Env() Env { return l.env }

// Sim is the lab's DigitalOcean simulator.
func (l *Lab) Sim() *dosim.Server { return l.sim }

// Resolver resolves names through the lab's DNS server, for clients that
// must find droplets by the names created through the simulator.
func (l *Lab) Resolver() *net.Resolver {
	addr := l.dns.Addr()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// NetNS names the network namespace of droplet id (for `ip netns exec`).
func (l *Lab) NetNS(id int) string { return l.slot.netns(id) }

// Close stops every droplet and service and removes everything the lab
// created on the host.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	// The simulator stops serving, cancels boots in flight and destroys its
	// droplets through this backend.
	if l.sim != nil {
		l.sim.Close()
	}
	l.mu.Lock()
	ids := make([]int, 0, len(l.droplets))
	for id := range l.droplets {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	sort.Ints(ids)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var errs []error
	// Whatever the simulator no longer knew (a failed create), in parallel.
	var wg sync.WaitGroup
	var emu sync.Mutex
	for _, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Destroy(ctx, id); err != nil {
				emu.Lock()
				errs = append(errs, err)
				emu.Unlock()
			}
		}()
	}
	wg.Wait()
	for _, s := range l.http {
		if err := s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("lab: stopping the server on %s: %w", s.Addr, err))
		}
	}
	if l.dns != nil {
		if err := l.dns.Close(); err != nil {
			errs = append(errs, fmt.Errorf("lab: stopping the DNS server: %w", err))
		}
	}
	if l.pebble != nil {
		if err := l.pebble.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("lab: stopping pebble: %w", err))
		}
		<-l.pebbleDone
	}
	if l.lock != nil {
		if err := l.slot.clean(ctx, l.opts.Logf); err != nil {
			errs = append(errs, err)
		}
		if err := l.slot.unlock(l.lock); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
