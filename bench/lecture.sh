#!/usr/bin/env bash
# The start of a lecture, measured: applies examples/class-hub in the lab on
# a droplet of LECTURE_SIZE, then plays N students for each N in LECTURE_NS
# (a fresh set of accounts each time, so first-spawn account creation is in
# every run) with bench/lecture, and writes the reports to LECTURE_OUT.
# A benchmark, not a test: it needs root and the lab image (make setup).
set -euo pipefail
cd "$(dirname "$0")/.."
# The provider installs the edge from the bundle beside it: without it the
# apply fails at jhub_edge after creating the droplet.
make -s bundle
ns=${LECTURE_NS:-10 30 60}
size=${LECTURE_SIZE:-s-8vcpu-16gb}
ramp=${LECTURE_RAMP:-60s}
hold=${LECTURE_HOLD:-60s}
out=${LECTURE_OUT:-bench/results/lecture}
. scripts/classhub-lab.sh
trap classhub_lab_down EXIT
classhub_lab_up
go build -o "$work/lecture" ./bench/lecture

# Run r's students are r01, r02, … for the r-th letter of the alphabet.
roster=() letters=(a b c d e f g h)
i=0
for n in $ns; do
  for s in $(seq -f '%02g' "$n"); do roster+=("\"${letters[$i]}$s\""); done
  i=$((i + 1))
done
classhub_tfvars "[$(IFS=,; echo "${roster[*]}")]" "$size"
start=$(date +%s)
tf apply -auto-approve -compact-warnings >"$work/apply.log" || { tail -50 "$work/apply.log"; exit 1; }
echo "applied in $(( $(date +%s) - start ))s on $size"
hub=$(tf output -raw hub_url)
# The droplet's host memory cgroup lists its processes (internal/lab/cgroup.go).
cgroups=(/sys/fs/cgroup/memory/jhub*-*)
[ "${#cgroups[@]}" = 1 ] || { echo "lecture: expected one lab droplet's cgroup, found: ${cgroups[*]}" >&2; exit 1; }

mkdir -p "$out"
# The hub's own log of each run (the droplet's journal, read in its mount
# namespace), kept outside the repository: it names every student.
logs=${LECTURE_LOGS:-/var/tmp/jhub-lecture-logs}
mkdir -p "$logs"
droplet_pid=
for p in $(sort -n "${cgroups[0]}/cgroup.procs"); do # the first is systemd-nspawn, on the host's side
  [ "$(readlink "/proc/$p/ns/mnt")" = "$(readlink /proc/self/ns/mnt)" ] || { droplet_pid=$p; break; }
done
rc=0 i=0
for n in $ns; do
  echo "== $n students arriving over $ramp, then a cell every 5 s for $hold"
  "$work/lecture" -hub "$hub" -ca "$JHUB_LAB_CA" -dns "$JHUB_LAB_DNS" -password-file "$work/class.password" \
    -users "${letters[$i]}%02d" -n "$n" -ramp "$ramp" -hold "$hold" -cgroup "${cgroups[0]}" \
    -json "$out/n$n.json" | tee "$out/n$n.md" || rc=$?
  nsenter -t "$droplet_pid" -m -- journalctl -u jupyterhub --no-pager -o short-precise --since "-$((n * 10 + 600))s" >"$logs/hub-n$n.log" 2>&1 || true
  echo "the hub's log of this run: $logs/hub-n$n.log"
  i=$((i + 1))
done
tf destroy -auto-approve -compact-warnings >/dev/null
exit $rc
