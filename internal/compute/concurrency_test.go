package compute

// Issue 17: bursts of API calls at once (conctest), over one or two compute
// processes on one database, with conductors and agents running beside them;
// then the invariants, read from the database: no deleted server comes back,
// each host's usage is the sum of its live instances and within what the host
// has, no project is past its quota. They run on SQLite and, with
// NIMBUS_TEST_DATABASE_URL set, on PostgreSQL.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
	"github.com/nimbus-cloud/nimbus/internal/platform/conctest"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// unlimitedQuotas lifts the instance quotas, for tests of placement.
func unlimitedQuotas(o *Options) { o.Quotas = map[string]int{"instances": -1, "cores": -1, "ram": -1} }

// expectStatus is nil when status is one of want, else an error naming the call.
func expectStatus(call string, status int, raw []byte, want ...int) error {
	if slices.Contains(want, status) {
		return nil
	}
	return fmt.Errorf("%s: status %d, want one of %v: %s", call, status, want, raw)
}

func failOnErrors(t *testing.T, errs []error) {
	t.Helper()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

// TestRenameRacingDeleteNeverResurrects (finding 1): one DELETE with six
// renames at once, 15 tries per state; after the 204 (and the host's agent
// finishing the delete) the server is gone every time, and the host's usage
// is what its live instances claim (a resurrected server had its claim
// released twice: negative usage, then overcommit).
func TestRenameRacingDeleteNeverResurrects(t *testing.T) {
	e := newTestEnv(t, unlimitedQuotas)
	e.host("h1", 64, 65536, 100)
	run := agentFor(t, e, "h1", fake.New(virt.HostResources{}))
	for _, state := range []string{"ACTIVE", "BUILD", "ERROR"} {
		survived := 0
		for try := range 15 {
			body := serverBody(map[string]any{"name": fmt.Sprintf("%s-%d", state, try)})
			if state == "ERROR" {
				body = serverBody(map[string]any{"flavorRef": "5"}) // 160 GB of disk: no host has it
			}
			id := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, body)["server"].(map[string]any)["id"].(string)
			if state != "BUILD" {
				e.conduct()
				run()
			}
			if got := e.server(id)["status"]; got != state {
				t.Fatalf("server %s is %v before the race, want %s", id, got, state)
			}
			failOnErrors(t, conctest.Burst(7, func(i int) error {
				if i == 0 {
					status, _, raw := e.Do("DELETE", "/v2.1/servers/"+id, e.DemoToken, nil)
					return expectStatus("delete", status, raw, 204)
				}
				status, _, raw := e.Do("PUT", "/v2.1/servers/"+id, e.DemoToken,
					map[string]any{"server": map[string]any{"name": fmt.Sprintf("renamed-%d", i)}})
				return expectStatus("rename", status, raw, 200, 404)
			}))
			run() // the host's agent destroys the guest and reports it gone
			e.conduct()
			if status, _, _ := e.Do("GET", "/v2.1/servers/"+id, e.DemoToken, nil); status != 404 {
				survived++
			}
		}
		if survived > 0 {
			t.Errorf("%s: %d of 15 servers survived their delete", state, survived)
		}
	}
	e.checkInvariants(t)
}

// TestConcurrentCreatesNeverFail (finding 2): 200 creates at once over two
// processes all answer 202 (ids from MAX(id)+1 collided on PostgreSQL: 500s),
// and every instance has an id of its own (instance-%08x names its guest).
func TestConcurrentCreatesNeverFail(t *testing.T) {
	e := newTestEnv(t, unlimitedQuotas)
	e.secondProcess()
	const n = 200
	failOnErrors(t, conctest.Burst(n, func(i int) error {
		status, _, raw := e.Do("POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"name": fmt.Sprintf("vm%d", i)}))
		return expectStatus("create", status, raw, 202)
	}))
	if got := e.count(`SELECT COUNT(DISTINCT id) FROM instances WHERE deleted = ?`, false); got != n {
		t.Errorf("%d distinct instance ids, want %d", got, n)
	}
}

// TestConcurrentRegistrationsGetTheirOwnIDs (finding 2): aggregates created
// at once, and compute hosts and conductors registering at once, each get an
// integer id of their own: no 409 for a name nobody else took, no host missing
// from the hypervisors (it vanished for a heartbeat when its number collided).
func TestConcurrentRegistrationsGetTheirOwnIDs(t *testing.T) {
	e := newTestEnv(t, nil)
	second := e.secondProcess()
	const n = 32
	ctx := context.Background()
	failOnErrors(t, conctest.Burst(n, func(i int) error {
		switch {
		case i == 0:
			return e.Compute.reportControlServices(ctx)
		case i == 1:
			return second.reportControlServices(ctx)
		case i%2 == 0:
			status, _, raw := e.Do("POST", "/v2.1/os-aggregates", e.AdminToken,
				map[string]any{"aggregate": map[string]any{"name": fmt.Sprintf("agg-%d", i)}})
			return expectStatus("create aggregate", status, raw, 200)
		default:
			return e.Compute.ReportService(ctx, ServiceReport{Host: fmt.Sprintf("host-%d", i), VCPUs: 4, MemoryMB: 4096,
				DiskGB: 100, HypervisorType: "QEMU"})
		}
	}))
	distinct := func(items []any, key string) int {
		seen := map[any]bool{}
		for _, it := range items {
			seen[it.(map[string]any)[key]] = true
		}
		return len(seen)
	}
	aggs := e.Must(200, "GET", "/v2.1/os-aggregates", e.AdminToken, nil)["aggregates"].([]any)
	if len(aggs) != n/2-1 || distinct(aggs, "id") != len(aggs) {
		t.Errorf("%d aggregates with %d ids, want %d", len(aggs), distinct(aggs, "id"), n/2-1)
	}
	hvs := e.Must(200, "GET", "/v2.1/os-hypervisors", e.AdminToken, nil)["hypervisors"].([]any)
	if len(hvs) != n/2-1 || distinct(hvs, "id") != len(hvs) {
		t.Errorf("%d hypervisors with %d ids, want %d", len(hvs), distinct(hvs, "id"), n/2-1)
	}
	services := e.Must(200, "GET", "/v2.1/os-services", e.AdminToken, nil)["services"].([]any)
	if want := n/2 - 1 + 4; len(services) != want || distinct(services, "id") != want {
		t.Errorf("%d services with %d ids, want %d", len(services), distinct(services, "id"), want)
	}
}

// TestConcurrentBootsOverTwoConductors: as TestConcurrentBootsNeverOvercommit,
// with the boots spread over two processes and both conductors running passes
// at once: every host gets exactly what fits, whichever conductor claims it,
// and a server faults with "No valid host" only when every host is full.
func TestConcurrentBootsOverTwoConductors(t *testing.T) {
	e := newTestEnv(t, unlimitedQuotas)
	second := e.secondProcess()
	// (2048*1.5 - 512) / 512 = 5 m1.tiny per host.
	hosts := []string{"h1", "h2", "h3", "h4"}
	for _, h := range hosts {
		e.host(h, 2, 2048, 100)
	}
	const boots = 32
	failOnErrors(t, conctest.Burst(boots, func(i int) error {
		status, _, raw := e.Do("POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"name": fmt.Sprintf("vm%d", i)}))
		return expectStatus("create", status, raw, 202)
	}))
	ctx := context.Background()
	conctest.Burst(6, func(i int) error {
		return []*Service{e.Compute, second}[i%2].conduct(ctx)
	})
	e.conduct()
	placed, noValidHost := 0, 0
	for _, s := range e.Must(200, "GET", "/v2.1/servers/detail", e.DemoToken, nil)["servers"].([]any) {
		srv := s.(map[string]any)
		switch f, _ := srv["fault"].(map[string]any); {
		case srv["status"] == "BUILD" && srv["OS-EXT-STS:task_state"] == taskSpawning:
			placed++
		case srv["status"] == "ERROR" && f != nil && strings.HasPrefix(fmt.Sprint(f["message"]), "No valid host was found."):
			noValidHost++
		default:
			t.Errorf("server %v: %v %v %v", srv["name"], srv["status"], srv["OS-EXT-STS:task_state"], srv["fault"])
		}
	}
	if placed != 5*len(hosts) || noValidHost != boots-placed {
		t.Errorf("placed %d, no valid host %d; want %d and %d", placed, noValidHost, 5*len(hosts), boots-5*len(hosts))
	}
	e.checkInvariants(t)
}

// TestConcurrentCreatesHoldQuotas: 32 creates at once over two processes
// never take a project past its instances, cores or RAM quota: exactly what the
// quota admits is created, the rest is upstream's 403, none a 5xx.
func TestConcurrentCreatesHoldQuotas(t *testing.T) {
	for _, tc := range []struct {
		name   string
		quotas map[string]int
		flavor string
		admits int
	}{
		{"instances", map[string]int{"instances": 5, "cores": -1, "ram": -1}, "1", 5},
		{"cores", map[string]int{"instances": -1, "cores": 7, "ram": -1}, "3", 3},  // m1.medium: 2 vCPUs
		{"ram", map[string]int{"instances": -1, "cores": -1, "ram": 9000}, "2", 4}, // m1.small: 2048 MB
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestEnv(t, func(o *Options) { o.Quotas = tc.quotas })
			e.secondProcess()
			var mu sync.Mutex
			created := 0
			failOnErrors(t, conctest.Burst(32, func(i int) error {
				status, _, raw := e.Do("POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"flavorRef": tc.flavor}))
				if status == 202 {
					mu.Lock()
					created++
					mu.Unlock()
				}
				return expectStatus("create", status, raw, 202, 403)
			}))
			if created != tc.admits {
				t.Errorf("%d servers created, the quota admits %d", created, tc.admits)
			}
			e.checkInvariants(t)
		})
	}
}

// TestConcurrentKeypairsAndGroupsHoldQuotas: 32 key pair imports and 32
// server group creates at once over two processes never take a user past the
// key_pairs quota nor a project past server_groups: exactly what they admit is
// created, the rest is upstream's 403.
func TestConcurrentKeypairsAndGroupsHoldQuotas(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.Quotas = map[string]int{"key_pairs": 5, "server_groups": 4} })
	e.secondProcess()
	// A public key to import, from one the service makes (then deleted).
	key := e.Must(200, "POST", "/v2.1/os-keypairs", e.DemoToken, map[string]any{"keypair": map[string]any{"name": "made"}})
	public := key["keypair"].(map[string]any)["public_key"]
	e.Must(202, "DELETE", "/v2.1/os-keypairs/made", e.DemoToken, nil)
	var mu sync.Mutex
	made := map[string]int{}
	failOnErrors(t, conctest.Burst(64, func(i int) error {
		kind, path, body := "key pair", "/v2.1/os-keypairs", map[string]any{"keypair": map[string]any{"name": fmt.Sprint("k", i), "public_key": public}}
		if i%2 == 1 {
			kind, path, body = "server group", "/v2.1/os-server-groups", map[string]any{"server_group": map[string]any{"name": fmt.Sprint("g", i), "policies": []string{"anti-affinity"}}}
		}
		status, _, raw := e.Do("POST", path, e.DemoToken, body)
		if status == 200 {
			mu.Lock()
			made[kind]++
			mu.Unlock()
		}
		return expectStatus("create "+kind, status, raw, 200, 403)
	}))
	if made["key pair"] != 5 || made["server group"] != 4 {
		t.Errorf("made %v, the quotas admit 5 key pairs and 4 server groups", made)
	}
}

// TestConcurrentLifecycleInvariants: rounds of 32 calls at once on the
// servers of a project (deletes, renames, state actions, resizes and their
// confirms and reverts, rebuilds, rescues, locks, metadata, tags) over two
// processes, while both conductors and the agents of both hosts run; then
// everything is deleted. No call is a 5xx, no deleted server comes back, and
// after each phase every host's usage is the sum of its live instances,
// within the host, and the quota holds.
func TestConcurrentLifecycleInvariants(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.Quotas = map[string]int{"instances": 24, "cores": -1, "ram": -1} })
	second := e.secondProcess()
	hosts := []string{"h1", "h2"}
	drivers := map[string]*fake.Driver{}
	for _, h := range hosts {
		e.host(h, 4, 4096, 100) // 11 m1.tiny each: (4096*1.5 - 512) / 512
		drivers[h] = fake.New(virt.HostResources{})
	}
	services := []*Service{e.Compute, second}
	ctx := context.Background()
	// settle runs the conductors and the agents until no task is left that
	// they carry out.
	settle := func() {
		t.Helper()
		for range 20 {
			for _, svc := range services {
				if err := svc.conduct(ctx); err != nil {
					t.Fatal(err)
				}
			}
			for _, h := range hosts {
				if err := agentPass(ctx, e.Compute, h, drivers[h]); err != nil {
					t.Fatal(err)
				}
			}
			if e.count(`SELECT COUNT(*) FROM instances WHERE deleted = ? AND task_state IS NOT NULL`, false) == 0 {
				return
			}
		}
		t.Fatal("the conductors and agents did not settle")
	}
	// background runs the conductors and agents until stop is closed, as the
	// running cloud does while the API takes calls. Their errors are not the
	// test's: a pass that fails is run again, and settle runs them last.
	background := func() (stop func()) {
		done := make(chan struct{})
		var wg sync.WaitGroup
		loop := func(pass func() error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					_ = pass()
				}
			}()
		}
		for _, svc := range services {
			loop(func() error { return svc.conduct(ctx) })
		}
		for i, h := range hosts {
			loop(func() error { return agentPass(ctx, services[i%2], h, drivers[h]) })
		}
		return func() { close(done); wg.Wait() }
	}

	var mu sync.Mutex
	var ids, deleted []string
	failOnErrors(t, conctest.Burst(32, func(i int) error {
		status, out, raw := e.Do("POST", "/v2.1/servers", e.DemoToken, serverBody(map[string]any{"name": fmt.Sprintf("vm%d", i)}))
		if status == 202 {
			mu.Lock()
			ids = append(ids, out["server"].(map[string]any)["id"].(string))
			mu.Unlock()
		}
		return expectStatus("create", status, raw, 202, 403)
	}))
	if len(ids) != 24 {
		t.Fatalf("%d servers created, the quota admits 24", len(ids))
	}
	settle()
	e.checkInvariants(t)

	// The calls of a round, each on a server of its own: path after
	// /v2.1/servers/{id}, body made for call number i.
	type call struct {
		method, path string
		body         func(i int) any
	}
	action := func(body any) call { return call{"POST", "/action", func(int) any { return body }} }
	ops := []call{
		{"PUT", "", func(i int) any { return map[string]any{"server": map[string]any{"name": fmt.Sprint("renamed-", i)}} }},
		action(map[string]any{"os-stop": nil}),
		action(map[string]any{"os-start": nil}),
		action(map[string]any{"reboot": map[string]any{"type": "HARD"}}),
		{"POST", "/action", func(i int) any {
			return map[string]any{"resize": map[string]any{"flavorRef": []string{"42", "84"}[i%2]}}
		}},
		action(map[string]any{"confirmResize": nil}),
		action(map[string]any{"revertResize": nil}),
		action(map[string]any{"rebuild": map[string]any{"imageRef": "aaaaaaaa-0000-4000-8000-000000000001"}}),
		action(map[string]any{"rescue": nil}),
		action(map[string]any{"unrescue": nil}),
		action(map[string]any{"lock": nil}),
		action(map[string]any{"unlock": nil}),
		{"PUT", "/metadata/k", func(i int) any { return map[string]any{"meta": map[string]any{"k": fmt.Sprint(i)}} }},
		{"PUT", "/tags/t", func(int) any { return nil }},
		{"DELETE", "", func(int) any { return nil }},
	}
	for round := range 4 {
		stop := background()
		failOnErrors(t, conctest.Burst(32, func(i int) error {
			id := ids[i%len(ids)]
			op := (i + round*7) % len(ops)
			if round < 3 && op == len(ops)-1 && i%3 != 0 {
				op = 0 // fewer deletes than renames: most servers go on to the next round
			}
			c := ops[op]
			path := "/v2.1/servers/" + id + c.path
			status, _, raw, _ := e.send("2.26", c.method, path, e.DemoToken, c.body(i))
			if c.method == "DELETE" && status == 204 {
				mu.Lock()
				deleted = append(deleted, id)
				mu.Unlock()
			}
			// 400 and 409 are the refusals of an action the server's state or
			// flavor does not allow; 404 a server another call deleted.
			return expectStatus(c.method+" "+path, status, raw, 200, 201, 202, 204, 400, 404, 409)
		}))
		stop()
		settle()
		for _, id := range deleted {
			if status, _, _ := e.Do("GET", "/v2.1/servers/"+id, e.DemoToken, nil); status != 404 {
				t.Errorf("round %d: server %s is back after its delete answered 204", round, id)
			}
		}
		e.checkInvariants(t)
	}

	// Everything goes: every claim is given back, once.
	stop := background()
	failOnErrors(t, conctest.Burst(len(ids), func(i int) error {
		status, _, raw := e.Do("DELETE", "/v2.1/servers/"+ids[i], e.AdminToken, nil)
		return expectStatus("delete", status, raw, 204, 404)
	}))
	stop()
	settle()
	if n := e.count(`SELECT COUNT(*) FROM instances WHERE deleted = ?`, false); n != 0 {
		t.Errorf("%d servers left after deleting all", n)
	}
	e.checkInvariants(t)
}

// checkInvariants checks what must hold however calls interleaved, once the
// conductors and agents are done: each host's usage (as os-hypervisors shows
// it) is never negative, is what its live instances claim (their flavor, and
// the old one of a resize not yet confirmed), and within what the host has by
// the scheduler's ratios; no project has more instances, cores or RAM than
// its quota.
func (e *testEnv) checkInvariants(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	live, err := db.QueryAll(ctx, e.Compute.db, scanInstance, `SELECT `+instanceColumns+` FROM instances WHERE deleted = ?`, false)
	if err != nil {
		t.Fatal(err)
	}
	type usage struct{ vcpus, ram, disk int }
	want := map[string]usage{}
	perProject := map[string]map[string]int{}
	for _, in := range live {
		p := perProject[in.ProjectID]
		if p == nil {
			p = map[string]int{}
			perProject[in.ProjectID] = p
		}
		p["instances"]++
		p["cores"] += in.Flavor.VCPUs
		p["ram"] += in.Flavor.RAM
		if in.Host == "" {
			continue
		}
		for _, f := range []*Flavor{&in.Flavor, in.Request.OldFlavor} {
			if f != nil {
				u := want[in.Host]
				u.vcpus, u.ram, u.disk = u.vcpus+f.VCPUs, u.ram+f.RAM, u.disk+f.Disk+f.Ephemeral+(f.Swap+1023)/1024
				want[in.Host] = u
			}
		}
	}
	cfg := e.Compute.opts.Scheduler
	for _, raw := range e.Must(200, "GET", "/v2.1/os-hypervisors/detail", e.AdminToken, nil)["hypervisors"].([]any) {
		h := raw.(map[string]any)
		name := h["hypervisor_hostname"].(string)
		got := usage{int(h["vcpus_used"].(float64)), int(h["memory_mb_used"].(float64)), int(h["local_gb_used"].(float64))}
		if got.vcpus < 0 || got.ram < 0 || got.disk < 0 {
			t.Errorf("host %s: negative usage %+v", name, got)
		}
		if got != want[name] {
			t.Errorf("host %s: usage %+v, its live instances claim %+v", name, got, want[name])
		}
		if float64(got.ram+cfg.ReservedHostMemoryMB) > h["memory_mb"].(float64)*cfg.RAMAllocationRatio ||
			float64(got.vcpus) > h["vcpus"].(float64)*cfg.CPUAllocationRatio ||
			float64(got.disk*1024+cfg.ReservedHostDiskMB) > h["local_gb"].(float64)*1024*cfg.DiskAllocationRatio {
			t.Errorf("host %s overcommitted: usage %+v of %v vCPUs, %v MB, %v GB", name, got, h["vcpus"], h["memory_mb"], h["local_gb"])
		}
	}
	for project, used := range perProject {
		limits, err := e.Compute.quotaLimits(ctx, e.Compute.db, project)
		if err != nil {
			t.Fatal(err)
		}
		for res, n := range used {
			if l := limits[res]; l >= 0 && n > l {
				t.Errorf("project %s uses %d %s, its quota is %d", project, n, res, l)
			}
		}
	}
}

// TestFlavorAccessRacingDeleteIsNeverA500: access given to a private flavor
// while the flavor is deleted is 200 before the delete or upstream's 404 after
// it, never a 500 (the insert's foreign key refusing it).
func TestFlavorAccessRacingDeleteIsNeverA500(t *testing.T) {
	e := newTestEnv(t, nil)
	for try := range 15 {
		id := fmt.Sprint("private-", try)
		e.Must(200, "POST", "/v2.1/flavors", e.AdminToken, map[string]any{"flavor": map[string]any{"name": id, "id": id,
			"ram": 512, "vcpus": 1, "disk": 1, "os-flavor-access:is_public": false}})
		failOnErrors(t, conctest.Burst(7, func(i int) error {
			if i == 0 {
				status, _, raw := e.Do("DELETE", "/v2.1/flavors/"+id, e.AdminToken, nil)
				return expectStatus("delete flavor", status, raw, 202)
			}
			status, _, raw := e.Do("POST", "/v2.1/flavors/"+id+"/action", e.AdminToken,
				map[string]any{"addTenantAccess": map[string]any{"tenant": fmt.Sprint("project-", i)}})
			return expectStatus("add tenant access", status, raw, 200, 404)
		}))
	}
}
