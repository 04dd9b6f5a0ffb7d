package hubconfig

import "fmt"

// Limits bound each single-user server. Every server runs in its own
// transient systemd unit (jupyter-<user>[:<server>].service) carrying
// these as unit properties; LimitNPROC also holds where cgroups are not
// writable (the lab's containers), because it is a per-account rlimit.
type Limits struct {
	// MemoryMaxMiB is the unit's MemoryMax, in MiB [limits.memory_max_mib].
	MemoryMaxMiB int
	// TasksMax is the unit's TasksMax: processes and threads [limits.tasks_max].
	TasksMax int
	// CPUQuotaPercent is the unit's CPUQuota; 100 is one core
	// [limits.cpu_quota_percent].
	CPUQuotaPercent int
	// NProc is LimitNPROC (RLIMIT_NPROC) of the server's processes: the
	// tasks the student's account may own in all [limits.nproc].
	NProc int
}

// OOM killer preferences (OOMScoreAdjust, -1000..1000): under memory
// pressure the kernel kills a student's server long before the hub, the
// edge or configurable-http-proxy, so one runaway notebook costs its owner
// a kernel, not the class its hub.
const (
	StudentOOMScoreAdjust = 500
	ServiceOOMScoreAdjust = -900
)

// Floors and reserve of DefaultLimits.
const (
	// limitsReserveMiB is kept for the system, the hub (~150 MiB with a
	// class logged in), the edge and configurable-http-proxy (tens of MiB
	// each), sshd, journald and the page cache they need.
	limitsReserveMiB = 512
	// limitsMinMemoryMiB is where JupyterLab and one Python kernel still start.
	limitsMinMemoryMiB = 256
	// limitsTasks covers jupyter-server, a few kernels with their BLAS
	// and ZMQ threads, a terminal and the pip or compiler a student runs,
	// and stops a fork bomb within a fraction of a second.
	limitsTasks = 512
)

// DefaultLimits derives per-student limits from the droplet's size.
//
// Memory: the droplet keeps limitsReserveMiB (or an eighth of its memory,
// whichever is larger) for the system, hub and edge; one student may use
// at most half of the rest, so two runaway notebooks cannot exhaust the
// machine together, yet one large computation still fits. Never below
// limitsMinMemoryMiB, where JupyterLab itself would not start.
//
// CPU: at most one core per student. On a single-vCPU droplet 80%, so the
// hub, the edge and sshd always get a share even with one busy student.
//
// Tasks: limitsTasks for TasksMax and the same for RLIMIT_NPROC; a
// student's account owns nothing outside its server.
func DefaultLimits(dropletMemoryMiB, vcpus int) Limits {
	reserve := max(limitsReserveMiB, dropletMemoryMiB/8)
	mem := max((dropletMemoryMiB-reserve)/2, limitsMinMemoryMiB)
	cpu := 100
	if vcpus <= 1 {
		cpu = 80
	}
	return Limits{MemoryMaxMiB: mem, TasksMax: limitsTasks, CPUQuotaPercent: cpu, NProc: limitsTasks}
}

func (l Limits) validate(add adder) {
	check := func(field string, v, lo, hi int, what string) {
		if v < lo || v > hi {
			add("limits."+field, "%d is out of range: %s, from %d to %d (DefaultLimits derives it from the droplet's size)", v, what, lo, hi)
		}
	}
	check("memory_max_mib", l.MemoryMaxMiB, limitsMinMemoryMiB, 4<<20, "MiB of memory per server")
	check("tasks_max", l.TasksMax, 64, 1<<20, "processes and threads per server")
	check("cpu_quota_percent", l.CPUQuotaPercent, 10, 100*1024, "percent of one core")
	check("nproc", l.NProc, 64, 1<<20, "processes per student account")
}

// unitProperties are the systemd properties of a student's server unit
// that come from Limits.
func (l Limits) unitProperties() []string {
	return []string{
		fmt.Sprintf("MemoryMax=%dM", l.MemoryMaxMiB),
		fmt.Sprintf("TasksMax=%d", l.TasksMax),
		fmt.Sprintf("CPUQuota=%d%%", l.CPUQuotaPercent),
		fmt.Sprintf("LimitNPROC=%d", l.NProc),
		fmt.Sprintf("OOMScoreAdjust=%d", StudentOOMScoreAdjust),
	}
}

// Spawn timeouts, in seconds. A lecture's students arrive within a minute
// and their servers compete for the droplet's CPU: in the lab (bench/lecture,
// 60 students over 60 s on 2 cores) the servers that did start took up to
// 80 s to answer, and every spawn after the 27th failed at JupyterHub's
// default 30 s http_timeout. A student waits out a slow start rather than
// getting an error page.
const (
	SpawnStartTimeout = 300 // the spawner's start returns (systemd-run, seeding the course)
	SpawnHTTPTimeout  = 240 // the new server answers its first request
)
