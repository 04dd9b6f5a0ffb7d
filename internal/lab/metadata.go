package lab

import (
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// metadataHandler is DigitalOcean's metadata service for every droplet of
// the lab. Requests reach it from 169.254.169.254 inside a droplet through the
// host's DNAT; the source address says which droplet asks. Answers come from
// the simulator's live state.
func (l *Lab) metadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		ip, err := netip.ParseAddr(host)
		if err != nil {
			http.Error(w, "bad source address", http.StatusBadRequest)
			return
		}
		d, ok := l.dropletByIP(ip)
		if !ok {
			http.NotFound(w, r)
			return
		}
		dr, userData, ok := l.sim.Droplet(d.spec.ID)
		if !ok {
			http.NotFound(w, r)
			return
		}
		v4, v6 := d.spec.IPv4.String(), ""
		if d.spec.IPv6.IsValid() {
			v6 = d.spec.IPv6.String()
		}
		region := d.spec.Region
		if dr.Region != nil && dr.Region.Slug != "" {
			region = dr.Region.Slug
		}
		text := map[string]string{
			"id":                               strconv.Itoa(dr.ID),
			"hostname":                         dr.Name,
			"user-data":                        userData,
			"vendor-data":                      "",
			"region":                           region,
			"public-keys":                      strings.Join(d.spec.SSHPublicKeys, "\n"),
			"tags":                             strings.Join(dr.Tags, "\n"),
			"interfaces/public/0/ipv4/address": v4,
			"interfaces/public/0/ipv4/netmask": "255.255.255.0",
			"interfaces/public/0/ipv4/gateway": l.slot.gateway4().String(),
			"interfaces/public/0/ipv6/address": v6,
			"dns/nameservers":                  l.slot.gateway4().String(),
		}
		// A write fails only when the droplet has hung up: nobody to tell.
		switch p := r.URL.Path; p {
		case "/metadata/v1.json":
			doc := map[string]any{
				"droplet_id":  dr.ID,
				"hostname":    dr.Name,
				"user_data":   userData,
				"vendor_data": "",
				"public_keys": d.spec.SSHPublicKeys,
				"region":      region,
				"tags":        dr.Tags,
				"interfaces": map[string]any{"public": []any{map[string]any{
					"ipv4": map[string]string{"ip_address": v4, "netmask": "255.255.255.0", "gateway": l.slot.gateway4().String()},
					"ipv6": map[string]string{"ip_address": v6},
					"type": "public",
				}}},
				"dns": map[string]any{"nameservers": []string{l.slot.gateway4().String()}},
			}
			b, err := json.Marshal(doc)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(append(b, '\n'))
		case "/metadata/v1/", "/metadata/v1":
			_, _ = w.Write([]byte("id\nhostname\nuser-data\nvendor-data\npublic-keys\nregion\ntags\ninterfaces/\ndns/\n"))
		default:
			v, ok := text[strings.TrimPrefix(p, "/metadata/v1/")]
			if !ok || !strings.HasPrefix(p, "/metadata/v1/") {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			_, _ = w.Write([]byte(v))
		}
	})
}
