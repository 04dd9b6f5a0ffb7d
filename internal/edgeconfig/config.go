// Package edgeconfig is jhub-edge's configuration file: its types, defaults
// and validation. It is a leaf: the provider renders and checks edge.yaml
// with it without linking the proxy itself (internal/edge).
package edgeconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/classhub/terraform-provider-jhub/internal/certs"
)

// Config is the edge's declarative configuration, read from one YAML file.
// testdata/edge.example.yaml is the annotated reference; every field is
// described there. Unknown fields are errors, so a typo never silently
// changes behaviour.
type Config struct {
	Version int          `yaml:"version"`
	Listen  ListenConfig `yaml:"listen"`
	TLS     TLSConfig    `yaml:"tls"`
	// HSTS adds Strict-Transport-Security to every HTTPS response (default true).
	HSTS   *bool        `yaml:"hsts"`
	Log    LogConfig    `yaml:"log"`
	Limits LimitsConfig `yaml:"limits"`
	Hub    HubConfig    `yaml:"hub"`
	Sites  []SiteConfig `yaml:"sites"`
}

// ListenConfig holds the three listener addresses.
type ListenConfig struct {
	HTTP  string `yaml:"http"`  // redirects to HTTPS and answers ACME HTTP-01
	HTTPS string `yaml:"https"` // TLS, HTTP/2 and HTTP/1.1
	API   string `yaml:"api"`   // configurable-http-proxy API, loopback only
}

// TLSConfig selects where certificates come from; ToCerts maps it onto
// certs.Config, which documents each field.
type TLSConfig struct {
	Mode       string     `yaml:"mode"`        // acme | pem | selfsigned
	StorageDir string     `yaml:"storage_dir"` // certificates, keys, ACME account (0700/0600)
	ACME       ACMEConfig `yaml:"acme"`
	PEM        PEMConfig  `yaml:"pem"`
}

// ACMEConfig configures certificate issuance through ACME.
type ACMEConfig struct {
	Email        string    `yaml:"email"`
	DirectoryURL string    `yaml:"directory_url"`
	CARootFile   string    `yaml:"ca_root_file"`
	Challenges   []string  `yaml:"challenges"`
	HTTPPort     int       `yaml:"http_port"`
	TLSPort      int       `yaml:"tls_port"`
	DNS          DNSConfig `yaml:"dns"`
}

// DNSConfig configures DNS-01 through the DigitalOcean API.
type DNSConfig struct {
	TokenFile          string        `yaml:"token_file"` // DigitalOcean API token (0600)
	APIURL             string        `yaml:"api_url"`
	Resolvers          []string      `yaml:"resolvers"`
	PropagationTimeout time.Duration `yaml:"propagation_timeout"`
}

// PEMConfig names user-supplied certificate files.
type PEMConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// ToCerts is the certs.Config for this file: certificates cover the hub's
// hosts and every site.
func (c *Config) ToCerts() certs.Config {
	a := c.TLS.ACME
	return certs.Config{
		Mode:       c.TLS.Mode,
		Hosts:      c.Hosts(),
		StorageDir: c.TLS.StorageDir,
		ACME: certs.ACMEConfig{
			Email:        a.Email,
			DirectoryURL: a.DirectoryURL,
			CARootFile:   a.CARootFile,
			Challenges:   a.Challenges,
			HTTPPort:     a.HTTPPort,
			TLSPort:      a.TLSPort,
			DNS: certs.DNSConfig{
				TokenFile:          a.DNS.TokenFile,
				APIURL:             a.DNS.APIURL,
				Resolvers:          a.DNS.Resolvers,
				PropagationTimeout: a.DNS.PropagationTimeout,
			},
		},
		PEM: certs.PEMConfig{CertFile: c.TLS.PEM.CertFile, KeyFile: c.TLS.PEM.KeyFile},
	}
}

// Hosts lists every virtual host name: the hub's first, then the sites'.
func (c *Config) Hosts() []string {
	hosts := slices.Clone(c.Hub.Hosts)
	for _, s := range c.Sites {
		hosts = append(hosts, s.Host)
	}
	return hosts
}

// LogConfig controls logging.
type LogConfig struct {
	Access *bool  `yaml:"access"` // one JSON line per request (default true)
	Level  string `yaml:"level"`  // debug | info | warn | error (default info)
}

// LimitsConfig bounds what a client may make the edge hold. There is
// deliberately no read/write timeout: uploads, event streams and websockets
// must be allowed to last for hours; a body that stops making progress is
// cut instead. Zero (or absent) means the default for every field.
type LimitsConfig struct {
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	// BodyTimeout is how long a request body may take to start and the
	// longest it may stall; BodyMinRate (bytes per second) the average it
	// must keep after that. Websockets are exempt.
	BodyTimeout time.Duration `yaml:"body_timeout,omitempty"`
	BodyMinRate int           `yaml:"body_min_rate,omitempty"`
	// MaxConnsPerClient caps open connections (HTTP and HTTPS, websockets
	// included) per client address: an IPv4 address or an IPv6 /64.
	MaxConnsPerClient int `yaml:"max_conns_per_client,omitempty"`
	// AuthMaxFailures failed basic-auth logins per client address are
	// allowed in any AuthFailureWindow; beyond that, logins get 429 with
	// Retry-After until the window has made room, without hashing.
	AuthMaxFailures   int           `yaml:"auth_max_failures,omitempty"`
	AuthFailureWindow time.Duration `yaml:"auth_failure_window,omitempty"`
	// UpgradeTimeout bounds dialling an upstream and waiting for its answer
	// to a websocket upgrade; once switched, a websocket has no deadline.
	UpgradeTimeout time.Duration `yaml:"upgrade_timeout,omitempty"`
}

// Hub modes.
const (
	ModeCHPAPI   = "chp-api"  // the edge is JupyterHub's proxy (CHP REST API)
	ModeUpstream = "upstream" // all hub traffic goes to one upstream (e.g. a real CHP)
)

// HubConfig describes the JupyterHub virtual host.
type HubConfig struct {
	Hosts         []string         `yaml:"hosts"`
	BaseURL       string           `yaml:"base_url"`
	Mode          string           `yaml:"mode"`
	Upstream      string           `yaml:"upstream"`
	DefaultTarget string           `yaml:"default_target"`
	APITokenFile  string           `yaml:"api_token_file"`
	HostRouting   bool             `yaml:"host_routing"`
	BasicAuth     *BasicAuthConfig `yaml:"basic_auth"`
	// Login, when set, makes the edge run the hub's logins (login.go).
	Login *LoginConfig `yaml:"login,omitempty"`
}

// SiteConfig is another virtual host on the same listeners: exactly one of
// Static or Upstream.
type SiteConfig struct {
	Host      string           `yaml:"host"`
	Static    *StaticConfig    `yaml:"static"`
	Upstream  string           `yaml:"upstream"`
	BasicAuth *BasicAuthConfig `yaml:"basic_auth"`
}

// StaticConfig serves a directory with try_files semantics.
type StaticConfig struct {
	Root string `yaml:"root"`
}

// BasicAuthConfig protects a host, or only some path prefixes of it, with an
// htpasswd file.
type BasicAuthConfig struct {
	Htpasswd      string   `yaml:"htpasswd"`
	Paths         []string `yaml:"paths"` // empty: the whole host
	Realm         string   `yaml:"realm"`
	CookieKeyFile string   `yaml:"cookie_key_file"` // optional; random per start otherwise
}

// Defaults applied by Parse.
const (
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultReadHeaderTimeout = 10 * time.Second
	// jupyter-server answers a kernel's websocket upgrade only once the
	// kernel is alive and has answered kernel_info, waiting up to its
	// kernel_info_timeout (60 s) for each, after the kernel's launch. The
	// former 30 s bound is the one path that fits the 502 a kernel
	// websocket got at a 60-student lecture (bench/results/lecture/NOTES.md).
	DefaultUpgradeTimeout = 3 * time.Minute
	DefaultIdleTimeout    = 120 * time.Second
	// nginx's client_body_timeout; 1 KiB/s (8 kbit/s) is a tenth of a 2G
	// mobile uplink, so only a stalled or hostile client falls below it.
	DefaultBodyTimeout = 60 * time.Second
	DefaultBodyMinRate = 1 << 10
	// A lecture of 500 behind one campus NAT, each browser holding about
	// eight connections (HTTP/1.1's six, or one HTTP/2 connection plus
	// websockets for the Lab's events, kernels and terminals): 4000.
	DefaultMaxConnsPerClient = 4096
	// One failed login every 3 s, 20 at once: a NAT'd class mistyping at
	// the start of a lecture passes, a guesser gets under 30 000 tries a
	// day per address and never more than one bcrypt per 3 s.
	DefaultAuthMaxFailures   = 20
	DefaultAuthFailureWindow = time.Minute
)

// LoadConfig reads and validates the file at path.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes strictly, applies defaults and validates, including
// that referenced files and directories exist. All problems are reported
// together, each prefixed with the field's path.
func ParseConfig(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("parse: the file is empty; it needs at least version: 1, tls and hub")
		}
		return nil, fmt.Errorf("parse: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, errors.New("parse: more than one YAML document; keep a single document")
	}
	cfg.applyDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

func (c *Config) applyDefaults() {
	setDefault(&c.Listen.HTTP, ":80")
	setDefault(&c.Listen.HTTPS, ":443")
	setDefault(&c.Listen.API, "127.0.0.1:8001")
	setDefault(&c.Log.Level, "info")
	setDefault(&c.Hub.BaseURL, "/")
	setDefault(&c.Hub.Mode, ModeCHPAPI)
	if c.HSTS == nil {
		c.HSTS = ptr(true)
	}
	if c.Log.Access == nil {
		c.Log.Access = ptr(true)
	}
	l := &c.Limits
	setDefault(&l.MaxHeaderBytes, DefaultMaxHeaderBytes)
	setDefault(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&l.IdleTimeout, DefaultIdleTimeout)
	setDefault(&l.BodyTimeout, DefaultBodyTimeout)
	setDefault(&l.BodyMinRate, DefaultBodyMinRate)
	setDefault(&l.MaxConnsPerClient, DefaultMaxConnsPerClient)
	setDefault(&l.AuthMaxFailures, DefaultAuthMaxFailures)
	setDefault(&l.AuthFailureWindow, DefaultAuthFailureWindow)
	setDefault(&l.UpgradeTimeout, DefaultUpgradeTimeout)
	for i := range c.Hub.Hosts {
		c.Hub.Hosts[i] = strings.ToLower(c.Hub.Hosts[i])
	}
	for i := range c.Sites {
		c.Sites[i].Host = strings.ToLower(c.Sites[i].Host)
	}
}

// setDefault fills in v where the file left the field at its zero value.
func setDefault[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

func ptr[T any](v T) *T { return &v }

// fieldErrs collects validation errors, each naming its field path.
type fieldErrs []error

func (e *fieldErrs) add(field, format string, args ...any) {
	*e = append(*e, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
}

func (c *Config) validate() error {
	var errs fieldErrs
	if c.Version != 1 {
		errs.add("version", "must be 1 (got %d); this edge understands config version 1", c.Version)
	}
	validateListen(&errs, "listen.http", c.Listen.HTTP)
	validateListen(&errs, "listen.https", c.Listen.HTTPS)
	validateListen(&errs, "listen.api", c.Listen.API)
	if host, _, err := net.SplitHostPort(c.Listen.API); err == nil && !isLoopback(host) {
		errs.add("listen.api", "%q is not a loopback address; the proxy API must only listen on 127.0.0.1 or ::1", c.Listen.API)
	}
	c.TLS.validate(&errs)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		errs.add("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	if c.Limits.MaxHeaderBytes < 4096 || c.Limits.MaxHeaderBytes > 1<<20 {
		errs.add("limits.max_header_bytes", "%d is outside 4096..1048576", c.Limits.MaxHeaderBytes)
	}
	if c.Limits.ReadHeaderTimeout < 0 {
		errs.add("limits.read_header_timeout", "must be positive")
	}
	if c.Limits.IdleTimeout < 0 {
		errs.add("limits.idle_timeout", "must be positive")
	}
	for _, l := range []struct {
		field string
		v     int64
	}{
		{"limits.body_timeout", int64(c.Limits.BodyTimeout)},
		{"limits.body_min_rate", int64(c.Limits.BodyMinRate)},
		{"limits.max_conns_per_client", int64(c.Limits.MaxConnsPerClient)},
		{"limits.auth_max_failures", int64(c.Limits.AuthMaxFailures)},
		{"limits.auth_failure_window", int64(c.Limits.AuthFailureWindow)},
		{"limits.upgrade_timeout", int64(c.Limits.UpgradeTimeout)},
	} {
		if l.v < 0 {
			errs.add(l.field, "must be positive (leave it out for the default)")
		}
	}

	seen := map[string]string{}
	claimHost := func(field, h string) {
		if !validHostname(h) {
			errs.add(field, "%q is not a valid host name (letters, digits, '-', '.'; no port)", h)
			return
		}
		if prev, ok := seen[h]; ok {
			errs.add(field, "host %q is already used by %s", h, prev)
			return
		}
		seen[h] = field
	}
	c.Hub.validate(&errs, claimHost)
	for i := range c.Sites {
		c.Sites[i].validate(&errs, fmt.Sprintf("sites[%d]", i), claimHost)
	}
	return errors.Join(errs...)
}

// validate checks what can be checked without the network; certs.New
// checks the rest (e-mail, challenge combinations) and names the same fields.
func (t *TLSConfig) validate(errs *fieldErrs) {
	if t.StorageDir == "" {
		errs.add("tls.storage_dir", "required: a directory for certificates and keys (created 0700)")
	} else if !filepath.IsAbs(t.StorageDir) {
		errs.add("tls.storage_dir", "%q must be an absolute path", t.StorageDir)
	}
	switch t.Mode {
	case certs.ModeACME:
		for i, ch := range t.ACME.Challenges {
			switch ch {
			case certs.ChallengeHTTP01, certs.ChallengeTLSALPN01, certs.ChallengeDNS01:
			default:
				errs.add(fmt.Sprintf("tls.acme.challenges[%d]", i), "%q is not one of http-01, tls-alpn-01, dns-01", ch)
			}
		}
		checkFile(errs, "tls.acme.ca_root_file", t.ACME.CARootFile, false)
		checkFile(errs, "tls.acme.dns.token_file", t.ACME.DNS.TokenFile, true)
	case certs.ModePEM:
		if t.PEM.CertFile == "" {
			errs.add("tls.pem.cert_file", "required when tls.mode is pem")
		}
		if t.PEM.KeyFile == "" {
			errs.add("tls.pem.key_file", "required when tls.mode is pem")
		}
		checkFile(errs, "tls.pem.cert_file", t.PEM.CertFile, false)
		checkFile(errs, "tls.pem.key_file", t.PEM.KeyFile, true)
	case certs.ModeSelfSigned:
	case "":
		errs.add("tls.mode", "required: one of acme, pem, selfsigned")
	default:
		errs.add("tls.mode", "%q is not one of acme, pem, selfsigned", t.Mode)
	}
}

func (h *HubConfig) validate(errs *fieldErrs, claimHost func(field, h string)) {
	if len(h.Hosts) == 0 {
		errs.add("hub.hosts", "at least one host name is required (the hub's DNS name)")
	}
	for i, host := range h.Hosts {
		claimHost(fmt.Sprintf("hub.hosts[%d]", i), host)
	}
	if !strings.HasPrefix(h.BaseURL, "/") || !strings.HasSuffix(h.BaseURL, "/") || strings.Contains(h.BaseURL, "//") {
		errs.add("hub.base_url", "%q must start and end with '/' (for example /jhub/), like JupyterHub's c.JupyterHub.base_url", h.BaseURL)
	}
	switch h.Mode {
	case ModeCHPAPI:
		if h.Upstream != "" {
			errs.add("hub.upstream", "only used with mode upstream; with mode chp-api set hub.default_target instead")
		}
		if h.DefaultTarget != "" {
			if _, err := ParseHTTPURL(h.DefaultTarget); err != nil {
				errs.add("hub.default_target", "%v", err)
			}
		}
		if h.APITokenFile == "" {
			errs.add("hub.api_token_file", "required with mode chp-api (the file holding CONFIGPROXY_AUTH_TOKEN)")
		} else if _, err := ReadToken(h.APITokenFile); err != nil {
			errs.add("hub.api_token_file", "%v", err)
		}
	case ModeUpstream:
		if h.Upstream == "" {
			errs.add("hub.upstream", "required with mode upstream (for example http://127.0.0.1:8000)")
		} else if _, err := ParseHTTPURL(h.Upstream); err != nil {
			errs.add("hub.upstream", "%v", err)
		}
		if h.DefaultTarget != "" {
			errs.add("hub.default_target", "only used with mode chp-api")
		}
		if h.HostRouting {
			errs.add("hub.host_routing", "only used with mode chp-api")
		}
		if h.APITokenFile != "" {
			if _, err := ReadToken(h.APITokenFile); err != nil {
				errs.add("hub.api_token_file", "%v", err)
			}
		}
	default:
		errs.add("hub.mode", "%q is not one of chp-api, upstream", h.Mode)
	}
	if h.BasicAuth != nil {
		h.BasicAuth.validate(errs, "hub.basic_auth")
	}
	if h.Login != nil {
		h.Login.validate(errs, "hub.login")
	}
}

func (s *SiteConfig) validate(errs *fieldErrs, field string, claimHost func(field, h string)) {
	if s.Host == "" {
		errs.add(field+".host", "required")
	} else {
		claimHost(field+".host", s.Host)
	}
	switch {
	case s.Static != nil && s.Upstream != "":
		errs.add(field, "set either static or upstream, not both")
	case s.Static != nil:
		root := s.Static.Root
		switch {
		case root == "":
			errs.add(field+".static.root", "required")
		case !filepath.IsAbs(root):
			errs.add(field+".static.root", "%q must be an absolute path", root)
		default:
			if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
				errs.add(field+".static.root", "directory %s does not exist", root)
			}
		}
	case s.Upstream != "":
		if _, err := ParseHTTPURL(s.Upstream); err != nil {
			errs.add(field+".upstream", "%v", err)
		}
	default:
		errs.add(field, "set static.root or upstream")
	}
	if s.BasicAuth != nil {
		s.BasicAuth.validate(errs, field+".basic_auth")
	}
}

func (b *BasicAuthConfig) validate(errs *fieldErrs, field string) {
	if b.Htpasswd == "" {
		errs.add(field+".htpasswd", "required (path of an htpasswd file)")
	}
	checkFile(errs, field+".htpasswd", b.Htpasswd, false)
	for i, p := range b.Paths {
		if !strings.HasPrefix(p, "/") {
			errs.add(fmt.Sprintf("%s.paths[%d]", field, i), "%q must start with '/'", p)
		}
	}
	checkFile(errs, field+".cookie_key_file", b.CookieKeyFile, true)
}

func validateListen(errs *fieldErrs, field, addr string) {
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		errs.add(field, "%q is not host:port (for example :443 or 127.0.0.1:8001)", addr)
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkFile reports a missing file; secret files must also not be readable
// by group or others, since students share the machine.
func checkFile(errs *fieldErrs, field, path string, secret bool) {
	if path == "" {
		return
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		errs.add(field, "file %s does not exist or is unreadable", path)
	case fi.IsDir():
		errs.add(field, "%s is a directory, not a file", path)
	case secret && fi.Mode().Perm()&0o077 != 0:
		errs.add(field, "%s is readable by group or others (mode %04o); chmod 0600 it", path, fi.Mode().Perm())
	}
}

// ReadToken reads a secret token file: non-empty, mode 0600 or stricter.
func ReadToken(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("token file %s does not exist or is unreadable", path)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("token file %s is readable by group or others (mode %04o); chmod 0600 it", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read token file %s: %w", path, err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("token file %s is empty; write the proxy auth token into it", path)
	}
	return tok, nil
}

// ParseHTTPURL accepts absolute http(s) URLs with a host and no query.
func ParseHTTPURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q must be an absolute http:// or https:// URL with a host (%w)", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%q must be an absolute http:// or https:// URL with a host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("%q must not carry a query, fragment or user info", s)
	}
	return u, nil
}

func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}
