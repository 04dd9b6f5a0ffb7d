package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/classhub/terraform-provider-jhub/internal/bundle"
	"github.com/classhub/terraform-provider-jhub/internal/hubconfig"
	"github.com/classhub/terraform-provider-jhub/internal/installer"
)

var (
	_ resource.Resource                = (*edgeResource)(nil)
	_ resource.ResourceWithModifyPlan  = (*edgeResource)(nil)
	_ resource.ResourceWithImportState = (*edgeResource)(nil)
)

// NewEdgeResource is the jhub_edge resource.
func NewEdgeResource() resource.Resource { return &edgeResource{} }

// edgeResource needs no API client: it works over SSH only.
type edgeResource struct{}

// driftedRelease marks a host whose files or services differ from the release.
const driftedRelease = "drifted"

// How long the provider waits for the hub to answer over HTTPS after a switch:
// JupyterHub takes seconds to start, a first ACME certificate a little longer.
const healthTimeout = 3 * time.Minute

// Delete waits deleteDialTimeout for SSH, then deleteTimeout to stop the hub,
// its students' servers, and unmount the class volume.
const (
	deleteDialTimeout = 45 * time.Second
	deleteTimeout     = 5 * time.Minute
)

// installTimeout bounds an install from the first SSH attempt (a droplet still
// booting) to the health check.
const installTimeout = 20 * time.Minute

func (r *edgeResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_edge"
}

// ModifyPlan validates the release at plan time and marks what an apply changes:
// new secrets on rotate, a reinstall when Read found drift.
func (r *edgeResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	var plan, cfg edgeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.copyWriteOnly(&cfg)
	// The id is the address: it moves with the hub to a rebuilt droplet.
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("id"), plan.Host)...)
	limits, d := plan.plannedLimits(ctx)
	resp.Diagnostics.Append(d...)
	plan.Limits = limits
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("limits"), limits)...)
	if plan.settingsKnown() {
		s, d := plan.settings(ctx)
		resp.Diagnostics.Append(d...)
		// Secrets are generated at apply; placeholders of their shape let the rest be checked now.
		placeholder, err := hubconfig.GenerateSecrets()
		if err == nil {
			s.Secrets, err = placeholder.WithBasicAuth(s.Edge.BasicAuthUsers)
		}
		if err != nil {
			resp.Diagnostics.AddError("Cannot check hub settings", err.Error())
			return
		}
		if err := s.Validate(); err != nil {
			resp.Diagnostics.Append(writeOnlyDiags("Invalid hub settings", err, &plan)...)
			return
		}
		if base, err := hubconfig.NormalizeBaseURL(s.BaseURL); err == nil && len(s.HubHosts) > 0 {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("hub_url"), "https://"+s.HubHosts[0]+base)...)
		}
	}
	if req.State.Raw.IsNull() {
		return
	}
	var state edgeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if !plan.RotateSecrets.Equal(state.RotateSecrets) {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("cookie_secret"), types.StringUnknown())...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("proxy_token"), types.StringUnknown())...)
	}
	if !plan.BasicAuthUsers.Equal(state.BasicAuthUsers) {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("basic_auth_hashes"), types.MapUnknown(types.StringType))...)
	}
	// The admins' passwords file lists exactly admin_users: a kept one
	// would lack a new admin's password or still hold a removed one's.
	if pv, sv := plan.writeOnlyFields()[hubconfig.SecretAdminPasswords], state.writeOnlyFields()[hubconfig.SecretAdminPasswords]; !pv.version.IsNull() &&
		pv.version.Equal(sv.version) && !plan.AdminUsers.Equal(state.AdminUsers) {
		resp.Diagnostics.AddAttributeError(path.Root("auth").AtName("admin_passwords_wo_version"), "The admins' passwords must be installed again",
			"admin_users changed, and the admins' passwords installed from auth.admin_passwords_wo name exactly the old admin_users. "+
				"Give every admin's password in auth.admin_passwords_wo and increment auth.admin_passwords_wo_version.")
	}
	if state.ReleaseID.ValueString() == driftedRelease {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("release_id"), types.StringUnknown())...)
	}
}

func (r *edgeResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan, cfg edgeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.copyWriteOnly(&cfg)
	secrets, err := hubconfig.GenerateSecrets()
	if err != nil {
		resp.Diagnostics.AddError("Cannot generate secrets", err.Error())
		return
	}
	plan.ID = plan.Host
	kept, d := r.install(ctx, &plan, secrets, "", nil, nil, false)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(kept.save(ctx, resp.Private.SetKey)...)
}

func (r *edgeResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, cfg, state edgeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	plan.copyWriteOnly(&cfg)
	old, d := readVerifiers(ctx, req.Private.GetKey)
	resp.Diagnostics.Append(d...)
	// A write-only secret whose version did not change keeps the droplet's
	// copy: a new value alone is not installed.
	keep := verifiers{}
	was := state.writeOnlyFields()
	for attr, f := range plan.writeOnlyFields() {
		if h, ok := old[attr]; ok && f.version.Equal(was[attr].version) {
			keep[attr] = h
		}
	}
	secrets, d := state.secrets(ctx)
	resp.Diagnostics.Append(d...)
	if !plan.RotateSecrets.Equal(state.RotateSecrets) || secrets.CookieSecret == "" {
		fresh, err := hubconfig.GenerateSecrets()
		if err != nil {
			resp.Diagnostics.AddError("Cannot generate secrets", err.Error())
			return
		}
		fresh.BasicAuthHashes = secrets.BasicAuthHashes
		secrets = fresh
	}
	plan.ID = plan.Host
	// A new droplet behind the same hub gets the certificates and ACME
	// account kept in state, so a rebuild does not ask the CA again. On the
	// same droplet the edge's own (perhaps renewed) certificates stay.
	// The certificates on a class volume win: ImportTLS only fills an empty storage.
	var restore string
	var oldRules []string
	leaveVolume := false
	if plan.Host.Equal(state.Host) {
		resp.Diagnostics.Append(state.ExtraUFWRules.ElementsAs(ctx, &oldRules, true)...)
		leaveVolume = state.VolumeName.ValueString() != "" && plan.VolumeName.ValueString() == ""
	} else {
		restore = state.TLSBundle.ValueString()
	}
	kept, d := r.install(ctx, &plan, secrets, restore, oldRules, keep, leaveVolume)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &plan)...)
	resp.Diagnostics.Append(kept.save(ctx, resp.Private.SetKey)...)
}

// install puts the hub's state on m's volume (or, with leaveVolume, takes
// it off the one the hub used), renders the release for m and installs it,
// then brings the extra ufw rules from oldRules to m's; on success m
// carries the secrets, the release id and the TLS bundle read back from
// the host, and the result the verifiers of the write-only secrets' files.
// The droplet's copy of a write-only secret in keep stays when keep
// verifies it.
func (r *edgeResource) install(ctx context.Context, m *edgeModel, secrets hubconfig.Secrets, tlsBundle string, oldRules []string, keep verifiers, leaveVolume bool) (verifiers, diag.Diagnostics) {
	var diags diag.Diagnostics
	s, d := m.settings(ctx)
	diags.Append(d...)
	if diags.HasError() {
		return nil, diags
	}
	secrets, err := secrets.WithBasicAuth(s.Edge.BasicAuthUsers)
	if err != nil {
		diags.AddAttributeError(path.Root("basic_auth_users"), "Cannot hash basic auth passwords", err.Error())
		return nil, diags
	}
	s.Secrets = secrets

	// Bounds the whole install: a droplet that never answers SSH must not hang the apply.
	ctx, cancel := context.WithTimeout(ctx, installTimeout)
	defer cancel()
	c, done, err := sshConns.get(ctx, m)
	if err != nil {
		diags.AddAttributeError(path.Root("host"), "Cannot reach the droplet over SSH", err.Error())
		return nil, diags
	}
	defer func() { done(diags.HasError()) }()
	if err := c.WaitCloudInit(ctx); err != nil {
		diags.AddError("The droplet's bootstrap failed", err.Error())
		return nil, diags
	}
	rel, attrs, err := release(ctx, c, &s)
	if err != nil {
		diags.AddError("Cannot prepare the release", err.Error())
		return nil, diags
	}
	if err := keepVerified(ctx, c, rel.Files, attrs, keep); err != nil {
		diags.AddError("Cannot read the installed secrets' hashes", err.Error())
		return nil, diags
	}
	if name := m.VolumeName.ValueString(); name != "" {
		if err := c.MountVolume(ctx, name, append(hubconfig.Units(s), hubconfig.ServerUnits)); err != nil {
			diags.AddAttributeError(path.Root("volume_name"), "Cannot put the hub's state on the volume", err.Error()+
				"\n\nAttach the volume to this droplet (jhub_volume_attachment, listed in jhub_edge's depends_on) and apply again; nothing on the volume was changed unless it was blank.")
			return nil, diags
		}
	} else if leaveVolume {
		if err := c.UnmountVolume(ctx, append(hubconfig.Units(s), hubconfig.ServerUnits)); err != nil {
			diags.AddAttributeError(path.Root("volume_name"), "Cannot take the hub off the volume", err.Error())
			return nil, diags
		}
	}
	if tlsBundle != "" {
		if err := c.ImportTLS(ctx, []byte(tlsBundle)); err != nil {
			diags.AddError("Cannot restore the certificates", err.Error())
			return nil, diags
		}
	}
	trust, err := r.trust(ctx, m, c)
	if err != nil {
		diags.AddAttributeError(path.Root("trusted_ca_pem"), "Cannot build the trust for the health check", err.Error())
		return nil, diags
	}
	diags.Append(m.StudentPackages.ElementsAs(ctx, &rel.Packages, true)...)
	if diags.HasError() {
		return nil, diags
	}
	base, _ := hubconfig.NormalizeBaseURL(s.BaseURL)
	rel.Health = func(ctx context.Context) error {
		return waitHealthy(ctx, m.Host.ValueString(), s.HubHosts[0], base, trust(ctx))
	}
	tflog.Info(ctx, "installing the hub", map[string]any{"host": m.Host.ValueString(), "files": len(rel.Files)})
	res, err := c.Install(ctx, rel)
	if err != nil {
		var se *installer.StepError
		summary := "Install failed"
		if errors.As(err, &se) {
			summary = fmt.Sprintf("Install failed at step %q", se.Step)
		}
		diags.AddError(summary, err.Error()+"\n\nThe previous release, if any, keeps serving. Fix the cause and apply again.")
		return nil, diags
	}
	tflog.Info(ctx, "hub installed", map[string]any{"release": res.ReleaseID, "changed": res.Changed, "restarted": res.Restarted, "reloaded": res.Reloaded,
		"packages_installed": res.Installed, "packages_removed": res.Removed, "kept": res.Kept})
	kept, err := keep.record(rel.Files, attrs, m.writeOnlyFields(), res)
	if err != nil {
		diags.AddError("Cannot hash the installed secrets", err.Error())
		return nil, diags
	}
	var rules []string
	diags.Append(m.ExtraUFWRules.ElementsAs(ctx, &rules, true)...)
	if err := c.ApplyFirewall(ctx, oldRules, rules); err != nil {
		diags.AddAttributeError(path.Root("extra_ufw_rules"), "Cannot apply the firewall rules", err.Error())
		return nil, diags
	}
	// A bundle planned from state stays as planned; what the droplet holds
	// now (a renewal) comes in with the next refresh.
	if m.TLSBundle.IsUnknown() {
		m.TLSBundle = types.StringNull()
		exported, err := c.ExportTLS(ctx)
		if err != nil {
			diags.AddWarning("Certificates not kept in state", "Reading the edge's certificates back failed; a rebuilt droplet will ask the CA again: "+err.Error())
		} else if len(exported) > 0 {
			m.TLSBundle = types.StringValue(string(exported))
		}
	}
	diags.Append(m.setSecrets(secrets)...)
	m.ReleaseID = types.StringValue(res.ReleaseID)
	m.HubURL = types.StringValue("https://" + s.HubHosts[0] + base)
	return kept, diags
}

// release renders the files for s with the edge build for the host's
// machine, and names the files of the given secrets (path → attribute).
// The build lives inside the release (hubconfig.DefaultEdgeBinary), so a
// new build is a new release and a rollback restores the old binary.
func release(ctx context.Context, c *installer.Client, s *hubconfig.Settings) (installer.Release, map[string]string, error) {
	arch, err := c.Arch(ctx)
	if err != nil {
		return installer.Release{}, nil, err
	}
	bin, err := bundle.Edge(arch)
	if err != nil {
		return installer.Release{}, nil, err
	}
	s.EdgeBinary = hubconfig.DefaultEdgeBinary
	files, err := hubconfig.Render(*s)
	if err != nil {
		return installer.Release{}, nil, err
	}
	rel := installer.Release{Files: []installer.File{{Path: s.EdgeBinary, Mode: 0o755, Owner: "root", Content: bin}}}
	attrs := map[string]string{}
	restart := map[string][]string{}
	for _, f := range files {
		rel.Files = append(rel.Files, installer.File{Path: f.Path, Mode: f.Mode, Owner: f.Owner, Content: f.Content, Secret: f.Secret})
		if f.Attr != "" {
			attrs[f.Path] = f.Attr
		}
		if f.Restart != "" {
			restart[f.Restart] = append(restart[f.Restart], f.Path)
		}
	}
	// A new build is a new binary at the same path: only a restart runs it.
	restart[hubconfig.EdgeUnit] = append(restart[hubconfig.EdgeUnit], s.EdgeBinary)
	for _, check := range hubconfig.Checks("{{release}}", s.EdgeBinary) {
		rel.Validate = append(rel.Validate, installer.Command(check...))
	}
	for _, unit := range hubconfig.Units(*s) {
		rel.Services = append(rel.Services, installer.Service{Name: unit, Reload: unit == hubconfig.EdgeUnit, RestartOnChange: restart[unit]})
	}
	return rel, attrs, nil
}

// keepVerified sets Keep on the files of the secrets in keep whose copy on
// the droplet the verifiers recognise: that copy stays, whatever the
// configuration holds now.
func keepVerified(ctx context.Context, c *installer.Client, files []installer.File, attrs map[string]string, keep verifiers) error {
	var paths []string
	for p, attr := range attrs {
		if _, ok := keep[attr]; ok {
			paths = append(paths, p)
		}
	}
	if len(paths) == 0 {
		return nil
	}
	st, err := c.State(ctx, paths, nil)
	if err != nil {
		return err
	}
	for i, f := range files {
		if sha := st.Files[f.Path].SHA256; keep.verifies(attrs[f.Path], sha) {
			files[i].Keep = sha
		}
	}
	return nil
}

func dialEdge(ctx context.Context, m *edgeModel) (*installer.Client, error) {
	return installer.Dial(ctx, installer.Target{
		Addr:       m.Host.ValueString(),
		User:       m.SSHUser.ValueString(),
		PrivateKey: []byte(m.SSHPrivateKey.ValueString()),
		HostKey:    m.HostPublicKey.ValueString(),
	})
}

// trust returns the roots the health check verifies the hub against: the
// configured CA, else (self-signed) the edge's own root read over SSH, else
// the system roots.
func (r *edgeResource) trust(ctx context.Context, m *edgeModel, c *installer.Client) (func(context.Context) *x509.CertPool, error) {
	if pem := m.TrustedCAPEM.ValueString(); pem != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(pem)) {
			return nil, errors.New("trusted_ca_pem holds no PEM certificate")
		}
		return func(context.Context) *x509.CertPool { return pool }, nil
	}
	if m.TLS != nil && m.TLS.Mode.ValueString() == hubconfig.TLSSelfSigned {
		// The edge creates its root on first start, after the switch.
		return func(ctx context.Context) *x509.CertPool {
			root, err := c.SelfSignedRoot(ctx)
			pool := x509.NewCertPool()
			if err == nil {
				pool.AppendCertsFromPEM(root)
			}
			return pool
		}, nil
	}
	return func(context.Context) *x509.CertPool { return nil }, nil
}

// waitHealthy proves the hub answers over HTTPS: the hub's name, dialled at
// the droplet's address, with a verified certificate and JupyterHub's API
// answering behind the edge.
func waitHealthy(ctx context.Context, addr, host, base string, roots *x509.CertPool) error {
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	client := &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				return dialer.DialContext(ctx, network, net.JoinHostPort(addr, "443"))
			},
			TLSClientConfig: &tls.Config{ServerName: host, RootCAs: roots, MinVersion: tls.VersionTLS12},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	url := "https://" + host + base + "hub/api/"
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
			_ = resp.Body.Close() // read what the check needs; a failed close changes nothing
			if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `"version"`) {
				return nil
			}
			err = fmt.Errorf("GET %s: %s: %.200s", url, resp.Status, body)
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("the hub did not answer over HTTPS within %s (dialling %s as %s): %w", healthTimeout, addr, host, last)
		case <-time.After(2 * time.Second):
		}
	}
}

// Read detects drift: a hand-edited file or a stopped service marks the
// release as drifted, which the next plan repairs.
func (r *edgeResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	var state edgeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || state.SSHPrivateKey.IsNull() {
		// Imported: nothing to log in with until the configuration supplies it.
		return
	}
	s, d := state.settings(ctx)
	resp.Diagnostics.Append(d...)
	secrets, d := state.secrets(ctx)
	resp.Diagnostics.Append(d...)
	if resp.Diagnostics.HasError() {
		return
	}
	s.Secrets = secrets
	kept, d := readVerifiers(ctx, req.Private.GetKey)
	resp.Diagnostics.Append(d...)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	c, done, err := sshConns.get(ctx, &state)
	if err != nil {
		if errors.Is(err, installer.ErrHostKeyMismatch) {
			resp.Diagnostics.AddAttributeError(path.Root("host_public_key"), "Host key mismatch", err.Error())
			return
		}
		resp.Diagnostics.AddWarning("Droplet unreachable", fmt.Sprintf("Could not check the hub on %s for drift: %s", state.Host.ValueString(), err))
		return
	}
	broken := false
	defer func() { done(broken) }()
	rel, attrs, err := release(ctx, c, &s)
	if err != nil {
		resp.Diagnostics.AddWarning("Cannot check for drift", err.Error())
		return
	}
	var paths []string
	for _, f := range rel.Files {
		paths = append(paths, f.Path)
	}
	var units []string
	for _, svc := range rel.Services {
		units = append(units, svc.Name)
	}
	st, err := c.State(ctx, paths, units)
	if err != nil {
		broken = true
		resp.Diagnostics.AddWarning("Cannot check for drift", err.Error())
		return
	}
	drift := st.ReleaseID == ""
	for _, f := range rel.Files {
		// A withheld secret's file is the droplet's copy when the verifier knows it.
		withheld := f.Content == nil && s.Withheld[attrs[f.Path]]
		if withheld {
			f.Keep = st.Files[f.Path].SHA256
			if !kept.verifies(attrs[f.Path], f.Keep) {
				f.Keep = ""
			}
		}
		if !st.Matches(f) || (withheld && f.Keep == "") {
			tflog.Warn(ctx, "file differs from the release", map[string]any{"path": f.Path})
			drift = true
		}
	}
	for u, active := range st.Services {
		if active != "active" {
			tflog.Warn(ctx, "service not running", map[string]any{"unit": u, "state": active})
			drift = true
		}
	}
	if drift {
		state.ReleaseID = types.StringValue(driftedRelease)
	} else {
		state.ReleaseID = types.StringValue(st.ReleaseID)
	}
	if exported, err := c.ExportTLS(ctx); err == nil && len(exported) > 0 {
		state.TLSBundle = types.StringValue(string(exported))
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &state)...)
}

func (r *edgeResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	var state edgeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() || state.SSHPrivateKey.IsNull() {
		return
	}
	s, d := state.settings(ctx)
	resp.Diagnostics.Append(d...)
	// An unreachable droplet is given up on quickly; a reachable one gets
	// the time its students' servers take to stop (systemd allows each 90 s)
	// and the volume to unmount, even on a busy droplet.
	dialCtx, cancelDial := context.WithTimeout(ctx, deleteDialTimeout)
	c, done, err := sshConns.get(dialCtx, &state)
	cancelDial()
	ctx, cancel := context.WithTimeout(ctx, deleteTimeout)
	defer cancel()
	if err != nil {
		// A droplet destroyed before the hub on it has nothing left to remove.
		resp.Diagnostics.AddWarning("Droplet unreachable", fmt.Sprintf("Nothing was removed from %s, which does not answer SSH (%s); if the droplet still exists, remove /opt/jhub by hand.", state.Host.ValueString(), err))
		return
	}
	// The hub is gone with this call: the connection is not needed again.
	defer done(true)
	if err := c.Uninstall(ctx, hubconfig.Units(s)); err != nil {
		resp.Diagnostics.AddError("Cannot remove the hub", err.Error())
		return
	}
	// The state stays on the volume, unmounted (students' servers stopped
	// first: they hold their homes), so detaching it is clean.
	if state.VolumeName.ValueString() != "" {
		if err := c.UnmountVolume(ctx, []string{hubconfig.ServerUnits}); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("volume_name"), "Cannot unmount the class volume", err.Error()+
				"\n\nThe hub itself is removed and the students' data is intact on the volume. A process still holding a file there blocks the unmount: run `terraform destroy` again, which retries it.")
		}
	}
}

func (r *edgeResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if net.ParseIP(req.ID) == nil {
		resp.Diagnostics.AddError("Invalid import ID", fmt.Sprintf("Import a jhub_edge by the droplet's IP address, for example `terraform import jhub_edge.hub 203.0.113.10`; %q is not one. The next apply installs the configured release on it.", req.ID))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("host"), req.ID)...)
}
