package certs_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/classhub/terraform-provider-jhub/internal/certs"
	"github.com/libdns/libdns"
)

const doToken = "dop_v1_test-secret-token-0123456789"

func tokenFile(t *testing.T, token string) string {
	p := filepath.Join(t.TempDir(), "do-token")
	if err := os.WriteFile(p, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDOProviderZonesAndRecords(t *testing.T) {
	ctx := context.Background()
	fake := newDOFake(t, doToken, "jhub.test", "other.test", "class.jhub.test")
	p, err := certs.NewDOProvider(tokenFile(t, doToken), fake.URL())
	if err != nil {
		t.Fatal(err)
	}

	zones, err := p.ListZones(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, z := range zones {
		names = append(names, z.Name)
	}
	if want := []string{"jhub.test.", "other.test.", "class.jhub.test."}; !slices.Equal(names, want) {
		t.Fatalf("zones across pages = %v, want %v", names, want)
	}

	added, err := p.AppendRecords(ctx, "jhub.test.", []libdns.Record{
		libdns.TXT{Name: "_acme-challenge.hub", Text: "token-one"},
		libdns.TXT{Name: "_acme-challenge.hub", Text: "token-two", TTL: time.Hour},
		libdns.RR{Name: "hub", Type: "A", Data: "198.18.0.10", TTL: time.Minute},
	})
	if err != nil || len(added) != 3 {
		t.Fatalf("append: %v, %d records", err, len(added))
	}
	if got := fake.snapshot("jhub.test"); got[0].TTL != 30 || got[1].TTL != 3600 || got[2].Type != "A" {
		t.Fatalf("stored records %+v: want TTL raised to DigitalOcean's minimum 30 and kept at 3600", got)
	}

	all, err := p.GetRecords(ctx, "jhub.test.")
	if err != nil || len(all) != 3 {
		t.Fatalf("records across pages: %v, %d records", err, len(all))
	}
	if txt, ok := all[1].(libdns.TXT); !ok || txt.Text != "token-two" || txt.Name != "_acme-challenge.hub" {
		t.Fatalf("second record %#v, want the TXT token-two", all[1])
	}

	// By ID: only the first TXT goes, although its twin has the same name.
	if _, err := p.DeleteRecords(ctx, "jhub.test.", added[:1]); err != nil {
		t.Fatal(err)
	}
	// By name, type and value (no ID), as a caller without ProviderData would.
	if _, err := p.DeleteRecords(ctx, "jhub.test", []libdns.Record{libdns.TXT{Name: "_acme-challenge.hub", Text: "token-two"}}); err != nil {
		t.Fatal(err)
	}
	left := fake.snapshot("jhub.test")
	if len(left) != 1 || left[0].Type != "A" {
		t.Fatalf("after deletes %+v, want only the A record", left)
	}
	// Deleting what is already gone reaches the goal: no error.
	if _, err := p.DeleteRecords(ctx, "jhub.test.", added[:1]); err != nil {
		t.Fatalf("delete of a gone record: %v", err)
	}
}

func TestDOProviderRetriesRateLimit(t *testing.T) {
	fake := newDOFake(t, doToken, "jhub.test")
	fake.throttle = 2
	p, err := certs.NewDOProvider(tokenFile(t, doToken), fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendRecords(context.Background(), "jhub.test.", []libdns.Record{libdns.TXT{Name: "x", Text: "v"}}); err != nil {
		t.Fatalf("append through two 429s: %v", err)
	}
	if n := len(fake.snapshot("jhub.test")); n != 1 {
		t.Fatalf("%d records, want exactly 1 (retries must not duplicate)", n)
	}
	if posts := slices.DeleteFunc(slices.Clone(fake.calls), func(c string) bool { return !strings.HasPrefix(c, "POST") }); len(posts) != 3 {
		t.Fatalf("POSTs %v, want 3 (two throttled, one accepted)", posts)
	}
}

func TestDOProviderErrorsKeepTokenSecret(t *testing.T) {
	fake := newDOFake(t, "the-right-token", "jhub.test")
	p, err := certs.NewDOProvider(tokenFile(t, doToken), fake.URL())
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.AppendRecords(context.Background(), "jhub.test.", []libdns.Record{libdns.TXT{Name: "x", Text: "v"}})
	if err == nil || strings.Contains(err.Error(), doToken) || !strings.Contains(err.Error(), "401") {
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
