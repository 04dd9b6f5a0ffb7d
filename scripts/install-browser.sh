#!/usr/bin/env bash
# Installs Debian's Chromium and NSS's certutil for the real-browser lab
# test (TestLabBrowserStudents): headless Chromium trusts the lab's CA
# through an NSS database in a temporary HOME. Idempotent; run as root.
set -euo pipefail

if [[ ${EUID} -ne 0 ]]; then
	echo "install-browser.sh: run as root (it installs Debian packages)" >&2
	exit 1
fi
if command -v chromium >/dev/null 2>&1 && command -v certutil >/dev/null 2>&1; then
	echo "install-browser.sh: $(chromium --version 2>/dev/null) and certutil already installed"
	exit 0
fi
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium libnss3-tools
echo "install-browser.sh: $(chromium --version 2>/dev/null)"
