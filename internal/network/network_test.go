package network

import (
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"sync"
	"testing"
)

func TestDefaultPools(t *testing.T) {
	for _, tc := range []struct {
		cidr, gw string
		want     []pool
	}{
		{"10.0.0.0/24", "10.0.0.1", []pool{{"10.0.0.2", "10.0.0.254"}}},
		{"10.0.0.0/24", "10.0.0.254", []pool{{"10.0.0.1", "10.0.0.253"}}},
		{"10.0.0.0/24", "10.0.0.100", []pool{{"10.0.0.1", "10.0.0.99"}, {"10.0.0.101", "10.0.0.254"}}},
		{"10.0.0.0/24", "", []pool{{"10.0.0.1", "10.0.0.254"}}},
		{"10.0.0.0/30", "10.0.0.1", []pool{{"10.0.0.2", "10.0.0.2"}}},
		{"10.0.0.0/31", "", []pool{{"10.0.0.0", "10.0.0.1"}}},
		{"fd00::/64", "fd00::1", []pool{{"fd00::2", "fd00::ffff:ffff:ffff:ffff"}}},
	} {
		var gw netip.Addr
		if tc.gw != "" {
			gw = netip.MustParseAddr(tc.gw)
		}
		if got := defaultPools(netip.MustParsePrefix(tc.cidr), gw); !slices.Equal(got, tc.want) {
			t.Errorf("defaultPools(%s, %s) = %v, want %v", tc.cidr, tc.gw, got, tc.want)
		}
	}
}

func TestPoolSize(t *testing.T) {
	if got := poolSize([]pool{{"10.0.0.2", "10.0.0.254"}, {"10.0.1.1", "10.0.1.1"}}).Int64(); got != 254 {
		t.Fatalf("poolSize = %d, want 254", got)
	}
}

func TestParseRule(t *testing.T) {
	base := func(extra map[string]any) map[string]any {
		m := map[string]any{"security_group_id": "sg", "direction": "ingress"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		attrs map[string]any
		ok    bool
	}{
		{"any ingress", base(nil), true},
		{"ssh", base(map[string]any{"protocol": "tcp", "port_range_min": 22.0, "port_range_max": 22.0}), true},
		{"icmp echo", base(map[string]any{"protocol": "icmp", "port_range_min": 8.0, "port_range_max": 0.0}), true},
		{"protocol number", base(map[string]any{"protocol": "47"}), true},
		{"bad direction", base(map[string]any{"direction": "sideways"}), false},
		{"bad ethertype", base(map[string]any{"ethertype": "IPX"}), false},
		{"ports without protocol", base(map[string]any{"port_range_min": 22.0, "port_range_max": 22.0}), false},
		{"min above max", base(map[string]any{"protocol": "tcp", "port_range_min": 80.0, "port_range_max": 22.0}), false},
		{"port 0", base(map[string]any{"protocol": "tcp", "port_range_min": 0.0, "port_range_max": 22.0}), false},
		{"icmp type 256", base(map[string]any{"protocol": "icmp", "port_range_min": 256.0}), false},
		{"ports on gre", base(map[string]any{"protocol": "gre", "port_range_min": 1.0, "port_range_max": 2.0}), false},
		{"unknown protocol", base(map[string]any{"protocol": "carrier-pigeon"}), false},
		{"prefix and group", base(map[string]any{"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "x"}), false},
		{"v6 prefix on v4 rule", base(map[string]any{"remote_ip_prefix": "fd00::/8"}), false},
		{"no group", map[string]any{"direction": "ingress"}, false},
	} {
		_, err := parseRule(tc.attrs)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

func TestValueMatches(t *testing.T) {
	for _, tc := range []struct {
		v    any
		q    string
		want bool
	}{
		{true, "True", true}, {true, "false", false}, {"ACTIVE", "ACTIVE", true}, {1450.0, "1450", true},
		{[]string{"a", "b"}, "b", true}, {nil, "", true}, {"x", "y", false},
	} {
		if got := valueMatches(tc.v, tc.q); got != tc.want {
			t.Errorf("valueMatches(%v, %q) = %v", tc.v, tc.q, got)
		}
	}
}

func TestNetworkLifecycle(t *testing.T) {
	e := newTestEnv(t, nil)
	n := e.Create(e.DemoToken, "networks", "network", map[string]any{"name": "n1"})
	if n["status"] != "ACTIVE" || n["mtu"] != 1450.0 || n["shared"] != false || n["project_id"] != e.DemoProject {
		t.Fatalf("network = %v", n)
	}
	if _, leaked := n["provider:segmentation_id"]; leaked {
		t.Fatal("a member sees provider attributes")
	}
	id := n["id"].(string)
	shown := e.Must(200, "GET", "/v2.0/networks/"+id, e.AdminToken, nil)["network"].(map[string]any)
	if shown["provider:network_type"] != "vxlan" || shown["provider:segmentation_id"] != 1001.0 {
		t.Fatalf("admin view = %v, want vxlan 1001 (first VNI of the pool)", shown)
	}
	up := e.Must(200, "PUT", "/v2.0/networks/"+id, e.DemoToken, map[string]any{"network": map[string]any{"name": "n2", "mtu": 1400}})["network"].(map[string]any)
	if up["name"] != "n2" || up["mtu"] != 1400.0 || up["revision_number"] != 2.0 {
		t.Fatalf("updated = %v", up)
	}
	list := e.Must(200, "GET", "/v2.0/networks?name=n2&fields=id&fields=name", e.DemoToken, nil)["networks"].([]any)
	if len(list) != 1 || len(list[0].(map[string]any)) != 2 {
		t.Fatalf("filtered list = %v", list)
	}
	e.Must(204, "DELETE", "/v2.0/networks/"+id, e.DemoToken, nil)
	e.Fail(404, "NetworkNotFound", "GET", "/v2.0/networks/"+id, e.DemoToken, nil)
	// The VNI went back to the pool.
	again := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "n3"})
	if again["provider:segmentation_id"] != 1001.0 {
		t.Fatalf("VNI not released: %v", again["provider:segmentation_id"])
	}
}

func TestNetworkBadInput(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, tc := range []struct {
		name   string
		token  string
		body   any
		status int
		kind   string
	}{
		{"no body", e.DemoToken, map[string]any{}, 400, "HTTPBadRequest"},
		{"unknown attribute", e.DemoToken, map[string]any{"network": map[string]any{"colour": "red"}}, 400, "HTTPBadRequest"},
		{"wrong type", e.DemoToken, map[string]any{"network": map[string]any{"admin_state_up": "maybe"}}, 400, "InvalidInput"},
		{"shared by member", e.DemoToken, map[string]any{"network": map[string]any{"shared": true}}, 403, "PolicyNotAuthorized"},
		{"provider by member", e.DemoToken, map[string]any{"network": map[string]any{"provider:network_type": "local"}}, 403, "PolicyNotAuthorized"},
		{"flat without physnet", e.AdminToken, map[string]any{"network": map[string]any{"provider:network_type": "flat"}}, 400, "InvalidInput"},
		{"unknown type", e.AdminToken, map[string]any{"network": map[string]any{"provider:network_type": "gre"}}, 400, "InvalidInput"},
		{"vlan id out of range", e.AdminToken, map[string]any{"network": map[string]any{"provider:network_type": "vlan", "provider:segmentation_id": 5000}}, 400, "InvalidInput"},
		{"other project by member", e.DemoToken, map[string]any{"network": map[string]any{"project_id": "someone-else"}}, 400, "HTTPBadRequest"},
		{"mtu too big", e.DemoToken, map[string]any{"network": map[string]any{"mtu": 9000}}, 400, "InvalidInput"},
	} {
		t.Run(tc.name, func(t *testing.T) { e.Fail(tc.status, tc.kind, "POST", "/v2.0/networks", tc.token, tc.body) })
	}
	flat := map[string]any{"network": map[string]any{"provider:network_type": "flat", "provider:physical_network": "public"}}
	e.Must(201, "POST", "/v2.0/networks", e.AdminToken, flat)
	e.Fail(409, "FlatNetworkInUse", "POST", "/v2.0/networks", e.AdminToken, flat)
}

func TestSubnets(t *testing.T) {
	e := newTestEnv(t, nil)
	netID := e.Create(e.DemoToken, "networks", "network", map[string]any{"name": "n"})["id"].(string)
	create := func(attrs map[string]any) (int, map[string]any, []byte) {
		attrs["network_id"] = netID
		if _, ok := attrs["ip_version"]; !ok {
			attrs["ip_version"] = 4
		}
		return e.Do("POST", "/v2.0/subnets", e.DemoToken, map[string]any{"subnet": attrs})
	}
	status, out, body := create(map[string]any{"cidr": "10.0.0.0/24", "dns_nameservers": []string{"10.0.0.53"},
		"host_routes": []map[string]any{{"destination": "10.9.0.0/16", "nexthop": "10.0.0.254"}}})
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	sub := out["subnet"].(map[string]any)
	if sub["gateway_ip"] != "10.0.0.1" || fmt.Sprint(sub["allocation_pools"]) != "[map[end:10.0.0.254 start:10.0.0.2]]" || sub["enable_dhcp"] != true {
		t.Fatalf("subnet = %v", sub)
	}
	for _, tc := range []struct {
		name   string
		attrs  map[string]any
		status int
	}{
		{"overlap", map[string]any{"cidr": "10.0.0.128/25"}, 400},
		{"host bits", map[string]any{"cidr": "10.1.0.5/24"}, 400},
		{"not a cidr", map[string]any{"cidr": "ten.one/24"}, 400},
		{"version mismatch", map[string]any{"cidr": "fd00::/64", "ip_version": 4}, 400},
		{"pool outside", map[string]any{"cidr": "10.2.0.0/24", "allocation_pools": []map[string]any{{"start": "10.3.0.2", "end": "10.3.0.9"}}}, 400},
		{"pool over gateway", map[string]any{"cidr": "10.2.0.0/24", "allocation_pools": []map[string]any{{"start": "10.2.0.1", "end": "10.2.0.9"}}}, 409},
		{"reversed pool", map[string]any{"cidr": "10.2.0.0/24", "allocation_pools": []map[string]any{{"start": "10.2.0.9", "end": "10.2.0.2"}}}, 400},
		{"bad nameserver", map[string]any{"cidr": "10.2.0.0/24", "dns_nameservers": []string{"dns.example"}}, 400},
		{"gateway is broadcast", map[string]any{"cidr": "10.2.0.0/24", "gateway_ip": "10.2.0.255"}, 400},
		{"no cidr", map[string]any{}, 400},
	} {
		if status, _, body := create(tc.attrs); status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, status, body, tc.status)
		}
	}
	// No gateway: every address but network and broadcast is in the pool.
	status, out, body = create(map[string]any{"cidr": "10.4.0.0/29", "gateway_ip": nil})
	if status != 201 || out["subnet"].(map[string]any)["gateway_ip"] != nil {
		t.Fatalf("gateway-less subnet: %d %s", status, body)
	}
	// A subnet with a port other than DHCP cannot go.
	port := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID,
		"fixed_ips": []map[string]any{{"subnet_id": sub["id"]}}})
	e.Fail(409, "SubnetInUse", "DELETE", "/v2.0/subnets/"+sub["id"].(string), e.DemoToken, nil)
	e.Fail(409, "NetworkInUse", "DELETE", "/v2.0/networks/"+netID, e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.0/ports/"+port["id"].(string), e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.0/subnets/"+sub["id"].(string), e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.0/networks/"+netID, e.DemoToken, nil)
}

func TestPortsAndIPAM(t *testing.T) {
	e := newTestEnv(t, nil)
	netID, subID := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/28") // 13 addresses in the pool
	p := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID, "name": "p"})
	ips := p["fixed_ips"].([]any)
	if len(ips) != 1 || ips[0].(map[string]any)["ip_address"] != "10.0.0.2" || p["status"] != "DOWN" {
		t.Fatalf("port = %v", p)
	}
	if mac := p["mac_address"].(string); mac[:9] != "fa:16:3e:" {
		t.Fatalf("MAC %s lacks OpenStack's prefix", mac)
	}
	if sgs := p["security_groups"].([]any); len(sgs) != 1 {
		t.Fatalf("port groups = %v, want the default group", sgs)
	}
	fixed := func(ip string) map[string]any {
		return map[string]any{"network_id": netID, "fixed_ips": []map[string]any{{"subnet_id": subID, "ip_address": ip}}}
	}
	e.Create(e.DemoToken, "ports", "port", fixed("10.0.0.9"))
	e.Fail(409, "IpAddressAlreadyAllocated", "POST", "/v2.0/ports", e.DemoToken, map[string]any{"port": fixed("10.0.0.9")})
	e.Fail(400, "", "POST", "/v2.0/ports", e.DemoToken, map[string]any{"port": fixed("10.9.9.9")})
	e.Fail(400, "", "POST", "/v2.0/ports", e.DemoToken, map[string]any{"port": map[string]any{"network_id": netID, "mac_address": "not-a-mac"}})
	e.Fail(404, "NetworkNotFound", "POST", "/v2.0/ports", e.DemoToken, map[string]any{"port": map[string]any{"network_id": "6f1e3f5c-0000-4000-8000-000000000001"}})
	e.Fail(400, "HTTPBadRequest", "POST", "/v2.0/ports", e.DemoToken, map[string]any{"port": map[string]any{"network_id": "nope"}})

	// Concurrent creations never share an address, and the pool runs out cleanly.
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	statuses := map[int]int{}
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, out, _ := e.Do("POST", "/v2.0/ports", e.DemoToken, map[string]any{"port": map[string]any{"network_id": netID}})
			mu.Lock()
			defer mu.Unlock()
			statuses[status]++
			if status == 201 {
				ip := out["port"].(map[string]any)["fixed_ips"].([]any)[0].(map[string]any)["ip_address"].(string)
				got[ip]++
			}
		}()
	}
	wg.Wait()
	for ip, n := range got {
		if n > 1 {
			t.Fatalf("address %s handed out %d times", ip, n)
		}
	}
	if statuses[201] != 11 || statuses[409] != 5 || len(statuses) != 2 {
		t.Fatalf("statuses %v, want 11 created (13 in the pool, 2 taken) and 5 IpAddressGenerationFailure", statuses)
	}
	// Updating fixed_ips moves the address.
	moved := e.Must(200, "PUT", "/v2.0/ports/"+p["id"].(string), e.DemoToken, map[string]any{"port": map[string]any{
		"fixed_ips": []map[string]any{{"subnet_id": subID}}, "name": "renamed"}})["port"].(map[string]any)
	if moved["name"] != "renamed" || len(moved["fixed_ips"].([]any)) != 1 {
		t.Fatalf("updated port = %v", moved)
	}
	// Binding is admin's, and shows a bridge VIF.
	e.Fail(403, "PolicyNotAuthorized", "PUT", "/v2.0/ports/"+p["id"].(string), e.DemoToken, map[string]any{"port": map[string]any{"binding:host_id": "h1"}})
	bound := e.Must(200, "PUT", "/v2.0/ports/"+p["id"].(string), e.AdminToken, map[string]any{"port": map[string]any{"binding:host_id": "h1"}})["port"].(map[string]any)
	if bound["binding:vif_type"] != "bridge" || bound["binding:vif_details"].(map[string]any)["bridge_name"] != "brq"+netID[:11] {
		t.Fatalf("bound port = %v", bound)
	}
	// Port security off with groups still on: 409; off and groups cleared: fine.
	pid := p["id"].(string)
	e.Fail(409, "PortSecurityPortHasSecurityGroup", "PUT", "/v2.0/ports/"+pid, e.DemoToken, map[string]any{"port": map[string]any{"port_security_enabled": false}})
	off := e.Must(200, "PUT", "/v2.0/ports/"+pid, e.DemoToken, map[string]any{"port": map[string]any{"port_security_enabled": false, "security_groups": []string{}}})["port"].(map[string]any)
	if off["port_security_enabled"] != false || len(off["security_groups"].([]any)) != 0 {
		t.Fatalf("port = %v", off)
	}
}

func TestProjectIsolation(t *testing.T) {
	e := newTestEnv(t, nil)
	otherToken, _ := e.NewProjectUser("other")
	mine, _ := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	theirs, _ := e.NetworkWithSubnet(otherToken, "10.0.0.0/24") // the same CIDR in another project is fine
	for _, id := range []string{theirs} {
		e.Fail(404, "NetworkNotFound", "GET", "/v2.0/networks/"+id, e.DemoToken, nil)
		e.Fail(404, "NetworkNotFound", "DELETE", "/v2.0/networks/"+id, e.DemoToken, nil)
		e.Fail(404, "NetworkNotFound", "POST", "/v2.0/ports", e.DemoToken, map[string]any{"port": map[string]any{"network_id": id}})
	}
	list := e.Must(200, "GET", "/v2.0/networks", e.DemoToken, nil)["networks"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["id"] != mine {
		t.Fatalf("demo sees %v", list)
	}
	// Shared by admin: visible, and others may plug ports into it.
	e.Must(200, "PUT", "/v2.0/networks/"+theirs, e.AdminToken, map[string]any{"network": map[string]any{"shared": true}})
	e.Must(200, "GET", "/v2.0/networks/"+theirs, e.DemoToken, nil)
	e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": theirs})
	e.Fail(409, "InvalidSharedSetting", "PUT", "/v2.0/networks/"+theirs, e.AdminToken, map[string]any{"network": map[string]any{"shared": false}})
	// Groups of other projects are invisible.
	sgs := e.Must(200, "GET", "/v2.0/security-groups", otherToken, nil)["security_groups"].([]any)
	e.Fail(404, "SecurityGroupNotFound", "GET", "/v2.0/security-groups/"+sgs[0].(map[string]any)["id"].(string), e.DemoToken, nil)
}

func TestSecurityGroups(t *testing.T) {
	e := newTestEnv(t, nil)
	list := e.Must(200, "GET", "/v2.0/security-groups", e.DemoToken, nil)["security_groups"].([]any)
	if len(list) != 1 || list[0].(map[string]any)["name"] != "default" || len(list[0].(map[string]any)["security_group_rules"].([]any)) != 4 {
		t.Fatalf("groups = %v, want the default group with 4 rules", list)
	}
	defID := list[0].(map[string]any)["id"].(string)
	sg := e.Create(e.DemoToken, "security-groups", "security_group", map[string]any{"name": "web"})
	if rules := sg["security_group_rules"].([]any); len(rules) != 2 {
		t.Fatalf("new group rules = %v, want 2 egress rules", rules)
	}
	sgID := sg["id"].(string)
	ssh := map[string]any{"security_group_id": sgID, "direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"}
	rule := e.Create(e.DemoToken, "security-group-rules", "security_group_rule", ssh)
	e.Fail(409, "SecurityGroupRuleExists", "POST", "/v2.0/security-group-rules", e.DemoToken, map[string]any{"security_group_rule": ssh})
	e.Fail(409, "SecurityGroupDefaultAlreadyExists", "POST", "/v2.0/security-groups", e.DemoToken, map[string]any{"security_group": map[string]any{"name": "default"}})
	e.Fail(409, "SecurityGroupCannotRemoveDefault", "DELETE", "/v2.0/security-groups/"+defID, e.DemoToken, nil)
	netID, _ := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	port := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID, "security_groups": []string{sgID}})
	e.Fail(409, "SecurityGroupInUse", "DELETE", "/v2.0/security-groups/"+sgID, e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.0/ports/"+port["id"].(string), e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.0/security-group-rules/"+rule["id"].(string), e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.0/security-groups/"+sgID, e.DemoToken, nil)
}

func TestQuotas(t *testing.T) {
	e := newTestEnv(t, nil)
	e.Fail(403, "PolicyNotAuthorized", "PUT", "/v2.0/quotas/"+e.DemoProject, e.DemoToken, map[string]any{"quota": map[string]any{"network": 1}})
	e.Must(200, "PUT", "/v2.0/quotas/"+e.DemoProject, e.AdminToken, map[string]any{"quota": map[string]any{"network": 1}})
	e.Create(e.DemoToken, "networks", "network", map[string]any{})
	e.Fail(409, "OverQuota", "POST", "/v2.0/networks", e.DemoToken, map[string]any{"network": map[string]any{}})
	q := e.Must(200, "GET", "/v2.0/quotas/"+e.DemoProject+"/details.json", e.DemoToken, nil)["quota"].(map[string]any)
	if n := q["network"].(map[string]any); n["limit"] != 1.0 || n["used"] != 1.0 {
		t.Fatalf("details = %v", n)
	}
	e.Must(204, "DELETE", "/v2.0/quotas/"+e.DemoProject, e.AdminToken, nil)
	e.Create(e.DemoToken, "networks", "network", map[string]any{})
}

func TestDiscovery(t *testing.T) {
	e := newTestEnv(t, nil)
	v := e.Must(http.StatusOK, "GET", "/", "", nil)
	if fmt.Sprint(v["versions"].([]any)[0].(map[string]any)["id"]) != "v2.0" {
		t.Fatalf("versions = %v", v)
	}
	exts := e.Must(200, "GET", "/v2.0/extensions", e.DemoToken, nil)["extensions"].([]any)
	if len(exts) == 0 {
		t.Fatal("no extensions")
	}
	e.Must(200, "GET", "/v2.0/extensions/security-group", e.DemoToken, nil)
	e.Fail(404, "ExtensionNotFound", "GET", "/v2.0/extensions/nope", e.DemoToken, nil)
	e.Fail(401, "", "GET", "/v2.0/networks", "", nil)
}

// TestBulkAndRevisions checks bulk creation (all or nothing) and If-Match on the
// revision number.
func TestBulkAndRevisions(t *testing.T) {
	e := newTestEnv(t, nil)
	out := e.Must(201, "POST", "/v2.0/networks", e.DemoToken, map[string]any{"networks": []map[string]any{{"name": "a"}, {"name": "b"}}})
	if nets := out["networks"].([]any); len(nets) != 2 {
		t.Fatalf("bulk = %v", out)
	}
	before := len(e.Must(200, "GET", "/v2.0/networks", e.DemoToken, nil)["networks"].([]any))
	e.Fail(403, "PolicyNotAuthorized", "POST", "/v2.0/networks", e.DemoToken,
		map[string]any{"networks": []map[string]any{{"name": "c"}, {"name": "d", "shared": true}}})
	if after := len(e.Must(200, "GET", "/v2.0/networks", e.DemoToken, nil)["networks"].([]any)); after != before {
		t.Fatalf("a failed bulk left %d networks behind", after-before)
	}
	id := out["networks"].([]any)[0].(map[string]any)["id"].(string)
	req := func(rev string) int {
		status, _, _ := e.DoWithHeader("PUT", "/v2.0/networks/"+id, e.DemoToken,
			map[string]any{"network": map[string]any{"name": "x" + rev}}, "If-Match", "revision_number="+rev)
		return status
	}
	if got := req("7"); got != 412 {
		t.Fatalf("stale revision: %d, want 412", got)
	}
	if got := req("1"); got != 200 {
		t.Fatalf("current revision: %d, want 200", got)
	}
}

// TestGeneratedMACCollision: a MAC the service drew that the network already has is
// drawn again (the port is created), one the caller asked for is a 409.
func TestGeneratedMACCollision(t *testing.T) {
	e := newTestEnv(t, nil)
	netID, _ := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	draws := []string{"fa:16:3e:00:00:01", "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"}
	e.Network.newMAC = func() string {
		mac := draws[0]
		draws = draws[1:]
		return mac
	}
	first := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID})
	second := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID})
	if first["mac_address"] != "fa:16:3e:00:00:01" || second["mac_address"] != "fa:16:3e:00:00:02" || len(draws) != 0 {
		t.Fatalf("MACs %v and %v (draws left %v): want the collision drawn again", first["mac_address"], second["mac_address"], draws)
	}
	e.Fail(409, "MacAddressInUse", "POST", "/v2.0/ports", e.DemoToken,
		map[string]any{"port": map[string]any{"network_id": netID, "mac_address": "fa:16:3e:00:00:02"}})
}
