package cloudinit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// aptSourcesPy renders the apt sources from a payload with cloud-init's own
// apt module (mirror lookup, template, disable_suites), capturing the file
// instead of writing it: its path, a NUL, its content.
const aptSourcesPy = `import sys, yaml
from cloudinit.config import cc_apt_configure as apt
cfg = apt.convert_to_v3_apt_format(yaml.safe_load(open(sys.argv[1])))["apt"]
mirrors = apt.find_apt_mirror_info(cfg, None, arch="amd64")
written = {}
apt.util.write_file = lambda path, content, **kw: written.__setitem__(path, content)
apt.generate_sources_list(cfg, "trixie", mirrors, None)
(path, content), = written.items()
sys.stdout.write(path + "\0" + content)
`

// TestAptSourcesRenderedByCloudInit: the payload's sources are deb822, with
// exactly the configured mirrors. The cloud-init on trixie writes them over
// the image's /etc/apt/sources.list.d/debian.sources (the lab test checks
// that in a droplet); an older cloud-init on the test machine may write them
// elsewhere, so only the content is checked here.
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
	_, content, _ := strings.Cut(string(out), "\x00")
	var fields []string
	for _, l := range strings.Split(content, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			fields = append(fields, l)
		}
	}
	want := []string{
		"Types: deb", "URIs: http://mirror.lab.test/debian", "Suites: trixie trixie-updates", "Components: main",
		"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
		"Types: deb", "URIs: http://mirror.lab.test/debian-security", "Suites: trixie-security", "Components: main",
		"Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg",
	}
	if strings.Join(fields, "\n") != strings.Join(want, "\n") {
		t.Fatalf("apt sources from cloud-init:\n%s\nwant exactly:\n%s", content, strings.Join(want, "\n"))
	}
}
