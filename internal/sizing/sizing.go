// Package sizing is the one definition of how many students a droplet
// holds, derived from the lecture benchmark (bench/lecture, results in
// bench/results/lecture). jhub_droplet's plan-time warning uses it, and the
// guide's table (templates/guides/sizing.md.tmpl, rendered to
// docs/guides/sizing.md) is checked against it by this package's tests.
package sizing

import (
	"fmt"
	"math"
)

// Measured in the lab: 60 students arriving over 60 s on examples/class-hub
// (JupyterHub 5.2.1, JupyterLab 4.0.11), each with a server and a running
// kernel (bench/results/lecture/after-timeouts-n60.json). Memory is RSS,
// which counts pages the processes share once per process: an overestimate.
const (
	ServerMiB = 122 // an idle student's server (jupyter-server and JupyterLab)
	KernelMiB = 69  // an idle Python kernel
	HubMiB    = 219 // the hub's peak
	EdgeMiB   = 26  // the edge's peak
	// OtherMiB is the peak of everything else on the droplet: systemd,
	// journald, sshd, the spawner's helpers.
	OtherMiB = 576
	// StartCPUSeconds is all the CPU one student's arrival cost (server,
	// kernel, hub, edge and the rest: 450.8 CPU-s for 60 students); on the
	// lab's 2 cores the 60 got their first output within 248.5 s.
	StartCPUSeconds = 7.5
	// HubStartCPUSeconds is the hub's part of it (64.0 CPU-s for 60). The
	// hub is one Python process: one core, however many the droplet has.
	HubStartCPUSeconds = 1.1
)

// HeadroomPercent of the droplet's memory is left free: the page cache,
// and students' code, which grows kernels past an idle one's size.
const HeadroomPercent = 25

// PerStudentMiB is what one student costs: a server, and in a busy class a
// running kernel as well.
func PerStudentMiB(busy bool) int {
	if busy {
		return ServerMiB + KernelMiB
	}
	return ServerMiB
}

// ReserveMiB is what the droplet needs whatever the class's size.
const ReserveMiB = HubMiB + EdgeMiB + OtherMiB

// Students is how many students a droplet with memoryMiB of memory holds
// with HeadroomPercent free: each with a server (idle) or with a server and
// a running kernel (busy). Zero when the droplet is too small for the hub.
func Students(memoryMiB int, busy bool) int {
	usable := memoryMiB*(100-HeadroomPercent)/100 - ReserveMiB
	if usable <= 0 {
		return 0
	}
	return usable / PerStudentMiB(busy)
}

// StartsPerMinute is how many students per minute vcpus can bring to
// their first output when the CPU is the limit, as at a lecture's start:
// the droplet's cores for all of it, and one core for the hub's part.
func StartsPerMinute(vcpus int) float64 {
	return math.Min(float64(vcpus)*60/StartCPUSeconds, 60/HubStartCPUSeconds)
}

// LectureStartMinutes is how long the CPU needs to start a lecture of
// students on vcpus, rounded up to whole minutes.
func LectureStartMinutes(students, vcpus int) int {
	return int(math.Ceil(float64(students) / StartsPerMinute(vcpus)))
}

// Size is a droplet size as DigitalOcean lists it.
type Size struct {
	Slug      string
	MemoryMiB int
	VCPUs     int
}

// Table is the guide's table of sizes, in Markdown.
func Table(sizes []Size) string {
	s := "| size | memory | vCPUs | idle class | busy class | students started per minute | a full busy class started in |\n" +
		"|---|---:|---:|---:|---:|---:|---:|\n"
	for _, z := range sizes {
		idle, busy := Students(z.MemoryMiB, false), Students(z.MemoryMiB, true)
		rate, full := "—", "—"
		if busy > 0 {
			rate = fmt.Sprintf("%.0f", StartsPerMinute(z.VCPUs))
			full = fmt.Sprintf("%d min", LectureStartMinutes(busy, z.VCPUs))
		}
		s += fmt.Sprintf("| `%s` | %s | %d | %s | %s | %s | %s |\n", z.Slug, memory(z.MemoryMiB), z.VCPUs, count(idle), count(busy), rate, full)
	}
	return s
}

func memory(mib int) string {
	if mib%1024 == 0 {
		return fmt.Sprintf("%d GiB", mib/1024)
	}
	return fmt.Sprintf("%d MiB", mib)
}

func count(n int) string {
	if n == 0 {
		return "too small"
	}
	return fmt.Sprint(n)
}
