package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/boolplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/setplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/classhub/terraform-provider-jhub/internal/cloudinit"
)

const (
	// defaultImage is the image the bootstrap is tested on; its JupyterHub
	// (5.2) has the fixes that Debian 12's (3.0) lacks.
	defaultImage     = "debian-13-x64"
	defaultAdminUser = "jhub"
)

// bootstrapMD is said of every input of the cloud-init payload.
const bootstrapMD = "Part of the bootstrap payload, which cloud-init reads only on first boot: changing it replaces the droplet. " +
	"The first apply after an import records it without replacing anything."

func (r *dropletResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	hostname := checkString("Invalid droplet name", "must be a lowercase host name", checkHostname)
	resp.Schema = schema.Schema{
		MarkdownDescription: "A DigitalOcean droplet for the hub, booted with a cloud-init payload the provider renders: the admin user, a pinned SSH host key, " +
			"the ufw baseline (22 rate-limited, 80 and 443 open, everything else closed), the metadata service blocked for every user but root, " +
			"swap on small sizes, unattended security upgrades and the hub's packages. The payload carries no secrets.\n\n" +
			"`name`, `size`, `tags`, `backups` and turning `ipv6` on change the droplet in place through the API; " +
			"everything else, and every input of the payload, replaces it.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The droplet ID.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "The droplet's name and host name, lowercase. Changes in place (a `rename` action).",
				Required:            true,
				Validators:          []validator.String{hostname},
			},
			"region": schema.StringAttribute{
				MarkdownDescription: "The region slug, for example `fra1`. Changing it replaces the droplet.",
				Required:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"size": schema.StringAttribute{
				MarkdownDescription: "The size slug, for example `s-2vcpu-4gb`. Changes in place: the droplet is powered off, resized and powered on. " +
					"The plan checks that the size exists in the region and fits the droplet's disk.",
				Required: true,
			},
			"resize_disk": schema.BoolAttribute{
				MarkdownDescription: "Whether a change of `size` also grows the disk to the new size's. Defaults to `false`: only CPU and memory change, so the droplet can shrink again. " +
					"A grown disk never shrinks, so afterwards only sizes with at least that disk fit. Takes effect at the next change of `size`.",
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
			},
			"image": schema.StringAttribute{
				MarkdownDescription: "The image slug. Defaults to `" + defaultImage + "`, the image the bootstrap is tested on. " +
					"`debian-12-*` images are refused: their JupyterHub 3.0 has CVE-2024-28233 (cross-user XSS, fixed in JupyterHub 4.1). Changing it replaces the droplet.",
				Optional:      true,
				Computed:      true,
				Default:       stringdefault.StaticString(defaultImage),
				Validators:    []validator.String{checkString("Unsafe or invalid image", "must not be a debian-12 image", checkImage)},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"tags": schema.SetAttribute{
				MarkdownDescription: "Tags for the droplet. Change in place: tags are created in the account as needed, and removed ones are untagged (the tags themselves stay).",
				Optional:            true,
				ElementType:         types.StringType,
				Validators:          []validator.Set{setvalidator.ValueStringsAre(checkString("Invalid tag", "must be a DigitalOcean tag", checkTag))},
			},
			"ipv6": schema.BoolAttribute{
				MarkdownDescription: "Give the droplet a public IPv6 address. Defaults to `false`. Turning it on changes the droplet in place (an `enable_ipv6` action); " +
					"the droplet's network configuration then needs the address added by hand, as DigitalOcean documents for existing droplets. " +
					"Turning it off replaces the droplet: DigitalOcean cannot disable IPv6.",
				Optional:      true,
				Computed:      true,
				Default:       booldefault.StaticBool(false),
				PlanModifiers: []planmodifier.Bool{boolplanmodifier.RequiresReplaceIf(ipv6TurnedOff, "Turning IPv6 off replaces the droplet.", "Turning IPv6 off replaces the droplet.")},
			},
			"monitoring": schema.BoolAttribute{
				MarkdownDescription: "Install DigitalOcean's metrics agent. Defaults to `false`. Changing it replaces the droplet.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
				PlanModifiers:       []planmodifier.Bool{boolplanmodifier.RequiresReplace()},
			},
			"backups": schema.BoolAttribute{
				MarkdownDescription: "Turn on DigitalOcean's weekly backups. Defaults to `false`. Changes in place (`enable_backups` and `disable_backups` actions).",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"vpc_uuid": schema.StringAttribute{
				MarkdownDescription: "The VPC to place the droplet in; the region's default VPC when unset. Changing it replaces the droplet.",
				Optional:            true,
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace(), stringplanmodifier.UseStateForUnknown()},
			},
			"admin_user": schema.StringAttribute{
				MarkdownDescription: "The administrator account cloud-init creates, with sudo and the SSH keys. Defaults to `" + defaultAdminUser + "`. " + bootstrapMD,
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString(defaultAdminUser),
				Validators:          []validator.String{checkString("Invalid admin user", "must be a Linux user name", checkUserName)},
				PlanModifiers:       []planmodifier.String{requiresReplaceOnceSet()},
			},
			"ssh_public_keys": schema.ListAttribute{
				MarkdownDescription: "OpenSSH public keys (authorized_keys lines) for the admin user. Each is also registered as a DigitalOcean SSH key if the account does not have it yet; " +
					"keys this resource registered are removed on destroy. Set this or `ssh_key_fingerprints`. " + bootstrapMD,
				Optional:      true,
				ElementType:   types.StringType,
				Validators:    []validator.List{listvalidator.ValueStringsAre(checkString("Invalid SSH public key", "must be an OpenSSH public key line", checkAuthorizedKey))},
				PlanModifiers: []planmodifier.List{requiresReplaceOnceSet()},
			},
			"ssh_key_fingerprints": schema.SetAttribute{
				MarkdownDescription: "Fingerprints of SSH keys already in the DigitalOcean account; their public keys are given to the admin user as well. " + bootstrapMD,
				Optional:            true,
				ElementType:         types.StringType,
				PlanModifiers:       []planmodifier.Set{requiresReplaceOnceSet()},
			},
			"extra_cloud_config": schema.StringAttribute{
				MarkdownDescription: "Extra cloud-config (YAML) merged into the payload: maps are merged, lists appended. Keys the provider owns (`users`, `ssh_keys`, `ssh_pwauth`…) cannot be overridden. " +
					"Never put secrets here: every process on the droplet can read user data. " + bootstrapMD,
				Optional:      true,
				PlanModifiers: []planmodifier.String{requiresReplaceOnceSet()},
			},
			"apt_mirror": schema.StringAttribute{
				MarkdownDescription: "Debian mirror URI for the droplet's apt sources (main and updates), for a campus mirror or the local lab. Set together with `apt_security_mirror`. " +
					"Defaults to the image's own sources. " + bootstrapMD,
				Optional:      true,
				PlanModifiers: []planmodifier.String{requiresReplaceOnceSet()},
			},
			"apt_security_mirror": schema.StringAttribute{
				MarkdownDescription: "Debian security mirror URI (the debian-security archive), set together with `apt_mirror`. " + bootstrapMD,
				Optional:            true,
				PlanModifiers:       []planmodifier.String{requiresReplaceOnceSet()},
			},
			"expected_students": schema.Int64Attribute{
				MarkdownDescription: "How many students the hub serves, usually `length(var.students)`. Optional; when set, the plan warns if `size` holds fewer " +
					"students, each with a running kernel, than this, by the figures of the sizing guide (docs/guides/sizing.md), and names a size that holds them. Changes nothing on the droplet.",
				Optional:   true,
				Validators: []validator.Int64{int64validator.AtLeast(1)},
			},
			"swap_mib": schema.Int64Attribute{
				MarkdownDescription: "Size of the swap file in MiB; 0 for none. Defaults to 2048 on sizes with less than 2 GiB of memory and 0 otherwise. " + bootstrapMD,
				Optional:            true,
				Computed:            true,
				Validators:          []validator.Int64{int64validator.Between(0, cloudinit.MaxSwapMiB)},
				PlanModifiers:       []planmodifier.Int64{int64planmodifier.UseStateForUnknown(), requiresReplaceOnceSet()},
			},
			"host_public_key": schema.StringAttribute{
				MarkdownDescription: "The droplet's SSH host public key (authorized_keys format). The provider generates the host key and installs it through cloud-init, " +
					"so the first SSH connection is already verified: pin it with this value. Null after an import.",
				Computed:      true,
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			// In state rather than private data, so that a droplet whose
			// creation failed (tainted) still cleans up after itself.
			"registered_ssh_key_ids": schema.SetAttribute{
				MarkdownDescription: "IDs of the DigitalOcean SSH keys this resource added to the account because it lacked them; destroy removes exactly these.",
				Computed:            true,
				ElementType:         types.Int64Type,
				PlanModifiers:       []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
			},
			"memory": computedInt64("The size's memory in MiB. Known at plan time from DigitalOcean's sizes, so that limits can be derived from it."),
			"vcpus":  computedInt64("The size's number of virtual CPUs. Known at plan time from DigitalOcean's sizes."),
			"disk": computedInt64("The droplet's disk in GB: the size's at creation, kept through resizes unless `resize_disk` grows it. " +
				"Known at plan time from DigitalOcean's sizes."),
			"ipv4_address":         computedString("The public IPv4 address."),
			"ipv4_address_private": computedString("The private (VPC) IPv4 address."),
			"ipv6_address":         computedString("The public IPv6 address, when `ipv6` is on; empty otherwise."),
			"status":               computedString("The droplet's status as DigitalOcean reports it (`active` once created)."),
			"volume_ids": schema.SetAttribute{
				MarkdownDescription: "The block storage volumes attached to the droplet, as DigitalOcean reports them; attach one with `jhub_volume_attachment`. " +
					"A plan that replaces a droplet without a volume warns that students' files on its own disk are lost.",
				Computed:      true,
				ElementType:   types.StringType,
				PlanModifiers: []planmodifier.Set{setplanmodifier.UseStateForUnknown()},
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func computedString(md string) schema.StringAttribute {
	return schema.StringAttribute{MarkdownDescription: md, Computed: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}}
}

func computedInt64(md string) schema.Int64Attribute {
	return schema.Int64Attribute{MarkdownDescription: md, Computed: true, PlanModifiers: []planmodifier.Int64{int64planmodifier.UseStateForUnknown()}}
}

func ipv6TurnedOff(_ context.Context, req planmodifier.BoolRequest, resp *boolplanmodifier.RequiresReplaceIfFuncResponse) {
	resp.RequiresReplace = req.StateValue.ValueBool() && !req.PlanValue.ValueBool()
}

// requiresReplaceOnceSet is the plan modifier of every bootstrap input: once
// a droplet was created with a value, changing it replaces the droplet,
// because cloud-init applies the payload only on first boot and an update in
// place would change nothing. An imported droplet's payload is unknown (its
// values are null in state): the first apply after the import records the
// configured values without replacing it.
func requiresReplaceOnceSet() replaceOnceSet { return replaceOnceSet{} }

type replaceOnceSet struct{}

var (
	_ planmodifier.String = replaceOnceSet{}
	_ planmodifier.List   = replaceOnceSet{}
	_ planmodifier.Set    = replaceOnceSet{}
	_ planmodifier.Int64  = replaceOnceSet{}
)

func (replaceOnceSet) Description(context.Context) string { return bootstrapMD }

func (m replaceOnceSet) MarkdownDescription(ctx context.Context) string { return m.Description(ctx) }

// decide is the modifier for every attribute type.
func (replaceOnceSet) decide(ctx context.Context, state tfsdk.State, plan tfsdk.Plan, stateValue, planValue attr.Value, private privateGetter, replace *bool, diags *diag.Diagnostics) {
	if state.Raw.IsNull() || plan.Raw.IsNull() || planValue.Equal(stateValue) {
		return
	}
	imported, d := wasImported(ctx, private)
	diags.Append(d...)
	*replace = !imported
}

func (m replaceOnceSet) PlanModifyString(ctx context.Context, req planmodifier.StringRequest, resp *planmodifier.StringResponse) {
	m.decide(ctx, req.State, req.Plan, req.StateValue, req.PlanValue, req.Private, &resp.RequiresReplace, &resp.Diagnostics)
}

func (m replaceOnceSet) PlanModifyList(ctx context.Context, req planmodifier.ListRequest, resp *planmodifier.ListResponse) {
	m.decide(ctx, req.State, req.Plan, req.StateValue, req.PlanValue, req.Private, &resp.RequiresReplace, &resp.Diagnostics)
}

func (m replaceOnceSet) PlanModifySet(ctx context.Context, req planmodifier.SetRequest, resp *planmodifier.SetResponse) {
	m.decide(ctx, req.State, req.Plan, req.StateValue, req.PlanValue, req.Private, &resp.RequiresReplace, &resp.Diagnostics)
}

func (m replaceOnceSet) PlanModifyInt64(ctx context.Context, req planmodifier.Int64Request, resp *planmodifier.Int64Response) {
	m.decide(ctx, req.State, req.Plan, req.StateValue, req.PlanValue, req.Private, &resp.RequiresReplace, &resp.Diagnostics)
}
