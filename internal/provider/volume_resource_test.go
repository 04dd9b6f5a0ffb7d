package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/compare"
	tfresource "github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// volumeHub is a droplet with a volume attached; extra goes into the droplet.
func volumeHub(t *testing.T, sim *dosim.Server, key, dropletExtra, volume string) string {
	t.Helper()
	return providerBlock(sim) + fmt.Sprintf(`
resource "jhub_droplet" "hub" {
  name            = "hub"
  region          = "fra1"
  size            = "s-1vcpu-1gb"
  ssh_public_keys = [%q]
%s
}

resource "jhub_volume" "home" {
  name   = "cs101-home"
  region = "fra1"
%s
}

resource "jhub_volume_attachment" "home" {
  droplet_id = jhub_droplet.hub.id
  volume_id  = jhub_volume.home.id
}
`, key, dropletExtra, volume)
}

// nothingLeftAtAll checks that destroy left no droplet, SSH key or volume.
func nothingLeftAtAll(sim *dosim.Server) tfresource.TestCheckFunc {
	return func(s *terraform.State) error {
		if err := nothingLeft(sim)(s); err != nil {
			return err
		}
		if vs := sim.Volumes(); len(vs) != 0 {
			return fmt.Errorf("%d volume(s) left after destroy: %+v", len(vs), vs)
		}
		return nil
	}
}

// attachedTo checks in the simulator that the state's volume is attached to
// exactly the state's droplet, and the droplet has exactly that volume.
func attachedTo(sim *dosim.Server) tfresource.TestCheckFunc {
	return func(s *terraform.State) error {
		rs := s.RootModule().Resources
		vid := rs["jhub_volume.home"].Primary.ID
		did, _ := strconv.Atoi(rs["jhub_droplet.hub"].Primary.ID)
		v, ok := sim.Volume(vid)
		if !ok {
			return fmt.Errorf("volume %s not in the simulator", vid)
		}
		if !slices.Equal(v.DropletIDs, []int{did}) {
			return fmt.Errorf("volume %s is attached to %v, want [%d]", vid, v.DropletIDs, did)
		}
		d, _, _ := sim.Droplet(did)
		if !slices.Equal(d.VolumeIDs, []string{vid}) {
			return fmt.Errorf("droplet %d has volumes %q, want [%s]", did, d.VolumeIDs, vid)
		}
		if got := rs["jhub_volume_attachment.home"].Primary.ID; got != fmt.Sprintf("%d,%s", did, vid) {
			return fmt.Errorf("attachment id %q", got)
		}
		return nil
	}
}

func TestAccVolume_lifecycle(t *testing.T) {
	sim := testSim(t, dosim.Options{ActiveAfter: 100 * time.Millisecond})
	key := testkit.NewSSHKey(t, "teacher@laptop").AuthorizedKey
	vol := func(size int, tags string) string {
		return fmt.Sprintf(`  size = %d
  initial_filesystem_type = "ext4"
  description = "cs101 homes"
  tags = %s`, size, tags)
	}
	var firstDroplet string
	accTest(t, tfresource.TestCase{
		CheckDestroy: nothingLeftAtAll(sim),
		Steps: []tfresource.TestStep{
			{
				Config: volumeHub(t, sim, key, "", vol(10, `["cs101"]`)),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("jhub_volume.home", tfjsonpath.New("size"), knownvalue.Int64Exact(10)),
					statecheck.ExpectKnownValue("jhub_volume.home", tfjsonpath.New("filesystem_type"), knownvalue.StringExact("ext4")),
					statecheck.ExpectKnownValue("jhub_volume.home", tfjsonpath.New("id"), knownvalue.StringRegexp(uuidRE)),
				},
				Check: tfresource.ComposeTestCheckFunc(attachedTo(sim), func(s *terraform.State) error {
					firstDroplet = s.RootModule().Resources["jhub_droplet.hub"].Primary.ID
					return nil
				}),
			},
			{
				// Refreshed: both sides see the attachment; the plan is empty.
				Config:           volumeHub(t, sim, key, "", vol(10, `["cs101"]`)),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("jhub_volume.home", tfjsonpath.New("droplet_ids"), knownvalue.SetSizeExact(1)),
					statecheck.ExpectKnownValue("jhub_droplet.hub", tfjsonpath.New("volume_ids"), knownvalue.SetSizeExact(1)),
				},
			},
			{
				// Grows and retags in place, attached.
				Config: volumeHub(t, sim, key, "", vol(20, `["cs101", "fall-2026"]`)),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_volume.home", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("jhub_volume_attachment.home", plancheck.ResourceActionNoop),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("jhub_volume.home", tfjsonpath.New("size"), knownvalue.Int64Exact(20)),
					statecheck.ExpectKnownValue("jhub_volume.home", tfjsonpath.New("tags"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("cs101"), knownvalue.StringExact("fall-2026")})),
				},
				Check: tfresource.ComposeTestCheckFunc(attachedTo(sim), func(s *terraform.State) error {
					v, _ := sim.Volume(s.RootModule().Resources["jhub_volume.home"].Primary.ID)
					if v.SizeGigaBytes != 20 || !slices.Equal(v.Tags, []string{"cs101", "fall-2026"}) {
						return fmt.Errorf("simulator volume: %d GB, tags %q", v.SizeGigaBytes, v.Tags)
					}
					return nil
				}),
			},
			{
				// Shrinking is a plan error at size; nothing changes.
				Config:      volumeHub(t, sim, key, "", vol(5, `["cs101", "fall-2026"]`)),
				ExpectError: regexp.MustCompile(`(?s)Volume cannot shrink.*with jhub_volume.home.*size is 5 GiB but the volume has 20 GiB`),
			},
			{
				ResourceName:            "jhub_volume.home",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"initial_filesystem_type", "timeouts"},
			},
			{
				ResourceName:            "jhub_volume_attachment.home",
				ImportState:             true,
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"timeouts"},
			},
			{
				// A payload change replaces the droplet: the attachment
				// moves with it and the volume stays.
				Config: volumeHub(t, sim, key, `  extra_cloud_config = "timezone: Europe/Berlin"`, vol(20, `["cs101", "fall-2026"]`)),
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_droplet.hub", plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectResourceAction("jhub_volume_attachment.home", plancheck.ResourceActionDestroyBeforeCreate),
					plancheck.ExpectResourceAction("jhub_volume.home", plancheck.ResourceActionNoop),
				}},
				Check: tfresource.ComposeTestCheckFunc(attachedTo(sim), func(s *terraform.State) error {
					if s.RootModule().Resources["jhub_droplet.hub"].Primary.ID == firstDroplet {
						return fmt.Errorf("droplet %s was not replaced", firstDroplet)
					}
					return nil
				}),
			},
		},
	})
}

func TestAccVolumeSnapshot_newTermFromArchive(t *testing.T) {
	sim := testSim(t, dosim.Options{ActiveAfter: 100 * time.Millisecond})
	cfg := providerBlock(sim) + `
resource "jhub_volume" "fall" {
  name                    = "cs101-fall"
  region                  = "fra1"
  size                    = 10
  initial_filesystem_type = "ext4"
}

resource "jhub_volume_snapshot" "fall" {
  name      = "cs101-fall-2026"
  volume_id = jhub_volume.fall.id
}

resource "jhub_volume" "spring" {
  name        = "cs101-spring"
  region      = "fra1"
  size        = jhub_volume_snapshot.fall.min_disk_size
  snapshot_id = jhub_volume_snapshot.fall.id
}
`
	accTest(t, tfresource.TestCase{
		CheckDestroy: func(*terraform.State) error {
			if n := len(sim.Volumes()) + len(sim.VolumeSnapshots()); n != 0 {
				return fmt.Errorf("%d volumes and snapshots left after destroy", n)
			}
			return nil
		},
		Steps: []tfresource.TestStep{
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("jhub_volume_snapshot.fall", tfjsonpath.New("min_disk_size"), knownvalue.Int64Exact(10)),
					statecheck.ExpectKnownValue("jhub_volume_snapshot.fall", tfjsonpath.New("regions"), knownvalue.SetExact([]knownvalue.Check{knownvalue.StringExact("fra1")})),
					statecheck.CompareValuePairs("jhub_volume_snapshot.fall", tfjsonpath.New("volume_id"), "jhub_volume.fall", tfjsonpath.New("id"), compare.ValuesSame()),
					// The new term's volume has the archive's filesystem.
					statecheck.ExpectKnownValue("jhub_volume.spring", tfjsonpath.New("filesystem_type"), knownvalue.StringExact("ext4")),
				},
			},
			{Config: cfg, ConfigPlanChecks: tfresource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}}},
			{
				// A third volume too small for the archive fails the plan at size.
				Config: cfg + `
resource "jhub_volume" "small" {
  name        = "cs101-small"
  region      = "fra1"
  size        = 5
  snapshot_id = jhub_volume_snapshot.fall.id
}
`,
				ExpectError: regexp.MustCompile(`(?s)Volume smaller than its snapshot.*with jhub_volume.small.*size is 5 GiB but snapshot cs101-fall-2026\s.*needs\s+at\s+least\s+10\s+GiB`),
			},
			{ResourceName: "jhub_volume_snapshot.fall", ImportState: true, ImportStateVerify: true, ImportStateVerifyIgnore: []string{"timeouts"}},
		},
	})
}

// An errored attach is reported at volume_id and leaves the volume
// detached; the next apply attaches it, and destroy waits out a slow
// detach before deleting the volume, leaving nothing behind.
func TestAccVolumeAttachment_faults(t *testing.T) {
	sim := testSim(t, dosim.Options{ActiveAfter: 100 * time.Millisecond})
	key := testkit.NewSSHKey(t, "teacher@laptop").AuthorizedKey
	cfg := volumeHub(t, sim, key, "", `  size = 1`)
	accTest(t, tfresource.TestCase{
		CheckDestroy: nothingLeftAtAll(sim),
		Steps: []tfresource.TestStep{
			{
				PreConfig:   func() { sim.Faults().FailActionsOf("attach_volume", 1) },
				Config:      cfg,
				ExpectError: regexp.MustCompile(`(?s)Cannot attach volume.*with jhub_volume_attachment.home.*volume_id.*ended "errored".*The volume is not attached`),
			},
			{
				// Nothing half-done: no attachment in state, the volume detached.
				Config:   cfg,
				PlanOnly: true, ExpectNonEmptyPlan: true,
				ConfigPlanChecks: tfresource.ConfigPlanChecks{PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("jhub_volume_attachment.home", plancheck.ResourceActionCreate),
				}},
			},
			{
				PreConfig: func() {
					for _, v := range sim.Volumes() {
						if len(v.DropletIDs) != 0 {
							t.Errorf("after the errored attach, volume %s is attached to %v", v.Name, v.DropletIDs)
						}
					}
					sim.Faults().SlowActionsOf("detach_volume", 2*time.Second)
				},
				Config: cfg,
				Check:  attachedTo(sim),
			},
		},
	})
}

// A plan that replaces a droplet with no volume warns at the attribute
// that forces the replacement; with a volume attached it does not. The
// states are what the simulator reports for real droplets.
// (terraform-plugin-testing cannot assert a plan's warnings, so this calls
// the resource's ModifyPlan with the plan Terraform would send.)
func TestAccDroplet_replaceWithoutVolumeWarns(t *testing.T) {
	sim := testSim(t, dosim.Options{ActiveAfter: 100 * time.Millisecond})
	key := testkit.NewSSHKey(t, "teacher@laptop").AuthorizedKey
	var state *terraform.State
	accTest(t, tfresource.TestCase{Steps: []tfresource.TestStep{{
		Config: volumeHub(t, sim, key, "", `  size = 1`),
		Check:  func(s *terraform.State) error { state = s; return nil },
	}}})
	ctx := context.Background()
	do := godo.NewFromToken(testToken)
	if err := setBaseURL(do, sim.URL()); err != nil {
		t.Fatal(err)
	}
	r := &dropletResource{client: &client{do: do}}
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)

	attrs := state.RootModule().Resources["jhub_droplet.hub"].Primary.Attributes
	base := dropletModel{
		ID: types.StringValue(attrs["id"]), Name: types.StringValue("hub"), Region: types.StringValue("fra1"), Size: types.StringValue("s-1vcpu-1gb"),
		ResizeDisk: types.BoolValue(false), Image: types.StringValue(defaultImage), Tags: types.SetNull(types.StringType),
		IPv6: types.BoolValue(false), Monitoring: types.BoolValue(false), Backups: types.BoolValue(false), VPCUUID: types.StringValue(attrs["vpc_uuid"]),
		AdminUser: types.StringValue(defaultAdminUser), SSHKeyFingerprints: types.SetNull(types.StringType),
		ExtraCloudConfig: types.StringNull(), AptMirror: types.StringNull(), AptSecurityMirror: types.StringNull(), SwapMiB: types.Int64Value(2048),
		HostPublicKey: types.StringValue(attrs["host_public_key"]), RegisteredKeyIDs: types.SetValueMust(types.Int64Type, nil),
		Memory: types.Int64Value(1024), VCPUs: types.Int64Value(1), Disk: types.Int64Value(25), IPv4Address: types.StringValue(attrs["ipv4_address"]),
		IPv4AddressPrivate: types.StringValue(""), IPv6Address: types.StringValue(""), Status: types.StringValue("active"),
		VolumeIDs: types.SetValueMust(types.StringType, nil),
	}
	base.SSHPublicKeys, _ = types.ListValueFrom(ctx, types.StringType, []string{key})
	base.Timeouts.Object = types.ObjectNull(map[string]attr.Type{"create": types.StringType, "update": types.StringType, "delete": types.StringType})

	modifyPlan := func(state, plan dropletModel) []string {
		st := tfsdk.State{Schema: sr.Schema, Raw: tftypes.NewValue(sr.Schema.Type().TerraformType(ctx), nil)}
		pl := tfsdk.Plan{Schema: sr.Schema, Raw: tftypes.NewValue(sr.Schema.Type().TerraformType(ctx), nil)}
		if d := st.Set(ctx, &state); d.HasError() {
			t.Fatal(d)
		}
		if d := pl.Set(ctx, &plan); d.HasError() {
			t.Fatal(d)
		}
		req := resource.ModifyPlanRequest{State: st, Plan: pl, Config: tfsdk.Config{Schema: sr.Schema, Raw: pl.Raw}}
		resp := resource.ModifyPlanResponse{Plan: pl}
		r.ModifyPlan(ctx, req, &resp)
		if resp.Diagnostics.HasError() {
			t.Fatalf("ModifyPlan: %v", resp.Diagnostics)
		}
		var out []string
		for _, d := range resp.Diagnostics.Warnings() {
			at := ""
			if wp, ok := d.(interface{ Path() path.Path }); ok {
				at = wp.Path().String()
			}
			out = append(out, at+": "+d.Summary()+": "+d.Detail())
		}
		return out
	}

	changedImage := base
	changedImage.Image = types.StringValue("ubuntu-24-04-x64")
	w := modifyPlan(base, changedImage)
	if len(w) != 1 || !strings.HasPrefix(w[0], "image: The droplet will be replaced: students' files on it are lost") || !strings.Contains(w[0], "Changing image replaces droplet "+attrs["id"]) {
		t.Errorf("image change without a volume: warnings %q", w)
	}
	withVolume := base
	withVolume.VolumeIDs = types.SetValueMust(types.StringType, []attr.Value{types.StringValue(state.RootModule().Resources["jhub_volume.home"].Primary.ID)})
	changedImage.VolumeIDs = withVolume.VolumeIDs
	if w := modifyPlan(withVolume, changedImage); len(w) != 0 {
		t.Errorf("image change with a volume attached: warnings %q", w)
	}
	resized := base
	resized.Size, resized.Memory, resized.VCPUs = types.StringValue("s-1vcpu-2gb"), types.Int64Unknown(), types.Int64Unknown()
	if w := modifyPlan(base, resized); len(w) != 0 {
		t.Errorf("an in-place resize: warnings %q", w)
	}
}
