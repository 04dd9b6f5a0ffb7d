# Import by volume ID (`doctl compute volume list`). initial_filesystem_type,
# initial_filesystem_label and snapshot_id only matter at creation: the
# configured values are adopted.
terraform import jhub_volume.home 506f78a4-e098-11e5-ad9f-000f53306ae1
