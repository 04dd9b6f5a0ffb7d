#!/usr/bin/env bash
# Runs `terraform validate` on every example folder with the provider built
# from this tree (dev_overrides: nothing is downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/bin/terraform-provider-jhub" .
cat >"$work/terraformrc" <<EOT
provider_installation {
  dev_overrides { "classhub/jhub" = "$work/bin" }
  direct {}
}
EOT
export TF_CLI_CONFIG_FILE=$work/terraformrc
status=0 n=0
while read -r dir; do
  n=$((n + 1))
  cp -r "$dir" "$work/ex"
  # Resource examples are fragments: give them the provider requirement they omit.
  [ -f "$work/ex/provider.tf" ] || grep -qs required_providers "$work/ex"/*.tf || cat >"$work/ex/zz_provider.tf" <<'EOT'
terraform {
  required_providers {
    jhub = { source = "classhub/jhub" }
  }
}
EOT
  if out=$(terraform -chdir="$work/ex" validate -no-color 2>&1); then
    echo "ok   $dir"
  else
    # grep -v finding nothing to print must not end the run under set -e.
    echo "FAIL $dir"; grep -v 'CLI configuration\|terraformrc\|^│ *$\|^╷\|^╵' <<<"$out" || true; status=1
  fi
  rm -rf "$work/ex"
# .terraform/ holds module copies once someone ran `terraform init` in an example.
done < <(find examples -name .terraform -prune -o -name '*.tf' -printf '%h\n' | sort -u)
echo "validated $n example folders"
exit $status
