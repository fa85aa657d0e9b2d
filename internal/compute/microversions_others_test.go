package compute

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// TestKeypairsByMicroversion: `type` from 2.2 (x509 too), another user's key
// pairs with user_id from 2.10 (ignored before), paging from 2.35, and no
// generated keys from 2.92.
func TestKeypairsByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	kp := func(body map[string]any) map[string]any { return map[string]any{"keypair": body} }

	// 2.1: no type in or out.
	e.mustAt(400, "2.1", "POST", "/v2.1/os-keypairs", e.DemoToken, kp(map[string]any{"name": "k0", "type": "ssh"}))
	out := e.mustAt(200, "2.1", "POST", "/v2.1/os-keypairs", e.DemoToken, kp(map[string]any{"name": "k1"}))["keypair"].(map[string]any)
	if _, ok := out["type"]; ok {
		t.Errorf("2.1 create shows type: %v", out)
	}
	// 2.2: type shown, x509 generated and fingerprinted, a bad type 400.
	out = e.mustAt(200, "2.2", "GET", "/v2.1/os-keypairs/k1", e.DemoToken, nil)["keypair"].(map[string]any)
	if out["type"] != "ssh" {
		t.Errorf("2.2 show type = %v, want ssh", out["type"])
	}
	x := e.mustAt(201, "2.2", "POST", "/v2.1/os-keypairs", e.DemoToken, kp(map[string]any{"name": "x1", "type": "x509"}))["keypair"].(map[string]any)
	if x["type"] != "x509" || !strings.HasPrefix(x["public_key"].(string), "-----BEGIN CERTIFICATE-----") ||
		!strings.Contains(x["private_key"].(string), "PRIVATE KEY") || strings.Count(x["fingerprint"].(string), ":") != 19 {
		t.Errorf("2.2 x509 key pair = %v", x)
	}
	e.mustAt(201, "2.2", "POST", "/v2.1/os-keypairs", e.DemoToken, kp(map[string]any{"name": "x2", "type": "x509", "public_key": x["public_key"]}))
	e.mustAt(400, "2.2", "POST", "/v2.1/os-keypairs", e.DemoToken, kp(map[string]any{"name": "x3", "type": "x509", "public_key": "ssh-rsa AAAA"}))
	e.mustAt(400, "2.2", "POST", "/v2.1/os-keypairs", e.DemoToken, kp(map[string]any{"name": "k2", "type": "dsa"}))
	list := e.mustAt(200, "2.2", "GET", "/v2.1/os-keypairs", e.DemoToken, nil)["keypairs"].([]any)
	for _, item := range list {
		if k := item.(map[string]any)["keypair"].(map[string]any); k["type"] == nil {
			t.Errorf("2.2 list item without type: %v", k)
		}
	}

	// user_id: 2.10 lets an admin act on another user's key pairs; before, it is ignored or refused.
	demoUser := e.mustAt(200, "2.10", "GET", "/v2.1/os-keypairs/k1", e.DemoToken, nil)["keypair"].(map[string]any)["user_id"].(string)
	e.mustAt(400, "2.9", "POST", "/v2.1/os-keypairs", e.AdminToken, kp(map[string]any{"name": "a1", "user_id": demoUser}))
	e.mustAt(201, "2.10", "POST", "/v2.1/os-keypairs", e.AdminToken, kp(map[string]any{"name": "a1", "user_id": demoUser}))
	e.mustAt(200, "2.10", "GET", "/v2.1/os-keypairs/a1?user_id="+demoUser, e.AdminToken, nil)
	e.mustAt(404, "2.9", "GET", "/v2.1/os-keypairs/a1?user_id="+demoUser, e.AdminToken, nil) // the admin's own
	e.mustAt(403, "2.10", "POST", "/v2.1/os-keypairs", e.DemoToken, kp(map[string]any{"name": "a2", "user_id": "someone-else"}))

	// 2.35: pages by name with a next link.
	page := e.mustAt(200, "2.35", "GET", "/v2.1/os-keypairs?limit=2&user_id="+demoUser, e.AdminToken, nil)
	if got := len(page["keypairs"].([]any)); got != 2 || page["keypairs_links"] == nil {
		t.Fatalf("2.35 first page: %d key pairs, links %v", got, page["keypairs_links"])
	}
	rest := e.mustAt(200, "2.35", "GET", "/v2.1/os-keypairs?marker=k1&user_id="+demoUser, e.AdminToken, nil)["keypairs"].([]any)
	if len(rest) != 2 || rest[0].(map[string]any)["keypair"].(map[string]any)["name"] != "x1" {
		t.Errorf("2.35 after k1: %v", rest)
	}
	e.mustAt(400, "2.35", "GET", "/v2.1/os-keypairs?marker=nope", e.DemoToken, nil)
	e.mustAt(400, "2.35", "GET", "/v2.1/os-keypairs?limit=-1", e.DemoToken, nil)

	// 2.92: a public key is required.
	e.mustAt(400, "2.92", "POST", "/v2.1/os-keypairs", e.DemoToken, kp(map[string]any{"name": "g1"}))
	e.mustAt(201, "2.91", "POST", "/v2.1/os-keypairs", e.DemoToken, kp(map[string]any{"name": "g1"}))

	// Delete: 202 to 2.1, 204 from 2.2, as upstream.
	e.mustAt(202, "2.1", "DELETE", "/v2.1/os-keypairs/g1", e.DemoToken, nil)
	e.mustAt(204, "2.2", "DELETE", "/v2.1/os-keypairs/k1", e.DemoToken, nil)
}

// TestRemoteConsolesByMicroversion: the API exists from 2.6; protocol and type
// are checked as upstream's schema (mks from 2.8); only noVNC is on offer.
func TestRemoteConsolesByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	path := "/v2.1/servers/" + id + "/remote-consoles"
	rc := func(protocol, typ string) map[string]any {
		return map[string]any{"remote_console": map[string]any{"protocol": protocol, "type": typ}}
	}
	for _, tc := range []struct {
		version, protocol, typ string
		want                   int
	}{
		{"2.5", "vnc", "novnc", 404},
		{"2.6", "vnc", "xvpvnc", 400}, // valid, not offered
		{"2.6", "spice", "novnc", 400},
		{"2.6", "mks", "webmks", 400},
		{"2.8", "mks", "webmks", 400}, // valid from 2.8, not offered
		{"2.6", "telnet", "novnc", 400},
	} {
		if status, out, _ := e.doAt(tc.version, "POST", path, e.DemoToken, rc(tc.protocol, tc.typ)); status != tc.want {
			t.Errorf("%s %s/%s: %d %v, want %d", tc.version, tc.protocol, tc.typ, status, out, tc.want)
		}
	}
	e.mustAt(400, "2.6", "POST", path, e.DemoToken, map[string]any{"console": map[string]any{}})
	e.mustAt(404, "2.6", "POST", "/v2.1/servers/00000000-0000-0000-0000-000000000000/remote-consoles", e.DemoToken, rc("vnc", "novnc"))
}

// TestServerGroupsByMicroversion: owner ids from 2.13; from 2.64 `policy` and
// `rules` replace `policies` and `metadata`, and max_server_per_host reaches the
// scheduler.
func TestServerGroupsByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	sg := func(body map[string]any) map[string]any { return map[string]any{"server_group": body} }
	g := e.mustAt(200, "2.1", "POST", "/v2.1/os-server-groups", e.DemoToken, sg(map[string]any{"name": "a", "policies": []any{"anti-affinity"}}))["server_group"].(map[string]any)
	if g["policies"] == nil || g["user_id"] != nil || g["policy"] != nil {
		t.Errorf("2.1 group = %v", g)
	}
	id := g["id"].(string)
	g = e.mustAt(200, "2.13", "GET", "/v2.1/os-server-groups/"+id, e.DemoToken, nil)["server_group"].(map[string]any)
	if g["user_id"] == nil || g["project_id"] != e.DemoProject || g["policies"] == nil {
		t.Errorf("2.13 group = %v", g)
	}
	g = e.mustAt(200, "2.64", "GET", "/v2.1/os-server-groups/"+id, e.DemoToken, nil)["server_group"].(map[string]any)
	if g["policy"] != "anti-affinity" || g["rules"] == nil || g["policies"] != nil || g["metadata"] != nil {
		t.Errorf("2.64 group = %v", g)
	}
	for _, tc := range []struct {
		version string
		body    map[string]any
		want    int
	}{
		{"2.63", map[string]any{"name": "b", "policy": "affinity"}, 400},
		{"2.64", map[string]any{"name": "b", "policies": []any{"affinity"}}, 400},
		{"2.64", map[string]any{"name": "b"}, 400},
		{"2.64", map[string]any{"name": "b", "policy": "affinity", "rules": map[string]any{"max_server_per_host": 2}}, 400},
		{"2.64", map[string]any{"name": "b", "policy": "anti-affinity", "rules": map[string]any{"max_server_per_host": 0}}, 400},
		{"2.64", map[string]any{"name": "b", "policy": "anti-affinity", "rules": map[string]any{"other": 1}}, 400},
		{"2.64", map[string]any{"name": "b", "policy": "soft-affinity"}, 200},
		{"2.64", map[string]any{"name": "b", "policy": "anti-affinity", "rules": map[string]any{"max_server_per_host": 2}}, 200},
	} {
		if status, out, _ := e.doAt(tc.version, "POST", "/v2.1/os-server-groups", e.DemoToken, sg(tc.body)); status != tc.want {
			t.Errorf("%s %v: %d %v, want %d", tc.version, tc.body, status, out, tc.want)
		}
	}

	// Two members of a max_server_per_host=2 group fit on the one host; a third does not.
	g = e.mustAt(200, "2.64", "POST", "/v2.1/os-server-groups", e.DemoToken,
		sg(map[string]any{"name": "two", "policy": "anti-affinity", "rules": map[string]any{"max_server_per_host": 2}}))["server_group"].(map[string]any)
	if rules := g["rules"].(map[string]any); rules["max_server_per_host"] != float64(2) {
		t.Fatalf("2.64 rules = %v", rules)
	}
	hint := map[string]any{"group": g["id"]}
	var ids []string
	for range 3 {
		body := serverBody(map[string]any{"networks": []any{map[string]any{"uuid": netUUID}}})
		body["os:scheduler_hints"] = hint
		ids = append(ids, e.mustAt(202, "2.64", "POST", "/v2.1/servers", e.DemoToken, body)["server"].(map[string]any)["id"].(string))
		e.conduct()
		e.agent()
	}
	for i, want := range []string{"ACTIVE", "ACTIVE", "ERROR"} {
		if got := e.server(ids[i])["status"]; got != want {
			t.Errorf("member %d is %v, want %s", i, got, want)
		}
	}
}

// TestInstanceActionsByMicroversion: deleted servers' actions from 2.21, events
// for their owner from 2.51 (no traceback), updated_at and paging from 2.58,
// hostId/host from 2.62, changes-before from 2.66, details from 2.84.
func TestInstanceActionsByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	id := e.activeServer("2.1", nil)
	e.mustAt(202, "2.1", "POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"os-stop": nil})
	e.agent()
	path := "/v2.1/servers/" + id + "/os-instance-actions"
	list := e.mustAt(200, "2.1", "GET", path, e.DemoToken, nil)["instanceActions"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["updated_at"] != nil {
		t.Fatalf("2.1 actions = %v", list)
	}
	create := list[1].(map[string]any)["request_id"].(string)

	// 2.58: updated_at, pages newest first.
	page := e.mustAt(200, "2.58", "GET", path+"?limit=1", e.DemoToken, nil)
	first := page["instanceActions"].([]any)
	if len(first) != 1 || first[0].(map[string]any)["action"] != "stop" || first[0].(map[string]any)["updated_at"] == nil || page["links"] == nil {
		t.Fatalf("2.58 first page = %v", page)
	}
	marker := first[0].(map[string]any)["request_id"].(string)
	rest := e.mustAt(200, "2.58", "GET", path+"?marker="+marker, e.DemoToken, nil)["instanceActions"].([]any)
	if len(rest) != 1 || rest[0].(map[string]any)["action"] != "create" {
		t.Errorf("2.58 after the marker = %v", rest)
	}
	e.mustAt(400, "2.58", "GET", path+"?marker=req-none", e.DemoToken, nil)
	if got := e.mustAt(200, "2.58", "GET", path+"?changes-since=2999-01-01T00:00:00Z", e.DemoToken, nil)["instanceActions"].([]any); len(got) != 0 {
		t.Errorf("2.58 changes-since in the future = %v", got)
	}
	if got := e.mustAt(200, "2.66", "GET", path+"?changes-before=2000-01-01T00:00:00Z", e.DemoToken, nil)["instanceActions"].([]any); len(got) != 0 {
		t.Errorf("2.66 changes-before in the past = %v", got)
	}
	e.mustAt(400, "2.66", "GET", path+"?changes-since=2020-01-02T00:00:00Z&changes-before=2020-01-01T00:00:00Z", e.DemoToken, nil)

	// Events: hidden from the owner before 2.51, then shown without traceback or host.
	show := "/v2.1/servers/" + id + "/os-instance-actions/" + create
	if a := e.mustAt(200, "2.50", "GET", show, e.DemoToken, nil)["instanceAction"].(map[string]any); a["events"] != nil {
		t.Errorf("2.50 owner sees events: %v", a)
	}
	events := e.mustAt(200, "2.62", "GET", show, e.DemoToken, nil)["instanceAction"].(map[string]any)["events"].([]any)
	if len(events) == 0 {
		t.Fatal("2.62: no events for the create")
	}
	if ev := events[0].(map[string]any); ev["traceback"] != nil || ev["host"] != nil || ev["hostId"] == "" || ev["hostId"] == nil {
		t.Errorf("2.62 owner's event = %v", ev)
	}
	ev := e.mustAt(200, "2.84", "GET", show, e.AdminToken, nil)["instanceAction"].(map[string]any)["events"].([]any)[0].(map[string]any)
	if ev["host"] != "h1" || !hasKey(ev, "details") || !hasKey(ev, "traceback") {
		t.Errorf("2.84 admin's event = %v", ev)
	}

	// 2.21: a deleted server's actions stay readable by its owner.
	e.mustAt(204, "2.1", "DELETE", "/v2.1/servers/"+id, e.DemoToken, nil)
	e.agent()
	e.mustAt(404, "2.20", "GET", path, e.DemoToken, nil)
	if got := e.mustAt(200, "2.21", "GET", path, e.DemoToken, nil)["instanceActions"].([]any); len(got) != 3 {
		t.Errorf("2.21 deleted server's actions = %v", got)
	}
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

// TestServicesByMicroversion: forced_down from 2.11 (force-down 404 before),
// UUID ids and PUT/DELETE by id from 2.53.
func TestServicesByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	svc := e.mustAt(200, "2.1", "GET", "/v2.1/os-services", e.AdminToken, nil)["services"].([]any)[0].(map[string]any)
	if hasKey(svc, "forced_down") || svc["id"] != float64(1) {
		t.Errorf("2.1 service = %v", svc)
	}
	body := map[string]any{"host": "h1", "binary": "nova-compute", "forced_down": true}
	// Before 2.11 the schema has no forced_down, and force-down is no action.
	e.mustAt(400, "2.10", "PUT", "/v2.1/os-services/force-down", e.AdminToken, body)
	e.mustAt(404, "2.10", "PUT", "/v2.1/os-services/force-down", e.AdminToken, map[string]any{"host": "h1", "binary": "nova-compute"})
	if out := e.mustAt(200, "2.11", "PUT", "/v2.1/os-services/force-down", e.AdminToken, body)["service"].(map[string]any); out["forced_down"] != true {
		t.Errorf("2.11 force-down = %v", out)
	}
	svc = e.mustAt(200, "2.11", "GET", "/v2.1/os-services", e.AdminToken, nil)["services"].([]any)[0].(map[string]any)
	if svc["forced_down"] != true || svc["state"] != "down" {
		t.Errorf("2.11 forced-down service = %v", svc)
	}

	svc = e.mustAt(200, "2.53", "GET", "/v2.1/os-services", e.AdminToken, nil)["services"].([]any)[0].(map[string]any)
	id, _ := svc["id"].(string)
	if !isUUID(id) {
		t.Fatalf("2.53 service id = %v", svc["id"])
	}
	for _, tc := range []struct {
		body map[string]any
		want int
	}{
		{map[string]any{}, 400},
		{map[string]any{"status": "paused"}, 400},
		{map[string]any{"status": "enabled", "disabled_reason": "x"}, 400},
		{map[string]any{"status": "disabled", "disabled_reason": "maintenance"}, 200},
		{map[string]any{"forced_down": false}, 200},
	} {
		if status, out, _ := e.doAt("2.53", "PUT", "/v2.1/os-services/"+id, e.AdminToken, tc.body); status != tc.want {
			t.Errorf("2.53 PUT %v: %d %v, want %d", tc.body, status, out, tc.want)
		}
	}
	svc = e.mustAt(200, "2.53", "GET", "/v2.1/os-services", e.AdminToken, nil)["services"].([]any)[0].(map[string]any)
	if svc["status"] != "disabled" || svc["disabled_reason"] != "maintenance" || svc["forced_down"] != false {
		t.Errorf("2.53 after the updates = %v", svc)
	}
	e.mustAt(400, "2.53", "PUT", "/v2.1/os-services/enable", e.AdminToken, map[string]any{"host": "h1", "binary": "nova-compute"})
	e.mustAt(404, "2.53", "PUT", "/v2.1/os-services/00000000-0000-0000-0000-000000000000", e.AdminToken, map[string]any{"status": "enabled"})
	e.mustAt(400, "2.53", "DELETE", "/v2.1/os-services/1", e.AdminToken, nil)
	e.mustAt(204, "2.53", "DELETE", "/v2.1/os-services/"+id, e.AdminToken, nil)
}

// TestHypervisorsByMicroversion: cpu_info an object from 2.28, paging from 2.33,
// UUIDs with the pattern and with_servers from 2.53 (search 404), no resource
// figures and no statistics from 2.88.
func TestHypervisorsByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	e.host("h2", 8, 8192, 100)
	e.activeServer("2.1", nil)
	detail := func(version string) []any {
		return e.mustAt(200, version, "GET", "/v2.1/os-hypervisors/detail", e.AdminToken, nil)["hypervisors"].([]any)
	}
	h := detail("2.27")[0].(map[string]any)
	if _, ok := h["cpu_info"].(string); !ok {
		t.Errorf("2.27 cpu_info = %#v, want a string", h["cpu_info"])
	}
	h = detail("2.28")[0].(map[string]any)
	if _, ok := h["cpu_info"].(map[string]any); !ok {
		t.Errorf("2.28 cpu_info = %#v, want an object", h["cpu_info"])
	}
	page := e.mustAt(200, "2.33", "GET", "/v2.1/os-hypervisors?limit=1", e.AdminToken, nil)
	if len(page["hypervisors"].([]any)) != 1 || page["hypervisors_links"] == nil {
		t.Errorf("2.33 page = %v", page)
	}
	rest := e.mustAt(200, "2.33", "GET", "/v2.1/os-hypervisors?marker=1", e.AdminToken, nil)["hypervisors"].([]any)
	if len(rest) != 1 || rest[0].(map[string]any)["hypervisor_hostname"] != "h2" {
		t.Errorf("2.33 after marker 1 = %v", rest)
	}

	list := e.mustAt(200, "2.53", "GET", "/v2.1/os-hypervisors?hypervisor_hostname_pattern=h1&with_servers=true", e.AdminToken, nil)["hypervisors"].([]any)
	if len(list) != 1 {
		t.Fatalf("2.53 pattern h1 = %v", list)
	}
	h = list[0].(map[string]any)
	id, _ := h["id"].(string)
	if !isUUID(id) || len(h["servers"].([]any)) != 1 {
		t.Errorf("2.53 hypervisor = %v", h)
	}
	e.mustAt(404, "2.53", "GET", "/v2.1/os-hypervisors?hypervisor_hostname_pattern=nope", e.AdminToken, nil)
	e.mustAt(404, "2.53", "GET", "/v2.1/os-hypervisors/h1/search", e.AdminToken, nil)
	e.mustAt(400, "2.53", "GET", "/v2.1/os-hypervisors/1", e.AdminToken, nil)
	shown := e.mustAt(200, "2.53", "GET", "/v2.1/os-hypervisors/"+id, e.AdminToken, nil)["hypervisor"].(map[string]any)
	if _, ok := shown["service"].(map[string]any)["id"].(string); !ok || !hasKey(shown, "vcpus") {
		t.Errorf("2.53 show = %v", shown)
	}
	shown = e.mustAt(200, "2.88", "GET", "/v2.1/os-hypervisors/"+id, e.AdminToken, nil)["hypervisor"].(map[string]any)
	if hasKey(shown, "vcpus") || hasKey(shown, "running_vms") || !hasKey(shown, "uptime") {
		t.Errorf("2.88 show = %v", shown)
	}
	e.mustAt(200, "2.87", "GET", "/v2.1/os-hypervisors/statistics", e.AdminToken, nil)
	e.mustAt(404, "2.88", "GET", "/v2.1/os-hypervisors/statistics", e.AdminToken, nil)
}

// TestFlavorsByMicroversion: description from 2.55 (create, update, shown),
// extra_specs in the views from 2.61, swap 0 rather than "" from 2.75.
func TestFlavorsByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	fl := func(body map[string]any) map[string]any { return map[string]any{"flavor": body} }
	base := map[string]any{"name": "d1", "ram": 64, "vcpus": 1, "disk": 1, "description": "small"}
	e.mustAt(400, "2.54", "POST", "/v2.1/flavors", e.AdminToken, fl(base))
	f := e.mustAt(200, "2.55", "POST", "/v2.1/flavors", e.AdminToken, fl(base))["flavor"].(map[string]any)
	if f["description"] != "small" || f["swap"] != "" || hasKey(f, "extra_specs") {
		t.Errorf("2.55 created flavor = %v", f)
	}
	id := f["id"].(string)
	e.mustAt(404, "2.54", "PUT", "/v2.1/flavors/"+id, e.AdminToken, fl(map[string]any{"description": "x"}))
	e.mustAt(403, "2.55", "PUT", "/v2.1/flavors/"+id, e.DemoToken, fl(map[string]any{"description": "x"}))
	e.mustAt(400, "2.55", "PUT", "/v2.1/flavors/"+id, e.AdminToken, fl(map[string]any{"name": "x"}))
	if f := e.mustAt(200, "2.55", "PUT", "/v2.1/flavors/"+id, e.AdminToken, fl(map[string]any{"description": nil}))["flavor"].(map[string]any); f["description"] != nil || !hasKey(f, "description") {
		t.Errorf("2.55 description cleared = %v", f)
	}
	e.mustAt(200, "2.1", "POST", "/v2.1/flavors/"+id+"/os-extra_specs", e.AdminToken, map[string]any{"extra_specs": map[string]any{"hw:cpu_policy": "shared"}})
	f = e.mustAt(200, "2.61", "GET", "/v2.1/flavors/"+id, e.DemoToken, nil)["flavor"].(map[string]any)
	if specs, _ := f["extra_specs"].(map[string]any); specs["hw:cpu_policy"] != "shared" {
		t.Errorf("2.61 flavor = %v", f)
	}
	if f := e.mustAt(200, "2.60", "GET", "/v2.1/flavors/"+id, e.DemoToken, nil)["flavor"].(map[string]any); hasKey(f, "extra_specs") {
		t.Errorf("2.60 flavor shows extra_specs: %v", f)
	}
	if f := e.mustAt(200, "2.75", "GET", "/v2.1/flavors/"+id, e.DemoToken, nil)["flavor"].(map[string]any); f["swap"] != float64(0) {
		t.Errorf("2.75 swap = %#v, want 0", f["swap"])
	}
}

// TestFlavorExtraSpecsValidatedByMicroversion: from 2.86 each extra spec
// created or updated is checked against upstream's registry (400 with its
// message, before the flavor is looked up); before, anything is stored.
func TestFlavorExtraSpecsValidatedByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	f := e.mustAt(200, "2.55", "POST", "/v2.1/flavors", e.AdminToken, map[string]any{"flavor": map[string]any{"name": "v1", "ram": 64, "vcpus": 1, "disk": 1}})
	path := "/v2.1/flavors/" + f["flavor"].(map[string]any)["id"].(string) + "/os-extra_specs"
	specs := func(kv ...string) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	wrapped := func(kv ...string) map[string]any { return map[string]any{"extra_specs": specs(kv...)} }
	badRequestMessage := func(out map[string]any) any {
		fault, _ := out["badRequest"].(map[string]any)
		if fault["code"] != float64(400) {
			t.Errorf("400 body = %v", out)
		}
		return fault["message"]
	}
	const policyMsg = "Validation failed; 'bogus' is not one of: dedicated, shared, mixed."

	e.mustAt(200, "2.85", "POST", path, e.AdminToken, wrapped("hw:cpu_policy", "bogus", "hw:no_such", "x"))
	e.mustAt(200, "2.85", "PUT", path+"/hw:numa_nodes", e.AdminToken, specs("hw:numa_nodes", "0"))
	if got := e.mustAt(200, "2.86", "GET", path, e.AdminToken, nil)["extra_specs"].(map[string]any); got["hw:cpu_policy"] != "bogus" || got["hw:numa_nodes"] != "0" {
		t.Errorf("2.85 stored %v", got)
	}

	for _, tc := range []struct {
		method, path string
		body         map[string]any
		want         string
	}{
		{"POST", path, wrapped("hw:cpu_policy", "bogus"), policyMsg},
		{"POST", path, wrapped("hw:cpu_policy", "shared", "hw:no_such", "x"), "Validation failed; extra spec 'hw:no_such' does not appear to be a valid extra spec."},
		{"POST", path, wrapped("hw:cpu_policy", "shared", "hw:cpu_realtime", "maybe"), "Validation failed; 'maybe' is not a valid boolean-like value."},
		{"PUT", path + "/hw:cpu_policy", specs("hw:cpu_policy", "bogus"), policyMsg},
		{"PUT", path + "/hw:numa_nodes", specs("hw:numa_nodes", "0"), "Validation failed; '0' is less than the min value of '1'."},
		// validated before the URI mismatch and the flavor lookup, as upstream
		{"PUT", path + "/hw:cpu_thread_policy", specs("hw:cpu_policy", "bogus"), policyMsg},
		{"POST", "/v2.1/flavors/no-such/os-extra_specs", wrapped("hw:cpu_policy", "bogus"), policyMsg},
	} {
		if msg := badRequestMessage(e.mustAt(400, "2.86", tc.method, tc.path, e.AdminToken, tc.body)); msg != tc.want {
			t.Errorf("%s %s %v at 2.86: message %v, want %q", tc.method, tc.path, tc.body, msg, tc.want)
		}
	}
	if got := e.mustAt(200, "2.86", "GET", path, e.AdminToken, nil)["extra_specs"].(map[string]any); got["hw:cpu_policy"] != "bogus" || hasKey(got, "hw:cpu_realtime") {
		t.Errorf("a refused request changed the specs: %v", got)
	}

	ok := wrapped("hw:cpu_policy", "dedicated", "hw:numa_cpus.0", "0-1", "trait:CUSTOM_GOLD", "required", "foo:bar", "anything", "plain", "x")
	if got := e.mustAt(200, "2.86", "POST", path, e.AdminToken, ok)["extra_specs"].(map[string]any); got["hw:cpu_policy"] != "dedicated" || len(got) != 5 {
		t.Errorf("2.86 create answered %v", got)
	}
	e.mustAt(200, "2.86", "PUT", path+"/hw:numa_nodes", e.AdminToken, map[string]any{"hw:numa_nodes": 2})
	e.mustAt(200, "2.100", "PUT", path+"/hw:cpu_policy", e.AdminToken, specs("hw:cpu_policy", "mixed"))
	e.mustAt(400, "2.100", "PUT", path+"/hw:cpu_policy", e.AdminToken, specs("hw:cpu_policy", "bogus"))
	got := e.mustAt(200, "2.86", "GET", path, e.AdminToken, nil)["extra_specs"].(map[string]any)
	if got["hw:cpu_policy"] != "mixed" || got["hw:numa_nodes"] != "2" || got["hw:numa_cpus.0"] != "0-1" {
		t.Errorf("2.86 stored %v", got)
	}
}

// TestQuotasAndLimitsByMicroversion: the network proxy's resources go at 2.36,
// maxImageMeta at 2.39, injected files at 2.57.
func TestQuotasAndLimitsByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	path := "/v2.1/os-quota-sets/" + e.DemoProject
	for _, tc := range []struct {
		version         string
		present, absent []string
	}{
		{"2.35", []string{"floating_ips", "security_groups", "injected_files"}, nil},
		{"2.36", []string{"injected_files", "cores"}, []string{"floating_ips", "fixed_ips", "security_groups", "security_group_rules"}},
		{"2.57", []string{"cores", "server_groups"}, []string{"injected_files", "injected_file_content_bytes", "injected_file_path_bytes"}},
	} {
		qs := e.mustAt(200, tc.version, "GET", path, e.AdminToken, nil)["quota_set"].(map[string]any)
		for _, k := range tc.present {
			if !hasKey(qs, k) {
				t.Errorf("%s quota set lacks %s", tc.version, k)
			}
		}
		for _, k := range tc.absent {
			if hasKey(qs, k) {
				t.Errorf("%s quota set shows %s", tc.version, k)
			}
		}
	}
	e.mustAt(200, "2.35", "PUT", path, e.AdminToken, map[string]any{"quota_set": map[string]any{"floating_ips": 5}})
	e.mustAt(400, "2.36", "PUT", path, e.AdminToken, map[string]any{"quota_set": map[string]any{"floating_ips": 5}})
	e.mustAt(400, "2.57", "PUT", path, e.AdminToken, map[string]any{"quota_set": map[string]any{"injected_files": 5}})

	abs := func(version string) map[string]any {
		return e.mustAt(200, version, "GET", "/v2.1/limits", e.DemoToken, nil)["limits"].(map[string]any)["absolute"].(map[string]any)
	}
	if a := abs("2.35"); !hasKey(a, "maxTotalFloatingIps") || !hasKey(a, "maxImageMeta") {
		t.Errorf("2.35 limits = %v", a)
	}
	if a := abs("2.36"); hasKey(a, "maxTotalFloatingIps") || hasKey(a, "totalSecurityGroupsUsed") || !hasKey(a, "maxImageMeta") {
		t.Errorf("2.36 limits = %v", a)
	}
	if a := abs("2.39"); hasKey(a, "maxImageMeta") || !hasKey(a, "maxPersonality") {
		t.Errorf("2.39 limits = %v", a)
	}
	if a := abs("2.57"); hasKey(a, "maxPersonality") || hasKey(a, "maxPersonalitySize") || !hasKey(a, "maxTotalCores") {
		t.Errorf("2.57 limits = %v", a)
	}
}

// TestUsageAndAggregatesByMicroversion: usage paged by instance from 2.40,
// aggregates with their uuid from 2.41.
func TestUsageAndAggregatesByMicroversion(t *testing.T) {
	e := newMVEnv(t)
	first := e.activeServer("2.1", nil)
	e.activeServer("2.1", nil)
	path := "/v2.1/os-simple-tenant-usage/" + e.DemoProject
	servers := func(out map[string]any) []any {
		return out["tenant_usage"].(map[string]any)["server_usages"].([]any)
	}
	if got := servers(e.mustAt(200, "2.39", "GET", path+"?limit=1", e.AdminToken, nil)); len(got) != 2 {
		t.Errorf("2.39 ignores limit: %d servers", len(got))
	}
	out := e.mustAt(200, "2.40", "GET", path+"?limit=1", e.AdminToken, nil)
	if got := servers(out); len(got) != 1 || got[0].(map[string]any)["instance_id"] != first || out["tenant_usage_links"] == nil {
		t.Errorf("2.40 first page = %v", out)
	}
	if got := servers(e.mustAt(200, "2.40", "GET", path+"?marker="+first, e.AdminToken, nil)); len(got) != 1 || got[0].(map[string]any)["instance_id"] == first {
		t.Errorf("2.40 after the marker = %v", got)
	}
	e.mustAt(400, "2.40", "GET", path+"?marker=nope", e.AdminToken, nil)
	if all := e.mustAt(200, "2.40", "GET", "/v2.1/os-simple-tenant-usage?limit=1", e.AdminToken, nil); all["tenant_usages_links"] == nil {
		t.Errorf("2.40 list page = %v", all)
	}

	agg := e.mustAt(200, "2.40", "POST", "/v2.1/os-aggregates", e.AdminToken, map[string]any{"aggregate": map[string]any{"name": "a1"}})["aggregate"].(map[string]any)
	if hasKey(agg, "uuid") {
		t.Errorf("2.40 aggregate shows uuid: %v", agg)
	}
	id := strconv.Itoa(int(agg["id"].(float64)))
	if a := e.mustAt(200, "2.41", "GET", "/v2.1/os-aggregates/"+id, e.AdminToken, nil)["aggregate"].(map[string]any); !isUUID(fmt.Sprint(a["uuid"])) {
		t.Errorf("2.41 aggregate = %v", a)
	}
}
