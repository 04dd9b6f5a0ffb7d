package lab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A droplet has the memory of its size. On a cgroup v1/hybrid host every
// controller is read-only inside the container, so systemd in the droplet
// cannot enforce anything; the lab puts each container into a v1 memory and
// pids cgroup of its own on the host instead, named like its namespace
// (cgroupRoots/<controller>/jhub<N>-<id>) so the janitor finds them.

// cgroupRoot is where the host mounts the v1 hierarchies.
const cgroupRoot = "/sys/fs/cgroup"

// dropletPidsMax is generous: a class hub runs hundreds of tasks, a
// fork bomb is stopped long before the host's limit.
const dropletPidsMax = 32768

// cgroupControllers are the v1 hierarchies a droplet gets a cgroup in.
var cgroupControllers = []string{"memory", "pids"}

func cgroupDir(controller, name string) string {
	return filepath.Join(cgroupRoot, controller, name)
}

// setupCgroups creates the droplet's cgroups (kept across power cycles) with
// its size's RAM as the memory limit, swap included (a droplet has none),
// and returns the cgroup.procs files to enter.
func setupCgroups(name string, memMiB int) ([]string, error) {
	if memMiB <= 0 {
		return nil, fmt.Errorf("lab: %s: no memory size", name)
	}
	limits := map[string][][2]string{
		"memory": {{"memory.limit_in_bytes", strconv.Itoa(memMiB << 20)}, {"memory.memsw.limit_in_bytes", strconv.Itoa(memMiB << 20)}},
		"pids":   {{"pids.max", strconv.Itoa(dropletPidsMax)}},
	}
	var procs []string
	for _, c := range cgroupControllers {
		dir := cgroupDir(c, name)
		if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("lab: %s: creating its %s cgroup (needs a cgroup v1 %s hierarchy at %s): %w", name, c, c, filepath.Join(cgroupRoot, c), err)
		}
		for _, kv := range limits[c] {
			f := filepath.Join(dir, kv[0])
			// memsw exists only with swap accounting; without it there is
			// nothing to limit.
			if kv[0] == "memory.memsw.limit_in_bytes" && !exists(f) {
				continue
			}
			if err := os.WriteFile(f, []byte(kv[1]), 0o644); err != nil {
				return nil, fmt.Errorf("lab: %s: setting %s=%s: %w", name, kv[0], kv[1], err)
			}
		}
		procs = append(procs, filepath.Join(dir, "cgroup.procs"))
	}
	return procs, nil
}

// labCgroups lists the lab's cgroup directories of slot s (all slots when
// s < 0), deepest first.
func labCgroups(s slot) []string {
	var out []string
	for _, c := range cgroupControllers {
		ents, _ := os.ReadDir(filepath.Join(cgroupRoot, c))
		for _, e := range ents {
			sl, ok := slotOf(e.Name())
			if !e.IsDir() || !ok || (s >= 0 && sl != s) {
				continue
			}
			// The walk never fails: what cannot be read is skipped.
			_ = filepath.WalkDir(cgroupDir(c, e.Name()), func(p string, d fs.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					out = append(out, p)
				}
				return nil
			})
		}
	}
	sort.Slice(out, func(i, j int) bool { return strings.Count(out[i], "/") > strings.Count(out[j], "/") })
	return out
}

// cgroupPIDs lists the processes in one cgroup directory.
func cgroupPIDs(dir string) []int {
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if p, err := strconv.Atoi(f); err == nil {
			pids = append(pids, p)
		}
	}
	return pids
}

// removeCgroups kills what is left in the given cgroups (only a container the
// lab started is ever put there) and removes them, deepest first.
func removeCgroups(dirs []string) error {
	var errs []error
	for _, dir := range dirs {
		var err error
		for range 100 {
			// A process that survives keeps Rmdir failing, which is reported.
			for _, p := range cgroupPIDs(dir) {
				_ = kill(p, syscall.SIGKILL)
			}
			if err = syscall.Rmdir(dir); err == nil || errors.Is(err, syscall.ENOENT) {
				err = nil
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("lab: removing cgroup %s: %w", dir, err))
		}
	}
	return errors.Join(errs...)
}
