package hubconfig

import (
	"fmt"
	"net"
	"strconv"
)

// Loopback ports between the edge and the hub. Students run code on the
// same machine and can bind any free loopback port >= 1024 while a service
// restarts (every roster change restarts the hub), and would then receive
// cookies or the proxy token. Ports below 1024 need root or
// CAP_NET_BIND_SERVICE, which only the hub (root), the edge and
// configurable-http-proxy have. Everything that names one of these ports
// (units, edge.yaml, jupyterhub_config.py, ufw rules, validators) uses
// these constants.
const (
	// LoopbackAddr is the address every internal listener binds.
	LoopbackAddr = "127.0.0.1"
	// CHPPublicPort is configurable-http-proxy's public listener in chp
	// mode (the edge forwards to it) and JupyterHub's bind_url.
	CHPPublicPort = 880
	// ProxyAPIPort is the configurable-http-proxy REST API JupyterHub
	// talks to: the edge's API in chp-api mode, CHP's in chp mode.
	ProxyAPIPort = 881
	// EdgeAPIPortCHP is the edge's own API (reload, health) in chp mode,
	// where CHP owns ProxyAPIPort.
	EdgeAPIPortCHP = 882
	// HubPort is the hub's default hub_bind_url port.
	HubPort = 883
)

// InternalPorts are the loopback ports above, which never open to the
// outside (ufw) and which hub_bind_url may not take except HubPort.
var InternalPorts = []int{CHPPublicPort, ProxyAPIPort, EdgeAPIPortCHP, HubPort}

// Ports the edge and sshd bind on every address, loopback included.
var publicPorts = []int{22, 80, 443}

func loopbackHostPort(port int) string { return net.JoinHostPort(LoopbackAddr, strconv.Itoa(port)) }

func loopbackURL(port int) string { return "http://" + loopbackHostPort(port) }

var (
	// HubAPIURL is the configurable-http-proxy API JupyterHub talks to.
	HubAPIURL = loopbackURL(ProxyAPIPort)
	// ProxyPublicURL is JupyterHub's bind_url without base_url: where
	// configurable-http-proxy listens in chp mode, behind the edge.
	ProxyPublicURL = loopbackURL(CHPPublicPort)
	// DefaultHubBindURL is where the hub listens when hub_bind_url is "".
	DefaultHubBindURL = loopbackURL(HubPort)
)

// checkHubPort refuses a hub_bind_url port a student could bind (>= 1024)
// or that another listener already owns.
func checkHubPort(port int) error {
	if port <= 0 || port >= 1024 {
		return fmt.Errorf("port %d must be below 1024 (a privileged port no student can bind while the hub restarts), for example %d", port, HubPort)
	}
	for _, p := range append(append([]int{}, publicPorts...), CHPPublicPort, ProxyAPIPort, EdgeAPIPortCHP) {
		if port == p {
			return fmt.Errorf("port %d is taken by the edge, sshd or the proxy; use another port below 1024, for example %d", port, HubPort)
		}
	}
	return nil
}
