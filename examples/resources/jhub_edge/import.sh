# Import by the droplet's address. The next apply installs the configured
# release on it (the provider needs ssh_private_key from the configuration).
terraform import jhub_edge.hub 203.0.113.10
