package cloudinit

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// OpenSSH's own sshd, reading the payload's drop-ins the way Debian's
// sshd_config includes them, admits only the admin user: a student's
// account is refused whatever keys it holds.
func TestSSHDAdmitsOnlyTheAdmin(t *testing.T) {
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		sshd = "/usr/sbin/sshd"
	}
	if _, err := os.Stat(sshd); err != nil {
		testkit.Need(t, "sshd", "apt-get install openssh-server")
	}
	c := fullConfig(t)
	files := writeFilesByPath(t, decode(t, mustRender(t, c)))
	dir := t.TempDir()
	key := filepath.Join(dir, "host_key")
	if err := os.WriteFile(key, []byte(c.HostKey.Private), 0o600); err != nil {
		t.Fatal(err)
	}
	var includes []string
	for _, p := range []string{sshdDropIn, sshdAllowFile} {
		f := files[p]
		if f == nil {
			t.Fatalf("no %s in write_files", p)
		}
		if f["permissions"] != "0644" || f["owner"] != "root:root" {
			t.Errorf("%s: %v %v", p, f["permissions"], f["owner"])
		}
		// The drop-in names the droplet's host key path; point it at the test key.
		content := strings.ReplaceAll(f["content"].(string), hostKeyFile, key)
		local := filepath.Join(dir, filepath.Base(p))
		if err := os.WriteFile(local, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		includes = append(includes, local)
	}
	// Debian's sshd_config starts with the Include of sshd_config.d.
	main := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(main, []byte("Include "+strings.Join(includes, " ")+"\nUsePAM yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sshd, "-T", "-f", main, "-C", "user=alice,host=client.example,addr=198.18.0.9").CombinedOutput()
	if err != nil {
		t.Fatalf("sshd -T: %v\n%s", err, out)
	}
	var allow []string
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "allowusers "); ok {
			allow = append(allow, v)
		}
	}
	if len(allow) != 1 || allow[0] != c.AdminUser {
		t.Errorf("sshd allows %q, want only %q", allow, c.AdminUser)
	}
	for _, want := range []string{"permitrootlogin no", "passwordauthentication no", "kbdinteractiveauthentication no"} {
		if !strings.Contains(string(out), "\n"+want+"\n") {
			t.Errorf("sshd -T lacks %q", want)
		}
	}
}
