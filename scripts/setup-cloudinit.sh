#!/usr/bin/env bash
# Installs Debian's cloud-init so the internal/cloudinit tests can run the real
# `cloud-init schema` (and its apt module) against every rendered payload, ufw
# (with iproute2 and curl) so they can run the payload's firewall commands in
# private namespaces, and openssh-client so ssh-keygen can read the host key.
# Idempotent; run as root.
#
# Installing cloud-init on a build host must not make the host itself start
# being configured by cloud-init, so this script:
#   - refuses service starts during the install (policy-rc.d, only when one is
#     not already present and only for the duration of the install),
#   - writes /etc/cloud/cloud-init.disabled when it installed the package, which
#     makes cloud-init's systemd generator skip every stage at the next boot,
#   - preseeds ufw/enable=false, so the host's own firewall stays as it is (the
#     tests only ever run ufw inside a namespace of their own).
# A host that already had cloud-init is left exactly as it was.
set -euo pipefail

if [[ ${EUID} -ne 0 ]]; then
	echo "setup-cloudinit.sh: run as root (it installs the cloud-init package)" >&2
	exit 1
fi

if command -v cloud-init >/dev/null 2>&1 && cloud-init schema --help >/dev/null 2>&1 && [[ -x /usr/sbin/ufw && -x /usr/bin/ssh-keygen && -x /usr/bin/curl && -x /usr/sbin/ip ]]; then
	echo "setup-cloudinit.sh: $(cloud-init --version 2>&1), ufw, ssh-keygen, curl and ip already installed"
	exit 0
fi

# installed PKG: whether dpkg has PKG installed (output read whole: no
# early-exiting reader in a pipe under pipefail).
installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == 'install ok installed' ]]; }

policy=/usr/sbin/policy-rc.d
made_policy=""
if [[ ! -e ${policy} ]]; then
	printf '#!/bin/sh\n# temporary, from scripts/setup-cloudinit.sh\nexit 101\n' >"${policy}"
	chmod 0755 "${policy}"
	made_policy=1
fi
cleanup() { if [[ -n ${made_policy} ]]; then rm -f "${policy}"; fi; }
trap cleanup EXIT

# Only a host that did not have cloud-init gets it disabled; one that already
# relies on it (installed but somehow broken) is repaired, not switched off.
# Disabled before installing so not even a postinst-triggered run can act.
if ! installed cloud-init; then
	mkdir -p /etc/cloud
	touch /etc/cloud/cloud-init.disabled
fi

export DEBIAN_FRONTEND=noninteractive
if ! installed ufw; then
	echo 'ufw ufw/enable boolean false' | debconf-set-selections
fi
# A fresh machine may be running its first apt-daily: wait for the lock.
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends cloud-init ufw iptables iproute2 curl openssh-client >/dev/null

cloud-init schema --help >/dev/null
ufw_version=$(ufw version)
echo "setup-cloudinit.sh: installed $(cloud-init --version 2>&1) and ${ufw_version%%$'\n'*}"
