package dosim

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/digitalocean/godo"
)

// Block storage: volumes, their actions (attach, detach, resize, by volume
// ID or by name and region) and their snapshots. A volume is attached to
// at most one droplet; deleting the droplet detaches it, as on DigitalOcean.

// MaxVolumeGB is DigitalOcean's largest volume (16 TiB).
const MaxVolumeGB = 16384

// volumeName is DigitalOcean's rule: lowercase letters, digits and '-',
// starting with a letter, at most 64.
var volumeName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,63}$`)

type volume struct {
	id, name, region, description string
	fsType, fsLabel               string
	size                          int
	tags                          []string
	created                       time.Time
	droplet                       int     // attached droplet, 0 if none
	busy                          *action // the action in progress, if any
	op                            sync.Mutex
}

type volumeSnapshot struct {
	id, name, volumeID, region string
	minDisk                    int
	fsType, fsLabel            string
	tags                       []string
	created                    time.Time
}

type wireVolume struct {
	ID              string     `json:"id"`
	DropletIDs      []int      `json:"droplet_ids"`
	Name            string     `json:"name"`
	Description     string     `json:"description"`
	SizeGigabytes   int        `json:"size_gigabytes"`
	CreatedAt       string     `json:"created_at"`
	Tags            []string   `json:"tags"`
	Region          wireRegion `json:"region"`
	FilesystemType  string     `json:"filesystem_type"`
	FilesystemLabel string     `json:"filesystem_label"`
}

type wireSnapshot struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	CreatedAt     string   `json:"created_at"`
	Regions       []string `json:"regions"`
	MinDiskSize   int      `json:"min_disk_size"`
	SizeGigabytes float64  `json:"size_gigabytes"`
	ResourceID    string   `json:"resource_id"`
	ResourceType  string   `json:"resource_type"`
	Tags          []string `json:"tags"`
}

func (v *volume) wire() wireVolume {
	reg, _ := findRegion(v.region)
	w := wireVolume{
		ID: v.id, DropletIDs: []int{}, Name: v.name, Description: v.description, SizeGigabytes: v.size,
		CreatedAt: v.created.UTC().Format(time.RFC3339), Tags: append([]string{}, v.tags...), Region: reg,
		FilesystemType: v.fsType, FilesystemLabel: v.fsLabel,
	}
	if v.droplet != 0 {
		w.DropletIDs = append(w.DropletIDs, v.droplet)
	}
	return w
}

func (sn *volumeSnapshot) wire() wireSnapshot {
	return wireSnapshot{
		ID: sn.id, Name: sn.name, CreatedAt: sn.created.UTC().Format(time.RFC3339), Regions: []string{sn.region},
		MinDiskSize: sn.minDisk, ResourceID: sn.volumeID, ResourceType: "volume", Tags: append([]string{}, sn.tags...),
	}
}

// uuid is a random version 4 UUID: volume and snapshot IDs are UUIDs.
func uuid() string { return requestID() }

type volumeCreateRequest struct {
	Name            string   `json:"name"`
	Region          string   `json:"region"`
	Description     string   `json:"description"`
	SizeGigabytes   int      `json:"size_gigabytes"`
	SnapshotID      string   `json:"snapshot_id"`
	FilesystemType  string   `json:"filesystem_type"`
	FilesystemLabel string   `json:"filesystem_label"`
	Tags            []string `json:"tags"`
}

func (s *Server) createVolume(r *http.Request) (int, any, error) {
	var req volumeCreateRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if !volumeName.MatchString(req.Name) {
		return 0, nil, unprocessable("Volume name %q is invalid: lowercase letters, digits and '-', starting with a letter, at most 64", req.Name)
	}
	if _, ok := findRegion(req.Region); !ok {
		return 0, nil, unprocessable("You specified an invalid region for the volume: %q", req.Region)
	}
	if req.SizeGigabytes < 1 || req.SizeGigabytes > MaxVolumeGB {
		return 0, nil, unprocessable("size_gigabytes %d is out of range: 1 to %d", req.SizeGigabytes, MaxVolumeGB)
	}
	switch req.FilesystemType {
	case "", "ext4", "xfs":
	default:
		return 0, nil, unprocessable("filesystem_type %q is invalid: ext4 or xfs", req.FilesystemType)
	}
	s.mu.Lock()
	for _, t := range req.Tags {
		if !tagName.MatchString(t) {
			s.mu.Unlock()
			return 0, nil, unprocessable("Tag %q is invalid: use letters, digits, ':', '-' and '_', at most 255", t)
		}
	}
	for _, v := range s.volumes {
		if v.name == req.Name && v.region == req.Region {
			s.mu.Unlock()
			return 0, nil, &apiError{http.StatusConflict, "conflict", "a volume with that name already exists in " + req.Region}
		}
	}
	v := &volume{
		id: uuid(), name: req.Name, region: req.Region, description: req.Description, size: req.SizeGigabytes,
		fsType: req.FilesystemType, fsLabel: req.FilesystemLabel, tags: append([]string{}, req.Tags...), created: time.Now(),
	}
	spec := VolumeSpec{ID: v.id, Name: v.name, SizeGB: v.size, FilesystemType: v.fsType, FilesystemLabel: v.fsLabel}
	if req.SnapshotID != "" {
		sn, ok := s.snapshots[req.SnapshotID]
		if !ok {
			s.mu.Unlock()
			return 0, nil, unprocessable("snapshot_id %q: no such volume snapshot", req.SnapshotID)
		}
		if sn.region != req.Region {
			s.mu.Unlock()
			return 0, nil, unprocessable("snapshot %s is in %s; create the volume there", sn.id, sn.region)
		}
		if req.SizeGigabytes < sn.minDisk {
			s.mu.Unlock()
			return 0, nil, unprocessable("size_gigabytes %d is smaller than the snapshot's %d GB", req.SizeGigabytes, sn.minDisk)
		}
		// A volume from a snapshot has the snapshot's filesystem.
		v.fsType, v.fsLabel = sn.fsType, sn.fsLabel
		spec.FilesystemType, spec.FilesystemLabel, spec.FromSnapshot = sn.fsType, sn.fsLabel, sn.id
	}
	s.mu.Unlock()
	if vb, ok := s.backend.(VolumeBackend); ok {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Minute)
		defer cancel()
		if err := vb.CreateVolume(ctx, spec); err != nil {
			return 0, nil, &apiError{http.StatusInternalServerError, "server_error", "create volume: " + err.Error()}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.volumes[v.id] = v
	for _, name := range v.tags {
		_, _ = s.ensureTagLocked(name) // validated above
	}
	return http.StatusCreated, map[string]any{"volume": v.wire()}, nil
}

func (s *Server) sortedVolumes() []*volume {
	out := make([]*volume, 0, len(s.volumes))
	for _, v := range s.volumes {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b *volume) int { return a.created.Compare(b.created) })
	return out
}

func (s *Server) listVolumes(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	name, region := q.Get("name"), q.Get("region")
	s.mu.Lock()
	all := []wireVolume{}
	for _, v := range s.sortedVolumes() {
		if (name == "" || v.name == name) && (region == "" || v.region == region) {
			all = append(all, v.wire())
		}
	}
	s.mu.Unlock()
	page, links, m := paginate(r, all)
	return http.StatusOK, map[string]any{"volumes": page, "links": links, "meta": m}, nil
}

func (s *Server) volumeLocked(r *http.Request) (*volume, error) {
	v, ok := s.volumes[r.PathValue("volume")]
	if !ok {
		return nil, notFound()
	}
	return v, nil
}

func (s *Server) getVolume(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.volumeLocked(r)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"volume": v.wire()}, nil
}

// volumeByNameLocked finds a volume by name and region (the by-name routes).
func (s *Server) volumeByNameLocked(name, region string) (*volume, error) {
	for _, v := range s.volumes {
		if v.name == name && v.region == region {
			return v, nil
		}
	}
	return nil, notFound()
}

func (s *Server) deleteVolume(r *http.Request) (int, any, error) {
	return s.deleteFoundVolume(r, func() (*volume, error) { return s.volumeLocked(r) })
}

func (s *Server) deleteVolumeByName(r *http.Request) (int, any, error) {
	q := r.URL.Query()
	return s.deleteFoundVolume(r, func() (*volume, error) { return s.volumeByNameLocked(q.Get("name"), q.Get("region")) })
}

// deleteFoundVolume forgets the volume find returns (called with s.mu held)
// and destroys its storage.
func (s *Server) deleteFoundVolume(r *http.Request, find func() (*volume, error)) (int, any, error) {
	s.mu.Lock()
	v, err := find()
	if err == nil {
		err = s.removeVolumeLocked(v)
	}
	s.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	return s.destroyVolume(r.Context(), v)
}

// removeVolumeLocked forgets a volume that is neither attached nor busy.
func (s *Server) removeVolumeLocked(v *volume) error {
	if v.droplet != 0 || v.busy != nil {
		return &apiError{http.StatusConflict, "conflict", "The volume is attached to a Droplet or has a pending action; detach it first."}
	}
	delete(s.volumes, v.id)
	return nil
}

func (s *Server) destroyVolume(ctx context.Context, v *volume) (int, any, error) {
	if vb, ok := s.backend.(VolumeBackend); ok {
		v.op.Lock()
		defer v.op.Unlock()
		if err := vb.DeleteVolume(context.WithoutCancel(ctx), v.id); err != nil {
			s.opts.Logf("dosim: delete volume %s: %v", v.id, err)
		}
	}
	return http.StatusNoContent, nil, nil
}

// volumeActionRequest is the union of the volume action bodies.
type volumeActionRequest struct {
	Type          string `json:"type"`
	DropletID     int    `json:"droplet_id"`
	SizeGigabytes int    `json:"size_gigabytes"`
	Region        string `json:"region"`
	VolumeName    string `json:"volume_name"`
}

func (s *Server) postVolumeAction(r *http.Request) (int, any, error) {
	var req volumeActionRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.volumeLocked(r)
	if err != nil {
		return 0, nil, err
	}
	return s.volumeActionLocked(v, req)
}

func (s *Server) postVolumeActionByName(r *http.Request) (int, any, error) {
	var req volumeActionRequest
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Type == "resize" {
		return 0, nil, unprocessable("resize needs the volume's ID: POST /v2/volumes/{volume_id}/actions")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, err := s.volumeByNameLocked(req.VolumeName, req.Region)
	if err != nil {
		return 0, nil, err
	}
	return s.volumeActionLocked(v, req)
}

// volumeActionLocked checks and starts an action; the caller holds s.mu.
func (s *Server) volumeActionLocked(v *volume, req volumeActionRequest) (int, any, error) {
	if req.Region != "" && req.Region != v.region {
		return 0, nil, unprocessable("The volume is in %s, not %s.", v.region, req.Region)
	}
	if v.busy != nil {
		return 0, nil, unprocessable("The volume already has a pending action.")
	}
	vb, _ := s.backend.(VolumeBackend)
	var op func(context.Context) error
	var done func()
	var typ string
	switch req.Type {
	case "attach":
		d, ok := s.droplets[req.DropletID]
		if !ok {
			return 0, nil, notFound()
		}
		if d.region != v.region {
			return 0, nil, unprocessable("Droplet %d is in %s and the volume in %s; both must be in one region.", d.id, d.region, v.region)
		}
		if v.droplet != 0 {
			return 0, nil, unprocessable("%s (to droplet %d).", godo.ErrVolumeAlreadyAttached, v.droplet)
		}
		if d.busy != nil || d.status == "new" {
			return 0, nil, unprocessable("%s.", godo.ErrDropletPendingEvent)
		}
		typ = "attach_volume"
		if vb != nil {
			id, name := d.id, v.name
			op = func(ctx context.Context) error { return vb.AttachVolume(ctx, v.id, name, id) }
		}
		done = func() { v.droplet = req.DropletID }
	case "detach":
		if v.droplet == 0 || v.droplet != req.DropletID {
			return 0, nil, notFound()
		}
		typ = "detach_volume"
		if vb != nil {
			id, name := v.droplet, v.name
			op = func(ctx context.Context) error { return vb.DetachVolume(ctx, v.id, name, id) }
		}
		done = func() { v.droplet = 0 }
	case "resize":
		if req.SizeGigabytes > MaxVolumeGB {
			return 0, nil, unprocessable("size_gigabytes %d is larger than %d", req.SizeGigabytes, MaxVolumeGB)
		}
		if req.SizeGigabytes <= v.size {
			return 0, nil, unprocessable("Volumes may only be resized upwards: %d GB is not larger than %d GB.", req.SizeGigabytes, v.size)
		}
		typ = "resize_volume"
		if vb != nil {
			op = func(ctx context.Context) error { return vb.ResizeVolume(ctx, v.id, req.SizeGigabytes) }
		}
		done = func() { v.size = req.SizeGigabytes }
	default:
		return 0, nil, unprocessable("Volume action %q is invalid: attach, detach or resize", req.Type)
	}
	a := s.startVolumeLocked(v, typ, op, done)
	return http.StatusAccepted, map[string]any{"action": a.wire()}, nil
}

// startVolumeLocked records an in-progress volume action and runs op (nil:
// only the configured delay) in the background; done applies its effect
// once op succeeds. The caller holds s.mu.
func (s *Server) startVolumeLocked(v *volume, typ string, op func(context.Context) error, done func()) *action {
	a := &action{id: s.next("action", 2_900_000_000), status: "in-progress", typ: typ, started: time.Now(), volume: v.id, region: v.region}
	s.actions[a.id] = a
	v.busy = a
	s.work.Add(1)
	go func() {
		defer s.work.Done()
		fail, slow := s.faults.actionFaultOf(typ)
		v.op.Lock()
		err := sleepBackend{d: s.opts.ActiveAfter + slow}.wait(s.ctx)
		if err == nil && fail {
			err = errors.New("injected fault (FailActions)")
		}
		if err == nil && op != nil {
			err = op(s.ctx)
		}
		v.op.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		a.completed = time.Now()
		v.busy = nil
		if err != nil {
			a.status = "errored"
			s.opts.Logf("dosim: volume %s: action %s %d errored: %v", v.id, typ, a.id, err)
			return
		}
		a.status = "completed"
		done()
	}()
	return a
}

func (s *Server) volumeActions(id string) []wireAction {
	out := []wireAction{}
	for _, a := range s.actions {
		if a.volume == id {
			out = append(out, a.wire())
		}
	}
	slices.SortFunc(out, func(a, b wireAction) int { return a.ID - b.ID })
	return out
}

func (s *Server) listVolumeActions(r *http.Request) (int, any, error) {
	s.mu.Lock()
	v, err := s.volumeLocked(r)
	var all []wireAction
	if err == nil {
		all = s.volumeActions(v.id)
	}
	s.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	page, links, m := paginate(r, all)
	return http.StatusOK, map[string]any{"actions": page, "links": links, "meta": m}, nil
}

func (s *Server) getVolumeAction(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, err := s.actionLocked(r, 0)
	if err != nil {
		return 0, nil, err
	}
	if a.volume != r.PathValue("volume") {
		return 0, nil, notFound()
	}
	return http.StatusOK, map[string]any{"action": a.wire()}, nil
}

func (s *Server) createVolumeSnapshot(r *http.Request) (int, any, error) {
	var req struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return 0, nil, err
	}
	if req.Name == "" || len(req.Name) > 255 {
		return 0, nil, unprocessable("Snapshot name %q is invalid: 1 to 255 characters", req.Name)
	}
	s.mu.Lock()
	v, err := s.volumeLocked(r)
	if err == nil {
		for _, t := range req.Tags {
			if _, err = s.ensureTagLocked(t); err != nil {
				break
			}
		}
	}
	if err != nil {
		s.mu.Unlock()
		return 0, nil, err
	}
	sn := &volumeSnapshot{
		id: uuid(), name: req.Name, volumeID: v.id, region: v.region, minDisk: v.size,
		fsType: v.fsType, fsLabel: v.fsLabel, tags: append([]string{}, req.Tags...), created: time.Now(),
	}
	s.mu.Unlock()
	if vb, ok := s.backend.(VolumeBackend); ok {
		// A snapshot is taken of the volume as it is, attached or not.
		v.op.Lock()
		err := vb.SnapshotVolume(r.Context(), v.id, sn.id)
		v.op.Unlock()
		if err != nil {
			return 0, nil, &apiError{http.StatusInternalServerError, "server_error", "snapshot volume: " + err.Error()}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.snapshots[sn.id] = sn
	return http.StatusCreated, map[string]any{"snapshot": sn.wire()}, nil
}

func (s *Server) listVolumeSnapshots(r *http.Request) (int, any, error) {
	s.mu.Lock()
	v, err := s.volumeLocked(r)
	all := []wireSnapshot{}
	if err == nil {
		for _, sn := range s.snapshots {
			if sn.volumeID == v.id {
				all = append(all, sn.wire())
			}
		}
	}
	s.mu.Unlock()
	if err != nil {
		return 0, nil, err
	}
	slices.SortFunc(all, func(a, b wireSnapshot) int { return strings.Compare(a.CreatedAt+a.ID, b.CreatedAt+b.ID) })
	page, links, m := paginate(r, all)
	return http.StatusOK, map[string]any{"snapshots": page, "links": links, "meta": m}, nil
}

// getSnapshot serves /v2/snapshots/{snapshot} (godo's GetSnapshot) and
// /v2/volumes/snapshots/{snapshot}; only volume snapshots exist here.
func (s *Server) getSnapshot(r *http.Request) (int, any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sn, ok := s.snapshots[r.PathValue("snapshot")]
	if !ok {
		return 0, nil, notFound()
	}
	return http.StatusOK, map[string]any{"snapshot": sn.wire()}, nil
}

func (s *Server) deleteSnapshot(r *http.Request) (int, any, error) {
	s.mu.Lock()
	id := r.PathValue("snapshot")
	_, ok := s.snapshots[id]
	delete(s.snapshots, id)
	s.mu.Unlock()
	if !ok {
		return 0, nil, notFound()
	}
	if vb, ok := s.backend.(VolumeBackend); ok {
		if err := vb.DeleteSnapshot(context.WithoutCancel(r.Context()), id); err != nil {
			s.opts.Logf("dosim: delete snapshot %s: %v", id, err)
		}
	}
	return http.StatusNoContent, nil, nil
}

// detachAllLocked detaches every volume from a droplet being deleted, as
// DigitalOcean does; the backend's droplet teardown releases the devices.
func (s *Server) detachAllLocked(dropletID int) {
	for _, v := range s.volumes {
		if v.droplet == dropletID {
			v.droplet = 0
		}
	}
}

func (s *Server) volumeIDsLocked(dropletID int) []string {
	out := []string{}
	for _, v := range s.sortedVolumes() {
		if v.droplet == dropletID {
			out = append(out, v.id)
		}
	}
	return out
}

// Volume returns a volume as the API shows it.
func (s *Server) Volume(id string) (godo.Volume, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.volumes[id]
	if !ok {
		return godo.Volume{}, false
	}
	var out godo.Volume
	convert(v.wire(), &out)
	return out, true
}

// Volumes lists the volumes, oldest first.
func (s *Server) Volumes() []godo.Volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []godo.Volume
	for _, v := range s.sortedVolumes() {
		var g godo.Volume
		convert(v.wire(), &g)
		out = append(out, g)
	}
	return out
}

// VolumeSnapshots lists the volume snapshots, oldest first.
func (s *Server) VolumeSnapshots() []godo.Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []godo.Snapshot
	for _, sn := range s.snapshots {
		var g godo.Snapshot
		convert(sn.wire(), &g)
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b godo.Snapshot) int { return strings.Compare(a.Created+a.ID, b.Created+b.ID) })
	return out
}

// closeVolumes releases every volume's and snapshot's storage at Close.
func (s *Server) closeVolumes() {
	s.mu.Lock()
	vols, snaps := s.volumes, s.snapshots
	s.volumes, s.snapshots = map[string]*volume{}, map[string]*volumeSnapshot{}
	s.mu.Unlock()
	vb, ok := s.backend.(VolumeBackend)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for id := range snaps {
		if err := vb.DeleteSnapshot(ctx, id); err != nil {
			s.opts.Logf("dosim: close: delete snapshot %s: %v", id, err)
		}
	}
	for id := range vols {
		if err := vb.DeleteVolume(ctx, id); err != nil {
			s.opts.Logf("dosim: close: delete volume %s: %v", id, err)
		}
	}
}

// volumeSnapshotsOnly serves /v2/volumes/snapshots/{snapshot} and answers
// 404 for any other /v2/volumes/{x}/{y}.
func volumeSnapshotsOnly(f func(r *http.Request) (int, any, error)) func(r *http.Request) (int, any, error) {
	return func(r *http.Request) (int, any, error) {
		if r.PathValue("volume") != "snapshots" {
			return 0, nil, notFound()
		}
		return f(r)
	}
}
