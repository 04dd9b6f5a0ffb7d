#!/usr/bin/env bash
# The main job on this machine: brings up the lab (a local DigitalOcean whose
# droplets are Debian containers, with DNS and a test CA), applies
# examples/class-hub to it with the provider built from this tree, shows the
# hub answering over HTTPS and a second plan that is empty, then (after Enter,
# or at once without a terminal) destroys it and takes the lab down.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: the lab needs root (network namespaces, containers)" >&2; exit 1; }
work=$(mktemp -d)
lab_pid=
cleanup() {
  if [ -n "$lab_pid" ]; then kill "$lab_pid" 2>/dev/null; wait "$lab_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/bin/terraform-provider-jhub" .
go build -o "$work/lab" ./internal/cmd/lab
go build -o "$work/student" ./internal/cmd/student
"$work/lab" up -env-file "$work/lab.env" >"$work/lab.log" 2>&1 &
lab_pid=$!
for _ in $(seq 120); do [ -s "$work/lab.env" ] && break; kill -0 "$lab_pid" 2>/dev/null || { cat "$work/lab.log"; exit 1; }; sleep 1; done
. "$work/lab.env"
echo "lab up: DigitalOcean API at $DIGITALOCEAN_API_URL, DNS at $JHUB_LAB_DNS"

# The provider from this tree, never a download.
cat >"$work/terraformrc" <<EOT
provider_installation {
  dev_overrides { "classhub/jhub" = "$work/bin" }
  direct {}
}
EOT
export TF_CLI_CONFIG_FILE=$work/terraformrc TF_IN_AUTOMATION=1
cp -r examples/class-hub "$work/tf"
ssh-keygen -q -t ed25519 -N '' -C admin@demo -f "$work/id_ed25519"
pw() { head -c 18 /dev/urandom | base64 | tr '+/' 'xy'; }
class_password=$(pw)
teacher_password=$(pw)
# Secrets go to Terraform in a 0600 variables file, never through the
# environment or the command line.
umask 077
printf '%s\n' "$class_password" >"$work/alice.password"
hcl() { python3 -c 'import json, sys; print(json.dumps(open(sys.argv[1]).read()))' "$1"; } # a file's content as a quoted string
{
  echo "domain              = \"cs101.lab.test\""
  echo "students            = [\"alice\", \"bob\"]"
  echo "admins              = [\"teacher\"]"
  echo "acme_email          = \"teacher@cs101.lab.test\""
  echo "acme_directory_url  = \"$JHUB_LAB_ACME_DIRECTORY\""
  echo "apt_mirror          = \"$JHUB_LAB_APT_MIRROR\""
  echo "apt_security_mirror = \"$JHUB_LAB_APT_SECURITY_MIRROR\""
  echo "acme_ca_root_pem    = $(hcl "$JHUB_LAB_ACME_CA")"
  echo "trusted_ca_pem      = $(hcl "$JHUB_LAB_CA")"
  echo "admin_ssh_public_key  = $(hcl "$work/id_ed25519.pub")"
  echo "admin_ssh_private_key = $(hcl "$work/id_ed25519")"
  echo "class_password      = \"$class_password\""
  echo "admin_passwords     = { teacher = \"$teacher_password\" }"
} >"$work/tf/lab.auto.tfvars"
umask 022
tf() { terraform -chdir="$work/tf" "$@"; }

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
"$work/student" -hub "$hub" -user alice -password-file "$work/alice.password" -ca "$JHUB_LAB_CA" -dns "$JHUB_LAB_DNS" || student_rc=$?
[ "$student_rc" = 0 ] || echo "demo: the student could not run code" >&2

cat <<EOT

The hub is at $hub (students: alice, bob; their class password is in
$work/alice.password; the teacher's password is in $work/tf/lab.auto.tfvars).
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
