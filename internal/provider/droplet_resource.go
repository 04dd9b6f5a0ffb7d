package provider

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"
	"golang.org/x/crypto/ssh"

	"github.com/classhub/terraform-provider-jhub/internal/cloudinit"
)

var (
	_ resource.Resource                = (*dropletResource)(nil)
	_ resource.ResourceWithConfigure   = (*dropletResource)(nil)
	_ resource.ResourceWithImportState = (*dropletResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*dropletResource)(nil)
)

// NewDropletResource is the jhub_droplet resource.
func NewDropletResource() resource.Resource { return &dropletResource{} }

type dropletResource struct{ client *client }

type dropletModel struct {
	ID                 types.String   `tfsdk:"id"`
	Name               types.String   `tfsdk:"name"`
	Region             types.String   `tfsdk:"region"`
	Size               types.String   `tfsdk:"size"`
	Image              types.String   `tfsdk:"image"`
	Tags               types.Set      `tfsdk:"tags"`
	IPv6               types.Bool     `tfsdk:"ipv6"`
	Monitoring         types.Bool     `tfsdk:"monitoring"`
	Backups            types.Bool     `tfsdk:"backups"`
	VPCUUID            types.String   `tfsdk:"vpc_uuid"`
	AdminUser          types.String   `tfsdk:"admin_user"`
	SSHPublicKeys      types.List     `tfsdk:"ssh_public_keys"`
	SSHKeyFingerprints types.Set      `tfsdk:"ssh_key_fingerprints"`
	ExtraCloudConfig   types.String   `tfsdk:"extra_cloud_config"`
	AptMirror          types.String   `tfsdk:"apt_mirror"`
	AptSecurityMirror  types.String   `tfsdk:"apt_security_mirror"`
	SwapMiB            types.Int64    `tfsdk:"swap_mib"`
	HostPublicKey      types.String   `tfsdk:"host_public_key"`
	RegisteredKeyIDs   types.Set      `tfsdk:"registered_ssh_key_ids"`
	IPv4Address        types.String   `tfsdk:"ipv4_address"`
	IPv4AddressPrivate types.String   `tfsdk:"ipv4_address_private"`
	IPv6Address        types.String   `tfsdk:"ipv6_address"`
	Status             types.String   `tfsdk:"status"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

const (
	defaultImage     = "debian-12-x64"
	defaultAdminUser = "jhub"
)

var (
	hostnameRE  = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)
	userRE      = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)
	sizeMemRE   = regexp.MustCompile(`-(\d+)(mb|gb)(-|$)`)
	bootstrapMD = "Part of the bootstrap payload: changing it replaces the droplet, because cloud-init runs only on first boot."
)

func (r *dropletResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_droplet"
}

func (r *dropletResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	replaceIfBootstrapped := bootstrapMD + " After an import, setting it only records the value."
	resp.Schema = schema.Schema{
		Description: "A DigitalOcean droplet for the hub, booted with a cloud-init payload the provider renders: the admin user, a pinned SSH host key, " +
			"the ufw baseline (22 rate-limited, 80 and 443 open, everything else closed), the metadata service blocked for every user but root, " +
			"swap on small sizes, unattended security upgrades and the hub's packages. The payload carries no secrets.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Description:   "The droplet ID.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				Description: "The droplet's name and host name. Changes in place (a rename action).",
				Required:    true,
				Validators:  []validator.String{stringvalidator.RegexMatches(hostnameRE, "must be a lowercase host name: letters, digits, dots and hyphens")},
			},
			"region": schema.StringAttribute{
				Description:   "The region slug, for example `fra1`. Changing it replaces the droplet.",
				Required:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"size": schema.StringAttribute{
				Description: "The size slug, for example `s-2vcpu-4gb`. Changes in place: the droplet is powered off, resized (CPU and memory only, so it can shrink again) and powered on.",
				Required:    true,
			},
			"image": schema.StringAttribute{
				Description:   "The image slug. Defaults to `" + defaultImage + "`, the image the bootstrap is tested on. Changing it replaces the droplet.",
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString(defaultImage),
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"tags": schema.SetAttribute{
				Description:   "Tags for the droplet. Changing them replaces the droplet.",
				Optional:      true,
				ElementType:   types.StringType,
				PlanModifiers: []planmodifier.Set{setplanmodifier.RequiresReplace()},
			},
			"ipv6":       boolReplaceAttr("Give the droplet a public IPv6 address."),
			"monitoring": boolReplaceAttr("Install DigitalOcean's metrics agent."),
			"backups":    boolReplaceAttr("Turn on DigitalOcean's weekly backups."),
			"vpc_uuid": schema.StringAttribute{
				Description:   "The VPC to place the droplet in; the region's default VPC when unset. Changing it replaces the droplet.",
				Optional:      true,
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace(), stringplanmodifier.UseStateForUnknown()},
			},
			"admin_user": schema.StringAttribute{
				Description:   "The administrator account cloud-init creates, with sudo and the SSH keys. Defaults to `" + defaultAdminUser + "`. " + replaceIfBootstrapped,
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString(defaultAdminUser),
				Validators:    []validator.String{stringvalidator.RegexMatches(userRE, "must be a Linux user name: lowercase letters, digits, _ and -, starting with a letter or _")},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(replaceUnlessImported, replaceIfBootstrapped, replaceIfBootstrapped)},
			},
			"ssh_public_keys": schema.ListAttribute{
				Description: "OpenSSH public keys (authorized_keys lines) for the admin user. Each is also registered as a DigitalOcean SSH key if the account does not have it yet; keys this resource registered are removed on destroy. " + replaceIfBootstrapped,
				Optional:    true,
				ElementType: types.StringType,
				Validators:  []validator.List{listvalidator.ValueStringsAre(authorizedKeyValidator{})},
				PlanModifiers: []planmodifier.List{listplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.ListRequest, resp *listplanmodifier.RequiresReplaceIfFuncResponse) {
					resp.RequiresReplace = !req.StateValue.IsNull()
				}, replaceIfBootstrapped, replaceIfBootstrapped)},
			},
			"ssh_key_fingerprints": schema.SetAttribute{
				Description: "Fingerprints of SSH keys already in the DigitalOcean account; their public keys are given to the admin user as well. " + replaceIfBootstrapped,
				Optional:    true,
				ElementType: types.StringType,
				PlanModifiers: []planmodifier.Set{setplanmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.SetRequest, resp *setplanmodifier.RequiresReplaceIfFuncResponse) {
					resp.RequiresReplace = !req.StateValue.IsNull()
				}, replaceIfBootstrapped, replaceIfBootstrapped)},
			},
			"extra_cloud_config": schema.StringAttribute{
				Description:   "Extra cloud-config (YAML) merged into the payload: maps are merged, lists appended. Keys the provider owns (users, ssh_keys, ssh_pwauth…) cannot be overridden. Never put secrets here: every process on the droplet can read user data. " + replaceIfBootstrapped,
				Optional:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(replaceUnlessImported, replaceIfBootstrapped, replaceIfBootstrapped)},
			},
			"apt_mirror": schema.StringAttribute{
				Description:   "Debian mirror URI for the droplet's apt sources (main and updates), for a campus mirror or the local lab. Set together with apt_security_mirror. Defaults to the image's own sources. " + replaceIfBootstrapped,
				Optional:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(replaceUnlessImported, replaceIfBootstrapped, replaceIfBootstrapped)},
			},
			"apt_security_mirror": schema.StringAttribute{
				Description:   "Debian security mirror URI (the debian-security archive), set together with apt_mirror. " + replaceIfBootstrapped,
				Optional:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplaceIf(replaceUnlessImported, replaceIfBootstrapped, replaceIfBootstrapped)},
			},
			"swap_mib": schema.Int64Attribute{
				Description: "Size of the swap file in MiB; 0 for none. Defaults to 2048 on sizes with less than 2 GiB of memory and 0 otherwise. " + replaceIfBootstrapped,
				Optional:    true,
				Computed:    true,
				Validators:  []validator.Int64{int64validator.Between(0, 65536)},
				PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown(), int64planmodifier.RequiresReplaceIf(func(ctx context.Context, req planmodifier.Int64Request, resp *int64planmodifier.RequiresReplaceIfFuncResponse) {
					resp.RequiresReplace = !req.StateValue.IsNull() && !req.ConfigValue.IsNull()
				}, replaceIfBootstrapped, replaceIfBootstrapped)},
			},
			"host_public_key": schema.StringAttribute{
				Description:   "The droplet's SSH host public key (authorized_keys format). The provider generates the host key and installs it through cloud-init, so the first SSH connection is already verified: pin it with this value. Unknown after an import.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"registered_ssh_key_ids": schema.SetAttribute{
				Description: "IDs of the DigitalOcean SSH keys this resource added to the account because it lacked them; destroy removes exactly these. " +
					"Kept in state rather than private data so that a droplet whose creation failed (tainted) still cleans up after itself.",
				Computed:      true,
				ElementType:   types.Int64Type,
				PlanModifiers: []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
			},
			"ipv4_address":         computedString("The public IPv4 address."),
			"ipv4_address_private": computedString("The private (VPC) IPv4 address."),
			"ipv6_address":         computedString("The public IPv6 address, when ipv6 is on."),
			"status": schema.StringAttribute{
				Description:   "The droplet's status as DigitalOcean reports it (`active` once created).",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func boolReplaceAttr(desc string) schema.BoolAttribute {
	return schema.BoolAttribute{
		Description:   desc + " Defaults to false. Changing it replaces the droplet.",
		Optional:      true,
		Computed:      true,
		Default:       booldefault.StaticBool(false),
		PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
	}
}

func computedString(desc string) schema.StringAttribute {
	return schema.StringAttribute{Description: desc, Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}}
}

// replaceUnlessImported replaces the droplet when a bootstrap input changes,
// except when state has no value because the droplet was imported: the API
// cannot tell what the payload was, so the first apply only records it.
func replaceUnlessImported(_ context.Context, req planmodifier.StringRequest, resp *stringplanmodifier.RequiresReplaceIfFuncResponse) {
	resp.RequiresReplace = !req.StateValue.IsNull()
}

func (r *dropletResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ModifyPlan renders the payload at plan time, so a payload over DigitalOcean's
// 64 KiB or a bad extra_cloud_config fails the plan rather than the apply.
func (r *dropletResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || !req.State.Raw.IsNull() {
		return
	}
	var plan dropletModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if plan.SSHPublicKeys.IsNull() && plan.SSHKeyFingerprints.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("ssh_public_keys"), "No SSH key",
			"Set ssh_public_keys or ssh_key_fingerprints: without a key nobody, not even the jhub_edge resource, can log in to the droplet.")
		return
	}
	if plan.SwapMiB.IsUnknown() && !plan.Size.IsUnknown() {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("swap_mib"), defaultSwapMiB(plan.Size.ValueString()))...)
		plan.SwapMiB = types.Int64Value(defaultSwapMiB(plan.Size.ValueString()))
	}
	// Placeholders stand in for what only apply knows: the host key, and the
	// public halves of fingerprint keys (looked up in the account then).
	placeholder, err := cloudinit.GenerateHostKey()
	if err != nil {
		resp.Diagnostics.AddError("Cannot generate an SSH key", err.Error())
		return
	}
	var fingerprintKeys []string
	for range plan.SSHKeyFingerprints.Elements() {
		fingerprintKeys = append(fingerprintKeys, placeholder.Public)
	}
	cfg, known, d := bootstrapConfig(ctx, &plan, fingerprintKeys)
	resp.Diagnostics.Append(d...)
	if !known || plan.SSHKeyFingerprints.IsUnknown() || resp.Diagnostics.HasError() {
		return
	}
	cfg.HostKey = placeholder
	if _, err := cloudinit.Render(cfg); err != nil {
		at, msg := payloadError(err)
		resp.Diagnostics.AddAttributeError(at, "Invalid bootstrap payload", msg)
	}
}

// payloadAttrs names the attribute behind each renderer field.
var payloadAttrs = []struct{ field, attr string }{
	{"AptSecurityMirror", "apt_security_mirror"},
	{"AptMirror", "apt_mirror"},
	{"AdminKeys", "ssh_public_keys"},
	{"AdminUser", "admin_user"},
	{"Hostname", "name"},
	{"SwapMiB", "swap_mib"},
	{"ExtraCloudConfig", "extra_cloud_config"},
}

// payloadError points a renderer error at the attribute that caused it and
// speaks of attributes, not the renderer's Go fields.
func payloadError(err error) (path.Path, string) {
	var fe *cloudinit.FieldError
	if !errors.As(err, &fe) {
		return path.Root("extra_cloud_config"), err.Error()
	}
	at := path.Root("extra_cloud_config")
	field, _, _ := strings.Cut(fe.Field, "[")
	msg := fe.Msg
	for _, p := range payloadAttrs {
		if p.field == field {
			at = path.Root(p.attr)
		}
		msg = regexp.MustCompile(`\b`+p.field+`\b`).ReplaceAllString(msg, p.attr)
	}
	return at, fmt.Sprintf("%s: %s", at, msg)
}

// bootstrapConfig gathers the payload inputs; known is false while any is unknown.
// extraKeys are admin keys resolved from DigitalOcean fingerprints at apply.
func bootstrapConfig(ctx context.Context, m *dropletModel, extraKeys []string) (cloudinit.Config, bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	for _, v := range []interface{ IsUnknown() bool }{m.Name, m.AdminUser, m.SSHPublicKeys, m.ExtraCloudConfig, m.SwapMiB, m.AptMirror, m.AptSecurityMirror} {
		if v.IsUnknown() {
			return cloudinit.Config{}, false, diags
		}
	}
	var keys []string
	diags.Append(m.SSHPublicKeys.ElementsAs(ctx, &keys, true)...)
	return cloudinit.Config{
		Hostname:          m.Name.ValueString(),
		AdminUser:         m.AdminUser.ValueString(),
		AdminKeys:         append(keys, extraKeys...),
		SwapMiB:           int(m.SwapMiB.ValueInt64()),
		ExtraCloudConfig:  m.ExtraCloudConfig.ValueString(),
		AptMirror:         m.AptMirror.ValueString(),
		AptSecurityMirror: m.AptSecurityMirror.ValueString(),
	}, true, diags
}

// defaultSwapMiB gives small droplets swap: JupyterHub plus a few kernels
// outgrow 1 GiB quickly, and the OOM killer takes students' work with it.
func defaultSwapMiB(size string) int64 {
	m := sizeMemRE.FindStringSubmatch(size)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	if m[2] == "gb" {
		n *= 1024
	}
	if n < 2048 {
		return 2048
	}
	return 0
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

	cfg, _, d := bootstrapConfig(ctx, &plan, extraKeys)
	resp.Diagnostics.Append(d...)
	hostKey, err := cloudinit.GenerateHostKey()
	if err != nil {
		resp.Diagnostics.AddError("Cannot generate the SSH host key", err.Error())
	}
	cfg.HostKey = hostKey
	userData, err := cloudinit.Render(cfg)
	if err != nil {
		at, msg := payloadError(err)
		resp.Diagnostics.AddAttributeError(at, "Cannot render the bootstrap payload", msg)
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
	setDropletComputed(&plan, droplet)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)

	if err := r.waitCreated(ctx, droplet.ID, apiResp); err != nil {
		resp.Diagnostics.AddError("Droplet did not become active",
			fmt.Sprintf("Droplet %d was created but did not become active: %s. It is kept in state as tainted; the next apply replaces it and destroy removes it. Raise timeouts.create if the region is slow.", droplet.ID, err))
		return
	}
	droplet, _, err = r.client.do.Droplets.Get(ctx, droplet.ID)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read droplet", apiError(fmt.Sprintf("reading droplet %d after creating it", droplet.ID), err))
		return
	}
	setDropletComputed(&plan, droplet)
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
	id, err := strconv.Atoi(state.ID.ValueString())
	if err != nil {
		resp.Diagnostics.AddAttributeError(path.Root("id"), "Invalid droplet ID", fmt.Sprintf("%q is not a droplet ID; droplet IDs are numbers.", state.ID.ValueString()))
		return
	}
	droplet, _, err := r.client.do.Droplets.Get(ctx, id)
	if isNotFound(err) {
		tflog.Warn(ctx, "droplet is gone; removing it from state", map[string]any{"id": id})
		resp.State.RemoveResource(ctx)
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cannot read droplet", apiError(fmt.Sprintf("reading droplet %d", id), err))
		return
	}
	state.Name = types.StringValue(droplet.Name)
	if droplet.Region != nil {
		state.Region = types.StringValue(droplet.Region.Slug)
	}
	if droplet.Size != nil {
		state.Size = types.StringValue(droplet.Size.Slug)
	} else if droplet.SizeSlug != "" {
		state.Size = types.StringValue(droplet.SizeSlug)
	}
	// Custom images have no slug; keep what the configuration said.
	if droplet.Image != nil && droplet.Image.Slug != "" {
		state.Image = types.StringValue(droplet.Image.Slug)
	}
	if len(droplet.Tags) > 0 || !state.Tags.IsNull() {
		tags, d := types.SetValueFrom(ctx, types.StringType, droplet.Tags)
		resp.Diagnostics.Append(d...)
		state.Tags = tags
	}
	state.IPv6 = types.BoolValue(hasFeature(droplet, "ipv6"))
	state.Monitoring = types.BoolValue(hasFeature(droplet, "monitoring"))
	state.Backups = types.BoolValue(hasFeature(droplet, "backups"))
	state.VPCUUID = types.StringValue(droplet.VPCUUID)
	setDropletComputed(&state, droplet)
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

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
	id, _ := strconv.Atoi(state.ID.ValueString())

	if !plan.Name.Equal(state.Name) {
		if err := r.act(ctx, id, "rename", func() (*godo.Action, *godo.Response, error) {
			return r.client.do.DropletActions.Rename(ctx, id, plan.Name.ValueString())
		}); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Cannot rename droplet", err.Error())
			return
		}
		state.Name = plan.Name
		resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
	}
	if !plan.Size.Equal(state.Size) {
		if err := r.resize(ctx, id, plan.Size.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("size"), "Cannot resize droplet",
				fmt.Sprintf("Resizing droplet %d to %s failed: %s. The droplet keeps its old size; check that the size exists in %s and that the disk is not larger than the new size allows.", id, plan.Size.ValueString(), err, state.Region.ValueString()))
			return
		}
	}
	droplet, _, err := r.client.do.Droplets.Get(ctx, id)
	if err != nil {
		resp.Diagnostics.AddError("Cannot read droplet", apiError(fmt.Sprintf("reading droplet %d after updating it", id), err))
		return
	}
	fillComputed(&plan, droplet)
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
}

// resize powers the droplet off, resizes CPU and memory only (so it can shrink
// again later) and powers it on, also when the resize itself failed.
func (r *dropletResource) resize(ctx context.Context, id int, size string) error {
	if err := r.act(ctx, id, "power_off", func() (*godo.Action, *godo.Response, error) {
		return r.client.do.DropletActions.PowerOff(ctx, id)
	}); err != nil {
		return err
	}
	resizeErr := r.act(ctx, id, "resize", func() (*godo.Action, *godo.Response, error) {
		return r.client.do.DropletActions.Resize(ctx, id, size, false)
	})
	onErr := r.act(ctx, id, "power_on", func() (*godo.Action, *godo.Response, error) {
		return r.client.do.DropletActions.PowerOn(ctx, id)
	})
	if resizeErr != nil {
		return resizeErr
	}
	return onErr
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
	id, err := strconv.Atoi(state.ID.ValueString())
	if err != nil {
		return
	}
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

func (r *dropletResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if _, err := strconv.Atoi(req.ID); err != nil {
		resp.Diagnostics.AddError("Invalid import ID",
			fmt.Sprintf("Import a jhub_droplet by its numeric droplet ID, for example `terraform import jhub_droplet.hub 3164444`; %q is not one.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
}

// resolveKeys turns the configured keys into DigitalOcean key references,
// registering public keys the account lacks (appended to registered, so
// destroy removes exactly those), and returns the public halves of fingerprint-only keys.
func (r *dropletResource) resolveKeys(ctx context.Context, plan *dropletModel, registered *[]int64) ([]godo.DropletCreateSSHKey, []string, diag.Diagnostics) {
	var diags diag.Diagnostics
	var pubs, fps []string
	diags.Append(plan.SSHPublicKeys.ElementsAs(ctx, &pubs, true)...)
	diags.Append(plan.SSHKeyFingerprints.ElementsAs(ctx, &fps, true)...)
	var refs []godo.DropletCreateSSHKey
	for i, pub := range pubs {
		pk, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
		if err != nil {
			diags.AddAttributeError(path.Root("ssh_public_keys").AtListIndex(i), "Invalid SSH public key", err.Error())
			return nil, nil, diags
		}
		fp := ssh.FingerprintLegacyMD5(pk)
		key, _, err := r.client.do.Keys.GetByFingerprint(ctx, fp)
		if isNotFound(err) {
			name := fmt.Sprintf("jhub-%s-%d", plan.Name.ValueString(), i)
			if comment != "" {
				name += " " + comment
			}
			key, _, err = r.client.do.Keys.Create(ctx, &godo.KeyCreateRequest{Name: name, PublicKey: pub})
			if err == nil {
				*registered = append(*registered, int64(key.ID))
			}
		}
		if err != nil {
			diags.AddAttributeError(path.Root("ssh_public_keys").AtListIndex(i), "Cannot register SSH key", apiError("registering key "+fp, err))
			return nil, nil, diags
		}
		refs = append(refs, godo.DropletCreateSSHKey{ID: key.ID})
	}
	var extra []string
	for _, fp := range fps {
		key, _, err := r.client.do.Keys.GetByFingerprint(ctx, fp)
		if err != nil {
			diags.AddAttributeError(path.Root("ssh_key_fingerprints"), "Unknown SSH key",
				apiError(fmt.Sprintf("looking up key %s in the account (add it under Settings → Security, or list it in ssh_public_keys instead)", fp), err))
			return nil, nil, diags
		}
		refs = append(refs, godo.DropletCreateSSHKey{ID: key.ID})
		extra = append(extra, key.PublicKey)
	}
	return refs, extra, diags
}

func (r *dropletResource) deleteKeys(ctx context.Context, ids []int64, diags *diag.Diagnostics) {
	for _, id := range ids {
		if _, err := r.client.do.Keys.DeleteByID(ctx, int(id)); err != nil && !isNotFound(err) {
			diags.AddWarning("SSH key left in the account", apiError(fmt.Sprintf("deleting SSH key %d that this resource registered (delete it under Settings → Security)", id), err))
		}
	}
}

// waitCreated waits for the droplet's create action, or its status where the
// API gave no action link, to finish.
func (r *dropletResource) waitCreated(ctx context.Context, id int, apiResp *godo.Response) error {
	if apiResp != nil && apiResp.Links != nil {
		for _, a := range apiResp.Links.Actions {
			if a.Rel == "create" {
				if err := r.waitAction(ctx, a.ID); err != nil {
					return err
				}
			}
		}
	}
	return poll(ctx, func() (bool, error) {
		d, _, err := r.client.do.Droplets.Get(ctx, id)
		if isNotFound(err) {
			// Just-created droplets can 404 for a moment.
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch d.Status {
		case "active":
			return true, nil
		case "new":
			return false, nil
		default:
			return false, fmt.Errorf("status is %q", d.Status)
		}
	})
}

// act starts a droplet action and waits for it to complete.
func (r *dropletResource) act(ctx context.Context, id int, kind string, start func() (*godo.Action, *godo.Response, error)) error {
	tflog.Info(ctx, "droplet action", map[string]any{"id": id, "type": kind})
	a, _, err := start()
	if err != nil {
		return fmt.Errorf("starting %s on droplet %d: %w", kind, id, err)
	}
	if err := r.waitAction(ctx, a.ID); err != nil {
		return fmt.Errorf("%s on droplet %d: %w", kind, id, err)
	}
	return nil
}

func (r *dropletResource) waitAction(ctx context.Context, actionID int) error {
	return poll(ctx, func() (bool, error) {
		a, _, err := r.client.do.Actions.Get(ctx, actionID)
		if isNotFound(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch a.Status {
		case godo.ActionCompleted:
			return true, nil
		case godo.ActionInProgress:
			return false, nil
		default:
			return false, fmt.Errorf("action %d (%s) ended %q", actionID, a.Type, a.Status)
		}
	})
}

// pollInterval bounds the wait between checks of a long-running operation.
const pollInterval = 5 * time.Second

// poll calls done until it reports true or an error, backing off from a
// quarter second to pollInterval, and honouring the context's deadline.
func poll(ctx context.Context, done func() (bool, error)) error {
	wait := 250 * time.Millisecond
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up waiting: %w", ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, pollInterval)
	}
}

// fillComputed sets only the computed values the plan left unknown: an update
// must produce what it planned, and values that moved meanwhile (a droplet
// imported while still booting) come in with the next refresh.
func fillComputed(m *dropletModel, d *godo.Droplet) {
	fresh := *m
	setDropletComputed(&fresh, d)
	for _, f := range []struct{ dst, src *types.String }{
		{&m.Status, &fresh.Status}, {&m.IPv4Address, &fresh.IPv4Address}, {&m.IPv4AddressPrivate, &fresh.IPv4AddressPrivate},
		{&m.IPv6Address, &fresh.IPv6Address}, {&m.VPCUUID, &fresh.VPCUUID},
	} {
		if f.dst.IsUnknown() {
			*f.dst = *f.src
		}
	}
	if m.SwapMiB.IsUnknown() {
		m.SwapMiB = fresh.SwapMiB
	}
}

func setDropletComputed(m *dropletModel, d *godo.Droplet) {
	m.Status = types.StringValue(d.Status)
	v4, _ := d.PublicIPv4()
	v4p, _ := d.PrivateIPv4()
	v6, _ := d.PublicIPv6()
	m.IPv4Address = types.StringValue(v4)
	m.IPv4AddressPrivate = types.StringValue(v4p)
	m.IPv6Address = types.StringValue(v6)
	if d.VPCUUID != "" {
		m.VPCUUID = types.StringValue(d.VPCUUID)
	} else if m.VPCUUID.IsUnknown() {
		m.VPCUUID = types.StringValue("")
	}
	if m.SwapMiB.IsUnknown() {
		m.SwapMiB = types.Int64Value(defaultSwapMiB(m.Size.ValueString()))
	}
}

func hasFeature(d *godo.Droplet, f string) bool {
	for _, x := range d.Features {
		if x == f {
			return true
		}
	}
	return false
}

type authorizedKeyValidator struct{}

func (authorizedKeyValidator) Description(context.Context) string {
	return "must be an OpenSSH public key line"
}

func (v authorizedKeyValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (authorizedKeyValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if strings.Contains(req.ConfigValue.ValueString(), "PRIVATE KEY") {
		resp.Diagnostics.AddAttributeError(req.Path, "Private key given as a public key",
			"This looks like a private key. Give the public half (the .pub file, one line starting with ssh-ed25519 or ssh-rsa); the private key belongs to jhub_edge.")
		return
	}
	if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(req.ConfigValue.ValueString())); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid SSH public key",
			fmt.Sprintf("Not an OpenSSH public key line (%s). Give the contents of a .pub file, such as \"ssh-ed25519 AAAA… you@laptop\".", err))
	}
}
