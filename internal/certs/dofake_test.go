package certs_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// doFake answers the DigitalOcean domain-record endpoints the DNS provider
// uses, with DigitalOcean's shapes (v2 envelopes, links.pages, meta.total,
// 201 on create, 204 on delete, 404 JSON errors) and its rules (bearer token,
// relative record names, TTL >= 30, at most perPage items per page).
type doFake struct {
	mu       sync.Mutex
	token    string
	perPage  int
	domains  []string
	records  map[string][]record
	nextID   int
	throttle int // answer this many requests with 429 first
	calls    []string
	// onTXT mirrors TXT changes into a real DNS server: all values of fqdn.
	onTXT func(fqdn string, values []string)
	srv   *httptest.Server
}

type record struct {
	ID   int    `json:"id"`
	Type string `json:"type"`
	Name string `json:"name"`
	Data string `json:"data"`
	TTL  int    `json:"ttl"`
}

func newDOFake(t *testing.T, token string, domains ...string) *doFake {
	f := &doFake{token: token, perPage: 2, domains: domains, records: map[string][]record{}, nextID: 100}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *doFake) URL() string { return f.srv.URL + "/" }

func (f *doFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	if f.throttle > 0 {
		f.throttle--
		w.Header().Set("Ratelimit-Remaining", "0")
		w.Header().Set("Retry-After", "1")
		f.errorJSON(w, http.StatusTooManyRequests, "too_many_requests", "API rate limit exceeded")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		f.errorJSON(w, http.StatusUnauthorized, "Unauthorized", "Unable to authenticate you")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "v2" && parts[1] == "domains" && r.Method == http.MethodGet:
		var items []any
		for _, d := range f.domains {
			items = append(items, map[string]any{"name": d, "ttl": 1800, "zone_file": ""})
		}
		f.page(w, r, "domains", items)
	case len(parts) == 4 && parts[1] == "domains" && parts[3] == "records":
		domain := parts[2]
		if !f.hasDomain(domain) {
			f.errorJSON(w, http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
			return
		}
		switch r.Method {
		case http.MethodGet:
			var items []any
			for _, rec := range f.records[domain] {
				items = append(items, rec)
			}
			f.page(w, r, "domain_records", items)
		case http.MethodPost:
			var rec record
			if err := json.NewDecoder(r.Body).Decode(&rec); err != nil || rec.Type == "" || rec.Name == "" || rec.Data == "" {
				f.errorJSON(w, http.StatusUnprocessableEntity, "unprocessable_entity", "type, name and data are required")
				return
			}
			if strings.HasSuffix(rec.Name, ".") || strings.HasSuffix(rec.Name, domain) {
				f.errorJSON(w, http.StatusUnprocessableEntity, "unprocessable_entity", "name must be relative to the domain")
				return
			}
			if rec.TTL < 30 {
				f.errorJSON(w, http.StatusUnprocessableEntity, "unprocessable_entity", "ttl must be at least 30")
				return
			}
			f.nextID++
			rec.ID = f.nextID
			f.records[domain] = append(f.records[domain], rec)
			f.mirror(domain, rec)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_ = json.NewEncoder(w).Encode(map[string]any{"domain_record": rec})
		default:
			f.errorJSON(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method)
		}
	case len(parts) == 5 && parts[1] == "domains" && parts[3] == "records" && r.Method == http.MethodDelete:
		domain := parts[2]
		id, _ := strconv.Atoi(parts[4])
		recs := f.records[domain]
		for i, rec := range recs {
			if rec.ID == id {
				f.records[domain] = append(recs[:i:i], recs[i+1:]...)
				f.mirror(domain, rec)
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		f.errorJSON(w, http.StatusNotFound, "not_found", "The resource you were accessing could not be found.")
	default:
		f.errorJSON(w, http.StatusNotFound, "not_found", "no such endpoint in this fake: "+r.Method+" "+r.URL.Path)
	}
}

func (f *doFake) hasDomain(d string) bool {
	for _, x := range f.domains {
		if x == d {
			return true
		}
	}
	return false
}

func (f *doFake) mirror(domain string, rec record) {
	if rec.Type != "TXT" || f.onTXT == nil {
		return
	}
	var values []string
	for _, r := range f.records[domain] {
		if r.Type == "TXT" && r.Name == rec.Name {
			values = append(values, r.Data)
		}
	}
	f.onTXT(rec.Name+"."+domain+".", values)
}

// page writes one page of items the way DigitalOcean paginates.
func (f *doFake) page(w http.ResponseWriter, r *http.Request, key string, items []any) {
	per := f.perPage
	if p, err := strconv.Atoi(r.URL.Query().Get("per_page")); err == nil && p > 0 && p < per {
		per = p
	}
	page := 1
	if p, err := strconv.Atoi(r.URL.Query().Get("page")); err == nil && p > 0 {
		page = p
	}
	lo, hi := min((page-1)*per, len(items)), min(page*per, len(items))
	if items == nil {
		items = []any{}
	}
	pages := map[string]string{}
	last := max(1, (len(items)+per-1)/per)
	link := func(n int) string {
		return fmt.Sprintf("%s%s?page=%d&per_page=%d", f.srv.URL, r.URL.Path, n, per)
	}
	if page < last {
		pages["next"], pages["last"] = link(page+1), link(last)
	}
	if page > 1 {
		pages["prev"], pages["first"] = link(page-1), link(1)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		key:     items[lo:hi],
		"links": map[string]any{"pages": pages},
		"meta":  map[string]int{"total": len(items)},
	})
}

func (f *doFake) errorJSON(w http.ResponseWriter, code int, id, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"id": id, "message": msg})
}

func (f *doFake) snapshot(domain string) []record {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]record(nil), f.records[domain]...)
}
