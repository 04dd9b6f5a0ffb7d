#!/usr/bin/env bash
# Regenerates vectors.htpasswd with Debian's apache2-utils htpasswd (installed by
# scripts/setup-bench.sh). The test reads passwords from vectors.passwords
# (USER<TAB>PASSWORD) and checks them against the hashes htpasswd produced.
# Run from this directory: bash gen-vectors.sh
set -euo pipefail
out=vectors.htpasswd
: >"$out"
while IFS=$'\t' read -r user pw; do
	for scheme in B m s; do
		cost=()
		[[ $scheme == B ]] && cost=(-C 5)
		htpasswd -n -b "-$scheme" "${cost[@]}" "$user-$scheme" "$pw" | sed '/^$/d' >>"$out"
	done
done <vectors.passwords
htpasswd -n -b -d des 'secret12' | sed '/^$/d' >des.htpasswd
htpasswd -n -b -p plain 'secret12' | sed '/^$/d' >plain.htpasswd
