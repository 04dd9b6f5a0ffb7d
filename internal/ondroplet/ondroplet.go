// Package ondroplet is the layout of a hub droplet: where the release, the
// units and the services' state live, who owns them and with which modes.
// The renderer (hubconfig) writes files for these places and the installer
// puts them there; both import this one definition.
package ondroplet

import "os"

const (
	Root     = "/opt/jhub"           // releases/, current, previous; everything rendered lives below, but units
	Current  = Root + "/current"     // the active release; each release is staged under Releases and switched to
	Releases = Root + "/releases"    // one directory per release
	UnitDir  = "/etc/systemd/system" // where the units go (shadowing Debian's jupyterhub.service)

	// StudentPackages records, one per line, the Debian packages the
	// installer installed for students (and so may remove again).
	StudentPackages = Root + "/student-packages"

	EdgeUser     = "jhub-edge"           // system user the edge runs as; the installer creates it
	HubStateDir  = "/var/lib/jupyterhub" // the hub's working directory (database)
	EdgeStateDir = "/var/lib/jhub-edge"  // the edge's state: certificates and ACME account
	TLSDir       = EdgeStateDir + "/tls" // the edge's certificate storage (certs.Storage)

	CloudInitLogDir = "/var/log" // cloud-init.log, cloud-init-output.log

	CourseDir = "/srv/course" // the shared course directory (hubconfig sets its group and mode)

	// LabOverrides is where every student's JupyterLab (Debian's, whose
	// application directory is /usr/share/jupyter/lab) reads the class's
	// defaults for its settings: a namespaced file of the application's
	// settings/overrides.d, which Debian does not ship. The hub unit links
	// it to the current release's file at every start.
	LabOverrides = "/usr/share/jupyter/lab/settings/overrides.d/jhub.json"
)

// The class volume (jhub_edge's volume_name): what a rebuilt droplet must
// find again lives on it. It is mounted at VolumeDir; the services' state
// directories are bind mounts of directories on it (VolumeBinds), so their
// paths are the same with or without a volume; students' homes are created
// under VolumeHomes (not a bind over /home, which would hide the droplet
// admin's ~/.ssh and lock the provider out).
const (
	VolumeDir   = "/mnt/jhub"
	VolumeHomes = VolumeDir + "/home"
)

// VolumeBind is a directory on the volume and where it is bind-mounted.
type VolumeBind struct{ Source, Target string }

// VolumeBinds are the state directories that live on the volume: the hub's
// database, the edge's ACME account and certificates, the course directory.
var VolumeBinds = []VolumeBind{
	{VolumeDir + "/hub", HubStateDir},
	{VolumeDir + "/edge", EdgeStateDir},
	{VolumeDir + "/course", CourseDir},
}

// VolumeDevice is where DigitalOcean's udev rules put a volume on a droplet.
func VolumeDevice(name string) string { return "/dev/disk/by-id/scsi-0DO_Volume_" + name }

// Owners and modes.
const (
	RootUser = "root" // owner of everything but the edge's secrets and state

	FileMode      os.FileMode = 0o644 // a release's files and units
	ExecMode      os.FileMode = 0o755 // the edge binary
	SecretMode    os.FileMode = 0o600 // secrets, readable by their service's user only
	SecretDirMode os.FileMode = 0o700 // directories of secrets (the TLS storage)
)
