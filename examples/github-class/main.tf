# A class hub whose students log in with GitHub, as the JupyterHub docs'
# GitHub OAuth deployment does: students and admins are listed by GitHub
# login (matched case-insensitively), each gets a local account on the
# droplet at their first login's spawn, notebooks open in ~/assignments on
# Welcome.ipynb, and students may run named servers besides their default.
#
# Register an OAuth app (GitHub: Settings > Developer settings > OAuth
# Apps) with the callback URL https://hub.<domain>/hub/oauth_callback and
# pass its client ID and secret. Export DIGITALOCEAN_TOKEN, then
# `terraform apply`. The lab applies these same files against its GitHub
# stand-in (github_url, github_ca_pem) and test CA.

terraform {
  required_version = ">= 1.11"
  required_providers {
    jhub = {
      source = "classhub/jhub"
    }
  }
}

provider "jhub" {}

resource "jhub_droplet" "hub" {
  name   = "hub-${replace(var.domain, ".", "-")}"
  region = var.region
  size   = var.size
  # The droplet's sudo account, for SSH only: never a hub user name.
  admin_user      = "sysadmin"
  ssh_public_keys = [var.admin_ssh_public_key]

  apt_mirror          = var.apt_mirror
  apt_security_mirror = var.apt_security_mirror
}

resource "jhub_domain" "class" {
  name           = var.domain
  adopt_existing = var.adopt_existing_zone
  caa_issuer     = var.acme_directory_url == null ? "letsencrypt.org" : null
  records = {
    hub = { ipv4 = jhub_droplet.hub.ipv4_address }
  }
}

resource "jhub_edge" "hub" {
  host            = jhub_droplet.hub.ipv4_address
  host_public_key = jhub_droplet.hub.host_public_key
  ssh_user        = jhub_droplet.hub.admin_user
  ssh_private_key = var.admin_ssh_private_key

  hub_hosts = [jhub_domain.class.fqdns["hub"]]
  # GitHub logins are case-insensitive and the edge lower-cases the login
  # it gets, so the roster is lower-cased too: "Alice-Smith" matches.
  allowed_users = [for login in var.students : lower(login)]
  admin_users   = [for login in var.admins : lower(login)]

  # The edge runs GitHub's OAuth web flow; admin rights come from
  # admin_users only, never from GitHub.
  auth = {
    kind                     = "github"
    client_id                = var.github_client_id
    client_secret_wo         = var.github_client_secret
    client_secret_wo_version = var.github_client_secret_version
    github_org               = var.github_org
    github_url               = var.github_url
    ca_pem                   = var.github_ca_pem
  }

  droplet_memory = jhub_droplet.hub.memory
  droplet_vcpus  = jhub_droplet.hub.vcpus

  # Notebooks open in ~/assignments on the welcome notebook, which each
  # student gets a copy of (their edits are kept).
  spawner = {
    notebook_dir = "~/assignments"
    default_url  = "/lab/tree/Welcome.ipynb"
  }
  course_files = {
    "Welcome.ipynb" = jsonencode({
      nbformat       = 4
      nbformat_minor = 5
      metadata       = { kernelspec = { name = "python3", display_name = "Python 3", language = "python" } }
      cells = [
        { cell_type = "markdown", id = "welcome", metadata = {}, source = ["# Welcome to ${var.domain}\n", "\n", "Your work lives in `~/assignments`. Run the cell below."] },
        { cell_type = "code", id = "hello", metadata = {}, execution_count = null, outputs = [], source = ["import getpass\n", "print('Hello,', getpass.getuser())"] },
      ]
    })
  }
  # Several servers per student (one per project), besides the default.
  named_servers      = true
  named_server_limit = 3
  idle_cull          = { timeout = "1h" }

  tls = {
    mode               = "acme"
    acme_email         = var.acme_email
    acme_directory_url = var.acme_directory_url
    acme_ca_root_pem   = var.acme_ca_root_pem
  }
  trusted_ca_pem = var.trusted_ca_pem
}
