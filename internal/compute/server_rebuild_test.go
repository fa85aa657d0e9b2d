package compute

import (
	"testing"
)

// TestRebuild: the server boots again from another image with a new name and
// metadata (REBUILD at once, then ACTIVE; a stopped one SHUTOFF), each field
// from its microversion; bad requests are 400 and change nothing, a locked or
// busy server 409.
func TestRebuild(t *testing.T) {
	e := newMVEnv(t)
	e.images.add(Image{ID: "aaaaaaaa-0000-4000-8000-000000000002", Name: "other", Status: "active", DiskFormat: "qcow2", Size: 16 << 20, VirtualSize: 33 << 20,
		Properties: map[string]string{"hypervisor_type": "qemu"}})
	e.images.add(Image{ID: "aaaaaaaa-0000-4000-8000-000000000003", Name: "big", Status: "active", DiskFormat: "qcow2", MinDisk: 500})
	id := e.activeServer("2.1", nil)
	action := "/v2.1/servers/" + id + "/action"

	for _, tc := range []struct {
		name, version string
		body          any
		want          int
		msg           string
	}{
		{"no imageRef", "2.1", map[string]any{"name": "x"}, 400, "'imageRef' is a required property"},
		{"not an object", "2.1", "aaaaaaaa-0000-4000-8000-000000000002", 400, "Invalid input for field/attribute rebuild. Value: aaaaaaaa-0000-4000-8000-000000000002. 'aaaaaaaa-0000-4000-8000-000000000002' is not of type 'object'"},
		{"imageRef not a UUID", "2.1", map[string]any{"imageRef": "nope"}, 400, "Invalid input for field/attribute imageRef. Value: nope. 'nope' is not a 'uuid'"},
		{"unknown image", "2.1", map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-0000000000ff"}, 400, "Image aaaaaaaa-0000-4000-8000-0000000000ff could not be found."},
		{"image too big", "2.1", map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000003"}, 400, "Flavor's disk is too small for requested image."},
		{"unknown field", "2.1", map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000002", "flavorRef": "2"}, 400, "('flavorRef' was unexpected)"},
		{"key_name before 2.54", "2.53", map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000002", "key_name": "k"}, 400, "('key_name' was unexpected)"},
		{"unknown key", "2.54", map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000002", "key_name": "nope"}, 400, "Invalid key_name provided."},
		{"user_data not base64", "2.57", map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000002", "user_data": "%%%"}, 400, "is not a 'base64'"},
		{"personality from 2.57", "2.57", map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000002", "personality": []any{}}, 400, "('personality' was unexpected)"},
		{"empty name", "2.1", map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000002", "name": " "}, 400, "An invalid 'name' value was provided. The name must be: printable characters. Can not start or end with whitespace."},
		{"bad disk config", "2.1", map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000002", "OS-DCF:diskConfig": "X"}, 400, "is not one of ['AUTO', 'MANUAL']"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw, _ := e.send(tc.version, "POST", action, e.DemoToken, map[string]any{"rebuild": tc.body})
			checkFault(t, status, out, raw, tc.want, tc.msg)
		})
	}
	if img := e.server(id)["image"].(map[string]any)["id"]; img != "aaaaaaaa-0000-4000-8000-000000000001" {
		t.Fatalf("a refused rebuild changed the image: %v", img)
	}

	out := e.mustAt(202, "2.1", "POST", action, e.DemoToken, map[string]any{"rebuild": map[string]any{
		"imageRef": "aaaaaaaa-0000-4000-8000-000000000002", "name": "rebuilt", "adminPass": "s3cret", "metadata": map[string]any{"role": "db"}}})["server"].(map[string]any)
	if out["status"] != "REBUILD" || out["adminPass"] != "s3cret" || out["name"] != "rebuilt" || out["id"] != id {
		t.Errorf("rebuild answer = %v", out)
	}
	status, f, raw, _ := e.send("2.1", "POST", action, e.DemoToken, map[string]any{"rebuild": map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000002"}})
	checkFault(t, status, f, raw, 409, "Cannot 'rebuild' instance "+id+" while it is in task_state rebuilding")
	e.agent()
	srv := e.server(id)
	if srv["status"] != "ACTIVE" || srv["image"].(map[string]any)["id"] != "aaaaaaaa-0000-4000-8000-000000000002" || srv["name"] != "rebuilt" ||
		srv["metadata"].(map[string]any)["role"] != "db" {
		t.Errorf("after the rebuild: %v", srv)
	}
	var actions []string
	for _, a := range e.Must(200, "GET", "/v2.1/servers/"+id+"/os-instance-actions", e.DemoToken, nil)["instanceActions"].([]any) {
		actions = append(actions, a.(map[string]any)["action"].(string))
	}
	if len(actions) == 0 || actions[0] != "rebuild" {
		t.Errorf("instance actions = %v", actions)
	}

	// A stopped server is rebuilt stopped.
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"os-stop": nil})
	e.agent()
	e.mustAt(202, "2.1", "POST", action, e.DemoToken, map[string]any{"rebuild": map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000001"}})
	e.agent()
	if srv := e.server(id); srv["status"] != "SHUTOFF" || srv["image"].(map[string]any)["id"] != "aaaaaaaa-0000-4000-8000-000000000001" {
		t.Errorf("stopped server after its rebuild: %v %v", srv["status"], srv["image"])
	}

	// Locked: the owner is refused, an admin is not; paused is the wrong state.
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"os-start": nil})
	e.agent()
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"lock": nil})
	status, f, raw, _ = e.send("2.1", "POST", action, e.DemoToken, map[string]any{"rebuild": map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000002"}})
	checkFault(t, status, f, raw, 409, "Instance "+id+" is locked")
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"unlock": nil})
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"pause": nil})
	e.agent()
	status, f, raw, _ = e.send("2.1", "POST", action, e.DemoToken, map[string]any{"rebuild": map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000002"}})
	checkFault(t, status, f, raw, 409, "Cannot 'rebuild' instance "+id+" while it is in vm_state paused")
}
