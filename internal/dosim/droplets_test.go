package dosim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"

	"github.com/classhub/terraform-provider-jhub/internal/testkit"
)

// recordingBackend records what the simulator asks of it.
type recordingBackend struct {
	mu        sync.Mutex
	calls     []string
	created   []MachineSpec
	createErr error
	booting   chan struct{} // closed by the test to let Create return; nil = at once
}

func (b *recordingBackend) record(call string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, call)
}

func (b *recordingBackend) Create(ctx context.Context, m MachineSpec) error {
	b.mu.Lock()
	b.created = append(b.created, m)
	b.mu.Unlock()
	b.record(fmt.Sprintf("create %d", m.ID))
	if b.booting != nil {
		select {
		case <-b.booting:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return b.createErr
}
func (b *recordingBackend) PowerOff(_ context.Context, id int) error {
	b.record(fmt.Sprintf("power_off %d", id))
	return nil
}
func (b *recordingBackend) PowerOn(_ context.Context, id int) error {
	b.record(fmt.Sprintf("power_on %d", id))
	return nil
}
func (b *recordingBackend) Reboot(_ context.Context, id int) error {
	b.record(fmt.Sprintf("reboot %d", id))
	return nil
}
func (b *recordingBackend) Destroy(_ context.Context, id int) error {
	b.record(fmt.Sprintf("destroy %d", id))
	return nil
}

func (b *recordingBackend) Calls() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls)
}

func createReq(name string) *godo.DropletCreateRequest {
	return &godo.DropletCreateRequest{
		Name: name, Region: "fra1", Size: "s-1vcpu-1gb",
		Image: godo.DropletCreateImage{Slug: "debian-12-x64"},
	}
}

func TestDropletLifecycleDefaultBackend(t *testing.T) {
	s := newSim(t, Options{ActiveAfter: 200 * time.Millisecond})
	c := client(t, s, testToken)
	start := time.Now()
	d, resp, err := c.Droplets.Create(ctx(t), createReq("hub"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted || d.Status != "new" || !d.Locked {
		t.Errorf("create: HTTP %d, status %q, locked %v; want 202, new, locked", resp.StatusCode, d.Status, d.Locked)
	}
	if len(d.Networks.V4) != 0 {
		t.Errorf("a new droplet already shows addresses: %+v", d.Networks.V4)
	}
	if len(resp.Links.Actions) != 1 || resp.Links.Actions[0].Rel != "create" || !strings.HasPrefix(resp.Links.Actions[0].HREF, s.URL()+"/v2/actions/") {
		t.Fatalf("create links = %+v", resp.Links)
	}
	a := waitAction(t, c, resp.Links.Actions[0].ID)
	if a.Status != "completed" || a.Type != "create" || a.ResourceID != d.ID || a.CompletedAt == nil {
		t.Errorf("create action = %+v", a)
	}
	if el := time.Since(start); el < 200*time.Millisecond {
		t.Errorf("droplet active after %v, ActiveAfter is 200ms", el)
	}
	got, _, err := c.Droplets.Get(ctx(t), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	ip, err := got.PublicIPv4()
	if err != nil || got.Status != "active" || got.Locked {
		t.Fatalf("droplet after create = %+v (%v)", got, err)
	}
	// 198.18.0.0 is the network and 198.18.0.1 the gateway.
	if ip != "198.18.0.2" || got.Networks.V4[0].Gateway != "198.18.0.1" || got.Networks.V4[0].Netmask != "255.254.0.0" {
		t.Errorf("first droplet address = %s via %s/%s, want 198.18.0.2 via 198.18.0.1/255.254.0.0", ip, got.Networks.V4[0].Gateway, got.Networks.V4[0].Netmask)
	}
	if got.VPCUUID == "" || got.Region.Slug != "fra1" || got.Size.Slug != "s-1vcpu-1gb" || got.Image.Slug != "debian-12-x64" || got.Memory != 1024 {
		t.Errorf("droplet = %+v", got)
	}

	resp, err = c.Droplets.Delete(ctx(t), d.ID)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete: %v (HTTP %d)", err, resp.StatusCode)
	}
	_, _, err = c.Droplets.Get(ctx(t), d.ID)
	wantStatus(t, err, http.StatusNotFound, "a deleted droplet")
	r, body := raw(t, s, http.MethodGet, fmt.Sprintf("/v2/droplets/%d", d.ID), "")
	if r.StatusCode != http.StatusNotFound || body["id"] != "not_found" {
		t.Errorf("GET after delete: %d %v", r.StatusCode, body)
	}
	_, err = c.Droplets.Delete(ctx(t), d.ID)
	wantStatus(t, err, http.StatusNotFound, "deleting twice")
}

func TestDropletBackend(t *testing.T) {
	b := &recordingBackend{}
	s := newSim(t, Options{Backend: b, IPv4Pool: netip.MustParsePrefix("198.19.10.0/24")})
	c := client(t, s, testToken)
	pub1, pub2 := testkit.NewSSHKey(t, "student@lab").AuthorizedKey, testkit.NewSSHKey(t, "student@lab").AuthorizedKey
	k1, _, err := c.Keys.Create(ctx(t), &godo.KeyCreateRequest{Name: "one", PublicKey: pub1})
	if err != nil {
		t.Fatal(err)
	}
	k2, _, err := c.Keys.Create(ctx(t), &godo.KeyCreateRequest{Name: "two", PublicKey: pub2})
	if err != nil {
		t.Fatal(err)
	}
	userData := "#cloud-config\n" + strings.Repeat("# padding with 'quotes' and \"double\" ünïcode\n", 100)
	req := createReq("hub-1")
	req.UserData = userData
	req.IPv6, req.Monitoring, req.Backups = true, true, true
	req.Tags = []string{"jhub", "class:ml"}
	req.SSHKeys = []godo.DropletCreateSSHKey{{ID: k1.ID}, {Fingerprint: k2.Fingerprint}}
	req.VPCUUID = "760e09ef-dc84-11e8-981e-3cfdfeaae000"
	d, resp, err := c.Droplets.Create(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	waitAction(t, c, resp.Links.Actions[0].ID)
	got, _, err := c.Droplets.Get(ctx(t), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	v4, _ := got.PublicIPv4()
	v6, _ := got.PublicIPv6()
	b.mu.Lock()
	specs := slices.Clone(b.created)
	b.mu.Unlock()
	if len(specs) != 1 {
		t.Fatalf("backend Create calls = %d, want 1", len(specs))
	}
	m := specs[0]
	if m.UserData != userData {
		t.Errorf("backend got user_data of %d bytes, want the exact %d sent", len(m.UserData), len(userData))
	}
	if m.ID != d.ID || m.Name != "hub-1" || m.Region != "fra1" || m.Size != "s-1vcpu-1gb" || m.Image != "debian-12-x64" {
		t.Errorf("backend spec = %+v", m)
	}
	if m.IPv4.String() != v4 || v4 != "198.19.10.2" || !m.IPv6.IsValid() || m.IPv6.String() != v6 {
		t.Errorf("backend addresses %s %s, API shows %s %s", m.IPv4, m.IPv6, v4, v6)
	}
	if !slices.Equal(m.SSHPublicKeys, []string{pub1, pub2}) || !slices.Equal(m.Tags, []string{"jhub", "class:ml"}) {
		t.Errorf("backend keys %q tags %q", m.SSHPublicKeys, m.Tags)
	}
	if got.VPCUUID != req.VPCUUID || !slices.Contains(got.Features, "monitoring") || !slices.Contains(got.Features, "ipv6") ||
		!slices.Contains(got.Features, "backups") || got.NextBackupWindow == nil || !slices.Equal(got.Tags, req.Tags) {
		t.Errorf("droplet = %+v", got)
	}
	snap, ud, ok := s.Droplet(d.ID)
	if !ok || ud != userData || snap.Name != "hub-1" {
		t.Errorf("snapshot: %v %q %d bytes of user_data", ok, snap.Name, len(ud))
	}

	act := func(what string, f func() (*godo.Action, *godo.Response, error)) *godo.Action {
		t.Helper()
		a, _, err := f()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if a.Status != "in-progress" || a.Type != what {
			t.Errorf("%s action = %+v", what, a)
		}
		done := waitAction(t, c, a.ID)
		if done.Status != "completed" {
			t.Fatalf("%s ended %s", what, done.Status)
		}
		byDroplet, _, err := c.DropletActions.Get(ctx(t), d.ID, a.ID)
		if err != nil || byDroplet.Status != "completed" {
			t.Errorf("%s via /v2/droplets/%d/actions: %+v %v", what, d.ID, byDroplet, err)
		}
		return done
	}
	statusNow := func() string {
		t.Helper()
		g, _, err := c.Droplets.Get(ctx(t), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return g.Status + " " + g.Size.Slug + " " + g.Name
	}
	_, _, err = c.DropletActions.Resize(ctx(t), d.ID, "s-2vcpu-4gb", true)
	wantStatus(t, err, http.StatusUnprocessableEntity, "resize while powered on")
	_, _, err = c.DropletActions.PowerOn(ctx(t), d.ID)
	wantStatus(t, err, http.StatusUnprocessableEntity, "power_on while on")

	act("power_off", func() (*godo.Action, *godo.Response, error) { return c.DropletActions.PowerOff(ctx(t), d.ID) })
	if st := statusNow(); st != "off s-1vcpu-1gb hub-1" {
		t.Errorf("after power_off: %s", st)
	}
	_, _, err = c.DropletActions.Shutdown(ctx(t), d.ID)
	wantStatus(t, err, http.StatusUnprocessableEntity, "shutdown while off")
	_, _, err = c.DropletActions.Resize(ctx(t), d.ID, "s-9vcpu-nope", true)
	wantStatus(t, err, http.StatusUnprocessableEntity, "resize to an unknown size")
	act("resize", func() (*godo.Action, *godo.Response, error) {
		return c.DropletActions.Resize(ctx(t), d.ID, "s-2vcpu-4gb", true)
	})
	act("power_on", func() (*godo.Action, *godo.Response, error) { return c.DropletActions.PowerOn(ctx(t), d.ID) })
	act("rename", func() (*godo.Action, *godo.Response, error) { return c.DropletActions.Rename(ctx(t), d.ID, "hub-2") })
	act("reboot", func() (*godo.Action, *godo.Response, error) { return c.DropletActions.Reboot(ctx(t), d.ID) })
	act("shutdown", func() (*godo.Action, *godo.Response, error) { return c.DropletActions.Shutdown(ctx(t), d.ID) })
	if st := statusNow(); st != "off s-2vcpu-4gb hub-2" {
		t.Errorf("after resize, rename and shutdown: %s", st)
	}
	if g, _, _ := c.Droplets.Get(ctx(t), d.ID); g.Disk != 80 || g.Memory != 4096 {
		t.Errorf("after a disk resize: disk %d memory %d, want 80 and 4096", g.Disk, g.Memory)
	}
	list, _, err := c.Droplets.Actions(ctx(t), d.ID, nil)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, a := range list {
		types = append(types, a.Type)
	}
	if want := []string{"create", "power_off", "resize", "power_on", "rename", "reboot", "shutdown"}; !slices.Equal(types, want) {
		t.Errorf("droplet actions = %q, want %q", types, want)
	}

	if _, err := c.Droplets.Delete(ctx(t), d.ID); err != nil {
		t.Fatal(err)
	}
	s.Close() // waits for the backend's Destroy
	id := fmt.Sprint(d.ID)
	want := []string{"create " + id, "power_off " + id, "power_on " + id, "reboot " + id, "power_off " + id, "destroy " + id}
	if got := b.Calls(); !slices.Equal(got, want) {
		t.Errorf("backend calls = %q, want %q", got, want)
	}
}

func TestDropletPendingEventAndBackendFailure(t *testing.T) {
	b := &recordingBackend{booting: make(chan struct{}), createErr: errors.New("container did not boot")}
	s := newSim(t, Options{Backend: b})
	c := client(t, s, testToken)
	d, resp, err := c.Droplets.Create(ctx(t), createReq("hub"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.DropletActions.PowerOff(ctx(t), d.ID)
	wantStatus(t, err, http.StatusUnprocessableEntity, "an action while the create is pending")
	close(b.booting)
	a := waitAction(t, c, resp.Links.Actions[0].ID)
	if a.Status != "errored" {
		t.Errorf("create action with a failing backend ended %q, want errored", a.Status)
	}
	got, _, err := c.Droplets.Get(ctx(t), d.ID)
	if err != nil || got.Status != "new" {
		t.Errorf("droplet after a failed boot: %+v %v", got, err)
	}
}

func TestDropletDeleteWhileBooting(t *testing.T) {
	b := &recordingBackend{booting: make(chan struct{})}
	s := newSim(t, Options{Backend: b})
	c := client(t, s, testToken)
	d, resp, err := c.Droplets.Create(ctx(t), createReq("hub"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Droplets.Delete(ctx(t), d.ID); err != nil {
		t.Fatal(err)
	}
	if a := waitAction(t, c, resp.Links.Actions[0].ID); a.Status != "errored" {
		t.Errorf("create action of a droplet deleted while booting = %s, want errored", a.Status)
	}
	s.Close()
	id := fmt.Sprint(d.ID)
	if got := b.Calls(); !slices.Equal(got, []string{"create " + id, "destroy " + id}) {
		t.Errorf("backend calls = %q", got)
	}
}

func TestDropletCreateValidation(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	limit := createReq("hub")
	limit.UserData = strings.Repeat("x", MaxUserData)
	if _, _, err := c.Droplets.Create(ctx(t), limit); err != nil {
		t.Fatalf("user_data of exactly 64 KiB: %v", err)
	}
	cases := map[string]func(r *godo.DropletCreateRequest){
		"user_data over 64 KiB": func(r *godo.DropletCreateRequest) { r.UserData = strings.Repeat("x", MaxUserData+1) },
		"unknown size":          func(r *godo.DropletCreateRequest) { r.Size = "s-64vcpu-1tb" },
		"unknown image":         func(r *godo.DropletCreateRequest) { r.Image = godo.DropletCreateImage{Slug: "windows-95"} },
		"unknown region":        func(r *godo.DropletCreateRequest) { r.Region = "mars1" },
		"unknown ssh key id":    func(r *godo.DropletCreateRequest) { r.SSHKeys = []godo.DropletCreateSSHKey{{ID: 99}} },
		"unknown fingerprint": func(r *godo.DropletCreateRequest) {
			r.SSHKeys = []godo.DropletCreateSSHKey{{Fingerprint: "3b:16:e4:bf:8b:00:8b:b8:59:8c:a9:d3:f0:19:fa:45"}}
		},
		"bad tag":      func(r *godo.DropletCreateRequest) { r.Tags = []string{"no spaces"} },
		"bad vpc_uuid": func(r *godo.DropletCreateRequest) { r.VPCUUID = "default" },
	}
	for name, mutate := range cases {
		r := createReq("hub")
		mutate(r)
		_, _, err := c.Droplets.Create(ctx(t), r)
		wantStatus(t, err, http.StatusUnprocessableEntity, name)
	}
	if n := len(s.Droplets()); n != 1 {
		t.Errorf("%d droplets exist, want only the valid one", n)
	}
	byID := createReq("by-id")
	byID.Image = godo.DropletCreateImage{ID: 160000012}
	d, _, err := c.Droplets.Create(ctx(t), byID)
	if err != nil || d.Image.Slug != "debian-12-x64" {
		t.Errorf("create by image ID: %+v %v", d, err)
	}
}

func TestDropletPaginationAndTags(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	var ids []int
	for i := range 5 {
		r := createReq(fmt.Sprintf("node-%d", i))
		if i%2 == 0 {
			r.Tags = []string{"even"}
		}
		d, _, err := c.Droplets.Create(ctx(t), r)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	// Walk the pages the way godo users do.
	var seen []int
	opt := &godo.ListOptions{Page: 1, PerPage: 2}
	for pages := 0; ; pages++ {
		list, resp, err := c.Droplets.List(ctx(t), opt)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Meta == nil || resp.Meta.Total != 5 {
			t.Fatalf("page %d: meta = %+v, want total 5", opt.Page, resp.Meta)
		}
		for _, d := range list {
			seen = append(seen, d.ID)
		}
		if resp.Links == nil || resp.Links.IsLastPage() {
			break
		}
		page, err := resp.Links.CurrentPage()
		if err != nil {
			t.Fatal(err)
		}
		if pages > 5 {
			t.Fatal("pagination does not end")
		}
		opt.Page = page + 1
	}
	if !slices.Equal(seen, ids) {
		t.Errorf("droplets across pages = %v, want %v", seen, ids)
	}

	// links.pages as DigitalOcean writes them: absolute, first/prev only
	// after page 1, next/last only before the last page.
	base := s.URL() + "/v2/droplets?"
	checkPages := func(page int, want map[string]string) {
		t.Helper()
		_, body := raw(t, s, http.MethodGet, fmt.Sprintf("/v2/droplets?page=%d&per_page=2", page), "")
		links := body["links"].(map[string]any)
		pages, _ := links["pages"].(map[string]any)
		if len(pages) != len(want) {
			t.Errorf("page %d: links.pages = %v, want %v", page, pages, want)
		}
		for k, v := range want {
			if pages[k] != base+v {
				t.Errorf("page %d: links.pages.%s = %v, want %s", page, k, pages[k], base+v)
			}
		}
		if n := len(body["droplets"].([]any)); (page < 3 && n != 2) || (page == 3 && n != 1) {
			t.Errorf("page %d holds %d droplets", page, n)
		}
	}
	checkPages(1, map[string]string{"next": "page=2&per_page=2", "last": "page=3&per_page=2"})
	checkPages(2, map[string]string{"first": "page=1&per_page=2", "prev": "page=1&per_page=2", "next": "page=3&per_page=2", "last": "page=3&per_page=2"})
	checkPages(3, map[string]string{"first": "page=1&per_page=2", "prev": "page=2&per_page=2"})

	even, resp, err := c.Droplets.ListByTag(ctx(t), "even", &godo.ListOptions{PerPage: 1, Page: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(even) != 1 || even[0].ID != ids[2] || resp.Meta.Total != 3 {
		t.Errorf("tag_name=even page 2 of 1 = %+v (total %d), want droplet %d of 3", even, resp.Meta.Total, ids[2])
	}
	if next := resp.Links.Pages.Next; !strings.Contains(next, "tag_name=even") {
		t.Errorf("next link %q drops the tag_name filter", next)
	}
	byName, _, err := c.Droplets.ListByName(ctx(t), "node-3", nil)
	if err != nil || len(byName) != 1 || byName[0].ID != ids[3] {
		t.Errorf("name=node-3: %+v %v", byName, err)
	}
}

// Resizes keep or grow the disk, never shrink it: after a disk resize the
// droplet cannot go back to a size with a smaller disk, while a CPU-and-memory
// resize can be undone.
func TestDropletResizeDisk(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	d, resp, err := c.Droplets.Create(ctx(t), createReq("hub")) // s-1vcpu-1gb, 25 GB
	if err != nil {
		t.Fatal(err)
	}
	waitAction(t, c, resp.Links.Actions[0].ID)
	do := func(what string, f func() (*godo.Action, *godo.Response, error)) {
		t.Helper()
		a, _, err := f()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if done := waitAction(t, c, a.ID); done.Status != "completed" {
			t.Fatalf("%s ended %s", what, done.Status)
		}
	}
	disk := func() int {
		t.Helper()
		g, _, err := c.Droplets.Get(ctx(t), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return g.Disk
	}
	do("power_off", func() (*godo.Action, *godo.Response, error) { return c.DropletActions.PowerOff(ctx(t), d.ID) })
	do("resize up, CPU and memory", func() (*godo.Action, *godo.Response, error) {
		return c.DropletActions.Resize(ctx(t), d.ID, "s-2vcpu-4gb", false)
	})
	if got := disk(); got != 25 {
		t.Errorf("disk after a CPU-and-memory resize = %d GB, want the 25 GB it had", got)
	}
	do("resize back down", func() (*godo.Action, *godo.Response, error) {
		return c.DropletActions.Resize(ctx(t), d.ID, "s-1vcpu-1gb", false)
	})
	_, _, err = c.DropletActions.Resize(ctx(t), d.ID, "s-1vcpu-512mb-10gb", false)
	wantStatus(t, err, http.StatusUnprocessableEntity, "a size whose disk is smaller than the droplet's")
	do("resize up with the disk", func() (*godo.Action, *godo.Response, error) {
		return c.DropletActions.Resize(ctx(t), d.ID, "s-2vcpu-4gb", true)
	})
	if got := disk(); got != 80 {
		t.Errorf("disk after a disk resize = %d GB, want 80", got)
	}
	_, _, err = c.DropletActions.Resize(ctx(t), d.ID, "s-1vcpu-1gb", false)
	wantStatus(t, err, http.StatusUnprocessableEntity, "shrinking below a grown disk")
}

// IPv6 and backups change on a running droplet through actions; IPv6, once
// on, stays on.
func TestDropletEnableIPv6AndBackups(t *testing.T) {
	s := newSim(t, Options{ActiveAfter: 100 * time.Millisecond})
	c := client(t, s, testToken)
	d, resp, err := c.Droplets.Create(ctx(t), createReq("hub"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = c.DropletActions.EnableIPv6(ctx(t), d.ID)
	wantStatus(t, err, http.StatusUnprocessableEntity, "enable_ipv6 while the droplet is being created")
	waitAction(t, c, resp.Links.Actions[0].ID)
	get := func() *godo.Droplet {
		t.Helper()
		g, _, err := c.Droplets.Get(ctx(t), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	if g := get(); slices.Contains(g.Features, "ipv6") || len(g.Networks.V6) != 0 {
		t.Fatalf("droplet created without ipv6 has it: %+v", g.Networks)
	}
	for _, step := range []struct {
		name string
		f    func() (*godo.Action, *godo.Response, error)
	}{
		{"enable_ipv6", func() (*godo.Action, *godo.Response, error) { return c.DropletActions.EnableIPv6(ctx(t), d.ID) }},
		{"enable_backups", func() (*godo.Action, *godo.Response, error) { return c.DropletActions.EnableBackups(ctx(t), d.ID) }},
	} {
		a, _, err := step.f()
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if done := waitAction(t, c, a.ID); done.Status != "completed" || done.Type != step.name {
			t.Fatalf("%s: %+v", step.name, done)
		}
	}
	g := get()
	v6, err := g.PublicIPv6()
	if err != nil || !strings.HasPrefix(v6, "2001:db8:d0::") || !slices.Contains(g.Features, "ipv6") {
		t.Errorf("after enable_ipv6: address %q (%v), features %q", v6, err, g.Features)
	}
	if !slices.Contains(g.Features, "backups") || g.NextBackupWindow == nil {
		t.Errorf("after enable_backups: features %q, next window %v", g.Features, g.NextBackupWindow)
	}
	_, _, err = c.DropletActions.EnableIPv6(ctx(t), d.ID)
	wantStatus(t, err, http.StatusUnprocessableEntity, "enable_ipv6 twice")
	a, _, err := c.DropletActions.DisableBackups(ctx(t), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	waitAction(t, c, a.ID)
	if g := get(); slices.Contains(g.Features, "backups") || g.NextBackupWindow != nil {
		t.Errorf("after disable_backups: features %q, next window %v", g.Features, g.NextBackupWindow)
	}
}

func TestTags(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	r := createReq("hub")
	r.Tags = []string{"cs101"}
	d, _, err := c.Droplets.Create(ctx(t), r)
	if err != nil {
		t.Fatal(err)
	}
	dropletURI := fmt.Sprintf("%s/v2/droplets/%d", s.URL(), d.ID)
	// A tag a droplet was created with exists in the account.
	tg, _, err := c.Tags.Get(ctx(t), "cs101")
	if err != nil || tg.Resources.Count != 1 || tg.Resources.Droplets.Count != 1 || tg.Resources.Droplets.LastTaggedURI != dropletURI {
		t.Fatalf("tag from create: %+v %v", tg, err)
	}
	_, err = c.Tags.TagResources(ctx(t), "fall", &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: fmt.Sprint(d.ID), Type: godo.DropletResourceType}}})
	wantStatus(t, err, http.StatusNotFound, "tagging with a tag that does not exist")
	for range 2 { // creating an existing tag answers it
		if tg, resp, err := c.Tags.Create(ctx(t), &godo.TagCreateRequest{Name: "fall"}); err != nil || resp.StatusCode != http.StatusCreated || tg.Name != "fall" {
			t.Fatalf("create tag: %+v %v", tg, err)
		}
	}
	res := &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: fmt.Sprint(d.ID), Type: godo.DropletResourceType}}}
	for range 2 { // tagging twice tags once
		if _, err := c.Tags.TagResources(ctx(t), "fall", res); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.Tags.TagResources(ctx(t), "fall", &godo.TagResourcesRequest{Resources: []godo.Resource{{ID: "1", Type: godo.DropletResourceType}}})
	wantStatus(t, err, http.StatusUnprocessableEntity, "tagging a droplet that does not exist")
	if _, err := c.Tags.UntagResources(ctx(t), "cs101", &godo.UntagResourcesRequest{Resources: res.Resources}); err != nil {
		t.Fatal(err)
	}
	if g, _, _ := c.Droplets.Get(ctx(t), d.ID); !slices.Equal(g.Tags, []string{"fall"}) {
		t.Errorf("droplet tags after tag fall, untag cs101 = %q", g.Tags)
	}
	if tg, _, _ := c.Tags.Get(ctx(t), "cs101"); tg.Resources.Count != 0 || tg.Resources.LastTaggedURI != "" {
		t.Errorf("an untagged tag still counts: %+v", tg.Resources)
	}
	list, _, err := c.Tags.List(ctx(t), nil)
	if err != nil || len(list) != 2 || list[0].Name != "cs101" || list[1].Name != "fall" {
		t.Errorf("tags = %+v %v", list, err)
	}
	if _, err := c.Tags.Delete(ctx(t), "fall"); err != nil {
		t.Fatal(err)
	}
	if g, _, _ := c.Droplets.Get(ctx(t), d.ID); len(g.Tags) != 0 {
		t.Errorf("deleting a tag leaves it on the droplet: %q", g.Tags)
	}
	_, _, err = c.Tags.Get(ctx(t), "fall")
	wantStatus(t, err, http.StatusNotFound, "a deleted tag")
}

func TestSizes(t *testing.T) {
	s := newSim(t, Options{})
	c := client(t, s, testToken)
	list, _, err := c.Sizes.List(ctx(t), &godo.ListOptions{PerPage: 200})
	if err != nil {
		t.Fatal(err)
	}
	var small *godo.Size
	for i := range list {
		if list[i].Slug == "s-1vcpu-1gb" {
			small = &list[i]
		}
	}
	if len(list) < 5 || small == nil || small.Memory != 1024 || small.Vcpus != 1 || small.Disk != 25 || !small.Available || !slices.Contains(small.Regions, "fra1") {
		t.Errorf("sizes = %+v", list)
	}
}
