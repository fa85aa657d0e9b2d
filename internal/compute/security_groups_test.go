package compute

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// failAt sends a request at version that must fail with status, Nova's fault
// kind and a message containing msg.
func (e *testEnv) failAt(status int, kind, msg, version, method, path, token string, body any) {
	e.t.Helper()
	got, out, _ := e.doAt(version, method, path, token, body)
	f, _ := out[kind].(map[string]any)
	if got != status || f == nil || !strings.Contains(fmt.Sprint(f["message"]), msg) {
		e.t.Fatalf("%s %s at %s: %d %v, want %d %s containing %q", method, path, version, got, out, status, kind, msg)
	}
}

func sgBody(name, description string) map[string]any {
	return map[string]any{"security_group": map[string]any{"name": name, "description": description}}
}

func ruleBody(rule map[string]any) map[string]any {
	return map[string]any{"security_group_rule": rule}
}

// groupNamed is the group of that name in a list answer.
func groupNamed(t *testing.T, out map[string]any, name string) map[string]any {
	t.Helper()
	for _, g := range out["security_groups"].([]any) {
		if g := g.(map[string]any); g["name"] == name {
			return g
		}
	}
	return nil
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestSecurityGroupsCRUD: the proxy's groups at 2.1 in upstream's shapes
// (ingress rules only), its validation and the network's refusals as Nova's.
func TestSecurityGroupsCRUD(t *testing.T) {
	e := newMVEnv(t)
	const root = "/v2.1/os-security-groups"

	list := e.mustAt(200, "2.1", "GET", root, e.DemoToken, nil)
	def := groupNamed(t, list, "default")
	if def == nil || def["tenant_id"] != e.DemoProject || def["description"] != "Default security group" {
		t.Fatalf("list has no default group of the project: %v", list)
	}
	// The default group's two ingress rules allow its own members; egress is not Nova's.
	rules := def["rules"].([]any)
	if len(rules) != 2 {
		t.Fatalf("default rules = %v, want the 2 ingress ones", rules)
	}
	r0 := rules[0].(map[string]any)
	if got := keysOf(r0); !slices.Equal(got, []string{"from_port", "group", "id", "ip_protocol", "ip_range", "parent_group_id", "to_port"}) {
		t.Errorf("rule keys = %v", got)
	}
	if g := r0["group"].(map[string]any); g["name"] != "default" || g["tenant_id"] != e.DemoProject || len(r0["ip_range"].(map[string]any)) != 0 ||
		r0["ip_protocol"] != nil || r0["from_port"] != nil || r0["parent_group_id"] != def["id"] {
		t.Errorf("default ingress rule = %v", r0)
	}

	made := e.mustAt(200, "2.1", "POST", root, e.DemoToken, sgBody("web", "front"))["security_group"].(map[string]any)
	if got := keysOf(made); !slices.Equal(got, []string{"description", "id", "name", "rules", "tenant_id"}) {
		t.Errorf("group keys = %v", got)
	}
	if made["name"] != "web" || made["description"] != "front" || made["tenant_id"] != e.DemoProject || len(made["rules"].([]any)) != 0 {
		t.Errorf("created = %v", made)
	}
	id := made["id"].(string)
	if got := e.mustAt(200, "2.1", "GET", root+"/"+id, e.DemoToken, nil)["security_group"].(map[string]any); got["name"] != "web" {
		t.Errorf("show = %v", got)
	}
	upd := e.mustAt(200, "2.1", "PUT", root+"/"+id, e.DemoToken, sgBody("web2", ""))["security_group"].(map[string]any)
	if upd["name"] != "web2" || upd["description"] != "" {
		t.Errorf("updated = %v", upd)
	}
	// Sorted by project, then name.
	names := []string{}
	for _, g := range e.mustAt(200, "2.1", "GET", root, e.DemoToken, nil)["security_groups"].([]any) {
		names = append(names, g.(map[string]any)["name"].(string))
	}
	if !slices.Equal(names, []string{"default", "web2"}) {
		t.Errorf("list names = %v", names)
	}
	if got := e.mustAt(200, "2.1", "GET", root+"?limit=1&offset=1", e.DemoToken, nil)["security_groups"].([]any); len(got) != 1 {
		t.Errorf("limit=1&offset=1: %v", got)
	}

	for _, tc := range []struct {
		name       string
		method     string
		path       string
		body       any
		status     int
		kind, text string
	}{
		{"no security_group", "POST", root, map[string]any{}, 400, "badRequest", "'security_group' is a required property"},
		{"no name", "POST", root, map[string]any{"security_group": map[string]any{"description": ""}}, 400, "badRequest", "'name' is a required property"},
		{"no description", "POST", root, map[string]any{"security_group": map[string]any{"name": "x"}}, 400, "badRequest", "'description' is a required property"},
		{"no wrapper", "POST", root, sgBody("x", "")["security_group"].(map[string]any), 400, "badRequest", "'security_group' is a required property"},
		{"name a number", "POST", root, map[string]any{"security_group": map[string]any{"name": 5, "description": ""}}, 400, "badRequest", "is not of type 'string'"},
		{"name too long", "POST", root, sgBody(strings.Repeat("n", 256), ""), 400, "badRequest", "is too long"},
		{"a second default", "POST", root, sgBody("default", ""), 403, "forbidden", "Default security group already exists."},
		{"id not a uuid", "GET", root + "/nope", nil, 400, "badRequest", "Security group id should be uuid"},
		{"unknown id", "GET", root + "/" + newUUID(), nil, 404, "itemNotFound", "could not be found"},
		{"update unknown", "PUT", root + "/" + newUUID(), sgBody("x", ""), 404, "itemNotFound", "could not be found"},
		{"update bad body", "PUT", root + "/" + id, map[string]any{"security_group": map[string]any{"name": "x"}}, 400, "badRequest", "'description' is a required property"},
		{"delete the default", "DELETE", root + "/" + def["id"].(string), nil, 400, "badRequest", "default security group"},
		{"delete not a uuid", "DELETE", root + "/nope", nil, 400, "badRequest", "Security group id should be uuid"},
		{"bad limit", "GET", root + "?limit=abc", nil, 400, "badRequest", "Invalid input for query parameters limit"},
		{"bad offset", "GET", root + "?offset=-1", nil, 400, "badRequest", "Invalid input for query parameters offset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.failAt(tc.status, tc.kind, tc.text, "2.1", tc.method, tc.path, e.DemoToken, tc.body)
		})
	}

	e.mustAt(202, "2.1", "DELETE", root+"/"+id, e.DemoToken, nil)
	e.failAt(404, "itemNotFound", "could not be found", "2.1", "GET", root+"/"+id, e.DemoToken, nil)
	e.failAt(404, "itemNotFound", "could not be found", "2.1", "DELETE", root+"/"+id, e.DemoToken, nil)
}

// TestSecurityGroupsGoneFrom236: the proxy routes are 404 from 2.36 (before
// any validation or policy); a server's groups and the actions stay.
func TestSecurityGroupsGoneFrom236(t *testing.T) {
	e := newMVEnv(t)
	id := e.mustAt(200, "2.35", "POST", "/v2.1/os-security-groups", e.DemoToken, sgBody("web", ""))["security_group"].(map[string]any)["id"].(string)
	rule := ruleBody(map[string]any{"parent_group_id": id, "ip_protocol": "tcp", "from_port": 22, "to_port": 22, "cidr": "10.0.0.0/8"})
	ruleID := e.mustAt(200, "2.35", "POST", "/v2.1/os-security-group-rules", e.DemoToken, rule)["security_group_rule"].(map[string]any)["id"].(string)
	for _, version := range []string{"2.36", "2.60", "2.100"} {
		for _, rq := range []struct {
			method, path string
			body         any
		}{
			{"GET", "/v2.1/os-security-groups", nil},
			{"POST", "/v2.1/os-security-groups", sgBody("other", "")},
			{"POST", "/v2.1/os-security-groups", map[string]any{}},
			{"GET", "/v2.1/os-security-groups/" + id, nil},
			{"PUT", "/v2.1/os-security-groups/" + id, sgBody("x", "")},
			{"DELETE", "/v2.1/os-security-groups/" + id, nil},
			{"POST", "/v2.1/os-security-group-rules", rule},
			{"DELETE", "/v2.1/os-security-group-rules/" + ruleID, nil},
		} {
			e.failAt(404, "itemNotFound", "The resource could not be found.", version, rq.method, rq.path, e.DemoToken, rq.body)
		}
	}
	// Still there at 2.35.
	e.mustAt(200, "2.35", "GET", "/v2.1/os-security-groups/"+id, e.DemoToken, nil)

	server := e.activeServer("2.37", map[string]any{"networks": []any{map[string]any{"uuid": netUUID}}})
	e.mustAt(202, "2.100", "POST", "/v2.1/servers/"+server+"/action", e.DemoToken, map[string]any{"addSecurityGroup": map[string]any{"name": "web"}})
	if got := e.mustAt(200, "2.100", "GET", "/v2.1/servers/"+server+"/os-security-groups", e.DemoToken, nil); groupNamed(t, got, "web") == nil {
		t.Errorf("2.100 server groups = %v", got)
	}
	e.mustAt(202, "2.100", "POST", "/v2.1/servers/"+server+"/action", e.DemoToken, map[string]any{"removeSecurityGroup": map[string]any{"name": "web"}})
}

// TestSecurityGroupRules: rules from a CIDR and from a group as upstream
// builds them, its checks, and delete.
func TestSecurityGroupRules(t *testing.T) {
	e := newMVEnv(t)
	const rules = "/v2.1/os-security-group-rules"
	newGroup := func(name string) string {
		return e.mustAt(200, "2.1", "POST", "/v2.1/os-security-groups", e.DemoToken, sgBody(name, ""))["security_group"].(map[string]any)["id"].(string)
	}
	web, db := newGroup("web"), newGroup("db")

	cidr := e.mustAt(200, "2.1", "POST", rules, e.DemoToken, ruleBody(map[string]any{"parent_group_id": web, "ip_protocol": "TCP",
		"from_port": 80, "to_port": 90, "cidr": "0.0.0.0/0"}))["security_group_rule"].(map[string]any)
	if cidr["parent_group_id"] != web || cidr["ip_protocol"] != "tcp" || cidr["from_port"] != 80.0 || cidr["to_port"] != 90.0 ||
		cidr["ip_range"].(map[string]any)["cidr"] != "0.0.0.0/0" || len(cidr["group"].(map[string]any)) != 0 {
		t.Errorf("cidr rule = %v", cidr)
	}
	shown := e.mustAt(200, "2.1", "GET", "/v2.1/os-security-groups/"+web, e.DemoToken, nil)["security_group"].(map[string]any)
	if got := shown["rules"].([]any); len(got) != 1 || got[0].(map[string]any)["id"] != cidr["id"] {
		t.Errorf("group's rules = %v, want the one made", got)
	}

	// From a group: everything without a protocol, TCP 1-65535 without ports, ICMP any.
	all := e.mustAt(200, "2.1", "POST", rules, e.DemoToken, ruleBody(map[string]any{"parent_group_id": db, "group_id": web}))["security_group_rule"].(map[string]any)
	if g := all["group"].(map[string]any); g["name"] != "web" || g["tenant_id"] != e.DemoProject || len(all["ip_range"].(map[string]any)) != 0 ||
		all["ip_protocol"] != nil || all["from_port"] != nil {
		t.Errorf("group rule = %v", all)
	}
	tcp := e.mustAt(200, "2.1", "POST", rules, e.DemoToken, ruleBody(map[string]any{"parent_group_id": db, "group_id": web, "ip_protocol": "tcp"}))["security_group_rule"].(map[string]any)
	if tcp["from_port"] != 1.0 || tcp["to_port"] != 65535.0 {
		t.Errorf("group tcp rule = %v", tcp)
	}
	icmp := e.mustAt(200, "2.1", "POST", rules, e.DemoToken, ruleBody(map[string]any{"parent_group_id": web, "ip_protocol": "icmp",
		"from_port": -1, "to_port": -1, "cidr": "2001:db8::/32"}))["security_group_rule"].(map[string]any)
	if icmp["from_port"] != -1.0 || icmp["to_port"] != -1.0 || icmp["ip_range"].(map[string]any)["cidr"] != "2001:db8::/32" {
		t.Errorf("icmp rule = %v", icmp)
	}
	// What the network service got: ingress, IPv6 for the IPv6 CIDR, no ports for -1.
	net, err := e.net.GetSecurityGroupRule(t.Context(), "", icmp["id"].(string))
	if err != nil || net.Direction != "ingress" || net.EtherType != "IPv6" || net.PortMin != nil || net.PortMax != nil || net.Protocol != "icmp" {
		t.Errorf("network rule = %+v, %v", net, err)
	}
	if net, _ := e.net.GetSecurityGroupRule(t.Context(), "", all["id"].(string)); net.EtherType != "IPv4" || net.RemoteGroupID != web {
		t.Errorf("network group rule = %+v", net)
	}

	for _, tc := range []struct {
		name       string
		body       any
		status     int
		kind, text string
	}{
		{"no rule", map[string]any{}, 400, "badRequest", "'security_group_rule' is a required property"},
		{"no parent", ruleBody(map[string]any{"cidr": "10.0.0.0/8"}), 400, "badRequest", "'parent_group_id' is a required property"},
		{"parent not a uuid", ruleBody(map[string]any{"parent_group_id": "web"}), 400, "badRequest", "is not a 'uuid'"},
		{"group not a uuid", ruleBody(map[string]any{"parent_group_id": web, "group_id": "db"}), 400, "badRequest", "is not a 'uuid'"},
		{"unknown parent", ruleBody(map[string]any{"parent_group_id": newUUID(), "ip_protocol": "tcp", "from_port": 1, "to_port": 2}), 404, "itemNotFound", "could not be found"},
		{"unknown source group", ruleBody(map[string]any{"parent_group_id": web, "group_id": newUUID()}), 404, "itemNotFound", "could not be found"},
		{"cidr without protocol", ruleBody(map[string]any{"parent_group_id": web, "cidr": "10.0.0.0/8"}), 400, "badRequest", "Not enough parameters to build a valid rule."},
		{"cidr without ports", ruleBody(map[string]any{"parent_group_id": web, "ip_protocol": "tcp"}), 400, "badRequest", "Not enough parameters to build a valid rule."},
		{"bad cidr", ruleBody(map[string]any{"parent_group_id": web, "ip_protocol": "tcp", "from_port": 1, "to_port": 2, "cidr": "10.0.0.0"}), 400, "badRequest", "10.0.0.0 is not a valid IP network."},
		{"bad prefix", ruleBody(map[string]any{"parent_group_id": web, "ip_protocol": "tcp", "from_port": 1, "to_port": 2, "cidr": "10.0.0.0/0"}), 400, "badRequest", "Bad prefix for network in cidr 10.0.0.0/0"},
		{"unknown protocol", ruleBody(map[string]any{"parent_group_id": web, "ip_protocol": "gre", "from_port": 1, "to_port": 2}), 400, "badRequest", "Invalid IP protocol gre."},
		{"ports reversed", ruleBody(map[string]any{"parent_group_id": web, "ip_protocol": "udp", "from_port": 9, "to_port": 2}), 400, "badRequest", "Invalid port range 9:2. Former value cannot be greater than the later"},
		{"port 0", ruleBody(map[string]any{"parent_group_id": web, "ip_protocol": "tcp", "from_port": 0, "to_port": 2}), 400, "badRequest", "Valid TCP ports should be between 1-65535"},
		{"icmp type", ruleBody(map[string]any{"parent_group_id": web, "ip_protocol": "icmp", "from_port": 256, "to_port": 0}), 400, "badRequest", "For ICMP, the type:code must be valid"},
		{"ports not numbers", ruleBody(map[string]any{"parent_group_id": web, "ip_protocol": "tcp", "from_port": "a", "to_port": 2}), 400, "badRequest", "To and From ports must be integers"},
		{"same rule", ruleBody(map[string]any{"parent_group_id": web, "ip_protocol": "tcp", "from_port": 80, "to_port": 90, "cidr": "0.0.0.0/0"}), 400, "badRequest", "This rule already exists in group " + web},
		// A group rule is never found the same by Nova (upstream's _rule_exists);
		// the network's duplicate is upstream's SecurityGroupLimitExceeded.
		{"same group rule", ruleBody(map[string]any{"parent_group_id": db, "group_id": web}), 403, "forbidden", "already exists"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.failAt(tc.status, tc.kind, tc.text, "2.1", "POST", rules, e.DemoToken, tc.body)
		})
	}

	e.mustAt(202, "2.1", "DELETE", rules+"/"+cidr["id"].(string), e.DemoToken, nil)
	e.failAt(404, "itemNotFound", "could not be found", "2.1", "DELETE", rules+"/"+cidr["id"].(string), e.DemoToken, nil)
	e.failAt(400, "badRequest", "Security group id should be uuid", "2.1", "DELETE", rules+"/nope", e.DemoToken, nil)
	shown = e.mustAt(200, "2.1", "GET", "/v2.1/os-security-groups/"+web, e.DemoToken, nil)["security_group"].(map[string]any)
	if got := shown["rules"].([]any); len(got) != 1 || got[0].(map[string]any)["id"] != icmp["id"] {
		t.Errorf("rules after delete = %v", got)
	}
	// A rule whose source group is gone is left out, as upstream.
	e.mustAt(202, "2.1", "DELETE", "/v2.1/os-security-groups/"+web, e.DemoToken, nil)
	shown = e.mustAt(200, "2.1", "GET", "/v2.1/os-security-groups/"+db, e.DemoToken, nil)["security_group"].(map[string]any)
	if got := shown["rules"].([]any); len(got) != 0 {
		t.Errorf("rules from a deleted group = %v", got)
	}
}

// TestServerSecurityGroupActions: addSecurityGroup and removeSecurityGroup by
// name on every port of the server, what the server and its group list show,
// and upstream's errors.
func TestServerSecurityGroupActions(t *testing.T) {
	e := newMVEnv(t)
	server := e.activeServer("2.1", nil)
	action := "/v2.1/servers/" + server + "/action"
	add := func(name any) map[string]any { return map[string]any{"addSecurityGroup": map[string]any{"name": name}} }
	remove := func(name any) map[string]any {
		return map[string]any{"removeSecurityGroup": map[string]any{"name": name}}
	}
	web := e.mustAt(200, "2.1", "POST", "/v2.1/os-security-groups", e.DemoToken, sgBody("web", ""))["security_group"].(map[string]any)["id"].(string)
	serverGroups := func() []string {
		var out []string
		for _, g := range e.server(server)["security_groups"].([]any) {
			out = append(out, g.(map[string]any)["name"].(string))
		}
		return out
	}
	portGroups := func() []string {
		ports, _ := e.net.DevicePorts(t.Context(), "", server)
		if len(ports) != 1 {
			t.Fatalf("server ports = %v", ports)
		}
		return ports[0].SecurityGroups
	}
	listed := func() []string {
		var out []string
		for _, g := range e.mustAt(200, "2.1", "GET", "/v2.1/servers/"+server+"/os-security-groups", e.DemoToken, nil)["security_groups"].([]any) {
			out = append(out, g.(map[string]any)["name"].(string))
		}
		return out
	}
	if got := listed(); !slices.Equal(got, []string{"default"}) {
		t.Fatalf("server groups at boot = %v", got)
	}

	e.mustAt(202, "2.1", "POST", action, e.DemoToken, add("web"))
	if got := portGroups(); len(got) != 2 || !slices.Contains(got, web) {
		t.Errorf("port groups after add = %v", got)
	}
	if got := serverGroups(); !slices.Equal(got, []string{"default", "web"}) && !slices.Equal(got, []string{"web", "default"}) {
		t.Errorf("server shows %v after add", got)
	}
	if got := listed(); !slices.Equal(got, []string{"default", "web"}) {
		t.Errorf("server's group list = %v", got)
	}
	// Adding again is Neutron's 400 (a port's groups may not repeat one),
	// which upstream's SecurityGroupCannotBeApplied passes on; nothing changes.
	e.failAt(400, "badRequest", "Duplicate items in the list", "2.1", "POST", action, e.DemoToken, add("web"))
	if got := portGroups(); len(got) != 2 {
		t.Errorf("port groups after a second add = %v", got)
	}

	e.mustAt(202, "2.1", "POST", action, e.DemoToken, remove("web"))
	if got := portGroups(); slices.Contains(got, web) || len(got) != 1 {
		t.Errorf("port groups after remove = %v", got)
	}
	if got := serverGroups(); !slices.Equal(got, []string{"default"}) {
		t.Errorf("server shows %v after remove", got)
	}
	// By id works too; the server then shows the group's name.
	e.mustAt(202, "2.1", "POST", action, e.DemoToken, add(web))
	if got := serverGroups(); !slices.Contains(got, "web") {
		t.Errorf("server shows %v after add by id", got)
	}

	// Two groups of one name: ambiguous.
	for range 2 {
		e.mustAt(200, "2.1", "POST", "/v2.1/os-security-groups", e.DemoToken, sgBody("twin", ""))
	}
	e.mustAt(400, "2.1", "DELETE", "/v2.1/os-security-groups/"+web, e.DemoToken, nil) // in use by the port

	unknown := "/v2.1/servers/" + newUUID() + "/action"
	for _, tc := range []struct {
		name       string
		path       string
		body       any
		status     int
		kind, text string
	}{
		{"unknown group", action, add("nope"), 404, "itemNotFound", "Security group nope is not found for project " + e.DemoProject},
		{"ambiguous name", action, add("twin"), 409, "conflictingRequest", "Multiple security_group matches found for name 'twin'"},
		{"blank name", action, add("   "), 400, "badRequest", "Security group name cannot be empty"},
		{"empty name", action, add(""), 400, "badRequest", "Invalid input for field/attribute name. Value: . '' should be non-empty"},
		{"no name", action, map[string]any{"addSecurityGroup": map[string]any{}}, 400, "badRequest", "'name' is a required property"},
		{"not an object", action, map[string]any{"addSecurityGroup": nil}, 400, "badRequest", "is not of type 'object'"},
		{"extra key", action, map[string]any{"addSecurityGroup": map[string]any{"name": "web", "id": "x"}}, 400, "badRequest", "Additional properties are not allowed"},
		{"unknown server", unknown, add("web"), 404, "itemNotFound", "could not be found"},
		{"remove unknown group", action, remove("nope"), 404, "itemNotFound", "Security group nope is not found"},
		{"remove unknown server", unknown, remove("web"), 404, "itemNotFound", "could not be found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.failAt(tc.status, tc.kind, tc.text, "2.1", "POST", tc.path, e.DemoToken, tc.body)
		})
	}
	e.mustAt(202, "2.1", "POST", action, e.DemoToken, remove("web"))
	e.failAt(404, "itemNotFound", "Security group web not associated with the instance "+server, "2.1", "POST", action, e.DemoToken, remove("web"))

	// A server without ports has nothing to apply a group to.
	bare := e.activeServer("2.37", map[string]any{"networks": "none"})
	e.failAt(404, "itemNotFound", "could not be found as device id on any ports", "2.37", "POST", "/v2.1/servers/"+bare+"/action", e.DemoToken, add("web"))

	// A port without port security refuses groups.
	e.net.mu.Lock()
	for _, p := range e.net.ports {
		if p.DeviceID == server {
			p.PortSecurityEnabled = false
		}
	}
	e.net.mu.Unlock()
	e.failAt(400, "badRequest", "Network requires port_security_enabled", "2.1", "POST", action, e.DemoToken, add("web"))
}

// TestSecurityGroupsOtherProject: the proxy acts as the caller, so another
// project neither sees nor uses the demo project's groups, rules or servers;
// only an admin's all_tenants lists every project's.
func TestSecurityGroupsOtherProject(t *testing.T) {
	e := newMVEnv(t)
	web := e.mustAt(200, "2.1", "POST", "/v2.1/os-security-groups", e.DemoToken, sgBody("web", ""))["security_group"].(map[string]any)["id"].(string)
	rule := e.mustAt(200, "2.1", "POST", "/v2.1/os-security-group-rules", e.DemoToken, ruleBody(map[string]any{"parent_group_id": web,
		"ip_protocol": "tcp", "from_port": 22, "to_port": 22}))["security_group_rule"].(map[string]any)["id"].(string)
	server := e.activeServer("2.1", nil)

	other, otherProject := e.identity.NewProjectUser("other")
	mine := e.mustAt(200, "2.1", "POST", "/v2.1/os-security-groups", other, sgBody("mine", ""))["security_group"].(map[string]any)["id"].(string)
	list := e.mustAt(200, "2.1", "GET", "/v2.1/os-security-groups", other, nil)
	if groupNamed(t, list, "web") != nil || groupNamed(t, list, "mine") == nil {
		t.Errorf("other project lists %v", list)
	}
	for _, g := range list["security_groups"].([]any) {
		if g.(map[string]any)["tenant_id"] != otherProject {
			t.Errorf("other project lists a group of %v", g.(map[string]any)["tenant_id"])
		}
	}
	// all_tenants is an admin's only.
	if groupNamed(t, e.mustAt(200, "2.1", "GET", "/v2.1/os-security-groups?all_tenants=1", other, nil), "web") != nil {
		t.Error("all_tenants shows a member another project's groups")
	}
	all := e.mustAt(200, "2.1", "GET", "/v2.1/os-security-groups?all_tenants=1", e.AdminToken, nil)
	if groupNamed(t, all, "web") == nil || groupNamed(t, all, "mine") == nil {
		t.Errorf("admin's all_tenants = %v", all)
	}
	if groupNamed(t, e.mustAt(200, "2.1", "GET", "/v2.1/os-security-groups", e.AdminToken, nil), "web") != nil {
		t.Error("admin's list without all_tenants shows other projects' groups")
	}

	for _, rq := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/v2.1/os-security-groups/" + web, nil},
		{"PUT", "/v2.1/os-security-groups/" + web, sgBody("taken", "")},
		{"DELETE", "/v2.1/os-security-groups/" + web, nil},
		{"POST", "/v2.1/os-security-group-rules", ruleBody(map[string]any{"parent_group_id": web, "ip_protocol": "tcp", "from_port": 1, "to_port": 2})},
		{"POST", "/v2.1/os-security-group-rules", ruleBody(map[string]any{"parent_group_id": mine, "group_id": web})},
		{"DELETE", "/v2.1/os-security-group-rules/" + rule, nil},
		{"GET", "/v2.1/servers/" + server + "/os-security-groups", nil},
		{"POST", "/v2.1/servers/" + server + "/action", map[string]any{"addSecurityGroup": map[string]any{"name": "mine"}}},
	} {
		e.failAt(404, "itemNotFound", "", "2.1", rq.method, rq.path, other, rq.body)
	}
	if got, err := e.net.GetSecurityGroup(t.Context(), "", web); err != nil || got.Name != "web" || len(got.Rules) != 3 { // two egress, the one ingress
		t.Errorf("demo's group after the other project's attempts: %+v, %v", got, err)
	}
	// Nor can the demo project put the other's group on its server, by name or id.
	action := "/v2.1/servers/" + server + "/action"
	e.failAt(404, "itemNotFound", "Security group mine is not found for project "+e.DemoProject, "2.1", "POST", action, e.DemoToken,
		map[string]any{"addSecurityGroup": map[string]any{"name": "mine"}})
	e.failAt(404, "itemNotFound", "is not found for project", "2.1", "POST", action, e.DemoToken,
		map[string]any{"addSecurityGroup": map[string]any{"name": mine}})
}
