# A class hub's DigitalOcean half: the droplet and the DNS names pointing at it.
# `make demo` applies this against the local DigitalOcean simulator; with a real
# token (DIGITALOCEAN_TOKEN) and your own domain it works against DigitalOcean.

terraform {
  required_providers {
    jhub = {
      source = "classhub/jhub"
    }
  }
}

variable "domain" {
  description = "A zone you control, delegated to DigitalOcean's name servers."
  type        = string
  default     = "cs101.example.edu"
}

variable "admin_ssh_public_key" {
  description = "Your SSH public key (the contents of ~/.ssh/id_ed25519.pub)."
  type        = string
}

provider "jhub" {}

resource "jhub_droplet" "hub" {
  name            = "hub-${replace(var.domain, ".", "-")}"
  region          = "fra1"
  size            = "s-2vcpu-4gb"
  admin_user      = "teacher"
  ssh_public_keys = [var.admin_ssh_public_key]
}

resource "jhub_domain" "class" {
  name       = var.domain
  caa_issuer = "letsencrypt.org"
  records = {
    hub = { ipv4 = jhub_droplet.hub.ipv4_address }
  }
}

output "hub_name" {
  value = jhub_domain.class.fqdns["hub"]
}

output "hub_address" {
  value = jhub_droplet.hub.ipv4_address
}

output "known_hosts_line" {
  description = "Append to ~/.ssh/known_hosts to trust the droplet from the first connection."
  value       = "${jhub_droplet.hub.ipv4_address} ${jhub_droplet.hub.host_public_key}"
}
