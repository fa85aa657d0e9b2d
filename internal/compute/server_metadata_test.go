package compute

import (
	"encoding/json"
	"testing"
)

// TestServerMetadata: merge, replace, item set and delete with upstream's
// validation; another project gets 404; a locked server is 409 for members.
func TestServerMetadata(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	otherToken, _ := e.identity.NewProjectUser("other")
	id := e.boot(e.DemoToken, map[string]any{"metadata": map[string]any{"a": "1"}})
	path := "/v2.1/servers/" + id + "/metadata"
	meta := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	if got := e.Must(200, "POST", path, e.DemoToken, map[string]any{"metadata": map[string]any{"b": "2"}})["metadata"]; meta(got) != `{"a":"1","b":"2"}` {
		t.Errorf("after POST: %s", meta(got))
	}
	if got := e.Must(200, "PUT", path+"/c", e.DemoToken, map[string]any{"meta": map[string]any{"c": "3"}})["meta"]; meta(got) != `{"c":"3"}` {
		t.Errorf("PUT item: %s", meta(got))
	}
	if got := e.Must(200, "GET", path+"/c", e.DemoToken, nil)["meta"]; meta(got) != `{"c":"3"}` {
		t.Errorf("GET item: %s", meta(got))
	}
	e.Must(204, "DELETE", path+"/a", e.DemoToken, nil)
	if got := e.Must(200, "GET", path, e.DemoToken, nil)["metadata"]; meta(got) != `{"b":"2","c":"3"}` {
		t.Errorf("after DELETE: %s", meta(got))
	}
	for range 2 { // PUT replaces, and twice is the same
		if got := e.Must(200, "PUT", path, e.DemoToken, map[string]any{"metadata": map[string]any{"x": "y"}})["metadata"]; meta(got) != `{"x":"y"}` {
			t.Errorf("after PUT: %s", meta(got))
		}
	}
	if s := e.server(id); meta(s["metadata"]) != `{"x":"y"}` {
		t.Errorf("server view metadata %s", meta(s["metadata"]))
	}

	many := map[string]any{}
	for i := range 129 {
		many[string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	for _, tc := range []struct {
		name, method, path, token string
		body                      any
		status                    int
		msg                       string
	}{
		{"another project reads", "GET", path, otherToken, nil, 404, "Instance " + id + " could not be found."},
		{"another project writes", "POST", path, otherToken, map[string]any{"metadata": map[string]any{"k": "v"}}, 404, "could not be found"},
		{"missing item", "GET", path + "/nope", e.DemoToken, nil, 404, "Metadata item was not found"},
		{"delete missing item", "DELETE", path + "/nope", e.DemoToken, nil, 404, "Metadata item was not found"},
		{"no metadata key", "POST", path, e.DemoToken, map[string]any{}, 400, "'metadata' is a required property"},
		{"value not a string", "POST", path, e.DemoToken, map[string]any{"metadata": map[string]any{"k": 1}}, 400, "is not of type 'string'"},
		{"item body mismatch", "PUT", path + "/k", e.DemoToken, map[string]any{"meta": map[string]any{"j": "v"}}, 400, "Request body and URI mismatch"},
		{"item body two keys", "PUT", path + "/k", e.DemoToken, map[string]any{"meta": map[string]any{"k": "v", "j": "v"}}, 400, "Invalid input for field/attribute meta. Value: {'j': 'v', 'k': 'v'}. {'j': 'v', 'k': 'v'} has too many properties"},
		{"too many items", "PUT", path, e.DemoToken, map[string]any{"metadata": many}, 403, "Quota exceeded for metadata_items"},
		{"malformed", "POST", path, e.DemoToken, `{"metadata": [`, 400, "Malformed"},
		{"unknown server", "GET", "/v2.1/servers/nope/metadata", e.DemoToken, nil, 404, "Instance nope could not be found."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := e.Do(tc.method, tc.path, tc.token, tc.body)
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}

	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.AdminToken, map[string]any{"lock": nil})
	status, out, raw := e.Do("POST", path, e.DemoToken, map[string]any{"metadata": map[string]any{"k": "v"}})
	checkFault(t, status, out, raw, 409, "is locked")
	e.Must(200, "POST", path, e.AdminToken, map[string]any{"metadata": map[string]any{"k": "v"}})
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.AdminToken, map[string]any{"unlock": nil})
	// While a task runs the metadata is left alone.
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"os-stop": nil})
	status, out, raw = e.Do("POST", path, e.DemoToken, map[string]any{"metadata": map[string]any{"k": "v"}})
	checkFault(t, status, out, raw, 409, "Cannot 'update metadata' instance "+id+" while it is in task_state powering-off")
}

// TestInstanceActions: each request is an action, newest first; admins see
// the events the agents' reports recorded, members do not at 2.1.
func TestInstanceActions(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	otherToken, _ := e.identity.NewProjectUser("other")
	id := e.boot(e.DemoToken, nil)
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"os-stop": nil})
	e.run()
	path := "/v2.1/servers/" + id + "/os-instance-actions"
	list := e.Must(200, "GET", path, e.DemoToken, nil)["instanceActions"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["action"] != "stop" || list[1].(map[string]any)["action"] != "create" {
		t.Fatalf("actions = %v", list)
	}
	first := list[1].(map[string]any)
	if first["instance_uuid"] != id || first["project_id"] != e.DemoProject || first["request_id"] == "" || first["message"] != nil {
		t.Errorf("create action = %v", first)
	}
	req := first["request_id"].(string)
	member := e.Must(200, "GET", path+"/"+req, e.DemoToken, nil)["instanceAction"].(map[string]any)
	if _, ok := member["events"]; ok {
		t.Errorf("a member sees events at 2.1: %v", member)
	}
	admin := e.Must(200, "GET", path+"/"+req, e.AdminToken, nil)["instanceAction"].(map[string]any)
	events, _ := admin["events"].([]any)
	if len(events) != 1 {
		t.Fatalf("events = %v", admin["events"])
	}
	if ev := events[0].(map[string]any); ev["event"] != "compute__do_build_and_run_instance" || ev["result"] != "Success" || ev["finish_time"] == nil {
		t.Errorf("event = %v", ev)
	}
	for _, tc := range []struct {
		name, path, token string
		status            int
		msg               string
	}{
		{"unknown request", path + "/req-nope", e.DemoToken, 404, "Action for request_id req-nope on instance " + id + " not found"},
		{"another project", path, otherToken, 404, "Instance " + id + " could not be found."},
		{"another project's action", path + "/" + req, otherToken, 404, "could not be found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := e.Do("GET", tc.path, tc.token, nil)
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}
}

// TestTenantUsage: instance hours from launch within the window, per project
// for admins, a project's own for its members, upstream's bad window errors.
func TestTenantUsage(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	otherToken, _ := e.identity.NewProjectUser("other")
	id := e.boot(e.DemoToken, nil)
	window := "?start=2000-01-01T00:00:00&end=2100-01-01T00:00:00"
	all := e.Must(200, "GET", "/v2.1/os-simple-tenant-usage"+window+"&detailed=1", e.AdminToken, nil)["tenant_usages"].([]any)
	if len(all) != 1 {
		t.Fatalf("usages = %v", all)
	}
	u := all[0].(map[string]any)
	if u["tenant_id"] != e.DemoProject || u["total_hours"].(float64) <= 0 || u["start"] != "2000-01-01T00:00:00.000000" {
		t.Errorf("usage = %v", u)
	}
	su := u["server_usages"].([]any)[0].(map[string]any)
	if su["instance_id"] != id || su["flavor"] != "m1.tiny" || su["memory_mb"] != 512.0 || su["state"] != "active" || su["ended_at"] != nil {
		t.Errorf("server usage = %v", su)
	}
	own := e.Must(200, "GET", "/v2.1/os-simple-tenant-usage/"+e.DemoProject+window, e.DemoToken, nil)["tenant_usage"].(map[string]any)
	if own["tenant_id"] != e.DemoProject || len(own["server_usages"].([]any)) != 1 {
		t.Errorf("own usage = %v", own)
	}
	// A window before the launch is empty.
	if none := e.Must(200, "GET", "/v2.1/os-simple-tenant-usage/"+e.DemoProject+"?start=2000-01-01T00:00:00&end=2000-01-02T00:00:00", e.DemoToken, nil)["tenant_usage"].(map[string]any); len(none) != 0 {
		t.Errorf("usage before launch = %v", none)
	}
	for _, tc := range []struct {
		name, path, token string
		status            int
		msg               string
	}{
		{"member lists all", "/v2.1/os-simple-tenant-usage", e.DemoToken, 403, "os-simple-tenant-usage:list"},
		{"another project", "/v2.1/os-simple-tenant-usage/" + e.DemoProject, otherToken, 403, "os-simple-tenant-usage:show"},
		{"bad start", "/v2.1/os-simple-tenant-usage?start=yesterday", e.AdminToken, 400, "Datetime is in invalid format"},
		{"start after end", "/v2.1/os-simple-tenant-usage?start=2020-01-02T00:00:00&end=2020-01-01T00:00:00", e.AdminToken, 400, "The start time cannot occur after the end time."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := e.Do("GET", tc.path, tc.token, nil)
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}
}

// TestServerAddresses: ips by network and the read-only os-interface view.
func TestServerAddresses(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	otherToken, _ := e.identity.NewProjectUser("other")
	id := e.boot(e.DemoToken, nil)
	base := "/v2.1/servers/" + id
	if v, _ := json.Marshal(e.Must(200, "GET", base+"/ips", e.DemoToken, nil)); string(v) != `{"addresses":{"private":[{"addr":"10.0.0.3","version":4}]}}` {
		t.Errorf("ips = %s", v)
	}
	if v, _ := json.Marshal(e.Must(200, "GET", base+"/ips/private", e.DemoToken, nil)); string(v) != `{"private":[{"addr":"10.0.0.3","version":4}]}` {
		t.Errorf("ips/private = %s", v)
	}
	ifaces := e.Must(200, "GET", base+"/os-interface", e.DemoToken, nil)["interfaceAttachments"].([]any)
	if v, _ := json.Marshal(ifaces); string(v) != `[{"fixed_ips":[{"ip_address":"10.0.0.3","subnet_id":"bbbbbbbb-0000-4000-8000-000000000001"}],"mac_addr":"fa:16:3e:00:00:01","net_id":"11111111-0000-4000-8000-000000000001","port_id":"22222222-0000-4000-8000-000000000001","port_state":"DOWN"}]` {
		t.Errorf("os-interface = %s", v)
	}
	e.Must(200, "GET", base+"/os-interface/22222222-0000-4000-8000-000000000001", e.DemoToken, nil)
	for _, tc := range []struct {
		name, path, token string
		msg               string
	}{
		{"unknown network", base + "/ips/nope", e.DemoToken, "Instance is not a member of specified network"},
		{"unknown port", base + "/os-interface/nope", e.DemoToken, "Port nope is not attached"},
		{"another project", base + "/ips", otherToken, "could not be found"},
		{"another project's interfaces", base + "/os-interface", otherToken, "could not be found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := e.Do("GET", tc.path, tc.token, nil)
			checkFault(t, status, out, raw, 404, tc.msg)
		})
	}
}
