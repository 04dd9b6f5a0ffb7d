// Command lecture plays the start of a lecture against a hub: N students
// arrive over a ramp, each logs in through the edge, starts a server, opens
// a kernel over its websocket and runs a cell, then keeps running a small
// cell every few seconds for a while, the way a class works in the browser.
// It reports the time to the last student's first output, the percentiles
// of login → first output, the failures and what they were, and, when given
// the droplet's host cgroup (the lab), the hub's and edge's CPU and RSS and
// the memory of an idle student server and of a running kernel.
//
//	lecture -hub https://hub.cs101.lab.test/ -ca ca.pem -dns 198.19.1.1:53 \
//	  -password-file pw -users c%02d -n 60 -ramp 60s -hold 2m -cgroup /sys/fs/cgroup/memory/jhub1-2
//
// The class password comes from a file, never the command line.
package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/hubclient"
)

func main() {
	var o options
	flag.StringVar(&o.hub, "hub", "", "the hub's URL")
	flag.StringVar(&o.caFile, "ca", "", "PEM roots for the hub's certificate (default: the system's)")
	flag.StringVar(&o.dns, "dns", "", "DNS server host:port for the hub's name (default: the system's)")
	flag.StringVar(&o.pwFile, "password-file", "", "file holding the class password")
	flag.StringVar(&o.users, "users", "student%02d", "user name pattern; %d is the student's number, from 1")
	flag.IntVar(&o.n, "n", 10, "students")
	flag.DurationVar(&o.ramp, "ramp", time.Minute, "students arrive evenly over this time")
	flag.DurationVar(&o.hold, "hold", time.Minute, "after the first output, each student runs a cell every -every for this long")
	flag.DurationVar(&o.every, "every", 5*time.Second, "interval of the held cells")
	flag.DurationVar(&o.timeout, "timeout", 5*time.Minute, "a student who has no first output by then has failed")
	flag.StringVar(&o.cgroup, "cgroup", "", "the droplet's host cgroup directory (its cgroup.procs lists its processes): samples CPU and memory")
	flag.BoolVar(&o.stop, "stop", true, "stop every server at the end")
	flag.StringVar(&o.jsonOut, "json", "", "also write the report as JSON here")
	flag.Parse()
	r, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "lecture:", err)
		os.Exit(1)
	}
	fmt.Print(r.markdown())
	if o.jsonOut != "" {
		b, err := json.MarshalIndent(r, "", "  ")
		if err == nil {
			err = os.WriteFile(o.jsonOut, append(b, '\n'), 0o644)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "lecture:", err)
			os.Exit(1)
		}
	}
	if r.Failed > 0 {
		os.Exit(2)
	}
}

type options struct {
	hub, caFile, dns, pwFile, users, cgroup, jsonOut string
	n                                                int
	ramp, hold, every, timeout                       time.Duration
	stop                                             bool
}

// student is one student's run.
type student struct {
	Name        string        `json:"name"`
	Arrive      time.Duration `json:"arrive"`       // since the lecture started
	Login       time.Duration `json:"login"`        // login form answered
	Spawned     time.Duration `json:"spawned"`      // since arrival: server ready
	FirstOutput time.Duration `json:"first_output"` // since arrival: the first cell's output
	Cells       int           `json:"cells"`        // held cells that answered
	Stage       string        `json:"stage,omitempty"`
	Err         string        `json:"error,omitempty"`
}

func run(o options) (*report, error) {
	if o.hub == "" || o.pwFile == "" || o.n < 1 {
		return nil, fmt.Errorf("-hub, -password-file and -n ≥ 1 are required")
	}
	pw, err := os.ReadFile(o.pwFile)
	if err != nil {
		return nil, err
	}
	password := strings.TrimSpace(string(pw))
	var roots *x509.CertPool
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, err
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", o.caFile)
		}
	}
	var resolver *net.Resolver
	if o.dns != "" {
		resolver = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, o.dns)
		}}
	}
	var smp *sampler
	if o.cgroup != "" {
		if smp, err = newSampler(o.cgroup); err != nil {
			return nil, err
		}
		go smp.run(time.Second)
		defer smp.close()
	}

	students := make([]*student, o.n)
	var wg sync.WaitGroup
	var firstOutputs sync.WaitGroup // every student has output (or failed)
	var idleMem memSplit
	allUp := make(chan struct{})
	start := time.Now()
	for i := range students {
		s := &student{Name: fmt.Sprintf(o.users, i+1)}
		if o.n > 1 {
			s.Arrive = o.ramp * time.Duration(i) / time.Duration(o.n-1)
		}
		students[i] = s
		wg.Add(1)
		firstOutputs.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Until(start.Add(s.Arrive)))
			s.play(o, password, roots, resolver, firstOutputs.Done, allUp)
		}()
	}
	firstOutputs.Wait()
	// Every student who got this far now has an idle kernel and a server:
	// what each costs is measured here, before the held cells start.
	if smp != nil {
		idleMem = smp.split()
	}
	close(allUp)
	wg.Wait()
	r := newReport(o, time.Since(start), students)
	if smp != nil {
		r.Resources = smp.summary()
		r.Memory = idleMem
	}
	return r, nil
}

// play runs one student; firstOutput is called once, when the first cell
// answered or the student failed before that. The held cells start after
// allUp, so the memory of a lecture's idle servers is measured quietly.
func (s *student) play(o options, password string, roots *x509.CertPool, resolver *net.Resolver, firstOutput func(), allUp <-chan struct{}) {
	arrived := time.Now()
	once := sync.OnceFunc(firstOutput)
	defer once()
	fail := func(stage string, err error) {
		s.Stage, s.Err = stage, err.Error()
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	c, err := hubclient.New(o.hub, roots, resolver)
	if err != nil {
		fail("client", err)
		return
	}
	if err := c.Login(ctx, s.Name, password); err != nil {
		fail("login", err)
		return
	}
	s.Login = time.Since(arrived)
	if err := c.StartServer(ctx, s.Name); err != nil {
		fail("spawn", err)
		return
	}
	s.Spawned = time.Since(arrived)
	k, err := c.OpenKernel(ctx, s.Name)
	if err != nil {
		fail("kernel", err)
		return
	}
	defer func() { _ = k.Close() }() // the report has what mattered
	if out, err := k.Execute(ctx, "print(6 * 7)"); err != nil || out != "42" {
		if err == nil {
			err = fmt.Errorf("the cell printed %q, not 42", out)
		}
		fail("first cell", err)
		return
	}
	s.FirstOutput = time.Since(arrived)
	once()
	<-allUp
	hold, cancelHold := context.WithTimeout(context.Background(), o.hold+o.timeout)
	defer cancelHold()
	for end := time.Now().Add(o.hold); time.Now().Before(end); {
		time.Sleep(o.every)
		if out, err := k.Execute(hold, "sum(range(100000))"); err != nil || out != "4999950000" {
			if err == nil {
				err = fmt.Errorf("the cell answered %q", out)
			}
			fail("held cell", err)
			return
		}
		s.Cells++
	}
	if o.stop {
		stop, cancelStop := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancelStop()
		if err := c.StopServer(stop, s.Name); err != nil {
			fail("stop", err)
		}
	}
}

// report is what one lecture measured.
type report struct {
	N            int                 `json:"n"`
	Ramp         time.Duration       `json:"ramp"`
	Wall         time.Duration       `json:"wall"`
	LastOutput   time.Duration       `json:"last_first_output"` // since the lecture started
	P50          time.Duration       `json:"p50"`
	P95          time.Duration       `json:"p95"`
	P99          time.Duration       `json:"p99"`
	Failed       int                 `json:"failed"`
	FailedByKind map[string][]string `json:"failures,omitempty"` // stage → students and errors
	Resources    map[string]usage    `json:"resources,omitempty"`
	Memory       memSplit            `json:"memory"`
	Students     []*student          `json:"students"`
}

func newReport(o options, wall time.Duration, students []*student) *report {
	r := &report{N: o.n, Ramp: o.ramp, Wall: wall, Students: students, FailedByKind: map[string][]string{}}
	var lat []time.Duration
	for _, s := range students {
		if s.Err != "" {
			r.Failed++
			r.FailedByKind[s.Stage] = append(r.FailedByKind[s.Stage], s.Name+": "+s.Err)
		}
		if s.FirstOutput > 0 {
			lat = append(lat, s.FirstOutput)
			r.LastOutput = max(r.LastOutput, s.Arrive+s.FirstOutput)
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	r.P50, r.P95, r.P99 = percentile(lat, 50), percentile(lat, 95), percentile(lat, 99)
	return r
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted) + 99) / 100
	return sorted[max(i, 1)-1]
}

func (r *report) markdown() string {
	var b strings.Builder
	sec := func(d time.Duration) string { return fmt.Sprintf("%.1f s", d.Seconds()) }
	fmt.Fprintf(&b, "| N | ramp | last first output | p50 | p95 | p99 | failed |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %d |\n\n", r.N, sec(r.Ramp), sec(r.LastOutput), sec(r.P50), sec(r.P95), sec(r.P99), r.Failed)
	stages := make([]string, 0, len(r.FailedByKind))
	for k := range r.FailedByKind {
		stages = append(stages, k)
	}
	sort.Strings(stages)
	for _, k := range stages {
		fmt.Fprintf(&b, "failed at %s (%d):\n", k, len(r.FailedByKind[k]))
		for _, e := range r.FailedByKind[k] {
			fmt.Fprintf(&b, "  %.300s\n", e)
		}
	}
	if len(r.Resources) > 0 {
		fmt.Fprintf(&b, "| process | CPU s | CPU peak %% | RSS peak MiB |\n|---|---:|---:|---:|\n")
		for _, k := range procKinds {
			u := r.Resources[k]
			fmt.Fprintf(&b, "| %s | %.1f | %.0f | %.0f |\n", k, u.CPUSeconds, u.PeakCPUPercent, u.PeakRSSMiB)
		}
		fmt.Fprintf(&b, "\nper idle student server: %.0f MiB RSS (%d servers); per idle kernel: %.0f MiB RSS (%d kernels)\n",
			r.Memory.ServerMiB, r.Memory.Servers, r.Memory.KernelMiB, r.Memory.Kernels)
	}
	return b.String()
}
