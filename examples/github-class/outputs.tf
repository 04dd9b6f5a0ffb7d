output "hub_url" {
  description = "Where students log in with GitHub."
  value       = jhub_edge.hub.hub_url
}

output "oauth_callback_url" {
  description = "The callback URL to register with the GitHub OAuth app."
  value       = "https://${jhub_domain.class.fqdns["hub"]}/hub/oauth_callback"
}

output "ssh" {
  description = "How the admin logs in; the host key is pinned from the start."
  value       = "ssh ${jhub_droplet.hub.admin_user}@${jhub_droplet.hub.ipv4_address}   # known_hosts: ${jhub_droplet.hub.ipv4_address} ${jhub_droplet.hub.host_public_key}"
}
