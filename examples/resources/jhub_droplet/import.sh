# Import by droplet ID. What only the bootstrap payload knew (admin_user,
# ssh_public_keys, extra_cloud_config, swap_mib, host_public_key) cannot be
# read back from DigitalOcean; the first apply after an import records the
# configured values without replacing the droplet.
terraform import jhub_droplet.hub 3164444
