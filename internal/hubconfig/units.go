package hubconfig

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/classhub/terraform-provider-jhub/internal/ondroplet"
)

// renderUnits returns the systemd units by name. They refer to the release
// through current (the symlink), so a switch plus daemon-reload is all an
// update needs, and a rollback is the same switch back. Nothing in them comes
// from user input except EdgeBinary and BaseURL, which Validate restricts to
// characters that need no quoting in a unit file.
func renderUnits(s Settings, current string) map[string][]byte {
	edgeConfig := path.Join(current, edgeConfigName)
	// On the class volume, a service without its state there does not
	// start (an empty disk would mean a fresh database and a new ACME order).
	edgeMounts, hubMounts := []string{}, []string{}
	if s.OnVolume {
		edgeMounts = []string{"RequiresMountsFor=" + ondroplet.EdgeStateDir}
		hubMounts = []string{"RequiresMountsFor=" + strings.Join([]string{ondroplet.HubStateDir, CourseDir, ondroplet.VolumeHomes}, " ")}
	}
	units := map[string][]byte{
		EdgeUnit: unit(
			append([]string{
				// A reload keeps listeners, limits, TLS settings and the
				// certificate's host names; this digest of them changes the
				// unit, and a changed unit is restarted (File.Restart).
				"# Restart key (what a reload cannot apply): " + edgeRestartKey(s),
				"Description=jhub-edge: TLS, static sites and the proxy in front of JupyterHub",
				"Wants=network-online.target",
				"After=network-online.target",
			}, edgeMounts...),
			[]string{
				"Type=simple",
				"User=" + ondroplet.EdgeUser,
				"Group=" + ondroplet.EdgeUser,
				fmt.Sprintf("ExecStart=%s run -config %s", s.EdgeBinary, edgeConfig),
				// SIGHUP reloads routes, sites and certificates without
				// dropping connections.
				"ExecReload=/bin/kill -HUP $MAINPID",
				"Restart=on-failure",
				"RestartSec=2s",
				"LimitNOFILE=65536",
				oomProtected,
				// :80, :443 and the privileged loopback ports without root.
				"AmbientCapabilities=CAP_NET_BIND_SERVICE",
				"CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
				"NoNewPrivileges=yes",
				// Read-only system; only the state dir (certificates, ACME
				// account) is writable.
				"ProtectSystem=strict",
				"StateDirectory=" + path.Base(ondroplet.EdgeStateDir),
				"StateDirectoryMode=0700",
				"ProtectHome=yes",
				"PrivateTmp=yes",
				"PrivateDevices=yes",
				"ProtectKernelTunables=yes",
				"ProtectKernelModules=yes",
				"ProtectControlGroups=yes",
				"RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
				"RestrictNamespaces=yes",
				"RestrictSUIDSGID=yes",
				"LockPersonality=yes",
				"SystemCallArchitectures=native",
			},
		),
		HubUnit: unit(
			append([]string{
				"Description=JupyterHub (jhub; config " + path.Join(current, hubConfigName) + ")",
				"Wants=network-online.target " + hubWants(s),
				"After=network-online.target " + hubWants(s),
			}, hubMounts...),
			slices.Concat([]string{
				// root: PAM, creating students' accounts, starting their
				// servers' units, and binding a privileged port.
				"User=root",
				"WorkingDirectory=" + ondroplet.HubStateDir,
				"StateDirectory=" + path.Base(ondroplet.HubStateDir),
				"StateDirectoryMode=0700",
				// The students group exists and its members' homes are
				// private before any login; the course directory's
				// group is the admins.
				"ExecStartPre=/usr/bin/python3 -B " + path.Join(current, hubClassesName) + " " + strings.Join(prepareArgs(s), " "),
			}, labOverridesLink(current), []string{
				"ExecStart=/usr/bin/jupyterhub -f " + path.Join(current, hubConfigName) + " --upgrade-db",
				"Restart=always",
				"RestartSec=2s",
				// Servers run in units of their own, so a hub restart
				// (every roster change) leaves them running.
				oomProtected,
				"PrivateTmp=yes",
				"PrivateDevices=yes",
				"ProtectKernelTunables=yes",
				"ProtectKernelModules=yes",
			}),
		),
	}
	if s.Edge.ProxyMode == ProxyCHP {
		units[CHPUnit] = unit(
			[]string{
				"Description=configurable-http-proxy for JupyterHub, behind jhub-edge",
				"Before=" + HubUnit,
			},
			[]string{
				"DynamicUser=yes",
				// Its listeners are privileged loopback ports.
				"AmbientCapabilities=CAP_NET_BIND_SERVICE",
				"CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
				oomProtected,
				// Read by systemd as root before dropping privileges.
				"EnvironmentFile=" + path.Join(current, secretsDir, "chp.env"),
				"ExecStart=/usr/bin/configurable-http-proxy --ip " + LoopbackAddr + " --port " + strconv.Itoa(CHPPublicPort) +
					" --api-ip " + LoopbackAddr + " --api-port " + strconv.Itoa(ProxyAPIPort) +
					" --default-target " + s.HubBindURL + " --error-target " + s.HubBindURL + s.BaseURL + "hub/error",
				"Restart=always",
				"RestartSec=2s",
				"NoNewPrivileges=yes",
				"ProtectSystem=strict",
				"ProtectHome=yes",
				"PrivateTmp=yes",
				"PrivateDevices=yes",
			},
		)
	}
	return units
}

// ServerUnits matches the students' server units (jhub_hub.py's
// UNIT_PREFIX): what must stop before their homes' volume is unmounted.
const ServerUnits = "jupyter-*.service"

// oomProtected keeps the OOM killer away from the class's services: it
// picks a student's server (StudentOOMScoreAdjust) first.
var oomProtected = fmt.Sprintf("OOMScoreAdjust=%d", ServiceOOMScoreAdjust)

// edgeRestartKey digests the settings the edge only applies at start:
// the proxy mode (listeners), TLS and every host name. The TLS key and the
// DNS token restart it through their files (File.Restart): a unit holds no
// digest of a secret, which a write-only attribute would not give again.
func edgeRestartKey(s Settings) string {
	h := sha256.New()
	t := s.Edge.TLS
	a := t.ACME
	fields := []string{s.Edge.ProxyMode, t.Mode, t.CertPEM, a.Email, a.DirectoryURL, a.CARootPEM, a.DNSAPIURL,
		strings.Join(a.Challenges, ","), strings.Join(a.DNSResolvers, ","), strings.Join(s.HubHosts, ",")}
	for _, site := range s.Edge.Sites {
		fields = append(fields, site.Host)
	}
	for _, f := range fields {
		_, _ = fmt.Fprintf(h, "%d:%s", len(f), f) // a hash.Hash never fails a write
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// hubWants is what JupyterHub's proxy API depends on.
func hubWants(s Settings) string {
	if s.Edge.ProxyMode == ProxyCHP {
		return CHPUnit + " " + EdgeUnit
	}
	return EdgeUnit
}

func unit(unitSection, service []string) []byte {
	var b strings.Builder
	b.WriteString("# Rendered by terraform-provider-jhub (jhub_edge); edits are drift and are replaced on the next apply.\n")
	b.WriteString("[Unit]\n" + strings.Join(unitSection, "\n") + "\n\n")
	b.WriteString("[Service]\n" + strings.Join(service, "\n") + "\n\n")
	b.WriteString("[Install]\nWantedBy=multi-user.target\n")
	return []byte(b.String())
}
