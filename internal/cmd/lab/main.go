// Command lab runs the local DigitalOcean world (see internal/lab) as root:
//
//	lab up [-env-file FILE]   start a lab; runs in the foreground until SIGINT/SIGTERM
//	lab down [-all]           stop labs started by `lab up` (with -all: every lab,
//	                          also those run by test processes) and remove what
//	                          any dead lab left behind
//	lab status                show labs and their droplets' namespaces
//
// `up` prints the shell exports a client needs (DIGITALOCEAN_API_URL,
// DIGITALOCEAN_TOKEN, JHUB_LAB_DNS, JHUB_LAB_CA, ...) on stdout once the lab
// is ready, and with -env-file also writes them to FILE, so a script can run
// it in the background and wait for the file:
//
//	go run ./internal/cmd/lab up -env-file /tmp/lab.env &
//	while [ ! -s /tmp/lab.env ]; do sleep 1; done; . /tmp/lab.env
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/classhub/terraform-provider-jhub/internal/lab"
)

func main() {
	log.SetFlags(log.Ltime)
	log.SetPrefix("lab: ")
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "up":
		err = up(os.Args[2:])
	case "down":
		err = down(os.Args[2:])
	case "status":
		err = status()
	default:
		usage()
	}
	if err != nil {
		log.Fatal(err)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: lab up [-env-file FILE] [-v] | lab down [-all] | lab status")
	os.Exit(2)
}

func up(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	envFile := fs.String("env-file", "", "also write the exports to this file once the lab is ready")
	verbose := fs.Bool("v", false, "log every API request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	opts := lab.Options{Owner: upOwner, Logf: func(string, ...any) {}}
	if *verbose {
		opts.Logf = log.Printf
	}
	l, err := lab.Start(ctx, opts)
	if err != nil {
		return err
	}
	exports := strings.Join(l.Env().Exports(), "\n") + "\n"
	fmt.Print(exports)
	if *envFile != "" {
		// Written whole and renamed, so a waiting script never reads half of it.
		tmp := *envFile + ".tmp"
		err := os.WriteFile(tmp, []byte(exports), 0o600)
		if err == nil {
			err = os.Rename(tmp, *envFile)
		}
		if err != nil {
			return errors.Join(fmt.Errorf("writing -env-file: %w", err), l.Close())
		}
	}
	log.Printf("lab %d ready; Ctrl-C or `lab down` stops it", l.Env().Slot)
	<-ctx.Done()
	log.Printf("stopping")
	return l.Close()
}

// upOwner marks labs started by this command.
const upOwner = "lab up"

func down(args []string) error {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	all := fs.Bool("all", false, "also stop labs that test processes run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts := lab.DownOptions{StopLive: true, StopOwner: upOwner, Logf: log.Printf}
	if *all {
		opts.StopOwner = ""
	}
	if err := lab.Down(context.Background(), opts); err != nil {
		return err
	}
	// Nothing of a dead lab, and no `lab up` lab (any lab with -all), may remain.
	st, err := lab.Status(context.Background())
	if err != nil {
		return err
	}
	for _, s := range st {
		ownedByOthers := s.Live && !*all && (s.Env == nil || s.Env.Owner != upOwner)
		if !ownedByOthers {
			return fmt.Errorf("lab %d still present after down (live=%v, namespaces %v)", s.Slot, s.Live, s.Namespaces)
		}
	}
	return nil
}

func status() error {
	st, err := lab.Status(context.Background())
	if err != nil {
		return err
	}
	if len(st) == 0 {
		fmt.Println("no lab on this host")
	}
	for _, s := range st {
		state := "left over by a dead lab (run `lab down`)"
		if s.Live {
			state = "running"
		}
		fmt.Printf("lab %d: %s\n", s.Slot, state)
		if s.Env != nil {
			fmt.Printf("  owner %q pid %d, api %s, dns %s, subnet %s\n", s.Env.Owner, s.Env.OwnerPID, s.Env.APIURL, s.Env.DNS, s.Env.Subnet)
		}
		for _, n := range s.Namespaces {
			fmt.Printf("  droplet namespace %s\n", n)
		}
	}
	return nil
}
