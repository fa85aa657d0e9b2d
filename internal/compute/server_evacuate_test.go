package compute

import (
	"fmt"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
)

// evacuate posts the evacuate action at version and returns the answer.
func (e *testEnv) evacuate(version, token, id string, arg any) (int, map[string]any, []byte) {
	e.t.Helper()
	status, out, raw, _ := e.send(version, "POST", "/v2.1/servers/"+id+"/action", token, map[string]any{"evacuate": arg})
	return status, out, raw
}

// forceDown marks host's compute service forced down (2.11's force-down).
func (e *testEnv) forceDown(host string, down bool) {
	e.t.Helper()
	e.mustAt(200, "2.11", "PUT", "/v2.1/os-services/force-down", e.AdminToken,
		map[string]any{"host": host, "binary": "nova-compute", "forced_down": down})
}

// runHost converges one host once with its fake driver.
func (e *testEnv) runHost(host string) {
	e.t.Helper()
	if e.drivers == nil {
		e.drivers = map[string]*fake.Driver{}
	}
	if e.drivers[host] == nil {
		e.drivers[host] = fake.New(virt.HostResources{})
	}
	agentFor(e.t, e, host, e.drivers[host])()
}

// evacuationOf reads the instance's evacuation record.
func (e *testEnv) evacuationOf(id string) evacuation {
	e.t.Helper()
	in, err := loadInstance(e.t.Context(), e.Compute.db, id)
	if err != nil || in.Request.Evacuation == nil {
		e.t.Fatalf("evacuation record of %s: %v %v", id, in, err)
	}
	return *in.Request.Evacuation
}

// TestEvacuateRefused: upstream's answers before anything moves: the policy
// (admins), the schema of each microversion, an unknown or the same host,
// the source's service still up, the server's state.
func TestEvacuateRefused(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	e.host("h2", 8, 8192, 100)
	for _, tc := range []struct {
		name, version string
		member        bool
		arg           any
		status        int
		msg           string
	}{
		{"member", "2.14", true, map[string]any{}, 403, "os_compute_api:os-evacuate"},
		{"onSharedStorage required before 2.14", "2.1", false, map[string]any{}, 400, "'onSharedStorage' is a required property"},
		{"onSharedStorage gone at 2.14", "2.14", false, map[string]any{"onSharedStorage": false}, 400, "Additional properties are not allowed ('onSharedStorage' was unexpected)"},
		{"force before 2.29", "2.28", false, map[string]any{"force": true, "host": "h2"}, 400, "Additional properties are not allowed ('force' was unexpected)"},
		{"force gone at 2.68", "2.68", false, map[string]any{"force": true, "host": "h2"}, 400, "Additional properties are not allowed ('force' was unexpected)"},
		{"force without a host", "2.29", false, map[string]any{"force": true}, 400, "Can't force to a non-provided destination"},
		{"force not a boolean", "2.29", false, map[string]any{"force": "maybe", "host": "h2"}, 400, "Invalid input for field/attribute force. Value: maybe. 'maybe' is not one of [True,"},
		{"password on shared storage", "2.1", false, map[string]any{"onSharedStorage": true, "adminPass": "x"}, 400, "admin password can't be changed on existing disk"},
		{"not an object", "2.14", false, "h2", 400, "is not of type 'object'"},
		{"empty host", "2.14", false, map[string]any{"host": ""}, 400, "Invalid input for field/attribute host"},
		{"unknown host", "2.14", false, map[string]any{"host": "nope"}, 404, "Compute host nope not found."},
		{"same host", "2.14", false, map[string]any{"host": "h1"}, 400, "The target host can't be the same one."},
		{"source up", "2.14", false, map[string]any{}, 400, "Compute service of h1 is still in use."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := e.AdminToken
			if tc.member {
				token = e.DemoToken
			}
			status, out, raw := e.evacuate(tc.version, token, id, tc.arg)
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}
	// Another project's member does not learn that the server exists.
	if s := e.server(id); s["status"] != "ACTIVE" || s["OS-EXT-SRV-ATTR:host"] != "h1" {
		t.Fatalf("a refused evacuate changed the server: %v %v", s["status"], s["OS-EXT-SRV-ATTR:host"])
	}

	e.forceDown("h1", true)
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"pause": nil})
	status, out, raw := e.evacuate("2.14", e.AdminToken, id, map[string]any{})
	checkFault(t, status, out, raw, 409, "Cannot 'evacuate' instance "+id+" while it is in task_state pausing")
	e.agent()
	status, out, raw = e.evacuate("2.14", e.AdminToken, id, map[string]any{})
	checkFault(t, status, out, raw, 409, "Cannot 'evacuate' instance "+id+" while it is in vm_state paused")
}

// TestEvacuate: with its host forced down, an ACTIVE server is rebuilt on the
// other host (REBUILD, then ACTIVE there) on the same ports, the source's
// claim moved to it, the migration record accepted → done → completed, and
// the source's agent, back, removes the guest instead of starting it.
// Before 2.14 the answer carries the admin password.
func TestEvacuate(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	e.host("h2", 8, 8192, 100)
	before := e.server(id)
	e.forceDown("h1", true)

	status, out, raw := e.evacuate("2.1", e.AdminToken, id, map[string]any{"onSharedStorage": "False"})
	if status != 200 || out["adminPass"] == nil || out["adminPass"] == "" {
		t.Fatalf("evacuate at 2.1: %d %s", status, raw)
	}
	s := e.server(id)
	if s["status"] != "REBUILD" || s["OS-EXT-STS:task_state"] != taskRebuilding || s["OS-EXT-SRV-ATTR:host"] != nil {
		t.Errorf("after the API: %v %v %v", s["status"], s["OS-EXT-STS:task_state"], s["OS-EXT-SRV-ATTR:host"])
	}
	if ev := e.evacuationOf(id); ev.Status != evacAccepted || ev.SourceCompute != "h1" || ev.DestCompute != "" {
		t.Errorf("record after the API: %+v", ev)
	}
	status, out, raw = e.evacuate("2.14", e.AdminToken, id, map[string]any{})
	checkFault(t, status, out, raw, 409, "Cannot 'evacuate' instance "+id+" while it is in task_state rebuilding")

	e.conduct()
	s = e.server(id)
	if s["status"] != "REBUILD" || s["OS-EXT-STS:task_state"] != taskRebuildSpawning || s["OS-EXT-SRV-ATTR:host"] != "h2" {
		t.Errorf("after the conductor: %v %v %v", s["status"], s["OS-EXT-STS:task_state"], s["OS-EXT-SRV-ATTR:host"])
	}
	if u1, u2 := e.hostUsage("h1"), e.hostUsage("h2"); u1.VCPUsUsed != 0 || u2.VCPUsUsed != 1 {
		t.Errorf("claims: h1 %d vCPUs, h2 %d", u1.VCPUsUsed, u2.VCPUsUsed)
	}
	e.runHost("h2") // h1's agent is still away
	s = e.server(id)
	if s["status"] != "ACTIVE" || s["OS-EXT-SRV-ATTR:host"] != "h2" || s["OS-EXT-STS:power_state"] != float64(powerRunning) {
		t.Fatalf("after h2's agent: %v %v %v", s["status"], s["OS-EXT-SRV-ATTR:host"], s["OS-EXT-STS:power_state"])
	}
	if fmt.Sprint(s["addresses"]) != fmt.Sprint(before["addresses"]) {
		t.Errorf("addresses %v, were %v", s["addresses"], before["addresses"])
	}
	if st, _ := e.drivers["h2"].State(t.Context(), virt.Spec{UUID: id}); st != virt.Running {
		t.Errorf("the guest on h2: %v", st)
	}
	actions := e.Must(200, "GET", "/v2.1/servers/"+id+"/os-instance-actions", e.AdminToken, nil)["instanceActions"].([]any)
	if a := actions[0].(map[string]any); a["action"] != "evacuate" {
		t.Errorf("latest action %v", a)
	}

	// h1's guest is still there (the fake host kept it): its agent, back,
	// is told the instance was evacuated and removes it.
	if st, _ := e.drivers["h1"].State(t.Context(), virt.Spec{UUID: id}); st != virt.Running {
		t.Fatalf("the test's premise: h1 still has the guest (%v)", st)
	}
	if ev := e.evacuationOf(id); ev.Status != evacDone || ev.DestCompute != "h2" {
		t.Errorf("record after the rebuild: %+v", ev)
	}
	want, err := e.Compute.HostInstances(t.Context(), "h1")
	if err != nil || len(want) != 1 || want[0].TaskState != AgentTaskEvacuated || want[0].UUID != id {
		t.Fatalf("h1's desired state: %+v %v", want, err)
	}
	e.forceDown("h1", false)
	e.runHost("h1")
	if st, _ := e.drivers["h1"].State(t.Context(), virt.Spec{UUID: id}); st != virt.NoState {
		t.Errorf("h1 still has the guest: %v", st)
	}
	if ev := e.evacuationOf(id); ev.Status != evacCompleted {
		t.Errorf("record after the source's cleanup: %+v", ev)
	}
	if want, err := e.Compute.HostInstances(t.Context(), "h1"); err != nil || len(want) != 0 {
		t.Errorf("h1's desired state after the cleanup: %+v %v", want, err)
	}
	if s := e.server(id); s["status"] != "ACTIVE" || s["OS-EXT-SRV-ATTR:host"] != "h2" {
		t.Errorf("after the cleanup: %v %v", s["status"], s["OS-EXT-SRV-ATTR:host"])
	}
}

// TestEvacuateTargetState: at 2.95 the server ends SHUTOFF on its new host
// (spawned, then powered off, as upstream); no answer body from 2.14; a
// named host is used.
func TestEvacuateTargetState(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	e.host("h2", 8, 8192, 100)
	e.host("h3", 8, 8192, 100)
	e.forceDown("h1", true)
	status, out, raw := e.evacuate("2.95", e.AdminToken, id, map[string]any{"host": "h3"})
	if status != 200 || len(out) != 0 {
		t.Fatalf("evacuate at 2.95: %d %s", status, raw)
	}
	e.conduct()
	e.run() // spawned, then told to power off
	e.run()
	s := e.server(id)
	if s["status"] != "SHUTOFF" || s["OS-EXT-SRV-ATTR:host"] != "h3" || s["OS-EXT-STS:power_state"] != float64(powerShutdown) {
		t.Errorf("after 2.95's evacuate: %v %v %v", s["status"], s["OS-EXT-SRV-ATTR:host"], s["OS-EXT-STS:power_state"])
	}
}

// TestEvacuateSharedStorage: no host shares storage here, so 2.1's
// onSharedStorage true fails as upstream's destination does: ERROR, the
// migration failed.
func TestEvacuateSharedStorage(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	e.host("h2", 8, 8192, 100)
	e.forceDown("h1", true)
	status, out, raw := e.evacuate("2.1", e.AdminToken, id, map[string]any{"onSharedStorage": true})
	if status != 200 || out["adminPass"] != nil {
		t.Fatalf("evacuate on shared storage: %d %s", status, raw)
	}
	e.conduct()
	s := e.server(id)
	if s["status"] != "ERROR" || s["OS-EXT-SRV-ATTR:host"] != "h1" || e.evacuationOf(id).Status != evacFailed {
		t.Errorf("after the conductor: %v %v %+v", s["status"], s["OS-EXT-SRV-ATTR:host"], e.evacuationOf(id))
	}
}

// TestEvacuateServerGroups: upstream's functional tests
// (test_server_group.py): an anti-affinity member goes to the one host no
// member has; with none left, and for an affinity member whose peers are on
// the dead host, no valid host: ERROR on the source host, the migration in
// error, the source's claim kept.
func TestEvacuateServerGroups(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	e.host("h2", 8, 8192, 100)
	group := func(policy string) string {
		return e.Must(200, "POST", "/v2.1/os-server-groups", e.DemoToken, groupBody(policy, policy))["server_group"].(map[string]any)["id"].(string)
	}
	bootIn := func(group string) string {
		t.Helper()
		id := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, map[string]any{"server": serverBody(nil)["server"],
			"os:scheduler_hints": map[string]any{"group": group}})["server"].(map[string]any)["id"].(string)
		e.conduct()
		e.run()
		return id
	}
	hostOf := func(id string) any { return e.server(id)["OS-EXT-SRV-ATTR:host"] }
	noValidHost := func(id string, source any) {
		t.Helper()
		e.mustAt(200, "2.14", "POST", "/v2.1/servers/"+id+"/action", e.AdminToken, map[string]any{"evacuate": map[string]any{}})
		e.conduct()
		s := e.server(id)
		if s["status"] != "ERROR" || s["OS-EXT-SRV-ATTR:host"] != source || e.evacuationOf(id).Status != evacError {
			t.Errorf("evacuate without a valid host: %v %v %+v", s["status"], s["OS-EXT-SRV-ATTR:host"], e.evacuationOf(id))
		}
		if f, _ := s["fault"].(map[string]any); f == nil || f["message"] == nil {
			t.Errorf("no fault: %v", s["fault"])
		}
		if u := e.hostUsage(source.(string)); u.VCPUsUsed == 0 {
			t.Errorf("the source's claim was given back")
		}
		if want, _ := e.Compute.HostInstances(t.Context(), source.(string)); !slices.ContainsFunc(want, func(a AgentInstance) bool {
			return a.UUID == id && a.TaskState == ""
		}) {
			t.Errorf("the failed evacuation is not back on its host: %+v", want)
		}
	}

	anti := group("anti-affinity")
	a, b := bootIn(anti), bootIn(anti)
	ha, hb := hostOf(a), hostOf(b)
	if ha == hb {
		t.Fatalf("anti-affinity members on %v and %v", ha, hb)
	}
	e.forceDown(hb.(string), true)
	noValidHost(b, hb)

	e.host("h3", 8, 8192, 100)
	e.Must(202, "POST", "/v2.1/servers/"+b+"/action", e.AdminToken, map[string]any{"os-resetState": map[string]any{"state": "active"}})
	e.mustAt(200, "2.14", "POST", "/v2.1/servers/"+b+"/action", e.AdminToken, map[string]any{"evacuate": map[string]any{}})
	e.conduct()
	e.run()
	if s := e.server(b); s["status"] != "ACTIVE" || s["OS-EXT-SRV-ATTR:host"] != "h3" {
		t.Errorf("anti-affinity evacuate: %v %v (other member on %v)", s["status"], s["OS-EXT-SRV-ATTR:host"], ha)
	}
	e.forceDown(hb.(string), false)

	aff := group("affinity")
	x, y := bootIn(aff), bootIn(aff)
	if hostOf(x) != hostOf(y) {
		t.Fatalf("affinity members on %v and %v", hostOf(x), hostOf(y))
	}
	e.forceDown(hostOf(y).(string), true)
	noValidHost(y, hostOf(y))
}
