package installer

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// volumeWait is how long MountVolume waits for the volume's device: an
// attachment made in the same apply, and udev, take a few seconds.
const volumeWait = 3 * time.Minute

// fstabMark heads the lines MountVolume manages in /etc/fstab.
const fstabMark = "# jhub_edge: the class volume and its bind mounts (managed; edits are replaced)"

// MountVolume puts the hub's state on the class volume named name
// (ondroplet.VolumeDevice): it formats the volume as ext4 only when it
// holds no signature at all (never reformats), mounts it at
// ondroplet.VolumeDir and bind-mounts its directories over
// ondroplet.VolumeBinds' targets, all through /etc/fstab with nofail, so a
// reboot mounts them again and a missing volume does not stop the boot
// (the units' RequiresMountsFor keeps the hub from starting on an empty
// disk). A state directory that already holds data on the droplet's disk
// while its directory on the volume is new is copied onto the volume
// first, with units stopped. Another volume mounted there is unmounted
// first, with units stopped. Running it again changes nothing.
func (c *Client) MountVolume(ctx context.Context, name string, units []string) error {
	dev := ondroplet.VolumeDevice(name)
	fs, err := c.sh(ctx, probeScript(dev, int(volumeWait/time.Second)), nil)
	if err != nil {
		return fmt.Errorf("preparing volume %s (%s): %w", name, dev, err)
	}
	want, script, err := c.fstab(ctx, dev, strings.TrimSpace(string(fs)))
	if err != nil {
		return err
	}
	if _, err := c.sh(ctx, script+mountScript(dev, units), bytes.NewReader(want)); err != nil {
		return fmt.Errorf("mounting volume %s at %s: %w", name, ondroplet.VolumeDir, err)
	}
	return nil
}

// UnmountVolume stops units, unmounts the bind mounts and the volume, and
// drops them from /etc/fstab: the hub's state stays on the volume, which
// can then be detached cleanly. Running it again changes nothing.
func (c *Client) UnmountVolume(ctx context.Context, units []string) error {
	want, write, err := c.fstab(ctx, "", "")
	if err != nil {
		return err
	}
	script := unmountScript() + write
	if len(units) > 0 {
		script = "systemctl stop " + Command(units...) + " 2>/dev/null || true\n" + script
	}
	if _, err := c.sh(ctx, script, bytes.NewReader(want)); err != nil {
		return fmt.Errorf("unmounting the class volume from %s: %w", ondroplet.VolumeDir, err)
	}
	return nil
}

// fstab reads /etc/fstab and returns it as fstabWith(dev, fs) has it, with
// the script that writes it from stdin and reloads systemd's view of it
// ("" when the file already says so).
func (c *Client) fstab(ctx context.Context, dev, fs string) ([]byte, string, error) {
	f := quote(c.p("/etc/fstab"))
	old, err := c.sh(ctx, "cat "+f+" 2>/dev/null || true", nil)
	if err != nil {
		return nil, "", fmt.Errorf("reading /etc/fstab: %w", err)
	}
	want := fstabWith(old, dev, fs)
	if bytes.Equal(old, want) {
		return want, "", nil
	}
	return want, "cat > " + f + ".jhub-new && chmod 644 " + f + ".jhub-new && mv -f " + f + ".jhub-new " + f + "\nsystemctl daemon-reload\n", nil
}

// probeScript waits for dev, formats it when blkid finds no signature on
// it (exit status 2), and prints its filesystem type. A device holding
// anything but a filesystem (a partition table) is refused, not formatted.
func probeScript(dev string, waitSeconds int) string {
	d := quote(dev)
	return fmt.Sprintf(`i=0
while [ ! -e %[1]s ]; do
	i=$((i+1))
	if [ "$i" -gt %[2]d ]; then echo "%[1]s did not appear within %[2]d s: attach the volume to this droplet (jhub_volume_attachment, which jhub_edge should depend_on)" >&2; exit 3; fi
	sleep 1
done
set +e; info=$(blkid -p -o export %[1]s); rc=$?; set -e
case $rc in
0)
	fs=$(printf '%%s\n' "$info" | sed -n 's/^TYPE=//p')
	if [ -z "$fs" ]; then echo "%[1]s holds no filesystem but something else (${info}); refusing to format it: give jhub_edge a blank or ext4 volume" >&2; exit 3; fi ;;
2)
	command -v mkfs.ext4 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q e2fsprogs >&2
	mkfs.ext4 -q %[1]s >&2
	fs=ext4 ;;
*)
	echo "blkid -p %[1]s failed with status $rc" >&2; exit 3 ;;
esac
echo "$fs"
`, d, waitSeconds)
}

// fstabWith is old without the lines MountVolume manages, plus (when dev
// is not "") the volume's line and its bind mounts.
func fstabWith(old []byte, dev, fs string) []byte {
	managed := map[string]bool{ondroplet.VolumeDir: true}
	for _, b := range ondroplet.VolumeBinds {
		managed[b.Target] = true
	}
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(old), "\n") {
		fields := strings.Fields(line)
		if line == "" || strings.TrimSpace(line) == fstabMark || (len(fields) > 1 && !strings.HasPrefix(fields[0], "#") && managed[fields[1]]) {
			continue
		}
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteString("\n")
		}
	}
	if dev == "" {
		return out.Bytes()
	}
	out.WriteString(fstabMark + "\n")
	fmt.Fprintf(&out, "%s %s %s defaults,nofail,noatime,discard 0 2\n", dev, ondroplet.VolumeDir, fs)
	for _, b := range ondroplet.VolumeBinds {
		fmt.Fprintf(&out, "%s %s none bind,nofail,x-systemd.requires-mounts-for=%s 0 0\n", b.Source, b.Target, ondroplet.VolumeDir)
	}
	return out.Bytes()
}

// unmountScript unmounts the bind mounts, then the volume.
func unmountScript() string {
	var b strings.Builder
	for _, bind := range ondroplet.VolumeBinds {
		fmt.Fprintf(&b, "if mountpoint -q %[1]s; then umount %[1]s; fi\n", quote(bind.Target))
	}
	fmt.Fprintf(&b, "if mountpoint -q %[1]s; then umount %[1]s; fi\n", quote(ondroplet.VolumeDir))
	return b.String()
}

// mountScript mounts the volume (after unmounting another one found
// there), makes its directories, moves state that exists only on the
// droplet's disk onto it, and mounts the binds. Units are stopped only
// when something they use is about to move.
func mountScript(dev string, units []string) string {
	var b strings.Builder
	v := quote(ondroplet.VolumeDir)
	stop := "true"
	if len(units) > 0 {
		stop = "systemctl stop " + Command(units...) + " 2>/dev/null || true"
	}
	fmt.Fprintf(&b, `stopped=
stop() { if [ -z "$stopped" ]; then %s; stopped=1; fi; }
mkdir -p %s
if mountpoint -q %[2]s && [ "$(mountpoint -d %[2]s)" != "$(mountpoint -x %[3]s)" ]; then
	stop
	%s
fi
mountpoint -q %[2]s || mount %[2]s
chmod 755 %[2]s
install -d -m 755 %[5]s
`, stop, v, quote(dev), strings.ReplaceAll(strings.TrimSpace(unmountScript()), "\n", "\n\t"), quote(ondroplet.VolumeHomes))
	for _, bind := range ondroplet.VolumeBinds {
		fmt.Fprintf(&b, `if [ ! -d %[1]s ]; then
	install -d -m 700 %[1]s
	if ! mountpoint -q %[2]s && [ -n "$(ls -A %[2]s 2>/dev/null)" ]; then stop; cp -a %[2]s/. %[1]s/; fi
fi
mkdir -p %[2]s
mountpoint -q %[2]s || mount %[2]s
`, quote(bind.Source), quote(bind.Target))
	}
	return b.String()
}
