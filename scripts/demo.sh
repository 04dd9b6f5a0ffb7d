#!/usr/bin/env bash
# The main job on this machine: applies examples/quickstart against the local
# DigitalOcean simulator with the provider built from this tree, shows the
# result and that a second plan is empty, then destroys it.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
work=$(mktemp -d)
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/bin/terraform-provider-jhub" .
go build -o "$work/dosim" ./internal/cmd/dosim
"$work/dosim" -listen 127.0.0.1:0 -active-delay 2s >"$work/sim.env" 2>"$work/sim.log" &
sim_pid=$!
for _ in $(seq 50); do grep -q DIGITALOCEAN_TOKEN "$work/sim.env" && break; sleep 0.1; done
set -a; . "$work/sim.env"; set +a
echo "DigitalOcean simulator at $DIGITALOCEAN_API_URL"

# Use the provider from this tree, never a download.
cat >"$work/terraformrc" <<EOT
provider_installation {
  dev_overrides { "classhub/jhub" = "$work/bin" }
  direct {}
}
EOT
export TF_CLI_CONFIG_FILE=$work/terraformrc TF_IN_AUTOMATION=1
cp -r examples/quickstart "$work/tf"
ssh-keygen -q -t ed25519 -N '' -C demo@jhub -f "$work/id_ed25519"
export TF_VAR_admin_ssh_public_key="$(cat "$work/id_ed25519.pub")"
tf() { terraform -chdir="$work/tf" "$@"; }

tf apply -auto-approve -compact-warnings

echo "== a second plan must be empty"
tf plan -detailed-exitcode -compact-warnings >/dev/null && echo "no changes"
tf destroy -auto-approve -compact-warnings
