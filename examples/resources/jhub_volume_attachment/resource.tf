variable "admin_ssh_public_key" {
  description = "The teacher's SSH public key (the contents of ~/.ssh/id_ed25519.pub)."
  type        = string
}

resource "jhub_droplet" "hub" {
  name            = "hub-cs101"
  region          = "fra1"
  size            = "s-2vcpu-4gb"
  ssh_public_keys = [var.admin_ssh_public_key]
}

resource "jhub_volume" "home" {
  name   = "cs101-home"
  region = jhub_droplet.hub.region
  size   = 50

  lifecycle {
    prevent_destroy = true
  }
}

# Attachment is its own resource: replacing the droplet detaches the volume
# from the old one first and attaches it to the new one once it is up.
resource "jhub_volume_attachment" "home" {
  droplet_id = jhub_droplet.hub.id
  volume_id  = jhub_volume.home.id
}
