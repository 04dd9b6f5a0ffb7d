//go:build lab

package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/config"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
)

// quickstartExample is examples/quickstart exactly as shipped.
var quickstartExample = config.StaticDirectory("../../examples/quickstart")

// examples/quickstart as shipped, the DigitalOcean half alone, used as its
// README says: the admin trusts the droplet from the first connection
// through the known_hosts_line output alone, logs in as the admin user
// with sudo, and the hub's name resolves to the droplet in the zone.
// resource.Test's own empty second plan is part of the check.
func TestLabQuickstart(t *testing.T) {
	h := newClassHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	step := h.exampleDirStep(t, quickstartExample, config.Variables{
		"domain":               config.StringVariable(h.zone),
		"admin_ssh_public_key": config.StringVariable(h.adminPub),
	})
	step.Check = func(s *terraform.State) error {
		outputs := s.RootModule().Outputs
		output := func(name string) string {
			if o, ok := outputs[name]; ok {
				if v, ok := o.Value.(string); ok {
					return v
				}
			}
			return ""
		}
		ip, hostKey, ok := strings.Cut(output("known_hosts_line"), " ")
		if !ok || ip != output("hub_address") {
			return fmt.Errorf("known_hosts_line %q does not start with hub_address %q", output("known_hosts_line"), output("hub_address"))
		}
		// The known_hosts line is all the trust there is: a wrong key
		// fails the dial (h.ssh fails the test).
		h.admin, h.hostKey = "teacher", hostKey
		if out := h.ssh(t, ctx, ip, "id -un; sudo -n true && echo sudo"); out != "teacher\nsudo\n" {
			return fmt.Errorf("the admin on the droplet: %q, want teacher with sudo", out)
		}
		name := output("hub_name")
		addrs, err := h.lab.Resolver().LookupHost(ctx, name)
		if err != nil || !slices.Equal(addrs, []string{ip}) {
			return fmt.Errorf("%s resolves to %v (%v), want [%s]", name, addrs, err, ip)
		}
		return nil
	}
	resource.Test(t, resource.TestCase{PreCheck: func() { preCheck(t) }, Steps: []resource.TestStep{step}})
}
