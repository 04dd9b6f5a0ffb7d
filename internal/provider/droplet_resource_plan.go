package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/classhub/terraform-provider-jhub/internal/cloudinit"
	"github.com/classhub/terraform-provider-jhub/internal/sizing"
)

// ValidateConfig checks the rules between attributes; each attribute's own
// rules are its validators. Every broken rule is reported, at its attribute.
func (r *dropletResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var cfg dropletModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if cfg.SSHPublicKeys.IsNull() && cfg.SSHKeyFingerprints.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("ssh_public_keys"), "No SSH key",
			"Set ssh_public_keys or ssh_key_fingerprints: without a key nobody, not even the jhub_edge resource, can log in to the droplet.")
	}
	for _, m := range []struct {
		set, unset         types.String
		setName, unsetName string
	}{
		{cfg.AptMirror, cfg.AptSecurityMirror, "apt_mirror", "apt_security_mirror"},
		{cfg.AptSecurityMirror, cfg.AptMirror, "apt_security_mirror", "apt_mirror"},
	} {
		if !m.set.IsNull() && m.unset.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root(m.unsetName), "Mirror set alone",
				fmt.Sprintf("%s is set but %s is not: set both. The security updates live in their own archive (debian-security), so a mirror of the main archive alone leaves the droplet without them.", m.setName, m.unsetName))
		}
	}
}

// ModifyPlan completes the plan with what the API knows before apply (the
// size's memory, CPUs and disk) and checks, as soon as their inputs are
// known, what only the API or the renderer can: the size exists in the
// region and fits the disk, the fingerprint keys exist, and the payload
// renders within DigitalOcean's 64 KiB.
func (r *dropletResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan dropletModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	var state *dropletModel
	if !req.State.Raw.IsNull() {
		state = &dropletModel{}
		resp.Diagnostics.Append(req.State.Get(ctx, state)...)
	}
	imported, d := wasImported(ctx, req.Private)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}

	var changed, replacedBy []path.Path
	if state != nil {
		changed = plan.bootstrapChanges(state)
		replacedBy = replacedInAPI(&plan, state)
		if !imported {
			replacedBy = append(changed, replacedBy...)
		}
	}
	replacing := len(replacedBy) > 0
	switch {
	case replacing && len(state.VolumeIDs.Elements()) == 0:
		// Taints and -replace never reach ModifyPlan with a prior state;
		// every replacement the configuration causes does.
		resp.Diagnostics.AddAttributeWarning(replacedBy[0], "The droplet will be replaced: students' files on it are lost",
			fmt.Sprintf("Changing %s replaces droplet %s, and it has no volume attached (volume_ids is empty): students' home directories and the hub's database live on the droplet's own disk and are deleted with it. "+
				"Keep them on a jhub_volume attached with jhub_volume_attachment, or back them up before applying.", pathList(replacedBy), state.ID.ValueString()))
	case len(changed) > 0 && !imported:
		resp.Diagnostics.AddAttributeWarning(changed[0], "The droplet will be replaced",
			fmt.Sprintf("Changed: %s, input to the bootstrap payload, which cloud-init applies only on a droplet's first boot; so the change takes a new droplet: "+
				"what is stored on the current one outside its volumes is lost unless it is backed up.", pathList(changed)))
	}
	if plan.SwapMiB.IsUnknown() && !plan.Size.IsUnknown() {
		plan.SwapMiB = types.Int64Value(defaultSwapMiB(plan.Size.ValueString()))
	}
	if state == nil || replacing {
		r.planSize(ctx, &plan, nil, &resp.Diagnostics)
	} else if !plan.Size.Equal(state.Size) {
		r.planSize(ctx, &plan, state, &resp.Diagnostics)
	}
	if state != nil && !replacing && !state.IPv6.ValueBool() && plan.IPv6.ValueBool() {
		plan.IPv6Address = types.StringUnknown()
		resp.Diagnostics.AddAttributeWarning(path.Root("ipv6"), "IPv6 needs configuring on the droplet",
			"DigitalOcean gives the running droplet an IPv6 address, but its network configuration, written at first boot, does not have it: "+
				"add the address to the droplet's interface before publishing ipv6_address in DNS, or replace the droplet to get it configured from the start.")
	}
	if state == nil || len(changed) > 0 {
		r.checkPayload(ctx, &plan, &resp.Diagnostics)
	}
	r.checkClassSize(ctx, &plan, &resp.Diagnostics)
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// checkClassSize warns when expected_students is more than size holds by
// the sizing guide: each student with a server and a running kernel, as at
// a lecture, with the guide's headroom; and names the smallest size in the
// region that holds them.
func (r *dropletResource) checkClassSize(ctx context.Context, plan *dropletModel, diags *diag.Diagnostics) {
	if plan.ExpectedStudents.IsNull() || plan.ExpectedStudents.IsUnknown() || plan.Memory.IsNull() || plan.Memory.IsUnknown() {
		return
	}
	n, memory := int(plan.ExpectedStudents.ValueInt64()), int(plan.Memory.ValueInt64())
	holds := sizing.Students(memory, true)
	if n <= holds {
		return
	}
	fix := "Choose a size with more memory"
	if r.client != nil {
		// Without the sizes (the API failed) the advice stays general.
		best, ok, err := r.client.smallestSize(ctx, plan.Region.ValueString(), func(s godo.Size) bool { return sizing.Students(s.Memory, true) >= n })
		if err == nil && ok {
			fix = fmt.Sprintf("Choose size = %q (%d MiB, holds %d)", best.Slug, best.Memory, sizing.Students(best.Memory, true))
		} else if err == nil {
			fix = fmt.Sprintf("No size offered in %s holds %d: split the class over several hubs", plan.Region.ValueString(), n)
		}
	}
	diags.AddAttributeWarning(path.Root("size"), "The droplet is too small for the class",
		fmt.Sprintf("expected_students = %d, but size %q (%d MiB) holds %d students with a running kernel each (%d with only their server open), "+
			"by the sizing guide (docs/guides/sizing.md: %d MiB per student with a kernel, %d MiB for the hub, edge and system, %d%% of the memory kept free). "+
			"%s, or lower expected_students if fewer of them work at once; past the limit, a lecture's start runs the droplet out of memory.",
			n, plan.Size.ValueString(), memory, holds, sizing.Students(memory, false),
			sizing.PerStudentMiB(true), sizing.ReserveMiB, sizing.HeadroomPercent, fix))
}

// replacedInAPI lists the attributes the API cannot change on a droplet
// that change, which the schema's RequiresReplace modifiers turn into a
// replacement; ModifyPlan does not see their verdict, and an in-place check
// must not fail a plan that replaces the droplet anyway.
func replacedInAPI(plan, state *dropletModel) []path.Path {
	var out []path.Path
	for _, a := range []struct {
		name      string
		now, then attr.Value
	}{{"region", plan.Region, state.Region}, {"image", plan.Image, state.Image}, {"monitoring", plan.Monitoring, state.Monitoring}, {"vpc_uuid", plan.VPCUUID, state.VPCUUID}} {
		if !a.now.Equal(a.then) {
			out = append(out, path.Root(a.name))
		}
	}
	if state.IPv6.ValueBool() && !plan.IPv6.ValueBool() {
		out = append(out, path.Root("ipv6"))
	}
	return out
}

func pathList(ps []path.Path) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// planSize sets memory, vcpus and disk from DigitalOcean's sizes and checks
// the size: it must exist, be offered in the region and, for a droplet being
// resized (state not nil), hold its disk. Without the sizes (an unconfigured
// provider, an unknown size) the values stay unknown until apply.
func (r *dropletResource) planSize(ctx context.Context, plan, state *dropletModel, diags *diag.Diagnostics) {
	plan.Memory, plan.VCPUs, plan.Disk = types.Int64Unknown(), types.Int64Unknown(), types.Int64Unknown()
	if r.client == nil || plan.Size.IsUnknown() || plan.Region.IsUnknown() {
		return
	}
	at, slug, region := path.Root("size"), plan.Size.ValueString(), plan.Region.ValueString()
	size, ok, err := r.client.size(ctx, slug)
	switch {
	case err != nil:
		diags.AddAttributeError(at, "Cannot check the size", apiError("listing DigitalOcean's droplet sizes", err))
		return
	case !ok:
		diags.AddAttributeError(at, "Unknown size", fmt.Sprintf("%q is not a DigitalOcean droplet size. List the sizes with `doctl compute size list` or GET /v2/sizes.", slug))
		return
	case !size.Available || !slices.Contains(size.Regions, region):
		diags.AddAttributeError(at, "Size not offered in the region", fmt.Sprintf("DigitalOcean does not offer size %q in %s now; choose another size or region.", slug, region))
		return
	}
	plan.Memory, plan.VCPUs = types.Int64Value(int64(size.Memory)), types.Int64Value(int64(size.Vcpus))
	if state == nil {
		plan.Disk = types.Int64Value(int64(size.Disk))
		return
	}
	// A resize keeps the disk unless resize_disk grows it, and never shrinks it.
	disk := state.Disk.ValueInt64()
	if int64(size.Disk) < disk {
		diags.AddAttributeError(at, "Size too small for the droplet's disk",
			fmt.Sprintf("Size %q has a %d GB disk, but the droplet's disk is %d GB and disks cannot shrink. Choose a size with at least %d GB of disk.", slug, size.Disk, disk, disk))
		return
	}
	plan.Disk = state.Disk
	if plan.ResizeDisk.ValueBool() {
		plan.Disk = types.Int64Value(int64(size.Disk))
	}
}

// checkPayload renders the payload with what the plan knows, so that a bad
// extra_cloud_config or a payload over DigitalOcean's 64 KiB fails the plan
// rather than the apply.
func (r *dropletResource) checkPayload(ctx context.Context, plan *dropletModel, diags *diag.Diagnostics) {
	if !plan.bootstrapKnown() {
		return
	}
	// The host key, and without a client the fingerprint keys, are only
	// known at apply: a generated key of the same size stands in.
	placeholder, err := cloudinit.GenerateHostKey()
	if err != nil {
		diags.AddError("Cannot generate an SSH key", err.Error())
		return
	}
	var extra []string
	if r.client != nil {
		keys, d := r.fingerprintKeys(ctx, plan)
		diags.Append(d...)
		for _, k := range keys {
			extra = append(extra, k.PublicKey)
		}
	} else {
		for range plan.SSHKeyFingerprints.Elements() {
			extra = append(extra, placeholder.Public)
		}
	}
	cfg, d := plan.bootstrapConfig(ctx, extra)
	diags.Append(d...)
	cfg.HostKey = placeholder
	if _, err := cloudinit.Render(cfg); err != nil {
		diags.Append(fieldDiags("Invalid bootstrap payload", err)...)
	}
}
