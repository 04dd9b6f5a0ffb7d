package installer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// The volume's fstab lines replace earlier ones (also hand-edited ones for
// the same mount points), leave the rest alone, and go again on removal.
func TestFstabWith(t *testing.T) {
	base := "# /etc/fstab\nUUID=abc / ext4 errors=remount-ro 0 1\n"
	dev := ondroplet.VolumeDevice("cs101-home")
	got := string(fstabWith([]byte(base), dev, "ext4"))
	want := base + fstabMark + "\n" +
		dev + " " + ondroplet.VolumeDir + " ext4 defaults,nofail,noatime,discard 0 2\n" +
		ondroplet.VolumeDir + "/hub " + ondroplet.HubStateDir + " none bind,nofail,x-systemd.requires-mounts-for=" + ondroplet.VolumeDir + " 0 0\n" +
		ondroplet.VolumeDir + "/edge " + ondroplet.EdgeStateDir + " none bind,nofail,x-systemd.requires-mounts-for=" + ondroplet.VolumeDir + " 0 0\n" +
		ondroplet.VolumeDir + "/course " + ondroplet.CourseDir + " none bind,nofail,x-systemd.requires-mounts-for=" + ondroplet.VolumeDir + " 0 0\n"
	if got != want {
		t.Fatalf("fstab:\n%s\nwant:\n%s", got, want)
	}
	if again := string(fstabWith([]byte(got), dev, "ext4")); again != got {
		t.Errorf("not idempotent:\n%s", again)
	}
	// Another volume (or a hand-made line for the same mount point) is replaced.
	edited := strings.Replace(got, "defaults,nofail", "defaults", 1) + "/dev/sdb " + ondroplet.VolumeDir + " xfs defaults 0 0"
	other := ondroplet.VolumeDevice("cs101-spring")
	if g := string(fstabWith([]byte(edited), other, "xfs")); strings.Count(g, " "+ondroplet.VolumeDir+" ") != 1 || !strings.Contains(g, other+" "+ondroplet.VolumeDir+" xfs ") || strings.Contains(g, dev) {
		t.Errorf("switching volumes:\n%s", g)
	}
	if g := string(fstabWith([]byte(got), "", "")); g != base {
		t.Errorf("after removal:\n%s\nwant:\n%s", g, base)
	}
	// A file without a final newline keeps its last line.
	if g := string(fstabWith([]byte(strings.TrimSuffix(base, "\n")), "", "")); g != base {
		t.Errorf("no final newline: %q", g)
	}
}

// The scripts are valid sh (what `sh -n` accepts), with and without units.
func TestVolumeScriptsParse(t *testing.T) {
	for _, s := range []string{probeScript(ondroplet.VolumeDevice("v"), 5), mountScript(ondroplet.VolumeDevice("v"), nil),
		mountScript(ondroplet.VolumeDevice("v"), []string{"jupyterhub.service", "jhub-edge.service"}), unmountScript()} {
		if out, err := exec.Command("sh", "-n", "-c", s).CombinedOutput(); err != nil {
			t.Errorf("sh -n: %v\n%s\n%s", err, out, s)
		}
	}
}

// A volume is formatted only when blkid finds no signature at all; one
// with a filesystem keeps it, one with anything else is refused.
func TestProbeFormatsOnlyBlankVolumes(t *testing.T) {
	for _, tc := range []struct {
		name, blkid string // the stub's output and exit status
		wantFS      string
		wantMkfs    bool
		wantErr     string
	}{
		{name: "blank", blkid: "exit 2", wantFS: "ext4", wantMkfs: true},
		{name: "ext4", blkid: "echo DEVNAME=$3; echo TYPE=ext4; echo USAGE=filesystem", wantFS: "ext4"},
		{name: "xfs", blkid: "echo TYPE=xfs", wantFS: "xfs"},
		{name: "partitioned", blkid: "echo PTTYPE=gpt", wantErr: "refusing to format"},
		{name: "blkid fails", blkid: "exit 4", wantErr: "failed with status 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			dev := filepath.Join(dir, "scsi-0DO_Volume_v")
			mkfsLog := filepath.Join(dir, "mkfs.log")
			for name, body := range map[string]string{
				"blkid":     tc.blkid,
				"mkfs.ext4": "echo \"$@\" >> " + mkfsLog,
				"apt-get":   "echo apt-get must not run here >&2; exit 1",
			} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(dev, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("sh", "-ec", probeScript(dev, 2))
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
			out, err := cmd.Output()
			mkfs, _ := os.ReadFile(mkfsLog)
			if tc.wantErr != "" {
				var ee *exec.ExitError
				if err == nil || !errors.As(err, &ee) || !strings.Contains(string(ee.Stderr), tc.wantErr) {
					t.Fatalf("want an error with %q, got %v, %s", tc.wantErr, err, out)
				}
			} else if err != nil || strings.TrimSpace(string(out)) != tc.wantFS {
				t.Fatalf("printed %q (%v), want %q", out, err, tc.wantFS)
			}
			if got := len(mkfs) > 0; got != tc.wantMkfs {
				t.Errorf("mkfs.ext4 ran: %v (%q), want %v", got, mkfs, tc.wantMkfs)
			}
		})
	}
	// A device that never appears is reported with the fix.
	cmd := exec.Command("sh", "-ec", probeScript(filepath.Join(t.TempDir(), "missing"), 1))
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "jhub_volume_attachment") {
		t.Errorf("missing device: %v, %s", err, out)
	}
}
