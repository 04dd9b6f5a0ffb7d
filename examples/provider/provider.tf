terraform {
  required_providers {
    jhub = {
      source = "classhub/jhub"
    }
  }
}

# The token comes from DIGITALOCEAN_TOKEN when not set here. Against the local
# lab, DIGITALOCEAN_API_URL points the provider at the lab's simulator.
provider "jhub" {
  http_retry_max = 6
}
