package provider

import (
	"encoding/json"
	"net/http"
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

// classHubExample is examples/class-hub exactly as shipped.
var classHubExample = config.StaticDirectory("../../examples/class-hub")

// classHubVars are the example's variables as a class admin sets them.
func classHubVars(t *testing.T) config.Variables {
	key := testkit.NewSSHKey(t, "teacher@example")
	return config.Variables{
		"domain":                config.StringVariable("cs101.example.edu"),
		"students":              config.ListVariable(config.StringVariable("alice"), config.StringVariable("bob")),
		"class_password":        config.StringVariable("correct-horse-battery"),
		"admin_passwords":       config.MapVariable(map[string]config.Variable{"teacher": config.StringVariable("the-teachers-own-password")}),
		"acme_email":            config.StringVariable("teacher@example.edu"),
		"admin_ssh_public_key":  config.StringVariable(key.AuthorizedKey),
		"admin_ssh_private_key": config.StringVariable(key.PrivatePEM),
	}
}

// A class admin's mistakes in examples/class-hub fail the first plan, at the
// attribute that is wrong, before any droplet exists.
func TestAccExampleClassHub_planErrors(t *testing.T) {
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "classhub")
	for name, tc := range map[string]struct {
		set  map[string]config.Variable
		want string
	}{
		"missing acme_email":     {map[string]config.Variable{"acme_email": config.StringVariable("")}, `(?s)Error: Invalid hub settings.*\ntls\.acme_email: ""`},
		"missing class password": {map[string]config.Variable{"class_password": config.StringVariable("")}, `(?s)Error: Invalid hub settings.*\nauth\.password_wo: required`},
		"public key as private":  {map[string]config.Variable{"admin_ssh_private_key": config.StringVariable(testkit.NewSSHKey(t, "").AuthorizedKey)}, `(?s)Error: Unusable SSH private key.*ssh_private_key = var.admin_ssh_private_key.*public key`},
		"user name with a space": {map[string]config.Variable{"students": config.ListVariable(config.StringVariable("Alice Smith"))}, `(?s)Error: Invalid hub settings.*\nallowed_users\["Alice Smith"\]: "Alice Smith" is not a valid user name`},
		"package with a version": {map[string]config.Variable{"student_packages": config.ListVariable(config.StringVariable("python3-numpy"), config.StringVariable("python3-pandas=2.2.3"))},
			`(?s)Error: Invalid Debian package name.*student_packages\["python3-pandas=2.2.3"\]: .*write\s+"python3-pandas"`},
		"every mistake in one plan": {map[string]config.Variable{"acme_email": config.StringVariable(""), "class_password": config.StringVariable("short")},
			`(?s)Error: Invalid hub settings.*(auth\.password_wo: too short.*tls\.acme_email|tls\.acme_email.*auth\.password_wo: too short)`},
	} {
		t.Run(name, func(t *testing.T) {
			sim := testSim(t, dosim.Options{})
			t.Setenv("DIGITALOCEAN_TOKEN", testToken)
			t.Setenv("DIGITALOCEAN_API_URL", sim.URL())
			vars := classHubVars(t)
			for k, v := range tc.set {
				vars[k] = v
			}
			// The example has its own provider block, so the provider is
			// given per step.
			resource.Test(t, resource.TestCase{PreCheck: func() { preCheck(t) }, Steps: []resource.TestStep{{
				ProtoV6ProviderFactories: protoV6ProviderFactories,
				ConfigDirectory:          classHubExample,
				ConfigVariables:          vars,
				PlanOnly:                 true,
				ExpectError:              regexp.MustCompile(tc.want),
			}}})
			if n := countDroplets(t, sim); n != 0 {
				t.Fatalf("the failed plan left %d droplets behind", n)
			}
		})
	}
}

func countDroplets(t *testing.T, sim *dosim.Server) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, sim.URL()+"/v2/droplets", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Droplets []json.RawMessage `json:"droplets"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return len(body.Droplets)
}

// examples/class-hub as a class admin fills it in plans cleanly, with the
// public key as file() reads it (a trailing newline) and the per-student
// limits and the class volume known before anything exists.
func TestAccExampleClassHub_plans(t *testing.T) {
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "classhub")
	sim := testSim(t, dosim.Options{})
	t.Setenv("DIGITALOCEAN_TOKEN", testToken)
	t.Setenv("DIGITALOCEAN_API_URL", sim.URL())
	vars := classHubVars(t)
	key := testkit.NewSSHKey(t, "teacher@laptop")
	vars["admin_ssh_public_key"] = config.StringVariable(key.AuthorizedKey + "\n")
	vars["admin_ssh_private_key"] = config.StringVariable(key.PrivatePEM)
	resource.Test(t, resource.TestCase{PreCheck: func() { preCheck(t) }, Steps: []resource.TestStep{{
		ProtoV6ProviderFactories: protoV6ProviderFactories,
		ConfigDirectory:          classHubExample,
		ConfigVariables:          vars,
		PlanOnly:                 true,
		ExpectNonEmptyPlan:       true,
		ConfigPlanChecks: resource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
			plancheck.ExpectKnownValue("jhub_edge.hub", tfjsonpath.New("limits").AtMapKey("memory_max_mib"), knownvalue.Int64Exact(1792)),
			plancheck.ExpectKnownValue("jhub_edge.hub", tfjsonpath.New("hub_url"), knownvalue.StringExact("https://hub.cs101.example.edu/")),
			// The class volume's name, so its device on the droplet, is known before anything exists.
			plancheck.ExpectKnownValue("jhub_edge.hub", tfjsonpath.New("volume_name"), knownvalue.StringExact("cs101-example-edu-class")),
		}},
	}}})
	if n := countDroplets(t, sim); n != 0 {
		t.Fatalf("a plan created %d droplets", n)
	}
}
