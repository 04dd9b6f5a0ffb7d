#!/usr/bin/env bash
# setup-installer-tests.sh: installs what internal/installer's tests need on
# the host: OpenSSH's sshd (the tests start their own on 127.0.0.1 with a
# test host key; the package's own service is never started here), tar,
# useradd and python3 (a validator in the tests). Idempotent; run as root.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "setup-installer-tests.sh: run as root (it installs packages)" >&2; exit 1; }

pkgs="openssh-server tar passwd coreutils python3"
missing=""
for p in $pkgs; do
	# Read whole, then compared: no early-exiting reader in a pipe under pipefail.
	[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" = "install ok installed" ] || missing="$missing $p"
done
if [ -n "$missing" ]; then
	# A fresh machine may be running its first apt-daily: wait for the lock.
	apt-get -o DPkg::Lock::Timeout=600 update -qq
	# A policy-rc.d that denies starts keeps the package from starting a
	# system-wide sshd on :22; ours is removed again, an existing one kept.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod +x /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing
fi
mkdir -p /run/sshd
/usr/sbin/sshd -V 2>&1
