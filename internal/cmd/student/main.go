// Command student plays one student against a hub, as make demo ends: log
// in through the edge (certificate verified), start the server, open a
// kernel over its websocket and run code, printing what the kernel printed.
//
//	student -hub https://hub.cs101.lab.test/ -user alice -password-file pw -ca ca.pem -dns 198.19.1.1:53 -code '1+1'
//
// The password comes from a file, never the command line or environment.
package main

import (
	"context"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/hubclient"
)

func main() {
	hub := flag.String("hub", "", "the hub's URL, e.g. https://hub.cs101.example.edu/")
	user := flag.String("user", "", "the student's user name")
	pwFile := flag.String("password-file", "", "file holding the password")
	caFile := flag.String("ca", "", "PEM roots to verify the hub's certificate with (default: the system's)")
	dns := flag.String("dns", "", "DNS server host:port to resolve the hub's name with (default: the system's)")
	code := flag.String("code", "import getpass, platform; print(getpass.getuser(), 'runs Python', platform.python_version())", "code to run in the kernel")
	flag.Parse()
	if err := run(*hub, *user, *pwFile, *caFile, *dns, *code); err != nil {
		fmt.Fprintln(os.Stderr, "student:", err)
		os.Exit(1)
	}
}

func run(hub, user, pwFile, caFile, dns, code string) error {
	if hub == "" || user == "" || pwFile == "" {
		return fmt.Errorf("-hub, -user and -password-file are required")
	}
	pw, err := os.ReadFile(pwFile)
	if err != nil {
		return err
	}
	var roots *x509.CertPool
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return err
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", caFile)
		}
	}
	var resolver *net.Resolver
	if dns != "" {
		resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, dns)
		}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := hubclient.New(hub, roots, resolver)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := c.Login(ctx, user, strings.TrimSpace(string(pw))); err != nil {
		return err
	}
	fmt.Printf("%s logged in at %s\n", user, hub)
	if err := c.StartServer(ctx, user); err != nil {
		return err
	}
	fmt.Printf("%s's server is up after %s\n", user, time.Since(start).Round(100*time.Millisecond))
	k, err := c.OpenKernel(ctx, user)
	if err != nil {
		return err
	}
	out, err := k.Execute(ctx, code)
	if err != nil {
		_ = k.Close()
		return err
	}
	fmt.Printf(">>> %s\n%s\n", code, out)
	return k.Close()
}
