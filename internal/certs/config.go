// Package certs gives the edge its TLS certificates (ACME through certmagic,
// user-supplied PEM files, or a self-signed lab CA) and the hardened
// tls.Config that serves them.
package certs

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/caddyserver/certmagic"
)

// Certificate sources.
const (
	ModeACME       = "acme"
	ModePEM        = "pem"
	ModeSelfSigned = "selfsigned"
)

// ACME challenge types.
const (
	ChallengeHTTP01    = "http-01"
	ChallengeTLSALPN01 = "tls-alpn-01"
	ChallengeDNS01     = "dns-01"
)

// Defaults for fields left empty.
const (
	DefaultDirectoryURL = certmagic.LetsEncryptProductionCA
	DefaultDOAPIURL     = "https://api.digitalocean.com/"
	DefaultReload       = time.Minute
)

// DefaultDOResolvers are DigitalOcean's authoritative name servers: asking them
// directly avoids a recursive resolver caching the not-yet-created TXT record.
var DefaultDOResolvers = []string{"ns1.digitalocean.com:53", "ns2.digitalocean.com:53", "ns3.digitalocean.com:53"}

// Config says where certificates come from. Field paths in errors
// ("tls.acme.email") follow the edge's config file.
type Config struct {
	Mode       string   // ModeACME, ModePEM or ModeSelfSigned
	Hosts      []string // names served and, for ACME/self-signed, issued for
	StorageDir string   // certificates, keys and the ACME account; files 0600, dirs 0700
	ACME       ACMEConfig
	PEM        PEMConfig
	// ReloadInterval is how often PEM files are checked for changes and
	// self-signed or ACME certificates for renewal; DefaultReload when zero.
	ReloadInterval time.Duration
}

// ACMEConfig configures certificate issuance through an ACME CA.
type ACMEConfig struct {
	Email        string
	DirectoryURL string // DefaultDirectoryURL when empty
	// CARootFile is a PEM file of roots trusted for the ACME server's own HTTPS
	// (Pebble's minica); the system roots when empty.
	CARootFile string
	// Challenges enabled; http-01 and tls-alpn-01 when empty. dns-01 is
	// exclusive: certmagic uses only DNS when it is on.
	Challenges []string
	// HTTPPort and TLSPort are where the CA reaches the edge's :80 and :443
	// (80 and 443 when zero). When the edge already listens there, the
	// challenge is answered by HTTPChallengeHandler and TLSConfig.
	HTTPPort int
	TLSPort  int
	DNS      DNSConfig
}

// DNSConfig configures DNS-01 through the DigitalOcean API.
type DNSConfig struct {
	TokenFile string // file holding a DigitalOcean API token with domain write access
	APIURL    string // DefaultDOAPIURL when empty
	// Resolvers ("host:port") are asked for the TXT record until all of them
	// answer it; DefaultDOResolvers when empty.
	Resolvers []string
	// PropagationTimeout bounds that wait; two minutes when zero.
	PropagationTimeout time.Duration
}

// PEMConfig names user-supplied certificate (full chain) and key files.
type PEMConfig struct {
	CertFile string
	KeyFile  string
}

// validate checks c and fills defaults, returning every problem found.
func (c *Config) validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("tls.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.StorageDir == "" {
		bad("storage_dir", "required: a directory for certificates and keys (created 0700)")
	}
	if c.ReloadInterval == 0 {
		c.ReloadInterval = DefaultReload
	}
	for i, h := range c.Hosts {
		if err := checkHost(h, c.Mode == ModeACME && slices.Contains(c.ACME.Challenges, ChallengeDNS01)); err != nil {
			bad(fmt.Sprintf("hosts[%d]", i), "%q: %v", h, err)
		}
	}
	switch c.Mode {
	case ModeACME:
		if len(c.Hosts) == 0 {
			bad("hosts", "ACME needs at least one host name to issue for")
		}
		errs = append(errs, c.ACME.validate()...)
	case ModePEM:
		if c.PEM.CertFile == "" {
			bad("pem.cert_file", "required in pem mode: path of the certificate chain (PEM)")
		}
		if c.PEM.KeyFile == "" {
			bad("pem.key_file", "required in pem mode: path of the private key (PEM)")
		}
	case ModeSelfSigned:
		if len(c.Hosts) == 0 {
			bad("hosts", "self-signed mode needs at least one host name for the certificate")
		}
	default:
		bad("mode", "%q is not one of %q, %q, %q", c.Mode, ModeACME, ModePEM, ModeSelfSigned)
	}
	return errors.Join(errs...)
}

func (a *ACMEConfig) validate() []error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("tls.acme.%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if a.Email == "" || !strings.Contains(a.Email, "@") {
		bad("email", "%q: a contact address for the ACME account is required", a.Email)
	}
	if a.DirectoryURL == "" {
		a.DirectoryURL = DefaultDirectoryURL
	} else if !strings.HasPrefix(a.DirectoryURL, "https://") {
		bad("directory_url", "%q: must be an https:// URL of the CA's ACME directory", a.DirectoryURL)
	}
	if len(a.Challenges) == 0 {
		a.Challenges = []string{ChallengeHTTP01, ChallengeTLSALPN01}
	}
	for i, ch := range a.Challenges {
		if ch != ChallengeHTTP01 && ch != ChallengeTLSALPN01 && ch != ChallengeDNS01 {
			bad(fmt.Sprintf("challenges[%d]", i), "%q is not one of %q, %q, %q", ch, ChallengeHTTP01, ChallengeTLSALPN01, ChallengeDNS01)
		}
	}
	if slices.Contains(a.Challenges, ChallengeDNS01) {
		if len(a.Challenges) > 1 {
			bad("challenges", "dns-01 cannot be combined with other challenges (certmagic then solves by DNS only); list it alone")
		}
		if a.DNS.TokenFile == "" {
			bad("dns.token_file", "required for dns-01: a file holding the DigitalOcean API token")
		}
		if a.DNS.APIURL == "" {
			a.DNS.APIURL = DefaultDOAPIURL
		}
		if len(a.DNS.Resolvers) == 0 {
			a.DNS.Resolvers = DefaultDOResolvers
		}
		if a.DNS.PropagationTimeout == 0 {
			a.DNS.PropagationTimeout = 2 * time.Minute
		}
	}
	for _, p := range []struct {
		name string
		v    *int
		def  int
	}{{"http_port", &a.HTTPPort, 80}, {"tls_port", &a.TLSPort, 443}} {
		if *p.v == 0 {
			*p.v = p.def
		} else if *p.v < 1 || *p.v > 65535 {
			bad(p.name, "%d is not a TCP port", *p.v)
		}
	}
	return errs
}

// checkHost accepts DNS names (a leading "*." only when wildcards can be issued).
func checkHost(h string, wildcardOK bool) error {
	name := h
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		if !wildcardOK {
			return errors.New("wildcard names need the dns-01 challenge")
		}
		name = rest
	}
	if name == "" || len(name) > 253 || strings.HasSuffix(name, ".") {
		return errors.New("not a host name (no trailing dot, at most 253 characters)")
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("label %q is empty, too long or starts/ends with '-'", label)
		}
		for _, r := range label {
			if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-' {
				return fmt.Errorf("label %q: use lower-case letters, digits and '-' only", label)
			}
		}
	}
	return nil
}
