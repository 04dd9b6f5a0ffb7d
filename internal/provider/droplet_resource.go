package provider

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/classhub/terraform-provider-jhub/internal/cloudinit"
)

var (
	_ resource.Resource                   = (*dropletResource)(nil)
	_ resource.ResourceWithConfigure      = (*dropletResource)(nil)
	_ resource.ResourceWithImportState    = (*dropletResource)(nil)
	_ resource.ResourceWithValidateConfig = (*dropletResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*dropletResource)(nil)
)

// NewDropletResource is the jhub_droplet resource. Its parts: the schema
// (droplet_resource_schema.go), the model (_model.go), plan checks
// (_plan.go), droplet actions and polling (_actions.go), SSH keys (_keys.go).
func NewDropletResource() resource.Resource { return &dropletResource{} }

type dropletResource struct{ client *client }

func (r *dropletResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_droplet"
}

func (r *dropletResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *dropletResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var plan dropletModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Create(ctx, 10*time.Minute)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	var registered []int64
	createKeys, extraKeys, d := r.resolveKeys(ctx, &plan, &registered)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		r.deleteKeys(ctx, registered, &resp.Diagnostics)
		return
	}

	cfg, d := plan.bootstrapConfig(ctx, extraKeys)
	resp.Diagnostics.Append(d...)
	hostKey, err := cloudinit.GenerateHostKey()
	if err != nil {
		resp.Diagnostics.AddError("Cannot generate the SSH host key", err.Error())
	}
	cfg.HostKey = hostKey
	userData, err := cloudinit.Render(cfg)
	if err != nil {
		resp.Diagnostics.Append(fieldDiags("Cannot render the bootstrap payload", err)...)
	}
	if resp.Diagnostics.HasError() {
		r.deleteKeys(ctx, registered, &resp.Diagnostics)
		return
	}

	var tags []string
	resp.Diagnostics.Append(plan.Tags.ElementsAs(ctx, &tags, true)...)
	createReq := &godo.DropletCreateRequest{
		Name:       plan.Name.ValueString(),
		Region:     plan.Region.ValueString(),
		Size:       plan.Size.ValueString(),
		Image:      godo.DropletCreateImage{Slug: plan.Image.ValueString()},
		SSHKeys:    createKeys,
		Backups:    plan.Backups.ValueBool(),
		IPv6:       plan.IPv6.ValueBool(),
		Monitoring: plan.Monitoring.ValueBool(),
		UserData:   string(userData),
		Tags:       tags,
		VPCUUID:    plan.VPCUUID.ValueString(),
	}
	tflog.Info(ctx, "creating droplet", map[string]any{"name": createReq.Name, "region": createReq.Region, "size": createReq.Size, "user_data_bytes": len(userData)})
	droplet, apiResp, err := r.client.do.Droplets.Create(ctx, createReq)
	if err != nil {
		resp.Diagnostics.AddError("Cannot create droplet", apiError("creating droplet "+createReq.Name, err))
		r.deleteKeys(ctx, registered, &resp.Diagnostics)
		return
	}

	// The droplet exists: save it now, so a failure while waiting leaves it in
	// state (tainted) and destroy removes it rather than orphaning it.
	plan.ID = types.StringValue(strconv.Itoa(droplet.ID))
	plan.HostPublicKey = types.StringValue(strings.TrimSpace(hostKey.Public))
	plan.RegisteredKeyIDs, d = types.SetValueFrom(ctx, types.Int64Type, registered)
	resp.Diagnostics.Append(d...)
	plan.setComputed(droplet)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)

	if err := r.waitCreated(ctx, droplet.ID, apiResp); err != nil {
		resp.Diagnostics.AddError("Droplet did not become active",
			fmt.Sprintf("Droplet %d was created but did not become active: %s. It is kept in state as tainted; the next apply replaces it and destroy removes it. Raise timeouts.create if the region is slow.", droplet.ID, err))
		return
	}
	droplet, _, err = r.client.do.Droplets.Get(ctx, droplet.ID)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read droplet", apiError(fmt.Sprintf("reading droplet %d after creating it", plan.id()), err))
		return
	}
	plan.setComputed(droplet)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

func (r *dropletResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var state dropletModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	droplet, _, err := r.client.do.Droplets.Get(ctx, state.id())
	if isNotFound(err) {
		tflog.Warn(ctx, "droplet is gone; removing it from state", map[string]any{"id": state.id()})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read droplet", apiError(fmt.Sprintf("reading droplet %d", state.id()), err))
		return
	}
	resp.Diagnostics.Append(state.readDroplet(ctx, droplet)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

// Update changes in place what the API can change: the name, the size, tags,
// backups and IPv6 (on only). Everything else replaces the droplet (the
// schema's plan modifiers), except right after an import, when the payload
// inputs are only recorded. State follows each step, so a failure halfway
// leaves an exact record.
func (r *dropletResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var plan, state dropletModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := plan.Timeouts.Update(ctx, 20*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id := state.id()
	// done records a step in state, or reports why it failed at the attribute.
	done := func(at, summary string, err error, apply func()) bool {
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root(at), summary, err.Error())
			return false
		}
		apply()
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
		return true
	}

	if !plan.Name.Equal(state.Name) {
		err := r.act(ctx, id, "rename", func() (*godo.Action, *godo.Response, error) {
			return r.client.do.DropletActions.Rename(ctx, id, plan.Name.ValueString())
		})
		if !done("name", "Cannot rename droplet", err, func() { state.Name = plan.Name }) {
			return
		}
	}
	if !plan.Size.Equal(state.Size) {
		err := r.resize(ctx, id, plan.Size.ValueString(), plan.ResizeDisk.ValueBool())
		if err != nil {
			err = fmt.Errorf("resizing droplet %d to %s failed: %w; the droplet keeps its old size", id, plan.Size.ValueString(), err)
		}
		if !done("size", "Cannot resize droplet", err, func() {
			state.Size, state.ResizeDisk, state.Memory, state.VCPUs, state.Disk = plan.Size, plan.ResizeDisk, plan.Memory, plan.VCPUs, plan.Disk
		}) {
			return
		}
	}
	if !plan.Tags.Equal(state.Tags) {
		var have, want []string
		resp.Diagnostics.Append(state.Tags.ElementsAs(ctx, &have, true)...)
		resp.Diagnostics.Append(plan.Tags.ElementsAs(ctx, &want, true)...)
		if !done("tags", "Cannot change the droplet's tags", r.setTags(ctx, id, have, want), func() { state.Tags = plan.Tags }) {
			return
		}
	}
	if !plan.Backups.Equal(state.Backups) {
		kind, start := "disable_backups", r.client.do.DropletActions.DisableBackups
		if plan.Backups.ValueBool() {
			kind, start = "enable_backups", r.client.do.DropletActions.EnableBackups
		}
		err := r.act(ctx, id, kind, func() (*godo.Action, *godo.Response, error) { return start(ctx, id) })
		if !done("backups", "Cannot change backups", err, func() { state.Backups = plan.Backups }) {
			return
		}
	}
	if plan.IPv6.ValueBool() && !state.IPv6.ValueBool() {
		err := r.act(ctx, id, "enable_ipv6", func() (*godo.Action, *godo.Response, error) {
			return r.client.do.DropletActions.EnableIPv6(ctx, id)
		})
		if !done("ipv6", "Cannot enable IPv6", err, func() { state.IPv6 = plan.IPv6 }) {
			return
		}
	}
	droplet, _, err := r.client.do.Droplets.Get(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read droplet", apiError(fmt.Sprintf("reading droplet %d after updating it", id), err))
		return
	}
	plan.fillComputed(droplet)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(clearImported(ctx, resp.Private)...)
}

func (r *dropletResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	if !requireClient(r.client, &resp.Diagnostics) {
		return
	}
	var state dropletModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, d := state.Timeouts.Delete(ctx, 10*time.Minute)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id := state.id()
	if _, err := r.client.do.Droplets.Delete(ctx, id); err != nil && !isNotFound(err) {
		resp.Diagnostics.AddError("Cannot delete droplet", apiError(fmt.Sprintf("deleting droplet %d", id), err))
		return
	}
	if err := poll(ctx, func() (bool, error) {
		_, _, err := r.client.do.Droplets.Get(ctx, id)
		if isNotFound(err) {
			return true, nil
		}
		return false, err
	}); err != nil {
		resp.Diagnostics.AddError("Droplet not deleted", fmt.Sprintf("Droplet %d was asked to delete but is still there: %s. Run destroy again, or raise timeouts.delete.", id, err))
		return
	}
	var registered []int64
	resp.Diagnostics.Append(state.RegisteredKeyIDs.ElementsAs(ctx, &registered, true)...)
	r.deleteKeys(ctx, registered, &resp.Diagnostics)
}

// ImportState takes a droplet by ID and marks it imported: its payload is
// unknown, so the first apply records the configured payload inputs instead
// of replacing the droplet.
func (r *dropletResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if _, err := strconv.Atoi(req.ID); err != nil {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("Import a jhub_droplet by its numeric droplet ID, for example `terraform import jhub_droplet.hub 3164444`; %q is not one.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(markImported(ctx, resp.Private)...)
}
