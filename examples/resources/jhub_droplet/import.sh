# Import by droplet ID. What only the bootstrap payload knew (admin_user,
# ssh_public_keys, extra_cloud_config, apt mirrors, swap_mib) cannot be read
# back from DigitalOcean: the first apply after the import records the
# configured values without replacing the droplet, and from then on a change
# to them replaces it. host_public_key stays null: pin the host key yourself.
terraform import jhub_droplet.hub 3164444
