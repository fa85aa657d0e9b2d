package volume

import (
	"net/http"
	"sync"
	"testing"
)

func (e *testEnv) createTransfer(version, token string, body map[string]any) map[string]any {
	e.t.Helper()
	return e.MustV(http.StatusAccepted, version, "POST", "/v3/volume-transfers", token, map[string]any{"transfer": body})["transfer"].(map[string]any)
}

// TestVolumeTransfer: create (auth key once, volume awaiting-transfer),
// list/detail/show per microversion, another project's view, a wrong key,
// accept moving the volume and its snapshots, delete restoring the volume.
func TestVolumeTransfer(t *testing.T) {
	e := newTestEnv(t, nil)
	demo := e.DemoToken
	other, otherProject := e.NewProjectUser("receiver")
	vid := e.createVolume(demo, map[string]any{"size": 1})
	snap := e.snapshot(vid)

	tr := e.createTransfer("3.57", demo, map[string]any{"volume_id": vid, "name": " move "})
	key, _ := tr["auth_key"].(string)
	if len(key) != 16 || tr["name"] != "move" || tr["no_snapshots"] != false || tr["accepted"] != false {
		t.Fatalf("created transfer: %v", tr)
	}
	tid := tr["id"].(string)
	if st := e.volume(demo, vid)["status"]; st != statusAwaitingTransfer {
		t.Fatalf("volume status %v", st)
	}
	// the key is never shown again
	shown := e.MustV(http.StatusOK, "3.0", "GET", "/v3/os-volume-transfer/"+tid, demo, nil)["transfer"].(map[string]any)
	if _, ok := shown["auth_key"]; ok {
		t.Fatalf("show has the key: %v", shown)
	}
	if _, ok := shown["no_snapshots"]; ok {
		t.Fatalf("3.0 shows no_snapshots: %v", shown)
	}
	list := e.MustV(http.StatusOK, "3.55", "GET", "/v3/volume-transfers", demo, nil)["transfers"].([]any)
	if len(list) != 1 || len(list[0].(map[string]any)) != 4 {
		t.Fatalf("summary list: %v", list)
	}
	// the receiver sees nothing of it, and a volume awaiting transfer cannot be deleted or transferred twice
	e.MustV(http.StatusNotFound, "3.55", "GET", "/v3/volume-transfers/"+tid, other, nil)
	if l := e.MustV(http.StatusOK, "3.55", "GET", "/v3/volume-transfers/detail", other, nil)["transfers"].([]any); len(l) != 0 {
		t.Fatalf("receiver lists %v", l)
	}
	e.Must(http.StatusBadRequest, "DELETE", "/v3/volumes/"+vid, demo, nil)
	st, body, _, _ := e.DoV("3.55", "POST", "/v3/volume-transfers", demo, map[string]any{"transfer": map[string]any{"volume_id": vid}})
	if _, msg := fault(body); st != http.StatusBadRequest || msg != "Invalid volume: status must be available" {
		t.Fatalf("second transfer: %d %v", st, body)
	}
	// a wrong key
	st, body, _, _ = e.DoV("3.55", "POST", "/v3/volume-transfers/"+tid+"/accept", other, map[string]any{"accept": map[string]any{"auth_key": "wrong"}})
	if kind, msg := fault(body); st != http.StatusBadRequest || kind != "badRequest" || msg != "Invalid auth key: Attempt to transfer "+tid+" with invalid auth key." {
		t.Fatalf("wrong key: %d %v", st, body)
	}
	// schema: auth_key required
	e.MustV(http.StatusBadRequest, "3.55", "POST", "/v3/volume-transfers/"+tid+"/accept", other, map[string]any{"accept": map[string]any{}})
	out := e.MustV(http.StatusAccepted, "3.55", "POST", "/v3/os-volume-transfer/"+tid+"/accept", other,
		map[string]any{"accept": map[string]any{"auth_key": key}})["transfer"].(map[string]any)
	if out["id"] != tid || out["volume_id"] != vid {
		t.Fatalf("accept: %v", out)
	}
	e.Must(http.StatusNotFound, "GET", "/v3/volumes/"+vid, demo, nil)
	v := e.MustV(http.StatusOK, "3.55", "GET", "/v3/volumes/"+vid, other, nil)["volume"].(map[string]any)
	if v["status"] != statusAvailable || v["os-vol-tenant-attr:tenant_id"] != otherProject {
		t.Fatalf("accepted volume: %v", v)
	}
	e.MustV(http.StatusOK, "3.55", "GET", "/v3/snapshots/"+snap, other, nil)
	e.MustV(http.StatusNotFound, "3.55", "GET", "/v3/volume-transfers/"+tid, demo, nil)

	// no_snapshots (3.55) leaves the snapshots; delete gives the volume back
	tr = e.createTransfer("3.55", other, map[string]any{"volume_id": vid, "no_snapshots": true})
	if tr["no_snapshots"] != true {
		t.Fatalf("no_snapshots: %v", tr)
	}
	e.Must(http.StatusNotFound, "DELETE", "/v3/os-volume-transfer/"+tr["id"].(string), demo, nil)
	e.MustV(http.StatusAccepted, "3.55", "DELETE", "/v3/volume-transfers/"+tr["id"].(string), other, nil)
	if st := e.volume(other, vid)["status"]; st != statusAvailable {
		t.Fatalf("after delete: %v", st)
	}
}

// TestVolumeTransferQuotaAndRace: an accept over the receiver's quota is 413
// and changes nothing; two accepts of one transfer at once: one wins.
func TestVolumeTransferQuotaAndRace(t *testing.T) {
	e := newTestEnv(t, nil)
	demo, admin := e.DemoToken, e.AdminToken
	other, otherProject := e.NewProjectUser("receiver")
	third, _ := e.NewProjectUser("third")
	vid := e.createVolume(demo, map[string]any{"size": 2})
	tr := e.createTransfer("3.55", demo, map[string]any{"volume_id": vid})
	e.Must(http.StatusOK, "PUT", "/v3/os-quota-sets/"+otherProject, admin, map[string]any{"quota_set": map[string]any{"gigabytes": 1}})
	st, body, _, _ := e.DoV("3.55", "POST", "/v3/volume-transfers/"+tr["id"].(string)+"/accept", other,
		map[string]any{"accept": map[string]any{"auth_key": tr["auth_key"]}})
	if kind, _ := fault(body); st != http.StatusRequestEntityTooLarge || kind != "overLimit" {
		t.Fatalf("over quota: %d %v", st, body)
	}
	if st := e.volume(demo, vid)["status"]; st != statusAwaitingTransfer {
		t.Fatalf("after a refused accept: %v", st)
	}
	e.Must(http.StatusOK, "PUT", "/v3/os-quota-sets/"+otherProject, admin, map[string]any{"quota_set": map[string]any{"gigabytes": 100}})

	statuses := make([]int, 2)
	var wg sync.WaitGroup
	for i, token := range []string{other, third} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _, _, _ = e.DoV("3.55", "POST", "/v3/volume-transfers/"+tr["id"].(string)+"/accept", token,
				map[string]any{"accept": map[string]any{"auth_key": tr["auth_key"]}})
		}()
	}
	wg.Wait()
	won := 0
	for _, st := range statuses {
		switch st {
		case http.StatusAccepted:
			won++
		case http.StatusNotFound, http.StatusBadRequest:
		default:
			t.Fatalf("accept answered %d", st)
		}
	}
	if won != 1 {
		t.Fatalf("accepts that won: %d (%v)", won, statuses)
	}
	var owners int
	if err := e.DB.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM volumes WHERE id = ? AND project_id <> ?`, vid, e.DemoProject).Scan(&owners); err != nil || owners != 1 {
		t.Fatalf("volume moved %d times: %v", owners, err)
	}
}

// TestVolumeTransferListPaging: sort and marker from 3.59, limit and offset
// before it too.
func TestVolumeTransferListPaging(t *testing.T) {
	e := newTestEnv(t, nil)
	demo := e.DemoToken
	var ids []string
	for _, name := range []string{"b", "a"} {
		vid := e.createVolume(demo, map[string]any{"size": 1})
		ids = append(ids, e.createTransfer("3.55", demo, map[string]any{"volume_id": vid, "name": name})["id"].(string))
	}
	names := func(version, query string) []string {
		var out []string
		for _, x := range e.MustV(http.StatusOK, version, "GET", "/v3/volume-transfers"+query, demo, nil)["transfers"].([]any) {
			out = append(out, x.(map[string]any)["name"].(string))
		}
		return out
	}
	if got := names("3.59", "?sort=name:asc&limit=1"); len(got) != 1 || got[0] != "a" {
		t.Fatalf("sorted page: %v", got)
	}
	if got := names("3.59", "?sort=name:asc&marker="+ids[1]); len(got) != 1 || got[0] != "b" {
		t.Fatalf("after the marker: %v", got)
	}
	if got := names("3.0", "?sort=name:asc&offset=1"); len(got) != 1 || got[0] != "a" {
		t.Fatalf("3.0 (created order, offset): %v", got)
	}
	e.MustV(http.StatusBadRequest, "3.59", "GET", "/v3/volume-transfers?sort=salt", demo, nil)
	e.MustV(http.StatusNotFound, "3.59", "GET", "/v3/volume-transfers?marker=nope", demo, nil)
}
