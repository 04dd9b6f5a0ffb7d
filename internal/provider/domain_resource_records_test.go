package provider

import (
	"strings"
	"testing"

	"github.com/digitalocean/godo"
)

func TestPlace(t *testing.T) {
	zone := []godo.DomainRecord{
		{ID: 1, Type: "A", Name: "hub", Data: "198.18.1.1"},
		{ID: 2, Type: "A", Name: "www", Data: "198.18.1.2"},
		{ID: 3, Type: "A", Name: "www", Data: "198.18.1.3"},
		{ID: 4, Type: "CAA", Name: "@", Tag: "issue", Data: "sectigo.com"},
		{ID: 5, Type: "NS", Name: "@", Data: "ns1.digitalocean.com"},
	}
	for _, tc := range []struct {
		key      string
		adopt    bool
		adoptID  int
		conflict string
	}{
		{key: "lab/A"},
		{key: "hub/AAAA"},
		{key: "hub/A", conflict: "did not create"},
		{key: "hub/A", adopt: true, adoptID: 1},
		{key: "www/A", adopt: true, conflict: "has 2 A records"},
		{key: "@/CAA/issue"}, // CAA records may stand side by side
		{key: "@/CAA/issue", adopt: true, adoptID: 4},
		{key: "@/CAA/issuewild", adopt: true},
	} {
		p := place("example.edu", tc.key, zone, tc.adopt)
		id := 0
		if p.adopt != nil {
			id = p.adopt.ID
		}
		if id != tc.adoptID || (tc.conflict == "") != (p.conflict == "") || !strings.Contains(p.conflict, tc.conflict) {
			t.Errorf("place(%s, adopt %v) = adopt %d, conflict %q; want adopt %d, conflict with %q", tc.key, tc.adopt, id, p.conflict, tc.adoptID, tc.conflict)
		}
	}
}
