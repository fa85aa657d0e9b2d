package volume

import (
	"fmt"
	"github.com/nimbus-cloud/nimbus/internal/volume/backup"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
)

// withBackups makes the test manager this host's backup service too, over
// the chunked driver's directory store (upstream's posix driver).
func (e *testEnv) withBackups() *testEnv {
	e.t.Helper()
	e.Manager.SetBackupDriver(directoryBackups(e.t, filepath.Join(e.Dir, "backups")))
	e.settle()
	return e
}

func (e *testEnv) createBackup(token string, body map[string]any) string {
	e.t.Helper()
	out := e.Must(http.StatusAccepted, "POST", "/v3/backups", token, map[string]any{"backup": body})
	e.settle()
	return out["backup"].(map[string]any)["id"].(string)
}

func (e *testEnv) backup(token, id string) map[string]any {
	e.t.Helper()
	return e.Must(http.StatusOK, "GET", "/v3/backups/"+id, token, nil)["backup"].(map[string]any)
}

// directoryBackups is the chunked backup driver over a directory.
func directoryBackups(t testing.TB, dir string) BackupDriver {
	d, err := backup.NewDirectory(dir, backup.ChunkOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &ChunkedBackups{Driver: d}
}

func TestBackupCreateRestoreDelete(t *testing.T) {
	e := newTestEnv(t, nil).withBackups()
	typ := e.pinnedType("alpha")
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1, "volume_type": typ})
	b := e.Backends["alpha"]
	writePattern(t, b, vol, 1, "full-data")

	out := e.Must(http.StatusAccepted, "POST", "/v3/backups", e.DemoToken, map[string]any{"backup": map[string]any{
		"volume_id": vol, "name": "b1"}})["backup"].(map[string]any)
	if got := keysOf(out); !slices.Equal(got, []string{"id", "links", "name"}) || out["name"] != "b1" {
		t.Fatalf("create answer %v", out)
	}
	full := out["id"].(string)
	if st := e.volume(e.DemoToken, vol)["status"]; st != "backing-up" {
		t.Fatalf("volume while backing up: %v", st)
	}
	e.settle()
	bk := e.backup(e.DemoToken, full)
	want := []string{"availability_zone", "container", "created_at", "data_timestamp", "description", "fail_reason",
		"has_dependent_backups", "id", "is_incremental", "links", "name", "object_count", "size", "snapshot_id",
		"status", "updated_at", "volume_id"}
	if got := keysOf(bk); !slices.Equal(got, want) {
		t.Fatalf("3.0 keys\n got %v\nwant %v", got, want)
	}
	if bk["status"] != "available" || bk["size"] != float64(1) || bk["is_incremental"] != false ||
		bk["availability_zone"] != "nova" || bk["container"] == nil {
		t.Fatalf("backup %v", bk)
	}
	if st := e.volume(e.DemoToken, vol)["status"]; st != "available" {
		t.Fatalf("volume after backup: %v", st)
	}
	admin := e.MustV(http.StatusOK, "3.56", "GET", "/v3/backups/"+full, e.AdminToken, nil)["backup"].(map[string]any)
	if admin["os-backup-project-attr:project_id"] != e.DemoProject || admin["user_id"] == nil || admin["metadata"] == nil {
		t.Fatalf("admin 3.56 view %v", admin)
	}
	member := e.MustV(http.StatusOK, "3.56", "GET", "/v3/backups/"+full, e.DemoToken, nil)["backup"].(map[string]any)
	if _, ok := member["os-backup-project-attr:project_id"]; ok {
		t.Fatal("a member sees the backup's project attribute")
	}

	// incremental over it
	writePattern(t, b, vol, 1, "incr-data")
	incr := e.createBackup(e.DemoToken, map[string]any{"volume_id": vol, "incremental": true})
	if bk := e.backup(e.DemoToken, incr); bk["is_incremental"] != true || bk["status"] != "available" {
		t.Fatalf("incremental %v", bk)
	}
	if bk := e.backup(e.DemoToken, full); bk["has_dependent_backups"] != true {
		t.Fatalf("parent %v", bk)
	}
	status, body, _, _ := e.Do("DELETE", "/v3/backups/"+full, e.DemoToken, nil, nil)
	if _, msg := fault(body); status != 400 || msg != "Invalid backup: Incremental backups exist for this backup." {
		t.Fatalf("delete parent: %d %q", status, msg)
	}

	// restore the full backup over the volume
	res := e.Must(http.StatusAccepted, "POST", "/v3/backups/"+full+"/restore", e.DemoToken,
		map[string]any{"restore": map[string]any{"volume_id": vol}})["restore"].(map[string]any)
	if res["backup_id"] != full || res["volume_id"] != vol {
		t.Fatalf("restore answer %v", res)
	}
	if st := e.volume(e.DemoToken, vol)["status"]; st != "restoring-backup" {
		t.Fatalf("volume while restoring: %v", st)
	}
	if st := e.backup(e.DemoToken, full)["status"]; st != "restoring" {
		t.Fatalf("backup while restoring: %v", st)
	}
	e.settle()
	if st := e.volume(e.DemoToken, vol)["status"]; st != "available" {
		t.Fatalf("volume after restore: %v", st)
	}
	if got := readPattern(t, b, vol, 1, 9); got != "full-data" {
		t.Fatalf("restored volume reads %q", got)
	}

	// restore the incremental into a new volume
	res = e.Must(http.StatusAccepted, "POST", "/v3/backups/"+incr+"/restore", e.DemoToken,
		map[string]any{"restore": nil})["restore"].(map[string]any)
	fresh := res["volume_id"].(string)
	if res["volume_name"] != "restore_backup_"+incr {
		t.Fatalf("restore answer %v", res)
	}
	e.settle()
	v := e.volume(e.DemoToken, fresh)
	if v["status"] != "available" || v["description"] != "auto-created_from_restore_from_backup" {
		t.Fatalf("restored volume %v", v)
	}
	if got := readPattern(t, e.Backends[volumeBackend(e, fresh)], fresh, 1, 9); got != "incr-data" {
		t.Fatalf("new volume reads %q", got)
	}

	// a volume created from the backup (3.47)
	made := e.createVolumeV("3.47", map[string]any{"backup_id": full})
	if got := readPattern(t, e.Backends[volumeBackend(e, made)], made, 1, 9); got != "full-data" {
		t.Fatalf("volume from backup reads %q", got)
	}

	// delete the incremental, then the full
	e.Must(http.StatusAccepted, "DELETE", "/v3/backups/"+incr, e.DemoToken, nil)
	e.settle()
	e.Must(http.StatusNotFound, "GET", "/v3/backups/"+incr, e.DemoToken, nil)
	if bk := e.backup(e.DemoToken, full); bk["has_dependent_backups"] != false {
		t.Fatalf("parent after its child's delete %v", bk)
	}
	e.Must(http.StatusAccepted, "DELETE", "/v3/backups/"+full, e.DemoToken, nil)
	e.settle()
	e.Must(http.StatusNotFound, "GET", "/v3/backups/"+full, e.DemoToken, nil)
}

func (e *testEnv) createVolumeV(version string, body map[string]any) string {
	e.t.Helper()
	out := e.MustV(http.StatusAccepted, version, "POST", "/v3/volumes", e.DemoToken, map[string]any{"volume": body})
	e.settle()
	id := out["volume"].(map[string]any)["id"].(string)
	if st := e.volume(e.DemoToken, id)["status"]; st != "available" {
		e.t.Fatalf("volume %s: %v", id, st)
	}
	return id
}

func TestBackupRules(t *testing.T) {
	e := newTestEnv(t, nil).withBackups()
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	missing := "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1"
	for _, tc := range []struct {
		name      string
		volStatus string
		body      any
		status    int
		msg       string
	}{
		{"no backup", "", map[string]any{}, 400, "'backup' is a required property"},
		{"bad volume id", "", map[string]any{"backup": map[string]any{"volume_id": "x"}}, 400, ""},
		{"unknown key", "", map[string]any{"backup": map[string]any{"volume_id": vol, "size": 1}}, 400, ""},
		{"missing volume", "", map[string]any{"backup": map[string]any{"volume_id": missing}}, 404,
			"Volume " + missing + " could not be found."},
		{"incremental without a full", "", map[string]any{"backup": map[string]any{"volume_id": vol, "incremental": true}}, 400,
			"Invalid backup: No backups available to do an incremental backup."},
		{"in-use without force", "in-use", map[string]any{"backup": map[string]any{"volume_id": vol}}, 400,
			"Invalid volume: Backing up an in-use volume must use the force flag."},
		{"error volume", "error", map[string]any{"backup": map[string]any{"volume_id": vol}}, 400,
			`Invalid volume: Volume to be backed up must be available or in-use, but the current status is "error".`},
		{"missing snapshot", "", map[string]any{"backup": map[string]any{"volume_id": vol, "snapshot_id": missing}}, 404,
			"Snapshot " + missing + " could not be found."},
	} {
		status := "available"
		if tc.volStatus != "" {
			status = tc.volStatus
		}
		e.setVolumeStatus(vol, status)
		got, body, raw, _ := e.Do("POST", "/v3/backups", e.DemoToken, tc.body, nil)
		_, msg := fault(body)
		if got != tc.status || tc.msg != "" && msg != tc.msg {
			t.Errorf("%s: %d %s, want %d %q", tc.name, got, raw, tc.status, tc.msg)
		}
	}
	// an in-use volume with force goes back to in-use
	e.setVolumeStatus(vol, "in-use")
	forced := e.createBackup(e.DemoToken, map[string]any{"volume_id": vol, "force": true})
	if st := e.volume(e.DemoToken, vol)["status"]; st != "in-use" {
		t.Fatalf("in-use volume after backup: %v", st)
	}
	e.setVolumeStatus(vol, "available")

	// restore rules
	big := e.createVolume(e.DemoToken, map[string]any{"size": 2})
	bigBackup := e.createBackup(e.DemoToken, map[string]any{"volume_id": big})
	status, body, _, _ := e.Do("POST", "/v3/backups/"+bigBackup+"/restore", e.DemoToken, map[string]any{"restore": map[string]any{"volume_id": vol}}, nil)
	if _, msg := fault(body); status != 400 || msg != "Invalid volume: volume size 1 is too small to restore backup of size 2." {
		t.Fatalf("restore into a smaller volume: %d %q", status, msg)
	}
	e.setVolumeStatus(big, "in-use")
	status, body, _, _ = e.Do("POST", "/v3/backups/"+bigBackup+"/restore", e.DemoToken, map[string]any{"restore": map[string]any{"volume_id": big}}, nil)
	if _, msg := fault(body); status != 400 || msg != "Invalid volume: Volume to be restored to must be available" {
		t.Fatalf("restore into an in-use volume: %d %q", status, msg)
	}
	e.setVolumeStatus(big, "available")
	e.Must(http.StatusBadRequest, "POST", "/v3/backups/"+bigBackup+"/restore", e.DemoToken, map[string]any{})

	// admin actions
	path := "/v3/backups/" + forced + "/action"
	e.Must(http.StatusForbidden, "POST", path, e.DemoToken, map[string]any{"os-reset_status": map[string]any{"status": "error"}})
	e.Must(http.StatusBadRequest, "POST", path, e.AdminToken, map[string]any{"os-reset_status": map[string]any{"status": "creating"}})
	e.Must(http.StatusAccepted, "POST", path, e.AdminToken, map[string]any{"os-reset_status": map[string]any{"status": "error"}})
	if st := e.backup(e.DemoToken, forced)["status"]; st != "error" {
		t.Fatalf("after reset: %v", st)
	}
	e.Must(http.StatusBadRequest, "POST", "/v3/backups/"+forced+"/restore", e.DemoToken, map[string]any{"restore": map[string]any{}})
	if _, err := e.DB.ExecContext(t.Context(), `UPDATE volume_backups SET status = 'creating' WHERE id = ?`, forced); err != nil {
		t.Fatal(err)
	}
	status, body, _, _ = e.Do("DELETE", "/v3/backups/"+forced, e.DemoToken, nil, nil)
	if _, msg := fault(body); status != 400 || msg != "Invalid backup: Backup status must be available or error" {
		t.Fatalf("delete creating: %d %q", status, msg)
	}
	e.Must(http.StatusForbidden, "POST", path, e.DemoToken, map[string]any{"os-force_delete": map[string]any{}})
	e.Must(http.StatusAccepted, "POST", path, e.AdminToken, map[string]any{"os-force_delete": map[string]any{}})
	e.settle()
	e.Must(http.StatusNotFound, "GET", "/v3/backups/"+forced, e.DemoToken, nil)

	// another project sees none
	other, _ := e.NewProjectUser("other")
	e.Must(http.StatusNotFound, "GET", "/v3/backups/"+bigBackup, other, nil)
	e.Must(http.StatusNotFound, "POST", "/v3/backups/"+bigBackup+"/restore", other, map[string]any{"restore": nil})
	if got := e.Must(http.StatusOK, "GET", "/v3/backups", other, nil)["backups"].([]any); len(got) != 0 {
		t.Fatalf("another project lists %v", got)
	}
}

func TestBackupOfSnapshot(t *testing.T) {
	e := newTestEnv(t, nil).withBackups()
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1, "volume_type": e.pinnedType("beta")})
	writePattern(t, e.Backends["beta"], vol, 1, "snap-time")
	snap := e.createSnapshot(e.DemoToken, map[string]any{"volume_id": vol})
	writePattern(t, e.Backends["beta"], vol, 1, "later-now")
	out := e.Must(http.StatusAccepted, "POST", "/v3/backups", e.DemoToken, map[string]any{"backup": map[string]any{
		"volume_id": vol, "snapshot_id": snap}})
	id := out["backup"].(map[string]any)["id"].(string)
	if st := e.showSnapshot(e.DemoToken, snap)["status"]; st != "backing-up" {
		t.Fatalf("snapshot while backed up: %v", st)
	}
	if st := e.volume(e.DemoToken, vol)["status"]; st != "available" {
		t.Fatalf("volume while its snapshot is backed up: %v", st)
	}
	e.settle()
	if bk := e.backup(e.DemoToken, id); bk["snapshot_id"] != snap || bk["status"] != "available" {
		t.Fatalf("backup of snapshot %v", bk)
	}
	if st := e.showSnapshot(e.DemoToken, snap)["status"]; st != "available" {
		t.Fatalf("snapshot after backup: %v", st)
	}
	e.Must(http.StatusAccepted, "POST", "/v3/backups/"+id+"/restore", e.DemoToken, map[string]any{"restore": map[string]any{"volume_id": vol}})
	e.settle()
	if got := readPattern(t, e.Backends["beta"], vol, 1, 9); got != "snap-time" {
		t.Fatalf("restored from the snapshot's backup: %q", got)
	}
}

func TestBackupQuotaAndNoService(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.Quotas = map[string]int{"backups": 1} })
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	// no backup service: the backup is in error and the volume untouched
	id := e.createBackup(e.DemoToken, map[string]any{"volume_id": vol})
	if bk := e.backup(e.DemoToken, id); bk["status"] != "error" || bk["fail_reason"] != "Service cinder-backup could not be found." {
		t.Fatalf("backup without a service %v", bk)
	}
	if st := e.volume(e.DemoToken, vol)["status"]; st != "available" {
		t.Fatalf("volume: %v", st)
	}
	status, body, _, _ := e.Do("POST", "/v3/backups", e.DemoToken, map[string]any{"backup": map[string]any{"volume_id": vol}}, nil)
	if kind, msg := fault(body); status != 413 || kind != "overLimit" || msg != "Maximum number of backups allowed (1) exceeded" {
		t.Fatalf("over quota: %d %s %q", status, kind, msg)
	}
	// an errored backup that never reached a service goes at once
	e.Must(http.StatusAccepted, "DELETE", "/v3/backups/"+id, e.DemoToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/backups/"+id, e.DemoToken, nil)
}

func TestBackupListUpdateAndPaging(t *testing.T) {
	e := newTestEnv(t, nil).withBackups()
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	for i := range 3 {
		e.createBackup(e.DemoToken, map[string]any{"volume_id": vol, "name": fmt.Sprintf("b%d", i)})
	}
	names := func(version, query string) []string {
		out := e.MustV(http.StatusOK, version, "GET", "/v3/backups"+query, e.DemoToken, nil)
		var got []string
		for _, b := range out["backups"].([]any) {
			got = append(got, fmt.Sprint(b.(map[string]any)["name"]))
		}
		return got
	}
	if got := names("3.37", "?sort=name:asc"); !slices.Equal(got, []string{"b0", "b1", "b2"}) {
		t.Fatalf("sorted %v", got)
	}
	e.MustV(http.StatusBadRequest, "3.36", "GET", "/v3/backups?sort=name:asc", e.DemoToken, nil)
	if got := names("", "?name=b1"); !slices.Equal(got, []string{"b1"}) {
		t.Fatalf("name filter %v", got)
	}
	page := e.MustV(http.StatusOK, "3.45", "GET", "/v3/backups/detail?sort=display_name:asc&limit=2&with_count=1", e.DemoToken, nil)
	if len(page["backups"].([]any)) != 2 || page["backups_links"] == nil || page["count"] != float64(3) {
		t.Fatalf("page %v", page)
	}
	id := page["backups"].([]any)[0].(map[string]any)["id"].(string)
	e.MustV(http.StatusNotFound, "3.8", "PUT", "/v3/backups/"+id, e.DemoToken, map[string]any{"backup": map[string]any{"name": "x"}})
	upd := e.MustV(http.StatusOK, "3.43", "PUT", "/v3/backups/"+id, e.DemoToken,
		map[string]any{"backup": map[string]any{"name": "renamed", "metadata": map[string]any{"k": "v"}}})["backup"].(map[string]any)
	if upd["name"] != "renamed" {
		t.Fatalf("updated %v", upd)
	}
	if md := e.MustV(http.StatusOK, "3.43", "GET", "/v3/backups/"+id, e.DemoToken, nil)["backup"].(map[string]any)["metadata"].(map[string]any); md["k"] != "v" {
		t.Fatalf("metadata %v", md)
	}
	e.Must(http.StatusBadRequest, "GET", "/v3/backups?all_tenants=maybe", e.AdminToken, nil)
}

func TestBackupExportImportRecord(t *testing.T) {
	e := newTestEnv(t, nil).withBackups()
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1, "volume_type": e.pinnedType("alpha")})
	writePattern(t, e.Backends["alpha"], vol, 1, "exported")
	id := e.createBackup(e.DemoToken, map[string]any{"volume_id": vol, "name": "exp"})
	e.Must(http.StatusForbidden, "GET", "/v3/backups/"+id+"/export_record", e.DemoToken, nil)
	rec := e.Must(http.StatusOK, "GET", "/v3/backups/"+id+"/export_record", e.AdminToken, nil)["backup-record"].(map[string]any)
	if rec["backup_service"] == "" || rec["backup_url"] == "" {
		t.Fatalf("record %v", rec)
	}
	status, body, _, _ := e.Do("POST", "/v3/backups/import_record", e.AdminToken, map[string]any{"backup-record": rec}, nil)
	if _, msg := fault(body); status != 400 || msg != "Invalid backup: Backup already exists in database." {
		t.Fatalf("import over an existing backup: %d %q", status, msg)
	}
	e.Must(http.StatusBadRequest, "POST", "/v3/backups/import_record", e.AdminToken,
		map[string]any{"backup-record": map[string]any{"backup_service": "x", "backup_url": "not base64!"}})
	// the row gone (as on another deployment), the record brings the backup back
	if _, err := e.DB.ExecContext(t.Context(), `DELETE FROM volume_backups WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	out := e.Must(http.StatusCreated, "POST", "/v3/backups/import_record", e.AdminToken, map[string]any{"backup-record": rec})
	if got := out["backup"].(map[string]any); got["id"] != id || got["name"] != "exp" {
		t.Fatalf("imported %v", got)
	}
	if bk := e.backup(e.AdminToken, id); bk["status"] != "available" || bk["size"] != float64(1) {
		t.Fatalf("imported backup %v", bk)
	}
	res := e.Must(http.StatusAccepted, "POST", "/v3/backups/"+id+"/restore", e.AdminToken, map[string]any{"restore": nil})
	fresh := res["restore"].(map[string]any)["volume_id"].(string)
	e.settle()
	if got := readPattern(t, e.Backends[volumeBackend(e, fresh)], fresh, 1, 8); got != "exported" {
		t.Fatalf("restored from the imported backup: %q", got)
	}
}
