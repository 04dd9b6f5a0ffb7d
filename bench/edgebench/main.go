// Command edgebench holds the Go parts of bench/run.sh: the upstream every
// proxy forwards to, the websocket load generators and the report writer.
//
//	edgebench upstream -http ADDR -https ADDR -cert FILE -key FILE
//	edgebench ws-echo -url wss://HOST/ws -conns 50 -duration 5s -size 128
//	edgebench ws-idle -url wss://HOST/ws -conns 1000 -hold 30s
//	edgebench report -csv raw.csv -meta meta.txt -commands commands.txt -out RESULTS.md
package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: edgebench upstream|ws-echo|ws-idle|report [flags]")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"upstream": upstream,
		"ws-echo":  wsEchoLoad,
		"ws-idle":  wsIdle,
		"report":   report,
	}
	cmd, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "edgebench: unknown command %q; use upstream, ws-echo, ws-idle or report\n", os.Args[1])
		os.Exit(2)
	}
	if err := cmd(os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "edgebench %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

// upstream serves /1k and /1m (fixed bodies) and /ws (websocket echo) over
// HTTP and, for the "direct" row of the benchmark, HTTPS.
func upstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	httpAddr := fs.String("http", "127.0.0.1:38001", "plain HTTP listen address (what the proxies forward to)")
	httpsAddr := fs.String("https", "", "optional HTTPS listen address")
	cert := fs.String("cert", "", "certificate PEM for -https")
	key := fs.String("key", "", "key PEM for -https")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/1k", fixedBody(bytes.Repeat([]byte("x"), 1<<10)))
	mux.Handle("/1m", fixedBody(bytes.Repeat([]byte("y"), 1<<20)))
	mux.HandleFunc("/ws", wsEcho)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 2)
	servers := []*http.Server{{Addr: *httpAddr, Handler: mux}}
	go func() { errc <- servers[0].ListenAndServe() }()
	if *httpsAddr != "" {
		s := &http.Server{Addr: *httpsAddr, Handler: mux}
		servers = append(servers, s)
		go func() { errc <- s.ListenAndServeTLS(*cert, *key) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		var errs []error
		for _, s := range servers {
			errs = append(errs, s.Close())
		}
		return errors.Join(errs...)
	}
}

func fixedBody(b []byte) http.Handler {
	ctype := []string{"application/octet-stream"}
	clen := []string{strconv.Itoa(len(b))}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Type"] = ctype
		h["Content-Length"] = clen
		_, _ = w.Write(b) // a client that went away is the load generator's to count
	})
}

// wsEchoLoad runs -conns websockets, each sending a message and waiting for
// its echo in a loop, and prints the echoed messages per second and in total.
func wsEchoLoad(args []string) error {
	fs := flag.NewFlagSet("ws-echo", flag.ContinueOnError)
	u := fs.String("url", "", "ws:// or wss:// URL of the echo endpoint")
	conns := fs.Int("conns", 50, "websockets")
	dur := fs.Duration("duration", 5*time.Second, "measurement time")
	size := fs.Int("size", 128, "message size in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cs, err := dialAll(*u, *conns)
	if err != nil {
		return err
	}
	msg := bytes.Repeat([]byte("m"), *size)
	var total atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(*dur)
	for _, c := range cs {
		wg.Go(func() {
			defer func() { _ = c.conn.Close() }() // done measuring; the count is what matters
			scratch, buf := make([]byte, len(msg)), make([]byte, len(msg))
			n := int64(0)
			for time.Now().Before(deadline) {
				var err error
				if buf, err = c.roundTrip(msg, scratch, buf); err != nil {
					firstErr.CompareAndSwap(nil, err)
					break
				}
				n++
			}
			total.Add(n)
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, _ := firstErr.Load().(error); err != nil {
		return fmt.Errorf("a websocket failed during the run: %w", err)
	}
	fmt.Printf("%.1f %d\n", float64(total.Load())/elapsed.Seconds(), total.Load())
	return nil
}

// wsIdle opens -conns websockets, proves each with one echo, prints "ready",
// holds them idle for -hold, then proves each again and prints "alive N".
func wsIdle(args []string) error {
	fs := flag.NewFlagSet("ws-idle", flag.ContinueOnError)
	u := fs.String("url", "", "ws:// or wss:// URL of the echo endpoint")
	conns := fs.Int("conns", 1000, "websockets")
	hold := fs.Duration("hold", 30*time.Second, "how long to hold them idle")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cs, err := dialAll(*u, *conns)
	if err != nil {
		return err
	}
	if err := echoAll(cs); err != nil {
		return err
	}
	fmt.Println("ready", len(cs))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	select {
	case <-time.After(*hold):
	case <-ctx.Done():
	}
	err = echoAll(cs)
	closeAll(cs)
	if err != nil {
		return fmt.Errorf("after holding idle: %w", err)
	}
	fmt.Println("alive", len(cs))
	return nil
}

// dialAll opens n websockets, 50 at a time (the handshakes are the slow part).
func dialAll(u string, n int) ([]*wsConn, error) {
	if u == "" {
		return nil, errors.New("-url is required")
	}
	cs := make([]*wsConn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			cs[i], errs[i] = dialWS(u, 10*time.Second)
		})
	}
	wg.Wait()
	if err := summarize(errs); err != nil {
		closeAll(cs)
		return nil, fmt.Errorf("opening %d websockets: %w", n, err)
	}
	return cs, nil
}

func echoAll(cs []*wsConn) error {
	msg := []byte("ping")
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			if errs[i] = c.conn.SetDeadline(time.Now().Add(10 * time.Second)); errs[i] != nil {
				return
			}
			if _, errs[i] = c.roundTrip(msg, make([]byte, len(msg)), nil); errs[i] != nil {
				return
			}
			errs[i] = c.conn.SetDeadline(time.Time{})
		})
	}
	wg.Wait()
	return summarize(errs)
}

// closeAll closes the websockets that were opened; the measurement is over,
// so there is nothing to do about a failed close.
func closeAll(cs []*wsConn) {
	for _, c := range cs {
		if c != nil {
			_ = c.conn.Close()
		}
	}
}

// summarize turns per-connection errors into one: how many failed, and the first.
func summarize(errs []error) error {
	var first error
	n := 0
	for _, err := range errs {
		if err != nil {
			first = cmp.Or(first, err)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return fmt.Errorf("%d of %d websockets failed, first: %w", n, len(errs), first)
}
