package dosim

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/digitalocean/godo"
)

// volumeLog is a backend that records what the simulator asks of a
// volume backend, in order.
type volumeLog struct {
	sleepBackend
	mu    sync.Mutex
	calls []string
}

func (b *volumeLog) add(format string, a ...any) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls = append(b.calls, fmt.Sprintf(format, a...))
	return nil
}

func (b *volumeLog) CreateVolume(_ context.Context, v VolumeSpec) error {
	return b.add("create %s %s %dGB %s from=%q", v.ID, v.Name, v.SizeGB, v.FilesystemType, v.FromSnapshot)
}

func (b *volumeLog) AttachVolume(_ context.Context, id, name string, d int) error {
	return b.add("attach %s %s %d", id, name, d)
}

func (b *volumeLog) DetachVolume(_ context.Context, id, name string, d int) error {
	return b.add("detach %s %s %d", id, name, d)
}

func (b *volumeLog) ResizeVolume(_ context.Context, id string, gb int) error {
	return b.add("resize %s %d", id, gb)
}

func (b *volumeLog) SnapshotVolume(_ context.Context, id, snap string) error {
	return b.add("snapshot %s %s", id, snap)
}
func (b *volumeLog) DeleteVolume(_ context.Context, id string) error { return b.add("delete %s", id) }
func (b *volumeLog) DeleteSnapshot(_ context.Context, id string) error {
	return b.add("delete-snapshot %s", id)
}

func (b *volumeLog) has(call string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Contains(b.calls, call)
}

// activeDroplet creates a droplet and waits until it is active.
func activeDroplet(t *testing.T, c *godo.Client, name string) *godo.Droplet {
	t.Helper()
	d, resp, err := c.Droplets.Create(ctx(t), createReq(name))
	if err != nil {
		t.Fatal(err)
	}
	if a := waitAction(t, c, resp.Links.Actions[0].ID); a.Status != "completed" {
		t.Fatalf("droplet create action %s", a.Status)
	}
	return d
}

func TestVolumeLifecycle(t *testing.T) {
	be := &volumeLog{}
	s := newSim(t, Options{ActiveAfter: 50 * time.Millisecond, Backend: be})
	c := client(t, s, testToken)
	d := activeDroplet(t, c, "hub")

	v, _, err := c.Storage.CreateVolume(ctx(t), &godo.VolumeCreateRequest{
		Region: "fra1", Name: "class-home", SizeGigaBytes: 10, FilesystemType: "ext4", Description: "homes", Tags: []string{"class"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if v.SizeGigaBytes != 10 || v.FilesystemType != "ext4" || v.Region.Slug != "fra1" || len(v.DropletIDs) != 0 || !slices.Equal(v.Tags, []string{"class"}) {
		t.Fatalf("created volume: %+v", v)
	}
	if !be.has(fmt.Sprintf("create %s class-home 10GB ext4 from=%q", v.ID, "")) {
		t.Errorf("backend calls %q", be.calls)
	}
	_, _, err = c.Storage.CreateVolume(ctx(t), &godo.VolumeCreateRequest{Region: "fra1", Name: "class-home", SizeGigaBytes: 1})
	wantStatus(t, err, http.StatusConflict, "a second volume of the same name and region")
	_, _, err = c.Storage.CreateVolume(ctx(t), &godo.VolumeCreateRequest{Region: "fra1", Name: "Class_Home", SizeGigaBytes: 1})
	wantStatus(t, err, http.StatusUnprocessableEntity, "an invalid volume name")

	byName, _, err := c.Storage.ListVolumes(ctx(t), &godo.ListVolumeParams{Name: "class-home", Region: "fra1"})
	if err != nil || len(byName) != 1 || byName[0].ID != v.ID {
		t.Fatalf("list by name: %v %+v", err, byName)
	}

	a, _, err := c.StorageActions.Attach(ctx(t), v.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Type != "attach_volume" || a.Status != "in-progress" {
		t.Fatalf("attach action %+v", a)
	}
	_, _, err = c.StorageActions.Attach(ctx(t), v.ID, d.ID)
	wantStatus(t, err, http.StatusUnprocessableEntity, "a second action while the attach runs")
	if a = waitAction(t, c, a.ID); a.Status != "completed" {
		t.Fatalf("attach %s", a.Status)
	}
	if got, _, _ := c.StorageActions.Get(ctx(t), v.ID, a.ID); got == nil || got.Status != "completed" {
		t.Errorf("the attach through the volume's actions: %+v", got)
	}
	if gd, _, _ := c.Droplets.Get(ctx(t), d.ID); !slices.Equal(gd.VolumeIDs, []string{v.ID}) {
		t.Errorf("droplet volume_ids %q, want [%s]", gd.VolumeIDs, v.ID)
	}
	if gv, _, _ := c.Storage.GetVolume(ctx(t), v.ID); !slices.Equal(gv.DropletIDs, []int{d.ID}) {
		t.Errorf("volume droplet_ids %v, want [%d]", gv.DropletIDs, d.ID)
	}
	_, _, err = c.StorageActions.Attach(ctx(t), v.ID, d.ID)
	wantStatus(t, err, http.StatusUnprocessableEntity, "attaching an attached volume")
	_, err = c.Storage.DeleteVolume(ctx(t), v.ID)
	wantStatus(t, err, http.StatusConflict, "deleting an attached volume")

	_, _, err = c.StorageActions.Resize(ctx(t), v.ID, 5, "fra1")
	wantStatus(t, err, http.StatusUnprocessableEntity, "shrinking a volume")
	a, _, err = c.StorageActions.Resize(ctx(t), v.ID, 20, "fra1")
	if err != nil {
		t.Fatal(err)
	}
	if a = waitAction(t, c, a.ID); a.Status != "completed" || !be.has(fmt.Sprintf("resize %s 20", v.ID)) {
		t.Fatalf("resize %s, backend %q", a.Status, be.calls)
	}

	sn, _, err := c.Storage.CreateSnapshot(ctx(t), &godo.SnapshotCreateRequest{VolumeID: v.ID, Name: "fall-2026"})
	if err != nil {
		t.Fatal(err)
	}
	if sn.ResourceType != "volume" || sn.ResourceID != v.ID || sn.MinDiskSize != 20 || !slices.Equal(sn.Regions, []string{"fra1"}) {
		t.Errorf("snapshot %+v", sn)
	}
	if got, _, err := c.Storage.GetSnapshot(ctx(t), sn.ID); err != nil || got.Name != "fall-2026" {
		t.Errorf("GetSnapshot (/v2/snapshots/): %v %+v", err, got)
	}
	if resp, body := raw(t, s, http.MethodGet, "/v2/volumes/snapshots/"+sn.ID, ""); resp.StatusCode != http.StatusOK || body["snapshot"] == nil {
		t.Errorf("/v2/volumes/snapshots/: %d %v", resp.StatusCode, body)
	}
	if list, _, err := c.Storage.ListSnapshots(ctx(t), v.ID, nil); err != nil || len(list) != 1 {
		t.Errorf("ListSnapshots: %v %+v", err, list)
	}
	_, _, err = c.Storage.CreateVolume(ctx(t), &godo.VolumeCreateRequest{Region: "fra1", Name: "spring", SizeGigaBytes: 10, SnapshotID: sn.ID})
	wantStatus(t, err, http.StatusUnprocessableEntity, "a volume smaller than its snapshot")
	nv, _, err := c.Storage.CreateVolume(ctx(t), &godo.VolumeCreateRequest{Region: "fra1", Name: "spring", SizeGigaBytes: 20, SnapshotID: sn.ID})
	if err != nil {
		t.Fatal(err)
	}
	if nv.FilesystemType != "ext4" || !be.has(fmt.Sprintf("create %s spring 20GB ext4 from=%q", nv.ID, sn.ID)) {
		t.Errorf("volume from a snapshot: fs %q, backend %q", nv.FilesystemType, be.calls)
	}

	// Detach by name, as the by-name route takes it.
	resp, body := raw(t, s, http.MethodPost, "/v2/volumes/actions", fmt.Sprintf(`{"type":"detach","volume_name":"class-home","region":"fra1","droplet_id":%d}`, d.ID))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("detach by name: %d %v", resp.StatusCode, body)
	}
	id := int(body["action"].(map[string]any)["id"].(float64))
	if a = waitAction(t, c, id); a.Status != "completed" || !be.has(fmt.Sprintf("detach %s class-home %d", v.ID, d.ID)) {
		t.Fatalf("detach %s, backend %q", a.Status, be.calls)
	}
	if gd, _, _ := c.Droplets.Get(ctx(t), d.ID); len(gd.VolumeIDs) != 0 {
		t.Errorf("droplet volume_ids after detach %q", gd.VolumeIDs)
	}
	_, _, err = c.StorageActions.DetachByDropletID(ctx(t), v.ID, d.ID)
	wantStatus(t, err, http.StatusNotFound, "detaching a detached volume")

	// Deleting a droplet detaches its volumes.
	a, _, err = c.StorageActions.Attach(ctx(t), nv.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	waitAction(t, c, a.ID)
	if _, err := c.Droplets.Delete(ctx(t), d.ID); err != nil {
		t.Fatal(err)
	}
	if gv, _, _ := c.Storage.GetVolume(ctx(t), nv.ID); len(gv.DropletIDs) != 0 {
		t.Errorf("volume still attached to a deleted droplet: %v", gv.DropletIDs)
	}

	if _, err := c.Storage.DeleteSnapshot(ctx(t), sn.ID); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Storage.GetSnapshot(ctx(t), sn.ID)
	wantStatus(t, err, http.StatusNotFound, "a deleted snapshot")
	for _, id := range []string{v.ID, nv.ID} {
		if _, err := c.Storage.DeleteVolume(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		if !be.has("delete " + id) {
			t.Errorf("backend did not delete volume %s: %q", id, be.calls)
		}
	}
	_, _, err = c.Storage.GetVolume(ctx(t), v.ID)
	wantStatus(t, err, http.StatusNotFound, "a deleted volume")
}

func TestVolumeActionFaults(t *testing.T) {
	be := &volumeLog{}
	s := newSim(t, Options{ActiveAfter: 20 * time.Millisecond, Backend: be})
	c := client(t, s, testToken)
	d := activeDroplet(t, c, "hub")
	v, _, err := c.Storage.CreateVolume(ctx(t), &godo.VolumeCreateRequest{Region: "fra1", Name: "data", SizeGigaBytes: 1})
	if err != nil {
		t.Fatal(err)
	}

	s.Faults().FailActionsOf("attach_volume", 1).SlowActionsOf("detach_volume", 400*time.Millisecond)
	a, _, err := c.StorageActions.Attach(ctx(t), v.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a = waitAction(t, c, a.ID); a.Status != "errored" {
		t.Fatalf("attach with FailActionsOf: %s", a.Status)
	}
	if gv, _, _ := c.Storage.GetVolume(ctx(t), v.ID); len(gv.DropletIDs) != 0 || be.has(fmt.Sprintf("attach %s data %d", v.ID, d.ID)) {
		t.Fatalf("an errored attach attached: droplet_ids %v, backend %q", gv.DropletIDs, be.calls)
	}

	a, _, err = c.StorageActions.Attach(ctx(t), v.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a = waitAction(t, c, a.ID); a.Status != "completed" {
		t.Fatalf("second attach: %s", a.Status)
	}
	start := time.Now()
	a, _, err = c.StorageActions.DetachByDropletID(ctx(t), v.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if a = waitAction(t, c, a.ID); a.Status != "completed" || time.Since(start) < 400*time.Millisecond {
		t.Fatalf("slow detach: %s after %v", a.Status, time.Since(start))
	}
}
