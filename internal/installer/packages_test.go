package installer

import (
	"errors"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

func TestCheckPackageName(t *testing.T) {
	for _, ok := range []string{"python3-numpy", "r-base", "g++", "libstdc++6", "python3.13", "0ad", "xz-utils"} {
		if msg := CheckPackageName(ok); msg != "" {
			t.Errorf("%q refused: %s", ok, msg)
		}
	}
	for bad, fix := range map[string]string{
		"Python3-Numpy":               `write "python3-numpy"`,
		"python3-numpy=1:2.2.4":       `write "python3-numpy"`,
		"python3-numpy:arm64":         `write "python3-numpy"`,
		"python3-numpy python3-scipy": "one package per element",
		"x":                           "at least two",
		"-x":                          "starting with a letter or digit",
		"":                            "at least two",
		"numpy; reboot":               "several names",
		"py_thon":                     "policy §5.6.1",
	} {
		msg := CheckPackageName(bad)
		if !strings.Contains(msg, fix) {
			t.Errorf("%q: %q, want it to say %q", bad, msg, fix)
		}
	}
}

func TestPlanPackages(t *testing.T) {
	installed := map[string]bool{"jupyterlab": true, "python3-numpy": true, "python3-scipy": true, "python3-old": true}
	manual := map[string]bool{"jupyterlab": true, "python3-scipy": true, "python3-old": true}
	// numpy is a dependency (auto), scipy and old were installed before by
	// Install, pandas is new; jupyterlab is the hub's own.
	pc := planPackages([]string{"python3-pandas", "python3-numpy", "jupyterlab", "python3-scipy"},
		[]string{"python3-scipy", "python3-old", "python3-gone"}, installed, manual)
	want := packageChange{
		update:  true,
		install: []string{"python3-numpy", "python3-pandas"},
		remove:  []string{"python3-old"},
		record:  []string{"python3-gone", "python3-numpy", "python3-old", "python3-pandas", "python3-scipy"},
		final:   []string{"python3-numpy", "python3-pandas", "python3-scipy"},
	}
	if !reflect.DeepEqual(pc, want) {
		t.Errorf("got  %+v\nwant %+v", pc, want)
	}
	// Nothing to do once everything is in place: no apt-get at all.
	pc = planPackages([]string{"python3-scipy"}, []string{"python3-scipy"}, installed, manual)
	c := &Client{}
	if s := c.installScript(pc) + c.removeScript(pc); s != "" {
		t.Errorf("no change, yet a script: %q", s)
	}
	// An installed dependency becomes the students' without a list update.
	if pc := planPackages([]string{"python3-numpy"}, nil, installed, manual); pc.update || !reflect.DeepEqual(pc.install, []string{"python3-numpy"}) {
		t.Errorf("marking an installed dependency: %+v", pc)
	}
	// The hub's own packages are never the students' to remove.
	if pc := planPackages(nil, nil, installed, manual); len(pc.remove)+len(pc.install) != 0 {
		t.Errorf("empty list touched packages: %+v", pc)
	}
}

func TestPackageScripts(t *testing.T) {
	c := &Client{Root: "/r"}
	pc := packageChange{update: true, install: []string{"python3-pandas"}, remove: []string{"python3-old"},
		record: []string{"python3-old", "python3-pandas"}, final: []string{"python3-pandas"}}
	in := c.installScript(pc)
	for _, want := range []string{
		"'env' 'DEBIAN_FRONTEND=noninteractive' 'apt-get' '-q' '-y' '-o' 'DPkg::Lock::Timeout=600' 'update'",
		"'apt-get' '-q' '-y' '-o' 'DPkg::Lock::Timeout=600' '--no-remove' '--no-install-recommends' 'install' '--' 'python3-pandas'",
		"printf '%s\\n' python3-old python3-pandas | grep . > '/r/opt/jhub/student-packages.new'",
	} {
		if !strings.Contains(in, want) {
			t.Errorf("install script lacks %q:\n%s", want, in)
		}
	}
	// The record is written only once apt succeeded (sh -e).
	if strings.Index(in, "student-packages.new") < strings.Index(in, "'install'") {
		t.Errorf("record written before the install:\n%s", in)
	}
	rm := c.removeScript(pc)
	for _, want := range []string{
		"apt-mark auto -- python3-old",
		`if [ "$(apt-get -s remove -- "$p" 2>/dev/null | grep -c '^Remv ')" = 1 ]; then 'env' 'DEBIAN_FRONTEND=noninteractive' 'apt-get' '-q' '-y' '-o' 'DPkg::Lock::Timeout=600' 'remove' '--' "$p"`,
		"'apt-get' '-q' '-y' '-o' 'DPkg::Lock::Timeout=600' 'autoremove'",
		"printf '%s\\n' python3-pandas |",
	} {
		if !strings.Contains(rm, want) {
			t.Errorf("remove script lacks %q:\n%s", want, rm)
		}
	}
	for _, script := range []string{in, rm} {
		if out, err := exec.Command("sh", "-n", "-c", script).CombinedOutput(); err != nil {
			t.Errorf("sh -n: %v: %s\n%s", err, out, script)
		}
	}
	pc.update = false
	if strings.Contains(c.installScript(pc), "'update'") {
		t.Error("updated the lists with every package installed")
	}
}

// The record script really writes one name per line, and an empty file
// for no names.
func TestRecordScript(t *testing.T) {
	dir := t.TempDir()
	c := &Client{Root: dir}
	for _, names := range [][]string{{"python3-numpy", "python3-scipy"}, nil} {
		if out, err := exec.Command("sh", "-ec", c.recordScript(names)).CombinedOutput(); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		b, err := exec.Command("cat", filepath.Join(dir, ondroplet.StudentPackages)).Output()
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		if len(names) > 0 {
			want = strings.Join(names, "\n") + "\n"
		}
		if string(b) != want {
			t.Errorf("record of %q: %q", names, b)
		}
	}
}

func TestAptError(t *testing.T) {
	err := aptError(&ExitError{Cmd: "sudo -n sh -ec …", Status: 100, Stderr: "W: some warning\nE: Unable to locate package python3-nope"})
	if err.Error() != "E: Unable to locate package python3-nope" {
		t.Errorf("got %q", err)
	}
	err = aptError(&ExitError{Cmd: "x", Status: 1, Stderr: "dpkg: error processing"})
	if !strings.Contains(err.Error(), "dpkg: error processing") {
		t.Errorf("got %q", err)
	}
	other := errors.New("ssh: broken")
	if !errors.Is(aptError(other), other) || aptError(other).Error() != other.Error() {
		t.Error("a non-exit error was changed")
	}
}
