// Package cloudinit renders the cloud-init user_data that boots a jhub droplet.
//
// DigitalOcean serves user_data to every process on the droplet through the
// metadata service (169.254.169.254), so the payload carries no secrets and no
// binaries: secrets and the edge binary travel over SSH later (jhub_edge).
// The one deliberate exception is the SSH host private key, see HostKey.
package cloudinit

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/classhub/terraform-provider-jhub/internal/fielderr"
)

// MaxUserData is DigitalOcean's limit on a droplet's user_data.
const MaxUserData = 64 * 1024

// MaxSwapMiB bounds SwapMiB: a swap file larger than this is a typo, not a plan.
const MaxSwapMiB = 64 * 1024

// Config is everything the payload depends on. Every field is validated; the
// rendered document is deterministic for a given Config, so a plan only shows
// a user_data change when an input really changed.
type Config struct {
	Hostname  string   // RFC 1123 host name (rendered lower-case); a dotted name also sets the FQDN
	AdminUser string   // created with sudo NOPASSWD, shell /bin/bash, lock_passwd true
	AdminKeys []string // authorized_keys lines for AdminUser (ssh_public_keys)
	// AccountKeys are more authorized_keys lines for AdminUser, those the
	// DigitalOcean account holds (ssh_key_fingerprints). With AdminKeys at
	// least one.
	AccountKeys []string
	HostKey     HostKey  // the droplet's only SSH host key, pinned by the provider
	SwapMiB     int      // 0 = no swap file
	Packages    []string // extra Debian packages (name or name=version)
	// HubInstall names how JupyterHub gets onto the machine; see HubInstallMethods.
	// "" means DefaultHubInstall.
	HubInstall string
	// AptMirror and AptSecurityMirror replace the image's apt sources ("" = image
	// default). The security suite lives in its own archive, so both are needed
	// together. Never a hard-coded public mirror: the lab derives them from the
	// host's apt sources at run time.
	AptMirror         string
	AptSecurityMirror string
	// ExtraCloudConfig is the user's escape hatch: a cloud-config YAML mapping
	// merged into the payload (maps deep-merged, lists appended). Keys the
	// provider owns (see OwnedKeys) and scalar conflicts are errors.
	ExtraCloudConfig string
}

// HostKey is the droplet's ed25519 SSH host key.
//
// Trade-off, accepted on purpose: the private half has to travel in user_data,
// because cloud-init's ssh_keys is the only way to have the key in place before
// sshd first starts, and that is what lets the provider's first SSH connection
// be verified instead of trusted on first use. user_data is readable through
// the metadata service, which is why the payload itself rejects every non-root
// uid from 169.254.169.254 (see files/ufw-before-output.rules) before any
// student code can run. No other private material is ever rendered.
type HostKey struct {
	Private string // OpenSSH PEM ("-----BEGIN OPENSSH PRIVATE KEY-----"), unencrypted
	Public  string // authorized_keys format ("ssh-ed25519 AAAA...")
}

// A problem is a *fielderr.Error at the jhub_droplet attribute that carries
// the field, so the provider reports it there without translating names.
// Fields the provider sets itself (HostKey, Packages, HubInstall) have no
// attribute: their errors carry an empty path and say which field it is.
var (
	atName              = fielderr.Root("name")
	atAdminUser         = fielderr.Root("admin_user")
	atAdminKeys         = fielderr.Root("ssh_public_keys")
	atAccountKeys       = fielderr.Root("ssh_key_fingerprints")
	atSwapMiB           = fielderr.Root("swap_mib")
	atAptMirror         = fielderr.Root("apt_mirror")
	atAptSecurityMirror = fielderr.Root("apt_security_mirror")
	atExtraCloudConfig  = fielderr.Root("extra_cloud_config")
)

// fieldErr builds one problem; msg never echoes secret input.
func fieldErr(at fielderr.Path, format string, args ...any) error {
	return &fielderr.Error{Path: at, Msg: fmt.Sprintf(format, args...)}
}

var (
	hostLabel   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	userName    = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)
	packageName = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+(=[A-Za-z0-9.+~:-]+)?$`)
)

// reservedUsers exist on a stock Debian 12 image (or are created by the
// packages this payload installs); reusing one would hand the admin's keys
// and sudo to a system account.
var reservedUsers = []string{
	"root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news",
	"uucp", "proxy", "www-data", "backup", "list", "irc", "gnats", "nobody",
	"messagebus", "sshd", "polkitd", "jupyterhub", "debian", "admin",
}

// Validate checks every field and returns a *fielderr.Error for the first problem.
func (c Config) Validate() error {
	if err := validateHostname(c.Hostname); err != nil {
		return err
	}
	if !userName.MatchString(c.AdminUser) {
		return fieldErr(atAdminUser, "%q is not a valid user name: use 1-32 characters, a lower-case letter first, then lower-case letters, digits, '_' or '-'", c.AdminUser)
	}
	if slices.Contains(reservedUsers, c.AdminUser) || strings.HasPrefix(c.AdminUser, "systemd-") || strings.HasPrefix(c.AdminUser, "_") {
		return fieldErr(atAdminUser, "%q is a system account on Debian; choose another name", c.AdminUser)
	}
	if len(c.AdminKeys)+len(c.AccountKeys) == 0 {
		return fieldErr(atAdminKeys, "at least one SSH public key is required, otherwise nobody can log in (password login is disabled)")
	}
	for i, k := range c.AdminKeys {
		if err := validateAuthorizedKey(k); err != nil {
			// The value is not echoed: a pasted private key must not reach logs.
			return fieldErr(atAdminKeys.Index(i), "%v; give one authorized_keys line such as \"ssh-ed25519 AAAA... comment\"", err)
		}
	}
	for _, k := range c.AccountKeys {
		if err := validateAuthorizedKey(k); err != nil {
			return fieldErr(atAccountKeys, "a key the account holds: %v; replace it in the DigitalOcean account", err)
		}
	}
	if err := c.HostKey.validate(); err != nil {
		return err
	}
	if c.SwapMiB < 0 || c.SwapMiB > MaxSwapMiB {
		return fieldErr(atSwapMiB, "%d is out of range: use 0 (no swap) up to %d", c.SwapMiB, MaxSwapMiB)
	}
	for i, p := range c.Packages {
		if !packageName.MatchString(p) {
			return fieldErr(nil, "Packages[%d]: %q is not a Debian package name (lower-case letters, digits, '+', '-', '.', optionally =version)", i, p)
		}
	}
	if _, err := c.hubInstaller(); err != nil {
		return err
	}
	if err := validateMirrors(c.AptMirror, c.AptSecurityMirror); err != nil {
		return err
	}
	_, err := parseExtra(c.ExtraCloudConfig)
	return err
}

func validateHostname(h string) error {
	if h == "" || len(h) > 253 {
		return fieldErr(atName, "must be 1-253 characters, got %d", len(h))
	}
	for _, label := range strings.Split(strings.ToLower(h), ".") {
		if !hostLabel.MatchString(label) {
			return fieldErr(atName, "%q is not a valid host name: dot-separated labels of 1-63 letters, digits and inner '-'", h)
		}
	}
	return nil
}

func validateAuthorizedKey(line string) error {
	if strings.ContainsAny(line, "\r\n") {
		return errors.New("must be a single line")
	}
	if strings.Contains(line, "PRIVATE KEY") {
		return errors.New("looks like a private key; give the public key (the .pub file)")
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line)); err != nil {
		return fmt.Errorf("not an SSH public key (%w)", err)
	}
	return nil
}

func (k HostKey) validate() error {
	if k.Private == "" || k.Public == "" {
		return fieldErr(nil, "HostKey: both halves are required; generate one with GenerateHostKey")
	}
	raw, err := ssh.ParseRawPrivateKey([]byte(k.Private))
	if err != nil {
		// err from x/crypto/ssh does not quote the key.
		return fieldErr(nil, "HostKey.Private: not an unencrypted OpenSSH private key (%v)", err)
	}
	priv, ok := raw.(*ed25519.PrivateKey)
	if !ok {
		return fieldErr(nil, "HostKey.Private: must be an ed25519 key, got %T", raw)
	}
	if strings.ContainsAny(k.Public, "\r\n") {
		return fieldErr(nil, "HostKey.Public: must be a single authorized_keys line")
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k.Public))
	if err != nil {
		return fieldErr(nil, "HostKey.Public: not an SSH public key (%v)", err)
	}
	want, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		return fieldErr(nil, "HostKey.Private: cannot derive the public key (%v)", err)
	}
	if pub.Type() != ssh.KeyAlgoED25519 || string(pub.Marshal()) != string(want.Marshal()) {
		return fieldErr(nil, "HostKey.Public: does not belong to HostKey.Private; regenerate both with GenerateHostKey")
	}
	return nil
}

func validateMirrors(primary, security string) error {
	if primary == "" && security == "" {
		return nil
	}
	if primary == "" || security == "" {
		return fieldErr(atAptSecurityMirror, "apt_mirror and apt_security_mirror are set together (the security suite is a separate archive, e.g. the debian-security URIs: line in /etc/apt/sources.list.d/*.sources)")
	}
	for _, m := range []struct {
		at  fielderr.Path
		uri string
	}{{atAptMirror, primary}, {atAptSecurityMirror, security}} {
		u, err := url.Parse(m.uri)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(m.uri, " \t\r\n\"'$`\\") {
			return fieldErr(m.at, "%q is not an http(s) URI such as http://mirror.example/debian", m.uri)
		}
	}
	return nil
}
