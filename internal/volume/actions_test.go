package volume

import (
	"context"
	"net/http"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

func action(name string, body any) map[string]any { return map[string]any{name: body} }

func TestVolumeExtend(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	path := "/v3/volumes/" + id + "/action"
	status, body, _, _ := e.Do("POST", path, e.DemoToken, action("os-extend", map[string]any{"new_size": 1}), nil)
	if _, msg := fault(body); status != 400 || msg != "Invalid input received: New size for extend must be greater than current size. (current: 1, extended: 1)." {
		t.Fatalf("shrink: %d %q", status, msg)
	}
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-extend", map[string]any{"new_size": 2}))
	if st := e.volume(e.DemoToken, id)["status"]; st != "extending" {
		t.Fatalf("while extending: %v", st)
	}
	e.settle()
	v := e.volume(e.DemoToken, id)
	if v["status"] != "available" || v["size"] != float64(2) {
		t.Fatalf("extended: %v %v", v["status"], v["size"])
	}
	// in-use: refused before 3.42, online from it
	e.Must(http.StatusOK, "POST", path, e.DemoToken, action("os-initialize_connection", map[string]any{"connector": map[string]any{"host": "cn1"}}))
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-attach", map[string]any{"instance_uuid": "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1", "mountpoint": "/dev/vdb"}))
	status, body, _, _ = e.Do("POST", path, e.DemoToken, action("os-extend", map[string]any{"new_size": 3}), nil)
	if _, msg := fault(body); status != 400 || msg != "Invalid volume: Volume "+id+" status must be '{'status': 'available'}' to extend, currently in-use." {
		t.Fatalf("in-use extend at 3.0: %d %q", status, msg)
	}
	e.MustV(http.StatusAccepted, "3.42", "POST", path, e.DemoToken, action("os-extend", map[string]any{"new_size": 3}))
	e.settle()
	v = e.volume(e.DemoToken, id)
	if v["status"] != "in-use" || v["size"] != float64(3) {
		t.Fatalf("online extend: %v %v", v["status"], v["size"])
	}
	// deleting an in-use volume is refused
	status, body, _, _ = e.Do("DELETE", "/v3/volumes/"+id, e.DemoToken, nil, nil)
	if kind, _ := fault(body); status != 400 || kind != "badRequest" {
		t.Fatalf("delete in-use: %d %v", status, body)
	}
}

func TestVolumeLegacyAttachFlow(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	path := "/v3/volumes/" + id + "/action"
	server := "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1"
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-reserve", nil))
	if st := e.volume(e.DemoToken, id)["status"]; st != "attaching" {
		t.Fatalf("reserved: %v", st)
	}
	e.Must(http.StatusBadRequest, "POST", path, e.DemoToken, action("os-reserve", nil))
	conn := e.Must(http.StatusOK, "POST", path, e.DemoToken,
		action("os-initialize_connection", map[string]any{"connector": map[string]any{"host": "cn1", "ip": "10.0.0.5"}}))
	info := conn["connection_info"].(map[string]any)
	if info["driver_volume_type"] != "nbd" || info["data"].(map[string]any)["access_mode"] != "rw" {
		t.Fatalf("connection_info %v", info)
	}
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-attach", map[string]any{"instance_uuid": server, "mountpoint": "/dev/vdb"}))
	v := e.volume(e.DemoToken, id)
	atts := v["attachments"].([]any)
	if v["status"] != "in-use" || len(atts) != 1 || atts[0].(map[string]any)["server_id"] != server ||
		atts[0].(map[string]any)["device"] != "/dev/vdb" {
		t.Fatalf("attached: %v %v", v["status"], atts)
	}
	exports, _ := e.Backends[hostBackend(e, id)].Exports(context.Background())
	if len(exports) != 1 || exports[0].VolumeID != id {
		t.Fatalf("exports %v", exports)
	}
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-begin_detaching", nil))
	if st := e.volume(e.DemoToken, id)["status"]; st != "detaching" {
		t.Fatalf("detaching: %v", st)
	}
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-roll_detaching", nil))
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-begin_detaching", nil))
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-terminate_connection", map[string]any{"connector": map[string]any{"host": "cn1"}}))
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-detach", map[string]any{"attachment_id": atts[0].(map[string]any)["attachment_id"]}))
	v = e.volume(e.DemoToken, id)
	if v["status"] != "available" || len(v["attachments"].([]any)) != 0 {
		t.Fatalf("detached: %v %v", v["status"], v["attachments"])
	}
	if exports, _ := e.Backends[hostBackend(e, id)].Exports(context.Background()); len(exports) != 0 {
		t.Fatalf("exports left %v", exports)
	}
}

// hostBackend is the backend name the scheduler placed a volume on.
func hostBackend(e *testEnv, id string) string {
	v := e.volume(e.AdminToken, id)
	host := v["os-vol-host-attr:host"].(string)
	for name := range e.Backends {
		if host == "node1@"+name+"#"+name {
			return name
		}
	}
	e.t.Fatalf("volume %s on unknown host %s", id, host)
	return ""
}

func TestVolumeAttachmentsAPI(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	server := "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1"
	// the API starts at 3.27
	e.MustV(http.StatusNotFound, "3.26", "POST", "/v3/attachments", e.DemoToken,
		map[string]any{"attachment": map[string]any{"volume_uuid": id, "instance_uuid": server}})
	a := e.MustV(http.StatusOK, "3.44", "POST", "/v3/attachments", e.DemoToken,
		map[string]any{"attachment": map[string]any{"volume_uuid": id, "instance_uuid": server}})["attachment"].(map[string]any)
	if a["status"] != "reserved" || a["instance"] != server {
		t.Fatalf("reserved attachment %v", a)
	}
	if st := e.volume(e.DemoToken, id)["status"]; st != "reserved" {
		t.Fatalf("volume after reserve: %v", st)
	}
	// one attachment per non-multiattach volume
	status, body, _, _ := e.DoV("3.44", "POST", "/v3/attachments", e.DemoToken,
		map[string]any{"attachment": map[string]any{"volume_uuid": id, "instance_uuid": "1b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1"}})
	if _, msg := fault(body); status != 400 || msg != "Invalid volume: Volume "+id+" status must be available or downloading to reserve, but the current status is reserved." {
		t.Fatalf("second attachment: %d %q", status, msg)
	}
	aid := a["id"].(string)
	a = e.MustV(http.StatusOK, "3.44", "PUT", "/v3/attachments/"+aid, e.DemoToken,
		map[string]any{"attachment": map[string]any{"connector": map[string]any{"host": "cn1", "mountpoint": "/dev/vdc"}}})["attachment"].(map[string]any)
	if a["status"] != "attaching" || a["connection_info"].(map[string]any)["driver_volume_type"] != "nbd" {
		t.Fatalf("updated attachment %v", a)
	}
	e.MustV(http.StatusNoContent, "3.44", "POST", "/v3/attachments/"+aid+"/action", e.DemoToken, map[string]any{"os-complete": nil})
	v := e.volume(e.DemoToken, id)
	if v["status"] != "in-use" || len(v["attachments"].([]any)) != 1 {
		t.Fatalf("completed: %v %v", v["status"], v["attachments"])
	}
	list := e.MustV(http.StatusOK, "3.44", "GET", "/v3/attachments?volume_id="+id, e.DemoToken, nil)["attachments"].([]any)
	if len(list) != 1 {
		t.Fatalf("list %v", list)
	}
	// another project neither sees nor deletes it
	other, _ := e.NewProjectUser("other")
	e.MustV(http.StatusNotFound, "3.44", "GET", "/v3/attachments/"+aid, other, nil)
	e.MustV(http.StatusNotFound, "3.44", "DELETE", "/v3/attachments/"+aid, other, nil)
	e.MustV(http.StatusNotFound, "3.44", "POST", "/v3/attachments", other,
		map[string]any{"attachment": map[string]any{"volume_uuid": id, "instance_uuid": server}})
	left := e.MustV(http.StatusOK, "3.44", "DELETE", "/v3/attachments/"+aid, e.DemoToken, nil)["attachments"].([]any)
	if len(left) != 0 {
		t.Fatalf("left %v", left)
	}
	if st := e.volume(e.DemoToken, id)["status"]; st != "available" {
		t.Fatalf("after delete: %v", st)
	}
}

// DoV is Do at a microversion.
func (e *testEnv) DoV(version, method, path, token string, body any) (int, map[string]any, []byte, http.Header) {
	e.t.Helper()
	return e.Do(method, path, token, body, map[string]string{"OpenStack-API-Version": "volume " + version})
}

func TestVolumeManagerConvergesExports(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	path := "/v3/volumes/" + id + "/action"
	e.Must(http.StatusOK, "POST", path, e.DemoToken, action("os-initialize_connection", map[string]any{"connector": map[string]any{"host": "cn1"}}))
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-attach", map[string]any{"instance_uuid": "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1", "mountpoint": "/dev/vdb"}))
	b := e.Backends[hostBackend(e, id)]
	ctx := context.Background()
	exports, _ := b.Exports(ctx)
	if len(exports) != 1 {
		t.Fatalf("exports %v", exports)
	}
	// the export vanished (the export daemon was killed): the next pass restores it
	if err := b.Unexport(ctx, backend.Volume{ID: id}, exports[0].AttachmentID); err != nil {
		t.Fatal(err)
	}
	// and an export the database does not know is removed
	if _, err := b.Export(ctx, backend.Volume{ID: id, SizeGB: 1}, backend.Export{VolumeID: id, AttachmentID: "stale"}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	after, _ := b.Exports(ctx)
	if len(after) != 1 || after[0].AttachmentID != exports[0].AttachmentID {
		t.Fatalf("after convergence: %v", after)
	}
	// a restarted manager (new process) converges to the same
	e.restart()
	e.settle()
	if again, _ := b.Exports(ctx); len(again) != 1 {
		t.Fatalf("after restart: %v", again)
	}
}

// TestVolumeManagerKeepsExportsInFlight: an export the manager made for the
// API, whose connection_info the API has not committed yet, survives a
// convergence that read the database before it (else its port and key go,
// and the connection_info the API stores leads nowhere).
func TestVolumeManagerKeepsExportsInFlight(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	host := e.volume(e.AdminToken, id)["os-vol-host-attr:host"].(string)
	v := backend.Volume{ID: id, SizeGB: 1}
	ctx := context.Background()
	if _, err := e.Manager.InitializeConnection(ctx, host, v, backend.Export{VolumeID: id, AttachmentID: "in-flight"}); err != nil {
		t.Fatal(err)
	}
	e.settle()
	b := e.Backends[hostBackend(e, id)]
	if got, _ := b.Exports(ctx); len(got) != 1 || got[0].AttachmentID != "in-flight" {
		t.Fatalf("after a convergence, exports %v; want the in-flight one kept", got)
	}
	if err := e.Manager.TerminateConnection(ctx, host, v, "in-flight"); err != nil {
		t.Fatal(err)
	}
	e.settle()
	if got, _ := b.Exports(ctx); len(got) != 0 {
		t.Fatalf("after its unexport, exports %v", got)
	}
}

func TestVolumeAdminActions(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	path := "/v3/volumes/" + id + "/action"
	status, body, _, _ := e.Do("POST", path, e.DemoToken, action("os-reset_status", map[string]any{"status": "error"}), nil)
	if kind, msg := fault(body); status != 403 || kind != "forbidden" ||
		msg != "Policy doesn't allow volume_extension:volume_admin_actions:reset_status to be performed." {
		t.Fatalf("member reset: %d %s %q", status, kind, msg)
	}
	e.Must(http.StatusAccepted, "POST", path, e.AdminToken, action("os-reset_status", map[string]any{"status": "error"}))
	if st := e.volume(e.DemoToken, id)["status"]; st != "error" {
		t.Fatalf("reset: %v", st)
	}
	e.Must(http.StatusBadRequest, "POST", path, e.AdminToken, action("os-reset_status", map[string]any{"status": "bogus"}))
	e.Must(http.StatusAccepted, "POST", path, e.AdminToken, action("os-reset_status", map[string]any{"status": "available"}))
	e.Must(http.StatusOK, "POST", path, e.DemoToken, action("os-set_bootable", map[string]any{"bootable": true}))
	if b := e.volume(e.DemoToken, id)["bootable"]; b != "true" {
		t.Fatalf("bootable %v", b)
	}
	e.Must(http.StatusBadRequest, "POST", path, e.DemoToken, action("os-set_bootable", map[string]any{"bootable": "maybe"}))
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-update_readonly_flag", map[string]any{"readonly": true}))
	e.Must(http.StatusBadRequest, "POST", path, e.DemoToken, action("os-attach", map[string]any{"instance_uuid": "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1", "mountpoint": "/dev/vdb", "mode": "rw"}))
	e.Must(http.StatusBadRequest, "POST", path, e.DemoToken, action("os-nonsense", nil))
	e.Must(http.StatusAccepted, "POST", path, e.AdminToken, action("os-force_delete", map[string]any{}))
	e.settle()
	e.Must(http.StatusNotFound, "GET", "/v3/volumes/"+id, e.DemoToken, nil)
}

// extendedRecorder is compute told of extended volumes.
type extendedRecorder struct{ calls []string }

func (r *extendedRecorder) VolumeExtended(_ context.Context, volumeID string, servers []string) error {
	for _, s := range servers {
		r.calls = append(r.calls, volumeID+" "+s)
	}
	return nil
}

func TestVolumeOnlineExtendTellsCompute(t *testing.T) {
	e := newTestEnv(t, nil)
	rec := &extendedRecorder{}
	e.Manager.compute = rec
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	path := "/v3/volumes/" + id + "/action"
	server := "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1"
	e.Must(http.StatusOK, "POST", path, e.DemoToken, action("os-initialize_connection", map[string]any{"connector": map[string]any{"host": "cn1"}}))
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-attach", map[string]any{"instance_uuid": server, "mountpoint": "/dev/vdb"}))
	e.MustV(http.StatusAccepted, "3.42", "POST", path, e.DemoToken, action("os-extend", map[string]any{"new_size": 2}))
	e.settle()
	if len(rec.calls) != 1 || rec.calls[0] != id+" "+server {
		t.Fatalf("compute was told %v", rec.calls)
	}
}
