package dosim

import (
	"context"
	"net/netip"
	"time"
)

// MachineSpec is what a backend needs to boot a droplet.
type MachineSpec struct {
	ID                        int
	Name, Region, Size, Image string
	UserData                  string
	IPv4, IPv6                netip.Addr // IPv6 invalid unless ipv6 was asked for
	Tags                      []string
	SSHPublicKeys             []string // authorized_keys lines of the ssh_keys given at create
}

// Backend runs droplets. The simulator calls it from goroutines, one
// operation at a time per droplet; ctx ends when the droplet is deleted or
// the server closes. Create returns once the machine is booted: the
// droplet turns active then, or its create action errors if Create fails.
type Backend interface {
	Create(ctx context.Context, m MachineSpec) error
	PowerOff(ctx context.Context, id int) error
	PowerOn(ctx context.Context, id int) error
	Reboot(ctx context.Context, id int) error
	Destroy(ctx context.Context, id int) error
}

// VolumeSpec is what a backend needs to create a volume's storage.
type VolumeSpec struct {
	ID, Name                        string
	SizeGB                          int
	FilesystemType, FilesystemLabel string // "" = unformatted
	FromSnapshot                    string // snapshot ID to copy, "" = blank
}

// VolumeBackend gives volumes real storage; a Backend may implement it.
// Volumes outlive droplets: Destroy of a droplet releases its attachments'
// devices but never the volumes' data. Attach and Detach name the volume
// (its device appears as /dev/disk/by-id/scsi-0DO_Volume_<name>).
type VolumeBackend interface {
	CreateVolume(ctx context.Context, v VolumeSpec) error
	AttachVolume(ctx context.Context, volumeID, name string, dropletID int) error
	DetachVolume(ctx context.Context, volumeID, name string, dropletID int) error
	ResizeVolume(ctx context.Context, volumeID string, sizeGB int) error
	SnapshotVolume(ctx context.Context, volumeID, snapshotID string) error
	DeleteVolume(ctx context.Context, volumeID string) error
	DeleteSnapshot(ctx context.Context, snapshotID string) error
}

// sleepBackend is the default: every operation but Destroy takes d.
type sleepBackend struct{ d time.Duration }

func (b sleepBackend) wait(ctx context.Context) error {
	if b.d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(b.d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b sleepBackend) Create(ctx context.Context, _ MachineSpec) error { return b.wait(ctx) }
func (b sleepBackend) PowerOff(ctx context.Context, _ int) error       { return b.wait(ctx) }
func (b sleepBackend) PowerOn(ctx context.Context, _ int) error        { return b.wait(ctx) }
func (b sleepBackend) Reboot(ctx context.Context, _ int) error         { return b.wait(ctx) }
func (b sleepBackend) Destroy(context.Context, int) error              { return nil }
