#!/usr/bin/env bash
# Installs Pebble (Let's Encrypt's test ACME CA) and pebble-challtestsrv from the Go
# module proxy into ${JHUB_CACHE:-/var/cache/jhub}/bin, plus Pebble's own test
# certificates (its HTTPS listener cert and the minica root that signs it) into
# ${JHUB_CACHE}/pebble. Idempotent: does nothing when the pinned version is present.
set -euo pipefail

PEBBLE_VERSION=v2.10.1
CACHE=${JHUB_CACHE:-/var/cache/jhub}
BIN=$CACHE/bin
CERTS=$CACHE/pebble
STAMP=$CACHE/pebble/VERSION

if [[ -x $BIN/pebble && -x $BIN/pebble-challtestsrv && -f $CERTS/pebble.minica.pem \
      && -f $STAMP && $(cat "$STAMP") == "$PEBBLE_VERSION" ]]; then
  echo "pebble $PEBBLE_VERSION already installed in $BIN"
  exit 0
fi

command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
mkdir -p "$BIN" "$CERTS"
# Outside any module so the project's go.mod is never read or changed.
cd "$CACHE"
GOBIN=$BIN go install "github.com/letsencrypt/pebble/v2/cmd/pebble@$PEBBLE_VERSION"
GOBIN=$BIN go install "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$PEBBLE_VERSION"

# The module cache holds the source; its test/certs are what pebble's own docs use.
SRC=$(go env GOMODCACHE)/github.com/letsencrypt/pebble/v2@$PEBBLE_VERSION/test/certs
install -m 0644 "$SRC/pebble.minica.pem" "$CERTS/pebble.minica.pem"
install -m 0644 "$SRC/localhost/cert.pem" "$CERTS/localhost-cert.pem"
# Pebble's published test key, not a secret: readable so tests run without root.
install -m 0644 "$SRC/localhost/key.pem" "$CERTS/localhost-key.pem"
echo "$PEBBLE_VERSION" >"$STAMP"
echo "installed pebble $PEBBLE_VERSION in $BIN, certs in $CERTS"
