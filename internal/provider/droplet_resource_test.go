package provider

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"golang.org/x/crypto/ssh"

	"github.com/classhub/terraform-provider-jhub/internal/cloudinit/schematest"
	"github.com/classhub/terraform-provider-jhub/internal/dosim"
)

func testPublicKey(t *testing.T, comment string) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp))) + " " + comment
}

func dropletConfig(sim *dosim.Server, body string) string {
	return providerBlock(sim) + `
resource "jhub_droplet" "hub" {
` + body + `
}`
}

// nothingLeft checks that destroy left no droplet and no SSH key behind.
func nothingLeft(sim *dosim.Server) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if ds := sim.Droplets(); len(ds) != 0 {
			return fmt.Errorf("%d droplet(s) left after destroy: %v", len(ds), ds)
		}
		if ks := sim.SSHKeys(); len(ks) != 0 {
			return fmt.Errorf("%d SSH key(s) left after destroy", len(ks))
		}
		return nil
	}
}

// simDroplet checks the droplet as the simulator sees it, and its payload
// with the real `cloud-init schema`.
func simDroplet(t *testing.T, sim *dosim.Server, check func(attrs map[string]string, d godo.Droplet, userData string) error) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs, ok := s.RootModule().Resources["jhub_droplet.hub"]
		if !ok {
			return fmt.Errorf("jhub_droplet.hub not in state")
		}
		id, _ := strconv.Atoi(rs.Primary.ID)
		d, userData, ok := sim.Droplet(id)
		if !ok {
			return fmt.Errorf("droplet %d not in the simulator", id)
		}
		if ok, out := schematest.Schema(t, []byte(userData)); !ok {
			return fmt.Errorf("cloud-init schema rejects the payload the provider sent:\n%s", out)
		}
		return check(rs.Primary.Attributes, d, userData)
	}
}

func TestAccDroplet_lifecycle(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	key := testPublicKey(t, "teacher@laptop")
	base := fmt.Sprintf(`
  region          = "fra1"
  admin_user      = "teacher"
  ssh_public_keys = [%q]
  tags            = ["cs101"]
  extra_cloud_config = <<-EOT
    packages: [htop]
    timezone: Europe/Berlin
  EOT`, key)
	var firstID string
	accTest(t, resource.TestCase{
		CheckDestroy: nothingLeft(sim),
		Steps: []resource.TestStep{
			{
				Config: dropletConfig(sim, base+`
  name = "hub-cs101"
  size = "s-1vcpu-1gb"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionCreate),
					plancheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("swap_mib"), knownvalue.Int64Exact(2048)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("status"), knownvalue.StringExact("active")),
					statecheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("image"), knownvalue.StringExact(defaultImage)),
					statecheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("host_public_key"), knownvalue.StringRegexp(regexp.MustCompile(`^ssh-ed25519 AAAA`))),
				},
				Check: resource.ComposeTestCheckFunc(
					func(s *terraform.State) error {
						a := s.RootModule().Resources["jhub_droplet.hub"].Primary.Attributes
						firstID = a["id"]
						ip, err := netip.ParseAddr(a["ipv4_address"])
						if err != nil || !netip.MustParsePrefix("198.18.0.0/15").Contains(ip) {
							return fmt.Errorf("ipv4_address %q is not from the simulator's pool", a["ipv4_address"])
						}
						return nil
					},
					simDroplet(t, sim, func(a map[string]string, d godo.Droplet, ud string) error {
						// The payload carries the admin key and the very host key the state pins.
						hostKey := strings.Fields(a["host_public_key"])[1]
						for _, want := range []string{"#cloud-config", "teacher", strings.Fields(key)[1], hostKey, "htop", "Europe/Berlin"} {
							if !strings.Contains(ud, want) {
								return fmt.Errorf("user_data lacks %q", want)
							}
						}
						if d.Name != "hub-cs101" || d.SizeSlug != "s-1vcpu-1gb" || d.Region.Slug != "fra1" {
							return fmt.Errorf("droplet is %s/%s/%s", d.Name, d.SizeSlug, d.Region.Slug)
						}
						return nil
					}),
					func(*terraform.State) error {
						if n := len(sim.SSHKeys()); n != 1 {
							return fmt.Errorf("want the admin key registered once in the account, found %d keys", n)
						}
						return nil
					},
				),
			},
			{
				// Rename and resize in place: the droplet keeps its ID.
				Config: dropletConfig(sim, base+`
  name = "hub-cs101-fall"
  size = "s-2vcpu-4gb"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionUpdate),
				}},
				Check: resource.ComposeTestCheckFunc(
					resource.TestCheckResourceAttrPtr("jhub_droplet.hub", "id", &firstID),
					resource.TestCheckResourceAttr("jhub_droplet.hub", "status", "active"),
					simDroplet(t, sim, func(_ map[string]string, d godo.Droplet, _ string) error {
						if d.Name != "hub-cs101-fall" || d.SizeSlug != "s-2vcpu-4gb" {
							return fmt.Errorf("simulator has name %q size %q after the update", d.Name, d.SizeSlug)
						}
						return nil
					}),
				),
			},
			{
				ResourceName:      "jhub_droplet.hub",
				ImportState:       true,
				ImportStateVerify: true,
				// Only the bootstrap payload knew these; DigitalOcean cannot tell them.
				ImportStateVerifyIgnore: []string{"admin_user", "ssh_public_keys", "extra_cloud_config", "swap_mib", "host_public_key", "registered_ssh_key_ids", "timeouts"},
			},
			{
				// The region forces a new droplet.
				Config: strings.Replace(dropletConfig(sim, base+`
  name = "hub-cs101-fall"
  size = "s-2vcpu-4gb"`), `"fra1"`, `"ams3"`, 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: func(s *terraform.State) error {
					if id := s.RootModule().Resources["jhub_droplet.hub"].Primary.ID; id == firstID {
						return fmt.Errorf("region change kept droplet %s", id)
					}
					if n := len(sim.Droplets()); n != 1 {
						return fmt.Errorf("want exactly one droplet after replacement, found %d", n)
					}
					return nil
				},
			},
		},
	})
}

// An imported droplet is not replaced on the first apply just because the
// bootstrap inputs, unknowable from the API, are now recorded.
func TestAccDroplet_importThenApply(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	key := testPublicKey(t, "a@b")
	var id string
	accTest(t, resource.TestCase{
		CheckDestroy: nothingLeft(sim),
		Steps: []resource.TestStep{
			{
				// A droplet made by hand, before Terraform knew of it.
				PreConfig: func() {
					d, _, err := simClient(t, sim).Droplets.Create(context.Background(), &godo.DropletCreateRequest{
						Name: "hub", Region: "fra1", Size: "s-2vcpu-4gb", Image: godo.DropletCreateImage{Slug: defaultImage},
					})
					if err != nil {
						t.Fatal(err)
					}
					id = strconv.Itoa(d.ID)
				},
				Config: dropletConfig(sim, fmt.Sprintf(`
  name            = "hub"
  region          = "fra1"
  size            = "s-2vcpu-4gb"
  ssh_public_keys = [%q]`, key)),
				ResourceName:       "jhub_droplet.hub",
				ImportState:        true,
				ImportStateIdFunc:  func(*terraform.State) (string, error) { return id, nil },
				ImportStatePersist: true,
			},
			{
				Config: dropletConfig(sim, fmt.Sprintf(`
  name            = "hub"
  region          = "fra1"
  size            = "s-2vcpu-4gb"
  ssh_public_keys = [%q]`, key)),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionUpdate),
				}},
				Check: resource.TestCheckResourceAttrPtr("jhub_droplet.hub", "id", &id),
			},
		},
	})
}

// A droplet whose creation fails after it exists stays in state, tainted, so
// that destroy (and the next apply) removes it: nothing is orphaned.
func TestAccDroplet_failedCreateIsTainted(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	key := testPublicKey(t, "a@b")
	cfg := func(timeout string) string {
		return dropletConfig(sim, fmt.Sprintf(`
  name            = "hub"
  region          = "fra1"
  size            = "s-2vcpu-4gb"
  ssh_public_keys = [%q]
  timeouts { create = %q }`, key, timeout))
	}
	accTest(t, resource.TestCase{
		CheckDestroy: nothingLeft(sim),
		Steps: []resource.TestStep{
			{
				PreConfig:   func() { sim.Faults().FailActions(1) },
				Config:      cfg("1m"),
				ExpectError: regexp.MustCompile(`(?s)did not become active.*errored.*tainted`),
			},
			{
				// The tainted droplet is in state; the next plan replaces it.
				Config: cfg("1m"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: func(*terraform.State) error {
					if n := len(sim.Droplets()); n != 1 {
						return fmt.Errorf("want one droplet after replacing the tainted one, found %d", n)
					}
					return nil
				},
			},
			{
				// A second droplet in a slow region times out; destroy still removes it.
				PreConfig: func() { sim.Faults().SlowActions(30 * time.Second) },
				Config: cfg("1m") + fmt.Sprintf(`
resource "jhub_droplet" "slow" {
  name            = "slow"
  region          = "fra1"
  size            = "s-2vcpu-4gb"
  ssh_public_keys = [%q]
  timeouts { create = "2s" }
}`, key),
				ExpectError: regexp.MustCompile(`(?s)did not become active.*deadline`),
			},
		},
	})
}

// Rate limits, server errors and the read-after-create 404 are survived.
func TestAccDroplet_faultsSurvived(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	key := testPublicKey(t, "a@b")
	accTest(t, resource.TestCase{
		CheckDestroy: nothingLeft(sim),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				sim.Faults().RateLimit(2, time.Second)
				sim.Faults().ServerErrors(2, 500)
				sim.Faults().NotFoundAfterCreate(2)
			},
			Config: dropletConfig(sim, fmt.Sprintf(`
  name            = "hub"
  region          = "fra1"
  size            = "s-2vcpu-4gb"
  ssh_public_keys = [%q]`, key)),
			Check: resource.TestCheckResourceAttr("jhub_droplet.hub", "status", "active"),
		}},
	})
}

func TestAccDroplet_validation(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	key := testPublicKey(t, "a@b")
	huge := strings.Repeat("# padding line for the payload size limit\n", 1700)
	for name, tc := range map[string]struct{ body, want string }{
		"no key":      {`ssh_public_keys = null`, `(?s)Set ssh_public_keys or\s+ssh_key_fingerprints`},
		"private key": {`ssh_public_keys = ["-----BEGIN OPENSSH PRIVATE KEY-----"]`, `looks like a private key`},
		"bad key":     {`ssh_public_keys = ["ssh-ed25519 nonsense"]`, `Not an OpenSSH public key`},
		"bad user":    {fmt.Sprintf(`ssh_public_keys = [%q]`+"\n  admin_user = \"Root User\"", key), `must be a Linux user name`},
		"one mirror":  {fmt.Sprintf(`ssh_public_keys = [%q]`+"\n  apt_mirror = \"http://mirror.lab.test/debian\"", key), `(?s)apt_security_mirror`},
		"too large":   {fmt.Sprintf(`ssh_public_keys = [%q]`+"\n  extra_cloud_config = %q", key, "write_files: []\n"+huge), `64`},
	} {
		t.Run(name, func(t *testing.T) {
			accTest(t, resource.TestCase{Steps: []resource.TestStep{{
				Config: dropletConfig(sim, `
  name   = "hub"
  region = "fra1"
  size   = "s-2vcpu-4gb"
  `+tc.body),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(tc.want),
			}}})
		})
	}
	if n := len(sim.Droplets()); n != 0 {
		t.Errorf("validation errors must stop before any API write; %d droplets exist", n)
	}
}
