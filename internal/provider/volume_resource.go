package provider

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

var (
	_ resource.Resource                = (*volumeResource)(nil)
	_ resource.ResourceWithConfigure   = (*volumeResource)(nil)
	_ resource.ResourceWithImportState = (*volumeResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*volumeResource)(nil)
)

// maxVolumeGiB is DigitalOcean's largest volume (16 TiB).
const maxVolumeGiB = 16384

// NewVolumeResource is jhub_volume: a block storage volume that outlives
// droplets. Attributes follow DigitalOcean's own provider where it has names.
func NewVolumeResource() resource.Resource { return &volumeResource{} }

type volumeResource struct{ client *client }

type volumeModel struct {
	ID                     types.String   `tfsdk:"id"`
	Name                   types.String   `tfsdk:"name"`
	Region                 types.String   `tfsdk:"region"`
	Size                   types.Int64    `tfsdk:"size"`
	InitialFilesystemType  types.String   `tfsdk:"initial_filesystem_type"`
	InitialFilesystemLabel types.String   `tfsdk:"initial_filesystem_label"`
	Description            types.String   `tfsdk:"description"`
	SnapshotID             types.String   `tfsdk:"snapshot_id"`
	Tags                   types.Set      `tfsdk:"tags"`
	FilesystemType         types.String   `tfsdk:"filesystem_type"`
	DropletIDs             types.Set      `tfsdk:"droplet_ids"`
	Timeouts               timeouts.Value `tfsdk:"timeouts"`
}

// volumeNameRE is DigitalOcean's rule for volume names.
var volumeNameRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

func checkVolumeName(name string) string {
	if !volumeNameRE.MatchString(name) {
		return fmt.Sprintf("%q is not a DigitalOcean volume name: lowercase letters, digits and '-', starting with a letter, at most 64 characters.", name)
	}
	return ""
}

func (r *volumeResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_volume"
}

func (r *volumeResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *volumeResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A DigitalOcean block storage volume for the class: it outlives droplets, so a hub rebuilt on a new droplet finds students' files on it. " +
			"Attach it with `jhub_volume_attachment`. `size` grows in place and never shrinks; `tags` change in place; everything else replaces the volume, " +
			"and with it the data: protect it with `lifecycle { prevent_destroy = true }`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The volume ID (a UUID).",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "The volume's name: lowercase letters, digits and '-', starting with a letter, at most 64. " +
					"On the droplet the volume is `/dev/disk/by-id/scsi-0DO_Volume_<name>`. Changing it replaces the volume.",
				Required:      true,
				Validators:    []validator.String{checkString("Invalid volume name", "must be a DigitalOcean volume name", checkVolumeName)},
				PlanModifiers: replace,
			},
			"region": schema.StringAttribute{
				MarkdownDescription: "The region slug, the droplet's. Changing it replaces the volume.",
				Required:            true,
				PlanModifiers:       replace,
			},
			"size": schema.Int64Attribute{
				MarkdownDescription: "The size in GiB, 1 to 16384. Grows in place (a `resize` volume action; the filesystem is grown on the droplet); a smaller size is refused at plan time.",
				Required:            true,
				Validators:          []validator.Int64{int64validator.Between(1, maxVolumeGiB)},
			},
			"initial_filesystem_type": schema.StringAttribute{
				MarkdownDescription: "`ext4` or `xfs`: DigitalOcean formats the new volume with it. Unset, the volume is created blank. Ignored with `snapshot_id`. Changing it replaces the volume.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf("ext4", "xfs")},
				PlanModifiers:       replace,
			},
			"initial_filesystem_label": schema.StringAttribute{
				MarkdownDescription: "The filesystem label to format with, with `initial_filesystem_type` (ext4: at most 16 characters, xfs: 12). Changing it replaces the volume.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.LengthBetween(1, 16), stringvalidator.AlsoRequires(path.MatchRoot("initial_filesystem_type"))},
				PlanModifiers:       replace,
			},
			"description": schema.StringAttribute{
				MarkdownDescription: "Free text. DigitalOcean cannot change it: changing it replaces the volume.",
				Optional:            true,
				PlanModifiers:       replace,
			},
			"snapshot_id": schema.StringAttribute{
				MarkdownDescription: "A `jhub_volume_snapshot` (or any volume snapshot) to create the volume from, for example last term's archive; `size` must be at least the snapshot's `min_disk_size`. Changing it replaces the volume.",
				Optional:            true,
				PlanModifiers:       replace,
			},
			"tags": schema.SetAttribute{
				MarkdownDescription: "Tags for the volume. Change in place.",
				Optional:            true,
				ElementType:         types.StringType,
				Validators:          []validator.Set{setvalidator.ValueStringsAre(checkString("Invalid tag", "must be a DigitalOcean tag", checkTag))},
			},
			"filesystem_type": computedString("The filesystem DigitalOcean reports on the volume (empty for a blank one)."),
			"droplet_ids": schema.SetAttribute{
				MarkdownDescription: "The droplets the volume is attached to (at most one), as DigitalOcean reports them.",
				Computed:            true,
				ElementType:         types.Int64Type,
				PlanModifiers:       []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

// ModifyPlan refuses to shrink a volume: DigitalOcean cannot, and
// replacing the volume to get a smaller one would lose the class's data. A
// new volume from a snapshot must hold the snapshot.
func (r *volumeResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan, state volumeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if req.State.Raw.IsNull() {
		r.checkSnapshotSize(ctx, &plan, &resp.Diagnostics)
		return
	}
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || plan.Size.IsUnknown() || state.Size.IsNull() {
		return
	}
	if have, want := state.Size.ValueInt64(), plan.Size.ValueInt64(); want < have {
		resp.Diagnostics.AddAttributeError(path.Root("size"), "Volume cannot shrink",
			fmt.Sprintf("size is %d GiB but the volume has %d GiB, and DigitalOcean volumes only grow. Keep size at %d or more; "+
				"to move to a smaller volume, snapshot this one, copy the data to a new volume and switch the hub to it.", want, have, have))
	}
}

// checkSnapshotSize checks, once both are known, that a volume created
// from a snapshot is at least the snapshot's min_disk_size.
func (r *volumeResource) checkSnapshotSize(ctx context.Context, plan *volumeModel, diags *diag.Diagnostics) {
	if r.client == nil || plan.SnapshotID.IsNull() || plan.SnapshotID.IsUnknown() || plan.Size.IsUnknown() {
		return
	}
	id := plan.SnapshotID.ValueString()
	snap, _, err := r.client.do.Storage.GetSnapshot(ctx, id)
	switch {
	case isNotFound(err):
		diags.AddAttributeError(path.Root("snapshot_id"), "No such volume snapshot",
			fmt.Sprintf("Volume snapshot %q does not exist in the account; `doctl compute snapshot list --resource volume` lists them.", id))
	case err != nil:
		diags.AddAttributeError(path.Root("snapshot_id"), "Cannot check the snapshot", apiError("reading volume snapshot "+id, err))
	case plan.Size.ValueInt64() < int64(snap.MinDiskSize):
		diags.AddAttributeError(path.Root("size"), "Volume smaller than its snapshot",
			fmt.Sprintf("size is %d GiB but snapshot %s (%s) needs at least %d GiB: set size to %d or more (size = jhub_volume_snapshot.<name>.min_disk_size).",
				plan.Size.ValueInt64(), snap.Name, id, snap.MinDiskSize, snap.MinDiskSize))
	}
}

func (r *volumeResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var plan volumeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, 5*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var tags []string
	resp.Diagnostics.Append(plan.Tags.ElementsAs(ctx, &tags, true)...)
	if resp.Diagnostics.HasError() {
		return
	}
	creq := &godo.VolumeCreateRequest{
		Region: plan.Region.ValueString(), Name: plan.Name.ValueString(), Description: plan.Description.ValueString(),
		SizeGigaBytes: plan.Size.ValueInt64(), SnapshotID: plan.SnapshotID.ValueString(),
		FilesystemType: plan.InitialFilesystemType.ValueString(), FilesystemLabel: plan.InitialFilesystemLabel.ValueString(), Tags: tags,
	}
	tflog.Info(ctx, "creating volume", map[string]any{"name": creq.Name, "region": creq.Region, "size": creq.SizeGigaBytes})
	v, _, err := r.client.do.Storage.CreateVolume(ctx, creq)
	if err != nil {
		at := path.Root("name")
		if creq.SnapshotID != "" {
			at = path.Root("snapshot_id")
		}
		resp.Diagnostics.AddAttributeError(at, "Cannot create volume", apiError(fmt.Sprintf("creating volume %s in %s", creq.Name, creq.Region), err))
		return
	}
	resp.Diagnostics.Append(plan.read(ctx, v)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// read sets what the API tells about a volume; the initial_* inputs and
// snapshot_id are only known to creation and stay as configured.
func (m *volumeModel) read(ctx context.Context, v *godo.Volume) (diags diag.Diagnostics) {
	m.ID = types.StringValue(v.ID)
	m.Name = types.StringValue(v.Name)
	if v.Region != nil {
		m.Region = types.StringValue(v.Region.Slug)
	}
	m.Size = types.Int64Value(v.SizeGigaBytes)
	if v.Description != "" || !m.Description.IsNull() {
		m.Description = types.StringValue(v.Description)
	}
	if len(v.Tags) > 0 || !m.Tags.IsNull() {
		var d diag.Diagnostics
		m.Tags, d = types.SetValueFrom(ctx, types.StringType, v.Tags)
		diags.Append(d...)
	}
	m.FilesystemType = types.StringValue(v.FilesystemType)
	ids := make([]int64, 0, len(v.DropletIDs))
	for _, id := range v.DropletIDs {
		ids = append(ids, int64(id))
	}
	var d diag.Diagnostics
	m.DropletIDs, d = types.SetValueFrom(ctx, types.Int64Type, ids)
	diags.Append(d...)
	return diags
}

func (r *volumeResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var state volumeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	v, _, err := r.client.do.Storage.GetVolume(ctx, state.ID.ValueString())
	if isNotFound(err) {
		tflog.Warn(ctx, "volume is gone; removing it from state", map[string]any{"id": state.ID.ValueString()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read volume", apiError("reading volume "+state.ID.ValueString(), err))
		return
	}
	resp.Diagnostics.Append(state.read(ctx, v)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update grows the volume and changes its tags; the rest replaces it.
func (r *volumeResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var plan, state volumeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Update(ctx, 10*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id := state.ID.ValueString()
	if plan.Size.ValueInt64() > state.Size.ValueInt64() {
		err := volumeAction(ctx, r.client.do, id, "resize", func() (*godo.Action, *godo.Response, error) {
			return r.client.do.StorageActions.Resize(ctx, id, int(plan.Size.ValueInt64()), state.Region.ValueString())
		})
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("size"), "Cannot grow the volume", fmt.Sprintf("%s; the volume keeps %d GiB.", err, state.Size.ValueInt64()))
			return
		}
		state.Size = plan.Size
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	}
	if !plan.Tags.Equal(state.Tags) {
		var have, want []string
		resp.Diagnostics.Append(state.Tags.ElementsAs(ctx, &have, true)...)
		resp.Diagnostics.Append(plan.Tags.ElementsAs(ctx, &want, true)...)
		if err := setResourceTags(ctx, r.client.do, godo.Resource{ID: id, Type: godo.VolumeResourceType}, have, want); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("tags"), "Cannot change the volume's tags", err.Error())
			return
		}
	}
	v, _, err := r.client.do.Storage.GetVolume(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read volume", apiError("reading volume "+id+" after updating it", err))
		return
	}
	resp.Diagnostics.Append(plan.read(ctx, v)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *volumeResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var state volumeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := state.Timeouts.Delete(ctx, 5*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id := state.ID.ValueString()
	v, _, err := r.client.do.Storage.GetVolume(ctx, id)
	if isNotFound(err) {
		return
	}
	if err == nil && len(v.DropletIDs) > 0 {
		// Never detach behind the configuration's back: a hub may be using it.
		resp.Diagnostics.AddAttributeError(path.Root("droplet_ids"), "Volume still attached",
			fmt.Sprintf("Volume %s (%s) is attached to droplet %v. Remove its jhub_volume_attachment (or detach it) first, then destroy the volume.", v.Name, id, v.DropletIDs))
		return
	}
	if _, err := r.client.do.Storage.DeleteVolume(ctx, id); err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete volume", apiError("deleting volume "+id, err))
	}
}

// ImportState takes a volume by its ID. What only creation knew
// (initial_filesystem_*, snapshot_id) is adopted from the configuration.
func (r *volumeResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if !uuidRE.MatchString(req.ID) {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("Import a jhub_volume by its volume ID (a UUID), for example `terraform import jhub_volume.home 506f78a4-e098-11e5-ad9f-000f53306ae1`; %q is not one. `doctl compute volume list` shows the IDs.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// volumeAction starts a volume action and waits for it to complete.
func volumeAction(ctx context.Context, do *godo.Client, volumeID, kind string, start func() (*godo.Action, *godo.Response, error)) error {
	tflog.Info(ctx, "volume action", map[string]any{"volume": volumeID, "type": kind})
	a, _, err := start()
	if err != nil {
		return fmt.Errorf("starting %s on volume %s: %w", kind, volumeID, err)
	}
	err = waitAction(ctx, func() (*godo.Action, *godo.Response, error) { return do.StorageActions.Get(ctx, volumeID, a.ID) })
	if err != nil {
		return fmt.Errorf("%s on volume %s: %w", kind, volumeID, err)
	}
	return nil
}

// setResourceTags moves a resource from the tags it has to the tags it
// should have through the tag endpoints: a tag is created (creating an
// existing one is harmless) before the resource is tagged with it.
// Untagged tags stay in the account; other resources may carry them.
func setResourceTags(ctx context.Context, do *godo.Client, res godo.Resource, have, want []string) error {
	rs := []godo.Resource{res}
	for _, t := range have {
		if slices.Contains(want, t) {
			continue
		}
		if _, err := do.Tags.UntagResources(ctx, t, &godo.UntagResourcesRequest{Resources: rs}); err != nil && !isNotFound(err) {
			return fmt.Errorf("untagging %s %s from %q: %w", res.Type, res.ID, t, err)
		}
	}
	for _, t := range want {
		if slices.Contains(have, t) {
			continue
		}
		tag, _, err := do.Tags.Create(ctx, &godo.TagCreateRequest{Name: t})
		if err != nil {
			return fmt.Errorf("creating tag %q: %w", t, err)
		}
		if _, err := do.Tags.TagResources(ctx, tag.Name, &godo.TagResourcesRequest{Resources: rs}); err != nil {
			return fmt.Errorf("tagging %s %s with %q: %w", res.Type, res.ID, t, err)
		}
	}
	return nil
}
