#!/usr/bin/env bash
# The main job on this machine: brings up the lab (a local DigitalOcean whose
# droplets are Debian containers, with DNS and a test CA), applies
# examples/class-hub to it with the provider built from this tree, shows the
# hub answering over HTTPS and a second plan that is empty, then (after Enter,
# or at once without a terminal) destroys it and takes the lab down.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/classhub-lab.sh
trap classhub_lab_down EXIT
classhub_lab_up
classhub_tfvars '["alice", "bob"]'

start=$(date +%s)
tf apply -auto-approve -compact-warnings
echo "applied in $(( $(date +%s) - start ))s"
ip=$(tf output -raw hub_address)
hub=$(tf output -raw hub_url)
host=${hub#https://}; host=${host%%/*}

echo "== the hub, over HTTPS with the lab CA's certificate:"
curl -sS --resolve "$host:443:$ip" --cacert "$JHUB_LAB_CA" -o /dev/null -w "GET ${hub}hub/login -> %{http_code}, certificate verified\n" "${hub}hub/login"
echo "== a second plan must be empty:"
# -detailed-exitcode: 0 no changes, 2 changes, 1 error. Either failure is
# reported, and the demo still destroys what it built before exiting non-zero.
plan_rc=0
tf plan -detailed-exitcode -compact-warnings >/dev/null || plan_rc=$?
case $plan_rc in
  0) echo "no changes" ;;
  2) echo "demo: the second plan is not empty" >&2 ;;
  *) echo "demo: the second plan failed" >&2 ;;
esac

echo "== a student logs in through the edge, starts a server and runs code:"
student_rc=0
"$work/student" -hub "$hub" -user alice -password-file "$work/class.password" -ca "$JHUB_LAB_CA" -dns "$JHUB_LAB_DNS" \
  -code "import getpass, numpy; print(getpass.getuser(), 'runs numpy', numpy.__version__, ':', numpy.arange(6).reshape(2, 3).sum(axis=0))" || student_rc=$?
[ "$student_rc" = 0 ] || echo "demo: the student could not run code" >&2

cat <<EOT

The hub is at $hub (students: alice, bob; their class password is in
$work/class.password; the teacher's password is in $work/tf/lab.auto.tfvars).
Its name resolves through the lab's DNS ($JHUB_LAB_DNS); from this machine:
  curl --resolve $host:443:$ip --cacert $JHUB_LAB_CA ${hub}hub/login
  ssh -i $work/id_ed25519 $(tf output -raw ssh | cut -d' ' -f2)
Against DigitalOcean, the same files take a token (DIGITALOCEAN_TOKEN) and
your domain: see examples/class-hub/main.tf.
EOT
if [ -t 0 ]; then read -r -p "Press Enter to destroy the hub and take the lab down. " _; fi
tf destroy -auto-approve -compact-warnings
[ "$plan_rc" = 0 ] || exit "$plan_rc"
exit "$student_rc"
