package hubconfig

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// UserNamePattern is the rule for every hub user name (allowed_users,
// admin_users): a lower-case letter, then up to 31 lower-case letters,
// digits, '-' or '_'. Each hub user runs as the Linux account of the same
// name, so the rule is also a safe Debian account name (useradd's default
// NAME_REGEX is wider) and a safe systemd unit name part. The hub checks it
// again on the droplet (JupyterHub's username_pattern and the spawner).
const UserNamePattern = `^[a-z][a-z0-9_-]{0,31}$`

var userNameRE = regexp.MustCompile(UserNamePattern)

// StudentsGroup marks the Linux accounts the hub created for its users.
// The hub spawns servers only as members of it, and never as an account
// that is not (root, system and service accounts, the droplet's admin).
const StudentsGroup = "jhub-students"

// ReservedUserNames can never be hub users: root, every Debian system
// account or group that can exist on a droplet (base system, the packages
// cloud-init and the hub install, DigitalOcean's images), the cloud
// images' default users, our own service accounts and group. A hub user of
// one of these names would log in as that account, or fail to get one.
// Names starting with "systemd-" (reservedUserPrefix) are reserved too;
// the droplet's admin user (Settings.AdminSSHUser) is added per hub.
var ReservedUserNames = []string{
	// Accounts of Debian's base-passwd and of the packages on a droplet.
	"root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy",
	"www-data", "backup", "list", "irc", "gnats", "nobody", "messagebus", "sshd", "polkitd",
	"tss", "uuidd", "tcpdump", "dnsmasq", "avahi", "ntp", "chrony", "statd", "usbmux", "dhcpcd",
	"syslog", "landscape", "pollinate", "lxd", "postfix", "exim", "mysql", "postgres", "redis",
	// Groups of base-passwd: a user of the same name cannot get its own group.
	"adm", "tty", "disk", "kmem", "dialout", "fax", "voice", "cdrom", "floppy", "tape", "sudo",
	"audio", "dip", "operator", "src", "shadow", "utmp", "video", "sasl", "plugdev", "staff",
	"users", "nogroup", "netdev", "input", "kvm", "render", "sgx", "crontab", "ssh", "wheel",
	"systemd", "admin",
	// Cloud images' default users.
	"debian", "ubuntu", "cloud-user",
	// Ours: the edge's service user, the hub's names and the students' group.
	ondroplet.EdgeUser, "jupyterhub", "jhub", "jupyter", StudentsGroup,
}

// reservedUserPrefix covers systemd's accounts (systemd-network,
// systemd-resolve, systemd-timesync, systemd-coredump, ...).
const reservedUserPrefix = "systemd-"

// CheckUserName says why name cannot be a hub user, or nil. adminSSHUser
// is the droplet's sudo admin (Settings.AdminSSHUser), "" if unknown. The
// error is a sentence without the attribute path; callers add it.
func CheckUserName(name, adminSSHUser string) error {
	switch {
	case !userNameRE.MatchString(name):
		return fmt.Errorf("%q is not a valid user name: use 1-32 characters, a lower-case letter first, then lower-case letters, digits, '-' or '_' (each hub user gets a Linux account of that name)", name)
	case name == adminSSHUser:
		return fmt.Errorf("%q is the droplet's admin user (ssh_user), who has sudo: a hub user of that name would run notebooks as the admin; give the teacher another hub name, for example %q", name, name+"-hub")
	case slices.Contains(ReservedUserNames, name) || strings.HasPrefix(name, reservedUserPrefix):
		return fmt.Errorf("%q is a system or service account on the droplet, not a student; choose another name", name)
	}
	return nil
}
