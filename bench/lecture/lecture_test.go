package main

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the user and system CPU time this process has used.
func cpuTime(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestPercentileNearestRank(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 60; i++ {
		d = append(d, time.Duration(i)*time.Second)
	}
	for p, want := range map[int]time.Duration{50: 30 * time.Second, 95: 57 * time.Second, 99: 60 * time.Second} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%d of 1..60 s = %s, want %s", p, got, want)
		}
	}
	if got := percentile(d[:1], 99); got != time.Second {
		t.Errorf("p99 of one value = %s", got)
	}
	if got := percentile(nil, 50); got != 0 {
		t.Errorf("p50 of nothing = %s", got)
	}
}

func TestKindOf(t *testing.T) {
	for _, c := range []struct{ comm, cmd, want string }{
		{"jhub-edge", "/usr/local/bin/jhub-edge\x00-config\x00/etc/jhub/edge.json", "edge"},
		{"python3", "/usr/bin/python3\x00-m\x00ipykernel_launcher\x00-f\x00k.json", "kernel"},
		{"jupyterhub-sin", "/usr/bin/python3\x00/usr/bin/jupyterhub-singleuser\x00--port=4123", "server"},
		{"jupyter-lab", "/usr/bin/python3\x00/usr/bin/jupyter-lab\x00--port=4123", "server"},
		{"jupyterhub", "/usr/bin/python3\x00/usr/bin/jupyterhub\x00-f\x00/etc/jupyterhub/jupyterhub_config.py", "hub"},
		{"sshd", "sshd: /usr/sbin/sshd -D", "other"},
	} {
		if got := kindOf(c.comm, []byte(c.cmd)); got != c.want {
			t.Errorf("kindOf(%q, %q) = %s, want %s", c.comm, c.cmd, got, c.want)
		}
	}
}

// The sampler reads real processes: this test's own, listed in a
// cgroup.procs of its own, burning CPU between two samples.
func TestSamplerCountsCPUAndRSS(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := newSampler(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.sample(time.Second)
	// 300 ms of this process's own CPU time, however long a busy machine
	// takes to give it (wall time alone made this test flaky under load).
	start, cpu0 := time.Now(), cpuTime(t)
	for x := 0; cpuTime(t)-cpu0 < 300*time.Millisecond; x++ {
		if time.Since(start) > 2*time.Minute {
			t.Fatalf("this test got %s of CPU in 2 minutes", cpuTime(t)-cpu0)
		}
		_ = strconv.Itoa(x)
	}
	s.sample(time.Since(start))
	u := s.summary()["other"]
	// The sampler counts clock ticks (10 ms) of the same process.
	if u.CPUSeconds < 0.25 || u.PeakRSSMiB <= 1 {
		t.Fatalf("after 300 ms of CPU the sampler saw %+v", u)
	}
	if _, err := newSampler(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a cgroup without cgroup.procs was accepted")
	}
}
