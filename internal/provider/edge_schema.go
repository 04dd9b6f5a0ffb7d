package provider

import (
	"context"
	"fmt"
	"maps"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/mapplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/classhub/terraform-provider-jhub/internal/hubconfig"
	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

func (r *edgeResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	str := func(desc string) schema.StringAttribute {
		return schema.StringAttribute{Description: desc, Optional: true}
	}
	// secret is a sensitive attribute whose write-only form, name_wo, keeps it out of state.
	secret := func(name, desc string) schema.StringAttribute {
		return schema.StringAttribute{
			MarkdownDescription: desc + " Sensitive: kept in state, installed as a 0600 file, never logged; `" + name + writeOnlySuffix + "` keeps it out of state.",
			Optional:            true, Sensitive: true,
		}
	}
	authAttrs := map[string]schema.Attribute{}
	tlsAttrs := map[string]schema.Attribute{}
	authAttrs["password_wo"], authAttrs["password_wo_version"] = writeOnlyString("password", "The class password, as `password`.")
	authAttrs["admin_passwords_wo"], authAttrs["admin_passwords_wo_version"] = writeOnlyMap("admin_passwords",
		"The admins' own passwords, as `admin_passwords`. The installed file lists exactly `admin_users`, so a change of `admin_users` needs a new `admin_passwords_wo_version` too.")
	authAttrs["client_secret_wo"], authAttrs["client_secret_wo_version"] = writeOnlyString("client_secret", "The OAuth client secret, as `client_secret`.")
	tlsAttrs["dns_token_wo"], tlsAttrs["dns_token_wo_version"] = writeOnlyString("dns_token", "The DigitalOcean API token for `dns-01`, as `dns_token`.")
	tlsAttrs["key_pem_wo"], tlsAttrs["key_pem_wo_version"] = writeOnlyString("key_pem", "The private key, with `pem`, as `key_pem`.")
	with := func(extra, attrs map[string]schema.Attribute) map[string]schema.Attribute {
		maps.Copy(attrs, extra)
		return attrs
	}
	strings := func(desc string) schema.ListAttribute {
		return schema.ListAttribute{Description: desc, Optional: true, ElementType: types.StringType}
	}
	basicAuth := func(desc string) schema.SingleNestedAttribute {
		return schema.SingleNestedAttribute{
			Description: desc,
			Optional:    true,
			Attributes: map[string]schema.Attribute{
				"paths": strings("Path prefixes to guard, each starting with `/`; empty guards everything."),
				"realm": str("The realm browsers show in the login prompt."),
			},
		}
	}
	resp.Schema = schema.Schema{
		Description: "Installs and runs the class hub on a droplet over SSH: the jhub-edge proxy (TLS, websockets, the configurable-http-proxy API), " +
			"JupyterHub's configuration, secrets and systemd units. Each apply stages a new release beside the current one, validates it on the host, " +
			"switches atomically, reloads the edge without dropping connections, restarts JupyterHub only when its configuration changed, and proves the hub " +
			"answers over HTTPS; any failure rolls back to the previous release.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Description: "The droplet address the hub is installed on.",
				Computed:    true,
			},
			// A new address is an in-place update, not a replacement: the hub
			// moves to the new droplet with the certificates kept in state.
			"host": schema.StringAttribute{
				Description: "The droplet's address, usually `jhub_droplet.<name>.ipv4_address`. When it changes (a rebuilt droplet), the hub is installed on the new droplet in place, with the certificates and ACME account kept in state (or, with `volume_name`, found on the class volume, which wins), so the CA is not asked again.",
				Required:    true,
			},
			"host_public_key": schema.StringAttribute{
				Description: "The droplet's SSH host public key, pinned for every connection (`jhub_droplet.<name>.host_public_key`). A droplet presenting another key is refused.",
				Required:    true,
			},
			"ssh_user": schema.StringAttribute{
				Description: "The admin user to log in as (`jhub_droplet.<name>.admin_user`); it needs passwordless sudo. Defaults to `" + defaultAdminUser + "`.",
				Optional:    true,
				Computed:    true,
				Default:     stringdefault.StaticString(defaultAdminUser),
			},
			"ssh_private_key": schema.StringAttribute{
				Description: "The admin user's SSH private key (PEM). Sensitive. It is kept in state because reading and destroying the hub need it too; " +
					"pass it from a variable or a secret store, never a local file, so the configuration also runs in Terraform Cloud.",
				Required:   true,
				Sensitive:  true,
				Validators: []validator.String{sshPrivateKeyValidator{}},
			},
			"hub_hosts": schema.ListAttribute{
				Description: "The hub's DNS names; the first is its public URL's host.",
				Required:    true,
				ElementType: types.StringType,
			},
			"base_url": schema.StringAttribute{
				Description: "JupyterHub's base URL, for a hub on a sub-path such as `/jhub/`. Defaults to `/`. Servers already running keep the address they started with until they are restarted.",
				Optional:    true,
				Computed:    true,
				Default:     stringdefault.StaticString("/"),
			},
			"auth": schema.SingleNestedAttribute{
				Description: "How students log in.",
				Required:    true,
				Attributes: with(authAttrs, map[string]schema.Attribute{
					"kind": schema.StringAttribute{
						Description: "`pam` (system accounts), `shared-password` (any allowed name with one class password), `github` (GitHub's OAuth web flow), `oidc` (any OpenID Connect provider) or `dummy` (labs and tests). " +
							"With `github` and `oidc` the edge runs the login and hands JupyterHub a signed identity; register the callback URL https://HUB_HOST/BASE_URLhub/oauth_callback with the provider.",
						Required:   true,
						Validators: []validator.String{stringvalidator.OneOf(hubconfig.AuthPAM, hubconfig.AuthSharedPassword, hubconfig.AuthGitHub, hubconfig.AuthOIDC, hubconfig.AuthDummy)},
					},
					"create_system_users": schema.BoolAttribute{Description: "With `pam`: create a system account for each allowed or admin user.", Optional: true},
					"password":            secret("password", "The class password for `shared-password`; optional for `dummy`."),
					"admin_passwords": schema.MapAttribute{
						MarkdownDescription: fmt.Sprintf("Each admin's own password, by name, for `shared-password` and `dummy`: every name in `admin_users` needs one (at least %d characters), "+
							"and it may not be the class password. Admins never log in with the class password. Sensitive: kept in state, installed as a 0600 file, never logged; `admin_passwords_wo` keeps them out of state.", hubconfig.MinAdminPasswordLen),
						Optional: true, Sensitive: true, ElementType: types.StringType,
					},
					"client_id":       str("The OAuth client ID, for `github` and `oidc`."),
					"client_secret":   secret("client_secret", "The OAuth client secret, for `github` and `oidc`."),
					"issuer_url":      str("For `oidc`: the provider's issuer (https), read by discovery, for example https://accounts.google.com."),
					"scopes":          strings("For `oidc`: scopes besides `openid`, for example `[\"profile\", \"email\"]`; for `github`, extra scopes (`read:org` is added with `github_org`)."),
					"username_claim":  str("For `oidc`: the claim that becomes the hub user name, `preferred_username` or `email` (the part before @, with `allowed_domains`). It is lower-cased and must be a valid hub user name."),
					"allowed_domains": strings("For `oidc` with `username_claim = \"email\"`: the e-mail domains that may log in (verified addresses only)."),
					"github_org":      str("For `github`: only active members of this organisation log in (besides the roster)."),
					"github_url":      str("For `github`: a GitHub Enterprise Server base URL (https); default github.com."),
					"ca_pem":          str("For `github` and `oidc`: PEM roots the edge trusts for the provider's HTTPS (a campus or GitHub Enterprise CA, a lab's CA) instead of the system roots."),
				}),
			},
			"allowed_users": schema.SetAttribute{
				Description: "The class roster: the students who may log in. A student removed here loses access at the next apply; their files stay.",
				Optional:    true, ElementType: types.StringType,
			},
			"admin_users": schema.SetAttribute{
				Description: "JupyterHub admins (teachers, TAs); they may log in even when not in allowed_users. An admin removed here is no longer an admin after the next apply.",
				Optional:    true, ElementType: types.StringType,
			},
			"droplet_memory": schema.Int64Attribute{
				MarkdownDescription: "The droplet's memory in MiB (`jhub_droplet.<name>.memory`), from which the default `limits` are derived.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(512)},
			},
			"droplet_vcpus": schema.Int64Attribute{
				MarkdownDescription: "The droplet's virtual CPUs (`jhub_droplet.<name>.vcpus`), from which the default `limits` are derived.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
			"limits": schema.SingleNestedAttribute{
				MarkdownDescription: "What one student's server may use. Each server runs in its own systemd unit with these limits, so one student's runaway notebook " +
					"(a memory or fork bomb) costs its owner a kernel, not the class its hub; the hub and the edge are protected from the OOM killer. " +
					"Each value left out is derived from `droplet_memory` and `droplet_vcpus`: half the memory above a reserve for the system, hub and edge " +
					"(the larger of 512 MiB and an eighth), one core (80% on a single-vCPU droplet), and 512 tasks.",
				Optional: true, Computed: true,
				Attributes: map[string]schema.Attribute{
					"memory_max_mib":    schema.Int64Attribute{MarkdownDescription: "Memory per server in MiB (systemd `MemoryMax`).", Optional: true, Computed: true},
					"tasks_max":         schema.Int64Attribute{MarkdownDescription: "Processes and threads per server (systemd `TasksMax`).", Optional: true, Computed: true},
					"cpu_quota_percent": schema.Int64Attribute{MarkdownDescription: "CPU per server, in percent of one core (systemd `CPUQuota`).", Optional: true, Computed: true},
					"nproc":             schema.Int64Attribute{MarkdownDescription: "Processes the student's account may own (`RLIMIT_NPROC`), which stops a fork bomb even where cgroups are not available.", Optional: true, Computed: true},
				},
			},
			"spawner": schema.SingleNestedAttribute{
				Description: "The single-user servers.",
				Optional:    true,
				Attributes: map[string]schema.Attribute{
					"notebook_dir": str("The directory a server opens in, for example `~/assignments`; `~` is the user's home."),
					"default_url":  str("The page a new server opens, for example `/tree/Welcome.ipynb`."),
					"cmd":          strings("Replaces the single-user server command."),
				},
			},
			"course_files": schema.MapAttribute{
				MarkdownDescription: "The course's files: a path relative to the notebook directory (`spawner.notebook_dir`, for example " +
					"`Welcome.ipynb` or `week1/data.csv`) to the file's text, for example `file(\"${path.module}/Welcome.ipynb\")`. " +
					"Each time a student's server starts, the files the student does not have are copied into their notebook directory, " +
					"as the student's own files: a student's edits are never overwritten, and a file they deleted comes back. " +
					"Paths are clean and relative (no leading `/`, no `..`); at most " + fmt.Sprint(hubconfig.MaxCourseFiles) + " files of at most " +
					fmt.Sprint(hubconfig.MaxCourseFileBytes>>20) + " MiB each, " + fmt.Sprint(hubconfig.MaxCourseBytes>>20) + " MiB in all. " +
					"Larger material goes into the shared course directory `" + hubconfig.CourseDir + "` on the droplet, which every student can read " +
					"and only the hub's admins (group `" + hubconfig.CourseGroup + "`) can write; students can `git clone` the repositories in it, " +
					"or follow an nbgitpuller link such as `https://HUB/hub/user-redirect/git-pull?repo=file://" + hubconfig.CourseDir + "/notes&urlpath=lab/tree/notes/README.md` " +
					"(`repo` may also be a public `https://`, `http://` or `git://` repository; `targetpath`, a folder below the notebook directory, defaults to the repository's name): " +
					"the student's server clones it, or later merges the new commits keeping the student's edits, and opens `urlpath`.",
				Optional: true, ElementType: types.StringType,
			},
			"named_servers": schema.BoolAttribute{
				Description: "Let each user run several named servers. Defaults to false.",
				Optional:    true, Computed: true, Default: booldefault.StaticBool(false),
			},
			"named_server_limit": schema.Int64Attribute{
				Description: "Most named servers per user; 0 for no limit. Defaults to 0.",
				Optional:    true, Computed: true, Default: int64default.StaticInt64(0),
				Validators: []validator.Int64{int64validator.AtLeast(0)},
			},
			"idle_cull": schema.SingleNestedAttribute{
				Description: "Stop servers that have been idle for a while, so a class does not exhaust the droplet's memory.",
				Optional:    true,
				Attributes: map[string]schema.Attribute{
					"timeout": schema.StringAttribute{Description: "Idle time before a server is stopped, such as `1h`; at least `1m`.", Required: true},
					"every":   str("How often to check, such as `5m`; defaults to half the timeout, at most 5m."),
				},
			},
			"volume_name": schema.StringAttribute{
				Description: "The class volume the hub's state lives on, usually `jhub_volume.<name>.name`, attached to the droplet by a " +
					"`jhub_volume_attachment` (add it to `depends_on`, so the volume is attached before the hub is installed and detached after it is removed). " +
					"The hub formats it (ext4) only when it is blank, mounts `/dev/disk/by-id/scsi-0DO_Volume_<name>` at `" + ondroplet.VolumeDir + "` (in `/etc/fstab`, " +
					"`nofail`) and keeps there the students' homes (`" + ondroplet.VolumeHomes + "/<user>`), the hub database, the course directory and the edge's " +
					"ACME account and certificates, so a rebuilt droplet, or a hub destroyed and applied again, finds every student's files with their owners, the same " +
					"users and the same certificate without a new ACME order. Unset: all of it lives on the droplet's own disk and goes with it. " +
					"Setting it on a running hub moves the database, course directory and certificates onto the volume; homes made before stay on the droplet's disk.",
				Optional:   true,
				Validators: []validator.String{checkString("Invalid volume name", "must be a DigitalOcean volume name", checkVolumeName)},
			},
			"hub_bind_url": schema.StringAttribute{
				Description: "Where the hub process itself listens, on loopback. Defaults to `" + hubconfig.DefaultHubBindURL + "`.",
				Optional:    true,
			},
			"tls": schema.SingleNestedAttribute{
				Description: "Where the certificate comes from.",
				Required:    true,
				Attributes: with(tlsAttrs, map[string]schema.Attribute{
					"mode": schema.StringAttribute{
						Description: "`acme` (Let's Encrypt or another ACME CA; renewed automatically), `pem` (your certificate) or `selfsigned` (labs).",
						Required:    true,
						Validators:  []validator.String{stringvalidator.OneOf(hubconfig.TLSACME, hubconfig.TLSPEM, hubconfig.TLSSelfSigned)},
					},
					"acme_email":         str("ACME account contact, required with `acme`."),
					"acme_directory_url": str("The ACME directory; defaults to Let's Encrypt production."),
					"acme_ca_root_pem":   str("PEM roots trusted for the ACME directory's own HTTPS, for test CAs such as Pebble."),
					"acme_challenges":    strings("Challenges to offer: `http-01`, `tls-alpn-01`, `dns-01` (through the DigitalOcean API). Defaults to http-01 and tls-alpn-01."),
					"dns_token":          secret("dns_token", "DigitalOcean API token for `dns-01`."),
					"dns_api_url":        str("DigitalOcean API endpoint for `dns-01`; defaults to DigitalOcean's."),
					"dns_resolvers":      strings("Resolvers (host:port) used to check that dns-01 records have propagated."),
					"cert_pem":           str("Certificate chain, with `pem`."),
					"key_pem":            secret("key_pem", "Private key, with `pem`."),
				}),
			},
			"trusted_ca_pem": schema.StringAttribute{
				Description: "PEM roots the provider trusts when it proves the hub answers over HTTPS. Defaults to the system roots; " +
					"set it to the test CA's root in a lab. With `selfsigned` TLS the edge's own certificate is trusted.",
				Optional: true,
			},
			"sites": schema.ListNestedAttribute{
				Description: "Other sites served on the same :443, each either static files or another upstream.",
				Optional:    true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"host":         schema.StringAttribute{Description: "The site's host name.", Required: true},
					"static_files": schema.MapAttribute{Description: "Files shipped with the release: relative path to content.", Optional: true, ElementType: types.StringType},
					"root":         str("Serve an existing directory on the droplet."),
					"upstream":     str("Proxy to this http(s) URL."),
					"basic_auth":   basicAuth("Guard the site with the basic_auth_users."),
				},
				},
			},
			"basic_auth_users": schema.MapAttribute{
				Description: "HTTP basic auth users, name to password. Only bcrypt hashes reach the droplet.",
				Optional:    true,
				Sensitive:   true,
				ElementType: types.StringType,
			},
			"hub_basic_auth": basicAuth("Put basic auth in front of the hub as well; JupyterLab keeps working after one login."),
			"proxy_mode": schema.StringAttribute{
				Description: "`chp-api`: the edge is JupyterHub's proxy, speaking configurable-http-proxy's API (default). `chp`: a real configurable-http-proxy runs behind the edge.",
				Optional:    true,
				Computed:    true,
				Default:     stringdefault.StaticString(hubconfig.ProxyCHPAPI),
				Validators:  []validator.String{stringvalidator.OneOf(hubconfig.ProxyCHPAPI, hubconfig.ProxyCHP)},
			},
			"extra_ufw_rules": schema.ListAttribute{
				Description: "More ufw rules beside the baseline (22 rate-limited, 80 and 443 open), in ufw's own words, for example `allow 8443/tcp` " +
					"or `allow from 198.51.100.0/24 to any port 5432 proto tcp`. Rules removed here are deleted from the droplet. The hub's internal ports " +
					fmt.Sprintf("(%v) cannot be opened: the proxy API behind them would let anyone reroute the hub.", hubconfig.InternalPorts),
				Optional:    true,
				ElementType: types.StringType,
				Validators:  []validator.List{listvalidator.ValueStringsAre(ufwRuleValidator{})},
			},
			"student_packages": schema.SetAttribute{
				MarkdownDescription: "Debian packages for the students' notebooks, for example `python3-numpy`, `python3-pandas`, `python3-matplotlib`, `python3-scipy`: " +
					"names only (no `=version`: the droplet's Debian release keeps one version of each, with security fixes). Each apply installs the missing ones in place over SSH, " +
					"with apt-get (no recommends; it may not remove a package, so nothing that conflicts with the hub gets in), before the new release is staged: " +
					"a failed install (an unknown name) fails the apply with apt's message, and the hub keeps serving as before. " +
					"A package removed from the set is removed from the droplet if this resource installed it and no installed package depends on it " +
					"(one that does keeps it, marked as automatically installed, until it goes too); then `apt-get autoremove` removes the dependencies nothing needs any more. " +
					"Packages that were installed by hand before (JupyterHub's own, such as `jupyterlab`) are never removed. Destroying the hub leaves the packages installed.",
				Optional:    true,
				ElementType: types.StringType,
				Validators:  []validator.Set{packageNamesValidator{}},
			},
			"rotate_secrets": schema.StringAttribute{
				Description: "Any change to this value generates a new cookie secret and proxy token (logging every user out).",
				Optional:    true,
			},
			"hub_url": schema.StringAttribute{
				Description: "The hub's public URL.",
				Computed:    true,
			},
			"release_id": schema.StringAttribute{
				Description: "The installed release. Read sets it to `drifted` when files on the droplet were changed by hand or a service is not running, so the next apply repairs them.",
				Computed:    true,
			},
			"cookie_secret": schema.StringAttribute{Description: "JupyterHub's cookie secret, generated.", Computed: true, Sensitive: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"proxy_token":   schema.StringAttribute{Description: "The proxy API token, generated.", Computed: true, Sensitive: true, PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()}},
			"basic_auth_hashes": schema.MapAttribute{
				Description: "bcrypt hashes of basic_auth_users, kept so that an unchanged password keeps its hash.",
				Computed:    true, Sensitive: true, ElementType: types.StringType,
				// Known in the plan unless basic_auth_users change (ModifyPlan).
				PlanModifiers: []planmodifier.Map{mapplanmodifier.UseStateForUnknown()},
			},
			"tls_bundle": schema.StringAttribute{
				Description: "The edge's certificates and ACME account, read back after each install and refresh, so a rebuilt droplet reuses them instead of asking the CA again.",
				Computed:    true, Sensitive: true,
				// A renewal on the droplet comes in with the next refresh, not as a plan diff.
				PlanModifiers: []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}
