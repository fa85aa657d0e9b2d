package volume

import (
	"bytes"
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// writeVolume puts data at the start of a volume through its backend.
func (e *testEnv) writeVolume(id string, data []byte) {
	e.t.Helper()
	d, err := e.Backends[hostBackend(e, id)].Open(context.Background(), backend.Volume{ID: id}, "")
	if err != nil {
		e.t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.WriteAt(data, 0); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) readVolume(id string, n int) []byte {
	e.t.Helper()
	d, err := e.Backends[hostBackend(e, id)].Open(context.Background(), backend.Volume{ID: id}, "")
	if err != nil {
		e.t.Fatal(err)
	}
	defer d.Close()
	out := make([]byte, n)
	if _, err := d.ReadAt(out, 0); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// snapshot makes a snapshot row and its backend snapshot, as the snapshot
// API's code does (not this part's).
func (e *testEnv) snapshot(volumeID string) string {
	e.t.Helper()
	ctx := context.Background()
	v, err := volumeByID(ctx, e.DB, volumeID)
	if err != nil {
		e.t.Fatal(err)
	}
	id := uuid.NewString()
	if err := e.Backends[hostBackend(e, volumeID)].CreateSnapshot(ctx, backend.Snapshot{ID: id, VolumeID: volumeID, SizeGB: v.Size}); err != nil {
		e.t.Fatal(err)
	}
	now := dbTime(e.Service.now())
	if _, err := e.DB.ExecContext(ctx, `INSERT INTO volume_snapshots (id, volume_id, project_id, user_id, status, volume_size,
		volume_type_id, host, created_at, updated_at) VALUES (?, ?, ?, ?, 'available', ?, ?, ?, ?, ?)`,
		id, volumeID, v.ProjectID, v.UserID, v.Size, v.VolumeTypeID, v.Host, now, now); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func TestVolumeFromSourceSnapshotAndRevert(t *testing.T) {
	e := newTestEnv(t, nil)
	src := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	e.writeVolume(src, []byte("first"))
	clone := e.createVolume(e.DemoToken, map[string]any{"source_volid": src})
	if v := e.volume(e.DemoToken, clone); v["status"] != "available" || v["source_volid"] != src || v["size"] != float64(1) {
		t.Fatalf("clone %v", v)
	}
	if got := e.readVolume(clone, 5); !bytes.Equal(got, []byte("first")) {
		t.Fatalf("clone holds %q", got)
	}
	e.Must(http.StatusBadRequest, "POST", "/v3/volumes", e.DemoToken, map[string]any{"volume": map[string]any{"source_volid": src, "size": 0}})

	snap := e.snapshot(src)
	e.writeVolume(src, []byte("later"))
	fromSnap := e.createVolume(e.DemoToken, map[string]any{"snapshot_id": snap, "size": 2})
	if v := e.volume(e.DemoToken, fromSnap); v["status"] != "available" || v["snapshot_id"] != snap || v["size"] != float64(2) {
		t.Fatalf("from snapshot %v", v)
	}
	if got := e.readVolume(fromSnap, 5); !bytes.Equal(got, []byte("first")) {
		t.Fatalf("volume from snapshot holds %q", got)
	}
	// a volume with snapshots is not deleted, but for cascade
	status, body, _, _ := e.Do("DELETE", "/v3/volumes/"+src, e.DemoToken, nil, nil)
	if _, msg := fault(body); status != 400 || msg != "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer." {
		t.Fatalf("delete with snapshots: %d %q", status, msg)
	}
	// revert (3.40) to the latest snapshot
	path := "/v3/volumes/" + src + "/action"
	e.MustV(http.StatusNotFound, "3.39", "POST", path, e.DemoToken, action("revert", map[string]any{"snapshot_id": snap}))
	e.MustV(http.StatusBadRequest, "3.40", "POST", path, e.DemoToken, action("revert", map[string]any{"snapshot_id": fromSnap}))
	e.MustV(http.StatusAccepted, "3.40", "POST", path, e.DemoToken, action("revert", map[string]any{"snapshot_id": snap}))
	if st := e.volume(e.DemoToken, src)["status"]; st != "reverting" {
		t.Fatalf("while reverting: %v", st)
	}
	e.settle()
	if st := e.volume(e.DemoToken, src)["status"]; st != "available" {
		t.Fatalf("after revert: %v", st)
	}
	if got := e.readVolume(src, 5); !bytes.Equal(got, []byte("first")) {
		t.Fatalf("reverted volume holds %q", got)
	}
	e.Must(http.StatusAccepted, "DELETE", "/v3/volumes/"+src+"?cascade=true", e.DemoToken, nil)
	e.settle()
	e.Must(http.StatusNotFound, "GET", "/v3/volumes/"+src, e.DemoToken, nil)
	var left int
	if err := e.DB.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM volume_snapshots WHERE volume_id = ?`, src).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d snapshots left (%v)", left, err)
	}
}
