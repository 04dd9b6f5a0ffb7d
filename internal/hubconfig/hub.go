package hubconfig

import (
	"bytes"
	"fmt"
	"path"
	"slices"
	"strings"
)

// Authenticator classes by kind, as JupyterHub 3.0's entry points name them.
// JupyterHub 3.0 has no shared-password authenticator; DummyAuthenticator
// with a password and allowed_users is exactly that.
var authenticatorClass = map[string]string{
	AuthPAM:            "pam",
	AuthSharedPassword: "dummy",
	AuthDummy:          "dummy",
	AuthGitHub:         "oauthenticator.github.GitHubOAuthenticator",
}

// cullerService is the name of the idle culler's JupyterHub service and role.
const cullerService = "jhub-idle-culler"

// cullerScopes are all the culler needs: find users with running servers,
// read their activity, stop servers.
var cullerScopes = []string{"list:users", "read:users:activity", "read:servers", "delete:servers"}

// ensureSystemUserPy creates the account a spawned server runs as, on the
// first spawn of a user who logged in without one (shared password, GitHub).
// JupyterHub has already lower-cased the name and checked allowed_users.
const ensureSystemUserPy = `
def _ensure_system_user(spawner):
    import pwd, subprocess
    try:
        pwd.getpwnam(spawner.user.name)
    except KeyError:
        subprocess.run(['/usr/sbin/useradd', '--create-home', '--shell', '/bin/bash', '--', spawner.user.name], check=True)


`

// renderHub writes jupyterhub_config.py. Every value from Settings goes
// through pyStr and friends; secrets are read from their files at load time.
func renderHub(s Settings) []byte {
	var b bytes.Buffer
	set := func(name string, v pyValue) { fmt.Fprintf(&b, "c.%s = %s\n", name, v) }
	b.WriteString(`# Rendered by terraform-provider-jhub (jhub_edge); edits are drift and are
# replaced on the next apply. Secrets live in 0600 files beside this one.
import os as _os

# Paths are relative to this file's release directory, so this file is the
# same in every release with the same hub settings (no needless restarts),
# and a staged release is checked against its own secrets.
_release = _os.path.dirname(_os.path.realpath(__file__))


def _secret(name):
    with open(_os.path.join(_release, 'secrets', name), encoding='utf-8') as f:
        return f.read().strip()


`)
	public := "https://" + s.HubHosts[0] + s.BaseURL
	b.WriteString("# The edge terminates TLS on :443 for " + strings.Join(s.HubHosts, ", ") + ";\n" +
		"# JupyterHub itself only listens on loopback. bind_url carries base_url. JupyterHub 3.0\n" +
		"# (Debian 12) has no public_url: it takes the public host from the request, which the\n" +
		"# edge preserves, and links built outside a request (OAuth) are set explicitly.\n")
	set("JupyterHub.bind_url", pyString(ProxyPublicURL+s.BaseURL))
	set("JupyterHub.hub_bind_url", pyString(s.HubBindURL))
	set("JupyterHub.cookie_secret_file", "_os.path.join(_release, 'secrets', 'cookie_secret')")
	set("JupyterHub.db_url", pyString("sqlite:///"+path.Join(HubStateDir, "jupyterhub.sqlite")))
	b.WriteString("# Secure cookies: users only ever reach the hub over HTTPS.\n")
	set("JupyterHub.tornado_settings", pyDict(
		pyKV{"cookie_options", pyDict(pyKV{"secure", pyBool(true)})},
		pyKV{"xsrf_cookie_kwargs", pyDict(pyKV{"secure", pyBool(true)})},
	))
	b.WriteString("# Restarting the hub for a config change keeps students' servers running\n# (the unit has KillMode=process; the proxy keeps its routes).\n")
	set("JupyterHub.cleanup_servers", pyBool(false))

	if s.Edge.ProxyMode == ProxyCHP {
		b.WriteString("\n# configurable-http-proxy runs as its own unit, behind the edge.\n")
	} else {
		b.WriteString("\n# The edge speaks configurable-http-proxy's API; JupyterHub must not start one.\n")
	}
	set("ConfigurableHTTPProxy.should_start", pyBool(false))
	set("ConfigurableHTTPProxy.api_url", pyString(HubAPIURL))
	set("ConfigurableHTTPProxy.auth_token", "_secret('proxy_token')")

	b.WriteString("\n")
	set("JupyterHub.authenticator_class", pyString(authenticatorClass[s.Auth.Kind]))
	set("Authenticator.allowed_users", pySet(s.AllowedUsers))
	set("Authenticator.admin_users", pySet(s.AdminUsers))
	switch s.Auth.Kind {
	case AuthPAM:
		set("LocalAuthenticator.create_system_users", pyBool(s.Auth.CreateSystemUsers))
	case AuthSharedPassword, AuthDummy:
		if s.Auth.Password != "" {
			set("DummyAuthenticator.password", "_secret('hub_password')")
		}
	case AuthGitHub:
		set("GitHubOAuthenticator.client_id", pyString(s.Auth.ClientID))
		set("GitHubOAuthenticator.client_secret", "_secret('github_client_secret')")
		set("GitHubOAuthenticator.oauth_callback_url", pyString(public+"hub/oauth_callback"))
	}

	b.WriteString("\n")
	set("JupyterHub.spawner_class", pyString("localprocess"))
	if s.Auth.Kind != AuthPAM {
		// Servers run as system users; only PAM users already have one.
		b.WriteString(ensureSystemUserPy)
		set("Spawner.pre_spawn_hook", "_ensure_system_user")
	}
	if sp := s.Spawner; sp.NotebookDir != "" {
		set("Spawner.notebook_dir", pyString(sp.NotebookDir))
	}
	if sp := s.Spawner; sp.DefaultURL != "" {
		set("Spawner.default_url", pyString(sp.DefaultURL))
	}
	if len(s.Spawner.Cmd) > 0 {
		set("Spawner.cmd", pyList(pyStrings(s.Spawner.Cmd)...))
	}
	set("JupyterHub.allow_named_servers", pyBool(s.NamedServers))
	if s.NamedServers {
		set("JupyterHub.named_server_limit_per_user", pyInt(s.NamedServerLimit))
	}

	if c := s.IdleCull; c != nil {
		b.WriteString("\n# Idle culling: a stdlib-only service with only the scopes it needs.\n")
		set("JupyterHub.load_roles", pyList(pyDict(
			pyKV{"name", pyString(cullerService)},
			pyKV{"description", pyString("Stop idle single-user servers")},
			pyKV{"scopes", pyList(pyStrings(cullerScopes)...)},
			pyKV{"services", pyList(pyString(cullerService))},
		)))
		set("JupyterHub.services", pyList(pyDict(
			pyKV{"name", pyString(cullerService)},
			pyKV{"command", pyList(
				pyString("/usr/bin/python3"), pyString("-B"),
				pyValue("_os.path.join(_release, "+pyStr(cullerName)+")"),
				pyString(fmt.Sprintf("--timeout=%d", int(c.Timeout.Seconds()))),
				pyString(fmt.Sprintf("--every=%d", int(c.Every.Seconds()))),
			)},
		)))
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
	if rel, ok := strings.CutPrefix(edgeBinary, Current+"/"); ok {
		edgeBinary = path.Join(dir, rel)
	}
	return [][]string{
		{"/bin/sh", "-ec", edgeCheckScript, "jhub-edge-check", dir, edgeBinary},
		{"/usr/bin/python3", "-B", path.Join(dir, checkHubName), path.Join(dir, hubConfigName)},
	}
}

// edgeCheckScript runs `jhub-edge check` ($2) on the staged edge.yaml in
// $1 with its Current paths moved into $1, from a private 0600 temp copy.
const edgeCheckScript = `t=$(mktemp); trap 'rm -f "$t"' EXIT; sed "s|` + Current + `/|$1/|g" "$1/` + edgeConfigName + `" >"$t"; "$2" check -config "$t"`

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
