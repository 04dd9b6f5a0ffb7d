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
	"io"
	"log"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	if err := run(os.Args[1:], os.Stdout, os.Stderr, stop); err != nil {
		fmt.Fprintln(os.Stderr, "dosim:", err)
		os.Exit(1)
	}
}

// run serves until stop receives; it fails if the traffic broke the spec.
func run(args []string, stdout, stderr io.Writer, stop <-chan os.Signal) error {
	fs := flag.NewFlagSet("dosim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "address to serve on (host:port; loopback)")
	token := fs.String("token", "", "bearer token to accept (default: random)")
	active := fs.Duration("active-delay", 2*time.Second, "time for a droplet to become active and for each droplet action")
	pool := fs.String("ipv4-pool", "198.18.0.0/15", "prefix droplet IPv4 addresses come from")
	pool6 := fs.String("ipv6-pool", "2001:db8:d0::/64", "prefix droplet IPv6 addresses come from")
	spec := fs.String("spec", "", "DigitalOcean-public.v2.yaml for conformance checks (default: $"+dosim.SpecEnv+" or ../shared/do-openapi)")
	verbose := fs.Bool("v", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	v4, err := netip.ParsePrefix(*pool)
	if err != nil {
		return fmt.Errorf("-ipv4-pool %q: %w", *pool, err)
	}
	v6, err := netip.ParsePrefix(*pool6)
	if err != nil {
		return fmt.Errorf("-ipv6-pool %q: %w", *pool6, err)
	}
	logger := log.New(stderr, "", log.LstdFlags)
	logf := func(string, ...any) {}
	if *verbose {
		logf = logger.Printf
	}
	s, err := dosim.New(dosim.Options{Token: *token, ActiveAfter: *active, IPv4Pool: v4, IPv6Pool: v6, SpecPath: *spec, Logf: logf})
	if err != nil {
		return err
	}
	url, err := s.Listen(*listen)
	if err != nil {
		return err
	}
	defer s.Close()
	if !s.Conformance() {
		logger.Printf("OpenAPI conformance is off: set %s=/path/to/DigitalOcean-public.v2.yaml or -spec", dosim.SpecEnv)
	}
	if _, err := fmt.Fprintf(stdout, "DIGITALOCEAN_API_URL=%s\nDIGITALOCEAN_TOKEN=%s\n", url, s.Token()); err != nil {
		return err
	}
	<-stop
	if v := s.Violations(); len(v) > 0 {
		for _, m := range v {
			logger.Printf("conformance violation: %s", m)
		}
		return fmt.Errorf("%d OpenAPI conformance violation(s) in %d checked exchanges", len(v), s.Checked())
	}
	logger.Printf("served %d requests, %d checked against the OpenAPI spec, no violations", s.Requests(), s.Checked())
	return nil
}
