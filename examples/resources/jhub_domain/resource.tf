variable "hub_ipv4" {
  description = "The hub droplet's address, for example jhub_droplet.hub.ipv4_address."
  type        = string
}

# The hub host and a course website served next to it, with CAA records that
# let only Let's Encrypt issue certificates for the zone.
resource "jhub_domain" "class" {
  name       = "cs101.example.edu"
  caa_issuer = "letsencrypt.org"

  records = {
    hub = {
      ipv4 = var.hub_ipv4
    }
    www = {
      ipv4 = var.hub_ipv4
      ttl  = 300
    }
  }
}

# Set these at the registrar of cs101.example.edu (or as NS records in the
# parent zone), so that the world sees the records.
output "name_servers" {
  value = jhub_domain.class.name_servers
}

# Add the hub's records to a zone that already exists in the account. Destroy
# removes these records and leaves the zone and its other records alone.
resource "jhub_domain" "department" {
  name           = "cs.example.edu"
  adopt_existing = true

  records = {
    hub = {
      ipv4 = var.hub_ipv4
    }
  }
}
