package labdns

import (
	"context"
	"testing"

	"github.com/digitalocean/godo"
	"github.com/miekg/dns"
	"golang.org/x/oauth2"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"
)

// setup runs the real simulator (default backend) with one zone, created
// through the API as the provider would, and the DNS server over it on
// loopback.
func setup(t *testing.T) (*godo.Client, *Server) {
	t.Helper()
	sim, err := dosim.New(dosim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	url, err := sim.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: sim.Token()}))
	c, err := godo.New(hc, godo.SetBaseURL(url))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, _, err := c.Domains.Create(ctx, &godo.DomainCreateRequest{Name: "class.test"}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []godo.DomainRecordEditRequest{
		{Type: "A", Name: "@", Data: "198.19.0.2", TTL: 300},
		{Type: "A", Name: "hub", Data: "198.19.0.3", TTL: 60},
		{Type: "AAAA", Name: "hub", Data: "fdb8:6a68:7562::3", TTL: 60},
		{Type: "TXT", Name: "_acme-challenge.hub", Data: "token-value", TTL: 30},
		{Type: "CAA", Name: "@", Data: "letsencrypt.org", Flags: 0, Tag: "issue", TTL: 3600},
		{Type: "CNAME", Name: "www", Data: "hub", TTL: 60},
		{Type: "A", Name: "node.rack", Data: "198.19.0.4", TTL: 60},
	} {
		if _, _, err := c.Domains.CreateRecord(ctx, "class.test", &r); err != nil {
			t.Fatalf("creating %s %s: %v", r.Type, r.Name, err)
		}
	}
	s, err := Start("127.0.0.1:0", sim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return c, s
}

func query(t *testing.T, s *Server, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	cl := &dns.Client{Net: network}
	r, _, err := cl.Exchange(m, s.Addr())
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return r
}

func TestAnswers(t *testing.T) {
	_, s := setup(t)
	for _, tc := range []struct {
		name  string
		qtype uint16
		rcode int
		want  []string // answer RRs, as miekg/dns prints them
	}{
		{"hub.class.test.", dns.TypeA, dns.RcodeSuccess, []string{"hub.class.test.\t60\tIN\tA\t198.19.0.3"}},
		{"HUB.Class.Test.", dns.TypeA, dns.RcodeSuccess, []string{"hub.class.test.\t60\tIN\tA\t198.19.0.3"}},
		{"hub.class.test.", dns.TypeAAAA, dns.RcodeSuccess, []string{"hub.class.test.\t60\tIN\tAAAA\tfdb8:6a68:7562::3"}},
		{"class.test.", dns.TypeA, dns.RcodeSuccess, []string{"class.test.\t300\tIN\tA\t198.19.0.2"}},
		{"class.test.", dns.TypeCAA, dns.RcodeSuccess, []string{"class.test.\t3600\tIN\tCAA\t0 issue \"letsencrypt.org\""}},
		{"_acme-challenge.hub.class.test.", dns.TypeTXT, dns.RcodeSuccess, []string{"_acme-challenge.hub.class.test.\t30\tIN\tTXT\t\"token-value\""}},
		{"www.class.test.", dns.TypeA, dns.RcodeSuccess, []string{"www.class.test.\t60\tIN\tCNAME\thub.class.test."}},
		// NODATA: the name exists, the type does not.
		{"hub.class.test.", dns.TypeTXT, dns.RcodeSuccess, nil},
		// An empty non-terminal exists too.
		{"rack.class.test.", dns.TypeA, dns.RcodeSuccess, nil},
		{"nope.class.test.", dns.TypeA, dns.RcodeNameError, nil},
		{"other.test.", dns.TypeA, dns.RcodeRefused, nil},
	} {
		for _, network := range []string{"udp", "tcp"} {
			r := query(t, s, network, tc.name, tc.qtype)
			if r.Rcode != tc.rcode {
				t.Errorf("%s %s/%s: rcode %s, want %s", network, tc.name, dns.TypeToString[tc.qtype], dns.RcodeToString[r.Rcode], dns.RcodeToString[tc.rcode])
				continue
			}
			var got []string
			for _, rr := range r.Answer {
				got = append(got, rr.String())
			}
			if len(got) != len(tc.want) {
				t.Errorf("%s %s/%s: answer %q, want %q", network, tc.name, dns.TypeToString[tc.qtype], got, tc.want)
				continue
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("%s %s/%s: answer %q, want %q", network, tc.name, dns.TypeToString[tc.qtype], got, tc.want)
				}
			}
			if tc.rcode != dns.RcodeRefused && !r.Authoritative {
				t.Errorf("%s %s: not authoritative", network, tc.name)
			}
			if len(tc.want) == 0 && tc.rcode != dns.RcodeRefused && (len(r.Ns) != 1 || r.Ns[0].Header().Rrtype != dns.TypeSOA) {
				t.Errorf("%s %s: negative answer without the zone's SOA: %v", network, tc.name, r.Ns)
			}
		}
	}
}

// TestLive proves answers follow the simulator at once: a record created or
// deleted through the API shows in the next query.
func TestLive(t *testing.T) {
	c, s := setup(t)
	ctx := context.Background()
	if r := query(t, s, "udp", "new.class.test.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("before create: %s", dns.RcodeToString[r.Rcode])
	}
	rec, _, err := c.Domains.CreateRecord(ctx, "class.test", &godo.DomainRecordEditRequest{Type: "A", Name: "new", Data: "198.19.0.9", TTL: 30})
	if err != nil {
		t.Fatal(err)
	}
	r := query(t, s, "udp", "new.class.test.", dns.TypeA)
	if len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "198.19.0.9" {
		t.Fatalf("after create: %v", r.Answer)
	}
	if _, err := c.Domains.DeleteRecord(ctx, "class.test", rec.ID); err != nil {
		t.Fatal(err)
	}
	if r := query(t, s, "udp", "new.class.test.", dns.TypeA); r.Rcode != dns.RcodeNameError {
		t.Fatalf("after delete: %s %v", dns.RcodeToString[r.Rcode], r.Answer)
	}
	if _, err := c.Domains.Delete(ctx, "class.test"); err != nil {
		t.Fatal(err)
	}
	if r := query(t, s, "udp", "hub.class.test.", dns.TypeA); r.Rcode != dns.RcodeRefused {
		t.Fatalf("after zone delete: %s", dns.RcodeToString[r.Rcode])
	}
}
