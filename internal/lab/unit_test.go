package lab

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitalocean/godo"
	"golang.org/x/oauth2"

	"github.com/classhub/terraform-provider-jhub/internal/dosim"
)

// These tests need neither root nor the image.

func TestNames(t *testing.T) {
	s := slot(3)
	for _, n := range []string{s.bridge(), s.netns(510000001), s.veth(12)} {
		if got, ok := slotOf(n); !ok || got != s {
			t.Errorf("slotOf(%q) = %d, %v; want 3", n, got, ok)
		}
		if len(n) > 15 && n != s.netns(510000001) {
			t.Errorf("interface name %q longer than IFNAMSIZ-1", n)
		}
	}
	// Nothing that is not the lab's may ever match.
	for _, n := range []string{"eth0", "jhub", "jhubx", "jhub3x", "jhub99", "docker0", "jhub3-", "xjhub3"} {
		if _, ok := slotOf(n); ok {
			t.Errorf("slotOf(%q) matched a foreign name", n)
		}
	}
	if !chainRE.MatchString(s.chain("FWD")) || chainRE.MatchString("FORWARD") || chainRE.MatchString("DOCKER-USER") {
		t.Error("chain pattern wrong")
	}
	if got := s.subnet4().String(); got != "198.19.3.0/24" {
		t.Errorf("subnet4 %s", got)
	}
	if got := s.gateway4().String(); got != "198.19.3.1" {
		t.Errorf("gateway4 %s", got)
	}
	if !netip.MustParsePrefix("198.18.0.0/15").Contains(s.gateway4()) {
		t.Error("lab addresses must come from 198.18.0.0/15")
	}
	if s.subnet4().Overlaps(netip.MustParsePrefix("192.0.2.0/24")) {
		t.Error("lab subnet overlaps the machine's own network")
	}
}

func TestAptSources(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "debian.sources"), []byte(`Types: deb
# a comment: with a colon
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://security.invalid/debian-security http://second.invalid/
Suites: bookworm-security
Components: main
`), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := aptSources(filepath.Join(dir, "*.sources"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"bookworm":          "http://mirror.invalid/debian",
		"bookworm-updates":  "http://mirror.invalid/debian",
		"bookworm-security": "http://security.invalid/debian-security",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	if _, err := aptMirror(map[string]string{"bookworm": "http://x.invalid/debian"}, "bookworm", t.TempDir()); err == nil || !strings.Contains(err.Error(), "trixie-security") {
		t.Errorf("missing security suite: %v", err)
	}
}

// TestAptMirror: the droplet-facing paths map onto the host's archive URIs,
// with the archive's own Host header; a source for the image's own suite
// wins over the host release's.
func TestAptMirror(t *testing.T) {
	var seen []string
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Host+" "+r.URL.Path)
		_, _ = io.WriteString(w, "index") // a failed write fails the client's checks
	}))
	defer up.Close()
	h, err := aptMirror(map[string]string{
		"bookworm": "http://not-this.invalid/debian", "trixie": up.URL + "/debian",
		"bookworm-security": up.URL + "/debian-security/",
	}, "bookworm", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(h)
	defer front.Close()
	for _, p := range []string{"/debian/dists/trixie/InRelease", "/debian-security/dists/trixie-security/InRelease"} {
		resp, err := http.Get(front.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != "index" {
			t.Errorf("%s: %d %q", p, resp.StatusCode, b)
		}
	}
	host := strings.TrimPrefix(up.URL, "http://")
	want := []string{host + " /debian/dists/trixie/InRelease", host + " /debian-security/dists/trixie-security/InRelease"}
	if strings.Join(seen, "|") != strings.Join(want, "|") {
		t.Errorf("upstream saw %q, want %q", seen, want)
	}
}

// TestMetadataHandler serves the metadata API from a real simulator: the
// droplet is found by the request's source address.
func TestMetadataHandler(t *testing.T) {
	sim, err := dosim.New(dosim.Options{IPv4Pool: slot(0).subnet4()})
	if err != nil {
		t.Fatal(err)
	}
	url, err := sim.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	hc := oauth2.NewClient(context.Background(), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: sim.Token()}))
	c, _ := godo.New(hc, godo.SetBaseURL(url))
	d, _, err := c.Droplets.Create(context.Background(), &godo.DropletCreateRequest{
		Name: "hub", Region: "fra1", Size: "s-1vcpu-1gb", Image: godo.DropletCreateImage{Slug: ImageSlug},
		UserData: "#cloud-config\n{}\n", Tags: []string{"class"},
	})
	if err != nil {
		t.Fatal(err)
	}
	// The droplet has its address once it is active (the create action
	// ends), which a busy machine may take a moment to get to.
	var ip string
	for end := time.Now().Add(30 * time.Second); ip == "" && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		got, _, _ := sim.Droplet(d.ID)
		ip, _ = got.PublicIPv4()
	}
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		t.Fatalf("droplet %d has no public address after 30 s: %v", d.ID, err)
	}
	l := &Lab{sim: sim, droplets: map[int]*droplet{}, byIP: map[netip.Addr]int{}}
	l.droplets[d.ID] = &droplet{spec: dosim.MachineSpec{ID: d.ID, Name: "hub", IPv4: addr, SSHPublicKeys: []string{"ssh-ed25519 AAAA test"}}}
	l.byIP[addr] = d.ID
	h := l.metadataHandler()
	get := func(from, path string) (int, string) {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = from + ":40000"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code, w.Body.String()
	}
	for path, want := range map[string]string{
		"/metadata/v1/id":                               strconv.Itoa(d.ID),
		"/metadata/v1/hostname":                         "hub",
		"/metadata/v1/user-data":                        "#cloud-config\n{}\n",
		"/metadata/v1/public-keys":                      "ssh-ed25519 AAAA test",
		"/metadata/v1/tags":                             "class",
		"/metadata/v1/interfaces/public/0/ipv4/address": ip,
	} {
		if code, body := get(ip, path); code != 200 || body != want {
			t.Errorf("%s: %d %q, want %q", path, code, body, want)
		}
	}
	code, body := get(ip, "/metadata/v1.json")
	var doc struct {
		ID       int    `json:"droplet_id"`
		UserData string `json:"user_data"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &doc) != nil || doc.ID != d.ID || doc.UserData != "#cloud-config\n{}\n" {
		t.Errorf("v1.json: %d %s", code, body)
	}
	if code, _ := get("198.19.0.250", "/metadata/v1/user-data"); code != 404 {
		t.Errorf("unknown source address got %d, want 404", code)
	}
	if code, _ := get(ip, "/metadata/v1/nothing"); code != 404 {
		t.Errorf("unknown path got %d", code)
	}
}

// TestArchiveCache: a content-addressed index and a package are fetched once
// and then served from disk; a body that does not match its name, or that
// arrives cut short, is never cached.
func TestArchiveCache(t *testing.T) {
	good := "Package: ufw\n"
	sum := sha256.Sum256([]byte(good))
	goodPath := "/debian/dists/trixie/main/binary-amd64/by-hash/SHA256/" + hex.EncodeToString(sum[:])
	badPath := "/debian/dists/trixie/main/binary-amd64/by-hash/SHA256/" + strings.Repeat("0", 64)
	debPath := "/debian/pool/main/u/ufw/ufw_0.36.2-9_all.deb"
	cutPath := "/debian/pool/main/c/cut/cut_1_all.deb"
	hits := map[string]int{}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits[r.URL.Path]++
		if r.URL.Path == cutPath {
			// Announces more than it sends: the connection breaks.
			w.Header().Set("Content-Length", strconv.Itoa(len(good)+10))
		}
		_, _ = io.WriteString(w, good) // a failed write fails the client's checks
	}))
	defer up.Close()
	h, err := aptMirror(map[string]string{"bookworm": up.URL + "/debian", "bookworm-security": up.URL + "/debian-security"}, "bookworm", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(h)
	defer front.Close()
	for range 3 {
		for _, p := range []string{goodPath, badPath, debPath, cutPath} {
			resp, err := http.Get(front.URL + p)
			if p == cutPath {
				if err == nil {
					resp.Body.Close()
				}
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != good {
				t.Fatalf("%s: %d %q", p, resp.StatusCode, b)
			}
		}
	}
	if hits[goodPath] != 1 || hits[debPath] != 1 || hits[badPath] != 3 || hits[cutPath] < 3 {
		t.Errorf("upstream hits %v: want the matching index and the package fetched once, the mismatching and the cut one every time", hits)
	}
}
