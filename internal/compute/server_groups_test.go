package compute

import (
	"encoding/json"
	"testing"
)

func groupBody(name string, policies ...any) map[string]any {
	return map[string]any{"server_group": map[string]any{"name": name, "policies": policies}}
}

// TestServerGroups: the 2.1 shape and validation, project isolation, the
// server_groups quota, and placement by the group hint: anti-affinity spreads
// members over hosts (and fails when none is left), affinity packs them.
func TestServerGroups(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	e.host("h2", 8, 8192, 100)
	otherToken, _ := e.identity.NewProjectUser("other")

	for _, tc := range []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"no body", map[string]any{}, 400, "'server_group' is a required property"},
		{"no name", map[string]any{"server_group": map[string]any{"policies": []any{"affinity"}}}, 400, "'name' is a required property"},
		{"no policies", map[string]any{"server_group": map[string]any{"name": "g"}}, 400, "'policies' is a required property"},
		{"two policies", groupBody("g", "affinity", "anti-affinity"), 400, "Invalid input for field/attribute policies. Value: ['affinity', 'anti-affinity']. ['affinity', 'anti-affinity'] is too long"},
		{"unknown policy", groupBody("g", "spread"), 400, "'spread' is not one of"},
		{"soft policy at 2.1", groupBody("g", "soft-affinity"), 400, "'soft-affinity' is not one of"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := e.Do("POST", "/v2.1/os-server-groups", e.DemoToken, tc.body)
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}

	anti := e.Must(200, "POST", "/v2.1/os-server-groups", e.DemoToken, groupBody("spread", "anti-affinity"))["server_group"].(map[string]any)
	if v, _ := json.Marshal(anti); string(v) != `{"id":"`+anti["id"].(string)+`","members":[],"metadata":{},"name":"spread","policies":["anti-affinity"]}` {
		t.Fatalf("create answer %s", v)
	}
	antiID := anti["id"].(string)
	e.Must(200, "GET", "/v2.1/os-server-groups/"+antiID, e.DemoToken, nil)
	// Another project neither sees nor deletes it, nor boots into it.
	e.Must(404, "GET", "/v2.1/os-server-groups/"+antiID, otherToken, nil)
	e.Must(404, "DELETE", "/v2.1/os-server-groups/"+antiID, otherToken, nil)
	if l := e.Must(200, "GET", "/v2.1/os-server-groups", otherToken, nil)["server_groups"].([]any); len(l) != 0 {
		t.Errorf("other project lists %v", l)
	}
	if l := e.Must(200, "GET", "/v2.1/os-server-groups?all_projects=true", e.AdminToken, nil)["server_groups"].([]any); len(l) != 1 {
		t.Errorf("admin's all_projects list: %v", l)
	}
	status, out, raw := e.Do("POST", "/v2.1/servers", otherToken, map[string]any{"server": serverBody(nil)["server"],
		"os:scheduler_hints": map[string]any{"group": antiID}})
	checkFault(t, status, out, raw, 400, "Instance group "+antiID+" could not be found.")
	status, out, raw = e.Do("POST", "/v2.1/servers", e.DemoToken, map[string]any{"server": serverBody(nil)["server"],
		"os:scheduler_hints": map[string]any{"group": "not-a-uuid"}})
	checkFault(t, status, out, raw, 400, "Invalid input for field/attribute group. Value: not-a-uuid. 'not-a-uuid' is not valid under any of the given schemas")

	bootIn := func(group string) string {
		t.Helper()
		id := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, map[string]any{"server": serverBody(nil)["server"],
			"os:scheduler_hints": map[string]any{"group": group}})["server"].(map[string]any)["id"].(string)
		e.conduct()
		e.run()
		return id
	}
	a, b, c := bootIn(antiID), bootIn(antiID), bootIn(antiID)
	ha, hb := e.server(a)["OS-EXT-SRV-ATTR:host"], e.server(b)["OS-EXT-SRV-ATTR:host"]
	if ha == hb || ha == nil || hb == nil {
		t.Errorf("anti-affinity members on %v and %v", ha, hb)
	}
	if s := e.server(c); s["status"] != "ERROR" || s["fault"].(map[string]any)["message"] == "" {
		t.Errorf("a third anti-affinity member with two hosts: %v %v", s["status"], s["fault"])
	}
	members := e.Must(200, "GET", "/v2.1/os-server-groups/"+antiID, e.DemoToken, nil)["server_group"].(map[string]any)["members"].([]any)
	if len(members) != 3 {
		t.Errorf("members = %v", members)
	}
	// A deleted member leaves the group.
	e.Must(204, "DELETE", "/v2.1/servers/"+c, e.DemoToken, nil)
	members = e.Must(200, "GET", "/v2.1/os-server-groups/"+antiID, e.DemoToken, nil)["server_group"].(map[string]any)["members"].([]any)
	if len(members) != 2 {
		t.Errorf("members after deleting one = %v", members)
	}

	aff := e.Must(200, "POST", "/v2.1/os-server-groups", e.DemoToken, groupBody("pack", "affinity"))["server_group"].(map[string]any)["id"].(string)
	x, y := bootIn(aff), bootIn(aff)
	if hx, hy := e.server(x)["OS-EXT-SRV-ATTR:host"], e.server(y)["OS-EXT-SRV-ATTR:host"]; hx != hy || hx == nil {
		t.Errorf("affinity members on %v and %v", hx, hy)
	}

	// Quotas: server_group_members and server_groups.
	e.Must(200, "PUT", "/v2.1/os-quota-sets/"+e.DemoProject, e.AdminToken, map[string]any{"quota_set": map[string]any{"server_group_members": 2, "server_groups": 2}})
	status, out, raw = e.Do("POST", "/v2.1/servers", e.DemoToken, map[string]any{"server": serverBody(nil)["server"],
		"os:scheduler_hints": map[string]any{"group": aff}})
	checkFault(t, status, out, raw, 403, "Quota exceeded, too many servers in group")
	status, out, raw = e.Do("POST", "/v2.1/os-server-groups", e.DemoToken, groupBody("third", "affinity"))
	checkFault(t, status, out, raw, 403, "Quota exceeded, too many server groups.")

	e.Must(204, "DELETE", "/v2.1/os-server-groups/"+aff, e.DemoToken, nil)
	e.Must(404, "GET", "/v2.1/os-server-groups/"+aff, e.DemoToken, nil)
	if l := e.Must(200, "GET", "/v2.1/os-server-groups?limit=1&offset=0", e.DemoToken, nil)["server_groups"].([]any); len(l) != 1 {
		t.Errorf("paged list: %v", l)
	}
	status, out, raw = e.Do("GET", "/v2.1/os-server-groups?limit=x", e.DemoToken, nil)
	checkFault(t, status, out, raw, 400, "limit")
}
