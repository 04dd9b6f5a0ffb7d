package provider

import (
	"maps"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"
	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// campusSSOExample is examples/campus-sso exactly as shipped.
var campusSSOExample = config.StaticDirectory("../../examples/campus-sso")

// examples/campus-sso plans as a class admin fills it in, for both kinds
// of campus provider (a login name, or an e-mail address in the campus's
// domains); an admin's mistakes fail the first plan, at the variable or
// attribute that is wrong, before any droplet exists.
func TestAccExampleCampusSSO_plans(t *testing.T) {
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "classhub")
	key := testkit.NewSSHKey(t, "teacher@example")
	base := config.Variables{
		"domain":                config.StringVariable("cs101.example.edu"),
		"students":              config.ListVariable(config.StringVariable("alice"), config.StringVariable("JSmith")),
		"admins":                config.ListVariable(config.StringVariable("teacher")),
		"oidc_issuer_url":       config.StringVariable("https://sso.example.edu/realms/campus"),
		"oidc_client_id":        config.StringVariable("jupyterhub-cs101"),
		"oidc_client_secret":    config.StringVariable("a-client-secret-from-the-campus"),
		"acme_email":            config.StringVariable("teacher@example.edu"),
		"admin_ssh_public_key":  config.StringVariable(key.AuthorizedKey),
		"admin_ssh_private_key": config.StringVariable(key.PrivatePEM),
	}
	email := config.Variables{"oidc_username_claim": config.StringVariable("email"), "oidc_allowed_domains": config.ListVariable(config.StringVariable("example.edu"))}
	for name, tc := range map[string]struct {
		set  config.Variables
		want string // an error; none: the plan succeeds
	}{
		"preferred_username": {},
		"email with domains": {set: email},
		// A domain list only counts with email: the example leaves it out.
		"preferred_username ignores domains": {set: config.Variables{"oidc_allowed_domains": config.ListVariable(config.StringVariable("example.edu"))}},
		"email without domains":              {set: config.Variables{"oidc_username_claim": config.StringVariable("email")}, want: `(?s)Invalid value for variable.*list the campus e-mail domains`},
		"unknown claim":                      {set: config.Variables{"oidc_username_claim": config.StringVariable("sub")}, want: `(?s)Invalid value for variable.*"preferred_username" or "email"`},
		"http issuer":                        {set: config.Variables{"oidc_issuer_url": config.StringVariable("http://sso.example.edu/")}, want: `(?s)Invalid value for variable.*https:// issuer`},
		"upper-case domain":                  {set: config.Variables{"oidc_username_claim": config.StringVariable("email"), "oidc_allowed_domains": config.ListVariable(config.StringVariable("Example.EDU"))}, want: `(?s)Error: Invalid hub settings.*auth\.allowed_domains\[0\]: "Example.EDU" is not a lower-case domain name`},
		"no secret":                          {set: config.Variables{"oidc_client_secret": config.StringVariable("")}, want: `(?s)Error: Invalid hub settings.*auth\.client_secret`},
	} {
		t.Run(name, func(t *testing.T) {
			sim := testSim(t, dosim.Options{})
			t.Setenv("DIGITALOCEAN_TOKEN", testToken)
			t.Setenv("DIGITALOCEAN_API_URL", sim.URL())
			vars := maps.Clone(base)
			maps.Copy(vars, tc.set)
			step := resource.TestStep{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				ConfigDirectory:          campusSSOExample,
				ConfigVariables:          vars,
				PlanOnly:                 true,
				ExpectNonEmptyPlan:       true,
			}
			if tc.want != "" {
				step.ExpectError = regexp.MustCompile(tc.want)
			} else {
				step.ConfigPlanChecks.PostApplyPostRefresh = []plancheck.PlanCheck{
					// The roster is lower-cased, as the edge lower-cases the claim.
					plancheck.ExpectKnownValue("jhub_edge.hub", tfjsonpath.New("allowed_users"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("alice"), knownvalue.StringExact("jsmith")})),
					plancheck.ExpectKnownValue("jhub_edge.hub", tfjsonpath.New("volume_name"), knownvalue.StringExact("cs101-example-edu-class")),
				}
			}
			resource.Test(t, resource.TestCase{PreCheck: func() { preCheck(t) }, Steps: []resource.TestStep{step}})
			if n := countDroplets(t, sim); n != 0 {
				t.Fatalf("a plan created %d droplets", n)
			}
		})
	}
}
