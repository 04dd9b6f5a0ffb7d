package provider

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"
)

const testToken = "dop_v1_acceptance-test-token"

var protoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"jhub": providerserver.NewProtocol6WithError(New("test")()),
}

// testSim starts a DigitalOcean simulator for one test. Every request and
// response it sees is checked against DigitalOcean's OpenAPI spec; a violation
// fails the test when it ends.
func testSim(t *testing.T, opts dosim.Options) *dosim.Server {
	t.Helper()
	opts.Token = testToken
	if opts.ActiveAfter == 0 {
		opts.ActiveAfter = 300 * time.Millisecond // long enough that the provider really waits
	}
	return dosim.NewTest(t, opts)
}

// providerBlock configures the provider for sim, with retry waits short
// enough for tests and long enough to honour Retry-After.
func providerBlock(sim *dosim.Server) string {
	return fmt.Sprintf(`
provider "jhub" {
  token               = %q
  api_endpoint        = %q
  http_retry_max      = 5
  http_retry_wait_min = 0.05
  http_retry_wait_max = 1
}
`, testToken, sim.URL())
}

func preCheck(t *testing.T) {
	if os.Getenv("TF_ACC_TERRAFORM_PATH") == "" {
		t.Fatal("TF_ACC_TERRAFORM_PATH is not set: point it at the terraform binary on this machine (TF_ACC_TERRAFORM_PATH=$(command -v terraform)); the tests never download Terraform.")
	}
}

func accTest(t *testing.T, c resource.TestCase) {
	t.Helper()
	c.PreCheck = func() { preCheck(t) }
	c.ProtoV6ProviderFactories = protoV6ProviderFactories
	resource.Test(t, c)
}
