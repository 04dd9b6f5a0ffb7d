variable "ssh_private_key" {
  description = "The admin's SSH private key; from a secret store, never a local file."
  type        = string
  sensitive   = true
}

variable "github_client_secret" {
  type      = string
  sensitive = true
}

variable "droplet_address" {
  description = "jhub_droplet.<name>.ipv4_address"
  type        = string
}

variable "droplet_host_key" {
  description = "jhub_droplet.<name>.host_public_key"
  type        = string
}

resource "jhub_edge" "hub" {
  host            = var.droplet_address
  host_public_key = var.droplet_host_key
  ssh_user        = "teacher"
  ssh_private_key = var.ssh_private_key

  hub_hosts     = ["hub.cs101.example.edu"]
  allowed_users = ["alice", "bob"]
  admin_users   = ["teacher"]
  auth = {
    kind          = "github"
    client_id     = "Iv1.0123456789abcdef"
    client_secret = var.github_client_secret
  }
  spawner = {
    notebook_dir = "~/assignments"
    default_url  = "/tree/Welcome.ipynb"
  }
  idle_cull = { timeout = "1h" }

  tls = {
    mode       = "acme"
    acme_email = "teacher@example.edu"
  }

  # A course website on the same :443, with a password-protected corner.
  sites = [{
    host         = "www.cs101.example.edu"
    static_files = { "index.html" = "<h1>CS 101</h1>", "private/solutions.html" = "<h1>Solutions</h1>" }
    basic_auth   = { paths = ["/private/"] }
  }]
  basic_auth_users = { ta = "correct horse battery staple" }

  # Debian packages for the students' notebooks, installed in place.
  student_packages = ["python3-numpy", "python3-pandas", "python3-matplotlib", "python3-scipy"]
}

# On another droplet: the hub on a sub-path, behind a real configurable-http-proxy.
variable "department_droplet" {
  type = object({ address = string, host_key = string })
}

resource "jhub_edge" "department" {
  host            = var.department_droplet.address
  host_public_key = var.department_droplet.host_key
  ssh_private_key = var.ssh_private_key

  hub_hosts  = ["www.cs.example.edu"]
  base_url   = "/jhub/"
  proxy_mode = "chp"
  auth       = { kind = "pam", create_system_users = true }
  tls        = { mode = "acme", acme_email = "it@cs.example.edu", acme_challenges = ["tls-alpn-01"] }
}
