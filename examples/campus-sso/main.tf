# A class hub whose students and teachers log in with the campus account,
# through the university's single sign-on (OpenID Connect: Keycloak,
# Shibboleth's OIDC front, Okta, Microsoft Entra ID, Google Workspace for
# Education). Nobody gets a hub password: the edge on the droplet runs the
# login with the campus provider, and the roster below decides who gets in.
#
# Register a confidential OIDC client (a "web application") with the
# campus identity team, with the redirect URI
# https://hub.<domain>/hub/oauth_callback (output oauth_callback_url), and
# pass its issuer, client ID and secret. Export DIGITALOCEAN_TOKEN, then
# `terraform apply`. The lab applies these same files against a real
# OpenID provider it runs (zitadel's example OP) and its test CA.

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
  # The plan warns when the roster is more than the size holds (docs/guides/sizing.md).
  expected_students = length(var.students)
  # The droplet's sudo account, for SSH only: never a hub user name.
  admin_user      = "sysadmin"
  ssh_public_keys = [var.admin_ssh_public_key]

  apt_mirror          = var.apt_mirror
  apt_security_mirror = var.apt_security_mirror
}

# The class volume: students' homes, the hub database, the course directory
# and the certificates live here, so replacing the droplet or destroying
# the hub and applying it again next term loses nothing. In a real class,
# add `lifecycle { prevent_destroy = true }` (see docs/guides/semester.md).
resource "jhub_volume" "class" {
  count                   = var.class_volume_gib > 0 ? 1 : 0
  name                    = "${replace(var.domain, ".", "-")}-class"
  region                  = var.region
  size                    = var.class_volume_gib
  initial_filesystem_type = "ext4"
  description             = "Students' homes, hub database and certificates of ${var.domain}"
}

resource "jhub_volume_attachment" "class" {
  count      = var.class_volume_gib > 0 ? 1 : 0
  droplet_id = jhub_droplet.hub.id
  volume_id  = jhub_volume.class[0].id
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

  # The hub's state on the class volume, attached before the hub is
  # installed (and detached only after it is removed).
  volume_name = var.class_volume_gib > 0 ? jhub_volume.class[0].name : null
  depends_on  = [jhub_volume_attachment.class]

  hub_hosts = [jhub_domain.class.fqdns["hub"]]
  # The roster is the truth: a campus account not listed here is refused
  # after it signs in, and whoever is removed loses access at the next
  # apply (their files stay). The edge lower-cases the claim it gets, so
  # the roster is lower-cased too: "JSmith" matches.
  allowed_users = [for name in var.students : lower(name)]
  # Admin rights come from this list only, never from the campus
  # provider's claims or groups.
  admin_users = [for name in var.admins : lower(name)]

  # The edge runs the OpenID Connect login (discovery from the issuer,
  # PKCE, nonce; the ID token's signature, issuer, audience and expiry are
  # checked) and hands the hub the user name from username_claim. The
  # client secret is write-only: it stays out of Terraform's state and
  # plans, and a new one is installed when its version changes.
  auth = {
    kind                     = "oidc"
    issuer_url               = var.oidc_issuer_url
    client_id                = var.oidc_client_id
    client_secret_wo         = var.oidc_client_secret
    client_secret_wo_version = var.oidc_client_secret_version
    scopes                   = var.oidc_scopes
    username_claim           = var.oidc_username_claim
    allowed_domains          = var.oidc_username_claim == "email" ? var.oidc_allowed_domains : null
    ca_pem                   = var.oidc_ca_pem
  }

  # Each student's server gets a share of the droplet: limits derived
  # from its size.
  droplet_memory = jhub_droplet.hub.memory
  droplet_vcpus  = jhub_droplet.hub.vcpus

  # Students open in ~/assignments on the welcome notebook, which each
  # student gets a copy of (their edits are kept).
  spawner = {
    notebook_dir = "~/assignments"
    default_url  = "/lab/tree/Welcome.ipynb"
  }
  course_files = {
    "Welcome.ipynb" = file("${path.module}/Welcome.ipynb")
  }
  idle_cull = { timeout = "1h" }

  tls = {
    mode               = "acme"
    acme_email         = var.acme_email
    acme_directory_url = var.acme_directory_url
    acme_ca_root_pem   = var.acme_ca_root_pem
  }
  trusted_ca_pem = var.trusted_ca_pem
}
