#!/usr/bin/env bash
# setup-lab.sh: installs what the lab needs on the host and builds the droplet
# image (a Debian 13 "trixie" root filesystem booted by systemd-nspawn, what a
# DigitalOcean debian-13-x64 droplet plus the cloud-init payload holds).
#
# Idempotent; run as root. The image is cached outside the clone in
# ${JHUB_CACHE:-/var/cache/jhub}/lab/image-<recipe hash>, where the hash is the
# sha256 of this file: editing the recipe (or the package lists below) builds a
# new image, an unchanged recipe reuses the cached one. internal/lab computes the
# same hash to find the image.
#
# Packages: the droplet has no route out, so everything the cloud-init payload
# installs (internal/cloudinit) is pre-installed here; cloud-init's package step
# is then a no-op that the lab tests prove ends "done".
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "setup-lab.sh: run as root (it installs packages and builds an image)" >&2; exit 1; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${JHUB_CACHE:-/var/cache/jhub}
suite=trixie

# Packages debootstrap installs. debootstrap does not resolve virtual packages,
# hence python3-cffi-backend.
base_pkgs=systemd,systemd-sysv,dbus,openssh-server,ufw,iptables,iproute2,sudo,python3,python3-cffi-backend,cloud-init,ca-certificates,locales
# Packages apt installs afterwards (it resolves dependencies properly): the hub
# (JupyterHub 5 spawning JupyterLab on jupyter-server, nbgitpuller) and every
# package the cloud-init payload lists (internal/cloudinit: its basePackages
# and the "debian" hub install method), plus curl for tests.
hub_pkgs="jupyterhub jupyterlab python3-jupyter-server python3-nbgitpuller node-configurable-http-proxy unattended-upgrades curl"

host_pkgs="debootstrap systemd-container iproute2 iptables zstd ca-certificates"

missing=""
for p in $host_pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing
fi

# Pebble and its test certificates (another script owns them).
if [ -f "$here/install-pebble.sh" ]; then
	bash "$here/install-pebble.sh"
else
	echo "setup-lab.sh: scripts/install-pebble.sh missing; the lab's ACME part will not start" >&2
fi

# source_for SUITE prints the URI of the host's apt source that carries SUITE
# (never a hard-coded host: the lab uses whatever mirror this machine uses).
source_for() {
	awk -v s="$1" 'BEGIN { RS = ""; FS = "\n" }
	{
		uri = ""; ok = 0
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); uri = a[2] }
			if ($i ~ /^Suites:/) { n = split($i, b, /[ \t]+/); for (j = 2; j <= n; j++) if (b[j] == s) ok = 1 }
		}
		if (ok && uri != "") { print uri; exit }
	}' /etc/apt/sources.list.d/*.sources 2>/dev/null
}
# The host may run another release (bookworm here): Debian serves every release
# from one archive, so the source that carries the host's own suite (or its
# -security suite) serves the image's too.
host_suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
mirror_for() {
	local uri
	uri=$(source_for "$1")
	[ -n "$uri" ] || [ -z "$host_suite" ] || uri=$(source_for "${1/#$suite/$host_suite}")
	echo "$uri"
}

hash=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
image="$cache/lab/image-$hash"
mkdir -p "$cache/lab"
# One build at a time; a second run waits and then finds the image built.
exec 9>"$cache/lab/.build.lock"
flock 9
if [ -f "$image/etc/jhub-lab-recipe" ]; then
	echo "setup-lab.sh: image up to date: $image"
	exit 0
fi

mirror=$(mirror_for "$suite")
[ -n "$mirror" ] || { echo "setup-lab.sh: no apt source for suite $suite or $host_suite in /etc/apt/sources.list.d/*.sources (add a deb822 source with URIs: and Suites: $suite)" >&2; exit 1; }
security=$(mirror_for "$suite-security")

work=$(mktemp -d "$cache/lab/.build-XXXXXX")
root="$work/root"
cleanup() {
	for m in "$root/proc" "$root/sys"; do mountpoint -q "$m" && umount -l "$m"; done
	rm -rf "$work"
}
trap cleanup EXIT

start=$(date +%s)
echo "setup-lab.sh: building image $hash from $mirror (takes a few minutes)"
debootstrap --variant=minbase --include="$base_pkgs" "$suite" "$root" "$mirror"

# deb822, as on DigitalOcean's debian-13 image and as cloud-init 25 writes it.
rm -f "$root/etc/apt/sources.list"
{
	printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$mirror" "$suite" "$suite"
	[ -z "$security" ] || printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$security" "$suite"
} >"$root/etc/apt/sources.list.d/debian.sources"

mount -t proc proc "$root/proc"
mount -t sysfs sys "$root/sys"
# No service may start inside the build chroot.
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
# The build is thrown away if interrupted, so dpkg's fsyncs buy nothing.
echo 'force-unsafe-io' >"$root/etc/dpkg/dpkg.cfg.d/jhub-lab-build"
chroot "$root" apt-get update -qq
# Without recommends, as the payload installs them on a real droplet.
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get install -y -qq --no-install-recommends $hub_pkgs
DEBIAN_FRONTEND=noninteractive chroot "$root" apt-get upgrade -y -qq
chroot "$root" apt-get clean
rm -f "$root/usr/sbin/policy-rc.d" "$root/etc/dpkg/dpkg.cfg.d/jhub-lab-build"

# cloud-init's locale module fails without a generated locale.
echo "en_US.UTF-8 UTF-8" >"$root/etc/locale.gen"
chroot "$root" locale-gen
chroot "$root" update-locale LANG=en_US.UTF-8
# The hub must run as installed: JupyterHub, and single-user servers that are
# JupyterLab on jupyter-server.
chroot "$root" jupyterhub --version
chroot "$root" python3 -c 'import jupyterlab, jupyter_server, nbgitpuller; print("jupyterlab", jupyterlab.__version__, "jupyter_server", jupyter_server.__version__)'
chroot "$root" jupyterhub-singleuser --help-all >"$work/singleuser-help"
grep -q 'ServerApp' "$work/singleuser-help" || { echo "setup-lab.sh: jupyterhub-singleuser does not run on jupyter-server" >&2; exit 1; }
umount "$root/proc" "$root/sys"

# Every boot is a first boot of a new machine: fresh machine-id, host keys from
# cloud-init (the payload carries the droplet's pinned host key).
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_*
rm -f "$root/etc/resolv.conf"
cat >"$root/etc/cloud/cloud.cfg.d/90-jhub-lab.cfg" <<'EOF'
# The lab configures the network from outside the container (the droplet's
# network namespace); the user-data arrives as a NoCloud seed.
network: {config: disabled}
datasource_list: [NoCloud, None]
# As on DigitalOcean's images: the droplet's name resolves locally (sudo and
# JupyterHub look it up).
manage_etc_hosts: true
EOF
echo "$hash" >"$root/etc/jhub-lab-recipe"

# Atomic publish: a half-built image is never visible under its final name.
mv -T "$root" "$image"
touch "$image.used"
# Other checkouts (branches with another recipe) may still boot older images:
# only those neither built nor used by a lab for a week go (internal/lab
# touches image-*.used, beside the image: overlays use it as their lower layer).
for old in "$cache"/lab/image-*/; do
	old=${old%/}
	[ "$old" != "$image" ] || continue
	[ -z "$(find "$old.used" "$old/etc/jhub-lab-recipe" -mtime -7 2>/dev/null)" ] || continue
	rm -rf "$old" "$old.used"
done
echo "setup-lab.sh: built $image in $(($(date +%s) - start))s"
