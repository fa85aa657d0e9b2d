package volume

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// fuzzSend sends body as it is; inside a fuzz target only t may fail the test.
func fuzzSend(t *testing.T, method, url, token string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("OpenStack-API-Version", "volume 3.70")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// fuzzSeeds adds the seeds with {vol} naming the fuzzed volume.
func fuzzSeeds(f *testing.F, volumeID string, seeds ...string) {
	for _, s := range seeds {
		f.Add(bytes.ReplaceAll([]byte(s), []byte("{vol}"), []byte(volumeID)))
	}
}

// FuzzSnapshotAndBackupBodies: whatever a member puts in a snapshot or
// backup create, update, restore or action body, the answer is never a 5xx,
// and an admin-only action is never done for the member.
func FuzzSnapshotAndBackupBodies(f *testing.F) {
	e := newTestEnv(f, nil)
	e.Manager.SetBackupDriver(directoryBackups(f, f.TempDir()))
	e.settle()
	out := e.Must(http.StatusAccepted, "POST", "/v3/volumes", e.DemoToken, map[string]any{"volume": map[string]any{"size": 1}})
	vol := out["volume"].(map[string]any)["id"].(string)
	e.settle()
	snap := e.Must(http.StatusAccepted, "POST", "/v3/snapshots", e.DemoToken,
		map[string]any{"snapshot": map[string]any{"volume_id": vol}})["snapshot"].(map[string]any)["id"].(string)
	bk := e.Must(http.StatusAccepted, "POST", "/v3/backups", e.DemoToken,
		map[string]any{"backup": map[string]any{"volume_id": vol}})["backup"].(map[string]any)["id"].(string)
	e.settle()
	fuzzSeeds(f, vol,
		`{"snapshot": {"volume_id": "{vol}", "name": "s", "force": "true", "metadata": {"a": "b"}}}`,
		`{"snapshot": {"volume_id": "{vol}", "force": false}}`,
		`{"backup": {"volume_id": "{vol}", "incremental": "yes", "container": "c", "availability_zone": null}}`,
		`{"backup": {"volume_id": "{vol}", "snapshot_id": "{vol}", "metadata": {"k": 1}}}`,
		`{"restore": {"volume_id": "{vol}", "name": null}}`, `{"restore": null}`,
		`{"os-reset_status": {"status": "available"}}`, `{"os-force_delete": {}}`,
		`{"os-update_snapshot_status": {"status": "available", "progress": 7}}`,
		`{"os-reset_status": []}`, `{"snapshot": {"name": "x"}}`, `{"backup": null}`, `null`, `[]`, `{`,
	)
	targets := []struct{ method, path string }{
		{"POST", "/v3/snapshots"}, {"PUT", "/v3/snapshots/" + snap}, {"POST", "/v3/snapshots/" + snap + "/action"},
		{"PUT", "/v3/snapshots/" + snap + "/metadata"}, {"POST", "/v3/backups"}, {"PUT", "/v3/backups/" + bk},
		{"POST", "/v3/backups/" + bk + "/restore"}, {"POST", "/v3/backups/" + bk + "/action"},
		{"PUT", "/v3/os-services/disable"},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, tg := range targets {
			if status := fuzzSend(t, tg.method, e.URL+tg.path, e.DemoToken, body); status >= 500 {
				t.Fatalf("%s %s as a member: %d", tg.method, tg.path, status)
			}
		}
		// the fuzzer's restores and backups leave rows in flight: the
		// manager takes them on, and must not fail on anything a body made
		if err := e.Manager.Pass(t.Context()); err != nil {
			t.Logf("manager pass: %v", err)
		}
		var snapStatus string
		if err := e.DB.QueryRowContext(t.Context(), `SELECT status FROM volume_snapshots WHERE id = ?`, snap).Scan(&snapStatus); err != nil {
			t.Fatal(err)
		}
		if snapStatus != snapshotAvailable {
			t.Fatalf("a member's body left the snapshot %s (reset and force delete are the admin's)", snapStatus)
		}
		var disabled int
		if err := e.DB.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM volume_services WHERE disabled`).Scan(&disabled); err != nil {
			t.Fatal(err)
		}
		if disabled > 0 {
			t.Fatal("a member disabled a service")
		}
	})
}

// FuzzBackupImportRecord: whatever record an admin imports (its base64 JSON
// is parsed here), the answer is never a 5xx, and what is imported is a
// backup of the admin's project that shows without error.
func FuzzBackupImportRecord(f *testing.F) {
	e := newTestEnv(f, nil)
	e.Manager.SetBackupDriver(directoryBackups(f, f.TempDir()))
	e.settle()
	for _, rec := range []string{
		`{"id": "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1", "size": 1, "display_name": "x", "container": "c", "service_metadata": "p"}`,
		`{"id": "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a2", "size": -5, "parent_id": "nope", "object_count": 1e9}`,
		`{"id": 7, "size": "1"}`, `{"size": 1}`, `[]`, `null`, `{`,
	} {
		f.Add(base64.StdEncoding.EncodeToString([]byte(rec)))
	}
	f.Add("%%%")
	url := e.URL + "/v3/backups/import_record"
	f.Fuzz(func(t *testing.T, backupURL string) {
		body, err := json.Marshal(map[string]any{"backup-record": map[string]any{"backup_service": "svc", "backup_url": backupURL}})
		if err != nil {
			t.Fatal(err)
		}
		if status := fuzzSend(t, "POST", url, e.AdminToken, body); status >= 500 {
			t.Fatalf("import of %q: %d", backupURL, status)
		}
		if status := fuzzSend(t, "GET", e.URL+"/v3/backups/detail?all_tenants=1", e.AdminToken, nil); status != http.StatusOK {
			t.Fatalf("list after import of %q: %d", backupURL, status)
		}
	})
}
