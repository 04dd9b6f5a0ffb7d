// Command dosim serves the in-memory DigitalOcean API simulator on a
// loopback port until SIGINT or SIGTERM. It prints the environment the
// provider and godo need:
//
//	DIGITALOCEAN_API_URL=http://127.0.0.1:PORT
//	DIGITALOCEAN_TOKEN=...
package main

import (
	"flag"
	"fmt"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve on (host:port; loopback)")
	token := flag.String("token", "", "bearer token to accept (default: random)")
	active := flag.Duration("active-delay", 2*time.Second, "time for a droplet to become active and for each droplet action")
	pool := flag.String("ipv4-pool", "198.18.0.0/15", "prefix droplet IPv4 addresses come from")
	pool6 := flag.String("ipv6-pool", "2001:db8:d0::/64", "prefix droplet IPv6 addresses come from")
	spec := flag.String("spec", "", "DigitalOcean-public.v2.yaml for conformance checks (default: $"+dosim.SpecEnv+" or ../shared/do-openapi)")
	verbose := flag.Bool("v", false, "log every request")
	flag.Parse()

	if err := run(*listen, *token, *active, *pool, *pool6, *spec, *verbose); err != nil {
		fmt.Fprintln(os.Stderr, "dosim:", err)
		os.Exit(1)
	}
}

func run(listen, token string, active time.Duration, pool, pool6, spec string, verbose bool) error {
	v4, err := netip.ParsePrefix(pool)
	if err != nil {
		return fmt.Errorf("-ipv4-pool %q: %w", pool, err)
	}
	v6, err := netip.ParsePrefix(pool6)
	if err != nil {
		return fmt.Errorf("-ipv6-pool %q: %w", pool6, err)
	}
	logger := log.New(os.Stderr, "", log.LstdFlags)
	logf := func(format string, args ...any) {
		if verbose {
			logger.Printf(format, args...)
		}
	}
	s, err := dosim.New(dosim.Options{
		Token: token, ActiveAfter: active, IPv4Pool: v4, IPv6Pool: v6, SpecPath: spec,
		Logf: logf,
	})
	if err != nil {
		return err
	}
	url, err := s.Listen(listen)
	if err != nil {
		return err
	}
	defer s.Close()
	if !s.Conformance() {
		logger.Printf("OpenAPI conformance is off: set %s=/path/to/DigitalOcean-public.v2.yaml or -spec", dosim.SpecEnv)
	}
	fmt.Printf("DIGITALOCEAN_API_URL=%s\nDIGITALOCEAN_TOKEN=%s\n", url, s.Token())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	if v := s.Violations(); len(v) > 0 {
		for _, m := range v {
			logger.Printf("conformance violation: %s", m)
		}
		return fmt.Errorf("%d OpenAPI conformance violation(s) in %d checked exchanges", len(v), s.Checked())
	}
	logger.Printf("served %d requests, %d checked against the OpenAPI spec, no violations", s.Requests(), s.Checked())
	return nil
}
