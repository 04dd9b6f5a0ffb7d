# The class's volume: students' homes and the hub's state live here, so a
# replaced droplet, or a rebuilt hub, comes back with them.
resource "jhub_volume" "home" {
  name                    = "cs101-home"
  region                  = "fra1" # the droplet's region
  size                    = 50     # GiB; grows in place, never shrinks
  initial_filesystem_type = "ext4"
  description             = "CS101 homes and hub state"
  tags                    = ["cs101"]

  # A destroy of the whole configuration must not take the students' work.
  lifecycle {
    prevent_destroy = true
  }
}

# A new term may start from last term's archive instead:
#   snapshot_id = jhub_volume_snapshot.fall.id
#   size        = jhub_volume_snapshot.fall.min_disk_size
