#!/usr/bin/env bash
# Installs everything the test tiers need. Idempotent; caches live in
# $JHUB_CACHE (default /var/cache/jhub), outside the clone.
set -euo pipefail
cd "$(dirname "$0")/.."
export JHUB_CACHE=${JHUB_CACHE:-/var/cache/jhub}
mkdir -p "$JHUB_CACHE"
# cloud-init and ufw for `cloud-init schema` and the firewall tests; Pebble;
# testssl.sh 3.2; sshd for the installer; Chromium for the browser test; the
# lab's Debian image (last: it uses Pebble and takes longest).
for s in setup-cloudinit.sh install-pebble.sh install-testssl.sh setup-installer-tests.sh install-browser.sh setup-lab.sh; do
  echo "== scripts/$s"
  bash "scripts/$s"
done
