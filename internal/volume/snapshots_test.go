package volume

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func (e *testEnv) createSnapshot(token string, body map[string]any) string {
	e.t.Helper()
	out := e.Must(http.StatusAccepted, "POST", "/v3/snapshots", token, map[string]any{"snapshot": body})
	e.settle()
	return out["snapshot"].(map[string]any)["id"].(string)
}

func (e *testEnv) showSnapshot(token, id string) map[string]any {
	e.t.Helper()
	return e.Must(http.StatusOK, "GET", "/v3/snapshots/"+id, token, nil)["snapshot"].(map[string]any)
}

// setVolumeStatus puts a volume in a status directly, as an attach would.
func (e *testEnv) setVolumeStatus(id, status string) {
	e.t.Helper()
	if _, err := e.DB.ExecContext(e.t.Context(), `UPDATE volumes SET status = ? WHERE id = ?`, status, id); err != nil {
		e.t.Fatal(err)
	}
}

func TestSnapshotCreateShowDelete(t *testing.T) {
	e := newTestEnv(t, nil)
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 2})
	out := e.Must(http.StatusAccepted, "POST", "/v3/snapshots", e.DemoToken, map[string]any{"snapshot": map[string]any{
		"volume_id": vol, "name": " s1 ", "description": "d", "metadata": map[string]any{"k": "v"}}})
	snap := out["snapshot"].(map[string]any)
	if snap["status"] != "creating" || snap["name"] != "s1" || snap["size"] != float64(2) || snap["volume_id"] != vol {
		t.Fatalf("created %v", snap)
	}
	if _, ok := snap["os-extended-snapshot-attributes:progress"]; ok {
		t.Fatal("the create answer carries the extended attributes; upstream's does not")
	}
	id := snap["id"].(string)
	e.settle()
	snap = e.showSnapshot(e.DemoToken, id)
	want := []string{"created_at", "description", "id", "metadata", "name", "os-extended-snapshot-attributes:progress",
		"os-extended-snapshot-attributes:project_id", "size", "status", "updated_at", "volume_id"}
	if got := keysOf(snap); !slices.Equal(got, want) {
		t.Fatalf("3.0 keys\n got %v\nwant %v", got, want)
	}
	if snap["status"] != "available" || snap["os-extended-snapshot-attributes:progress"] != "100%" ||
		snap["os-extended-snapshot-attributes:project_id"] != e.DemoProject {
		t.Fatalf("after the manager's pass: %v", snap)
	}
	latest := e.MustV(http.StatusOK, "3.65", "GET", "/v3/snapshots/"+id, e.DemoToken, nil)["snapshot"].(map[string]any)
	for _, k := range []string{"group_snapshot_id", "user_id", "consumes_quota"} {
		if _, ok := latest[k]; !ok {
			t.Errorf("3.65 view lacks %s", k)
		}
	}
	// the backend holds it, and the volume cannot go while it exists
	if _, err := e.Backends[volumeBackend(e, vol)].Open(t.Context(), bvOf(vol, 2), id); err != nil {
		t.Fatalf("backend snapshot: %v", err)
	}
	e.Must(http.StatusBadRequest, "DELETE", "/v3/volumes/"+vol, e.DemoToken, nil)
	// another project sees nothing
	other, _ := e.NewProjectUser("other")
	e.Must(http.StatusNotFound, "GET", "/v3/snapshots/"+id, other, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v3/snapshots/"+id, other, nil)

	upd := e.Must(http.StatusOK, "PUT", "/v3/snapshots/"+id, e.DemoToken,
		map[string]any{"snapshot": map[string]any{"name": "renamed", "display_description": "dd"}})["snapshot"].(map[string]any)
	if upd["name"] != "renamed" || upd["description"] != "dd" {
		t.Fatalf("updated %v", upd)
	}
	e.Must(http.StatusBadRequest, "PUT", "/v3/snapshots/"+id, e.DemoToken, map[string]any{"snapshot": map[string]any{}})

	e.Must(http.StatusAccepted, "DELETE", "/v3/snapshots/"+id, e.DemoToken, nil)
	if st := e.showSnapshot(e.DemoToken, id)["status"]; st != "deleting" {
		t.Fatalf("after delete: %v", st)
	}
	e.settle()
	status, body, _, _ := e.Do("GET", "/v3/snapshots/"+id, e.DemoToken, nil, nil)
	if kind, msg := fault(body); status != 404 || kind != "itemNotFound" || msg != fmt.Sprintf("Snapshot %s could not be found.", id) {
		t.Fatalf("deleted snapshot: %d %s %q", status, kind, msg)
	}
	e.Must(http.StatusAccepted, "DELETE", "/v3/volumes/"+vol, e.DemoToken, nil)
	e.settle()
}

// volumeBackend is the fake backend a volume was placed on.
func volumeBackend(e *testEnv, volumeID string) string {
	var host string
	if err := e.DB.QueryRowContext(e.t.Context(), `SELECT host FROM volumes WHERE id = ?`, volumeID).Scan(&host); err != nil {
		e.t.Fatal(err)
	}
	for name := range e.Backends {
		if host == "node1@"+name+"#"+name {
			return name
		}
	}
	e.t.Fatalf("volume %s on %q", volumeID, host)
	return ""
}

func TestSnapshotCreateRules(t *testing.T) {
	e := newTestEnv(t, nil)
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	missing := "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1"
	for _, tc := range []struct {
		name, version string
		volStatus     string
		body          any
		status        int
		msg           string
	}{
		{"no snapshot", "", "", map[string]any{}, 400, "'snapshot' is a required property"},
		{"no volume id", "", "", map[string]any{"snapshot": map[string]any{"name": "x"}}, 400, ""},
		{"bad force", "", "", map[string]any{"snapshot": map[string]any{"volume_id": vol, "force": "maybe"}}, 400, ""},
		{"unknown key", "", "", map[string]any{"snapshot": map[string]any{"volume_id": vol, "size": 1}}, 400, ""},
		{"missing volume", "", "", map[string]any{"snapshot": map[string]any{"volume_id": missing}}, 404,
			"Volume " + missing + " could not be found."},
		{"in-use without force", "", "in-use", map[string]any{"snapshot": map[string]any{"volume_id": vol}}, 400,
			"Invalid volume: Volume " + vol + " status must be available, but current status is: in-use."},
		{"in-use with force", "", "in-use", map[string]any{"snapshot": map[string]any{"volume_id": vol, "force": true}}, 202, ""},
		{"in-use at 3.66", "3.66", "in-use", map[string]any{"snapshot": map[string]any{"volume_id": vol}}, 202, ""},
		{"force false at 3.66", "3.66", "", map[string]any{"snapshot": map[string]any{"volume_id": vol, "force": false}}, 400,
			snapshotInUseFlagMessage},
		{"error volume", "", "error", map[string]any{"snapshot": map[string]any{"volume_id": vol}}, 400,
			"Invalid volume: The snapshot cannot be created when the volume is in error status."},
		{"creating volume", "", "creating", map[string]any{"snapshot": map[string]any{"volume_id": vol, "force": true}}, 400,
			"Invalid volume: Volume " + vol + " status must be available, in-use, but current status is: creating."},
		{"not JSON", "", "", []byte("{"), 400, "Malformed request body"},
	} {
		status := "available"
		if tc.volStatus != "" {
			status = tc.volStatus
		}
		e.setVolumeStatus(vol, status)
		h := map[string]string{}
		if tc.version != "" {
			h["OpenStack-API-Version"] = "volume " + tc.version
		}
		got, body, raw, _ := e.Do("POST", "/v3/snapshots", e.DemoToken, tc.body, h)
		_, msg := fault(body)
		if got != tc.status || tc.msg != "" && msg != tc.msg {
			t.Errorf("%s: %d %s, want %d %q", tc.name, got, raw, tc.status, tc.msg)
		}
	}
	e.setVolumeStatus(vol, "available")
	e.settle()
}

func TestSnapshotQuota(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.Quotas = map[string]int{"snapshots": 1} })
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	e.createSnapshot(e.DemoToken, map[string]any{"volume_id": vol})
	status, body, _, _ := e.Do("POST", "/v3/snapshots", e.DemoToken, map[string]any{"snapshot": map[string]any{"volume_id": vol}}, nil)
	if kind, msg := fault(body); status != 413 || kind != "overLimit" || msg != "Maximum number of snapshots allowed (1) exceeded" {
		t.Fatalf("over quota: %d %s %q", status, kind, msg)
	}
}

func TestSnapshotListFiltersAndPaging(t *testing.T) {
	e := newTestEnv(t, nil)
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	vol2 := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	for i := range 4 {
		v := vol
		if i == 3 {
			v = vol2
		}
		e.createSnapshot(e.DemoToken, map[string]any{"volume_id": v, "name": fmt.Sprintf("s%d", i),
			"metadata": map[string]any{"parity": fmt.Sprint(i % 2)}})
	}
	names := func(version, query string) []string {
		out := e.MustV(http.StatusOK, version, "GET", "/v3/snapshots"+query, e.DemoToken, nil)
		var got []string
		for _, s := range out["snapshots"].([]any) {
			got = append(got, fmt.Sprint(s.(map[string]any)["name"]))
		}
		return got
	}
	if got := names("3.30", "?sort=name:asc"); !slices.Equal(got, []string{"s0", "s1", "s2", "s3"}) {
		t.Fatalf("sorted: %v", got)
	}
	e.MustV(http.StatusBadRequest, "3.29", "GET", "/v3/snapshots?sort=name:asc", e.DemoToken, nil)
	if got := names("", "?sort=display_name:asc&volume_id="+vol2); !slices.Equal(got, []string{"s3"}) {
		t.Fatalf("volume_id filter: %v", got)
	}
	if got := names("3.22", "?sort=display_name:asc&metadata=%7B%27parity%27%3A+%271%27%7D"); !slices.Equal(got, []string{"s1", "s3"}) {
		t.Fatalf("metadata filter: %v", got)
	}
	// before 3.22 the metadata filter is not one
	if got := names("3.21", "?sort=display_name:asc&metadata=%7B%27parity%27%3A+%271%27%7D"); len(got) != 4 {
		t.Fatalf("3.21 metadata filter: %v", got)
	}
	page := e.MustV(http.StatusOK, "3.45", "GET", "/v3/snapshots/detail?sort=display_name:asc&limit=2&with_count=true", e.DemoToken, nil)
	if len(page["snapshots"].([]any)) != 2 || page["snapshots_links"] == nil || page["count"] != float64(4) {
		t.Fatalf("first page %v", page)
	}
	last := page["snapshots"].([]any)[1].(map[string]any)["id"].(string)
	if got := names("", "?sort=display_name:asc&marker="+last); !slices.Equal(got, []string{"s2", "s3"}) {
		t.Fatalf("second page: %v", got)
	}
	e.Must(http.StatusNotFound, "GET", "/v3/snapshots?marker=9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1", e.DemoToken, nil)
	other, _ := e.NewProjectUser("other")
	if got := e.Must(http.StatusOK, "GET", "/v3/snapshots", other, nil)["snapshots"].([]any); len(got) != 0 {
		t.Fatalf("another project lists %v", got)
	}
	if got := e.Must(http.StatusOK, "GET", "/v3/snapshots?all_tenants=1", e.AdminToken, nil)["snapshots"].([]any); len(got) != 4 {
		t.Fatalf("admin all_tenants lists %d", len(got))
	}
}

func TestSnapshotActionsAndMetadata(t *testing.T) {
	e := newTestEnv(t, nil)
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	id := e.createSnapshot(e.DemoToken, map[string]any{"volume_id": vol})
	path := "/v3/snapshots/" + id + "/action"
	// reset status is the admin's
	e.Must(http.StatusForbidden, "POST", path, e.DemoToken, map[string]any{"os-reset_status": map[string]any{"status": "error"}})
	e.Must(http.StatusBadRequest, "POST", path, e.AdminToken, map[string]any{"os-reset_status": map[string]any{"status": "bogus"}})
	e.Must(http.StatusAccepted, "POST", path, e.AdminToken, map[string]any{"os-reset_status": map[string]any{"status": "ERROR"}})
	if st := e.showSnapshot(e.DemoToken, id)["status"]; st != "error" {
		t.Fatalf("after reset: %v", st)
	}
	// update_snapshot_status follows upstream's transitions
	e.Must(http.StatusBadRequest, "POST", path, e.DemoToken, map[string]any{"os-update_snapshot_status": map[string]any{"status": "available"}})
	e.Must(http.StatusAccepted, "POST", path, e.AdminToken, map[string]any{"os-reset_status": map[string]any{"status": "creating"}})
	e.Must(http.StatusBadRequest, "POST", path, e.DemoToken, map[string]any{"os-update_snapshot_status": map[string]any{"status": "deleting"}})
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, map[string]any{"os-update_snapshot_status": map[string]any{"status": "available", "progress": "90%"}})
	if s := e.showSnapshot(e.DemoToken, id); s["status"] != "available" || s["os-extended-snapshot-attributes:progress"] != "90%" {
		t.Fatalf("after update_snapshot_status: %v", s)
	}
	e.Must(http.StatusBadRequest, "POST", path, e.DemoToken, map[string]any{"os-bogus": map[string]any{}})

	meta := "/v3/snapshots/" + id + "/metadata"
	e.Must(http.StatusOK, "POST", meta, e.DemoToken, map[string]any{"metadata": map[string]any{"a": "1"}})
	md := e.Must(http.StatusOK, "POST", meta, e.DemoToken, map[string]any{"metadata": map[string]any{"b": "2"}})["metadata"].(map[string]any)
	if md["a"] != "1" || md["b"] != "2" {
		t.Fatalf("merged %v", md)
	}
	e.Must(http.StatusOK, "PUT", meta+"/a", e.DemoToken, map[string]any{"meta": map[string]any{"a": "3"}})
	e.Must(http.StatusBadRequest, "PUT", meta+"/a", e.DemoToken, map[string]any{"meta": map[string]any{"c": "3"}})
	if got := e.Must(http.StatusOK, "GET", meta+"/a", e.DemoToken, nil)["meta"].(map[string]any)["a"]; got != "3" {
		t.Fatalf("item %v", got)
	}
	e.Must(http.StatusOK, "DELETE", meta+"/a", e.DemoToken, nil)
	status, body, _, _ := e.Do("DELETE", meta+"/a", e.DemoToken, nil, nil)
	if _, msg := fault(body); status != 404 || msg != fmt.Sprintf("Snapshot %s has no metadata with key a.", id) {
		t.Fatalf("second delete: %d %q", status, msg)
	}
	md = e.Must(http.StatusOK, "PUT", meta, e.DemoToken, map[string]any{"metadata": map[string]any{"only": "x"}})["metadata"].(map[string]any)
	if len(md) != 1 || md["only"] != "x" {
		t.Fatalf("replaced %v", md)
	}

	// a snapshot being backed up cannot be deleted; force_delete (admin) can
	e.Must(http.StatusAccepted, "POST", path, e.AdminToken, map[string]any{"os-reset_status": map[string]any{"status": "backing-up"}})
	status, body, _, _ = e.Do("DELETE", "/v3/snapshots/"+id, e.DemoToken, nil, nil)
	if _, msg := fault(body); status != 400 || msg != "Invalid snapshot: Snapshot status must be available or error and must not be part of a group." {
		t.Fatalf("delete backing-up: %d %q", status, msg)
	}
	e.Must(http.StatusForbidden, "POST", path, e.DemoToken, map[string]any{"os-force_delete": map[string]any{}})
	e.Must(http.StatusAccepted, "POST", path, e.AdminToken, map[string]any{"os-force_delete": map[string]any{}})
	e.settle()
	e.Must(http.StatusNotFound, "GET", "/v3/snapshots/"+id, e.DemoToken, nil)
}

func TestSnapshotBackendFailure(t *testing.T) {
	e := newTestEnv(t, nil)
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	// the volume's data gone from the backend: the snapshot cannot be taken
	if err := os.Remove(filepath.Join(e.Dir, "pool-"+volumeBackend(e, vol), "volume-"+vol)); err != nil {
		t.Fatal(err)
	}
	id := e.createSnapshot(e.DemoToken, map[string]any{"volume_id": vol})
	if st := e.showSnapshot(e.DemoToken, id)["status"]; st != "error" {
		t.Fatalf("failed create: %v", st)
	}
	// an error snapshot may be deleted
	e.Must(http.StatusAccepted, "DELETE", "/v3/snapshots/"+id, e.DemoToken, nil)
	e.settle()
	e.Must(http.StatusNotFound, "GET", "/v3/snapshots/"+id, e.DemoToken, nil)
}

// pinnedType makes a volume type whose volumes go to backend name, so a
// test knows which fake backend holds the bytes it writes and reads back.
func (e *testEnv) pinnedType(name string) string {
	e.t.Helper()
	e.Must(http.StatusOK, "POST", "/v3/types", e.AdminToken, map[string]any{"volume_type": map[string]any{
		"name": "on-" + name, "extra_specs": map[string]any{"volume_backend_name": name}}})
	return "on-" + name
}

func TestVolumeFromSnapshot(t *testing.T) {
	e := newTestEnv(t, nil)
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1, "volume_type": e.pinnedType("alpha")})
	name := volumeBackend(e, vol)
	writePattern(t, e.Backends[name], vol, 1, "before")
	snap := e.createSnapshot(e.DemoToken, map[string]any{"volume_id": vol})
	writePattern(t, e.Backends[name], vol, 1, "after!")
	clone := e.createVolume(e.DemoToken, map[string]any{"snapshot_id": snap, "size": 2})
	v := e.volume(e.DemoToken, clone)
	if v["status"] != "available" || v["snapshot_id"] != snap || v["size"] != float64(2) {
		t.Fatalf("volume from snapshot %v", v)
	}
	if got := readPattern(t, e.Backends[volumeBackend(e, clone)], clone, 2, 6); got != "before" {
		t.Fatalf("volume from snapshot reads %q", got)
	}
}
