//go:build lab

package provider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/classhub/terraform-provider-jhub/internal/hubclient"
)

// noSecretInState fails when any of the secrets appears anywhere in the
// state Terraform shows (every resource, every attribute).
type noSecretInState []string

func (n noSecretInState) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	raw, err := json.Marshal(req.State)
	if err != nil {
		resp.Error = err
		return
	}
	if !strings.Contains(string(raw), `"jhub_edge"`) {
		resp.Error = fmt.Errorf("the state shows no jhub_edge: %.300s", raw)
		return
	}
	for _, s := range n {
		if strings.Contains(string(raw), s) {
			resp.Error = fmt.Errorf("a write-only secret (%d characters) is in the state", len(s))
		}
	}
}

// The class password and the admins' passwords given write-only: the hub
// runs with them, the state holds neither, a plan afterwards is empty, a new
// value without a new version changes nothing, a new version installs the
// new value, and a hand-edited password file is repaired from the
// configuration.
func TestLabWriteOnlySecrets(t *testing.T) {
	h := newClassHub(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	const teacher = "teacher-wo-password-1234"
	config := func(password string, version int) string {
		return strings.Replace(h.config([]string{"alice"}, "/"),
			`auth          = { kind = "shared-password", password = "class-password", admin_passwords = { teacher = "teacher-password-1234" } }`,
			fmt.Sprintf(`auth = {
    kind                       = "shared-password"
    password_wo                = %q
    password_wo_version        = %d
    admin_passwords_wo         = { teacher = %q }
    admin_passwords_wo_version = 1
  }`, password, version, teacher), 1)
	}
	var ip string
	login := func(user, password string) error {
		return h.client(t, "/").Login(ctx, user, password)
	}
	// refused wants the hub's own refusal, not any failure on the way.
	refused := func(user, password string) error {
		err := login(user, password)
		if err == nil {
			return fmt.Errorf("%s logged in with a password that should no longer work", user)
		}
		if !errors.Is(err, hubclient.ErrLoginRefused) {
			return fmt.Errorf("want the hub to refuse the password, got %w", err)
		}
		return nil
	}
	const pwFile = "/opt/jhub/current/secrets/hub_password"
	hub := "jhub_edge.hub"
	accTest(t, resource.TestCase{
		Steps: []resource.TestStep{
			{
				Config: config("wo-class-password-1", 1),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(hub, tfjsonpath.New("auth").AtMapKey("password_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(hub, tfjsonpath.New("auth").AtMapKey("admin_passwords_wo"), knownvalue.Null()),
					statecheck.ExpectKnownValue(hub, tfjsonpath.New("auth").AtMapKey("password_wo_version"), knownvalue.Int64Exact(1)),
					noSecretInState{"wo-class-password-1", teacher},
				},
				Check: resource.ComposeTestCheckFunc(
					func(s *terraform.State) error {
						ip = dropletIP(s)
						h.hostKey = s.RootModule().Resources["jhub_droplet.hub"].Primary.Attributes["host_public_key"]
						return nil
					},
					func(*terraform.State) error {
						if out := strings.TrimSpace(h.ssh(t, ctx, ip, "sudo stat -c '%a %U' "+pwFile)); out != "600 root" {
							return fmt.Errorf("%s is %q, want 600 root", pwFile, out)
						}
						if err := login("alice", "wo-class-password-1"); err != nil {
							return err
						}
						return login("teacher", teacher)
					},
				),
			},
			{
				// A new value without a new version: nothing to do, and the
				// droplet keeps the installed password.
				Config: config("changed-without-version", 1),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectEmptyPlan(),
				}},
				Check: func(*terraform.State) error {
					if err := login("alice", "wo-class-password-1"); err != nil {
						return err
					}
					return refused("alice", "changed-without-version")
				},
			},
			{
				// A new version installs the configured value, in place.
				Config: config("wo-class-password-2", 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(hub, plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionNoop),
				}},
				ConfigStateChecks: []statecheck.StateCheck{noSecretInState{"wo-class-password-1", "wo-class-password-2", teacher}},
				Check: func(*terraform.State) error {
					if err := login("alice", "wo-class-password-2"); err != nil {
						return err
					}
					if err := login("teacher", teacher); err != nil {
						return err
					}
					return refused("alice", "wo-class-password-1")
				},
			},
			{
				// A hand-edited password file is drift, repaired from the configuration.
				PreConfig: func() { h.ssh(t, ctx, ip, "echo tampered-password | sudo tee "+pwFile+" >/dev/null") },
				Config:    config("wo-class-password-2", 2),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(hub, plancheck.ResourceActionUpdate),
				}},
				Check: func(*terraform.State) error {
					if err := login("alice", "wo-class-password-2"); err != nil {
						return err
					}
					return refused("alice", "tampered-password")
				},
			},
		},
	})
}
