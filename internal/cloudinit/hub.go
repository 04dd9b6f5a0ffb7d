package cloudinit

import (
	"maps"
	"slices"
	"strings"
)

// DefaultHubInstall is the method used when Config.HubInstall is "".
const DefaultHubInstall = "debian"

// hubInstaller is one way of getting JupyterHub onto the droplet. Its commands
// run from runcmd after the firewall is up, because installing the hub starts
// it listening on :8000 and that port must never be reachable.
type hubInstaller struct {
	aptPackages []string
}

// hubInstallers maps Config.HubInstall values to methods; a new method (pip in
// a venv, a different image family) is one more entry.
var hubInstallers = map[string]hubInstaller{
	// Debian 13 packages JupyterHub 5; jupyterlab brings the single-user
	// server (JupyterLab on jupyter-server), node-configurable-http-proxy the
	// default proxy, python3-nbgitpuller the course material links.
	"debian": {aptPackages: []string{"jupyterhub", "jupyterlab", "python3-nbgitpuller", "node-configurable-http-proxy"}},
}

// HubInstallMethods lists the accepted Config.HubInstall values, sorted.
func HubInstallMethods() []string { return slices.Sorted(maps.Keys(hubInstallers)) }

func (c Config) hubInstaller() (hubInstaller, error) {
	name := c.HubInstall
	if name == "" {
		name = DefaultHubInstall
	}
	h, ok := hubInstallers[name]
	if !ok {
		return hubInstaller{}, fieldErr(nil, "HubInstall: %q is not a known install method; use one of %s", c.HubInstall, strings.Join(HubInstallMethods(), ", "))
	}
	return h, nil
}

func (h hubInstaller) commands() [][]string {
	if len(h.aptPackages) == 0 {
		return nil
	}
	return [][]string{AptGet(append([]string{"install", "--no-install-recommends"}, h.aptPackages...)...)}
}

// AptGet is the argv of apt-get with args as it runs on the droplet, from
// the payload and from the installer (student packages): never a question,
// and a wait for the dpkg lock, which apt-daily and unattended-upgrades
// take on first boot and at times later, instead of failing outright.
func AptGet(args ...string) []string {
	return append([]string{"env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-q", "-y", "-o", "DPkg::Lock::Timeout=600"}, args...)
}
