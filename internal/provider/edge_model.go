package provider

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/classhub/terraform-provider-jhub/internal/hubconfig"
)

type edgeModel struct {
	ID               types.String `tfsdk:"id"`
	Host             types.String `tfsdk:"host"`
	HostPublicKey    types.String `tfsdk:"host_public_key"`
	SSHUser          types.String `tfsdk:"ssh_user"`
	SSHPrivateKey    types.String `tfsdk:"ssh_private_key"`
	HubHosts         types.List   `tfsdk:"hub_hosts"`
	BaseURL          types.String `tfsdk:"base_url"`
	Auth             *authModel   `tfsdk:"auth"`
	AllowedUsers     types.Set    `tfsdk:"allowed_users"`
	AdminUsers       types.Set    `tfsdk:"admin_users"`
	DropletMemory    types.Int64  `tfsdk:"droplet_memory"`
	DropletVCPUs     types.Int64  `tfsdk:"droplet_vcpus"`
	Limits           types.Object `tfsdk:"limits"`
	Spawner          *spawnerMdl  `tfsdk:"spawner"`
	CourseFiles      types.Map    `tfsdk:"course_files"`
	NamedServers     types.Bool   `tfsdk:"named_servers"`
	NamedServerLimit types.Int64  `tfsdk:"named_server_limit"`
	IdleCull         *idleCullMdl `tfsdk:"idle_cull"`
	HubBindURL       types.String `tfsdk:"hub_bind_url"`
	VolumeName       types.String `tfsdk:"volume_name"`
	TLS              *tlsModel    `tfsdk:"tls"`
	TrustedCAPEM     types.String `tfsdk:"trusted_ca_pem"`
	Sites            []siteModel  `tfsdk:"sites"`
	BasicAuthUsers   types.Map    `tfsdk:"basic_auth_users"`
	HubBasicAuth     *basicAuthMd `tfsdk:"hub_basic_auth"`
	ProxyMode        types.String `tfsdk:"proxy_mode"`
	ExtraUFWRules    types.List   `tfsdk:"extra_ufw_rules"`
	StudentPackages  types.Set    `tfsdk:"student_packages"`
	RotateSecrets    types.String `tfsdk:"rotate_secrets"`
	HubURL           types.String `tfsdk:"hub_url"`
	ReleaseID        types.String `tfsdk:"release_id"`
	CookieSecret     types.String `tfsdk:"cookie_secret"`
	ProxyToken       types.String `tfsdk:"proxy_token"`
	BasicAuthHashes  types.Map    `tfsdk:"basic_auth_hashes"`
	TLSBundle        types.String `tfsdk:"tls_bundle"`
}

type authModel struct {
	Kind              types.String `tfsdk:"kind"`
	CreateSystemUsers types.Bool   `tfsdk:"create_system_users"`
	Password          types.String `tfsdk:"password"`
	PasswordWO        types.String `tfsdk:"password_wo"`
	PasswordWOVersion types.Int64  `tfsdk:"password_wo_version"`
	AdminPasswords    types.Map    `tfsdk:"admin_passwords"`
	// AdminPasswordsWO is write-only: set from the configuration (copyWriteOnly).
	AdminPasswordsWO        types.Map    `tfsdk:"admin_passwords_wo"`
	AdminPasswordsWOVersion types.Int64  `tfsdk:"admin_passwords_wo_version"`
	ClientID                types.String `tfsdk:"client_id"`
	ClientSecret            types.String `tfsdk:"client_secret"`
	ClientSecretWO          types.String `tfsdk:"client_secret_wo"`
	ClientSecretWOVersion   types.Int64  `tfsdk:"client_secret_wo_version"`
	IssuerURL               types.String `tfsdk:"issuer_url"`
	Scopes                  types.List   `tfsdk:"scopes"`
	UsernameClaim           types.String `tfsdk:"username_claim"`
	AllowedDomains          types.List   `tfsdk:"allowed_domains"`
	GitHubOrg               types.String `tfsdk:"github_org"`
	GitHubURL               types.String `tfsdk:"github_url"`
	CAPEM                   types.String `tfsdk:"ca_pem"`
}

// limitsModel is jhub_edge's limits.
type limitsModel struct {
	MemoryMaxMiB    types.Int64 `tfsdk:"memory_max_mib"`
	TasksMax        types.Int64 `tfsdk:"tasks_max"`
	CPUQuotaPercent types.Int64 `tfsdk:"cpu_quota_percent"`
	NProc           types.Int64 `tfsdk:"nproc"`
}

var limitsAttrTypes = map[string]attr.Type{
	"memory_max_mib": types.Int64Type, "tasks_max": types.Int64Type, "cpu_quota_percent": types.Int64Type, "nproc": types.Int64Type,
}

// plannedLimits fills what the configuration leaves out of limits from the
// droplet's size; unknown while the size is.
func (m *edgeModel) plannedLimits(ctx context.Context) (types.Object, diag.Diagnostics) {
	var diags diag.Diagnostics
	var l limitsModel
	if !m.Limits.IsNull() && !m.Limits.IsUnknown() {
		diags.Append(m.Limits.As(ctx, &l, basetypes.ObjectAsOptions{})...)
	}
	fields := []*types.Int64{&l.MemoryMaxMiB, &l.TasksMax, &l.CPUQuotaPercent, &l.NProc}
	missing := false
	for _, f := range fields {
		missing = missing || f.IsNull() || f.IsUnknown()
	}
	if missing {
		if m.DropletMemory.IsUnknown() || m.DropletVCPUs.IsUnknown() {
			return types.ObjectUnknown(limitsAttrTypes), diags
		}
		// The smallest droplet's limits stand in when the size is missing,
		// so that the rest of the settings are still checked in this plan.
		memory, vcpus := 512, 1
		if m.DropletMemory.IsNull() || m.DropletVCPUs.IsNull() {
			diags.AddAttributeError(path.Root("droplet_memory"), "The droplet's size is needed",
				"Set droplet_memory = jhub_droplet.<name>.memory and droplet_vcpus = jhub_droplet.<name>.vcpus, so each student's limits are derived from the droplet's size, or set every field of limits.")
		} else {
			memory, vcpus = int(m.DropletMemory.ValueInt64()), int(m.DropletVCPUs.ValueInt64())
		}
		d := hubconfig.DefaultLimits(memory, vcpus)
		for i, v := range []int{d.MemoryMaxMiB, d.TasksMax, d.CPUQuotaPercent, d.NProc} {
			if fields[i].IsNull() || fields[i].IsUnknown() {
				*fields[i] = types.Int64Value(int64(v))
			}
		}
	}
	obj, d := types.ObjectValueFrom(ctx, limitsAttrTypes, l)
	diags.Append(d...)
	return obj, diags
}

type spawnerMdl struct {
	NotebookDir types.String `tfsdk:"notebook_dir"`
	DefaultURL  types.String `tfsdk:"default_url"`
	Cmd         types.List   `tfsdk:"cmd"`
}

type idleCullMdl struct {
	Timeout types.String `tfsdk:"timeout"`
	Every   types.String `tfsdk:"every"`
}

type tlsModel struct {
	Mode              types.String `tfsdk:"mode"`
	ACMEEmail         types.String `tfsdk:"acme_email"`
	ACMEDirectoryURL  types.String `tfsdk:"acme_directory_url"`
	ACMECARootPEM     types.String `tfsdk:"acme_ca_root_pem"`
	ACMEChallenges    types.List   `tfsdk:"acme_challenges"`
	DNSToken          types.String `tfsdk:"dns_token"`
	DNSTokenWO        types.String `tfsdk:"dns_token_wo"`
	DNSTokenWOVersion types.Int64  `tfsdk:"dns_token_wo_version"`
	DNSAPIURL         types.String `tfsdk:"dns_api_url"`
	DNSResolvers      types.List   `tfsdk:"dns_resolvers"`
	CertPEM           types.String `tfsdk:"cert_pem"`
	KeyPEM            types.String `tfsdk:"key_pem"`
	KeyPEMWO          types.String `tfsdk:"key_pem_wo"`
	KeyPEMWOVersion   types.Int64  `tfsdk:"key_pem_wo_version"`
}

type siteModel struct {
	Host        types.String `tfsdk:"host"`
	StaticFiles types.Map    `tfsdk:"static_files"`
	Root        types.String `tfsdk:"root"`
	Upstream    types.String `tfsdk:"upstream"`
	BasicAuth   *basicAuthMd `tfsdk:"basic_auth"`
}

type basicAuthMd struct {
	Paths types.List   `tfsdk:"paths"`
	Realm types.String `tfsdk:"realm"`
}

// settingsKnown reports whether every input of the rendered release is
// known. The droplet's address and host key are not among them: on a first
// plan they are unknown, and the hub's settings must still be checked before
// a droplet is created and billed.
func (m *edgeModel) settingsKnown() bool {
	vals := []attr.Value{m.SSHUser, m.HubHosts, m.BaseURL, m.AllowedUsers, m.AdminUsers, m.Limits,
		m.CourseFiles, m.NamedServers, m.NamedServerLimit, m.HubBindURL, m.VolumeName, m.BasicAuthUsers, m.ProxyMode, m.TrustedCAPEM, m.ExtraUFWRules}
	if m.Auth != nil {
		a := m.Auth
		vals = append(vals, a.Kind, a.CreateSystemUsers, a.Password, a.AdminPasswords, a.ClientID, a.ClientSecret,
			a.PasswordWO, a.PasswordWOVersion, a.AdminPasswordsWO, a.AdminPasswordsWOVersion, a.ClientSecretWO, a.ClientSecretWOVersion)
	}
	if m.Spawner != nil {
		vals = append(vals, m.Spawner.NotebookDir, m.Spawner.DefaultURL, m.Spawner.Cmd)
	}
	if m.IdleCull != nil {
		vals = append(vals, m.IdleCull.Timeout, m.IdleCull.Every)
	}
	if t := m.TLS; t != nil {
		vals = append(vals, t.Mode, t.ACMEEmail, t.ACMEDirectoryURL, t.ACMECARootPEM, t.ACMEChallenges, t.DNSToken, t.DNSAPIURL, t.DNSResolvers, t.CertPEM, t.KeyPEM,
			t.DNSTokenWO, t.DNSTokenWOVersion, t.KeyPEMWO, t.KeyPEMWOVersion)
	}
	for _, s := range m.Sites {
		vals = append(vals, s.Host, s.StaticFiles, s.Root, s.Upstream)
		if s.BasicAuth != nil {
			vals = append(vals, s.BasicAuth.Paths, s.BasicAuth.Realm)
		}
	}
	if m.HubBasicAuth != nil {
		vals = append(vals, m.HubBasicAuth.Paths, m.HubBasicAuth.Realm)
	}
	for _, v := range vals {
		if v.IsUnknown() {
			return false
		}
	}
	return true
}

// settings maps the model onto the hub's settings, without the generated
// secrets. A secret given in its write-only form is taken from the model
// (copyWriteOnly), or withheld where it is null there (state).
func (m *edgeModel) settings(ctx context.Context) (hubconfig.Settings, diag.Diagnostics) {
	var diags diag.Diagnostics
	list := func(l types.List) []string {
		var out []string
		diags.Append(l.ElementsAs(ctx, &out, true)...)
		return out
	}
	// Rosters are sets (a removed student is one line in the plan); sorted,
	// so a render does not depend on the order Terraform hands them over.
	set := func(l types.Set) []string {
		var out []string
		diags.Append(l.ElementsAs(ctx, &out, true)...)
		slices.Sort(out)
		return out
	}
	strMap := func(m types.Map) map[string]string {
		out := map[string]string{}
		diags.Append(m.ElementsAs(ctx, &out, true)...)
		return out
	}
	basic := func(b *basicAuthMd) *hubconfig.BasicAuth {
		if b == nil {
			return nil
		}
		return &hubconfig.BasicAuth{Paths: list(b.Paths), Realm: b.Realm.ValueString()}
	}
	s := hubconfig.Settings{
		HubHosts:         list(m.HubHosts),
		BaseURL:          m.BaseURL.ValueString(),
		AllowedUsers:     set(m.AllowedUsers),
		AdminUsers:       set(m.AdminUsers),
		AdminSSHUser:     m.SSHUser.ValueString(),
		NamedServers:     m.NamedServers.ValueBool(),
		NamedServerLimit: int(m.NamedServerLimit.ValueInt64()),
		HubBindURL:       m.HubBindURL.ValueString(),
		OnVolume:         m.VolumeName.ValueString() != "",
	}
	if a := m.Auth; a != nil {
		s.Auth = hubconfig.Auth{
			Kind: a.Kind.ValueString(), CreateSystemUsers: a.CreateSystemUsers.ValueBool(),
			Password: orWriteOnly(a.Password, a.PasswordWO), ClientID: a.ClientID.ValueString(), ClientSecret: orWriteOnly(a.ClientSecret, a.ClientSecretWO),
			IssuerURL: a.IssuerURL.ValueString(), Scopes: list(a.Scopes), UsernameClaim: a.UsernameClaim.ValueString(),
			AllowedDomains: list(a.AllowedDomains), GitHubOrg: a.GitHubOrg.ValueString(), GitHubURL: a.GitHubURL.ValueString(),
			CAPEM: a.CAPEM.ValueString(),
		}
		admins := a.AdminPasswords
		if admins.IsNull() {
			admins = a.AdminPasswordsWO
		}
		if pw := strMap(admins); len(pw) > 0 {
			s.Auth.AdminPasswords = pw
		}
	}
	if !m.Limits.IsNull() && !m.Limits.IsUnknown() {
		var l limitsModel
		diags.Append(m.Limits.As(ctx, &l, basetypes.ObjectAsOptions{})...)
		s.Limits = hubconfig.Limits{MemoryMaxMiB: int(l.MemoryMaxMiB.ValueInt64()), TasksMax: int(l.TasksMax.ValueInt64()),
			CPUQuotaPercent: int(l.CPUQuotaPercent.ValueInt64()), NProc: int(l.NProc.ValueInt64())}
	}
	if sp := m.Spawner; sp != nil {
		s.Spawner = hubconfig.Spawner{NotebookDir: sp.NotebookDir.ValueString(), DefaultURL: sp.DefaultURL.ValueString(), Cmd: list(sp.Cmd)}
	}
	if files := strMap(m.CourseFiles); len(files) > 0 {
		s.CourseFiles = files
	}
	if c := m.IdleCull; c != nil {
		s.IdleCull = &hubconfig.IdleCull{Timeout: duration(c.Timeout, path.Root("idle_cull").AtName("timeout"), &diags), Every: duration(c.Every, path.Root("idle_cull").AtName("every"), &diags)}
	}
	if t := m.TLS; t != nil {
		s.Edge.TLS = hubconfig.TLS{
			Mode: t.Mode.ValueString(),
			ACME: hubconfig.ACME{
				Email: t.ACMEEmail.ValueString(), DirectoryURL: t.ACMEDirectoryURL.ValueString(), CARootPEM: t.ACMECARootPEM.ValueString(),
				Challenges: list(t.ACMEChallenges), DNSToken: orWriteOnly(t.DNSToken, t.DNSTokenWO), DNSAPIURL: t.DNSAPIURL.ValueString(), DNSResolvers: list(t.DNSResolvers),
			},
			CertPEM: t.CertPEM.ValueString(),
			KeyPEM:  orWriteOnly(t.KeyPEM, t.KeyPEMWO),
		}
	}
	// A write-only value is in the model only where the configuration was read.
	for attr, f := range m.writeOnlyFields() {
		if f.value.IsNull() {
			if s.Withheld == nil {
				s.Withheld = map[string]bool{}
			}
			s.Withheld[attr] = true
		}
	}
	for _, site := range m.Sites {
		s.Edge.Sites = append(s.Edge.Sites, hubconfig.Site{
			Host: site.Host.ValueString(), StaticFiles: strMap(site.StaticFiles), Root: site.Root.ValueString(),
			Upstream: site.Upstream.ValueString(), BasicAuth: basic(site.BasicAuth),
		})
	}
	if users := strMap(m.BasicAuthUsers); len(users) > 0 {
		s.Edge.BasicAuthUsers = users
	}
	s.Edge.HubBasicAuth = basic(m.HubBasicAuth)
	s.Edge.ProxyMode = m.ProxyMode.ValueString()
	return s, diags
}

func duration(v types.String, at path.Path, diags *diag.Diagnostics) time.Duration {
	if v.IsNull() || v.ValueString() == "" {
		return 0
	}
	d, err := time.ParseDuration(v.ValueString())
	if err != nil {
		diags.AddAttributeError(at, "Invalid duration", fmt.Sprintf("%q is not a duration such as 30m or 1h: %s.", v.ValueString(), err))
	}
	return d
}

// secrets reads the generated secrets kept in state.
func (m *edgeModel) secrets(ctx context.Context) (hubconfig.Secrets, diag.Diagnostics) {
	s := hubconfig.Secrets{CookieSecret: m.CookieSecret.ValueString(), ProxyToken: m.ProxyToken.ValueString()}
	var diags diag.Diagnostics
	if !m.BasicAuthHashes.IsNull() && !m.BasicAuthHashes.IsUnknown() {
		s.BasicAuthHashes = map[string]string{}
		diags = m.BasicAuthHashes.ElementsAs(ctx, &s.BasicAuthHashes, false)
	}
	return s, diags
}

func (m *edgeModel) setSecrets(s hubconfig.Secrets) diag.Diagnostics {
	m.CookieSecret = types.StringValue(s.CookieSecret)
	m.ProxyToken = types.StringValue(s.ProxyToken)
	elems := map[string]attr.Value{}
	for u, h := range s.BasicAuthHashes {
		elems[u] = types.StringValue(h)
	}
	var diags diag.Diagnostics
	m.BasicAuthHashes, diags = types.MapValue(types.StringType, elems)
	return diags
}
