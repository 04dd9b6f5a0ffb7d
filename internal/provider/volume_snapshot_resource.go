package provider

import (
	"context"
	"fmt"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

var (
	_ resource.Resource                = (*volumeSnapshotResource)(nil)
	_ resource.ResourceWithConfigure   = (*volumeSnapshotResource)(nil)
	_ resource.ResourceWithImportState = (*volumeSnapshotResource)(nil)
)

// NewVolumeSnapshotResource is jhub_volume_snapshot: the term-end archive
// of a volume, from which a new term's jhub_volume can start.
func NewVolumeSnapshotResource() resource.Resource { return &volumeSnapshotResource{} }

type volumeSnapshotResource struct{ client *client }

type volumeSnapshotModel struct {
	ID          types.String   `tfsdk:"id"`
	Name        types.String   `tfsdk:"name"`
	VolumeID    types.String   `tfsdk:"volume_id"`
	Regions     types.Set      `tfsdk:"regions"`
	MinDiskSize types.Int64    `tfsdk:"min_disk_size"`
	Size        types.Float64  `tfsdk:"size"`
	CreatedAt   types.String   `tfsdk:"created_at"`
	Timeouts    timeouts.Value `tfsdk:"timeouts"`
}

func (r *volumeSnapshotResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_volume_snapshot"
}

func (r *volumeSnapshotResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *volumeSnapshotResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replace := []planmodifier.String{stringplanmodifier.RequiresReplace()}
	resp.Schema = schema.Schema{
		MarkdownDescription: "A snapshot of a `jhub_volume`: the term-end archive of students' homes, the hub database, course files and the certificates. " +
			"Name it for the term. It outlives the volume; a new `jhub_volume` starts from it with `snapshot_id`. " +
			"Every attribute replaces the snapshot, so protect an archive with `lifecycle { prevent_destroy = true }`.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The snapshot ID.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "The snapshot's name, for example `cs101-fall-2026`. Changing it takes a new snapshot (and deletes this one).",
				Required:            true,
				Validators:          []validator.String{stringvalidator.LengthBetween(1, 255)},
				PlanModifiers:       replace,
			},
			"volume_id": schema.StringAttribute{
				MarkdownDescription: "The volume to snapshot, `jhub_volume.<name>.id`. Changing it takes a new snapshot.",
				Required:            true,
				PlanModifiers:       replace,
			},
			"regions": schema.SetAttribute{
				MarkdownDescription: "The regions the snapshot is available in.",
				Computed:            true,
				ElementType:         types.StringType,
			},
			"min_disk_size": schema.Int64Attribute{
				MarkdownDescription: "The smallest volume, in GiB, that can be created from the snapshot.",
				Computed:            true,
			},
			"size": schema.Float64Attribute{
				MarkdownDescription: "The billable size of the snapshot in GB.",
				Computed:            true,
			},
			"created_at": schema.StringAttribute{
				MarkdownDescription: "When the snapshot was taken (RFC 3339).",
				Computed:            true,
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true}),
		},
	}
}

func (m *volumeSnapshotModel) read(ctx context.Context, s *godo.Snapshot) {
	m.ID = types.StringValue(s.ID)
	m.Name = types.StringValue(s.Name)
	m.VolumeID = types.StringValue(s.ResourceID)
	m.Regions, _ = types.SetValueFrom(ctx, types.StringType, s.Regions) // strings always convert
	m.MinDiskSize = types.Int64Value(int64(s.MinDiskSize))
	m.Size = types.Float64Value(s.SizeGigaBytes)
	m.CreatedAt = types.StringValue(s.Created)
}

func (r *volumeSnapshotResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var plan volumeSnapshotModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, 30*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	vol := plan.VolumeID.ValueString()
	tflog.Info(ctx, "snapshotting volume", map[string]any{"volume": vol, "name": plan.Name.ValueString()})
	s, _, err := r.client.do.Storage.CreateSnapshot(ctx, &godo.SnapshotCreateRequest{VolumeID: vol, Name: plan.Name.ValueString()})
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("volume_id"), "Cannot snapshot volume", apiError(fmt.Sprintf("snapshotting volume %s as %q", vol, plan.Name.ValueString()), err))
		return
	}
	plan.read(ctx, s)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *volumeSnapshotResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var state volumeSnapshotModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	s, _, err := r.client.do.Storage.GetSnapshot(ctx, state.ID.ValueString())
	if isNotFound(err) {
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read volume snapshot", apiError("reading snapshot "+state.ID.ValueString(), err))
		return
	}
	state.read(ctx, s)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update is never called: every attribute replaces the snapshot.
func (r *volumeSnapshotResource) Update(_ context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.State.Raw = req.Plan.Raw
}

func (r *volumeSnapshotResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var state volumeSnapshotModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if _, err := r.client.do.Storage.DeleteSnapshot(ctx, state.ID.ValueString()); err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete volume snapshot", apiError("deleting snapshot "+state.ID.ValueString(), err))
	}
}

// ImportState takes a volume snapshot by its ID.
func (r *volumeSnapshotResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}
