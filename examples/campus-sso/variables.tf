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
  description = "The class roster by campus user name: the value of oidc_username_claim (with \"email\", the part before the @), in any case. Names must start with a letter and have at most 32 characters."
  type        = list(string)
}

variable "admins" {
  description = "JupyterHub admins (teachers, TAs) by campus user name; they log in through the same provider."
  type        = list(string)
}

variable "oidc_issuer_url" {
  description = "The campus OpenID provider's issuer (https); the edge reads <issuer>/.well-known/openid-configuration. Keycloak: https://sso.example.edu/realms/<realm>; Entra ID: https://login.microsoftonline.com/<tenant>/v2.0; Google: https://accounts.google.com."
  type        = string
  validation {
    condition     = startswith(var.oidc_issuer_url, "https://")
    error_message = "oidc_issuer_url must be the provider's https:// issuer, exactly as its discovery document's \"issuer\" says."
  }
}

variable "oidc_client_id" {
  description = "The client ID the campus provider issued for the hub."
  type        = string
}

variable "oidc_client_secret" {
  description = "The client's secret. Pass it from a secret store or TF_VAR_oidc_client_secret. Ephemeral: Terraform keeps it in no state or plan file."
  type        = string
  sensitive   = true
  ephemeral   = true
}

variable "oidc_client_secret_version" {
  description = "Increment it with a new oidc_client_secret: only a new version installs the new secret."
  type        = number
  default     = 1
}

variable "oidc_scopes" {
  description = "Scopes besides openid; preferred_username and email come with profile and email at most providers."
  type        = list(string)
  default     = ["profile", "email"]
}

variable "oidc_username_claim" {
  description = "The ID token claim that becomes the hub user name: preferred_username (Keycloak, Shibboleth, Okta: the campus login), or email with oidc_allowed_domains (Google Workspace, and Entra ID, whose preferred_username is an address)."
  type        = string
  default     = "preferred_username"
  validation {
    condition     = contains(["preferred_username", "email"], var.oidc_username_claim)
    error_message = "oidc_username_claim must be \"preferred_username\" or \"email\"."
  }
}

variable "oidc_allowed_domains" {
  description = "With oidc_username_claim = \"email\": the campus e-mail domains that may log in (verified addresses only), for example [\"example.edu\"]. Unused otherwise."
  type        = list(string)
  default     = []
  validation {
    # An address's local part is the user name: without a domain list,
    # alice@gmail.com would log in as the student alice.
    condition     = var.oidc_username_claim != "email" || length(var.oidc_allowed_domains) > 0
    error_message = "With oidc_username_claim = \"email\", list the campus e-mail domains in oidc_allowed_domains."
  }
}

variable "oidc_ca_pem" {
  description = "Roots the edge trusts for the provider's HTTPS, when the campus provider's certificate comes from a private CA (and in the lab); null for the system roots."
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
