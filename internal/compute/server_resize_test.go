package compute

import (
	"fmt"
	"strings"
	"testing"
)

// TestResize: resize claims the new flavor beside the old on the server's host
// (RESIZE), the agent moves the guest (VERIFY_RESIZE); a revert goes back to
// the old flavor and a confirm keeps the new one, each giving the other's claim
// back; a smaller disk or a flavor the host has no room for fails the resize
// and leaves the server as it was; bad bodies, states, locks and quotas are
// refused.
func TestResize(t *testing.T) {
	e := newMVEnv(t)
	for _, f := range []map[string]any{
		{"name": "m1.two", "id": "two", "ram": 1024, "vcpus": 2, "disk": 20},
		{"name": "m1.huge", "id": "huge", "ram": 16384, "vcpus": 1, "disk": 20},
		{"name": "m1.nodisk", "id": "nodisk", "ram": 512, "vcpus": 1, "disk": 0},
	} {
		e.Must(200, "POST", "/v2.1/flavors", e.AdminToken, map[string]any{"flavor": f})
	}
	id := e.activeServer("2.1", nil)
	action := "/v2.1/servers/" + id + "/action"
	used := func() (ram, vcpus int) {
		t.Helper()
		h := e.hostUsage("h1")
		return h.MemoryMBUsed, h.VCPUsUsed
	}
	state := func(status, flavor string, ram int) {
		t.Helper()
		srv := e.server(id)
		got := fmt.Sprint(srv["status"], " ", srv["flavor"].(map[string]any)["id"])
		if r, _ := used(); got != status+" "+flavor || r != ram {
			t.Errorf("server %s, %d MB used; want %s %s, %d MB", got, r, status, flavor, ram)
		}
	}

	for _, tc := range []struct {
		name string
		body any
		want int
		msg  string
	}{
		{"no flavor", map[string]any{}, 400, "'flavorRef' is a required property"},
		{"unknown field", map[string]any{"flavorRef": "2", "name": "x"}, 400, "('name' was unexpected)"},
		{"not an object", "2", 400, "Invalid input for field/attribute resize. Value: 2. '2' is not of type 'object'"},
		{"unknown flavor", map[string]any{"flavorRef": "nope"}, 400, "Unable to locate requested flavor."},
		{"same flavor", map[string]any{"flavorRef": "1"}, 400, "When resizing, instances must change flavor!"},
		{"zero disk", map[string]any{"flavorRef": "nodisk"}, 400, "Resize to zero disk flavor is not allowed."},
		{"bad disk config", map[string]any{"flavorRef": "2", "OS-DCF:diskConfig": "x"}, 400, "is not one of ['AUTO', 'MANUAL']"},
	} {
		status, out, raw := e.Do("POST", action, e.DemoToken, map[string]any{"resize": tc.body})
		checkFault(t, status, out, raw, tc.want, tc.msg)
	}
	for _, a := range []string{"confirmResize", "revertResize"} {
		status, out, raw := e.Do("POST", action, e.DemoToken, map[string]any{a: nil})
		checkFault(t, status, out, raw, 409, "Cannot '"+a+"' instance "+id+" while it is in vm_state active")
	}
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"lock": nil})
	status, out, raw := e.Do("POST", action, e.DemoToken, map[string]any{"resize": map[string]any{"flavorRef": "2"}})
	checkFault(t, status, out, raw, 409, "Instance "+id+" is locked")
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"unlock": nil})

	quota := "/v2.1/os-quota-sets/" + e.DemoProject
	e.Must(200, "PUT", quota, e.AdminToken, map[string]any{"quota_set": map[string]any{"cores": 1}})
	status, out, raw = e.Do("POST", action, e.DemoToken, map[string]any{"resize": map[string]any{"flavorRef": "two"}})
	checkFault(t, status, out, raw, 403, "Quota exceeded for cores: Requested 1, but already used 1 of 1 cores")
	e.Must(200, "PUT", quota, e.AdminToken, map[string]any{"quota_set": map[string]any{"cores": 20}})

	// Resize and revert.
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"resize": map[string]any{"flavorRef": 2}})
	state("RESIZE", "1", 512)
	status, out, raw = e.Do("POST", action, e.DemoToken, map[string]any{"os-stop": nil})
	checkFault(t, status, out, raw, 409, "while it is in task_state resize_prep")
	e.conduct()
	state("RESIZE", "2", 512+2048)
	e.agent()
	state("VERIFY_RESIZE", "2", 512+2048)
	if vm := e.server(id)["OS-EXT-STS:vm_state"]; vm != "resized" {
		t.Errorf("vm_state = %v", vm)
	}
	insts, err := e.Compute.HostInstances(t.Context(), "h1")
	if err != nil || len(insts) != 1 || insts[0].MemoryMB != 2048 || insts[0].DiskGB != 20 {
		t.Fatalf("the agent's view once resized: %+v %v", insts, err)
	}
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"revertResize": nil})
	state("REVERT_RESIZE", "1", 512)
	e.agent()
	state("ACTIVE", "1", 512)

	// Resize and confirm.
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"resize": map[string]any{"flavorRef": "2"}})
	e.conduct()
	e.agent()
	if status, _, raw := e.Do("POST", action, e.DemoToken, map[string]any{"confirmResize": nil}); status != 204 {
		t.Fatalf("confirmResize: %d %s", status, raw)
	}
	state("ACTIVE", "2", 2048)

	// A smaller disk, and a flavor the host has no room for, fail in the
	// conductor: the server stays as it was, the action's event says why.
	for _, tc := range []struct{ flavor, why string }{
		{"1", "Unable to resize disk down."},
		{"huge", "No valid host was found."},
	} {
		e.Must(202, "POST", action, e.DemoToken, map[string]any{"resize": map[string]any{"flavorRef": tc.flavor}})
		e.conduct()
		state("ACTIVE", "2", 2048)
		acts := e.mustAt(200, "2.84", "GET", "/v2.1/servers/"+id+"/os-instance-actions", e.AdminToken, nil)["instanceActions"].([]any)
		latest := acts[0].(map[string]any)
		shown := e.mustAt(200, "2.84", "GET", "/v2.1/servers/"+id+"/os-instance-actions/"+latest["request_id"].(string),
			e.AdminToken, nil)["instanceAction"].(map[string]any)
		events := fmt.Sprint(shown["events"])
		if latest["action"] != "resize" || shown["message"] != "Error" || !strings.Contains(events, "compute_prep_resize") || !strings.Contains(events, tc.why) {
			t.Errorf("resize to %s: action %v, events %s", tc.flavor, shown, events)
		}
	}

	// A stopped server is resized stopped and stays stopped once confirmed.
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"os-stop": nil})
	e.agent()
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"resize": map[string]any{"flavorRef": "two"}})
	e.conduct()
	e.agent()
	state("VERIFY_RESIZE", "two", 2048+1024)
	e.Must(204, "POST", action, e.DemoToken, map[string]any{"confirmResize": nil})
	state("SHUTOFF", "two", 1024)
	if _, vcpus := used(); vcpus != 2 {
		t.Errorf("vcpus used = %d, want 2", vcpus)
	}

	// Deleting a server waiting for its confirmation gives both claims back.
	e.Must(202, "POST", action, e.DemoToken, map[string]any{"resize": map[string]any{"flavorRef": "2"}})
	e.conduct()
	e.agent()
	e.Must(204, "DELETE", "/v2.1/servers/"+id, e.DemoToken, nil)
	e.agent()
	if ram, vcpus := used(); ram != 0 || vcpus != 0 {
		t.Errorf("after the delete: %d MB, %d vcpus used", ram, vcpus)
	}
}
