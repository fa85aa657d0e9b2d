package volume

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// syncBuffer is a log sink the server's goroutines may write at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSnapshotBackupResponseSchemas drives every snapshot, backup, zone,
// service, pool and QoS route at the oldest and newest microversion, as a member
// and as an admin, with the response check on: no answer breaks its schema,
// and none of these routes answers unchecked.
func TestSnapshotBackupResponseSchemas(t *testing.T) {
	logs := &syncBuffer{}
	e := newTestEnv(t, func(o *Options) {
		o.CheckResponses = true
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}).withBackups()
	vol := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	for _, version := range []string{"3.0", "3.70"} {
		for _, token := range []string{e.DemoToken, e.AdminToken} {
			do := func(want int, method, path string, body any) map[string]any {
				t.Helper()
				return e.MustV(want, version, method, path, token, body)
			}
			snap := do(http.StatusAccepted, "POST", "/v3/snapshots", map[string]any{"snapshot": map[string]any{
				"volume_id": vol, "name": "s", "metadata": map[string]any{"a": "b"}}})["snapshot"].(map[string]any)["id"].(string)
			e.settle()
			do(http.StatusOK, "GET", "/v3/snapshots", nil)
			do(http.StatusOK, "GET", "/v3/snapshots/detail?limit=1", nil)
			do(http.StatusOK, "GET", "/v3/snapshots/"+snap, nil)
			do(http.StatusOK, "PUT", "/v3/snapshots/"+snap, map[string]any{"snapshot": map[string]any{"name": "t"}})
			do(http.StatusOK, "GET", "/v3/snapshots/"+snap+"/metadata", nil)
			do(http.StatusOK, "POST", "/v3/snapshots/"+snap+"/metadata", map[string]any{"metadata": map[string]any{"c": "d"}})
			do(http.StatusOK, "PUT", "/v3/snapshots/"+snap+"/metadata", map[string]any{"metadata": map[string]any{"c": "e"}})
			do(http.StatusOK, "GET", "/v3/snapshots/"+snap+"/metadata/c", nil)
			do(http.StatusOK, "PUT", "/v3/snapshots/"+snap+"/metadata/c", map[string]any{"meta": map[string]any{"c": "f"}})
			do(http.StatusOK, "DELETE", "/v3/snapshots/"+snap+"/metadata/c", nil)
			e.MustV(http.StatusAccepted, version, "POST", "/v3/snapshots/"+snap+"/action", e.AdminToken,
				map[string]any{"os-reset_status": map[string]any{"status": "error"}})

			bk := do(http.StatusAccepted, "POST", "/v3/backups", map[string]any{"backup": map[string]any{
				"volume_id": vol, "name": "b"}})["backup"].(map[string]any)["id"].(string)
			e.settle()
			do(http.StatusOK, "GET", "/v3/backups", nil)
			do(http.StatusOK, "GET", "/v3/backups/detail?limit=1", nil)
			do(http.StatusOK, "GET", "/v3/backups/"+bk, nil)
			if version != "3.0" {
				do(http.StatusOK, "PUT", "/v3/backups/"+bk, map[string]any{"backup": map[string]any{"name": "c"}})
			}
			do(http.StatusAccepted, "POST", "/v3/backups/"+bk+"/restore", map[string]any{"restore": map[string]any{"volume_id": vol}})
			e.settle()
			do(http.StatusAccepted, "DELETE", "/v3/backups/"+bk, nil)
			do(http.StatusAccepted, "DELETE", "/v3/snapshots/"+snap, nil)
			e.settle()
			do(http.StatusOK, "GET", "/v3/os-availability-zone", nil)
		}
		e.MustV(http.StatusOK, version, "GET", "/v3/os-services", e.AdminToken, nil)
		e.MustV(http.StatusOK, version, "GET", "/v3/scheduler-stats/get_pools?detail=true", e.AdminToken, nil)
		e.MustV(http.StatusOK, version, "PUT", "/v3/os-services/disable", e.AdminToken, map[string]any{"host": "node1@beta", "binary": "cinder-volume"})
		e.MustV(http.StatusOK, version, "PUT", "/v3/os-services/enable", e.AdminToken, map[string]any{"host": "node1@beta", "binary": "cinder-volume"})
	}
	qos := e.Must(http.StatusOK, "POST", "/v3/qos-specs", e.AdminToken, map[string]any{"qos_specs": map[string]any{
		"name": "q", "k": "v"}})["qos_specs"].(map[string]any)["id"].(string)
	typ := e.Must(http.StatusOK, "POST", "/v3/types", e.AdminToken, map[string]any{"volume_type": map[string]any{
		"name": "qt"}})["volume_type"].(map[string]any)["id"].(string)
	e.Must(http.StatusOK, "GET", "/v3/qos-specs", e.AdminToken, nil)
	e.Must(http.StatusOK, "GET", "/v3/qos-specs/"+qos, e.AdminToken, nil)
	e.Must(http.StatusOK, "PUT", "/v3/qos-specs/"+qos, e.AdminToken, map[string]any{"qos_specs": map[string]any{"k2": "v"}})
	e.Must(http.StatusAccepted, "PUT", "/v3/qos-specs/"+qos+"/delete_keys", e.AdminToken, map[string]any{"keys": []any{"k2"}})
	e.Must(http.StatusAccepted, "GET", "/v3/qos-specs/"+qos+"/associate?vol_type_id="+typ, e.AdminToken, nil)
	e.Must(http.StatusOK, "GET", "/v3/qos-specs/"+qos+"/associations", e.AdminToken, nil)
	e.Must(http.StatusAccepted, "GET", "/v3/qos-specs/"+qos+"/disassociate?vol_type_id="+typ, e.AdminToken, nil)
	e.Must(http.StatusAccepted, "GET", "/v3/qos-specs/"+qos+"/disassociate_all", e.AdminToken, nil)
	e.Must(http.StatusAccepted, "DELETE", "/v3/qos-specs/"+qos, e.AdminToken, nil)
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, httpapi.ResponseViolation) {
			t.Errorf("%s", line)
		}
		if strings.Contains(line, httpapi.ResponseUnchecked) && !strings.Contains(line, "/v3/volumes") &&
			!strings.Contains(line, "/v3/types") {
			t.Errorf("%s", line)
		}
	}
}
