// Command jhub-edge is the TLS edge in front of JupyterHub: it replaces nginx
// and configurable-http-proxy. See internal/edge for the configuration file.
//
//	jhub-edge run -config FILE     serve until SIGINT/SIGTERM; SIGHUP reloads
//	jhub-edge check -config FILE   validate FILE; exit 1 naming each bad field
//	jhub-edge version              print the version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/classhub/terraform-provider-jhub/internal/certs"
	"github.com/classhub/terraform-provider-jhub/internal/edge"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		_, _ = fmt.Fprintln(stderr, "usage: jhub-edge run|check -config FILE, or jhub-edge version")
		return 2
	}
	switch args[0] {
	case "version":
		if _, err := fmt.Fprintln(stdout, "jhub-edge", versionString()); err != nil {
			return 1
		}
		return 0
	case "check", "run":
	default:
		_, _ = fmt.Fprintf(stderr, "jhub-edge: unknown command %q; use run, check or version\n", args[0])
		return 2
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "/etc/jhub-edge/edge.yaml", "configuration file (YAML)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	cfg, err := edgeconfig.LoadConfig(*path)
	if err != nil {
		_, _ = fmt.Fprintf(stderr, "jhub-edge: invalid config:\n%v\n", err)
		return 1
	}
	if args[0] == "check" {
		if _, err := fmt.Fprintf(stdout, "%s: ok (%d hosts)\n", *path, len(cfg.Hosts())); err != nil {
			return 1
		}
		return 0
	}
	if err := serve(cfg, *path, stderr); err != nil {
		_, _ = fmt.Fprintf(stderr, "jhub-edge: %v\n", err)
		return 1
	}
	return 0
}

func serve(cfg *edgeconfig.Config, path string, stderr io.Writer) (err error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Log.Level)); err != nil {
		return fmt.Errorf("log.level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	stopProfile, err := cpuProfile()
	if err != nil {
		return err
	}
	defer func() {
		if perr := stopProfile(); perr != nil {
			err = errors.Join(err, perr)
		}
	}()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cm, err := certs.New(ctx, cfg.ToCerts(), log)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := cm.Close(); cerr != nil {
			err = errors.Join(err, cerr)
		}
	}()
	srv, err := edge.New(cfg, edge.Options{ConfigPath: path, Logger: log, TLS: cm})
	if err != nil {
		return err
	}
	if err := srv.Listen(); err != nil {
		return err
	}
	// Certificates are obtained once :80 and :443 are bound, so HTTP-01 and
	// TLS-ALPN-01 challenges reach this process.
	go func() {
		if err := cm.ManageSync(ctx); err != nil {
			log.Error("certificates not obtained; serving whatever is stored", "err", err.Error())
		}
	}()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			_ = srv.ReloadFile() // logs its own error; the old config keeps serving
			if err := cm.Reload(); err != nil {
				log.Error("certificate reload failed; keeping the current certificate", "err", err.Error())
			}
		}
	}()
	err = srv.Serve(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// cpuProfile profiles the whole run into FILE when JHUB_EDGE_CPUPROFILE=FILE
// is set, for benchmarking. stop reports a profile not written completely.
func cpuProfile() (stop func() error, err error) {
	path := os.Getenv("JHUB_EDGE_CPUPROFILE")
	if path == "" {
		return func() error { return nil }, nil
	}
	out, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("JHUB_EDGE_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		return nil, fmt.Errorf("JHUB_EDGE_CPUPROFILE: %w", errors.Join(err, out.Close()))
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := out.Close(); err != nil {
			return fmt.Errorf("JHUB_EDGE_CPUPROFILE: %w", err)
		}
		return nil
	}, nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
