package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// procKinds are the droplet's processes as a lecture sees them.
var procKinds = []string{"edge", "hub", "server", "kernel", "other"}

// kindOf classifies a process by its command line.
func kindOf(comm string, cmdline []byte) string {
	cmd := string(bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	switch {
	case comm == "jhub-edge":
		return "edge"
	case strings.Contains(cmd, "ipykernel"):
		return "kernel"
	case strings.Contains(cmd, "jupyterhub-singleuser"), strings.Contains(cmd, "jupyter-lab"),
		strings.Contains(cmd, "jupyter-server"), strings.Contains(cmd, "jupyter_server"):
		return "server"
	case strings.Contains(cmd, "jupyterhub"):
		return "hub"
	}
	return "other"
}

// usage is what one kind of process used over the lecture.
type usage struct {
	CPUSeconds     float64 `json:"cpu_seconds"`
	PeakCPUPercent float64 `json:"peak_cpu_percent"` // of one core
	PeakRSSMiB     float64 `json:"peak_rss_mib"`
}

// memSplit is the memory of each idle student server and idle kernel.
type memSplit struct {
	Servers   int     `json:"servers"`
	ServerMiB float64 `json:"server_mib"` // mean RSS
	Kernels   int     `json:"kernels"`
	KernelMiB float64 `json:"kernel_mib"`
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture the lab runs on.
const clockTicks = 100

// sampler reads the droplet's processes from the host's /proc: the lab's
// containers share the host's process table, and the droplet's host cgroup
// lists exactly its processes.
type sampler struct {
	procs string // cgroup.procs
	done  chan struct{}

	mu    sync.Mutex
	ticks map[int]uint64 // last CPU ticks per pid
	total map[string]usage
}

func newSampler(cgroup string) (*sampler, error) {
	procs := filepath.Join(cgroup, "cgroup.procs")
	if _, err := os.ReadFile(procs); err != nil {
		return nil, fmt.Errorf("-cgroup: %w (give the droplet's host cgroup directory)", err)
	}
	return &sampler{procs: procs, done: make(chan struct{}), ticks: map[int]uint64{}, total: map[string]usage{}}, nil
}

// proc is one process's sample.
type proc struct {
	kind  string
	ticks uint64
	rss   float64 // MiB
}

func (s *sampler) read() map[int]proc {
	b, err := os.ReadFile(s.procs)
	if err != nil {
		return nil
	}
	out := map[int]proc{}
	for _, f := range strings.Fields(string(b)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		p, ok := readProc(pid)
		if ok {
			out[pid] = p
		}
	}
	return out
}

func readProc(pid int) (proc, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	stat, err := os.ReadFile(dir + "/stat")
	if err != nil {
		return proc{}, false
	}
	// comm is in parentheses and may hold spaces; the fields after it are
	// numbered from state (field 3).
	open, closing := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
	if open < 0 || closing < open {
		return proc{}, false
	}
	comm := string(stat[open+1 : closing])
	fields := strings.Fields(string(stat[closing+1:]))
	if len(fields) < 13 {
		return proc{}, false
	}
	utime, _ := strconv.ParseUint(fields[11], 10, 64) // field 14
	stime, _ := strconv.ParseUint(fields[12], 10, 64) // field 15
	cmdline, _ := os.ReadFile(dir + "/cmdline")
	p := proc{kind: kindOf(comm, cmdline), ticks: utime + stime}
	status, _ := os.ReadFile(dir + "/status")
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			p.rss = kb / 1024
		}
	}
	return p, true
}

func (s *sampler) run(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.sample(now.Sub(last))
			last = now
		}
	}
}

func (s *sampler) sample(elapsed time.Duration) {
	procs := s.read()
	s.mu.Lock()
	defer s.mu.Unlock()
	cpu, rss := map[string]float64{}, map[string]float64{}
	for pid, p := range procs {
		if prev, ok := s.ticks[pid]; ok && p.ticks >= prev {
			cpu[p.kind] += float64(p.ticks-prev) / clockTicks
		}
		s.ticks[pid] = p.ticks
		rss[p.kind] += p.rss
	}
	for pid := range s.ticks {
		if _, ok := procs[pid]; !ok {
			delete(s.ticks, pid)
		}
	}
	for _, k := range procKinds {
		u := s.total[k]
		u.CPUSeconds += cpu[k]
		u.PeakCPUPercent = max(u.PeakCPUPercent, 100*cpu[k]/elapsed.Seconds())
		u.PeakRSSMiB = max(u.PeakRSSMiB, rss[k])
		s.total[k] = u
	}
}

// split is the mean RSS of the servers and kernels running now.
func (s *sampler) split() memSplit {
	var m memSplit
	for _, p := range s.read() {
		switch p.kind {
		case "server":
			m.Servers++
			m.ServerMiB += p.rss
		case "kernel":
			m.Kernels++
			m.KernelMiB += p.rss
		}
	}
	if m.Servers > 0 {
		m.ServerMiB /= float64(m.Servers)
	}
	if m.Kernels > 0 {
		m.KernelMiB /= float64(m.Kernels)
	}
	return m
}

func (s *sampler) summary() map[string]usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]usage, len(s.total))
	for k, u := range s.total {
		out[k] = u
	}
	return out
}

func (s *sampler) close() { close(s.done) }
