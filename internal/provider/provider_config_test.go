package provider

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

const minimalDomain = `
resource "jhub_domain" "x" {
  name    = "cfg.example.edu"
  records = { hub = { ipv4 = "198.18.0.1" } }
}`

func TestAccProvider_configErrors(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	t.Setenv("DIGITALOCEAN_TOKEN", "")
	t.Setenv("DIGITALOCEAN_ACCESS_TOKEN", "")
	t.Setenv("DIGITALOCEAN_API_URL", "")
	for name, tc := range map[string]struct{ provider, want string }{
		"no token":         {`provider "jhub" {}`, `(?s)Missing DigitalOcean API token.*DIGITALOCEAN_TOKEN`},
		"waits reversed":   {fmt.Sprintf("provider \"jhub\" {\n token = \"x\"\n api_endpoint = %q\n http_retry_wait_min = 5\n http_retry_wait_max = 1\n}", sim.URL()), `(?s)http_retry_wait_min \(5\) is larger than\s+http_retry_wait_max`},
		"negative rps":     {"provider \"jhub\" {\n token = \"x\"\n requests_per_second = -1\n}", `(?s)requests_per_second.*at least 0`},
		"bad token at use": {fmt.Sprintf("provider \"jhub\" {\n token = \"wrong\"\n api_endpoint = %q\n http_retry_max = 0\n}", sim.URL()), `(?s)401`},
	} {
		t.Run(name, func(t *testing.T) {
			accTest(t, resource.TestCase{Steps: []resource.TestStep{{
				Config:      tc.provider + minimalDomain,
				ExpectError: regexp.MustCompile(tc.want),
			}}})
		})
	}
}

// The token and endpoint come from the environment when the configuration
// leaves them out, as in a Terraform Cloud workspace with variables set.
func TestAccProvider_fromEnvironment(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	t.Setenv("DIGITALOCEAN_TOKEN", "")
	t.Setenv("DIGITALOCEAN_ACCESS_TOKEN", testToken)
	t.Setenv("DIGITALOCEAN_API_URL", sim.URL())
	accTest(t, resource.TestCase{
		CheckDestroy: zoneGone(sim, "cfg.example.edu"),
		Steps: []resource.TestStep{{
			Config: `provider "jhub" {}` + minimalDomain,
			Check:  expectRecords(sim, "cfg.example.edu", "hub A 198.18.0.1 1800"),
		}},
	})
}

// Keys already in the account are referenced by fingerprint, given to the
// admin user, and never deleted by destroy.
func TestAccDroplet_existingKeyByFingerprint(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	pub := testkit.NewSSHKey(t, "ta@lab").AuthorizedKey
	key, _, err := simClient(t, sim).Keys.Create(context.Background(), &godo.KeyCreateRequest{Name: "ta", PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	accTest(t, resource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			if ks := sim.SSHKeys(); len(ks) != 1 || ks[0].ID != key.ID {
				return fmt.Errorf("destroy must leave the account's own key alone; keys now: %v", ks)
			}
			return nil
		},
		Steps: []resource.TestStep{{
			Config: dropletConfig(sim, fmt.Sprintf(`
  name                 = "hub"
  region               = "fra1"
  size                 = "s-2vcpu-4gb"
  ssh_key_fingerprints = [%q]`, key.Fingerprint)),
			Check: resource.ComposeTestCheckFunc(
				resource.TestCheckResourceAttr("jhub_droplet.hub", "registered_ssh_key_ids.#", "0"),
				simDroplet(t, sim, func(_ map[string]string, _ godo.Droplet, ud string) error {
					if !regexp.MustCompile(regexp.QuoteMeta(pub[:60])).MatchString(ud) {
						return fmt.Errorf("the fingerprint's public key is not in the admin user's keys")
					}
					return nil
				}),
			),
		}},
	})
}
