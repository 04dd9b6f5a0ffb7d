package provider

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/digitalocean/godo"
	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/classhub/terraform-provider-jhub/internal/cloudinit"
)

type dropletModel struct {
	ID                 types.String   `tfsdk:"id"`
	Name               types.String   `tfsdk:"name"`
	Region             types.String   `tfsdk:"region"`
	Size               types.String   `tfsdk:"size"`
	ResizeDisk         types.Bool     `tfsdk:"resize_disk"`
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
	ExpectedStudents   types.Int64    `tfsdk:"expected_students"`
	HostPublicKey      types.String   `tfsdk:"host_public_key"`
	RegisteredKeyIDs   types.Set      `tfsdk:"registered_ssh_key_ids"`
	Memory             types.Int64    `tfsdk:"memory"`
	VCPUs              types.Int64    `tfsdk:"vcpus"`
	Disk               types.Int64    `tfsdk:"disk"`
	IPv4Address        types.String   `tfsdk:"ipv4_address"`
	IPv4AddressPrivate types.String   `tfsdk:"ipv4_address_private"`
	IPv6Address        types.String   `tfsdk:"ipv6_address"`
	Status             types.String   `tfsdk:"status"`
	VolumeIDs          types.Set      `tfsdk:"volume_ids"`
	Timeouts           timeouts.Value `tfsdk:"timeouts"`
}

// id is the droplet ID as godo takes it; state only ever holds numbers
// (ImportState checks the imported one).
func (m *dropletModel) id() int {
	id, _ := strconv.Atoi(m.ID.ValueString())
	return id
}

// bootstrapInputs are the payload inputs by attribute name, except the
// name, which the API can change.
func (m *dropletModel) bootstrapInputs() map[string]attr.Value {
	return map[string]attr.Value{
		"admin_user": m.AdminUser, "ssh_public_keys": m.SSHPublicKeys, "ssh_key_fingerprints": m.SSHKeyFingerprints,
		"extra_cloud_config": m.ExtraCloudConfig, "apt_mirror": m.AptMirror, "apt_security_mirror": m.AptSecurityMirror, "swap_mib": m.SwapMiB,
	}
}

// bootstrapKnown reports whether every payload input is known.
func (m *dropletModel) bootstrapKnown() bool {
	for _, v := range m.bootstrapInputs() {
		if v.IsUnknown() {
			return false
		}
	}
	return !m.Name.IsUnknown()
}

// bootstrapChanges lists the payload inputs that differ from state, by name.
func (m *dropletModel) bootstrapChanges(state *dropletModel) []path.Path {
	now, was := m.bootstrapInputs(), state.bootstrapInputs()
	var out []path.Path
	for _, name := range sortedKeys(now) {
		if !now[name].Equal(was[name]) {
			out = append(out, path.Root(name))
		}
	}
	return out
}

// bootstrapConfig gathers the payload inputs; accountKeys are the admin keys
// looked up in the account by ssh_key_fingerprints.
func (m *dropletModel) bootstrapConfig(ctx context.Context, accountKeys []string) (cloudinit.Config, diag.Diagnostics) {
	var keys []string
	diags := m.SSHPublicKeys.ElementsAs(ctx, &keys, true)
	for i, k := range keys {
		// file("id_ed25519.pub") ends in a newline; the key is the line.
		keys[i] = strings.TrimSpace(k)
	}
	return cloudinit.Config{
		Hostname:          m.Name.ValueString(),
		AdminUser:         m.AdminUser.ValueString(),
		AdminKeys:         keys,
		AccountKeys:       accountKeys,
		SwapMiB:           int(m.SwapMiB.ValueInt64()),
		ExtraCloudConfig:  m.ExtraCloudConfig.ValueString(),
		AptMirror:         m.AptMirror.ValueString(),
		AptSecurityMirror: m.AptSecurityMirror.ValueString(),
	}, diags
}

var sizeMemRE = regexp.MustCompile(`-(\d+)(mb|gb)(-|$)`)

// defaultSwapMiB gives small droplets swap: JupyterHub plus a few kernels
// outgrow 1 GiB quickly, and the OOM killer takes students' work with it.
// It reads the memory from the slug, so it is known even when the sizes are not.
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

// readDroplet sets what the API tells about a droplet: everything but the
// payload inputs, which only creation knew.
func (m *dropletModel) readDroplet(ctx context.Context, d *godo.Droplet) diag.Diagnostics {
	var diags diag.Diagnostics
	m.Name = types.StringValue(d.Name)
	if d.Region != nil {
		m.Region = types.StringValue(d.Region.Slug)
	}
	if d.Size != nil {
		m.Size = types.StringValue(d.Size.Slug)
	} else if d.SizeSlug != "" {
		m.Size = types.StringValue(d.SizeSlug)
	}
	// Custom images have no slug; keep what the configuration said.
	if d.Image != nil && d.Image.Slug != "" {
		m.Image = types.StringValue(d.Image.Slug)
	}
	if len(d.Tags) > 0 || !m.Tags.IsNull() {
		m.Tags, diags = types.SetValueFrom(ctx, types.StringType, d.Tags)
	}
	m.IPv6 = types.BoolValue(slices.Contains(d.Features, "ipv6"))
	m.Monitoring = types.BoolValue(slices.Contains(d.Features, "monitoring"))
	m.Backups = types.BoolValue(slices.Contains(d.Features, "backups"))
	if m.ResizeDisk.IsNull() {
		m.ResizeDisk = types.BoolValue(false) // imported: the schema's default
	}
	m.setComputed(d)
	return diags
}

// setComputed sets the computed values from the droplet.
func (m *dropletModel) setComputed(d *godo.Droplet) {
	m.Status = types.StringValue(d.Status)
	v4, _ := d.PublicIPv4()
	v4p, _ := d.PrivateIPv4()
	v6, _ := d.PublicIPv6()
	m.IPv4Address = types.StringValue(v4)
	m.IPv4AddressPrivate = types.StringValue(v4p)
	m.IPv6Address = types.StringValue(v6)
	if d.VPCUUID != "" || m.VPCUUID.IsUnknown() {
		m.VPCUUID = types.StringValue(d.VPCUUID)
	}
	m.Memory = types.Int64Value(int64(d.Memory))
	m.VCPUs = types.Int64Value(int64(d.Vcpus))
	m.Disk = types.Int64Value(int64(d.Disk))
	m.VolumeIDs, _ = types.SetValueFrom(context.Background(), types.StringType, append([]string{}, d.VolumeIDs...)) // strings always convert
	if m.SwapMiB.IsUnknown() {
		m.SwapMiB = types.Int64Value(defaultSwapMiB(m.Size.ValueString()))
	}
}

// fillComputed sets only the computed values the plan left unknown: an apply
// must produce what it planned, and values that moved meanwhile (a droplet
// imported while still booting) come in with the next refresh.
func (m *dropletModel) fillComputed(d *godo.Droplet) {
	fresh := *m
	fresh.setComputed(d)
	for _, f := range []struct{ dst, src *types.String }{
		{&m.Status, &fresh.Status}, {&m.IPv4Address, &fresh.IPv4Address}, {&m.IPv4AddressPrivate, &fresh.IPv4AddressPrivate},
		{&m.IPv6Address, &fresh.IPv6Address}, {&m.VPCUUID, &fresh.VPCUUID},
	} {
		if f.dst.IsUnknown() {
			*f.dst = *f.src
		}
	}
	for _, f := range []struct{ dst, src *types.Int64 }{
		{&m.Memory, &fresh.Memory}, {&m.VCPUs, &fresh.VCPUs}, {&m.Disk, &fresh.Disk}, {&m.SwapMiB, &fresh.SwapMiB},
	} {
		if f.dst.IsUnknown() {
			*f.dst = *f.src
		}
	}
	if m.VolumeIDs.IsUnknown() {
		m.VolumeIDs = fresh.VolumeIDs
	}
}
