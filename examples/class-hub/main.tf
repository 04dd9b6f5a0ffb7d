# A class hub: the droplet, its DNS names and the hub on it, TLS included.
#
# Against DigitalOcean: export DIGITALOCEAN_TOKEN, set domain (a zone whose
# name servers are DigitalOcean's), acme_email, students and the admin's SSH
# key pair, then `terraform apply`. `make demo` applies these same files
# against the local lab, with the lab's mirror and test CA filled in.

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
# and the certificates live here, so replacing the droplet (a new image or
# size) or destroying the hub and applying it again loses nothing and asks
# the CA for no new certificate. See docs/guides/semester.md.
resource "jhub_volume" "class" {
  count                   = var.class_volume_gib > 0 ? 1 : 0
  name                    = "${replace(var.domain, ".", "-")}-class"
  region                  = var.region
  size                    = var.class_volume_gib
  initial_filesystem_type = "ext4"
  description             = "Students' homes, hub database and certificates of ${var.domain}"

  # In a real class, uncomment this: Terraform then refuses any plan that
  # would delete the students' work (including `terraform destroy`; end a
  # term with `terraform destroy -target=jhub_edge.hub -target=jhub_droplet.hub`,
  # as the semester guide shows). It is off here because `make demo` and the
  # tests tear everything down.
  # lifecycle {
  #   prevent_destroy = true
  # }
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
    www = { ipv4 = jhub_droplet.hub.ipv4_address }
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
  # The roster is the truth: whoever is removed here loses access at the
  # next apply (their files stay).
  allowed_users = var.students
  admin_users   = var.admins

  # Students log in with the class password; admins only with their own.
  # The class password is write-only: it stays out of Terraform's state and
  # plans, and a new one is installed when class_password_version changes.
  auth = {
    kind                = "shared-password"
    password_wo         = var.class_password
    password_wo_version = var.class_password_version
    admin_passwords     = var.admin_passwords
  }

  # Each student's server gets a share of the droplet: limits derived
  # from its size.
  droplet_memory = jhub_droplet.hub.memory
  droplet_vcpus  = jhub_droplet.hub.vcpus

  # The seeds' layout: students open in ~/assignments on the welcome
  # notebook, which each student gets a copy of (their edits are kept).
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

  # The course website, next to the hub on the same :443.
  sites = [{
    host         = jhub_domain.class.fqdns["www"]
    static_files = { "index.html" = "<!doctype html><title>${var.domain}</title><h1>Welcome to ${var.domain}</h1><p><a href=\"https://${jhub_domain.class.fqdns["hub"]}/\">Open the hub</a></p>" }
  }]

  # What the students' notebooks import, from Debian: installed in place at
  # each apply, never by rebuilding the droplet.
  student_packages = var.student_packages
}
