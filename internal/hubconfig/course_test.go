package hubconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// seed_course.py copies only missing files and never follows or replaces
// what the student put there.
func TestSeedCourseKeepsStudentFiles(t *testing.T) {
	py := needPython(t)
	src, dst := t.TempDir(), t.TempDir()
	write := func(p, content string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(src, "Welcome.ipynb"), "course version")
	write(filepath.Join(src, "week1/data.csv"), "x,y\n")
	write(filepath.Join(src, "week1/notes.md"), "notes")
	write(filepath.Join(dst, "Welcome.ipynb"), "my edits")
	outside := filepath.Join(t.TempDir(), "target")
	if err := os.MkdirAll(filepath.Join(dst, "week1"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dst, "week1/notes.md")); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), seedCourseName)
	write(script, string(seedCoursePy))
	out, err := exec.Command(py, "-I", "-B", script, src, dst).CombinedOutput()
	if err != nil {
		t.Fatalf("seed_course.py: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) != 1 || got[0] != "week1/data.csv" {
		t.Errorf("copied %q, want only week1/data.csv", got)
	}
	for p, want := range map[string]string{"Welcome.ipynb": "my edits", "week1/data.csv": "x,y\n"} {
		if b, err := os.ReadFile(filepath.Join(dst, p)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", p, b, err, want)
		}
	}
	if _, err := os.Lstat(outside); !os.IsNotExist(err) {
		t.Errorf("the student's dangling link was followed: %v", err)
	}
	st, err := os.Stat(filepath.Join(dst, "week1/data.csv"))
	if err != nil || st.Mode().Perm()&0o022 != 0 {
		t.Errorf("copied file mode %v, %v", st.Mode(), err)
	}
}

func TestCourseFilesValidated(t *testing.T) {
	s := classHub(t)
	s.CourseFiles = map[string]string{
		"../escape.txt": "x", "/abs.txt": "x", "a//b": "x", "ok.txt": "x",
		"big.bin": strings.Repeat("x", MaxCourseFileBytes+1), "nul.txt": "a\x00b",
	}
	err := s.Validate()
	if err == nil {
		t.Fatal("bad course files accepted")
	}
	for _, want := range []string{`course_files["../escape.txt"]`, `course_files["/abs.txt"]`, `course_files["a//b"]`, `course_files["big.bin"]`, `course_files["nul.txt"]`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no error for %s in:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), `"ok.txt"`) {
		t.Errorf("ok.txt refused:\n%v", err)
	}
}
