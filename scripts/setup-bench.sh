#!/usr/bin/env bash
# Installs what bench/run.sh and the basicauth vector tests need: nginx, wrk,
# configurable-http-proxy and htpasswd from Debian, Caddy through the Go module
# proxy. Idempotent; run as root. Caches live outside the clone.
set -euo pipefail

CADDY_VERSION=v2.11.9
CACHE=${JHUB_CACHE:-/var/cache/jhub}
export PATH=$PATH:/usr/local/go/bin # Go's install location on these machines
mkdir -p "$CACHE/bin"

need=()
command -v nginx >/dev/null || need+=(nginx-light)
command -v wrk >/dev/null || need+=(wrk)
command -v configurable-http-proxy >/dev/null || need+=(node-configurable-http-proxy)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v openssl >/dev/null || need+=(openssl)
command -v taskset >/dev/null || need+=(util-linux)
if ((${#need[@]})); then
	export DEBIAN_FRONTEND=noninteractive
	# Other setup scripts may run apt at the same time: wait for the lock.
	apt-get -o DPkg::Lock::Timeout=600 update -q
	# --no-install-recommends keeps nginx from pulling in a running service set-up
	# we do not want; the Debian package still enables nginx.service, so stop it:
	# the benchmark starts its own nginx on loopback with its own config.
	apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need[@]}"
	if command -v systemctl >/dev/null && systemctl is-active --quiet nginx 2>/dev/null; then
		systemctl stop nginx || true
	fi
fi

caddy="$CACHE/bin/caddy"
# `caddy version` says "unknown" for go-installed builds; the build info has the
# version. Read whole before searching: grep -q exiting early could SIGPIPE go
# under pipefail and rebuild Caddy every time.
buildinfo=$( [[ -x $caddy ]] && go version -m "$caddy" 2>/dev/null || true)
if ! grep -Eq "^[[:space:]]+mod[[:space:]]+github.com/caddyserver/caddy/v2[[:space:]]+${CADDY_VERSION}[[:space:]]" <<<"$buildinfo"; then
	GOBIN="$CACHE/bin" CGO_ENABLED=0 go install "github.com/caddyserver/caddy/v2/cmd/caddy@${CADDY_VERSION}"
fi

echo "setup-bench: nginx=$(command -v nginx) wrk=$(command -v wrk) chp=$(command -v configurable-http-proxy) htpasswd=$(command -v htpasswd) caddy=$caddy"
