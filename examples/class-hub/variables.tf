variable "domain" {
  description = "The class's zone, for example cs101.example.edu. The hub is hub.<domain>, the course site www.<domain>."
  type        = string
}

variable "adopt_existing_zone" {
  description = "Add the records to a zone that already exists in the account, and keep it on destroy."
  type        = bool
  default     = false
}

variable "students" {
  description = "The class roster: user names allowed to log in (lower-case letter first, then lower-case letters, digits, '-' or '_')."
  type        = list(string)
}

variable "admins" {
  description = "JupyterHub admins (teachers, TAs); each logs in with their own password from admin_passwords."
  type        = list(string)
  default     = ["teacher"]
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

variable "class_password" {
  description = "The class password students log in with (at least 12 characters). It never admits an admin. Ephemeral: Terraform keeps it in no state or plan file."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "class_password_version" {
  description = "Increment it with a new class_password: only a new version installs the new password."
  type        = number
  default     = 1
}

variable "admin_passwords" {
  description = "Each admin's own password (at least 16 characters), by admin name; every name in admins needs one."
  type        = map(string)
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

variable "student_packages" {
  description = "Debian packages for the students' notebooks (python3-*, r-cran-*, ...). A package dropped from the list is removed again, unless the hub itself needs it."
  type        = list(string)
  default     = ["python3-numpy", "python3-pandas", "python3-matplotlib", "python3-scipy"]
}

variable "region" {
  description = "DigitalOcean region."
  type        = string
  default     = "fra1"
}

variable "size" {
  description = "Droplet size. docs/guides/sizing.md lists how many students each size holds; the plan warns when the roster is larger."
  type        = string
  default     = "s-2vcpu-4gb"
}

variable "class_volume_gib" {
  description = "Size of the class volume (GiB) that keeps students' work and the certificates across rebuilds; it can grow later, never shrink. 0: no volume, everything lives on the droplet's disk and goes with it."
  type        = number
  default     = 10
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
