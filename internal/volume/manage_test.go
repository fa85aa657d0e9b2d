package volume

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestVolumeManageUnmanage: unmanage keeps the data, the listing shows the
// object as safe to manage, manage takes it back under a new id with its
// size and bytes (gophercloud's TestManageableVolumes' path), and the rules
// around it: admin only, 3.8 for manageable_volumes, host required, an
// already managed volume refused, a bad reference error_managing.
func TestVolumeManageUnmanage(t *testing.T) {
	e := newTestEnv(t, nil)
	admin, demo := e.AdminToken, e.DemoToken
	id := e.createVolume(admin, map[string]any{"size": 2, "name": "keep", "metadata": map[string]any{"k": "v"}})
	e.writeVolume(id, []byte("managed data"))
	host := e.MustV(http.StatusOK, "3.8", "GET", "/v3/volumes/"+id, admin, nil)["volume"].(map[string]any)["os-vol-host-attr:host"].(string)

	// policies: admin only
	if st, _, _, _ := e.DoV("3.8", "POST", "/v3/volumes/"+id+"/action", demo, map[string]any{"os-unmanage": nil}); st != http.StatusForbidden && st != http.StatusNotFound {
		t.Fatalf("member unmanage: %d", st)
	}
	if st, body, _, _ := e.DoV("3.8", "GET", "/v3/manageable_volumes?host="+host, demo, nil); st != http.StatusForbidden {
		t.Fatalf("member listing: %d %v", st, body)
	}
	// manageable_volumes is 3.8; os-volume-manage is not versioned
	if st, _, _, _ := e.DoV("3.7", "GET", "/v3/manageable_volumes?host="+host, admin, nil); st != http.StatusNotFound {
		t.Fatalf("3.7 listing: %d", st)
	}
	e.MustV(http.StatusOK, "3.0", "GET", "/v3/os-volume-manage?host="+host, admin, nil)
	// host required; a host without a service is 503
	st, body, _, _ := e.DoV("3.8", "GET", "/v3/manageable_volumes", admin, nil)
	if kind, msg := fault(body); st != http.StatusBadRequest || kind != "badRequest" || msg != "Invalid input received: Host field is missing." {
		t.Fatalf("no host: %d %v", st, body)
	}
	if st, _, _, _ := e.DoV("3.8", "GET", "/v3/manageable_volumes?host=nowhere@x", admin, nil); st != http.StatusServiceUnavailable {
		t.Fatalf("unknown host: %d", st)
	}
	// a managed volume is listed as not safe; managing it again is refused
	list := e.MustV(http.StatusOK, "3.8", "GET", "/v3/manageable_volumes/detail?host="+host, admin, nil)["manageable-volumes"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["safe_to_manage"] != false || list[0].(map[string]any)["cinder_id"] != id {
		t.Fatalf("listing before unmanage: %v", list)
	}
	ref := map[string]any{"source-name": "volume-" + id}
	st, body, _, _ = e.DoV("3.8", "POST", "/v3/manageable_volumes", admin, map[string]any{"volume": map[string]any{"host": host, "ref": ref}})
	if _, msg := fault(body); st != http.StatusBadRequest || msg != "Invalid volume: Unable to manage existing volume. The volume is already managed" {
		t.Fatalf("manage a managed volume: %d %v", st, body)
	}

	e.MustV(http.StatusAccepted, "3.8", "POST", "/v3/volumes/"+id+"/action", admin, map[string]any{"os-unmanage": map[string]any{}})
	e.settle()
	e.MustV(http.StatusNotFound, "3.8", "GET", "/v3/volumes/"+id, admin, nil)
	list = e.MustV(http.StatusOK, "3.8", "GET", "/v3/manageable_volumes?host="+host, admin, nil)["manageable-volumes"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["safe_to_manage"] != true || list[0].(map[string]any)["size"] != float64(2) {
		t.Fatalf("listing after unmanage: %v", list)
	}
	if _, ok := list[0].(map[string]any)["cinder_id"]; ok {
		t.Fatalf("summary listing shows detail keys: %v", list[0])
	}

	e.Must(http.StatusOK, "POST", "/v3/types", admin, map[string]any{"volume_type": map[string]any{"name": "managed-type"}})
	st, body, _, _ = e.DoV("3.8", "POST", "/v3/manageable_volumes", admin, map[string]any{"volume": map[string]any{
		"host": host, "ref": ref, "volume_type": "no-such-type"}})
	if _, msg := fault(body); st != http.StatusBadRequest || msg != "Invalid volume type: Cannot find requested 'no-such-type' volume type" {
		t.Fatalf("unknown type: %d %v", st, body)
	}
	out := e.MustV(http.StatusAccepted, "3.8", "POST", "/v3/manageable_volumes", admin, map[string]any{"volume": map[string]any{
		"host": host, "ref": ref, "name": "keep", "description": "d", "metadata": map[string]any{"k": "v"}, "bootable": true,
		"volume_type": "managed-type", "availability_zone": "nova"}})
	managed := out["volume"].(map[string]any)
	if managed["status"] != statusManaging {
		t.Fatalf("managed volume's first status: %v", managed["status"])
	}
	newID := managed["id"].(string)
	e.settle()
	v := e.MustV(http.StatusOK, "3.8", "GET", "/v3/volumes/"+newID, admin, nil)["volume"].(map[string]any)
	if v["status"] != statusAvailable || v["size"] != float64(2) || v["os-vol-host-attr:host"] != host || v["bootable"] != "true" ||
		v["metadata"].(map[string]any)["k"] != "v" || v["volume_type"] != "managed-type" || v["description"] != "d" ||
		v["availability_zone"] != "nova" || v["name"] != "keep" {
		t.Fatalf("managed volume: %v", v)
	}
	if got := e.readVolume(newID, 12); !bytes.Equal(got, []byte("managed data")) {
		t.Fatalf("managed volume's data: %q", got)
	}

	// a reference that names nothing: error_managing, and the row can go
	out = e.MustV(http.StatusAccepted, "3.0", "POST", "/v3/os-volume-manage", admin, map[string]any{"volume": map[string]any{
		"host": host, "ref": map[string]any{"source-name": "nothing-here"}}})
	badID := out["volume"].(map[string]any)["id"].(string)
	e.settle()
	if st := e.volume(admin, badID)["status"]; st != statusErrorManaging {
		t.Fatalf("bad reference: status %v", st)
	}
	e.Must(http.StatusAccepted, "DELETE", "/v3/volumes/"+badID, admin, nil)
	e.settle()
	// a reference out of the pool never reaches a path
	out = e.MustV(http.StatusAccepted, "3.0", "POST", "/v3/os-volume-manage", admin, map[string]any{"volume": map[string]any{
		"host": host, "ref": map[string]any{"source-name": "../pool-beta/volume-x"}}})
	e.settle()
	if st := e.volume(admin, out["volume"].(map[string]any)["id"].(string))["status"]; st != statusErrorManaging {
		t.Fatalf("escaping reference: status %v", st)
	}
	// schema: ref required, unknown keys refused
	for _, bad := range []map[string]any{{"volume": map[string]any{"host": host}}, {"volume": map[string]any{"host": host, "ref": ref, "size": 1}}} {
		if st, _, _, _ := e.DoV("3.8", "POST", "/v3/manageable_volumes", admin, bad); st != http.StatusBadRequest {
			t.Fatalf("bad body %v: %d", bad, st)
		}
	}
}

// TestVolumeManageQuota: the managed object's gigabytes count against the
// project's quota; over it the volume ends in error_managing and the object
// stays where it was.
func TestVolumeManageQuota(t *testing.T) {
	e := newTestEnv(t, nil)
	admin := e.AdminToken
	id := e.createVolume(admin, map[string]any{"size": 3})
	host := e.volume(admin, id)["os-vol-host-attr:host"].(string)
	pool := filepath.Join(e.Dir, "pool-"+hostBackend(e, id))
	e.MustV(http.StatusAccepted, "3.8", "POST", "/v3/volumes/"+id+"/action", admin, map[string]any{"os-unmanage": map[string]any{}})
	e.settle()
	project := e.identity.AdminProject
	e.Must(http.StatusOK, "PUT", "/v3/os-quota-sets/"+project, admin, map[string]any{"quota_set": map[string]any{"gigabytes": 2}})
	out := e.MustV(http.StatusAccepted, "3.8", "POST", "/v3/manageable_volumes", admin, map[string]any{"volume": map[string]any{
		"host": host, "ref": map[string]any{"source-id": id}}})
	e.settle()
	v := e.volume(admin, out["volume"].(map[string]any)["id"].(string))
	if v["status"] != statusErrorManaging {
		t.Fatalf("over quota: %v", v["status"])
	}
	if _, err := os.Stat(filepath.Join(pool, "volume-"+id)); err != nil {
		t.Fatalf("the object moved: %v", err)
	}
}
