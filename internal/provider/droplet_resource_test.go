package provider

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/classhub/terraform-provider-jhub/internal/cloudinit/schematest"
	"github.com/classhub/terraform-provider-jhub/internal/dosim"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

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
	key := testkit.NewSSHKey(t, "teacher@laptop").AuthorizedKey
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
	sameID := statecheck.CompareValue(compare.ValuesSame())
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
					// The size's figures come from the sizes API before anything exists.
					plancheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("memory"), knownvalue.Int64Exact(1024)),
					plancheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("vcpus"), knownvalue.Int64Exact(1)),
					plancheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("disk"), knownvalue.Int64Exact(25)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue("jhub_droplet.hub", tfjsonpath.New("id")),
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
				// Rename and resize in place: the droplet keeps its ID, and its
				// disk, since resize_disk is off.
				Config: dropletConfig(sim, base+`
  name = "hub-cs101-fall"
  size = "s-2vcpu-4gb"`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("memory"), knownvalue.Int64Exact(4096)),
					plancheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("vcpus"), knownvalue.Int64Exact(2)),
					plancheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("disk"), knownvalue.Int64Exact(25)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue("jhub_droplet.hub", tfjsonpath.New("id")),
					statecheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("status"), knownvalue.StringExact("active")),
				},
				Check: resource.ComposeTestCheckFunc(
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
// bootstrap inputs, unknowable from the API, are now recorded; the next plan
// is empty, and from then on a payload change replaces the droplet.
func TestAccDroplet_importThenApply(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	key := testkit.NewSSHKey(t, "a@b").AuthorizedKey
	var id string
	cfg := func(extra string) string {
		return dropletConfig(sim, fmt.Sprintf(`
  name            = "hub"
  region          = "fra1"
  size            = "s-2vcpu-4gb"
  admin_user      = "teacher"
  swap_mib        = 0
  ssh_public_keys = [%q]`, key)+extra)
	}
	sameID := statecheck.CompareValue(compare.ValuesSame())
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
				Config:             cfg(""),
				ResourceName:       "jhub_droplet.hub",
				ImportState:        true,
				ImportStateIdFunc:  func(*terraform.State) (string, error) { return id, nil },
				ImportStatePersist: true,
			},
			{
				Config: cfg(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionUpdate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue("jhub_droplet.hub", tfjsonpath.New("id")),
					statecheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("admin_user"), knownvalue.StringExact("teacher")),
					statecheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("swap_mib"), knownvalue.Int64Exact(0)),
				},
				Check: resource.TestCheckResourceAttrPtr("jhub_droplet.hub", "id", &id),
			},
			{
				Config: cfg(""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{
				// Adopted: a payload change now takes a new droplet.
				Config: cfg("\n  extra_cloud_config = \"packages: [htop]\""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: func(s *terraform.State) error {
					if got := s.RootModule().Resources["jhub_droplet.hub"].Primary.ID; got == id {
						return fmt.Errorf("droplet %s was kept although its payload changed", id)
					}
					return nil
				},
			},
		},
	})
}

// Adding extra_cloud_config to a running droplet replaces it, and the new
// droplet boots with it: an update in place would change nothing.
func TestAccDroplet_payloadChangeReplaces(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	key := testkit.NewSSHKey(t, "a@b").AuthorizedKey
	cfg := func(extra string) string {
		return dropletConfig(sim, fmt.Sprintf(`
  name            = "hub"
  region          = "fra1"
  size            = "s-2vcpu-4gb"
  ssh_public_keys = [%q]`, key)+extra)
	}
	otherID := statecheck.CompareValue(compare.ValuesDiffer())
	accTest(t, resource.TestCase{
		CheckDestroy: nothingLeft(sim),
		Steps: []resource.TestStep{
			{
				Config:            cfg(""),
				ConfigStateChecks: []statecheck.StateCheck{otherID.AddStateValue("jhub_droplet.hub", tfjsonpath.New("id"))},
			},
			{
				Config: cfg("\n  extra_cloud_config = \"timezone: Europe/Berlin\""),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionDestroyBeforeCreate),
				}},
				ConfigStateChecks: []statecheck.StateCheck{otherID.AddStateValue("jhub_droplet.hub", tfjsonpath.New("id"))},
				Check: simDroplet(t, sim, func(_ map[string]string, _ godo.Droplet, ud string) error {
					if !strings.Contains(ud, "Europe/Berlin") {
						return fmt.Errorf("the new droplet's user_data lacks the extra cloud-config")
					}
					return nil
				}),
			},
		},
	})
}

// Tags, backups and turning IPv6 on change the droplet in place through the
// API, as DigitalOcean's own provider does; turning IPv6 off cannot.
func TestAccDroplet_inPlace(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	key := testkit.NewSSHKey(t, "a@b").AuthorizedKey
	cfg := func(attrs string) string {
		return dropletConfig(sim, fmt.Sprintf(`
  name            = "hub"
  region          = "fra1"
  size            = "s-2vcpu-4gb"
  ssh_public_keys = [%q]
`, key)+attrs)
	}
	sameID := statecheck.CompareValue(compare.ValuesSame())
	inSim := func(want func(d godo.Droplet) string) resource.TestCheckFunc {
		return simDroplet(t, sim, func(_ map[string]string, d godo.Droplet, _ string) error {
			if msg := want(d); msg != "" {
				return errors.New(msg)
			}
			return nil
		})
	}
	update := resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
		plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionUpdate),
	}}
	accTest(t, resource.TestCase{
		CheckDestroy: nothingLeft(sim),
		Steps: []resource.TestStep{
			{
				Config:            cfg(`tags = ["cs101"]`),
				ConfigStateChecks: []statecheck.StateCheck{sameID.AddStateValue("jhub_droplet.hub", tfjsonpath.New("id"))},
			},
			{
				Config: cfg(`
  tags    = ["cs101", "fall-2025"]
  backups = true
  ipv6    = true`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionUpdate),
					plancheck.ExpectUnknownValue("jhub_droplet.hub", tfjsonpath.New("ipv6_address")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					sameID.AddStateValue("jhub_droplet.hub", tfjsonpath.New("id")),
					statecheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("ipv6_address"), knownvalue.StringRegexp(regexp.MustCompile(`^2001:db8:d0::`))),
				},
				Check: inSim(func(d godo.Droplet) string {
					if !slices.Equal(d.Tags, []string{"cs101", "fall-2025"}) || !slices.Contains(d.Features, "backups") || !slices.Contains(d.Features, "ipv6") {
						return fmt.Sprintf("simulator has tags %q, features %q", d.Tags, d.Features)
					}
					return ""
				}),
			},
			{
				Config: cfg(`
  tags    = ["fall-2025"]
  backups = false
  ipv6    = true`),
				ConfigPlanChecks:  update,
				ConfigStateChecks: []statecheck.StateCheck{sameID.AddStateValue("jhub_droplet.hub", tfjsonpath.New("id"))},
				Check: inSim(func(d godo.Droplet) string {
					if !slices.Equal(d.Tags, []string{"fall-2025"}) || slices.Contains(d.Features, "backups") {
						return fmt.Sprintf("simulator has tags %q, features %q", d.Tags, d.Features)
					}
					return ""
				}),
			},
			{
				Config: cfg(`
  tags = ["fall-2025"]
  ipv6 = false`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionDestroyBeforeCreate),
				}},
			},
		},
	})
}

// resize_disk grows the disk with the size; without it a resize keeps the
// disk and can be undone. A grown disk never shrinks: the plan says so.
func TestAccDroplet_resizeDisk(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	key := testkit.NewSSHKey(t, "a@b").AuthorizedKey
	cfg := func(region, size string, grow bool) string {
		return dropletConfig(sim, fmt.Sprintf(`
  name            = "hub"
  region          = %q
  size            = %q
  resize_disk     = %t
  ssh_public_keys = [%q]`, region, size, grow, key))
	}
	resized := func(disk int64) resource.ConfigPlanChecks {
		return resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
			plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionUpdate),
			plancheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("disk"), knownvalue.Int64Exact(disk)),
		}}
	}
	simDisk := func(want int) resource.TestCheckFunc {
		return simDroplet(t, sim, func(_ map[string]string, d godo.Droplet, _ string) error {
			if d.Disk != want {
				return fmt.Errorf("simulator's droplet has a %d GB disk, want %d", d.Disk, want)
			}
			return nil
		})
	}
	accTest(t, resource.TestCase{
		CheckDestroy: nothingLeft(sim),
		Steps: []resource.TestStep{
			{Config: cfg("fra1", "s-1vcpu-1gb", false), Check: simDisk(25)},
			{Config: cfg("fra1", "s-2vcpu-4gb", false), ConfigPlanChecks: resized(25), Check: simDisk(25)},
			{Config: cfg("fra1", "s-1vcpu-1gb", false), ConfigPlanChecks: resized(25), Check: simDisk(25)},
			{Config: cfg("fra1", "s-2vcpu-4gb", true), ConfigPlanChecks: resized(80), Check: simDisk(80)},
			{
				Config:      cfg("fra1", "s-1vcpu-1gb", true),
				ExpectError: regexp.MustCompile(`(?s)Size too small for the droplet's disk.*with jhub_droplet.hub.*size.*80 GB`),
			},
			{
				// A new droplet in another region may be small: nothing shrinks.
				Config: cfg("ams3", "s-1vcpu-1gb", true),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("disk"), knownvalue.Int64Exact(25)),
				}},
				Check: simDisk(25),
			},
		},
	})
}

// A droplet whose creation fails after it exists stays in state, tainted, so
// that destroy (and the next apply) removes it: nothing is orphaned.
func TestAccDroplet_failedCreateIsTainted(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	key := testkit.NewSSHKey(t, "a@b").AuthorizedKey
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
	key := testkit.NewSSHKey(t, "a@b").AuthorizedKey
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
	key := testkit.NewSSHKey(t, "a@b").AuthorizedKey
	withKey := fmt.Sprintf(`ssh_public_keys = [%q]`, key)
	huge := strings.Repeat("# padding line for the payload size limit\n", 1700)
	for name, tc := range map[string]struct{ body, want string }{
		"no key":       {`ssh_public_keys = null`, `(?s)No SSH key.*Set ssh_public_keys or\s+ssh_key_fingerprints`},
		"private key":  {`ssh_public_keys = ["-----BEGIN OPENSSH PRIVATE KEY-----"]`, `looks like a private key`},
		"bad key":      {`ssh_public_keys = ["ssh-ed25519 nonsense"]`, `Not an OpenSSH public key`},
		"bad user":     {withKey + "\n  admin_user = \"Root User\"", `(?s)admin_user = "Root User".*is not a Linux user name`},
		"system user":  {withKey + "\n  admin_user = \"root\"", `(?s)Invalid bootstrap payload.*admin_user.*system account on Debian`},
		"one mirror":   {withKey + "\n  apt_mirror = \"http://mirror.lab.test/debian\"", `(?s)Mirror set alone.*apt_mirror is set but\s+apt_security_mirror`},
		"too large":    {withKey + fmt.Sprintf("\n  extra_cloud_config = %q", "write_files: []\n"+huge), `(?s)extra_cloud_config.*64`},
		"owned key":    {withKey + "\n  extra_cloud_config = \"ssh_pwauth: true\"", `(?s)extra_cloud_config.*"ssh_pwauth" is managed by the provider`},
		"debian 12":    {withKey + "\n  image = \"debian-12-x64\"", `(?s)image = "debian-12-x64".*CVE-2024-28233.*image = "debian-13-x64"`},
		"bad tag":      {withKey + "\n  tags = [\"class 101\"]", `(?s)Invalid tag.*not a DigitalOcean tag`},
		"unknown key":  {`ssh_key_fingerprints = ["3b:16:e4:bf:8b:00:8b:b8:59:8c:a9:d3:f0:19:fa:45"]`, `(?s)Unknown SSH key.*3b:16:e4`},
		"unknown size": {withKey + "\n  size = \"s-64vcpu-1tb\"", `(?s)Unknown size.*"s-64vcpu-1tb" is not a DigitalOcean droplet size`},
	} {
		t.Run(name, func(t *testing.T) {
			body := tc.body
			if !strings.Contains(body, "size =") {
				body += "\n  size = \"s-2vcpu-4gb\""
			}
			accTest(t, resource.TestCase{Steps: []resource.TestStep{{
				Config: dropletConfig(sim, `
  name   = "hub"
  region = "fra1"
  `+body),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(tc.want),
			}}})
		})
	}
	if n := len(sim.Droplets()); n != 0 {
		t.Errorf("validation errors must stop before any API write; %d droplets exist", n)
	}
}

// Every broken rule of a configuration is reported in one plan, each at its
// attribute, so an admin fixes them in one go.
func TestAccDroplet_errorsTogether(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	accTest(t, resource.TestCase{Steps: []resource.TestStep{{
		Config: dropletConfig(sim, `
  name       = "Hub"
  region     = "fra1"
  size       = "s-2vcpu-4gb"
  image      = "debian-12-x64"
  admin_user = "Teacher"
  apt_mirror = "http://mirror.lab.test/debian"`),
		PlanOnly: true,
		ExpectError: regexp.MustCompile(`(?s)` + strings.Join([]string{
			`Invalid droplet name.*name\s+= "Hub"`,
			`Unsafe or invalid image.*CVE-2024-28233`,
			`Invalid admin user.*"Teacher"`,
		}, ".*")),
	}}})
	// The cross-attribute rules come in the same report.
	accTest(t, resource.TestCase{Steps: []resource.TestStep{{
		Config: dropletConfig(sim, `
  name       = "hub"
  region     = "fra1"
  size       = "s-2vcpu-4gb"
  apt_mirror = "http://mirror.lab.test/debian"`),
		PlanOnly:    true,
		ExpectError: regexp.MustCompile(`(?s)No SSH key.*Mirror set alone|(?s)Mirror set alone.*No SSH key`),
	}}})
}
