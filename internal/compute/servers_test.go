package compute

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
)

func serverBody(attrs map[string]any) map[string]any {
	s := map[string]any{"name": "vm", "imageRef": "aaaaaaaa-0000-4000-8000-000000000001", "flavorRef": "1", "networks": []any{map[string]any{"uuid": "11111111-0000-4000-8000-000000000001"}}}
	for k, v := range attrs {
		if v == nil {
			delete(s, k)
		} else {
			s[k] = v
		}
	}
	return map[string]any{"server": s}
}

// TestCreateServerBadInput: every malformed or impossible request is upstream's
// 4xx with Nova's fault body, and leaves no server behind.
func TestCreateServerBadInput(t *testing.T) {
	e := newTestEnv(t, nil)
	e.images.add(Image{ID: "aaaaaaaa-0000-4000-8000-000000000005", Status: "queued"})
	e.images.add(Image{ID: "aaaaaaaa-0000-4000-8000-000000000003", Status: "active", MinRAM: 4096})
	e.images.add(Image{ID: "aaaaaaaa-0000-4000-8000-000000000004", Status: "active", VirtualSize: 2 << 30})
	e.net.networks["net-2"] = NetworkInfo{ID: "net-2", Name: "other"}
	port, _ := e.net.CreatePort(context.Background(), "", PortRequest{ProjectID: e.DemoProject, NetworkID: "11111111-0000-4000-8000-000000000001", DeviceID: "someone-else"})
	for _, tc := range []struct {
		name   string
		body   any
		status int
		kind   string
		msg    string
	}{
		{"malformed JSON", `{"server": `, 400, "badRequest", "Malformed"},
		{"no server", map[string]any{}, 400, "badRequest", "'server' is a required property"},
		{"no name", serverBody(map[string]any{"name": nil}), 400, "badRequest", "'name' is a required property"},
		{"blank name", serverBody(map[string]any{"name": "  "}), 400, "badRequest", "name"},
		{"no image", serverBody(map[string]any{"imageRef": nil}), 400, "badRequest", "Missing imageRef attribute"},
		{"no flavor", serverBody(map[string]any{"flavorRef": nil}), 400, "badRequest", "'flavorRef' is a required property"},
		{"unknown flavor", serverBody(map[string]any{"flavorRef": "999"}), 400, "badRequest", "Flavor 999 could not be found."},
		{"imageRef not a UUID", serverBody(map[string]any{"imageRef": "nope"}), 400, "badRequest", "Invalid input for field/attribute imageRef. Value: nope. 'nope' is not valid under any of the given schemas"},
		{"unknown image", serverBody(map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-0000000000ff"}), 400, "badRequest", "Image aaaaaaaa-0000-4000-8000-0000000000ff could not be found."},
		{"image not active", serverBody(map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000005"}), 400, "badRequest", "is not active"},
		{"flavor RAM below the image's minimum", serverBody(map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000003"}), 400, "badRequest", "Flavor's memory is too small"},
		{"image larger than the flavor's disk", serverBody(map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000004"}), 400, "badRequest", "Flavor's disk is too small"},
		{"unknown network", serverBody(map[string]any{"networks": []any{map[string]any{"uuid": "nope"}}}), 400, "badRequest", "Network nope could not be found."},
		{"port not a UUID", serverBody(map[string]any{"networks": []any{map[string]any{"port": "nope"}}}), 400, "badRequest", "Invalid input for field/attribute port. Value: nope. 'nope' is not a 'uuid'"},
		{"unknown port", serverBody(map[string]any{"networks": []any{map[string]any{"port": "22222222-0000-4000-8000-0000000000ff"}}}), 400, "badRequest", "Port 22222222-0000-4000-8000-0000000000ff could not be found."},
		{"port in use", serverBody(map[string]any{"networks": []any{map[string]any{"port": port.ID}}}), 409, "conflictingRequest", "is still in use"},
		{"bad fixed IP", serverBody(map[string]any{"networks": []any{map[string]any{"uuid": "11111111-0000-4000-8000-000000000001", "fixed_ip": "10.0.0.300"}}}), 400, "badRequest", "Invalid input for field/attribute fixed_ip. Value: 10.0.0.300. '10.0.0.300' is not valid under any of the given schemas"},
		{"several networks, none named", serverBody(map[string]any{"networks": nil}), 409, "conflictingRequest", "Multiple possible networks found"},
		{"unknown key", serverBody(map[string]any{"key_name": "nope"}), 400, "badRequest", "Invalid key_name provided."},
		{"user data not base64", serverBody(map[string]any{"user_data": "not base64!"}), 400, "badRequest", "User data needs to be valid base 64."},
		{"unknown security group", serverBody(map[string]any{"security_groups": []any{map[string]any{"name": "nope"}}}), 400, "badRequest", "Security group nope not found"},
		{"unknown availability zone", serverBody(map[string]any{"availability_zone": "mars"}), 400, "badRequest", "availability zone is not available"},
		{"forced host as a member", serverBody(map[string]any{"availability_zone": "nova:h1"}), 403, "forbidden", "Policy doesn't allow os_compute_api:servers:create:forced_host"},
		{"min_count above max_count", serverBody(map[string]any{"min_count": 3, "max_count": 2}), 400, "badRequest", "min_count must be <= max_count"},
		{"min_count zero", serverBody(map[string]any{"min_count": 0}), 400, "badRequest", "less than the minimum of 1"},
		{"metadata value not a string", serverBody(map[string]any{"metadata": map[string]any{"k": 1}}), 400, "badRequest", "is not of type 'string'"},
		{"over the instances quota", serverBody(map[string]any{"min_count": 11}), 403, "forbidden", "Quota exceeded for instances: Requested 11, but already used 0 of 10 instances"},
		{"over the RAM quota", serverBody(map[string]any{"flavorRef": "5", "min_count": 4}), 403, "forbidden", "Quota exceeded for cores"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := e.Do("POST", "/v2.1/servers", e.DemoToken, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, raw)
			}
			f, _ := out[tc.kind].(map[string]any)
			if f == nil || !strings.Contains(fmt.Sprint(f["message"]), tc.msg) || f["code"] != float64(tc.status) {
				t.Fatalf("body %s, want %s with %q", raw, tc.kind, tc.msg)
			}
		})
	}
	list := e.Must(200, "GET", "/v2.1/servers", e.DemoToken, nil)["servers"].([]any)
	if len(list) != 0 {
		t.Errorf("bad requests left servers: %v", list)
	}
}

// agentFor runs a compute agent with the fake driver for host, converging once
// per call of the returned function.
func agentFor(t testing.TB, e *testEnv, host string, d *fake.Driver) func() {
	t.Helper()
	return func() {
		t.Helper()
		if err := agentPass(context.Background(), e.Compute, host, d); err != nil {
			t.Fatal(err)
		}
	}
}

// agentPass is one pass of host's compute agent with the fake driver: the agent
// package imports compute, so its loop is replayed here with the same calls
// (desired state, driver, report), through svc.
func agentPass(ctx context.Context, svc *Service, host string, d *fake.Driver) error {
	want, err := svc.HostInstances(ctx, host)
	if err != nil {
		return err
	}
	for _, inst := range want {
		spec := virt.Spec{UUID: inst.UUID, Name: inst.Name}
		var err error
		switch inst.TaskState {
		case taskSpawning, taskRebuildSpawning:
			err = d.Spawn(ctx, spec)
		case taskDeleting, AgentTaskEvacuated:
			err = d.Destroy(ctx, spec)
		case taskPoweringOff:
			err = d.PowerOff(ctx, spec, 0)
		case taskPoweringOn:
			err = d.PowerOn(ctx, spec)
		case taskPausing:
			err = d.Pause(ctx, spec)
		case taskUnpausing:
			err = d.Unpause(ctx, spec)
		case taskSuspending:
			err = d.Suspend(ctx, spec)
		case taskResuming:
			err = d.Resume(ctx, spec)
		case taskRebooting, taskRebootingHard:
			err = d.Reboot(ctx, spec, inst.TaskState == taskRebootingHard, 0)
		case taskRescuing, taskUnrescuing: // the guest starts again on other disks
			if err = d.PowerOff(ctx, spec, 0); err == nil {
				err = d.PowerOn(ctx, spec)
			}
		case taskResizeMigrating, taskResizeReverting: // off, and on again if it ran
			if err = d.PowerOff(ctx, spec, 0); err == nil && inst.PowerState == powerRunning {
				err = d.PowerOn(ctx, spec)
			}
		case taskRebuilding: // a new guest; a stopped one made, not running
			if err = d.Destroy(ctx, spec); err == nil {
				spec.Paused = inst.VMState == vmStopped
				if err = d.Spawn(ctx, spec); err == nil && spec.Paused {
					err = d.PowerOff(ctx, spec, 0)
				}
			}
		case taskImageSnapshotPending, taskImageBackup, taskShelving: // the upload is the real agent's
			if inst.TaskState == taskShelving {
				err = d.PowerOff(ctx, spec, 0)
			}
			if err == nil {
				err = d.Snapshot(ctx, spec, "")
			}
		case taskShelvingOffloading:
			err = d.Destroy(ctx, spec)
		case taskUnshelving:
			err = d.PowerOn(ctx, spec)
		default:
			continue
		}
		rep := AgentReport{Host: host, UUID: inst.UUID, Task: inst.TaskState}
		st, _ := d.State(ctx, spec)
		rep.PowerState = int(st)
		if err != nil {
			rep.Error = err.Error()
		}
		if err := svc.ReportInstance(ctx, rep); err != nil {
			return err
		}
	}
	return nil
}

// TestServerLifecycle: a server goes BUILD → ACTIVE through the conductor and
// its host's agent, then through each action with the reference's statuses;
// actions in the wrong state and on a locked server are 409 (not for admins),
// and a delete releases its port and its host's resources.
func TestServerLifecycle(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 4, 4096, 100)
	run := agentFor(t, e, "h1", fake.New(virt.HostResources{}))
	created := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, serverBody(nil))["server"].(map[string]any)
	id := created["id"].(string)
	if created["adminPass"] == "" || created["OS-DCF:diskConfig"] != "MANUAL" {
		t.Errorf("create answer %v", created)
	}
	if s := e.server(id); s["status"] != "BUILD" || s["OS-EXT-STS:task_state"] != "scheduling" {
		t.Fatalf("before the conductor: %v %v", s["status"], s["OS-EXT-STS:task_state"])
	}
	e.conduct()
	if s := e.server(id); s["status"] != "BUILD" || s["OS-EXT-STS:task_state"] != "spawning" || s["OS-EXT-SRV-ATTR:host"] != "h1" {
		t.Fatalf("after the conductor: %v %v %v", s["status"], s["OS-EXT-STS:task_state"], s["OS-EXT-SRV-ATTR:host"])
	}
	run()
	s := e.server(id)
	if s["status"] != "ACTIVE" || s["OS-EXT-STS:power_state"] != float64(1) || s["OS-SRV-USG:launched_at"] == nil {
		t.Fatalf("after the agent: %v power %v", s["status"], s["OS-EXT-STS:power_state"])
	}
	addr, _ := json.Marshal(s["addresses"])
	if !strings.Contains(string(addr), `"private":[{"OS-EXT-IPS-MAC:mac_addr":"fa:16:3e:00:00:01","OS-EXT-IPS:type":"fixed","addr":"10.0.0.3","version":4}]`) {
		t.Errorf("addresses = %s", addr)
	}
	if p, _ := e.net.PortStatus(context.Background(), "22222222-0000-4000-8000-000000000001"); p.DeviceID != id || p.HostID != "h1" || p.DeviceOwner != "compute:nova" {
		t.Errorf("the port is not bound to the server on h1: %+v", p)
	}

	action := func(token string, body any, want int) {
		t.Helper()
		e.Must(want, "POST", "/v2.1/servers/"+id+"/action", token, body)
	}
	for _, step := range []struct {
		body          any
		during, after string
		power         float64
	}{
		{map[string]any{"os-stop": nil}, "ACTIVE", "SHUTOFF", 4},
		{map[string]any{"os-start": nil}, "SHUTOFF", "ACTIVE", 1},
		{map[string]any{"reboot": map[string]any{"type": "SOFT"}}, "REBOOT", "ACTIVE", 1},
		{map[string]any{"reboot": map[string]any{"type": "HARD"}}, "HARD_REBOOT", "ACTIVE", 1},
		{map[string]any{"pause": nil}, "ACTIVE", "PAUSED", 3},
		{map[string]any{"unpause": nil}, "PAUSED", "ACTIVE", 1},
		{map[string]any{"suspend": nil}, "ACTIVE", "SUSPENDED", 7},
		{map[string]any{"resume": nil}, "SUSPENDED", "ACTIVE", 1},
	} {
		action(e.DemoToken, step.body, 202)
		if s := e.server(id); s["status"] != step.during {
			t.Errorf("%v: status %v while the task runs, want %s", step.body, s["status"], step.during)
		}
		// A second action while the task runs is refused.
		status, out, _ := e.Do("POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"os-stop": nil})
		if status != 409 || out["conflictingRequest"] == nil {
			t.Errorf("%v: a second action during the task: %d %v", step.body, status, out)
		}
		run()
		if s := e.server(id); s["status"] != step.after || s["OS-EXT-STS:power_state"] != step.power {
			t.Errorf("%v: status %v power %v, want %s %v", step.body, s["status"], s["OS-EXT-STS:power_state"], step.after, step.power)
		}
	}
	status, out, _ := e.Do("POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"unpause": nil})
	if status != 409 || !strings.Contains(fmt.Sprint(out["conflictingRequest"]), "Cannot 'unpause' instance "+id+" while it is in vm_state active") {
		t.Errorf("unpause of an active server: %d %v", status, out)
	}
	action(e.DemoToken, map[string]any{"bogus": nil}, 400)
	action(e.DemoToken, map[string]any{"reboot": map[string]any{"type": "WARM"}}, 400)

	// Locks bind the owner, not an admin.
	action(e.DemoToken, map[string]any{"lock": nil}, 202)
	status, out, _ = e.Do("POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"os-stop": nil})
	if status != 409 || !strings.Contains(fmt.Sprint(out["conflictingRequest"]), "is locked") {
		t.Errorf("stop of a locked server by its owner: %d %v", status, out)
	}
	if status, _, _ := e.Do("DELETE", "/v2.1/servers/"+id, e.DemoToken, nil); status != 409 {
		t.Errorf("delete of a locked server by its owner: %d", status)
	}
	action(e.AdminToken, map[string]any{"os-stop": nil}, 202)
	run()
	action(e.DemoToken, map[string]any{"unlock": nil}, 202)

	// Another project does not see the server at all.
	other, _ := e.identity.NewProjectUser("other")
	if status, _, _ := e.Do("GET", "/v2.1/servers/"+id, other, nil); status != 404 {
		t.Errorf("another project's show: %d", status)
	}
	if status, _, _ := e.Do("POST", "/v2.1/servers/"+id+"/action", other, map[string]any{"os-start": nil}); status != 404 {
		t.Errorf("another project's action: %d", status)
	}

	used := e.hostUsage("h1").MemoryMBUsed
	if used != 512 {
		t.Errorf("h1 memory claimed = %d, want the flavor's 512", used)
	}
	e.Must(204, "DELETE", "/v2.1/servers/"+id, e.DemoToken, nil)
	run()
	if status, _, _ := e.Do("GET", "/v2.1/servers/"+id, e.DemoToken, nil); status != 404 {
		t.Errorf("a deleted server shows: %d", status)
	}
	// To admins too (upstream reads with read_deleted "no"); they find it by listing.
	if status, _, _ := e.Do("GET", "/v2.1/servers/"+id, e.AdminToken, nil); status != 404 {
		t.Errorf("a deleted server shows to an admin: %d", status)
	}
	deleted, _ := e.Must(200, "GET", "/v2.1/servers/detail?deleted=true&all_tenants=1", e.AdminToken, nil)["servers"].([]any)
	if len(deleted) != 1 || deleted[0].(map[string]any)["id"] != id || deleted[0].(map[string]any)["status"] != "DELETED" {
		t.Errorf("admin's deleted=true list: %v", deleted)
	}
	if n := e.net.count(); n != 0 {
		t.Errorf("%d ports left after delete", n)
	}
	if used = e.hostUsage("h1").MemoryMBUsed; used != 0 {
		t.Errorf("h1 memory claimed after delete = %d", used)
	}
}

// TestConcurrentBootsNeverOvercommit: many boots at once over hosts with room
// for fewer: the claims admit exactly what fits (RAM ratio 1.5, 512 MB reserved),
// the rest fault with "No valid host was found".
func TestConcurrentBootsNeverOvercommit(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.Quotas = map[string]int{"instances": -1, "cores": -1, "ram": -1} })
	// (2048*1.5 - 512) / 512 = 5 m1.tiny per host.
	for _, h := range []string{"h1", "h2", "h3"} {
		e.host(h, 2, 2048, 100)
	}
	const boots = 20
	var wg sync.WaitGroup
	for i := range boots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := serverBody(map[string]any{"name": fmt.Sprintf("vm%d", i)})
			if status, _, raw := e.Do("POST", "/v2.1/servers", e.DemoToken, body); status != 202 {
				t.Errorf("create %d: %d %s", i, status, raw)
			}
		}()
	}
	wg.Wait()
	// Conductors on several API nodes would race too: run passes concurrently.
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = e.Compute.conduct(context.Background())
		}()
	}
	wg.Wait()
	e.conduct()
	perHost := map[string]int{}
	noValidHost := 0
	for _, s := range e.Must(200, "GET", "/v2.1/servers/detail?all_tenants=1", e.AdminToken, nil)["servers"].([]any) {
		srv := s.(map[string]any)
		switch {
		case srv["status"] == "ERROR":
			if f, _ := srv["fault"].(map[string]any); f == nil || !strings.HasPrefix(fmt.Sprint(f["message"]), "No valid host was found.") {
				t.Errorf("fault %v", srv["fault"])
			}
			noValidHost++
		case srv["OS-EXT-SRV-ATTR:host"] != nil:
			perHost[srv["OS-EXT-SRV-ATTR:host"].(string)]++
		}
	}
	for h, n := range perHost {
		if n > 5 {
			t.Errorf("host %s got %d servers, room for 5", h, n)
		}
	}
	if placed := perHost["h1"] + perHost["h2"] + perHost["h3"]; placed != 15 || noValidHost != boots-15 {
		t.Errorf("placed %d (%v), no valid host %d; want 15 and %d", placed, perHost, noValidHost, boots-15)
	}
}

// TestRescheduleOnSpawnFailure: a spawn that fails on a host is retried on
// another (the failed host is not tried again); failing on every host is ERROR
// after max attempts, with the build fault.
func TestRescheduleOnSpawnFailure(t *testing.T) {
	e := newTestEnv(t, nil)
	broken := fake.New(virt.HostResources{})
	broken.FailSpawn = func(virt.Spec) bool { return true }
	e.host("bad", 8, 16384, 100)
	e.host("good", 8, 8192, 100) // less free RAM: the weigher prefers "bad"
	runBad, runGood := agentFor(t, e, "bad", broken), agentFor(t, e, "good", fake.New(virt.HostResources{}))
	id := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, serverBody(nil))["server"].(map[string]any)["id"].(string)
	e.conduct()
	if h := e.server(id)["OS-EXT-SRV-ATTR:host"]; h != "bad" {
		t.Fatalf("first placement on %v, want the emptier host", h)
	}
	runBad()
	e.conduct()
	if h := e.server(id)["OS-EXT-SRV-ATTR:host"]; h != "good" {
		t.Fatalf("after the failed spawn the server is on %v, want good", h)
	}
	runGood()
	if s := e.server(id); s["status"] != "ACTIVE" {
		t.Fatalf("rescheduled server: %v", s["status"])
	}

	// Every host fails: ERROR after the attempts, with the reason.
	e2 := newTestEnv(t, func(o *Options) { o.MaxAttempts = 2 })
	e2.host("b1", 8, 16384, 100)
	e2.host("b2", 8, 16384, 100)
	run1, run2 := agentFor(t, e2, "b1", broken), agentFor(t, e2, "b2", broken)
	id = e2.Must(202, "POST", "/v2.1/servers", e2.DemoToken, serverBody(nil))["server"].(map[string]any)["id"].(string)
	for range 2 {
		e2.conduct()
		run1()
		run2()
	}
	s := e2.server(id)
	f, _ := s["fault"].(map[string]any)
	if s["status"] != "ERROR" || f == nil || !strings.Contains(fmt.Sprint(f["message"]), "Build of instance "+id+" aborted") {
		t.Fatalf("after failing everywhere: %v %v", s["status"], s["fault"])
	}
}

// TestNetworkingAfterCrash: a conductor that died between binding a server's
// port and recording it binds the same port again and records it once; the
// conductor never makes a port of its own.
func TestNetworkingAfterCrash(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 4, 4096, 100)
	id := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, serverBody(nil))["server"].(map[string]any)["id"].(string)
	ctx := context.Background()
	in, err := loadInstance(ctx, e.Compute.db, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Request.Networks) != 1 || in.Request.Networks[0].PortID == "" || !in.Request.Networks[0].Created {
		t.Fatalf("requested networks %+v, want the port the API made", in.Request.Networks)
	}
	made := in.Request.Networks[0].PortID
	// The crash: placed on h1, its port bound, nothing recorded.
	if _, err := e.net.BindPort(ctx, made, id, "compute:nova", "h1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Compute.db.ExecContext(ctx, `UPDATE instances SET host = 'h1', task_state = ? WHERE uuid = ?`, taskNetworking, id); err != nil {
		t.Fatal(err)
	}
	e.conduct()
	s := e.server(id)
	if s["OS-EXT-STS:task_state"] != taskSpawning {
		t.Fatalf("task after the conductor: %v", s["OS-EXT-STS:task_state"])
	}
	if n := e.net.count(); n != 1 {
		t.Fatalf("%d ports after the restart, want the one made at create", n)
	}
	if in, err = loadInstance(ctx, e.Compute.db, id); err != nil {
		t.Fatal(err)
	}
	if len(in.Request.Ports) != 1 || in.Request.Ports[0].ID != made || !in.Request.Ports[0].Created {
		t.Fatalf("recorded ports %+v, want %s (made for the server) once", in.Request.Ports, made)
	}
}

// TestDeleteReleasesPortsFirst: upstream deallocates a server's network before
// it destroys the instance, so a client that sees the server gone (404) finds
// its ports gone too and can delete the network at once.
func TestDeleteReleasesPortsFirst(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 4, 4096, 100)
	run := agentFor(t, e, "h1", fake.New(virt.HostResources{}))
	var deleting string
	var seen []int
	e.net.beforeDelete = func(string) {
		code, _, _ := e.Do("GET", "/v2.1/servers/"+deleting, e.AdminToken, nil)
		seen = append(seen, code)
	}

	placed := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, serverBody(nil))["server"].(map[string]any)["id"].(string)
	e.conduct()
	run()
	deleting = placed
	e.Must(204, "DELETE", "/v2.1/servers/"+placed, e.DemoToken, nil)
	run()
	e.Must(404, "GET", "/v2.1/servers/"+placed, e.AdminToken, nil)

	if len(seen) == 0 {
		t.Fatal("the server's port was not deleted")
	}
	for i, code := range seen {
		if code != 200 {
			t.Errorf("port delete %d: the server answered %d while its port was deleted, want 200 (still there)", i, code)
		}
	}
	if n := e.net.count(); n != 0 {
		t.Errorf("%d ports left after the delete", n)
	}
}
