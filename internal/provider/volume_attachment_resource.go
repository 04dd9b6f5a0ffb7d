package provider

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
)

var (
	_ resource.Resource                = (*volumeAttachmentResource)(nil)
	_ resource.ResourceWithConfigure   = (*volumeAttachmentResource)(nil)
	_ resource.ResourceWithImportState = (*volumeAttachmentResource)(nil)
)

// NewVolumeAttachmentResource is jhub_volume_attachment. Attachment is its
// own resource, as in DigitalOcean's provider, rather than an attribute of
// jhub_droplet: when the droplet is replaced, Terraform detaches the volume
// before the old droplet goes and attaches it to the new one after it is
// up, and the volume's lifecycle stays independent of any droplet's.
func NewVolumeAttachmentResource() resource.Resource { return &volumeAttachmentResource{} }

type volumeAttachmentResource struct{ client *client }

type volumeAttachmentModel struct {
	ID        types.String   `tfsdk:"id"`
	DropletID types.Int64    `tfsdk:"droplet_id"`
	VolumeID  types.String   `tfsdk:"volume_id"`
	Timeouts  timeouts.Value `tfsdk:"timeouts"`
}

func (r *volumeAttachmentResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_volume_attachment"
}

func (r *volumeAttachmentResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *volumeAttachmentResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Attaches a `jhub_volume` to a `jhub_droplet` through DigitalOcean's volume actions, waiting for each to finish. " +
			"Replacing the droplet detaches the volume first and attaches it to the new droplet; destroying the attachment detaches it and keeps the volume. " +
			"An attach that fails leaves the volume detached.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "`<droplet_id>,<volume_id>`.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"droplet_id": schema.Int64Attribute{
				MarkdownDescription: "The droplet, `jhub_droplet.<name>.id`, in the volume's region. Changing it moves the volume (detach, then attach).",
				Required:            true,
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.RequiresReplace()},
			},
			"volume_id": schema.StringAttribute{
				MarkdownDescription: "The volume, `jhub_volume.<name>.id`. Changing it replaces the attachment.",
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Delete: true}),
		},
	}
}

func (r *volumeAttachmentResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var plan volumeAttachmentModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, 5*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	droplet, vol := int(plan.DropletID.ValueInt64()), plan.VolumeID.ValueString()
	err := volumeAction(ctx, r.client.do, vol, "attach", func() (*godo.Action, *godo.Response, error) {
		return r.client.do.StorageActions.Attach(ctx, vol, droplet)
	})
	if err != nil {
		// Nothing may stay half-attached: if the volume ended up on the
		// droplet anyway, detach it, since state will not record it.
		detail := fmt.Sprintf("Attaching volume %s to droplet %d failed: %s. The volume is not attached; apply again to retry.", vol, droplet, err)
		if attached, aerr := r.attached(ctx, vol, droplet); aerr == nil && attached {
			if derr := r.detach(ctx, vol, droplet); derr != nil {
				detail = fmt.Sprintf("Attaching volume %s to droplet %d failed: %s, and the volume is attached nonetheless; detaching it failed too: %s. Detach it by hand (doctl compute volume-action detach %s %d).", vol, droplet, err, derr, vol, droplet)
			}
		}
		resp.Diagnostics.AddAttributeError(path.Root("volume_id"), "Cannot attach volume", detail)
		return
	}
	plan.ID = types.StringValue(fmt.Sprintf("%d,%s", droplet, vol))
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// attached reports whether the volume is attached to the droplet.
func (r *volumeAttachmentResource) attached(ctx context.Context, vol string, droplet int) (bool, error) {
	v, _, err := r.client.do.Storage.GetVolume(ctx, vol)
	if err != nil {
		return false, err
	}
	return slices.Contains(v.DropletIDs, droplet), nil
}

func (r *volumeAttachmentResource) detach(ctx context.Context, vol string, droplet int) error {
	return volumeAction(ctx, r.client.do, vol, "detach", func() (*godo.Action, *godo.Response, error) {
		return r.client.do.StorageActions.DetachByDropletID(ctx, vol, droplet)
	})
}

func (r *volumeAttachmentResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var state volumeAttachmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	droplet, vol := int(state.DropletID.ValueInt64()), state.VolumeID.ValueString()
	attached, err := r.attached(ctx, vol, droplet)
	if isNotFound(err) || err == nil && !attached {
		tflog.Warn(ctx, "volume is no longer attached; removing the attachment from state", map[string]any{"volume": vol, "droplet": droplet})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read volume", apiError("reading volume "+vol, err))
		return
	}
	state.ID = types.StringValue(fmt.Sprintf("%d,%s", droplet, vol))
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update is never called: every attribute replaces the attachment.
func (r *volumeAttachmentResource) Update(_ context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	resp.State.Raw = req.Plan.Raw
}

func (r *volumeAttachmentResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var state volumeAttachmentModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := state.Timeouts.Delete(ctx, 5*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	droplet, vol := int(state.DropletID.ValueInt64()), state.VolumeID.ValueString()
	// 404: the droplet is gone (which detached it) or the volume is not attached.
	if err := r.detach(ctx, vol, droplet); err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot detach volume", fmt.Sprintf("%s. Unmount it on the droplet if it is busy, then destroy again.", err))
	}
}

// ImportState takes `<droplet_id>,<volume_id>`.
func (r *volumeAttachmentResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	d, v, ok := strings.Cut(req.ID, ",")
	id, err := strconv.ParseInt(d, 10, 64)
	if !ok || err != nil || !uuidRE.MatchString(v) {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("Import a jhub_volume_attachment as <droplet_id>,<volume_id>, for example `terraform import jhub_volume_attachment.home 3164444,506f78a4-e098-11e5-ad9f-000f53306ae1`; %q is not one.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("droplet_id"), id)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("volume_id"), v)...)
}
