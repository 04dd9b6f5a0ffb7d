package provider

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"
	"github.com/classhub/terraform-provider-jhub/internal/sizing"
	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// planWarnings is the provider as Terraform talks to it, keeping the
// warnings its plans answered with: terraform-plugin-testing can assert a
// plan's errors but not its warnings.
type planWarnings struct {
	tfprotov6.ProviderServer
	mu   sync.Mutex
	seen []string // "<resource type> <attribute>: <summary>: <detail>"
}

func (p *planWarnings) PlanResourceChange(ctx context.Context, req *tfprotov6.PlanResourceChangeRequest) (*tfprotov6.PlanResourceChangeResponse, error) {
	resp, err := p.ProviderServer.PlanResourceChange(ctx, req)
	if resp != nil {
		p.mu.Lock()
		for _, d := range resp.Diagnostics {
			if d.Severity == tfprotov6.DiagnosticSeverityWarning {
				at := ""
				if d.Attribute != nil {
					at = d.Attribute.String()
				}
				p.seen = append(p.seen, fmt.Sprintf("%s %s: %s: %s", req.TypeName, at, d.Summary, d.Detail))
			}
		}
		p.mu.Unlock()
	}
	return resp, err
}

// take returns the warnings seen since the last take.
func (p *planWarnings) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	w := p.seen
	p.seen = nil
	return w
}

func (p *planWarnings) factories() map[string]func() (tfprotov6.ProviderServer, error) {
	return map[string]func() (tfprotov6.ProviderServer, error){"jhub": func() (tfprotov6.ProviderServer, error) {
		s, err := providerserver.NewProtocol6WithError(New("test")())()
		p.ProviderServer = s
		return p, err
	}}
}

// examples/class-hub plans with its roster as expected_students: a roster
// the size holds plans quietly; a larger one warns at size, with the
// roster, the guide's limit and the smallest size that holds the class.
func TestAccExampleClassHub_rosterLargerThanSizeWarns(t *testing.T) {
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "classhub")
	sim := testSim(t, dosim.Options{})
	t.Setenv("DIGITALOCEAN_TOKEN", testToken)
	t.Setenv("DIGITALOCEAN_API_URL", sim.URL())
	pw := &planWarnings{}
	plan := func(roster int) []string {
		vars := classHubVars(t)
		var names []config.Variable
		for i := range roster {
			names = append(names, config.StringVariable(fmt.Sprintf("s%03d", i)))
		}
		vars["students"] = config.ListVariable(names...)
		resource.Test(t, resource.TestCase{PreCheck: func() { preCheck(t) }, Steps: []resource.TestStep{{
			ProtoV6ProviderFactories: pw.factories(),
			ConfigDirectory:          classHubExample,
			ConfigVariables:          vars,
			PlanOnly:                 true,
			ExpectNonEmptyPlan:       true,
		}}})
		var sized []string
		for _, w := range pw.take() {
			if strings.HasPrefix(w, "jhub_droplet ") {
				sized = append(sized, w)
			}
		}
		return sized
	}
	// The example's default size, s-2vcpu-4gb (4 GiB).
	holds := sizing.Students(4096, true)
	if w := plan(holds); len(w) != 0 {
		t.Errorf("a roster of %d on s-2vcpu-4gb: warnings %q", holds, w)
	}
	w := plan(holds + 1)
	want := fmt.Sprintf(`jhub_droplet AttributeName("size"): The droplet is too small for the class: expected_students = %d, but size "s-2vcpu-4gb" (4096 MiB) holds %d students with a running kernel each`, holds+1, holds)
	if len(w) == 0 || !strings.HasPrefix(w[0], want) || !strings.Contains(w[0], `Choose size = "s-4vcpu-8gb" (8192 MiB, holds `) ||
		!strings.Contains(w[0], "docs/guides/sizing.md") {
		t.Errorf("a roster of %d on s-2vcpu-4gb: warnings %q, want one starting %q and naming s-4vcpu-8gb", holds+1, w, want)
	}
	if n := countDroplets(t, sim); n != 0 {
		t.Fatalf("a plan created %d droplets", n)
	}
}

// No size holds a class past the largest one's limit: the warning says so
// instead of naming a size.
func TestAccDroplet_classLargerThanAnySize(t *testing.T) {
	sim := testSim(t, dosim.Options{})
	pw := &planWarnings{}
	resource.Test(t, resource.TestCase{PreCheck: func() { preCheck(t) }, Steps: []resource.TestStep{{
		ProtoV6ProviderFactories: pw.factories(),
		Config: providerBlock(sim) + fmt.Sprintf(`
resource "jhub_droplet" "hub" {
  name              = "hub"
  region            = "fra1"
  size              = "s-8vcpu-16gb"
  expected_students = 500
  ssh_public_keys   = [%q]
}`, testkit.NewSSHKey(t, "teacher@laptop").AuthorizedKey),
		PlanOnly:           true,
		ExpectNonEmptyPlan: true,
	}}})
	w := pw.take()
	if len(w) == 0 || !strings.Contains(w[0], `expected_students = 500, but size "s-8vcpu-16gb" (16384 MiB) holds`) ||
		!strings.Contains(w[0], "No size offered in fra1 holds 500: split the class over several hubs") {
		t.Errorf("500 students: warnings %q", w)
	}
}
