package dosim

import (
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/digitalocean/godo"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// md5Fingerprint computes DigitalOcean's fingerprint from its definition:
// MD5 over the base64-decoded key blob, as colon-separated hex.
func md5Fingerprint(t *testing.T, authorizedKey string) string {
	t.Helper()
	blob, err := base64.StdEncoding.DecodeString(strings.Fields(authorizedKey)[1])
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(blob)
	hex := make([]string, len(sum))
	for i, b := range sum {
		hex[i] = fmt.Sprintf("%02x", b)
	}
	return strings.Join(hex, ":")
}

func TestAccountAndRateLimitHeaders(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	acct, resp, err := c.Account.Get(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if acct.Status != "active" || !acct.EmailVerified || acct.DropletLimit == 0 || acct.Email == "" {
		t.Errorf("account = %+v", acct)
	}
	if resp.Limit != 5000 || resp.Remaining != 4999 || resp.Reset.IsZero() {
		t.Errorf("rate after 1 request = %+v", resp.Rate)
	}
	_, resp, err = c.Account.Get(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Remaining != 4998 {
		t.Errorf("ratelimit-remaining after 2 requests = %d, want 4998", resp.Remaining)
	}
}

func TestUnauthorized(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, "wrong-token")
	_, _, err := c.Account.Get(ctx(t))
	wantStatus(t, err, http.StatusUnauthorized, "account with a wrong token")
	var er *godo.ErrorResponse
	if !strings.Contains(err.Error(), "Unable to authenticate you") || !asErr(err, &er) || er.RequestID == "" {
		t.Errorf("401 error = %v (request id %q)", err, er.RequestID)
	}
	_, _, err = c.Droplets.Create(ctx(t), &godo.DropletCreateRequest{Name: "x", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: "debian-12-x64"}})
	wantStatus(t, err, http.StatusUnauthorized, "droplet create with a wrong token")
	if len(s.Droplets()) != 0 {
		t.Error("a request with a wrong token created a droplet")
	}
	resp, body := raw(t, s, http.MethodGet, "/v2/account", "")
	if resp.StatusCode != http.StatusOK || body["account"] == nil {
		t.Errorf("the right token: %d %v", resp.StatusCode, body)
	}
}

func TestSSHKeys(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	pub := testkit.NewSSHKey(t, "student@lab").AuthorizedKey
	k, _, err := c.Keys.Create(ctx(t), &godo.KeyCreateRequest{Name: "admin", PublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	if want := md5Fingerprint(t, pub); k.Fingerprint != want {
		t.Errorf("fingerprint = %s, want %s", k.Fingerprint, want)
	}
	if k.ID == 0 || k.Name != "admin" || k.PublicKey != pub {
		t.Errorf("created key = %+v", k)
	}
	byID, _, err := c.Keys.GetByID(ctx(t), k.ID)
	if err != nil || byID.Fingerprint != k.Fingerprint {
		t.Fatalf("get by id: %+v %v", byID, err)
	}
	byFP, _, err := c.Keys.GetByFingerprint(ctx(t), k.Fingerprint)
	if err != nil || byFP.ID != k.ID {
		t.Fatalf("get by fingerprint: %+v %v", byFP, err)
	}
	renamed, _, err := c.Keys.UpdateByID(ctx(t), k.ID, &godo.KeyUpdateRequest{Name: "teacher"})
	if err != nil || renamed.Name != "teacher" {
		t.Fatalf("rename: %+v %v", renamed, err)
	}

	_, _, err = c.Keys.Create(ctx(t), &godo.KeyCreateRequest{Name: "again", PublicKey: pub})
	wantStatus(t, err, http.StatusUnprocessableEntity, "the same key twice")
	_, _, err = c.Keys.Create(ctx(t), &godo.KeyCreateRequest{Name: "bad", PublicKey: "ssh-ed25519 not-base64"})
	wantStatus(t, err, http.StatusUnprocessableEntity, "a malformed key")
	_, _, err = c.Keys.Create(ctx(t), &godo.KeyCreateRequest{Name: "", PublicKey: testkit.NewSSHKey(t, "student@lab").AuthorizedKey})
	wantStatus(t, err, http.StatusUnprocessableEntity, "a key without a name")

	second, _, err := c.Keys.Create(ctx(t), &godo.KeyCreateRequest{Name: "second", PublicKey: testkit.NewSSHKey(t, "student@lab").AuthorizedKey})
	if err != nil {
		t.Fatal(err)
	}
	keys, resp, err := c.Keys.List(ctx(t), &godo.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != k.ID || keys[1].ID != second.ID || resp.Meta.Total != 2 {
		t.Errorf("list = %+v (total %d)", keys, resp.Meta.Total)
	}
	if _, err := c.Keys.DeleteByFingerprint(ctx(t), k.Fingerprint); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Keys.GetByID(ctx(t), k.ID)
	wantStatus(t, err, http.StatusNotFound, "a deleted key")
	if _, err := c.Keys.DeleteByID(ctx(t), second.ID); err != nil {
		t.Fatal(err)
	}
	if got := s.SSHKeys(); len(got) != 0 {
		t.Errorf("keys left after deleting both: %+v", got)
	}
}

func TestDomains(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	d, _, err := c.Domains.Create(ctx(t), &godo.DomainCreateRequest{Name: "class.example", IPAddress: "198.18.7.9"})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "class.example" || d.TTL != 1800 {
		t.Errorf("created domain = %+v", d)
	}
	// DigitalOcean makes the SOA, three NS records and, for ip_address, the apex A.
	recs, _, err := c.Domains.Records(ctx(t), "class.example", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Type+" "+r.Name+" "+r.Data)
	}
	want := []string{"SOA @ 1800", "NS @ ns1.digitalocean.com", "NS @ ns2.digitalocean.com", "NS @ ns3.digitalocean.com", "A @ 198.18.7.9"}
	if !slices.Equal(got, want) {
		t.Errorf("records of a new zone = %q, want %q", got, want)
	}
	_, _, err = c.Domains.Create(ctx(t), &godo.DomainCreateRequest{Name: "class.example"})
	wantStatus(t, err, http.StatusUnprocessableEntity, "a duplicate domain")
	_, _, err = c.Domains.Create(ctx(t), &godo.DomainCreateRequest{Name: "no_dots"})
	wantStatus(t, err, http.StatusUnprocessableEntity, "an invalid domain name")
	if _, _, err := c.Domains.Create(ctx(t), &godo.DomainCreateRequest{Name: "other.example"}); err != nil {
		t.Fatal(err)
	}
	got2, _, err := c.Domains.Get(ctx(t), "class.example")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got2.ZoneFile, "class.example. 1800 IN A 198.18.7.9") {
		t.Errorf("zone file lacks the apex A record:\n%s", got2.ZoneFile)
	}
	list, resp, err := c.Domains.List(ctx(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "class.example" || list[1].Name != "other.example" || resp.Meta.Total != 2 {
		t.Errorf("domains = %+v", list)
	}
	if _, err := c.Domains.Delete(ctx(t), "class.example"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Domains.Get(ctx(t), "class.example")
	wantStatus(t, err, http.StatusNotFound, "a deleted domain")
	_, _, err = c.Domains.Records(ctx(t), "class.example", nil)
	wantStatus(t, err, http.StatusNotFound, "records of a deleted domain")
	if s.Records("class.example") != nil {
		t.Error("records of a deleted zone still in the snapshot")
	}
}

func TestRecords(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	if _, _, err := c.Domains.Create(ctx(t), &godo.DomainCreateRequest{Name: "hub.example"}); err != nil {
		t.Fatal(err)
	}
	create := func(r godo.DomainRecordEditRequest) godo.DomainRecord {
		t.Helper()
		rec, resp, err := c.Domains.CreateRecord(ctx(t), "hub.example", &r)
		if err != nil {
			t.Fatalf("create %s %s: %v", r.Type, r.Name, err)
		}
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("create: HTTP %d, want 201", resp.StatusCode)
		}
		return *rec
	}
	a := create(godo.DomainRecordEditRequest{Type: "A", Name: "@", Data: "198.18.0.10", TTL: 300})
	www := create(godo.DomainRecordEditRequest{Type: "A", Name: "www", Data: "198.18.0.11"})
	create(godo.DomainRecordEditRequest{Type: "AAAA", Name: "www", Data: "2001:db8::11", TTL: 60})
	create(godo.DomainRecordEditRequest{Type: "CAA", Name: "@", Data: "letsencrypt.org", Tag: "issue", Flags: 0, TTL: 3600})
	create(godo.DomainRecordEditRequest{Type: "CNAME", Name: "docs", Data: "www.hub.example.", TTL: 300})
	create(godo.DomainRecordEditRequest{Type: "TXT", Name: "_acme-challenge", Data: "token-value", TTL: 30})
	create(godo.DomainRecordEditRequest{Type: "MX", Name: "@", Data: "mail.hub.example.", Priority: 10, TTL: 300})
	if www.TTL != 1800 || www.ID == 0 || www.Name != "www" {
		t.Errorf("record without a TTL = %+v, want TTL 1800", www)
	}

	onlyA, _, err := c.Domains.RecordsByType(ctx(t), "hub.example", "A", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(onlyA) != 2 {
		t.Errorf("type=A: %+v", onlyA)
	}
	byName, _, err := c.Domains.RecordsByName(ctx(t), "hub.example", "www.hub.example", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(byName) != 2 || byName[0].Type != "A" || byName[1].Type != "AAAA" {
		t.Errorf("name=www.hub.example: %+v", byName)
	}
	apexA, _, err := c.Domains.RecordsByTypeAndName(ctx(t), "hub.example", "A", "hub.example", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(apexA) != 1 || apexA[0].ID != a.ID {
		t.Errorf("type=A name=hub.example: %+v", apexA)
	}

	got, _, err := c.Domains.Record(ctx(t), "hub.example", www.ID)
	if err != nil || got.Data != "198.18.0.11" {
		t.Fatalf("get: %+v %v", got, err)
	}
	edited, _, err := c.Domains.EditRecord(ctx(t), "hub.example", www.ID, &godo.DomainRecordEditRequest{Type: "A", Data: "198.18.0.12", TTL: 120})
	if err != nil {
		t.Fatal(err)
	}
	if edited.Data != "198.18.0.12" || edited.TTL != 120 || edited.Name != "www" || edited.Type != "A" {
		t.Errorf("PUT changed data and ttl only, got %+v", edited)
	}
	resp2, body := raw(t, s, http.MethodPatch, fmt.Sprintf("/v2/domains/hub.example/records/%d", www.ID), `{"type":"A","name":"web"}`)
	if resp2.StatusCode != http.StatusOK {
		t.Fatalf("PATCH: %d %v", resp2.StatusCode, body)
	}
	if rec := body["domain_record"].(map[string]any); rec["name"] != "web" || rec["data"] != "198.18.0.12" {
		t.Errorf("PATCH name: %v", rec)
	}
	_, _, err = c.Domains.EditRecord(ctx(t), "hub.example", www.ID, &godo.DomainRecordEditRequest{Type: "A", TTL: 10})
	wantStatus(t, err, http.StatusUnprocessableEntity, "an update to TTL 10")

	if _, err := c.Domains.DeleteRecord(ctx(t), "hub.example", www.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Domains.Record(ctx(t), "hub.example", www.ID)
	wantStatus(t, err, http.StatusNotFound, "a deleted record")
	_, err = c.Domains.DeleteRecord(ctx(t), "hub.example", www.ID)
	wantStatus(t, err, http.StatusNotFound, "deleting a deleted record")
	soa := s.Records("hub.example")[0]
	if soa.Type != "SOA" {
		t.Fatalf("first record is %s, want the SOA", soa.Type)
	}
	_, err = c.Domains.DeleteRecord(ctx(t), "hub.example", soa.ID)
	wantStatus(t, err, http.StatusUnprocessableEntity, "deleting the SOA record")
	if n := len(s.Records("hub.example")); n != 4+6 {
		t.Errorf("snapshot holds %d records, want 10", n)
	}
}

// TestRecordValidation sends invalid records. Those the spec itself rejects
// (unknown type, missing data) must also be reported as request violations:
// the conformance checker is proven on real traffic.
func TestRecordValidation(t *testing.T) {
	s := newLooseSim(t, Options{})
	if !s.Conformance() {
		t.Skipf("needs the OpenAPI spec: set %s", SpecEnv)
	}
	c := client(t, s, testToken)
	if _, _, err := c.Domains.Create(ctx(t), &godo.DomainCreateRequest{Name: "hub.example"}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		rec       godo.DomainRecordEditRequest
		violation bool
	}{
		{"bad type", godo.DomainRecordEditRequest{Type: "BOGUS", Name: "www", Data: "x"}, true},
		{"missing data", godo.DomainRecordEditRequest{Type: "A", Name: "www"}, true},
		{"bad name", godo.DomainRecordEditRequest{Type: "A", Name: "bad name!", Data: "198.18.0.1"}, false},
		{"trailing hyphen", godo.DomainRecordEditRequest{Type: "A", Name: "www-", Data: "198.18.0.1"}, false},
		{"ttl below 30", godo.DomainRecordEditRequest{Type: "A", Name: "www", Data: "198.18.0.1", TTL: 29}, false},
		{"A with IPv6", godo.DomainRecordEditRequest{Type: "A", Name: "www", Data: "2001:db8::1"}, false},
		{"AAAA with IPv4", godo.DomainRecordEditRequest{Type: "AAAA", Name: "www", Data: "198.18.0.1"}, false},
		{"CAA bad tag", godo.DomainRecordEditRequest{Type: "CAA", Name: "@", Data: "letsencrypt.org", Tag: "issuer"}, false},
		{"CNAME to a non-name", godo.DomainRecordEditRequest{Type: "CNAME", Name: "docs", Data: "not a host"}, false},
	}
	for _, tc := range cases {
		before := len(s.Violations())
		_, _, err := c.Domains.CreateRecord(ctx(t), "hub.example", &tc.rec)
		wantStatus(t, err, http.StatusUnprocessableEntity, tc.name)
		if got := len(s.Violations()) > before; got != tc.violation {
			t.Errorf("%s: request violation recorded = %v, want %v (%q)", tc.name, got, tc.violation, s.Violations()[before:])
		}
	}
	if !hasViolation(s, "POST /v2/domains/hub.example/records", "domains_create_record", "request") {
		t.Errorf("violations do not name the method, path and operation: %q", s.Violations())
	}
	if n := len(s.Records("hub.example")); n != 4 {
		t.Errorf("invalid records were stored: %d records", n)
	}
}

func TestSeedDomain(t *testing.T) {
	s := newSim(t, Options{})
	err := s.SeedDomain("school.example",
		godo.DomainRecordEditRequest{Type: "A", Name: "www", Data: "198.18.1.1"},
		godo.DomainRecordEditRequest{Type: "TXT", Name: "@", Data: "v=spf1 -all"})
	if err != nil {
		t.Fatal(err)
	}
	c := client(t, s, testToken)
	recs, _, err := c.Domains.RecordsByName(ctx(t), "school.example", "www.school.example", nil)
	if err != nil || len(recs) != 1 || recs[0].Data != "198.18.1.1" {
		t.Fatalf("seeded record via the API: %+v %v", recs, err)
	}
	if err := s.SeedDomain("school.example"); err == nil {
		t.Error("seeding an existing zone succeeded")
	}
	if err := s.SeedDomain("bad.example", godo.DomainRecordEditRequest{Type: "A", Name: "x", Data: "nope"}); err == nil {
		t.Error("seeding an invalid record succeeded")
	}
	if len(s.Domains()) != 1 {
		t.Errorf("a failed seed left a zone: %+v", s.Domains())
	}
}

func TestUnknownRoute(t *testing.T) {
	s := newLooseSim(t, Options{})
	resp, body := raw(t, s, http.MethodGet, "/v2/load_balancers", "")
	if resp.StatusCode != http.StatusNotFound || body["id"] != "not_found" || body["message"] == "" || body["request_id"] == "" {
		t.Errorf("unknown route: %d %v", resp.StatusCode, body)
	}
	if resp.Header.Get("Ratelimit-Limit") == "" {
		t.Error("no ratelimit-limit header on a 404")
	}
	resp, body = raw(t, s, http.MethodPut, "/v2/droplets", "{}")
	if resp.StatusCode != http.StatusNotFound || body["id"] != "not_found" {
		t.Errorf("unknown method: %d %v", resp.StatusCode, body)
	}
	if s.Conformance() && !hasViolation(s, "GET /v2/load_balancers", "no such operation") {
		t.Errorf("a request outside the checked operations was not reported: %q", s.Violations())
	}
}
