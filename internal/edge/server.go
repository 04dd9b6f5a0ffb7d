package edge

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/basicauth"
	"github.com/classhub/terraform-provider-jhub/internal/static"

	"github.com/classhub/terraform-provider-jhub/internal/edgeconfig"
)

// TLSProvider supplies the HTTPS listener's tls.Config and answers ACME
// HTTP-01 challenges on :80; *certs.Manager is the implementation.
type TLSProvider interface {
	TLSConfig() *tls.Config
	HTTPChallengeHandler(next http.Handler) http.Handler
}

// Options are the edge's collaborators.
type Options struct {
	// ConfigPath is re-read by ReloadFile (SIGHUP, POST /api/reload).
	ConfigPath string
	// Logger receives operational messages; AccessLog one line per request
	// (Logger when nil).
	Logger    *slog.Logger
	AccessLog *slog.Logger
	TLS       TLSProvider
}

// Server is a running edge: three listeners sharing one live configuration
// that reloads swap atomically, so open connections are never dropped.
type Server struct {
	opts   Options
	log    *slog.Logger
	access *slog.Logger
	up     *upstreams
	routes *routeTable
	state  atomic.Pointer[state]
	gen    atomic.Uint64

	reloadMu sync.Mutex // serialises reloads

	challenge                 http.Handler
	httpsPort                 string                  // ":8443" when the HTTPS port is not 443, for redirects
	cookieKey                 []byte                  // signs basic-auth session cookies when no key file is set
	limits                    edgeconfig.LimitsConfig // from the first config: limits change on restart
	conns                     *connCap
	logins                    *basicauth.Limiter // failed logins per client, across reloads
	pending                   *pendingLogins     // OAuth logins in flight, across reloads
	lnHTTP, lnHTTPS, lnAPI    net.Listener
	srvHTTP, srvHTTPS, srvAPI *http.Server
}

// state is everything a reload replaces; handlers read it with one load.
type state struct {
	cfg        *edgeconfig.Config
	hosts      map[string]http.Handler
	token      string
	accessLog  bool
	hsts       bool
	chpRoutes  bool
	generation uint64
}

// New validates nothing beyond cfg (already validated by LoadConfig or
// ParseConfig) and prepares the handlers; Listen and Serve start it.
func New(cfg *edgeconfig.Config, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.AccessLog == nil {
		opts.AccessLog = opts.Logger
	}
	if opts.TLS == nil {
		return nil, errors.New("edge: Options.TLS is required (a certs.Manager)")
	}
	s := &Server{
		opts:      opts,
		log:       opts.Logger,
		access:    opts.AccessLog,
		up:        newUpstreams(opts.Logger, cfg.Limits.UpgradeTimeout),
		routes:    newRouteTable(),
		cookieKey: make([]byte, 32),
		limits:    cfg.Limits,
		conns:     newConnCap(cfg.Limits.MaxConnsPerClient, opts.Logger),
		logins:    basicauth.NewLimiter(cfg.Limits.AuthMaxFailures, cfg.Limits.AuthFailureWindow),
		pending:   &pendingLogins{m: map[string]pending{}},
	}
	rand.Read(s.cookieKey)
	s.challenge = opts.TLS.HTTPChallengeHandler(http.NotFoundHandler())
	st, err := s.build(cfg)
	if err != nil {
		return nil, err
	}
	s.install(st)
	return s, nil
}

// build turns a validated config into handlers. It reads the token,
// htpasswd and cookie key files, so it can still fail.
func (s *Server) build(cfg *edgeconfig.Config) (*state, error) {
	st := &state{
		cfg:        cfg,
		hosts:      map[string]http.Handler{},
		accessLog:  *cfg.Log.Access,
		hsts:       *cfg.HSTS,
		chpRoutes:  cfg.Hub.Mode == edgeconfig.ModeCHPAPI,
		generation: s.gen.Add(1),
	}
	if cfg.Hub.APITokenFile != "" {
		tok, err := edgeconfig.ReadToken(cfg.Hub.APITokenFile)
		if err != nil {
			return nil, fmt.Errorf("hub.api_token_file: %w", err)
		}
		st.token = tok
	}

	hub := &hubHandler{routes: s.routes, base: cfg.Hub.BaseURL, baseNoSlash: strings.TrimSuffix(cfg.Hub.BaseURL, "/")}
	if cfg.Hub.Mode == edgeconfig.ModeUpstream {
		u, _ := edgeconfig.ParseHTTPURL(cfg.Hub.Upstream)
		hub.fixed = s.up.newProxy(u, new(atomic.Int64))
	}
	var hubInner http.Handler = hub
	if cfg.Hub.Login != nil {
		l, err := newLoginHandler(*cfg.Hub.Login, cfg.Hub.BaseURL, hub, s.pending, s.log)
		if err != nil {
			return nil, err
		}
		hubInner = l
	}
	hubH, err := s.withBasicAuth(hubInner, cfg.Hub.BasicAuth, "hub.basic_auth")
	if err != nil {
		return nil, err
	}
	for _, h := range cfg.Hub.Hosts {
		st.hosts[h] = hubH
	}
	for i, site := range cfg.Sites {
		var h http.Handler
		if site.Static != nil {
			h = static.Handler(site.Static.Root)
		} else {
			u, _ := edgeconfig.ParseHTTPURL(site.Upstream)
			h = s.up.newProxy(u, new(atomic.Int64))
		}
		if h, err = s.withBasicAuth(h, site.BasicAuth, fmt.Sprintf("sites[%d].basic_auth", i)); err != nil {
			return nil, err
		}
		st.hosts[site.Host] = h
	}
	return st, nil
}

// install publishes st and brings the routing table in line with it.
func (s *Server) install(st *state) {
	cfg := st.cfg
	s.routes.hostRouting.Store(cfg.Hub.HostRouting)
	// The default target is the edge's own "/" route (CHP's --default-target).
	var def *route
	if cfg.Hub.Mode == edgeconfig.ModeCHPAPI && cfg.Hub.DefaultTarget != "" {
		u, _ := edgeconfig.ParseHTTPURL(cfg.Hub.DefaultTarget)
		def = s.newRoute("/", u, map[string]json.RawMessage{}, true)
	}
	s.routes.setDefault(def)
	s.up.hsts.Store(st.hsts)
	s.state.Store(st)
}

// withBasicAuth wraps next when c is set. Without a cookie_key_file the
// session cookies are signed with a key made once per process, so reloads
// do not log everyone out.
func (s *Server) withBasicAuth(next http.Handler, c *edgeconfig.BasicAuthConfig, field string) (http.Handler, error) {
	if c == nil {
		return next, nil
	}
	users, err := basicauth.Load(c.Htpasswd)
	if err != nil {
		return nil, fmt.Errorf("%s.htpasswd: %w", field, err)
	}
	key := s.cookieKey
	if c.CookieKeyFile != "" {
		if key, err = os.ReadFile(c.CookieKeyFile); err != nil {
			return nil, fmt.Errorf("%s.cookie_key_file: %w", field, err)
		}
	}
	auth := basicauth.Middleware(next, basicauth.Options{Realm: c.Realm, Users: users, CookieKey: key,
		Limiter: s.logins, ClientKey: requestClientKey})
	if len(c.Paths) == 0 {
		return auth, nil
	}
	return &pathAuth{paths: c.Paths, auth: auth, next: next}, nil
}

func requestClientKey(r *http.Request) string { return remoteKey(r.RemoteAddr) }

// pathAuth applies basic auth under some path prefixes only (nginx
// location-prefix semantics), on the normalised path. A prefix ending in
// '/' also covers the path without it ("/private/" guards "/private"),
// which many upstreams serve as the same thing.
type pathAuth struct {
	paths      []string
	auth, next http.Handler
}

func (p *pathAuth) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.guards(r.URL.Path) {
		p.auth.ServeHTTP(w, r)
		return
	}
	p.next.ServeHTTP(w, r)
}

func (p *pathAuth) guards(path string) bool {
	for _, prefix := range p.paths {
		dir, isDir := strings.CutSuffix(prefix, "/")
		if strings.HasPrefix(path, prefix) || isDir && dir != "" && path == dir {
			return true
		}
	}
	return false
}

// hubHandler routes hub traffic: redirects to base_url, then the CHP
// routing table (or one fixed upstream).
type hubHandler struct {
	routes            *routeTable
	base, baseNoSlash string
	fixed             *proxy
}

func (h *hubHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if h.base != "/" && (p == "/" || p == "" || p == h.baseNoSlash) {
		target := h.base
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	if h.fixed != nil {
		h.fixed.ServeHTTP(w, r)
		return
	}
	rt := h.routes.lookup(hostOnly(r.Host), p)
	if rt == nil {
		http.Error(w, "503 Service Unavailable: no route (is JupyterHub running?)", http.StatusServiceUnavailable)
		return
	}
	rt.proxy.ServeHTTP(w, r)
}

// withState loads the live configuration once per request and, when
// enabled, wraps the response for the access log. Then it normalises the
// path, once, for every decision and for the upstream, and puts the body
// under the rate limit.
func (s *Server) withState(serve func(*state, http.ResponseWriter, *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := s.state.Load()
		if st.accessLog {
			lw := newLogWriter(w)
			defer s.logAccess(lw, r, time.Now())
			w = lw
		}
		if !normalizeRequest(w, r) {
			return
		}
		// Only the edge's login handler signs identities; a client's copy
		// never reaches an upstream.
		r.Header.Del(edgeconfig.IdentityHeader)
		r, finish := limitBody(w, r, &s.limits)
		defer finish()
		serve(st, w, r)
	}
}

var hstsValue = []string{"max-age=63072000; includeSubDomains"}

// serveHTTPS is the TLS listener's handler: virtual host by Host, checked
// against SNI so one certificate cannot front for another host.
func (s *Server) serveHTTPS(st *state, w http.ResponseWriter, r *http.Request) {
	if st.hsts {
		w.Header()["Strict-Transport-Security"] = hstsValue
	}
	host := hostOnly(r.Host)
	h := st.hosts[host]
	switch {
	case h == nil:
		http.Error(w, "404 Not Found: unknown host", http.StatusNotFound)
	case r.TLS != nil && sniMismatch(r.TLS.ServerName, host):
		http.Error(w, "421 Misdirected Request: Host does not match the TLS server name", http.StatusMisdirectedRequest)
	case r.Method == http.MethodConnect && r.ProtoMajor == 1:
		http.Error(w, "405 CONNECT is not allowed: this is not a forward proxy", http.StatusMethodNotAllowed)
	default:
		h.ServeHTTP(w, r)
	}
}

// sniMismatch reports a TLS server name naming another host than the Host
// header. No SNI, or an IP literal (which RFC 6066 forbids in SNI but some
// clients send), checks nothing.
func sniMismatch(sni, host string) bool {
	if sni == "" || strings.EqualFold(sni, host) {
		return false
	}
	return net.ParseIP(sni) == nil
}

// serveHTTP is the :80 handler: ACME HTTP-01 answers, else a redirect to
// the same host, path and query over HTTPS.
func (s *Server) serveHTTP(st *state, w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/.well-known/acme-challenge/") {
		s.challenge.ServeHTTP(w, r)
		return
	}
	host := hostOnly(r.Host)
	if st.hosts[host] == nil {
		http.Error(w, "404 Not Found: unknown host", http.StatusNotFound)
		return
	}
	if strings.IndexByte(host, ':') >= 0 {
		host = "[" + host + "]"
	}
	code := http.StatusMovedPermanently
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		code = http.StatusPermanentRedirect // keep the method and body
	}
	http.Redirect(w, r, "https://"+host+s.httpsPort+r.URL.RequestURI(), code)
}

// hostOnly lower-cases the Host header and strips its port; it allocates
// only for upper-case input.
func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		h = h[:i]
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// Listen binds the three listeners from the configuration.
func (s *Server) Listen() error {
	l := s.state.Load().cfg.Listen
	var err error
	if s.lnHTTP, err = net.Listen("tcp", l.HTTP); err != nil {
		return fmt.Errorf("listen.http: %w", err)
	}
	if s.lnHTTPS, err = net.Listen("tcp", l.HTTPS); err != nil {
		_ = s.lnHTTP.Close()
		return fmt.Errorf("listen.https: %w", err)
	}
	if s.lnAPI, err = net.Listen("tcp", l.API); err != nil {
		_ = s.lnHTTP.Close()
		_ = s.lnHTTPS.Close()
		return fmt.Errorf("listen.api: %w", err)
	}
	if _, port, _ := net.SplitHostPort(s.lnHTTPS.Addr().String()); port != "443" {
		s.httpsPort = ":" + port
	}
	s.lnHTTP, s.lnHTTPS = s.conns.wrap(s.lnHTTP), s.conns.wrap(s.lnHTTPS)
	return nil
}

// Addrs are the bound addresses (useful when the config says port 0).
func (s *Server) Addrs() (httpAddr, httpsAddr, apiAddr string) {
	return s.lnHTTP.Addr().String(), s.lnHTTPS.Addr().String(), s.lnAPI.Addr().String()
}

// Serve runs until ctx ends, then shuts down gracefully: in-flight requests
// get ShutdownGrace to finish.
func (s *Server) Serve(ctx context.Context) error {
	lim := s.state.Load().cfg.Limits
	newSrv := func(h http.HandlerFunc) *http.Server {
		return &http.Server{
			Handler:           h,
			ReadHeaderTimeout: lim.ReadHeaderTimeout,
			IdleTimeout:       lim.IdleTimeout,
			MaxHeaderBytes:    lim.MaxHeaderBytes,
			// Handshake failures from scanners are noise, not warnings.
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		}
	}
	s.srvHTTP = newSrv(s.withState(s.serveHTTP))
	s.srvHTTPS = newSrv(s.withState(s.serveHTTPS))
	s.srvHTTPS.TLSConfig = s.opts.TLS.TLSConfig()
	s.srvAPI = newSrv(s.serveAPI)

	errc := make(chan error, 3)
	go func() { errc <- s.srvHTTP.Serve(s.lnHTTP) }()
	go func() { errc <- s.srvHTTPS.ServeTLS(s.lnHTTPS, "", "") }()
	go func() { errc <- s.srvAPI.Serve(s.lnAPI) }()
	httpA, httpsA, apiA := s.Addrs()
	s.log.Info("edge serving", "http", httpA, "https", httpsA, "api", apiA, "generation", s.state.Load().generation)

	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("edge: listener stopped: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	for _, srv := range []*http.Server{s.srvHTTP, s.srvHTTPS, s.srvAPI} {
		_ = srv.Shutdown(sctx)
	}
	s.up.transport.CloseIdleConnections()
	s.up.closeIdle()
	return err
}

// ShutdownGrace bounds a graceful stop.
const ShutdownGrace = 10 * time.Second

// Reload replaces the live configuration. Listener addresses, limits and
// TLS settings need a restart and are kept (with a warning); everything else
// (sites, base_url, mode, token, basic auth, logging, HSTS) applies to the
// next request while open connections carry on. New host names are routed
// at once, but the certificate covers them only after a restart.
func (s *Server) Reload(cfg *edgeconfig.Config) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	old := s.state.Load().cfg
	st, err := s.build(cfg)
	if err != nil {
		s.log.Error("config reload rejected; the previous config keeps serving", "err", err.Error())
		return err
	}
	if cfg.Listen != old.Listen || cfg.Limits != old.Limits || !reflect.DeepEqual(cfg.TLS, old.TLS) ||
		!slices.Equal(cfg.Hosts(), old.Hosts()) {
		s.log.Warn("config reload: listen, limits, tls and the certificate's host names change only after a restart")
	}
	s.install(st)
	s.log.Info("config reloaded", "generation", st.generation)
	return nil
}

// ReloadFile re-reads Options.ConfigPath and reloads; an invalid file is
// rejected and logged, and the previous config keeps serving.
func (s *Server) ReloadFile() error {
	if s.opts.ConfigPath == "" {
		return errors.New("edge: no config file to reload (Options.ConfigPath is empty)")
	}
	cfg, err := edgeconfig.LoadConfig(s.opts.ConfigPath)
	if err != nil {
		s.log.Error("config reload rejected; the previous config keeps serving", "err", err.Error())
		return err
	}
	return s.Reload(cfg)
}
