package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"
	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// Volumes: each one is a sparse image file under the slot's disk directory
// (it outlives droplets, as a volume does), attached as a loop device whose
// node appears inside the droplet at ondroplet.VolumeDevice(name). Snapshots are
// sparse copies of the image.

var _ dosim.VolumeBackend = (*Lab)(nil)

// attachment is a volume's loop device in a droplet.
type attachment struct {
	loop    string
	droplet int
	name    string
}

func (l *Lab) volumeFile(id string) string {
	return filepath.Join(l.slot.diskDir(), "volumes", id+".img")
}

func (l *Lab) snapshotFile(id string) string {
	return filepath.Join(l.slot.diskDir(), "snapshots", id+".img")
}

// CreateVolume makes the image: a copy of the snapshot, or blank, formatted
// when a filesystem is asked for.
func (l *Lab) CreateVolume(ctx context.Context, v dosim.VolumeSpec) error {
	f := l.volumeFile(v.ID)
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return fmt.Errorf("lab: volume %s: %w", v.Name, err)
	}
	if v.FromSnapshot != "" {
		if _, err := run(ctx, "cp", "--sparse=always", l.snapshotFile(v.FromSnapshot), f); err != nil {
			return fmt.Errorf("lab: volume %s from snapshot %s: %w", v.Name, v.FromSnapshot, err)
		}
	} else if err := os.WriteFile(f, nil, 0o600); err != nil {
		return fmt.Errorf("lab: volume %s: %w", v.Name, err)
	}
	if err := os.Truncate(f, int64(v.SizeGB)<<30); err != nil {
		return fmt.Errorf("lab: volume %s: %w", v.Name, err)
	}
	if v.FromSnapshot != "" || v.FilesystemType == "" {
		return nil
	}
	args := []string{"-q"}
	if v.FilesystemType == "ext4" {
		args = append(args, "-F")
	}
	if v.FilesystemLabel != "" {
		args = append(args, "-L", v.FilesystemLabel)
	}
	if _, err := run(ctx, "mkfs."+v.FilesystemType, append(args, f)...); err != nil {
		return fmt.Errorf("lab: volume %s: formatting %s: %w", v.Name, v.FilesystemType, err)
	}
	return nil
}

// AttachVolume sets the image up as a loop device and makes its node in
// the droplet's /dev under the volume's by-id name.
func (l *Lab) AttachVolume(ctx context.Context, volumeID, name string, dropletID int) error {
	d, err := l.lookup(dropletID)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	pid, err := containerInit(d.ns)
	if err != nil {
		return fmt.Errorf("lab: attaching volume %s to droplet %d: %w", name, dropletID, err)
	}
	out, err := run(ctx, "losetup", "--find", "--show", l.volumeFile(volumeID))
	if err != nil {
		return fmt.Errorf("lab: attaching volume %s: %w", name, err)
	}
	loop := strings.TrimSpace(out)
	var st unix.Stat_t
	if err := unix.Stat(loop, &st); err != nil {
		_, _ = run(ctx, "losetup", "-d", loop)
		return fmt.Errorf("lab: attaching volume %s: %w", name, err)
	}
	dev := ondroplet.VolumeDevice(name)
	mk := fmt.Sprintf("mkdir -p %s && rm -f %s && mknod -m 0660 %s b %d %d && chgrp disk %s",
		filepath.Dir(dev), dev, dev, unix.Major(st.Rdev), unix.Minor(st.Rdev), dev)
	if _, err := run(ctx, "nsenter", "-t", strconv.Itoa(pid), "-m", "--", "sh", "-c", mk); err != nil {
		_, _ = run(ctx, "losetup", "-d", loop)
		return fmt.Errorf("lab: attaching volume %s to droplet %d: %w", name, dropletID, err)
	}
	l.mu.Lock()
	if l.attached == nil {
		l.attached = map[string]*attachment{}
	}
	l.attached[volumeID] = &attachment{loop: loop, droplet: dropletID, name: name}
	l.mu.Unlock()
	return nil
}

// volumeGenerator is where a booting droplet finds bootGenerator's script:
// a systemd generator directory in the container's /run, not on its disk.
const volumeGenerator = "/run/systemd/system-generators/jhub-lab-volumes"

// bootGenerator writes, for a booting droplet, the systemd generator that
// stands in for what a droplet's kernel, udev and systemd-fstab-generator
// do at boot and a container lacks: the attached volumes' nodes appear
// under their by-id names before local filesystems are mounted, and each
// /etc/fstab line naming a volume device becomes a mount unit (in a
// container systemd-fstab-generator skips device lines: /sys is
// read-only). The rest of /etc/fstab (the bind mounts, their ordering,
// nofail) is systemd's own work. A line whose volume is not attached gets
// its unit too and fails as on a droplet (at once, not after the device
// timeout). fsck (fstab's pass number) is not run. It returns nspawn's
// argument that binds the script in. d.mu is held.
func (l *Lab) bootGenerator(d *droplet) (string, error) {
	l.mu.Lock()
	var nodes []string
	for _, a := range l.attached {
		if a.droplet != d.spec.ID {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(a.loop, &st); err != nil {
			l.mu.Unlock()
			return "", fmt.Errorf("lab: droplet %d: volume %s: %w", d.spec.ID, a.name, err)
		}
		nodes = append(nodes, fmt.Sprintf(" && mknod -m 0660 %[1]s b %[2]d %[3]d && chgrp disk %[1]s",
			ondroplet.VolumeDevice(a.name), unix.Major(st.Rdev), unix.Minor(st.Rdev)))
	}
	l.mu.Unlock()
	sort.Strings(nodes)
	script := fmt.Sprintf(`#!/bin/sh
# The jhub lab's stand-in for a droplet's udev and systemd-fstab-generator
# for its volumes (internal/lab/volumes.go, bootGenerator).
set -eu
out=$1
mkdir -p "$out/local-fs-pre.target.wants"
cat >"$out/jhub-lab-volumes.service" <<'UNIT'
[Unit]
Description=The droplet's volumes appear under /dev/disk/by-id (udev, on a droplet)
DefaultDependencies=no
Before=local-fs-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'mkdir -p %s%s'
UNIT
ln -sf ../jhub-lab-volumes.service "$out/local-fs-pre.target.wants/"
[ -r /etc/fstab ] || exit 0
while read -r what where type opts rest; do
	case $what in %s*) ;; *) continue ;; esac
	unit=$(systemd-escape -p --suffix=mount "$where")
	printf '[Unit]\nSourcePath=/etc/fstab\nAfter=jhub-lab-volumes.service\n\n[Mount]\nWhat=%%s\nWhere=%%s\nType=%%s\nOptions=%%s\n' "$what" "$where" "$type" "$opts" >"$out/$unit"
	case ,$opts, in *,nofail,*) dep=wants ;; *) dep=requires ;; esac
	mkdir -p "$out/local-fs.target.$dep"
	ln -sf "../$unit" "$out/local-fs.target.$dep/$unit"
done </etc/fstab
`, filepath.Dir(ondroplet.VolumeDevice("x")), strings.Join(nodes, ""), ondroplet.VolumeDevice(""))
	f := filepath.Join(d.dir, "volume-generator")
	if err := os.WriteFile(f, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("lab: droplet %d: %w", d.spec.ID, err)
	}
	return "--bind-ro=" + f + ":" + volumeGenerator, nil
}

// DetachVolume removes the node from the droplet and frees the loop device
// (the kernel frees a busy one once it is unmounted).
func (l *Lab) DetachVolume(ctx context.Context, volumeID, name string, dropletID int) error {
	l.mu.Lock()
	a := l.attached[volumeID]
	delete(l.attached, volumeID)
	l.mu.Unlock()
	if a == nil {
		return nil
	}
	var errs []error
	if d, err := l.lookup(dropletID); err == nil {
		d.mu.Lock()
		if pid, err := containerInit(d.ns); err == nil {
			if _, err := run(ctx, "nsenter", "-t", strconv.Itoa(pid), "-m", "--", "rm", "-f", ondroplet.VolumeDevice(name)); err != nil {
				errs = append(errs, err)
			}
		}
		d.mu.Unlock()
	}
	if _, err := run(ctx, "losetup", "-d", a.loop); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// releaseVolumes frees the loop devices of a droplet being destroyed:
// DigitalOcean detaches the volumes of a deleted droplet.
func (l *Lab) releaseVolumes(ctx context.Context, dropletID int) error {
	l.mu.Lock()
	var loops []string
	for id, a := range l.attached {
		if a.droplet == dropletID {
			loops = append(loops, a.loop)
			delete(l.attached, id)
		}
	}
	l.mu.Unlock()
	var errs []error
	for _, loop := range loops {
		if _, err := run(ctx, "losetup", "-d", loop); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ResizeVolume grows the image and tells an attached loop device.
func (l *Lab) ResizeVolume(ctx context.Context, volumeID string, sizeGB int) error {
	if err := os.Truncate(l.volumeFile(volumeID), int64(sizeGB)<<30); err != nil {
		return fmt.Errorf("lab: resizing volume %s: %w", volumeID, err)
	}
	l.mu.Lock()
	a := l.attached[volumeID]
	l.mu.Unlock()
	if a != nil {
		if _, err := run(ctx, "losetup", "-c", a.loop); err != nil {
			return fmt.Errorf("lab: resizing volume %s: %w", volumeID, err)
		}
	}
	return nil
}

// SnapshotVolume copies the image as it is (crash-consistent, as
// DigitalOcean's snapshot of an attached volume is).
func (l *Lab) SnapshotVolume(ctx context.Context, volumeID, snapshotID string) error {
	f := l.snapshotFile(snapshotID)
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return err
	}
	if _, err := run(ctx, "cp", "--sparse=always", l.volumeFile(volumeID), f); err != nil {
		return fmt.Errorf("lab: snapshot of volume %s: %w", volumeID, err)
	}
	return nil
}

// DeleteVolume removes the image.
func (l *Lab) DeleteVolume(_ context.Context, volumeID string) error {
	if err := os.Remove(l.volumeFile(volumeID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// DeleteSnapshot removes the snapshot's copy.
func (l *Lab) DeleteSnapshot(_ context.Context, snapshotID string) error {
	if err := os.Remove(l.snapshotFile(snapshotID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// containerInit finds the container's init (PID 1 in its own PID
// namespace) among the processes of the droplet's network namespace.
func containerInit(ns string) (int, error) {
	for _, pid := range netnsPIDs(ns) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(strings.TrimPrefix(line, "NSpid:"))
			if strings.HasPrefix(line, "NSpid:") && len(f) > 1 && f[len(f)-1] == "1" {
				return pid, nil
			}
		}
	}
	return 0, fmt.Errorf("no running container in namespace %s", ns)
}

// loopsUnder lists the loop devices whose backing file is below dir, for
// the janitor.
func loopsUnder(dir string) []string {
	var out []string
	ents, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, e := range ents {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		if f := strings.TrimSpace(string(b)); strings.HasPrefix(f, dir+"/") {
			out = append(out, "/dev/"+filepath.Base(filepath.Dir(filepath.Dir(e))))
		}
	}
	return out
}
