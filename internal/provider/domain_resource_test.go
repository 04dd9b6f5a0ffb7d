package provider

import (
	"context"
	"fmt"
	"regexp"
	"sort"
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

	"github.com/classhub/terraform-provider-jhub/internal/dosim"
)

// zoneRecords lists a zone's records in the simulator as "name TYPE data ttl".
func zoneRecords(sim *dosim.Server, zone string) []string {
	var out []string
	for _, r := range sim.Records(zone) {
		switch r.Type {
		case "NS", "SOA":
			continue
		case "CAA":
			out = append(out, fmt.Sprintf("%s CAA %d %s %s", r.Name, r.Flags, r.Tag, r.Data))
		default:
			out = append(out, fmt.Sprintf("%s %s %s %d", r.Name, r.Type, r.Data, r.TTL))
		}
	}
	sort.Strings(out)
	return out
}

func expectRecords(sim *dosim.Server, zone string, want ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		sort.Strings(want)
		got := zoneRecords(sim, zone)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			return fmt.Errorf("records of %s in the simulator:\n%s\nwant:\n%s", zone, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		return nil
	}
}

func zoneGone(sim *dosim.Server, zone string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, d := range sim.Domains() {
			if d.Name == zone {
				return fmt.Errorf("zone %s still exists after destroy", zone)
			}
		}
		return nil
	}
}

func simClient(t *testing.T, sim *dosim.Server) *godo.Client {
	t.Helper()
	c := godo.NewFromToken(testToken)
	if err := setBaseURL(c, sim.URL()); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestAccDomain_lifecycle(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	const zone = "cs101.example.edu"
	cfg := func(records string) string {
		return providerBlock(sim) + fmt.Sprintf(`
resource "jhub_domain" "class" {
  name       = %q
  caa_issuer = "letsencrypt.org"
  records    = {%s}
}`, zone, records)
	}
	accTest(t, resource.TestCase{
		CheckDestroy: zoneGone(sim, zone),
		Steps: []resource.TestStep{
			{
				Config: cfg(`
    hub = { ipv4 = "198.18.0.10", ipv6 = "2001:db8::10" }
    "@" = { ipv4 = "198.18.0.11", ttl = 300 }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_domain.class", plancheck.ResourceActionCreate),
					// Names are known at plan time, so dependants can use them before apply.
					plancheck.ExpectKnownValue("jhub_domain.class", tfjsonpath.New("fqdns").AtMapKey("hub"), knownvalue.StringExact("hub."+zone)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("jhub_domain.class", tfjsonpath.New("id"), knownvalue.StringExact(zone)),
					statecheck.ExpectKnownValue("jhub_domain.class", tfjsonpath.New("fqdns"), knownvalue.MapExact(map[string]knownvalue.Check{
						"hub": knownvalue.StringExact("hub." + zone),
						"@":   knownvalue.StringExact(zone),
					})),
					statecheck.ExpectKnownValue("jhub_domain.class", tfjsonpath.New("records").AtMapKey("hub").AtMapKey("ttl"), knownvalue.Int64Exact(1800)),
					statecheck.ExpectKnownValue("jhub_domain.class", tfjsonpath.New("owns_zone"), knownvalue.Bool(true)),
					// What the admin sets at the registrar, from the zone's NS records.
					statecheck.ExpectKnownValue("jhub_domain.class", tfjsonpath.New("name_servers"), knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact("ns1.digitalocean.com"), knownvalue.StringExact("ns2.digitalocean.com"), knownvalue.StringExact("ns3.digitalocean.com"),
					})),
				},
				Check: expectRecords(sim, zone,
					"hub A 198.18.0.10 1800", "hub AAAA 2001:db8::10 1800", "@ A 198.18.0.11 300",
					"@ CAA 0 issue letsencrypt.org", "@ CAA 0 issuewild ;"),
			},
			{
				// Change an address and a TTL, drop a record, add one: all in place.
				Config: cfg(`
    hub = { ipv4 = "198.18.0.20", ttl = 60 }
    www = { ipv4 = "198.18.0.21" }`),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_domain.class", plancheck.ResourceActionUpdate),
				}},
				Check: expectRecords(sim, zone,
					"hub A 198.18.0.20 60", "www A 198.18.0.21 1800",
					"@ CAA 0 issue letsencrypt.org", "@ CAA 0 issuewild ;"),
			},
			{
				// An import owns nothing until an apply adopts what the configuration names.
				ResourceName:  "jhub_domain.class",
				ImportState:   true,
				ImportStateId: zone,
				ImportStateCheck: func(is []*terraform.InstanceState) error {
					a := is[0].Attributes
					if a["id"] != zone || a["owns_zone"] != "false" || a["records.%"] != "0" || a["record_ids.%"] != "0" || a["name_servers.#"] != "3" {
						return fmt.Errorf("imported state = %v", a)
					}
					return nil
				},
			},
			{
				// Changing the zone name replaces the resource.
				Config: strings.Replace(cfg(`hub = { ipv4 = "198.18.0.20" }`), zone, "cs102.example.edu", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_domain.class", plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: resource.ComposeTestCheckFunc(zoneGone(sim, zone), expectRecords(sim, "cs102.example.edu",
					"hub A 198.18.0.20 1800", "@ CAA 0 issue letsencrypt.org", "@ CAA 0 issuewild ;")),
			},
		},
	})
}

// Records deleted or changed by hand come back on the next apply.
func TestAccDomain_driftRepaired(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	const zone = "drift.example.edu"
	cfg := providerBlock(sim) + fmt.Sprintf(`
resource "jhub_domain" "class" {
  name    = %q
  records = { hub = { ipv4 = "198.18.0.30" }, www = { ipv4 = "198.18.0.31" } }
}`, zone)
	tamper := func() {
		c := simClient(t, sim)
		ctx := context.Background()
		for _, r := range sim.Records(zone) {
			switch r.Name {
			case "hub":
				if _, err := c.Domains.DeleteRecord(ctx, zone, r.ID); err != nil {
					t.Fatal(err)
				}
			case "www":
				if _, _, err := c.Domains.EditRecord(ctx, zone, r.ID, &godo.DomainRecordEditRequest{Type: "A", Name: "www", Data: "198.18.9.9", TTL: 1800}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	accTest(t, resource.TestCase{
		CheckDestroy: zoneGone(sim, zone),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: tamper,
				Config:    cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_domain.class", plancheck.ResourceActionUpdate),
				}},
				Check: expectRecords(sim, zone, "hub A 198.18.0.30 1800", "www A 198.18.0.31 1800"),
			},
		},
	})
}

// In an adopted zone, destroy removes only what the resource created.
func TestAccDomain_adoptExisting(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	const zone = "dept.example.edu"
	if err := sim.SeedDomain(zone,
		godo.DomainRecordEditRequest{Type: "A", Name: "www", Data: "198.18.1.1", TTL: 3600},
		godo.DomainRecordEditRequest{Type: "TXT", Name: "@", Data: "v=spf1 -all", TTL: 3600},
	); err != nil {
		t.Fatal(err)
	}
	foreign := []string{"www A 198.18.1.1 3600", "@ TXT v=spf1 -all 3600"}
	cfg := func(adopt bool, label string) string {
		return providerBlock(sim) + fmt.Sprintf(`
resource "jhub_domain" "class" {
  name           = %q
  adopt_existing = %t
  records        = { %s = { ipv4 = "198.18.0.40" } }
}`, zone, adopt, label)
	}
	accTest(t, resource.TestCase{
		CheckDestroy: expectRecords(sim, zone, foreign...),
		Steps: []resource.TestStep{
			{Config: cfg(false, "hub"), ExpectError: regexp.MustCompile(`(?s)already exists.*adopt_existing = true`)},
			// A record beside a foreign one for the same name would split the traffic.
			{Config: cfg(true, "www"), ExpectError: regexp.MustCompile(`(?s)already has an A record for "www".*did\s+not\s+create`)},
			{
				Config: cfg(true, "hub"),
				Check:  expectRecords(sim, zone, append([]string{"hub A 198.18.0.40 1800"}, foreign...)...),
			},
		},
	})
}

// Importing a zone adopts it: the first apply takes over the records the
// configuration names, the next plan is empty, records it never managed are
// untouched, adopted ones are released rather than deleted, and destroy
// leaves the zone with everything this resource did not create.
func TestAccDomain_importAdopts(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	const zone = "dept.example.edu"
	if err := sim.SeedDomain(zone,
		godo.DomainRecordEditRequest{Type: "A", Name: "hub", Data: "198.18.1.10", TTL: 1800},
		godo.DomainRecordEditRequest{Type: "A", Name: "www", Data: "198.18.1.1", TTL: 3600},
		godo.DomainRecordEditRequest{Type: "A", Name: "mail", Data: "198.18.1.2", TTL: 3600},
		godo.DomainRecordEditRequest{Type: "MX", Name: "@", Data: "mail.dept.example.edu", Priority: 10, TTL: 3600},
	); err != nil {
		t.Fatal(err)
	}
	var hubID int
	for _, r := range sim.Records(zone) {
		if r.Name == "hub" {
			hubID = r.ID
		}
	}
	unmanaged := []string{"www A 198.18.1.1 3600", "mail A 198.18.1.2 3600", "@ MX mail.dept.example.edu 3600"}
	cfg := func(records string) string {
		return providerBlock(sim) + fmt.Sprintf(`
resource "jhub_domain" "class" {
  name    = %q
  records = {%s}
}`, zone, records)
	}
	hub := `hub = { ipv4 = "198.18.0.40" }`
	accTest(t, resource.TestCase{
		CheckDestroy: resource.ComposeTestCheckFunc(
			// The zone stays, and so does every record but the one this resource created.
			expectRecords(sim, zone, append([]string{"hub A 198.18.0.40 1800"}, unmanaged...)...),
		),
		Steps: []resource.TestStep{
			{
				Config:             cfg(hub),
				ResourceName:       "jhub_domain.class",
				ImportState:        true,
				ImportStateId:      zone,
				ImportStatePersist: true,
			},
			{
				// The apply adopts hub in place; www and mail are in no plan.
				Config: cfg(hub),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_domain.class", plancheck.ResourceActionUpdate),
					plancheck.ExpectKnownValue("jhub_domain.class", tfjsonpath.New("owns_zone"), knownvalue.Bool(false)),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("jhub_domain.class", tfjsonpath.New("adopted_record_ids"), knownvalue.MapExact(map[string]knownvalue.Check{
						"hub/A": knownvalue.Int64Exact(int64(hubID)),
					})),
					statecheck.ExpectKnownValue("jhub_domain.class", tfjsonpath.New("record_ids"), knownvalue.MapSizeExact(0)),
				},
				Check: expectRecords(sim, zone, append([]string{"hub A 198.18.0.40 1800"}, unmanaged...)...),
			},
			{
				Config: cfg(hub),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
			},
			{
				// A record added now is created, and owned.
				Config: cfg(hub + "\n    lab = { ipv4 = \"198.18.0.41\" }"),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("jhub_domain.class", tfjsonpath.New("record_ids"), knownvalue.MapSizeExact(1)),
				},
				Check: expectRecords(sim, zone, append([]string{"hub A 198.18.0.40 1800", "lab A 198.18.0.41 1800"}, unmanaged...)...),
			},
			{
				// hub leaves the configuration: it was adopted, so it stays in the zone.
				Config: cfg(`lab = { ipv4 = "198.18.0.41" }`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("jhub_domain.class", tfjsonpath.New("adopted_record_ids"), knownvalue.MapSizeExact(0)),
				},
				Check: expectRecords(sim, zone, append([]string{"hub A 198.18.0.40 1800", "lab A 198.18.0.41 1800"}, unmanaged...)...),
			},
		},
	})
	if len(sim.Records(zone)) == 0 {
		t.Errorf("destroy deleted the imported zone %s", zone)
	}
}

// An import adopts one record per name and type; with two, the plan fails
// at the record rather than guessing which one is the hub's.
func TestAccDomain_importAmbiguous(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	const zone = "twice.example.edu"
	if err := sim.SeedDomain(zone,
		godo.DomainRecordEditRequest{Type: "A", Name: "hub", Data: "198.18.1.10", TTL: 1800},
		godo.DomainRecordEditRequest{Type: "A", Name: "hub", Data: "198.18.1.11", TTL: 1800},
	); err != nil {
		t.Fatal(err)
	}
	cfg := providerBlock(sim) + fmt.Sprintf(`
resource "jhub_domain" "class" {
  name    = %q
  records = { hub = { ipv4 = "198.18.0.40" } }
}`, zone)
	accTest(t, resource.TestCase{
		CheckDestroy: expectRecords(sim, zone, "hub A 198.18.1.10 1800", "hub A 198.18.1.11 1800"),
		Steps: []resource.TestStep{
			{Config: cfg, ResourceName: "jhub_domain.class", ImportState: true, ImportStateId: zone, ImportStatePersist: true},
			{Config: cfg, ExpectError: regexp.MustCompile(`(?s)records = { hub.*has 2 A records for "hub"`)},
		},
	})
}

func TestAccDomain_validation(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	for name, tc := range map[string]struct{ zone, records, want string }{
		"zone with capitals": {"Example.edu", `hub = { ipv4 = "198.18.0.1" }`, `(?s)capitals.*"example.edu"`},
		"zone trailing dot":  {"example.edu.", `hub = { ipv4 = "198.18.0.1" }`, `ends with a dot`},
		"label with zone":    {"example.edu", `"hub.example.edu" = { ipv4 = "198.18.0.1" }`, `(?s)includes the zone name.*write "hub"`},
		"label syntax":       {"example.edu", `"hub_1" = { ipv4 = "198.18.0.1" }`, `invalid part "hub_1"`},
		"empty label":        {"example.edu", `"" = { ipv4 = "198.18.0.1" }`, `use "@"`},
		"v6 in ipv4":         {"example.edu", `hub = { ipv4 = "2001:db8::1" }`, `(?s)not an IPv4 address.*ipv6`},
		"v4 in ipv6":         {"example.edu", `hub = { ipv6 = "198.18.0.1" }`, `not an IPv6 address`},
		"bad ip":             {"example.edu", `hub = { ipv4 = "198.18.0.300" }`, `not an IP address`},
		"ttl too low":        {"example.edu", `hub = { ipv4 = "198.18.0.1", ttl = 10 }`, `(?s)ttl.*at least 30`},
		"no address":         {"example.edu", `hub = { ttl = 300 }`, `sets neither ipv4 nor ipv6`},
	} {
		t.Run(name, func(t *testing.T) {
			accTest(t, resource.TestCase{Steps: []resource.TestStep{{
				Config: providerBlock(sim) + fmt.Sprintf(`
resource "jhub_domain" "x" {
  name    = %q
  records = { %s }
}`, tc.zone, tc.records),
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(tc.want),
			}}})
		})
	}
	if len(sim.Domains()) != 0 {
		t.Errorf("validation errors must stop before any API write; the simulator has %v", sim.Domains())
	}
}

// The provider survives rate limiting, server errors and the API's
// read-after-write lag, and still leaves exactly the right records.
func TestAccDomain_faults(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	const zone = "faults.example.edu"
	cfg := providerBlock(sim) + fmt.Sprintf(`
resource "jhub_domain" "class" {
  name    = %q
  records = { hub = { ipv4 = "198.18.0.50" }, www = { ipv4 = "198.18.0.51" } }
}`, zone)
	accTest(t, resource.TestCase{
		CheckDestroy: zoneGone(sim, zone),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				sim.Faults().RateLimit(3, time.Second)
				sim.Faults().ServerErrors(2, 503)
			},
			Config: cfg,
			Check:  expectRecords(sim, zone, "hub A 198.18.0.50 1800", "www A 198.18.0.51 1800"),
		}},
	})
}

// A create that fails halfway keeps what it made in state (tainted); destroy
// then removes exactly that, and nothing is left in the account.
func TestAccDomain_failedCreateCleansUp(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	const zone = "half.example.edu"
	accTest(t, resource.TestCase{
		CheckDestroy: zoneGone(sim, zone),
		Steps: []resource.TestStep{{
			PreConfig: func() {
				// A 422 is final (never retried): the zone exists, its record cannot be made.
				sim.Faults().On("POST", "/v2/domains/"+zone+"/records").ServerErrors(1, 422)
			},
			Config: providerBlock(sim) + fmt.Sprintf(`
resource "jhub_domain" "class" {
  name    = %q
  records = { hub = { ipv4 = "198.18.0.60" } }
}`, zone),
			ExpectError: regexp.MustCompile(`Cannot create record`),
		}},
	})
}

// Slow API answers are waited for, not mistaken for failures.
func TestAccDomain_latency(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	const zone = "slow.example.edu"
	accTest(t, resource.TestCase{
		CheckDestroy: zoneGone(sim, zone),
		Steps: []resource.TestStep{{
			PreConfig: func() { sim.Faults().Latency(400 * time.Millisecond) },
			Config: providerBlock(sim) + fmt.Sprintf(`
resource "jhub_domain" "class" {
  name    = %q
  records = { hub = { ipv4 = "198.18.0.70" } }
}`, zone),
			Check: expectRecords(sim, zone, "hub A 198.18.0.70 1800"),
		}},
	})
}
