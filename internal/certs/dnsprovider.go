package certs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/libdns/libdns"
	"github.com/mholt/acmez/v3/acme"
	"golang.org/x/oauth2"
)

// DOProvider is a libdns provider on the DigitalOcean domains API (godo). The
// upstream libdns/digitalocean module is not reachable from this project's
// module proxy, and the edge needs only TXT records for DNS-01.
type DOProvider struct {
	client *godo.Client
}

var (
	_ libdns.RecordGetter   = (*DOProvider)(nil)
	_ libdns.RecordAppender = (*DOProvider)(nil)
	_ libdns.RecordDeleter  = (*DOProvider)(nil)
	_ libdns.ZoneLister     = (*DOProvider)(nil)
)

// NewDOProvider reads the API token from tokenFile and talks to apiURL
// (DefaultDOAPIURL when empty). The token is never logged or put in errors.
func NewDOProvider(tokenFile, apiURL string) (*DOProvider, error) {
	raw, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, fmt.Errorf("tls.acme.dns.token_file: %w", err)
	}
	token := strings.TrimSpace(string(raw))
	if token == "" {
		return nil, fmt.Errorf("tls.acme.dns.token_file: %s is empty; put a DigitalOcean API token in it", tokenFile)
	}
	if apiURL == "" {
		apiURL = DefaultDOAPIURL
	}
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
	hc.Timeout = 30 * time.Second
	client, err := godo.New(hc, godo.SetBaseURL(apiURL), godo.SetUserAgent("jhub-edge"),
		godo.WithRetryAndBackoffs(godo.RetryConfig{RetryMax: 4, RetryWaitMin: godo.PtrTo(0.5), RetryWaitMax: godo.PtrTo(10.0)}))
	if err != nil {
		return nil, fmt.Errorf("tls.acme.dns.api_url: %w", err)
	}
	return &DOProvider{client: client}, nil
}

// ListZones returns the account's domains.
func (p *DOProvider) ListZones(ctx context.Context) ([]libdns.Zone, error) {
	var zones []libdns.Zone
	opt := &godo.ListOptions{PerPage: 200}
	for {
		domains, resp, err := p.client.Domains.List(ctx, opt)
		if err != nil {
			return nil, fmt.Errorf("list DigitalOcean domains: %w", err)
		}
		for _, d := range domains {
			zones = append(zones, libdns.Zone{Name: d.Name + "."})
		}
		if resp.Links == nil || resp.Links.IsLastPage() {
			return zones, nil
		}
		page, err := resp.Links.CurrentPage()
		if err != nil {
			return nil, fmt.Errorf("list DigitalOcean domains: %w", err)
		}
		opt.Page = page + 1
	}
}

// GetRecords returns all records of zone.
func (p *DOProvider) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	domain := strings.TrimSuffix(zone, ".")
	var out []libdns.Record
	opt := &godo.ListOptions{PerPage: 200}
	for {
		recs, resp, err := p.client.Domains.Records(ctx, domain, opt)
		if err != nil {
			return nil, fmt.Errorf("list records of DigitalOcean domain %s: %w", domain, err)
		}
		for _, r := range recs {
			out = append(out, fromGodo(r))
		}
		if resp.Links == nil || resp.Links.IsLastPage() {
			return out, nil
		}
		page, err := resp.Links.CurrentPage()
		if err != nil {
			return nil, fmt.Errorf("list records of DigitalOcean domain %s: %w", domain, err)
		}
		opt.Page = page + 1
	}
}

// AppendRecords creates recs in zone; names are relative to the zone.
func (p *DOProvider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	domain := strings.TrimSuffix(zone, ".")
	var out []libdns.Record
	for _, rec := range recs {
		rr := rec.RR()
		ttl := int(rr.TTL.Seconds())
		if ttl < 30 {
			ttl = 30 // DigitalOcean's minimum
		}
		created, _, err := p.client.Domains.CreateRecord(ctx, domain, &godo.DomainRecordEditRequest{
			Type: rr.Type, Name: rr.Name, Data: rr.Data, TTL: ttl,
		})
		if err != nil {
			return out, fmt.Errorf("create %s record %q in DigitalOcean domain %s: %w", rr.Type, rr.Name, domain, err)
		}
		out = append(out, fromGodo(*created))
	}
	return out, nil
}

// DeleteRecords deletes recs from zone. A record carrying the DigitalOcean ID
// (as returned by this provider) is deleted by ID; otherwise every record of
// the same name, type and (when given) data is.
func (p *DOProvider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	domain := strings.TrimSuffix(zone, ".")
	var existing []libdns.Record
	var out []libdns.Record
	for _, rec := range recs {
		ids := []int{}
		if id, ok := recordID(rec); ok {
			ids = append(ids, id)
		} else {
			if existing == nil {
				var err error
				if existing, err = p.GetRecords(ctx, zone); err != nil {
					return out, err
				}
			}
			want := rec.RR()
			for _, e := range existing {
				got := e.RR()
				if got.Name == want.Name && got.Type == want.Type && (want.Data == "" || got.Data == want.Data) {
					id, _ := recordID(e)
					ids = append(ids, id)
				}
			}
		}
		for _, id := range ids {
			_, err := p.client.Domains.DeleteRecord(ctx, domain, id)
			var er *godo.ErrorResponse
			if errors.As(err, &er) && er.Response != nil && er.Response.StatusCode == http.StatusNotFound {
				continue // already gone: the goal is reached
			}
			if err != nil {
				return out, fmt.Errorf("delete record %d of DigitalOcean domain %s: %w", id, domain, err)
			}
			out = append(out, rec)
		}
	}
	return out, nil
}

// fromGodo converts a DigitalOcean record, keeping its ID as ProviderData.
func fromGodo(r godo.DomainRecord) libdns.Record {
	ttl := time.Duration(r.TTL) * time.Second
	if r.Type == "TXT" {
		return libdns.TXT{Name: r.Name, TTL: ttl, Text: r.Data, ProviderData: r.ID}
	}
	return doRecord{rr: libdns.RR{Name: r.Name, TTL: ttl, Type: r.Type, Data: r.Data}, id: r.ID}
}

// doRecord is any non-TXT DigitalOcean record with its ID.
type doRecord struct {
	rr libdns.RR
	id int
}

func (r doRecord) RR() libdns.RR { return r.rr }

func recordID(r libdns.Record) (int, bool) {
	switch v := r.(type) {
	case libdns.TXT:
		id, ok := v.ProviderData.(int)
		return id, ok && id != 0
	case doRecord:
		return v.id, v.id != 0
	}
	return 0, false
}

// dnsSolver solves DNS-01 through a libdns provider. certmagic's own
// DNS01Solver finds the zone by SOA queries, which pebble-challtestsrv and
// some lab resolvers don't answer; the provider's zone list is the authority
// on which DigitalOcean domain holds the name.
type dnsSolver struct {
	provider interface {
		libdns.ZoneLister
		libdns.RecordAppender
		libdns.RecordDeleter
	}
	resolvers []string
	timeout   time.Duration
	interval  time.Duration
}

// Present creates the TXT record; Wait watches it propagate.
func (s *dnsSolver) Present(ctx context.Context, ch acme.Challenge) error {
	zone, rel, err := s.locate(ctx, ch.DNS01TXTRecordName())
	if err != nil {
		return err
	}
	_, err = s.provider.AppendRecords(ctx, zone, []libdns.Record{libdns.TXT{Name: rel, TTL: 30 * time.Second, Text: ch.DNS01KeyAuthorization()}})
	return err
}

// Wait returns once every resolver answers the TXT value.
func (s *dnsSolver) Wait(ctx context.Context, ch acme.Challenge) error {
	name, want := ch.DNS01TXTRecordName(), ch.DNS01KeyAuthorization()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	pending := append([]string(nil), s.resolvers...)
	for {
		var still []string
		for _, server := range pending {
			if !hasTXT(ctx, server, name, want) {
				still = append(still, server)
			}
		}
		if pending = still; len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("TXT record %s not visible at %v after %s (tls.acme.dns.resolvers, tls.acme.dns.propagation_timeout): %w",
				name, pending, s.timeout, ctx.Err())
		case <-time.After(s.interval):
		}
	}
}

// CleanUp deletes the TXT record with this challenge's value.
func (s *dnsSolver) CleanUp(ctx context.Context, ch acme.Challenge) error {
	zone, rel, err := s.locate(ctx, ch.DNS01TXTRecordName())
	if err != nil {
		return err
	}
	_, err = s.provider.DeleteRecords(ctx, zone, []libdns.Record{libdns.TXT{Name: rel, Text: ch.DNS01KeyAuthorization()}})
	return err
}

// locate finds the longest zone containing fqdn and the name relative to it.
func (s *dnsSolver) locate(ctx context.Context, fqdn string) (zone, rel string, err error) {
	zones, err := s.provider.ListZones(ctx)
	if err != nil {
		return "", "", err
	}
	name := strings.TrimSuffix(fqdn, ".") + "."
	for _, z := range zones {
		zn := strings.TrimSuffix(z.Name, ".") + "."
		if (name == zn || strings.HasSuffix(name, "."+zn)) && len(zn) > len(zone) {
			zone = zn
		}
	}
	if zone == "" {
		return "", "", fmt.Errorf("no DigitalOcean domain holds %s: create the domain (jhub_domain) before issuing with dns-01", fqdn)
	}
	return zone, libdns.RelativeName(name, zone), nil
}

// hasTXT asks one DNS server directly (no cache in between) for name's TXT.
func hasTXT(ctx context.Context, server, name, want string) bool {
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	// The trailing dot keeps the resolver from trying search domains.
	txts, err := r.LookupTXT(qctx, strings.TrimSuffix(name, ".")+".")
	if err != nil {
		return false
	}
	for _, t := range txts {
		if t == want {
			return true
		}
	}
	return false
}

// withDNSPort adds :53 to resolvers given without a port.
func withDNSPort(servers []string) []string {
	out := make([]string, len(servers))
	for i, s := range servers {
		if _, _, err := net.SplitHostPort(s); err != nil {
			s = net.JoinHostPort(s, strconv.Itoa(53))
		}
		out[i] = s
	}
	return out
}
