// Package hubconfig turns typed hub and edge settings (the jhub_edge
// resource's attributes) into the exact files one release installs on a
// droplet. It renders; it never connects anywhere (internal/installer does).
//
// # Layout on the droplet
//
// Render returns paths as they are once the release is current; the
// installer (internal/installer) stages the files under /opt/jhub/current in
// a fresh release directory, runs Checks against it, then switches the
// /opt/jhub/current symlink to it and copies the units into place.
//
//	/opt/jhub/current/                    the active release (a symlink the installer switches)
//	    bin/jhub-edge…                    the edge build (Settings.EdgeBinary; shipped by the provider)
//	    edge.yaml                         jhub-edge config (0644 root)
//	    jupyterhub_config.py              hub config; reads its secrets below (0600 root: the roster)
//	    check_hub.py                      validates the hub config with JupyterHub's loader (0644 root)
//	    jhub_hub.py                       the hub's authenticators and spawner (0644 root; see below)
//	    idle_culler.py                    with Settings.IdleCull (0644 root)
//	    secrets/cookie_secret             0600 root      (JupyterHub refuses a readable one)
//	    secrets/proxy_token               0600 jhub-edge (edge api_token_file; root's hub reads it too)
//	    secrets/chp.env                   0600 root      (CONFIGPROXY_AUTH_TOKEN=…, "chp" mode; read by systemd)
//	    secrets/hub_password              0600 root      (shared-password, or dummy with a password)
//	    secrets/admin_passwords           0600 root      (shared-password, dummy: JSON, admin → own password)
//	    secrets/github_client_secret      0600 root      (github)
//	    secrets/htpasswd                  0600 jhub-edge (bcrypt, with basic auth)
//	    secrets/tls_key.pem, tls/cert.pem 0600 jhub-edge / 0644 root (tls mode pem)
//	    secrets/do_token                  0600 jhub-edge (ACME dns-01)
//	    tls/acme_ca_root.pem              0644 root      (ACME test CA)
//	    sites/<host>/<path>               static site files (0644 root)
//	/etc/systemd/system/jhub-edge.service, jupyterhub.service,
//	    configurable-http-proxy.service ("chp" mode)   0644 root
//	/var/lib/jupyterhub, /var/lib/jhub-edge   state (systemd StateDirectory=)
//
// Directories are 0755 root; only files carry secrets. Secret files are
// always 0600; a 0600 file that is not Secret may be shown in a diff.
//
// edge.yaml names its files by their /opt/jhub/current path (Checks points a
// copy at the staged directory); jupyterhub_config.py finds its files
// relative to its own real location, so it checks against a staged release
// as it is and pins the release the hub started from. Units run everything
// through /opt/jhub/current.
//
// Our jupyterhub.service replaces Debian's: /etc/systemd/system comes before
// /lib/systemd/system in systemd's unit search path, so ours shadows the
// packaged unit of the same name (drop-ins in jupyterhub.service.d would
// still apply; Debian ships none). Enabling it again after the switch
// (`systemctl enable`) makes the wants link name ours.
//
// # What the installer does with a release
//
//  1. Create the system user ondroplet.EdgeUser if missing.
//  2. Stage every File (directories 0755 root); run Checks(staged dir,
//     EdgeBinary) as root; any failure stops here.
//  3. Switch /opt/jhub/current, put the units in place, daemon-reload.
//     (The students group is the hub's own business: its unit creates it.)
//  4. Restart each unit named by the File.Restart of a file whose content
//     differs from the previous release's file at the same path (the hub:
//     its config, the secrets it reads, the culler, its unit; the edge: its
//     unit, which names the binary and carries a digest of what a reload
//     cannot apply); reload jhub-edge (SIGHUP keeps connections) otherwise.
//
// # The single-machine threat model
//
// Students run code as their own Linux accounts on the droplet, so the
// release assumes every local process but root and the service users is
// hostile:
//
//   - Ports: everything between the edge and the hub listens on privileged
//     loopback ports (InternalPorts: CHPPublicPort, ProxyAPIPort,
//     EdgeAPIPortCHP, HubPort) that no student can bind while a service
//     restarts. The hub runs as root; the edge and configurable-http-proxy
//     get CAP_NET_BIND_SERVICE.
//   - Names: every hub user name follows CheckUserName (UserNamePattern,
//     ReservedUserNames, the droplet's admin); jhub_hub.py checks again on
//     the droplet before every spawn and runs servers only as accounts it
//     created (members of StudentsGroup, uid >= 1000, in no privileged
//     group). Homes are 0700; the hub unit's ExecStartPre corrects older
//     homes of StudentsGroup members at every hub start.
//   - Logins: the class password admits students only; each admin has an
//     own password (Auth.AdminPasswords). Failed logins are throttled per
//     name and per client address (HTTP 429).
//   - Roster: AllowedUsers and AdminUsers are the truth. Each roster
//     change changes jupyterhub_config.py and so restarts the hub, which
//     deletes users no longer listed (servers stopped, sessions and tokens
//     gone, files kept) and lists the admin role's users exactly.
//   - Limits: each server is a transient systemd unit (jupyter-<user>.service)
//     with Limits, PrivateTmp and NoNewPrivileges; the hub, edge and proxy
//     units have ServiceOOMScoreAdjust, servers StudentOOMScoreAdjust.
//
// # Secrets
//
// Secrets (cookie secret, proxy token) are generated by the provider with
// GenerateSecrets and passed back in on each render; basic auth passwords
// are bcrypt-hashed by Secrets.WithBasicAuth and the hashes kept, because
// bcrypt salts are random and a render must be deterministic. Every secret
// value is only ever written to a File with Secret set and mode 0600;
// errors name fields and users but never carry a secret value.
package hubconfig
