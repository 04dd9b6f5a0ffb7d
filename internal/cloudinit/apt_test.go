package cloudinit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// aptSourcesPy renders /etc/apt/sources.list from a payload with cloud-init's
// own apt module (mirror lookup, template, disable_suites), capturing the
// file instead of writing it.
const aptSourcesPy = `import sys, yaml
from cloudinit.config import cc_apt_configure as apt
cfg = apt.convert_to_v3_apt_format(yaml.safe_load(open(sys.argv[1])))["apt"]
mirrors = apt.find_apt_mirror_info(cfg, None, arch="amd64")
written = {}
apt.util.write_file = lambda path, content, **kw: written.__setitem__(path, content)
apt.generate_sources_list(cfg, "bookworm", mirrors, None)
sys.stdout.write(written["/etc/apt/sources.list"])
`

func TestAptSourcesRenderedByCloudInit(t *testing.T) {
	needTool(t, "cloud-init")
	payload := filepath.Join(t.TempDir(), "user-data")
	if err := os.WriteFile(payload, mustRender(t, fullConfig(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("/usr/bin/python3", "-c", aptSourcesPy, payload).CombinedOutput()
	if err != nil {
		t.Fatalf("cloud-init's apt module: %v\n%s", err, out)
	}
	var debs []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "deb") {
			debs = append(debs, l)
		}
	}
	want := []string{
		"deb http://mirror.lab.test/debian bookworm main",
		"deb http://mirror.lab.test/debian bookworm-updates main",
		"deb http://mirror.lab.test/debian-security bookworm-security main",
	}
	if strings.Join(debs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("sources.list from cloud-init:\n%s\nwant exactly:\n%s", out, strings.Join(want, "\n"))
	}
}
