package hubconfig

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// The shared course directory on the droplet: readable by every student,
// writable by the hub's admins, who are exactly the members of CourseGroup
// (jhub_hub.py's prepare sets it at every hub start; an admin's first spawn
// adds a newer account). Setgid, so what one admin adds the others can
// reach through the group.
const (
	CourseDir     = ondroplet.CourseDir
	CourseGroup   = "jhub-course"
	CourseDirMode = 0o2775
)

// Limits of Settings.CourseFiles: they travel in Terraform state and in
// every release, and each student's notebook directory gets a copy.
const (
	MaxCourseFiles     = 200
	MaxCourseFileBytes = 1 << 20
	MaxCourseBytes     = 8 << 20
)

// courseDirName is the release's directory of course files.
const courseDirName = "course"

// prepareArgs is jhub_hub.py's prepare command line after the script: the
// students group, the course directory, its mode and group, the admins.
func prepareArgs(s Settings) []string {
	admins := slices.Sorted(slices.Values(s.AdminUsers))
	return slices.Concat([]string{"prepare", StudentsGroup, CourseDir, "0" + strconv.FormatInt(CourseDirMode, 8), CourseGroup}, admins)
}

func validateCourseFiles(add adder, files map[string]string) {
	if len(files) > MaxCourseFiles {
		add("course_files", "%d files, at most %d: put larger material in the shared course directory %s or a git repository students pull with nbgitpuller", len(files), MaxCourseFiles, CourseDir)
	}
	total := 0
	for _, p := range slices.Sorted(maps.Keys(files)) {
		f := fmt.Sprintf("course_files[%q]", p)
		if !validStaticPath(p) || len(p) > 255 {
			add(f, "%q must be a clean relative path below the notebook directory (no leading '/', no '..', no empty segments, at most 255 bytes)", p)
		}
		if !validText(files[p]) {
			add(f, "must be valid UTF-8 text without NUL (read it with file())")
		}
		if n := len(files[p]); n > MaxCourseFileBytes {
			add(f, "is %d bytes, at most %d: put larger files in the shared course directory %s", n, MaxCourseFileBytes, CourseDir)
		}
		total += len(files[p])
	}
	if total > MaxCourseBytes {
		add("course_files", "%d bytes in all, at most %d", total, MaxCourseBytes)
	}
}

// addCourseFiles puts the course files into the release; the hub reads
// them from its own release at each spawn, so a change restarts it.
func addCourseFiles(r *release, files map[string]string) {
	for _, p := range slices.Sorted(maps.Keys(files)) {
		r.add(path.Join(courseDirName, p), 0o644, "root", []byte(files[p])).Restart = HubUnit
	}
}
