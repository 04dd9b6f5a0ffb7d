#!/usr/bin/env bash
# setup-lab.sh: installs what the lab needs on the host and builds the droplet
# image (a Debian 12 root filesystem booted by systemd-nspawn).
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
suite=bookworm

# Packages debootstrap installs. debootstrap does not resolve virtual packages,
# hence python3-cffi-backend.
base_pkgs=systemd,systemd-sysv,dbus,openssh-server,ufw,iptables,iproute2,sudo,python3,python3-cffi-backend,cloud-init,ca-certificates,locales
# Packages apt installs afterwards (it resolves dependencies properly): the hub
# and every package the cloud-init payload lists (internal/cloudinit: its
# basePackages and the "debian" hub install method), plus curl for tests.
hub_pkgs="jupyterhub node-configurable-http-proxy python3-notebook jupyter-notebook unattended-upgrades curl"

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

# mirror_for SUITE prints the URI of the host's apt source that carries SUITE
# (never a hard-coded host: the lab uses whatever mirror this machine uses).
mirror_for() {
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
[ -n "$mirror" ] || { echo "setup-lab.sh: no apt source for suite $suite in /etc/apt/sources.list.d/*.sources (add a deb822 source with URIs: and Suites: $suite)" >&2; exit 1; }
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

{
	echo "deb $mirror $suite main"
	echo "deb $mirror $suite-updates main"
	[ -z "$security" ] || echo "deb $security $suite-security main"
} >"$root/etc/apt/sources.list"

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
for old in "$cache"/lab/image-*; do
	[ "$old" = "$image" ] || rm -rf "$old"
done
echo "setup-lab.sh: built $image in $(($(date +%s) - start))s"
