resource "jhub_volume" "home" {
  name   = "cs101-home"
  region = "fra1"
  size   = 50

  lifecycle {
    prevent_destroy = true
  }
}

# The end-of-term archive, named for the term. It outlives the volume.
resource "jhub_volume_snapshot" "fall" {
  name      = "cs101-fall-2026"
  volume_id = jhub_volume.home.id

  lifecycle {
    prevent_destroy = true
  }
}

# Next term's volume, starting from the archive.
resource "jhub_volume" "spring" {
  name        = "cs101-spring-home"
  region      = "fra1"
  size        = jhub_volume_snapshot.fall.min_disk_size
  snapshot_id = jhub_volume_snapshot.fall.id
}
