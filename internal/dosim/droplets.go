package dosim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/digitalocean/godo"
)

type droplet struct {
	id                           int
	name, region, size, userData string
	image                        wireImage
	disk                         int
	status                       string
	created                      time.Time
	ipv4, ipv6                   netip.Addr
	tags                         []string
	backups, monitoring          bool
	vpc                          string
	sshKeys                      []string
	hidden                       int     // GETs left that answer 404 (NotFoundAfterCreate)
	busy                         *action // the action in progress, if any

	ctx    context.Context // ends when the droplet is deleted
	cancel context.CancelFunc
	op     sync.Mutex // one backend operation at a time
}

type action struct {
	id         int
	status     string
	typ        string
	started    time.Time
	completed  time.Time
	resourceID int    // the droplet, for droplet actions
	volume     string // the volume, for volume actions
	region     string
}

type wireNetworkV4 struct {
	IPAddress string `json:"ip_address"`
	Netmask   string `json:"netmask"`
	Gateway   string `json:"gateway"`
	Type      string `json:"type"`
}

type wireNetworkV6 struct {
	IPAddress string `json:"ip_address"`
	Netmask   int    `json:"netmask"`
	Gateway   string `json:"gateway"`
	Type      string `json:"type"`
}

type wireNetworks struct {
	V4 []wireNetworkV4 `json:"v4"`
	V6 []wireNetworkV6 `json:"v6"`
}

type wireWindow struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

type wireDroplet struct {
	ID               int          `json:"id"`
	Name             string       `json:"name"`
	Memory           int          `json:"memory"`
	Vcpus            int          `json:"vcpus"`
	Disk             int          `json:"disk"`
	Locked           bool         `json:"locked"`
	Status           string       `json:"status"`
	Kernel           *struct{}    `json:"kernel"` // null: droplets use internal kernels
	CreatedAt        string       `json:"created_at"`
	Features         []string     `json:"features"`
	BackupIDs        []int        `json:"backup_ids"`
	NextBackupWindow *wireWindow  `json:"next_backup_window"`
	SnapshotIDs      []int        `json:"snapshot_ids"`
	Image            wireImage    `json:"image"`
	VolumeIDs        []string     `json:"volume_ids"`
	Size             wireSize     `json:"size"`
	SizeSlug         string       `json:"size_slug"`
	Networks         wireNetworks `json:"networks"`
	Region           wireRegion   `json:"region"`
	Tags             []string     `json:"tags"`
	VPCUUID          string       `json:"vpc_uuid"`
}

type wireAction struct {
	ID           int        `json:"id"`
	Status       string     `json:"status"`
	Type         string     `json:"type"`
	StartedAt    string     `json:"started_at"`
	CompletedAt  *string    `json:"completed_at"`
	ResourceID   *int       `json:"resource_id"`
	ResourceType string     `json:"resource_type"`
	Region       wireRegion `json:"region"`
	RegionSlug   string     `json:"region_slug"`
}

func (a *action) wire() wireAction {
	reg, _ := findRegion(a.region)
	w := wireAction{
		ID: a.id, Status: a.status, Type: a.typ, StartedAt: a.started.UTC().Format(time.RFC3339),
		ResourceID: &a.resourceID, ResourceType: "droplet", Region: reg, RegionSlug: a.region,
	}
	// A volume action names no numeric resource (volume IDs are UUIDs).
	if a.volume != "" {
		w.ResourceID, w.ResourceType = nil, "volume"
	}
	if !a.completed.IsZero() {
		c := a.completed.UTC().Format(time.RFC3339)
		w.CompletedAt = &c
	}
	return w
}

func (s *Server) features(d *droplet) []string {
	f := []string{"private_networking"}
	if d.backups {
		f = append(f, "backups")
	}
	if d.ipv6.IsValid() {
		f = append(f, "ipv6")
	}
	if d.monitoring {
		f = append(f, "monitoring")
	}
	return f
}

// wire renders a droplet; the caller holds s.mu. Like DigitalOcean, a
// droplet shows its addresses once it has booted.
func (s *Server) wire(d *droplet) wireDroplet {
	size, _ := findSize(d.size)
	reg, _ := findRegion(d.region)
	w := wireDroplet{
		ID: d.id, Name: d.name, Memory: size.Memory, Vcpus: size.Vcpus, Disk: d.disk,
		Locked: d.busy != nil, Status: d.status, CreatedAt: d.created.UTC().Format(time.RFC3339),
		Features: s.features(d), BackupIDs: []int{}, SnapshotIDs: []int{}, Image: d.image,
		VolumeIDs: s.volumeIDsLocked(d.id), Size: size, SizeSlug: d.size, Region: reg,
		Tags: append([]string{}, d.tags...), VPCUUID: d.vpc,
		Networks: wireNetworks{V4: []wireNetworkV4{}, V6: []wireNetworkV6{}},
	}
	if d.backups {
		start := d.created.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
		w.NextBackupWindow = &wireWindow{Start: start.Format(time.RFC3339), End: start.Add(4 * time.Hour).Format(time.RFC3339)}
	}
	if d.status != "new" {
		p := s.opts.IPv4Pool.Masked()
		mask := netip.MustParseAddr("255.255.255.255").AsSlice()
		for i := range mask {
			bits := min(max(p.Bits()-8*i, 0), 8)
			mask[i] = byte(0xff << (8 - bits))
		}
		m, _ := netip.AddrFromSlice(mask)
		w.Networks.V4 = append(w.Networks.V4, wireNetworkV4{
			IPAddress: d.ipv4.String(), Netmask: m.String(), Gateway: p.Addr().Next().String(), Type: "public",
		})
		if d.ipv6.IsValid() {
			p6 := s.opts.IPv6Pool.Masked()
			w.Networks.V6 = append(w.Networks.V6, wireNetworkV6{
				IPAddress: d.ipv6.String(), Netmask: p6.Bits(), Gateway: p6.Addr().Next().String(), Type: "public",
			})
		}
	}
	return w
}

// createRequest is the single-droplet create body: godo's request type
// marshals image and ssh_keys as strings or numbers, so they are raw here.
type createRequest struct {
	Name       string            `json:"name"`
	Names      []string          `json:"names"`
	Region     string            `json:"region"`
	Size       string            `json:"size"`
	Image      json.RawMessage   `json:"image"`
	SSHKeys    []json.RawMessage `json:"ssh_keys"`
	Backups    bool              `json:"backups"`
	IPv6       bool              `json:"ipv6"`
	Monitoring bool              `json:"monitoring"`
	UserData   string            `json:"user_data"`
	Tags       []string          `json:"tags"`
	VPCUUID    string            `json:"vpc_uuid"`
}

var (
	dropletName = regexp.MustCompile(`^[a-zA-Z0-9]?[a-z0-9A-Z.\-]*[a-z0-9A-Z]$`)
	tagName     = regexp.MustCompile(`^[a-zA-Z0-9_\-:]{1,255}$`)
	uuidRE      = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// defaultVPC is the account's default VPC in a region (stable per region).
func defaultVPC(region string) string {
	h := uint32(2166136261)
	for _, c := range region {
		h = (h ^ uint32(c)) * 16777619
	}
	return fmt.Sprintf("%08x-d051-4000-8000-%012x", h, h)
}

func (s *Server) allocLocked(pool netip.Prefix, next *netip.Addr) (netip.Addr, error) {
	a := *next
	// The last address of an IPv4 pool is its broadcast address.
	if !pool.Contains(a) || (a.Is4() && !pool.Contains(a.Next())) {
		return netip.Addr{}, unprocessable("The address pool %s is exhausted (Options.IPv4Pool / IPv6Pool)", pool)
	}
	*next = a.Next()
	return a, nil
}

func (s *Server) createDroplet(r *http.Request) (int, any, error) {
	var req createRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if len(req.Names) > 0 {
		return 0, nil, unprocessable("Creating several droplets at once (names) is not simulated; send one name")
	}
	if req.Name == "" || len(req.Name) > 255 || !dropletName.MatchString(req.Name) {
		return 0, nil, unprocessable("Name is invalid: %q (letters, digits, '.' and '-', at most 255)", req.Name)
	}
	if _, ok := findSize(req.Size); !ok {
		return 0, nil, unprocessable("You specified an invalid size for Droplet creation: %q", req.Size)
	}
	var imgSlug string
	var imgID int
	if json.Unmarshal(req.Image, &imgSlug) != nil && json.Unmarshal(req.Image, &imgID) != nil {
		return 0, nil, unprocessable("You specified an invalid image for Droplet creation: %s", req.Image)
	}
	img, ok := findImage(imgSlug, imgID)
	if !ok {
		return 0, nil, unprocessable("You specified an invalid image for Droplet creation: %s", req.Image)
	}
	if req.Region == "" {
		req.Region = defaultRegion
	}
	if _, ok := findRegion(req.Region); !ok {
		return 0, nil, unprocessable("You specified an invalid region for Droplet creation: %q", req.Region)
	}
	if len(req.UserData) > MaxUserData {
		return 0, nil, unprocessable("user_data is %d bytes; it may not exceed 64 KiB (%d bytes)", len(req.UserData), MaxUserData)
	}
	if req.VPCUUID == "" {
		req.VPCUUID = defaultVPC(req.Region)
	} else if !uuidRE.MatchString(req.VPCUUID) {
		return 0, nil, unprocessable("vpc_uuid %q is not a VPC UUID", req.VPCUUID)
	}
	size, _ := findSize(req.Size)

	s.mu.Lock()
	defer s.mu.Unlock()
	// Tags a droplet is created with are created in the account too.
	for _, t := range req.Tags {
		if !tagName.MatchString(t) {
			return 0, nil, unprocessable("Tag %q is invalid: use letters, digits, ':', '-' and '_', at most 255", t)
		}
	}
	var keys []string
	for _, raw := range req.SSHKeys {
		var ident string
		if err := json.Unmarshal(raw, &ident); err != nil {
			var id int
			if err := json.Unmarshal(raw, &id); err != nil {
				return 0, nil, unprocessable("ssh_keys: %s is neither a key ID nor a fingerprint", raw)
			}
			ident = strconv.Itoa(id)
		}
		k := s.findKey(ident)
		if k == nil {
			return 0, nil, unprocessable("ssh_keys: no SSH key %s in the account; add it first", ident)
		}
		keys = append(keys, k.PublicKey)
	}
	v4, err := s.allocLocked(s.opts.IPv4Pool, &s.ipv4Next)
	if err != nil {
		return 0, nil, err
	}
	var v6 netip.Addr
	if req.IPv6 {
		if v6, err = s.allocLocked(s.opts.IPv6Pool, &s.ipv6Next); err != nil {
			return 0, nil, err
		}
	}
	d := &droplet{
		id: s.next("droplet", 510_000_000), name: req.Name, region: req.Region, size: req.Size, image: img,
		disk: size.Disk, userData: req.UserData, status: "new", created: time.Now(), ipv4: v4, ipv6: v6,
		tags: append([]string{}, req.Tags...), backups: req.Backups, monitoring: req.Monitoring,
		vpc: req.VPCUUID, sshKeys: keys, hidden: s.faults.notFoundCount(),
	}
	d.ctx, d.cancel = context.WithCancel(s.ctx)
	s.droplets[d.id] = d
	for _, name := range d.tags {
		t, _ := s.ensureTagLocked(name) // validated above
		t.lastTagged = d.id
	}
	spec := MachineSpec{
		ID: d.id, Name: d.name, Region: d.region, Size: d.size, Image: img.Slug, UserData: d.userData,
		IPv4: v4, IPv6: v6, Tags: slices.Clone(d.tags), SSHPublicKeys: slices.Clone(keys),
	}
	a := s.startLocked(d, "create", func(ctx context.Context) error { return s.backend.Create(ctx, spec) },
		func() { d.status = "active" })
	links := godo.Links{Actions: []godo.LinkAction{{ID: a.id, Rel: "create", HREF: s.baseURL(r) + "/v2/actions/" + strconv.Itoa(a.id)}}}
	return http.StatusAccepted, map[string]any{"droplet": s.wire(d), "links": links}, nil
}

func (s *Server) baseURL(r *http.Request) string { return "http://" + r.Host }

// startLocked records an in-progress action on d and runs op in the
// background; done applies its effect once op succeeds. The caller holds s.mu.
func (s *Server) startLocked(d *droplet, typ string, op func(context.Context) error, done func()) *action {
	a := &action{id: s.next("action", 2_900_000_000), status: "in-progress", typ: typ, started: time.Now(), resourceID: d.id, region: d.region}
	s.actions[a.id] = a
	d.busy = a
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		fail, slow := s.faults.actionFaultOf(typ)
		d.op.Lock()
		err := sleepBackend{d: slow}.wait(d.ctx)
		if err == nil && fail {
			err = errors.New("injected fault (FailActions)")
		}
		if err == nil {
			err = op(d.ctx)
		}
		d.op.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		a.completed = time.Now()
		if d.busy == a {
			d.busy = nil
		}
		if err != nil {
			a.status = "errored"
			s.opts.Logf("dosim: droplet %d: action %s %d errored: %v", d.id, typ, a.id, err)
			return
		}
		a.status = "completed"
		done()
	}()
	return a
}

func (s *Server) dropletLocked(r *http.Request) (*droplet, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return nil, err
	}
	d, ok := s.droplets[id]
	if !ok {
		return nil, notFound()
	}
	return d, nil
}

func (s *Server) getDroplet(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.dropletLocked(r)
	if err != nil {
		return 0, nil, err
	}
	if d.hidden > 0 {
		d.hidden--
		return 0, nil, notFound()
	}
	return http.StatusOK, map[string]any{"droplet": s.wire(d)}, nil
}

func (s *Server) sortedDroplets() []*droplet {
	out := make([]*droplet, 0, len(s.droplets))
	for _, d := range s.droplets {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *droplet) int { return a.id - b.id })
	return out
}

func (s *Server) listDroplets(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	tag, name := q.Get("tag_name"), q.Get("name")
	s.mu.Lock()
	var all []wireDroplet
	for _, d := range s.sortedDroplets() {
		if (tag == "" || slices.Contains(d.tags, tag)) && (name == "" || d.name == name) {
			all = append(all, s.wire(d))
		}
	}
	s.mu.Unlock()
	page, links, m := paginate(r, all)
	return http.StatusOK, map[string]any{"droplets": page, "links": links, "meta": m}, nil
}

func (s *Server) deleteDroplet(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.dropletLocked(r)
	if err != nil {
		return 0, nil, err
	}
	delete(s.droplets, d.id)
	s.detachAllLocked(d.id)
	d.cancel()
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		d.op.Lock() // the operation in flight returns once d.ctx ends
		defer d.op.Unlock()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), time.Minute)
		defer cancel()
		if err := s.backend.Destroy(ctx, d.id); err != nil {
			s.opts.Logf("dosim: destroy droplet %d: %v", d.id, err)
		}
	}()
	return http.StatusNoContent, nil, nil
}

// actionRequest is the union of the droplet action bodies simulated.
type actionRequest struct {
	Type string `json:"type"`
	Size string `json:"size"`
	Disk bool   `json:"disk"`
	Name string `json:"name"`
}

func (s *Server) postDropletAction(r *http.Request) (int, any, error) {
	var req actionRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, err := s.dropletLocked(r)
	if err != nil {
		return 0, nil, err
	}
	if d.busy != nil || d.status == "new" {
		return 0, nil, unprocessable("Droplet already has a pending event.")
	}
	wait := sleepBackend{d: s.opts.ActiveAfter}.wait
	var op func(context.Context) error
	var done func()
	switch req.Type {
	case "power_off", "shutdown":
		if d.status == "off" {
			return 0, nil, unprocessable("Droplet is already powered off.")
		}
		op = func(ctx context.Context) error { return s.backend.PowerOff(ctx, d.id) }
		done = func() { d.status = "off" }
	case "power_on":
		if d.status == "active" {
			return 0, nil, unprocessable("Droplet is already powered on.")
		}
		op = func(ctx context.Context) error { return s.backend.PowerOn(ctx, d.id) }
		done = func() { d.status = "active" }
	case "reboot", "power_cycle":
		op = func(ctx context.Context) error { return s.backend.Reboot(ctx, d.id) }
		done = func() { d.status = "active" }
	case "resize":
		size, ok := findSize(req.Size)
		if !ok {
			return 0, nil, unprocessable("You specified an invalid size for Droplet resize: %q", req.Size)
		}
		if d.status != "off" {
			return 0, nil, unprocessable("Droplet is currently on. Please power it off to run this event.")
		}
		// A droplet keeps its disk through a CPU-and-memory resize, and a
		// disk never shrinks: the new size must hold the disk it has.
		if size.Disk < d.disk {
			return 0, nil, unprocessable("The droplet's disk (%d GB) is larger than size %s allows (%d GB); disks cannot shrink", d.disk, req.Size, size.Disk)
		}
		op = wait
		done = func() {
			d.size = req.Size
			if req.Disk {
				d.disk = size.Disk
			}
		}
	case "rename":
		if req.Name == "" || len(req.Name) > 255 || !dropletName.MatchString(req.Name) {
			return 0, nil, unprocessable("Name is invalid: %q (letters, digits, '.' and '-', at most 255)", req.Name)
		}
		op = wait
		done = func() { d.name = req.Name }
	case "enable_backups", "disable_backups":
		op = wait
		done = func() { d.backups = req.Type == "enable_backups" }
	case "enable_ipv6":
		// Once on, IPv6 cannot be turned off (there is no disable_ipv6).
		if d.ipv6.IsValid() {
			return 0, nil, unprocessable("IPv6 is already enabled on this Droplet.")
		}
		v6, err := s.allocLocked(s.opts.IPv6Pool, &s.ipv6Next)
		if err != nil {
			return 0, nil, err
		}
		op = wait
		done = func() { d.ipv6 = v6 }
	default:
		return 0, nil, unprocessable("Droplet action %q is not simulated (power_off, shutdown, power_on, reboot, power_cycle, resize, rename, enable_backups, disable_backups, enable_ipv6)", req.Type)
	}
	a := s.startLocked(d, req.Type, op, done)
	return http.StatusCreated, map[string]any{"action": a.wire()}, nil
}

func (s *Server) sortedActions(resourceID int) []wireAction {
	out := []wireAction{}
	for _, a := range s.actions {
		if resourceID == 0 || (a.volume == "" && a.resourceID == resourceID) {
			out = append(out, a.wire())
		}
	}
	slices.SortFunc(out, func(a, b wireAction) int { return a.ID - b.ID })
	return out
}

func (s *Server) listActions(r *http.Request) (int, any, error) {
	s.mu.Lock()
	all := s.sortedActions(0)
	s.mu.Unlock()
	page, links, m := paginate(r, all)
	return http.StatusOK, map[string]any{"actions": page, "links": links, "meta": m}, nil
}

func (s *Server) listDropletActions(r *http.Request) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	_, exists := s.droplets[id]
	all := s.sortedActions(id)
	s.mu.Unlock()
	if !exists {
		return 0, nil, notFound()
	}
	page, links, m := paginate(r, all)
	return http.StatusOK, map[string]any{"actions": page, "links": links, "meta": m}, nil
}

// actionLocked finds an action; droplet, when not 0, must be its resource.
func (s *Server) actionLocked(r *http.Request, droplet int) (*action, error) {
	id, err := pathInt(r, "action")
	if err != nil {
		return nil, err
	}
	a, ok := s.actions[id]
	if !ok || (droplet != 0 && (a.volume != "" || a.resourceID != droplet)) {
		return nil, notFound()
	}
	return a, nil
}

func (s *Server) getAction(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.actionLocked(r, 0)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"action": a.wire()}, nil
}

func (s *Server) getDropletAction(r *http.Request) (int, any, error) {
	id, err := pathInt(r, "id")
	if err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.actionLocked(r, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"action": a.wire()}, nil
}

// Droplet returns a droplet as the API shows it, and its user_data.
func (s *Server) Droplet(id int) (godo.Droplet, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.droplets[id]
	if !ok {
		return godo.Droplet{}, "", false
	}
	var out godo.Droplet
	convert(s.wire(d), &out)
	return out, d.userData, true
}

// Droplets lists the droplets by ID.
func (s *Server) Droplets() []godo.Droplet {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []godo.Droplet
	for _, d := range s.sortedDroplets() {
		var g godo.Droplet
		convert(s.wire(d), &g)
		out = append(out, g)
	}
	return out
}

// convert turns a wire form into godo's type through JSON: the wire form
// is what godo decodes. Wire forms are plain data, so encoding cannot fail.
func convert(w, out any) {
	b, _ := json.Marshal(w) //nolint:errchkjson // plain structs of our own, see above
	_ = json.Unmarshal(b, out)
}

// Action returns an action's type and status ("" if unknown).
func (s *Server) Action(id int) (typ, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a, ok := s.actions[id]; ok {
		return a.typ, a.status
	}
	return "", ""
}
