package hubconfig

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// Authenticator classes by kind: jhub_hub.py's (see its docstring), so the
// roster rules hold for every kind. For github and oidc the edge runs the
// OAuth flow and the hub trusts only the identity it signs.
var authenticatorClass = map[string]pyValue{
	AuthPAM:            "_jhub.JhubPAMAuthenticator",
	AuthSharedPassword: "_jhub.JhubPasswordAuthenticator",
	AuthDummy:          "_jhub.JhubPasswordAuthenticator",
	AuthGitHub:         "_jhub.JhubEdgeAuthenticator",
	AuthOIDC:           "_jhub.JhubEdgeAuthenticator",
}

// cullerService is the name of the idle culler's JupyterHub service and role.
const cullerService = "jhub-idle-culler"

// cullerScopes are all the culler needs: find users with running servers,
// read their activity, stop servers.
var cullerScopes = []string{"list:users", "read:users:activity", "read:servers", "delete:servers"}

// serverUnitProperties harden every student's server unit, besides Limits:
// its own /tmp, no privilege gain (setuid sudo and su fail), stopped
// within a bound time.
var serverUnitProperties = []string{"PrivateTmp=yes", "NoNewPrivileges=yes", "TimeoutStopSec=20s"}

// roster is everyone who may log in: students and admins, sorted.
func roster(s Settings) []string {
	all := slices.Concat(s.AllowedUsers, s.AdminUsers)
	slices.Sort(all)
	return slices.Compact(all)
}

// renderHub writes jupyterhub_config.py. Every value from Settings goes
// through pyStr and friends; secrets are read from their files at load time.
func renderHub(s Settings) []byte {
	var b bytes.Buffer
	set := func(name string, v pyValue) { fmt.Fprintf(&b, "c.%s = %s\n", name, v) }
	b.WriteString(`# Rendered by terraform-provider-jhub (jhub_edge); edits are drift and are
# replaced on the next apply. Secrets live in 0600 files beside this one.
import importlib.util as _importlib_util
import json as _json
import os as _os

# Paths are relative to this file's release directory, so this file is the
# same in every release with the same hub settings (no needless restarts),
# and a staged release is checked against its own secrets.
_release = _os.path.dirname(_os.path.realpath(__file__))


def _secret(name, strip=True):
    with open(_os.path.join(_release, 'secrets', name), encoding='utf-8') as f:
        value = f.read()
    return value.strip() if strip else value


def _load(name):
    spec = _importlib_util.spec_from_file_location(name[:-3], _os.path.join(_release, name))
    module = _importlib_util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The authenticator and spawner classes of this release.
_jhub = _load(` + pyStr(hubClassesName) + `)

`)
	public := "https://" + s.HubHosts[0] + s.BaseURL
	b.WriteString("# The edge terminates TLS on :443 for " + strings.Join(s.HubHosts, ", ") + ";\n" +
		"# JupyterHub itself only listens on privileged loopback ports no student can\n" +
		"# bind. bind_url carries base_url; it is where configurable-http-proxy listens in\n" +
		"# chp mode. Links built outside a request (OAuth) are set explicitly.\n")
	set("JupyterHub.bind_url", pyString(ProxyPublicURL+s.BaseURL))
	set("JupyterHub.hub_bind_url", pyString(s.HubBindURL))
	set("JupyterHub.cookie_secret_file", "_os.path.join(_release, 'secrets', 'cookie_secret')")
	set("JupyterHub.db_url", pyString("sqlite:///"+path.Join(ondroplet.HubStateDir, "jupyterhub.sqlite")))
	b.WriteString("# Secure cookies: users only ever reach the hub over HTTPS.\n")
	set("JupyterHub.tornado_settings", pyDict(
		pyKV{"cookie_options", pyDict(pyKV{"secure", pyBool(true)})},
		pyKV{"xsrf_cookie_kwargs", pyDict(pyKV{"secure", pyBool(true)})},
	))
	b.WriteString("# Restarting the hub for a config change keeps students' servers running:\n# each runs in its own systemd unit, and the proxy keeps its routes.\n")
	set("JupyterHub.cleanup_servers", pyBool(false))

	if s.Edge.ProxyMode == ProxyCHP {
		b.WriteString("\n# configurable-http-proxy runs as its own unit, behind the edge.\n")
	} else {
		b.WriteString("\n# The edge speaks configurable-http-proxy's API; JupyterHub must not start one.\n")
	}
	set("ConfigurableHTTPProxy.should_start", pyBool(false))
	set("ConfigurableHTTPProxy.api_url", pyString(HubAPIURL))
	set("ConfigurableHTTPProxy.auth_token", "_secret('proxy_token')")

	b.WriteString("\n# The roster is the truth: a user who is in neither list is deleted at the\n" +
		"# hub's next start (servers stopped, sessions and tokens gone, files kept), and\n" +
		"# admin rights follow admin_users both ways (the admin role lists them exactly).\n")
	set("JupyterHub.authenticator_class", authenticatorClass[s.Auth.Kind])
	set("Authenticator.allowed_users", pySet(roster(s)))
	set("Authenticator.allow_all", pyBool(false))
	set("Authenticator.allow_existing_users", pyBool(false))
	set("Authenticator.delete_invalid_users", pyBool(true))
	set("Authenticator.username_pattern", pyString(UserNamePattern))
	set("Roster.admins", pySet(s.AdminUsers))
	if len(s.AllowedUsers) == 0 {
		b.WriteString("# pam without allowed_users: every account the hub may spawn as.\n")
		set("Authenticator.any_allow_config", pyBool(true))
	}
	b.WriteString("# Hub users run only as accounts the hub created for them.\n")
	set("AccountRules.name_pattern", pyString(UserNamePattern))
	reserved := slices.Clone(ReservedUserNames)
	if s.AdminSSHUser != "" {
		reserved = append(reserved, s.AdminSSHUser)
	}
	slices.Sort(reserved)
	set("AccountRules.reserved_names", pySet(slices.Compact(reserved)))
	set("AccountRules.reserved_prefixes", pyList(pyString(reservedUserPrefix)))
	set("AccountRules.students_group", pyString(StudentsGroup))
	if s.OnVolume {
		b.WriteString("# Homes live on the class volume; a home already there keeps its uid and gid.\n")
		set("AccountRules.home_base", pyString(ondroplet.VolumeHomes))
	}
	switch s.Auth.Kind {
	case AuthPAM:
		set("LocalAuthenticator.create_system_users", pyBool(s.Auth.CreateSystemUsers))
	case AuthSharedPassword, AuthDummy:
		b.WriteString("# Students log in with the class password, admins only with their own.\n")
		set("ThrottledLogin.failures_per_minute", pyInt(LoginFailuresPerName))
		set("ThrottledLogin.address_failures_per_minute", pyInt(LoginFailuresPerAddress))
		if s.gives(SecretPassword, s.Auth.Password) {
			set("PasswordCheck.class_password", "_secret('hub_password', strip=False)")
		}
		if len(s.AdminUsers) > 0 {
			set("PasswordCheck.admin_passwords", "_json.loads(_secret('admin_passwords'))")
		}
	case AuthGitHub, AuthOIDC:
		b.WriteString("# The edge runs the " + s.Auth.Kind + " login (callback " + public + edgeconfig.CallbackPath + ") and hands the\n" +
			"# hub a fresh, single-use identity signed with this key; nothing else logs in.\n")
		set("EdgeIdentity.key", pyValue("_secret("+pyStr(path.Base(IdentityKeyFile))+")"))
		set("EdgeIdentity.header", pyString(edgeconfig.IdentityHeader))
		set("EdgeIdentity.max_age", pyInt(int(edgeconfig.IdentityMaxAge.Seconds())))
		// Paths below the hub's own prefix (base_url + "hub/").
		set("EdgeIdentity.login_path", pyString(strings.TrimPrefix(edgeconfig.LoginPath, "hub/")))
		set("EdgeIdentity.identity_path", pyString(strings.TrimPrefix(edgeconfig.HubIdentPath, "hub/")))
	}

	b.WriteString("\n# Each server runs in its own systemd unit, with limits, as the user's account.\n")
	set("JupyterHub.spawner_class", "_jhub.JhubSpawner")
	set("JhubSpawner.unit_properties", pyList(pyStrings(slices.Concat(s.Limits.unitProperties(), serverUnitProperties))...))
	set("JhubSpawner.course_group", pyString(CourseGroup))
	// A lecture's students arrive together and their servers start at once.
	set("Spawner.start_timeout", pyInt(SpawnStartTimeout))
	set("Spawner.http_timeout", pyInt(SpawnHTTPTimeout))
	if len(s.CourseFiles) > 0 {
		b.WriteString("# Course files: each server start copies the missing ones into the notebook directory, as the user.\n")
		set("JhubSpawner.course_files", pyValue("_os.path.join(_release, "+pyStr(courseDirName)+")"))
	}
	if sp := s.Spawner; sp.NotebookDir != "" {
		set("Spawner.notebook_dir", pyString(sp.NotebookDir))
	}
	set("Spawner.default_url", pyString(s.Spawner.DefaultURL))
	if len(s.Spawner.Cmd) > 0 {
		set("Spawner.cmd", pyList(pyStrings(s.Spawner.Cmd)...))
	}
	set("JupyterHub.allow_named_servers", pyBool(s.NamedServers))
	if s.NamedServers {
		set("JupyterHub.named_server_limit_per_user", pyInt(s.NamedServerLimit))
	}

	roles := []pyValue{pyDict(
		pyKV{"name", pyString("admin")},
		pyKV{"users", pyList(pyStrings(s.AdminUsers)...)},
	)}
	var services []pyValue
	if c := s.IdleCull; c != nil {
		roles = append(roles, pyDict(
			pyKV{"name", pyString(cullerService)},
			pyKV{"description", pyString("Stop idle single-user servers")},
			pyKV{"scopes", pyList(pyStrings(cullerScopes)...)},
			pyKV{"services", pyList(pyString(cullerService))},
		))
		services = append(services, pyDict(
			pyKV{"name", pyString(cullerService)},
			pyKV{"command", pyList(
				pyString("/usr/bin/python3"), pyString("-B"),
				pyValue("_os.path.join(_release, "+pyStr(cullerName)+")"),
				pyString(fmt.Sprintf("--timeout=%d", int(c.Timeout.Seconds()))),
				pyString(fmt.Sprintf("--every=%d", int(c.Every.Seconds()))),
			)},
		))
	}
	b.WriteString("\n# Roles: the admin role lists the admins exactly (demoted admins lose it)")
	if s.IdleCull != nil {
		b.WriteString(";\n# idle culling is a stdlib-only service with only the scopes it needs")
	}
	b.WriteString(".\n")
	set("JupyterHub.load_roles", pyList(roles...))
	if len(services) > 0 {
		set("JupyterHub.services", pyList(services...))
	}
	return b.Bytes()
}

// Checks are the commands that must succeed on the droplet, as root, against
// a release staged in dir (the installer's staging directory, whose files
// become Current on the switch), before the switch: the edge's own config
// check and JupyterHub's own config loader (check_hub.py). edge.yaml names
// its files under Current, so the edge check reads a copy whose Current
// paths point into dir; the hub config finds its files relative to itself.
// edgeBinary is Settings.EdgeBinary (or DefaultEdgeBinary); under Current it
// is taken from dir too.
func Checks(dir, edgeBinary string) [][]string {
	if rel, ok := strings.CutPrefix(edgeBinary, ondroplet.Current+"/"); ok {
		edgeBinary = path.Join(dir, rel)
	}
	return [][]string{
		{"/bin/sh", "-ec", edgeCheckScript, "jhub-edge-check", dir, edgeBinary},
		{"/usr/bin/python3", "-B", path.Join(dir, checkHubName), path.Join(dir, hubConfigName)},
	}
}

// edgeCheckScript runs `jhub-edge check` ($2) on the staged edge.yaml in
// $1 with its Current paths moved into $1, from a private 0600 temp copy.
const edgeCheckScript = `t=$(mktemp); trap 'rm -f "$t"' EXIT; sed "s|` + ondroplet.Current + `/|$1/|g" "$1/` + edgeConfigName + `" >"$t"; "$2" check -config "$t"`

// unitNames lists the units of a release, in start order.
func unitNames(mode string) []string {
	names := []string{EdgeUnit, HubUnit}
	if mode == ProxyCHP {
		names = slices.Insert(names, 1, CHPUnit)
	}
	return names
}

// Units lists the systemd units a release for s contains, in start order;
// their files are under UnitDir, where they shadow Debian's
// /lib/systemd/system/jupyterhub.service.
func Units(s Settings) []string {
	mode := s.Edge.ProxyMode
	if mode == "" {
		mode = ProxyCHPAPI
	}
	return unitNames(mode)
}
