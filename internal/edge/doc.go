// Package edge is jhub-edge: the TLS reverse proxy in front of JupyterHub
// that replaces nginx and configurable-http-proxy (CHP).
//
// It serves three listeners from one YAML file (internal/edgeconfig and its
// annotated testdata/edge.example.yaml):
//
//   - listen.http redirects to HTTPS except ACME HTTP-01 challenges;
//   - listen.https serves virtual hosts chosen by Host and checked against
//     SNI: the hub (routed through the CHP routing table or one fixed
//     upstream), static sites and other upstreams;
//   - listen.api, loopback only, speaks CHP's REST API (/api/routes,
//     /_chp_healthz) so a stock JupyterHub with
//     c.ConfigurableHTTPProxy.should_start = False routes through the edge,
//     plus /_edge/health and POST /api/reload.
//
// Every request's path is normalised once (duplicate slashes, dot
// segments, needless escapes) before any decision, and exactly that path is
// served or forwarded; paths without one safe meaning (an encoded '/', '..'
// above the root, a backslash, NUL) get 400. See cleanPath.
//
// Clients are held to LimitsConfig, each client being its TCP peer's
// address (an IPv6 /64): request bodies that stall or trickle are cut
// (408), connections beyond a per-client cap are closed on accept, and
// failed basic-auth logins beyond an allowance get 429 without a hash.
//
// Body-less GETs and HEADs to plain-HTTP upstreams, nearly all of a
// class's requests, take a fast path over pooled keep-alive connections
// (fastpath.go); the rest goes through httputil.ReverseProxy.
//
// Websockets are proxied on any path, never with deadlines. Over HTTP/2 the
// edge bridges RFC 8441 extended CONNECT to an HTTP/1.1 upgrade when Go's
// server advertises it (GODEBUG=http2xconnect=1); otherwise browsers open
// their websockets over HTTP/1.1.
//
// Reloads swap the whole configuration atomically; the routing table is
// copy-on-write, so route changes and reloads never touch open connections.
package edge
