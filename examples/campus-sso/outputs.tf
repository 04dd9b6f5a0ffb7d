output "hub_url" {
  description = "Where students log in with their campus account."
  value       = jhub_edge.hub.hub_url
}

output "oauth_callback_url" {
  description = "The redirect URI to register with the campus OpenID provider's client."
  value       = "https://${jhub_domain.class.fqdns["hub"]}/hub/oauth_callback"
}

output "hub_address" {
  description = "The droplet's public IPv4 address."
  value       = jhub_droplet.hub.ipv4_address
}

output "ssh" {
  description = "How the admin logs in; the host key is pinned from the start."
  value       = "ssh ${jhub_droplet.hub.admin_user}@${jhub_droplet.hub.ipv4_address}   # known_hosts: ${jhub_droplet.hub.ipv4_address} ${jhub_droplet.hub.host_public_key}"
}

output "name_servers" {
  description = "Set these at the domain's registrar."
  value       = jhub_domain.class.name_servers
}
