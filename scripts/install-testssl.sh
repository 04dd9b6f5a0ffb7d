#!/usr/bin/env bash
# Installs testssl.sh 3.2 from Debian bookworm-backports (bookworm's own 3.0.8 has no
# rating). The mirror URI comes from this machine's apt sources, never from the project.
# Idempotent: does nothing when a testssl.sh 3.2 is already installed.
set -euo pipefail

installed=$(dpkg-query -W -f='${Version}' testssl.sh 2>/dev/null || true)
if [[ $installed == 3.2* ]]; then
  echo "testssl.sh $installed already installed"
  exit 0
fi

LIST=/etc/apt/sources.list.d/jhub-bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  # The main Debian entry is the one whose suites include plain "bookworm".
  # Stanzas end at a blank line or at the end of a file; the first match is
  # printed once (END also runs after exit, hence the flag), with no pipe.
  URI=$(awk '
    function check() { if (main && uri && !done) { print uri; done = 1; exit } uri = ""; main = 0 }
    FNR == 1   { check() }
    /^URIs:/   { uri = $2 }
    /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "bookworm") main = 1 }
    /^[ \t]*$/ { check() }
    END        { check() }
  ' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  if [[ -z $URI ]]; then
    echo "install-testssl: no 'URIs:' line of a bookworm entry in /etc/apt/sources.list.d/*.sources; add one" >&2
    exit 1
  fi
  cat >"$LIST" <<SRC
Types: deb
URIs: $URI
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  echo "added $LIST for $URI"
fi

# Other setup scripts may hold the dpkg lock; wait for it instead of failing.
apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q -t bookworm-backports testssl.sh
# Debian installs the script as /usr/bin/testssl. The whole output is read
# before it is searched: an early-exiting grep would SIGPIPE testssl under pipefail.
version=$(testssl --version 2>/dev/null || true)
grep -m1 -i 'version' <<<"$version" || { echo "install-testssl: testssl --version printed no version" >&2; exit 1; }
