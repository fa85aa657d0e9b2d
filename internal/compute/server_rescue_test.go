package compute

import "testing"

// TestRescue: rescue answers the admin password and leaves the server in
// RESCUE; the agents see the rescue image while it is rescuing and rescued; unrescue makes it
// ACTIVE again; wrong states, bad bodies and locks are refused.
func TestRescue(t *testing.T) {
	e := newMVEnv(t)
	e.images.add(Image{ID: "aaaaaaaa-0000-4000-8000-000000000006", Name: "rescue", Status: "active", DiskFormat: "raw", Size: 16 << 20})
	id := e.activeServer("2.1", nil)
	action := "/v2.1/servers/" + id + "/action"

	for _, tc := range []struct {
		name string
		body any
		want int
		msg  string
	}{
		{"unknown field", map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000001"}, 400, "('imageRef' was unexpected)"},
		{"not an object", "x", 400, "Invalid input for field/attribute rescue. Value: x. 'x' is not of type 'object', 'null'"},
		{"rescue_image_ref not a UUID", map[string]any{"rescue_image_ref": "nope"}, 400, "Invalid input for field/attribute rescue_image_ref. Value: nope. 'nope' is not a 'uuid'"},
		{"unknown image", map[string]any{"rescue_image_ref": "aaaaaaaa-0000-4000-8000-0000000000ff"}, 400, "Image aaaaaaaa-0000-4000-8000-0000000000ff could not be found."},
	} {
		status, out, raw := e.Do("POST", action, e.DemoToken, map[string]any{"rescue": tc.body})
		checkFault(t, status, out, raw, tc.want, tc.msg)
	}
	status, out, raw := e.Do("POST", action, e.DemoToken, map[string]any{"unrescue": nil})
	checkFault(t, status, out, raw, 409, "Cannot 'unrescue' instance "+id+" while it is in vm_state active")

	got := e.Must(200, "POST", action, e.DemoToken, map[string]any{"rescue": map[string]any{"adminPass": "pw", "rescue_image_ref": "aaaaaaaa-0000-4000-8000-000000000006"}})
	if got["adminPass"] != "pw" {
		t.Errorf("rescue answer = %v", got)
	}
	hostView := func() *AgentImage {
		t.Helper()
		insts, err := e.Compute.HostInstances(t.Context(), "h1")
		if err != nil || len(insts) != 1 {
			t.Fatalf("host instances: %v %v", insts, err)
		}
		return insts[0].Rescue
	}
	if r := hostView(); r == nil || r.ID != "aaaaaaaa-0000-4000-8000-000000000006" {
		t.Errorf("the agent's rescue image while rescuing = %+v", r)
	}
	e.agent()
	if srv := e.server(id); srv["status"] != "RESCUE" || srv["OS-EXT-STS:vm_state"] != "rescued" {
		t.Errorf("after the rescue: %v %v", srv["status"], srv["OS-EXT-STS:vm_state"])
	}
	status, out, raw = e.Do("POST", action, e.DemoToken, map[string]any{"os-stop": nil})
	checkFault(t, status, out, raw, 409, "while it is in vm_state rescued")

	e.Must(202, "POST", action, e.DemoToken, map[string]any{"lock": nil})
	status, out, raw = e.Do("POST", action, e.DemoToken, map[string]any{"unrescue": nil})
	checkFault(t, status, out, raw, 409, "Instance "+id+" is locked")
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"unlock": nil})

	e.Must(202, "POST", action, e.DemoToken, map[string]any{"unrescue": nil})
	e.agent()
	if srv := e.server(id); srv["status"] != "ACTIVE" {
		t.Errorf("after the unrescue: %v", srv["status"])
	}
	if r := hostView(); r != nil {
		t.Errorf("the agent's rescue image once unrescued = %+v", r)
	}
	// A rescue without a body boots the server's own image.
	if got := e.Must(200, "POST", action, e.DemoToken, map[string]any{"rescue": nil}); got["adminPass"] == "" {
		t.Errorf("rescue answer = %v", got)
	}
	if r := hostView(); r == nil || r.ID != "aaaaaaaa-0000-4000-8000-000000000001" {
		t.Errorf("default rescue image = %+v", r)
	}
}
