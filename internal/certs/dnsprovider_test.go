package certs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"github.com/libdns/libdns"

	"github.com/classhub/terraform-provider-jhub/internal/certs"
	"github.com/classhub/terraform-provider-jhub/internal/dosim"
)

const doToken = "dop_v1_test-secret-token-0123456789"

func tokenFile(t *testing.T, token string) string {
	p := filepath.Join(t.TempDir(), "do-token")
	if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// newSim starts the DigitalOcean simulator (requests and responses checked
// against DigitalOcean's OpenAPI spec) with the given zones.
func newSim(t *testing.T, zones ...string) *dosim.Server {
	t.Helper()
	sim := dosim.NewTest(t, dosim.Options{Token: doToken})
	for _, z := range zones {
		if err := sim.SeedDomain(z); err != nil {
			t.Fatal(err)
		}
	}
	return sim
}

func newProvider(t *testing.T, sim *dosim.Server) *certs.DOProvider {
	t.Helper()
	p, err := certs.NewDOProvider(tokenFile(t, doToken), sim.URL()+"/")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func txtValues(sim *dosim.Server, zone, name string) []string {
	var out []string
	for _, r := range sim.Records(zone) {
		if r.Type == "TXT" && r.Name == name {
			out = append(out, r.Data)
		}
	}
	return out
}

func TestDOProviderZonesAndRecords(t *testing.T) {
	ctx := context.Background()
	sim := newSim(t, "jhub.test", "class.jhub.test")
	// More zones and records than one page (200) holds.
	for i := range 201 {
		if err := sim.SeedDomain(fmt.Sprintf("z%03d.test", i)); err != nil {
			t.Fatal(err)
		}
	}
	var many []godo.DomainRecordEditRequest
	for i := range 210 {
		many = append(many, godo.DomainRecordEditRequest{Type: "A", Name: fmt.Sprintf("h%03d", i), Data: "198.18.0.10", TTL: 60})
	}
	if err := sim.SeedDomain("big.test", many...); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, sim)

	zones, err := p.ListZones(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(zones) != len(sim.Domains()) || len(zones) != 204 {
		t.Fatalf("%d zones across pages, simulator holds %d (want 204)", len(zones), len(sim.Domains()))
	}
	recs, err := p.GetRecords(ctx, "big.test.")
	if err != nil || len(recs) != len(sim.Records("big.test")) || len(recs) < 210 {
		t.Fatalf("records across pages: %v, got %d, simulator holds %d", err, len(recs), len(sim.Records("big.test")))
	}

	added, err := p.AppendRecords(ctx, "jhub.test.", []libdns.Record{
		libdns.TXT{Name: "_acme-challenge.hub", Text: "token-one"},
		libdns.TXT{Name: "_acme-challenge.hub", Text: "token-two", TTL: time.Hour},
	})
	if err != nil || len(added) != 2 {
		t.Fatalf("append: %v, %d records", err, len(added))
	}
	for _, r := range sim.Records("jhub.test") {
		if r.Type == "TXT" && ((r.Data == "token-one" && r.TTL != 30) || (r.Data == "token-two" && r.TTL != 3600)) {
			t.Fatalf("TXT %q has TTL %d: want 30 (DigitalOcean's minimum, raised from 0) and 3600", r.Data, r.TTL)
		}
	}
	if txt, ok := added[1].(libdns.TXT); !ok || txt.Text != "token-two" || txt.Name != "_acme-challenge.hub" {
		t.Fatalf("second appended record %#v, want the TXT token-two", added[1])
	}

	// By ID: only the first TXT goes, although its twin has the same name.
	if _, err := p.DeleteRecords(ctx, "jhub.test.", added[:1]); err != nil {
		t.Fatal(err)
	}
	if got := txtValues(sim, "jhub.test", "_acme-challenge.hub"); len(got) != 1 || got[0] != "token-two" {
		t.Fatalf("after delete by ID: %v, want [token-two]", got)
	}
	// By name, type and value (no ID), as a caller without ProviderData would.
	if _, err := p.DeleteRecords(ctx, "jhub.test", []libdns.Record{libdns.TXT{Name: "_acme-challenge.hub", Text: "token-two"}}); err != nil {
		t.Fatal(err)
	}
	if got := txtValues(sim, "jhub.test", "_acme-challenge.hub"); len(got) != 0 {
		t.Fatalf("after delete by value: %v left", got)
	}
	// Deleting what is already gone reaches the goal: no error.
	if _, err := p.DeleteRecords(ctx, "jhub.test.", added[:1]); err != nil {
		t.Fatalf("delete of a gone record: %v", err)
	}
}

func TestDOProviderRetriesRateLimitAndServerErrors(t *testing.T) {
	sim := newSim(t, "jhub.test")
	sim.Faults().RateLimit(2, time.Second)
	p := newProvider(t, sim)
	if _, err := p.AppendRecords(context.Background(), "jhub.test.", []libdns.Record{libdns.TXT{Name: "x", Text: "v1"}}); err != nil {
		t.Fatalf("append through two 429s: %v", err)
	}
	sim.Faults().ServerErrors(2, 503)
	if _, err := p.AppendRecords(context.Background(), "jhub.test.", []libdns.Record{libdns.TXT{Name: "x", Text: "v2"}}); err != nil {
		t.Fatalf("append through two 503s: %v", err)
	}
	if got := txtValues(sim, "jhub.test", "x"); len(got) != 2 {
		t.Fatalf("TXT values %v, want exactly [v1 v2] (retries must not duplicate)", got)
	}
}

func TestDOProviderErrorsKeepTokenSecret(t *testing.T) {
	sim := newSim(t, "jhub.test")
	p, err := certs.NewDOProvider(tokenFile(t, "dop_v1_wrong-token-should-not-leak"), sim.URL()+"/")
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.AppendRecords(context.Background(), "jhub.test.", []libdns.Record{libdns.TXT{Name: "x", Text: "v"}})
	if err == nil || strings.Contains(err.Error(), "wrong-token") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("error %v: want a 401 that does not contain the token", err)
	}

	_, err = certs.NewDOProvider(filepath.Join(t.TempDir(), "missing"), "")
	if err == nil || !strings.HasPrefix(err.Error(), "tls.acme.dns.token_file:") {
		t.Fatalf("missing token file: %v, want an error naming tls.acme.dns.token_file", err)
	}
	_, err = certs.NewDOProvider(tokenFile(t, "  "), "")
	if err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("empty token file: %v", err)
	}
}
