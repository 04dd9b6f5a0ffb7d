package dosim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/digitalocean/godo"
)

// defaultTTL is the TTL DigitalOcean gives zones and records without one.
const defaultTTL = 1800

// minTTL is the smallest record TTL DigitalOcean accepts.
const minTTL = 30

type domain struct {
	name    string
	records map[int]*record
}

type record struct {
	godo.DomainRecord
	hidden int // GETs left that answer 404 (NotFoundAfterCreate)
}

func (d *domain) wire() godo.Domain {
	var b strings.Builder
	fmt.Fprintf(&b, "$ORIGIN %s.\n$TTL %d\n", d.name, defaultTTL)
	for _, r := range d.sortedRecords() {
		owner := d.name + "."
		if r.Name != "@" {
			owner = r.Name + "." + owner
		}
		data := r.Data
		if strings.Contains("CNAME MX NS SRV", r.Type) && data != "@" && !strings.HasSuffix(data, ".") {
			data += "."
		}
		switch r.Type {
		case "SOA":
			data = fmt.Sprintf("ns1.digitalocean.com. hostmaster.%s. 1 10800 3600 604800 %s", d.name, r.Data)
		case "MX":
			data = fmt.Sprintf("%d %s", r.Priority, r.Data)
		case "SRV":
			data = fmt.Sprintf("%d %d %d %s", r.Priority, r.Weight, r.Port, r.Data)
		case "CAA":
			data = fmt.Sprintf("%d %s %q", r.Flags, r.Tag, r.Data)
		case "TXT":
			data = fmt.Sprintf("%q", r.Data)
		}
		fmt.Fprintf(&b, "%s %d IN %s %s\n", owner, r.TTL, r.Type, data)
	}
	return godo.Domain{Name: d.name, TTL: defaultTTL, ZoneFile: b.String()}
}

func (d *domain) sortedRecords() []godo.DomainRecord {
	out := make([]godo.DomainRecord, 0, len(d.records))
	for _, r := range d.records {
		out = append(out, r.DomainRecord)
	}
	slices.SortFunc(out, func(a, b godo.DomainRecord) int { return a.ID - b.ID })
	return out
}

func (s *Server) sortedDomains() []godo.Domain {
	out := make([]godo.Domain, 0, len(s.domains))
	for _, d := range s.domains {
		out = append(out, d.wire())
	}
	slices.SortFunc(out, func(a, b godo.Domain) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *Server) listDomains(r *http.Request) (int, any, error) {
	s.mu.Lock()
	all := s.sortedDomains()
	s.mu.Unlock()
	page, links, m := paginate(r, all)
	return http.StatusOK, map[string]any{"domains": page, "links": links, "meta": m}, nil
}

// validHostname reports whether name is a DNS name made of labels of
// letters, digits, '-' and '_' (service labels), optionally with a leading
// wildcard label and a trailing dot.
func validHostname(name string, wildcard bool) bool {
	name = strings.TrimSuffix(name, ".")
	if name == "" || len(name) > 253 {
		return false
	}
	for i, l := range strings.Split(name, ".") {
		if wildcard && i == 0 && l == "*" {
			continue
		}
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		if strings.IndexFunc(l, notLabelRune) >= 0 {
			return false
		}
	}
	return true
}

func notLabelRune(c rune) bool {
	return (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_'
}

// createDomainLocked adds a zone with the SOA and NS records DigitalOcean
// creates, plus an apex A record when ip is valid. The caller holds s.mu.
func (s *Server) createDomainLocked(name string, ip netip.Addr) (*domain, error) {
	name = strings.ToLower(name)
	if !validHostname(name, false) || !strings.Contains(name, ".") || strings.HasSuffix(name, ".") || strings.Contains(name, "_") {
		return nil, unprocessable("Name is invalid: %q is not a domain name like example.com", name)
	}
	if _, ok := s.domains[name]; ok {
		return nil, unprocessable("Name already exists: the domain %s is already in the account", name)
	}
	d := &domain{name: name, records: map[int]*record{}}
	add := func(typ, data string) {
		id := s.next("record", 5_100_000)
		d.records[id] = &record{DomainRecord: godo.DomainRecord{ID: id, Type: typ, Name: "@", Data: data, TTL: defaultTTL}}
	}
	add("SOA", "1800")
	for _, ns := range []string{"ns1", "ns2", "ns3"} {
		add("NS", ns+".digitalocean.com")
	}
	if ip.IsValid() {
		add("A", ip.String())
	}
	s.domains[name] = d
	return d, nil
}

func (s *Server) createDomain(r *http.Request) (int, any, error) {
	var req godo.DomainCreateRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	var ip netip.Addr
	if req.IPAddress != "" {
		var err error
		if ip, err = netip.ParseAddr(req.IPAddress); err != nil || !ip.Is4() {
			return 0, nil, unprocessable("ip_address %q is not an IPv4 address", req.IPAddress)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.createDomainLocked(req.Name, ip)
	if err != nil {
		return 0, nil, err
	}
	// DigitalOcean answers the create before the zone file exists.
	w := d.wire()
	w.ZoneFile = ""
	return http.StatusCreated, map[string]any{"domain": w}, nil
}

func (s *Server) domainLocked(r *http.Request) (*domain, error) {
	d, ok := s.domains[strings.ToLower(r.PathValue("domain"))]
	if !ok {
		return nil, notFound()
	}
	return d, nil
}

func (s *Server) getDomain(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.domainLocked(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"domain": d.wire()}, nil
}

func (s *Server) deleteDomain(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.domainLocked(r)
	if err != nil {
		return 0, nil, err
	}
	delete(s.domains, d.name)
	return http.StatusNoContent, nil, nil
}

// fqdn is the fully qualified name of a record name in zone.
func fqdn(name, zone string) string {
	if name == "@" {
		return zone
	}
	return name + "." + zone
}

func (s *Server) listRecords(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	typ, name := q.Get("type"), strings.TrimSuffix(strings.ToLower(q.Get("name")), ".")
	s.mu.Lock()
	d, err := s.domainLocked(r)
	if err != nil {
		s.mu.Unlock()
		return 0, nil, err
	}
	var all []godo.DomainRecord
	for _, rec := range d.sortedRecords() {
		if (typ == "" || rec.Type == typ) && (name == "" || fqdn(strings.ToLower(rec.Name), d.name) == name) {
			all = append(all, rec)
		}
	}
	s.mu.Unlock()
	page, links, m := paginate(r, all)
	return http.StatusOK, map[string]any{"domain_records": page, "links": links, "meta": m}, nil
}

// validateRecord checks a record like DigitalOcean does and fills defaults.
func validateRecord(zone string, rec *godo.DomainRecord) error {
	if rec.TTL == 0 {
		rec.TTL = defaultTTL
	}
	if rec.TTL < minTTL {
		return unprocessable("TTL must be at least %d seconds (got %d)", minTTL, rec.TTL)
	}
	if rec.Name == "" {
		rec.Name = "@"
	}
	if rec.Name != "@" && (!validHostname(rec.Name, true) || strings.HasSuffix(rec.Name, ".") ||
		len(fqdn(rec.Name, zone)) > 253) {
		return unprocessable("Name is invalid: %q is not a record name (use @ for the apex or a host label like www)", rec.Name)
	}
	if rec.Data == "" {
		return unprocessable("Data can't be blank")
	}
	hostData := func() error {
		if rec.Data != "@" && !validHostname(rec.Data, false) {
			return unprocessable("Data is invalid: %q is not a host name", rec.Data)
		}
		return nil
	}
	switch rec.Type {
	case "A", "AAAA":
		ip, err := netip.ParseAddr(rec.Data)
		if err != nil || ip.Is4() != (rec.Type == "A") || ip.Zone() != "" {
			return unprocessable("Data is invalid: %q is not an IPv%s address", rec.Data, map[bool]string{true: "4", false: "6"}[rec.Type == "A"])
		}
	case "CNAME", "NS":
		return hostData()
	case "MX":
		if rec.Priority < 0 || rec.Priority > 65535 {
			return unprocessable("Priority must be between 0 and 65535")
		}
		return hostData()
	case "SRV":
		if rec.Port < 1 || rec.Port > 65535 || rec.Priority < 0 || rec.Priority > 65535 || rec.Weight < 0 || rec.Weight > 65535 {
			return unprocessable("SRV records need a port (1-65535), a priority and a weight (0-65535)")
		}
		return hostData()
	case "CAA":
		if rec.Flags < 0 || rec.Flags > 255 {
			return unprocessable("Flags must be between 0 and 255")
		}
		if !slices.Contains([]string{"issue", "issuewild", "iodef"}, rec.Tag) {
			return unprocessable("Tag is invalid: %q is not one of issue, issuewild, iodef", rec.Tag)
		}
	case "TXT":
	default:
		return unprocessable("Type is invalid: %q is not one of A, AAAA, CAA, CNAME, MX, NS, SRV, TXT", rec.Type)
	}
	return nil
}

// addRecordLocked validates and stores a record; the caller holds s.mu.
func (s *Server) addRecordLocked(d *domain, req godo.DomainRecordEditRequest) (*record, error) {
	rec := godo.DomainRecord{
		Type: req.Type, Name: req.Name, Data: req.Data, Priority: req.Priority, Port: req.Port,
		TTL: req.TTL, Weight: req.Weight, Flags: req.Flags, Tag: req.Tag,
	}
	if err := validateRecord(d.name, &rec); err != nil {
		return nil, err
	}
	rec.ID = s.next("record", 5_100_000)
	rr := &record{DomainRecord: rec, hidden: s.faults.notFoundCount()}
	d.records[rec.ID] = rr
	return rr, nil
}

func (s *Server) createRecord(r *http.Request) (int, any, error) {
	var req godo.DomainRecordEditRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.domainLocked(r)
	if err != nil {
		return 0, nil, err
	}
	rec, err := s.addRecordLocked(d, req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{"domain_record": rec.DomainRecord}, nil
}

func (s *Server) recordLocked(r *http.Request) (*domain, *record, error) {
	d, err := s.domainLocked(r)
	if err != nil {
		return nil, nil, err
	}
	id, err := pathInt(r, "id")
	if err != nil {
		return nil, nil, err
	}
	rec, ok := d.records[id]
	if !ok {
		return nil, nil, notFound()
	}
	return d, rec, nil
}

// userRecordLocked finds a record the user may change: not the SOA.
func (s *Server) userRecordLocked(r *http.Request) (*domain, *record, error) {
	d, rec, err := s.recordLocked(r)
	if err == nil && rec.Type == "SOA" {
		err = unprocessable("The SOA record is managed by DigitalOcean and cannot be changed or deleted")
	}
	return d, rec, err
}

func (s *Server) getRecord(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, rec, err := s.recordLocked(r)
	if err != nil {
		return 0, nil, err
	}
	if rec.hidden > 0 {
		rec.hidden--
		return 0, nil, notFound()
	}
	return http.StatusOK, map[string]any{"domain_record": rec.DomainRecord}, nil
}

// updateRecord serves PUT and PATCH: both change the fields the body names.
func (s *Server) updateRecord(r *http.Request) (int, any, error) {
	var fields map[string]json.RawMessage
	if err := decode(r, &fields); err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, rec, err := s.userRecordLocked(r)
	if err != nil {
		return 0, nil, err
	}
	next := rec.DomainRecord
	targets := map[string]any{
		"type": &next.Type, "name": &next.Name, "data": &next.Data, "priority": &next.Priority, "port": &next.Port,
		"ttl": &next.TTL, "weight": &next.Weight, "flags": &next.Flags, "tag": &next.Tag,
	}
	for k, raw := range fields {
		t, ok := targets[k]
		if !ok || string(raw) == "null" {
			continue
		}
		if err := json.Unmarshal(raw, t); err != nil {
			return 0, nil, unprocessable("%s is invalid: %v", k, err)
		}
	}
	if err := validateRecord(d.name, &next); err != nil {
		return 0, nil, err
	}
	rec.DomainRecord = next
	return http.StatusOK, map[string]any{"domain_record": rec.DomainRecord}, nil
}

func (s *Server) deleteRecord(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, rec, err := s.userRecordLocked(r)
	if err != nil {
		return 0, nil, err
	}
	delete(d.records, rec.ID)
	return http.StatusNoContent, nil, nil
}

// Domains lists the zones by name.
func (s *Server) Domains() []godo.Domain {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sortedDomains()
}

// Records lists a zone's records by ID (nil for an unknown zone).
func (s *Server) Records(zone string) []godo.DomainRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.domains[strings.ToLower(strings.TrimSuffix(zone, "."))]
	if !ok {
		return nil
	}
	return d.sortedRecords()
}

// SeedDomain creates a zone (with DigitalOcean's SOA and NS records) holding
// records, as if made outside the code under test.
func (s *Server) SeedDomain(name string, records ...godo.DomainRecordEditRequest) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.createDomainLocked(name, netip.Addr{})
	if err != nil {
		return fmt.Errorf("dosim: seed domain %s: %w", name, err)
	}
	for _, rec := range records {
		added, err := s.addRecordLocked(d, rec)
		if err != nil {
			delete(s.domains, d.name)
			return fmt.Errorf("dosim: seed domain %s: record %s %s: %w", name, rec.Type, rec.Name, err)
		}
		added.hidden = 0 // seeded records exist already: no read-after-create lag
	}
	return nil
}
