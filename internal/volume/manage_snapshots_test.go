package volume

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestSnapshotManageUnmanage: os-unmanage of a snapshot keeps its object,
// which the listing then shows as safe; managing it back makes a new
// snapshot of the volume (quota counted) that the manager brings to
// available under its new id; a bad reference ends in error and can be
// deleted; members are refused; manageable_snapshots is 3.8.
func TestSnapshotManageUnmanage(t *testing.T) {
	e := newTestEnv(t, nil)
	admin := e.AdminToken
	vol := e.createVolume(admin, map[string]any{"size": 1})
	host := e.volume(admin, vol)["os-vol-host-attr:host"].(string)
	snapDir := filepath.Join(e.Dir, "pool-"+hostBackend(e, vol), "snapshots")
	snap := e.snapshot(vol)

	e.MustV(http.StatusForbidden, "3.8", "GET", "/v3/manageable_snapshots?host="+host, e.DemoToken, nil)
	e.MustV(http.StatusNotFound, "3.7", "GET", "/v3/manageable_snapshots?host="+host, admin, nil)
	list := e.MustV(http.StatusOK, "3.8", "GET", "/v3/manageable_snapshots/detail?host="+host, admin, nil)["manageable-snapshots"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["cinder_id"] != snap || list[0].(map[string]any)["safe_to_manage"] != false {
		t.Fatalf("listing: %v", list)
	}

	e.MustV(http.StatusAccepted, "3.8", "POST", "/v3/snapshots/"+snap+"/action", admin, map[string]any{"os-unmanage": map[string]any{}})
	e.settle()
	e.MustV(http.StatusNotFound, "3.8", "GET", "/v3/snapshots/"+snap, admin, nil)
	if _, err := os.Stat(filepath.Join(snapDir, "snapshot-"+snap)); err != nil {
		t.Fatalf("unmanage removed the snapshot's data: %v", err)
	}
	list = e.MustV(http.StatusOK, "3.0", "GET", "/v3/os-snapshot-manage?host="+host, admin, nil)["manageable-snapshots"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["safe_to_manage"] != true {
		t.Fatalf("listing after unmanage: %v", list)
	}

	out := e.MustV(http.StatusAccepted, "3.8", "POST", "/v3/manageable_snapshots", admin, map[string]any{"snapshot": map[string]any{
		"volume_id": vol, "ref": map[string]any{"source-name": "snapshot-" + snap}, "name": "back"}})["snapshot"].(map[string]any)
	if out["status"] != snapshotCreating || out["name"] != "back" {
		t.Fatalf("managed snapshot: %v", out)
	}
	newID := out["id"].(string)
	e.settle()
	if st := e.MustV(http.StatusOK, "3.8", "GET", "/v3/snapshots/"+newID, admin, nil)["snapshot"].(map[string]any)["status"]; st != snapshotAvailable {
		t.Fatalf("managed snapshot status %v", st)
	}
	if _, err := os.Stat(filepath.Join(snapDir, "snapshot-"+newID)); err != nil {
		t.Fatalf("the object was not taken over: %v", err)
	}

	out = e.MustV(http.StatusAccepted, "3.0", "POST", "/v3/os-snapshot-manage", admin, map[string]any{"snapshot": map[string]any{
		"volume_id": vol, "ref": map[string]any{"source-name": "../../etc"}}})["snapshot"].(map[string]any)
	e.settle()
	badID := out["id"].(string)
	if st := e.MustV(http.StatusOK, "3.8", "GET", "/v3/snapshots/"+badID, admin, nil)["snapshot"].(map[string]any)["status"]; st != snapshotError {
		t.Fatalf("bad reference: %v", st)
	}
	e.Must(http.StatusAccepted, "DELETE", "/v3/snapshots/"+badID, admin, nil)
	e.settle()
	e.MustV(http.StatusNotFound, "3.8", "GET", "/v3/snapshots/"+badID, admin, nil)

	// a volume that is not there, a body without its ref
	e.MustV(http.StatusNotFound, "3.8", "POST", "/v3/manageable_snapshots", admin, map[string]any{"snapshot": map[string]any{
		"volume_id": "00000000-0000-0000-0000-000000000000", "ref": map[string]any{"source-name": "x"}}})
	e.MustV(http.StatusBadRequest, "3.8", "POST", "/v3/manageable_snapshots", admin, map[string]any{"snapshot": map[string]any{"volume_id": vol}})
}
