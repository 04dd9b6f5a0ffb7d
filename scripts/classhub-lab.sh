# Sourced by scripts/demo.sh and bench/lecture.sh: brings up the lab (a local
# DigitalOcean whose droplets are Debian containers, with DNS and a test CA)
# and prepares examples/class-hub for it with the provider built from this
# tree. Defines $work, tf, classhub_lab_up and classhub_tfvars; the caller's
# EXIT trap must call classhub_lab_down.
[ "$(id -u)" = 0 ] || { echo "the lab needs root (network namespaces, containers)" >&2; exit 1; }
work=$(mktemp -d)
lab_pid=
classhub_lab_down() {
  if [ -n "$lab_pid" ]; then kill "$lab_pid" 2>/dev/null; wait "$lab_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
tf() { terraform -chdir="$work/tf" "$@"; }

classhub_lab_up() {
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
  ssh-keygen -q -t ed25519 -N '' -C admin@lab -f "$work/id_ed25519"
}

# classhub_tfvars STUDENTS [SIZE] writes the example's variables for the lab:
# STUDENTS is an HCL list of names. The class password goes to
# $work/class.password. Secrets go to Terraform in a 0600 variables file,
# never through the environment or the command line.
classhub_tfvars() {
  local teacher_password
  pw() { head -c 18 /dev/urandom | base64 | tr '+/' 'xy'; }
  hcl() { python3 -c 'import json, sys; print(json.dumps(open(sys.argv[1]).read()))' "$1"; } # a file's content as a quoted string
  teacher_password=$(pw)
  umask 077
  pw >"$work/class.password"
  {
    echo "domain              = \"cs101.lab.test\""
    echo "students            = $1"
    [ -z "${2:-}" ] || echo "size                = \"$2\""
    echo "admins              = [\"teacher\"]"
    echo "acme_email          = \"teacher@cs101.lab.test\""
    echo "acme_directory_url  = \"$JHUB_LAB_ACME_DIRECTORY\""
    echo "apt_mirror          = \"$JHUB_LAB_APT_MIRROR\""
    echo "apt_security_mirror = \"$JHUB_LAB_APT_SECURITY_MIRROR\""
    echo "acme_ca_root_pem    = $(hcl "$JHUB_LAB_ACME_CA")"
    echo "trusted_ca_pem      = $(hcl "$JHUB_LAB_CA")"
    echo "admin_ssh_public_key  = $(hcl "$work/id_ed25519.pub")"
    echo "admin_ssh_private_key = $(hcl "$work/id_ed25519")"
    echo "class_password      = \"$(cat "$work/class.password")\""
    echo "admin_passwords     = { teacher = \"$teacher_password\" }"
  } >"$work/tf/lab.auto.tfvars"
  umask 022
}
