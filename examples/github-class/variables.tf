variable "domain" {
  description = "The class's zone, for example cs101.example.edu. The hub is hub.<domain>."
  type        = string
}

variable "adopt_existing_zone" {
  description = "Add the records to a zone that already exists in the account, and keep it on destroy."
  type        = bool
  default     = false
}

variable "students" {
  description = "The class roster by GitHub login, in any case (logins must start with a letter and have at most 32 characters)."
  type        = list(string)
}

variable "admins" {
  description = "JupyterHub admins (teachers, TAs) by GitHub login."
  type        = list(string)
}

variable "github_client_id" {
  description = "The GitHub OAuth app's client ID."
  type        = string
}

variable "github_client_secret" {
  description = "The GitHub OAuth app's client secret. Pass it from a secret store or TF_VAR_github_client_secret. Ephemeral: Terraform keeps it in no state or plan file."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "github_client_secret_version" {
  description = "Increment it with a new github_client_secret: only a new version installs the new secret."
  type        = number
  default     = 1
}

variable "github_org" {
  description = "Only active members of this GitHub organisation log in (besides the roster); null for no restriction."
  type        = string
  default     = null
}

variable "github_url" {
  description = "A GitHub Enterprise Server base URL (https); null for github.com. The lab sets its GitHub stand-in."
  type        = string
  default     = null
}

variable "github_ca_pem" {
  description = "Roots the edge trusts for github_url's HTTPS (an enterprise CA, the lab's); null for the system roots."
  type        = string
  default     = null
}

variable "admin_ssh_public_key" {
  description = "The admin's SSH public key (one authorized_keys line)."
  type        = string
}

variable "admin_ssh_private_key" {
  description = "The matching private key, which the provider uses to install the hub. Pass it from a secret store or TF_VAR_admin_ssh_private_key."
  type        = string
  sensitive   = true
}

variable "acme_email" {
  description = "Contact address for the certificate authority."
  type        = string
}

variable "acme_directory_url" {
  description = "ACME directory; null for Let's Encrypt production. The lab sets its Pebble."
  type        = string
  default     = null
}

variable "acme_ca_root_pem" {
  description = "Roots to trust for the ACME directory's HTTPS (test CAs only)."
  type        = string
  default     = null
}

variable "trusted_ca_pem" {
  description = "Roots the provider trusts when it checks the hub over HTTPS; null for the system roots."
  type        = string
  default     = null
}

variable "region" {
  description = "DigitalOcean region."
  type        = string
  default     = "fra1"
}

variable "size" {
  description = "Droplet size; about 1 GiB per ten students running small notebooks."
  type        = string
  default     = "s-2vcpu-4gb"
}

variable "apt_mirror" {
  description = "Debian mirror for the droplet (campus mirror, or the lab's); null for the image's."
  type        = string
  default     = null
}

variable "apt_security_mirror" {
  description = "Debian security mirror, with apt_mirror."
  type        = string
  default     = null
}
