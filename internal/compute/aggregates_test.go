package compute

import (
	"encoding/json"
	"testing"
)

// TestAggregates: CRUD and actions with upstream's status codes, an
// aggregate's availability_zone moves its hosts into that zone (zone list,
// create validation, scheduler), and members may not touch aggregates.
func TestAggregates(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 4, 4096, 100)
	e.host("h2", 4, 4096, 100)
	agg := e.Must(200, "POST", "/v2.1/os-aggregates", e.AdminToken, map[string]any{"aggregate": map[string]any{"name": "rack1", "availability_zone": "az1"}})["aggregate"].(map[string]any)
	if agg["id"] != float64(1) || agg["availability_zone"] != "az1" || agg["deleted"] != false || agg["hosts"] != nil {
		t.Fatalf("create answer %v", agg)
	}
	path := "/v2.1/os-aggregates/1"
	act := path + "/action"
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		msg                       string
	}{
		{"member lists", "GET", "/v2.1/os-aggregates", e.DemoToken, nil, 403, "Policy doesn't allow os_compute_api:os-aggregates:index"},
		{"member creates", "POST", "/v2.1/os-aggregates", e.DemoToken, map[string]any{"aggregate": map[string]any{"name": "x"}}, 403, "os-aggregates:create"},
		{"member adds a host", "POST", act, e.DemoToken, map[string]any{"add_host": map[string]any{"host": "h1"}}, 403, "os-aggregates:add_host"},
		{"no name", "POST", "/v2.1/os-aggregates", e.AdminToken, map[string]any{"aggregate": map[string]any{}}, 400, "'name' is a required property"},
		{"duplicate name", "POST", "/v2.1/os-aggregates", e.AdminToken, map[string]any{"aggregate": map[string]any{"name": "rack1"}}, 409, "Aggregate rack1 already exists."},
		{"zone with a colon", "POST", "/v2.1/os-aggregates", e.AdminToken, map[string]any{"aggregate": map[string]any{"name": "y", "availability_zone": "a:b"}}, 400, "availability_zone"},
		{"unknown aggregate", "GET", "/v2.1/os-aggregates/99", e.AdminToken, nil, 404, "Aggregate 99 could not be found."},
		{"non-integer id", "GET", "/v2.1/os-aggregates/abc", e.AdminToken, nil, 404, "Aggregate abc could not be found."},
		{"unknown host", "POST", act, e.AdminToken, map[string]any{"add_host": map[string]any{"host": "nope"}}, 404, "Compute host nope could not be found."},
		{"add_host without host", "POST", act, e.AdminToken, map[string]any{"add_host": map[string]any{}}, 400, "'host' is a required property"},
		{"remove a host not in it", "POST", act, e.AdminToken, map[string]any{"remove_host": map[string]any{"host": "h2"}}, 404, "Cannot remove host h2 in aggregate 1"},
		{"unknown action", "POST", act, e.AdminToken, map[string]any{"explode": nil}, 400, "There is no such action: explode"},
		{"two actions", "POST", act, e.AdminToken, map[string]any{"add_host": map[string]any{"host": "h2"}, "remove_host": map[string]any{"host": "h2"}}, 400, "Malformed request body"},
		{"empty update", "PUT", path, e.AdminToken, map[string]any{"aggregate": map[string]any{}}, 400, "Invalid input for field/attribute aggregate. Value: {}. {} is not valid under any of the given schemas"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := e.Do(tc.method, tc.path, tc.token, tc.body)
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}

	got := e.Must(200, "POST", act, e.AdminToken, map[string]any{"add_host": map[string]any{"host": "h2"}})["aggregate"].(map[string]any)
	if h, _ := json.Marshal(got["hosts"]); string(h) != `["h2"]` {
		t.Fatalf("hosts after add_host: %s", h)
	}
	status, out, raw := e.Do("POST", act, e.AdminToken, map[string]any{"add_host": map[string]any{"host": "h2"}})
	checkFault(t, status, out, raw, 409, "Aggregate 1 already has host h2.")
	// A host is in one zone only.
	e.Must(200, "POST", "/v2.1/os-aggregates", e.AdminToken, map[string]any{"aggregate": map[string]any{"name": "rack2", "availability_zone": "az2"}})
	status, out, raw = e.Do("POST", "/v2.1/os-aggregates/2/action", e.AdminToken, map[string]any{"add_host": map[string]any{"host": "h2"}})
	checkFault(t, status, out, raw, 400, "One or more hosts already in availability zone(s) ['az1']")

	got = e.Must(200, "POST", act, e.AdminToken, map[string]any{"set_metadata": map[string]any{"metadata": map[string]any{"ssd": "true", "gone": nil}}})["aggregate"].(map[string]any)
	if m, _ := json.Marshal(got["metadata"]); string(m) != `{"availability_zone":"az1","ssd":"true"}` {
		t.Errorf("metadata = %s", m)
	}

	// The zone list shows az1 (h2) and nova (h1); detail has the hosts.
	zones := e.Must(200, "GET", "/v2.1/os-availability-zone", e.DemoToken, nil)["availabilityZoneInfo"].([]any)
	if z, _ := json.Marshal(zones); string(z) != `[{"hosts":null,"zoneName":"az1","zoneState":{"available":true}},{"hosts":null,"zoneName":"nova","zoneState":{"available":true}}]` {
		t.Errorf("zones = %s", z)
	}
	status, out, raw = e.Do("GET", "/v2.1/os-availability-zone/detail", e.DemoToken, nil)
	checkFault(t, status, out, raw, 403, "os-availability-zone:detail")
	detail := e.Must(200, "GET", "/v2.1/os-availability-zone/detail", e.AdminToken, nil)["availabilityZoneInfo"].([]any)
	if h := detail[0].(map[string]any)["hosts"].(map[string]any)["h2"].(map[string]any)["nova-compute"].(map[string]any); h["available"] != true || h["active"] != true {
		t.Errorf("detail of h2: %v", h)
	}

	// A server asking for az1 lands on h2, the only host of that zone.
	id := e.boot(e.DemoToken, map[string]any{"availability_zone": "az1"})
	if s := e.server(id); s["OS-EXT-SRV-ATTR:host"] != "h2" || s["OS-EXT-AZ:availability_zone"] != "az1" || s["status"] != "ACTIVE" {
		t.Errorf("server in az1: host %v zone %v status %v", s["OS-EXT-SRV-ATTR:host"], s["OS-EXT-AZ:availability_zone"], s["status"])
	}

	// Rename keeps the hosts; an aggregate with hosts cannot be deleted.
	got = e.Must(200, "PUT", path, e.AdminToken, map[string]any{"aggregate": map[string]any{"name": "rack-one"}})["aggregate"].(map[string]any)
	if got["name"] != "rack-one" || got["availability_zone"] != "az1" || got["updated_at"] == nil {
		t.Errorf("after update: %v", got)
	}
	status, out, raw = e.Do("DELETE", path, e.AdminToken, nil)
	checkFault(t, status, out, raw, 400, "Host aggregate is not empty.")
	e.Must(200, "POST", act, e.AdminToken, map[string]any{"remove_host": map[string]any{"host": "h2"}})
	e.Must(200, "DELETE", path, e.AdminToken, nil)
	e.Must(404, "GET", path, e.AdminToken, nil)
	if list := e.Must(200, "GET", "/v2.1/os-aggregates", e.AdminToken, nil)["aggregates"].([]any); len(list) != 1 {
		t.Errorf("aggregates left: %v", list)
	}
}

// TestAvailabilityZoneState: a zone whose every service is disabled is listed
// as unavailable, after the available ones.
func TestAvailabilityZoneState(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 4, 4096, 100)
	e.host("h2", 4, 4096, 100)
	e.Must(200, "POST", "/v2.1/os-aggregates", e.AdminToken, map[string]any{"aggregate": map[string]any{"name": "a", "availability_zone": "alpha"}})
	e.Must(200, "POST", "/v2.1/os-aggregates/1/action", e.AdminToken, map[string]any{"add_host": map[string]any{"host": "h1"}})
	e.Must(200, "PUT", "/v2.1/os-services/disable", e.AdminToken, map[string]any{"host": "h1", "binary": "nova-compute"})
	zones := e.Must(200, "GET", "/v2.1/os-availability-zone", e.DemoToken, nil)["availabilityZoneInfo"].([]any)
	if z, _ := json.Marshal(zones); string(z) != `[{"hosts":null,"zoneName":"nova","zoneState":{"available":true}},{"hosts":null,"zoneName":"alpha","zoneState":{"available":false}}]` {
		t.Errorf("zones = %s", z)
	}
}
