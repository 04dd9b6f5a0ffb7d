#!/usr/bin/env bash
# Installs everything the test tiers need. Idempotent; caches live in $JHUB_CACHE, outside the clone.
set -euo pipefail
cd "$(dirname "$0")/.."
export JHUB_CACHE=${JHUB_CACHE:-/var/cache/jhub}
mkdir -p "$JHUB_CACHE"
for s in setup-cloudinit.sh install-pebble.sh install-testssl.sh setup-lab.sh; do
  if [ -f "scripts/$s" ]; then
    echo "== scripts/$s"
    bash "scripts/$s"
  fi
done
