package hubconfig

import (
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// The hub unit's own commands, run relocated below a temporary root, leave
// JupyterLab's overrides file pointing at the release's, which sets the
// notebook windowing for every student.
func TestLabOverridesLinkedAtHubStart(t *testing.T) {
	current, files := renderTo(t, classHub(t))
	root := strings.TrimSuffix(current, ondroplet.Current)
	dir := path.Dir(ondroplet.LabOverrides)
	// start runs the unit's commands that touch dir, as every hub start does.
	start := func() {
		ran := 0
		for line := range strings.Lines(string(fileNamed(t, files, HubUnit).Content)) {
			cmd, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecStartPre=")
			if !ok || !strings.Contains(cmd, " "+dir) {
				continue
			}
			argv := strings.Fields(strings.ReplaceAll(cmd, " "+dir, " "+filepath.Join(root, dir)))
			if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v: %s", cmd, err, out)
			}
			ran++
		}
		if ran == 0 {
			t.Fatalf("the hub unit has no ExecStartPre for %s", dir)
		}
	}
	// The second start finds the link of the first.
	start()
	start()
	link := filepath.Join(root, ondroplet.LabOverrides)
	if target, err := os.Readlink(link); err != nil || target != filepath.Join(current, labOverridesName) {
		t.Fatalf("%s links to %q (%v), want the current release's %s", ondroplet.LabOverrides, target, err, labOverridesName)
	}
	b, err := os.ReadFile(link)
	if err != nil {
		t.Fatal(err)
	}
	var overrides map[string]map[string]any
	if err := json.Unmarshal(b, &overrides); err != nil {
		t.Fatalf("%s: %v", labOverridesName, err)
	}
	if got := overrides["@jupyterlab/notebook-extension:tracker"]["windowingMode"]; got != "none" {
		t.Errorf("notebook windowingMode = %v, want none:\n%s", got, b)
	}
}
