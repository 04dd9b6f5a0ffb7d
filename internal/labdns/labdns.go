// Package labdns is the lab's authoritative DNS server. It answers from the
// DigitalOcean simulator's domains and records, read at every query, so a
// record created through the API resolves at once, as it would for Pebble or a
// browser resolving a real droplet's name.
package labdns

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/digitalocean/godo"
	"github.com/miekg/dns"
)

// Zones is where the answers come from; *dosim.Server satisfies it.
type Zones interface {
	Domains() []godo.Domain
	Records(zone string) []godo.DomainRecord
}

// Server answers over UDP and TCP on one address.
type Server struct {
	zones Zones
	addr  string
	udp   *dns.Server
	tcp   *dns.Server
	once  sync.Once
}

// Start listens on addr (host:port; port 0 picks one, the same for UDP and TCP)
// and serves until Close.
func Start(addr string, zones Zones) (*Server, error) {
	s := &Server{zones: zones}
	var pc net.PacketConn
	var ln net.Listener
	var err error
	// With port 0 the UDP port is chosen first and TCP must get the same one;
	// retry a few times in case TCP's is taken.
	for range 10 {
		pc, err = net.ListenPacket("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("labdns: listen udp %s: %w", addr, err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		_ = pc.Close() // a fresh, unused socket: try another port
	}
	if err != nil {
		return nil, fmt.Errorf("labdns: listen tcp %s: %w", addr, err)
	}
	s.addr = pc.LocalAddr().String()
	s.udp = &dns.Server{PacketConn: pc, Handler: s}
	s.tcp = &dns.Server{Listener: ln, Handler: s}
	// Both sockets are bound already, so serving can only end with Close.
	go func() { _ = s.udp.ActivateAndServe() }()
	go func() { _ = s.tcp.ActivateAndServe() }()
	return s, nil
}

// Addr is the host:port the server answers on.
func (s *Server) Addr() string { return s.addr }

// Close stops both listeners.
func (s *Server) Close() error {
	var err error
	s.once.Do(func() {
		err = s.udp.Shutdown()
		if e := s.tcp.Shutdown(); err == nil {
			err = e
		}
	})
	return err
}

// ServeDNS answers one query authoritatively: the records of the name and
// type asked for, NODATA (NOERROR, SOA in authority) when the name exists
// without that type, NXDOMAIN when it does not exist, REFUSED outside the
// simulator's zones.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	// Every path answers m; a client gone by then is no concern of the server's.
	defer func() { _ = w.WriteMsg(m) }()
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		return
	}
	q := req.Question[0]
	name := strings.ToLower(dns.Fqdn(q.Name))
	zone := s.zoneFor(name)
	if zone == "" {
		m.Rcode = dns.RcodeRefused
		return
	}
	m.Authoritative = true
	recs := s.zones.Records(strings.TrimSuffix(zone, "."))
	var all []dns.RR
	exists := name == zone
	for _, r := range recs {
		owner := ownerName(r.Name, zone)
		if owner != name {
			if strings.HasSuffix(owner, "."+name) {
				exists = true // an empty non-terminal exists too
			}
			continue
		}
		exists = true
		rr, err := toRR(r, owner, zone)
		if err != nil {
			continue // a record the simulator accepted but DNS cannot carry
		}
		all = append(all, rr)
	}
	for _, rr := range all {
		t := rr.Header().Rrtype
		if t == q.Qtype || q.Qtype == dns.TypeANY || (t == dns.TypeCNAME && q.Qtype != dns.TypeCNAME) {
			m.Answer = append(m.Answer, rr)
		}
	}
	if len(m.Answer) == 0 {
		if !exists {
			m.Rcode = dns.RcodeNameError
		}
		m.Ns = []dns.RR{s.soa(zone, recs)}
	}
}

// zoneFor returns the longest simulator zone (FQDN, lower case) containing name.
func (s *Server) zoneFor(name string) string {
	best := ""
	for _, d := range s.zones.Domains() {
		z := strings.ToLower(dns.Fqdn(d.Name))
		if (name == z || strings.HasSuffix(name, "."+z)) && len(z) > len(best) {
			best = z
		}
	}
	return best
}

// soa is the zone's SOA record from the simulator, or one made up for zones
// the simulator keeps without one (negative answers need it for caching).
func (s *Server) soa(zone string, recs []godo.DomainRecord) dns.RR {
	for _, r := range recs {
		if r.Type == "SOA" {
			if rr, err := toRR(r, zone, zone); err == nil {
				return rr
			}
		}
	}
	return &dns.SOA{
		Hdr:     dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 1800},
		Ns:      "ns1." + zone,
		Mbox:    "hostmaster." + zone,
		Serial:  1,
		Refresh: 10800, Retry: 3600, Expire: 604800, Minttl: 30,
	}
}

// ownerName turns DigitalOcean's record name ("@", "www", or an FQDN) into a
// lower-case FQDN.
func ownerName(n, zone string) string {
	n = strings.ToLower(n)
	switch {
	case n == "@" || n == "":
		return zone
	case strings.HasSuffix(n, "."):
		return n
	case n == strings.TrimSuffix(zone, ".") || strings.HasSuffix(n, "."+strings.TrimSuffix(zone, ".")):
		return n + "."
	}
	return n + "." + zone
}

// target resolves a record's data that names a host: "@" is the apex, a
// name without a trailing dot is relative to the zone, as DigitalOcean reads it.
func target(d, zone string) string {
	if d == "@" {
		return zone
	}
	if strings.HasSuffix(d, ".") {
		return d
	}
	return d + "." + zone
}

func toRR(r godo.DomainRecord, owner, zone string) (dns.RR, error) {
	ttl := uint32(r.TTL)
	if ttl == 0 {
		ttl = 1800
	}
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: owner, Rrtype: t, Class: dns.ClassINET, Ttl: ttl}
	}
	switch r.Type {
	case "A", "AAAA":
		ip, err := netip.ParseAddr(r.Data)
		if err != nil {
			return nil, err
		}
		if r.Type == "A" {
			if !ip.Is4() {
				return nil, fmt.Errorf("type A record %q: not IPv4", r.Data)
			}
			return &dns.A{Hdr: hdr(dns.TypeA), A: ip.AsSlice()}, nil
		}
		if !ip.Is6() || ip.Is4In6() {
			return nil, fmt.Errorf("AAAA record %q: not IPv6", r.Data)
		}
		return &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: ip.AsSlice()}, nil
	case "CNAME":
		return &dns.CNAME{Hdr: hdr(dns.TypeCNAME), Target: target(r.Data, zone)}, nil
	case "NS":
		return &dns.NS{Hdr: hdr(dns.TypeNS), Ns: target(r.Data, zone)}, nil
	case "MX":
		return &dns.MX{Hdr: hdr(dns.TypeMX), Preference: uint16(r.Priority), Mx: target(r.Data, zone)}, nil
	case "TXT":
		return &dns.TXT{Hdr: hdr(dns.TypeTXT), Txt: splitTXT(r.Data)}, nil
	case "CAA":
		return &dns.CAA{Hdr: hdr(dns.TypeCAA), Flag: uint8(r.Flags), Tag: r.Tag, Value: r.Data}, nil
	case "SRV":
		return &dns.SRV{Hdr: hdr(dns.TypeSRV), Priority: uint16(r.Priority), Weight: uint16(r.Weight), Port: uint16(r.Port), Target: target(r.Data, zone)}, nil
	case "SOA":
		// DigitalOcean returns the SOA's data as the primary server's name.
		return &dns.SOA{Hdr: hdr(dns.TypeSOA), Ns: target(r.Data, zone), Mbox: "hostmaster." + zone, Serial: 1, Refresh: 10800, Retry: 3600, Expire: 604800, Minttl: 30}, nil
	}
	return nil, fmt.Errorf("record type %q not served", r.Type)
}

// splitTXT cuts a TXT value into the 255-byte strings DNS carries.
func splitTXT(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}
