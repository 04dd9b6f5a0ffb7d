package hubconfig

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// What a git-pull link may name (testdata/test_jhub_gitpull.py): the
// repository's scheme and place, targetpath below the root and out of
// hidden folders and symbolic links, urlpath on the server. The lab runs
// the same file against the image's real jupyter-server (TestLabHubClasses).
func TestGitPullChecks(t *testing.T) {
	py := needPython(t)
	if _, err := exec.LookPath("git"); err != nil {
		testkit.Need(t, "git", "apt-get install git")
	}
	release := t.TempDir()
	if err := os.WriteFile(filepath.Join(release, gitPullName), gitPullPy, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-B", "testdata/test_jhub_gitpull.py", release)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "\nOK") {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "Ran ") {
			t.Log(line)
		}
	}
}
