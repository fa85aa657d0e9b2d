package network

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

func TestAddressGroups(t *testing.T) {
	e := newTestEnv(t, nil)
	group := func(attrs map[string]any) map[string]any { return map[string]any{"address_group": attrs} }
	e.expectError(400, "HTTPBadRequest", "Invalid input for addresses. Reason: '10.0.0.1' is not a valid IP subnet.",
		"POST", "/v2.0/address-groups", e.DemoToken, group(map[string]any{"addresses": []any{"10.0.0.1"}}))
	e.expectError(400, "HTTPBadRequest", "Invalid input for addresses. Reason: Duplicate items in the list: '10.0.0.0/8'.",
		"POST", "/v2.0/address-groups", e.DemoToken, group(map[string]any{"addresses": []any{"10.0.0.0/8", "x", "10.0.0.0/8"}}))
	e.expectError(400, "HTTPBadRequest", "Attribute 'id' not allowed in POST",
		"POST", "/v2.0/address-groups", e.DemoToken, group(map[string]any{"id": "x"}))
	g := e.Create(e.DemoToken, "address-groups", "address_group", map[string]any{"name": "g", "addresses": []any{"192.168.1.1/32", "10.9.9.9/16"}})
	if !slices.Equal(g["addresses"].([]any), []any{"192.168.1.1/32", "10.9.0.0/16"}) {
		t.Errorf("addresses %v, want them as networks", g["addresses"])
	}
	e.Must(200, "PUT", "/v2.0/address-groups/"+g["id"].(string)+"/remove_addresses", e.DemoToken, map[string]any{"addresses": []any{"10.9.0.0/16"}})
	id := g["id"].(string)
	keys := []string{}
	for k := range g {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"addresses", "created_at", "description", "id", "name", "project_id", "revision_number", "tenant_id", "updated_at"}; !slices.Equal(keys, want) {
		t.Errorf("keys %v, want %v", keys, want)
	}
	e.expectError(400, "HTTPBadRequest", "Cannot update read-only attribute addresses", "PUT", "/v2.0/address-groups/"+id, e.DemoToken,
		group(map[string]any{"addresses": []any{}}))
	add := func(cidrs ...any) map[string]any { return map[string]any{"addresses": cidrs} }
	out := e.Must(200, "PUT", "/v2.0/address-groups/"+id+"/add_addresses", e.DemoToken, add("10.5.0.0/24", "fd00::/64"))["address_group"].(map[string]any)
	if !slices.Equal(out["addresses"].([]any), []any{"192.168.1.1/32", "10.5.0.0/24", "fd00::/64"}) {
		t.Errorf("after add_addresses: %v", out["addresses"])
	}
	e.expectError(400, "AddressesAlreadyExist", "Addresses ['10.5.0.0/24'] already exist in the address group "+id+".",
		"PUT", "/v2.0/address-groups/"+id+"/add_addresses", e.DemoToken, add("10.5.0.0/24"))
	e.expectError(404, "AddressesNotFound", "Addresses ['10.6.0.0/24'] not found in the address group "+id+".",
		"PUT", "/v2.0/address-groups/"+id+"/remove_addresses", e.DemoToken, add("10.6.0.0/24"))
	out = e.Must(200, "PUT", "/v2.0/address-groups/"+id+"/remove_addresses", e.DemoToken, add("192.168.1.1/32"))["address_group"].(map[string]any)
	if !slices.Equal(out["addresses"].([]any), []any{"10.5.0.0/24", "fd00::/64"}) {
		t.Errorf("after remove_addresses: %v", out["addresses"])
	}

	// A rule names the group as its remote; the firewall allows its addresses of the
	// rule's ethertype, and the group stays while the rule does.
	sg := e.Create(e.DemoToken, "security-groups", "security_group", map[string]any{"name": "web"})["id"].(string)
	rule := map[string]any{"security_group_id": sg, "direction": "ingress", "protocol": "tcp", "port_range_min": 80,
		"port_range_max": 80, "remote_address_group_id": id}
	created := e.Create(e.DemoToken, "security-group-rules", "security_group_rule", rule)
	if created["remote_address_group_id"] != id {
		t.Errorf("rule: %v", created)
	}
	e.Fail(409, "SecurityGroupRuleExists", "POST", "/v2.0/security-group-rules", e.DemoToken, map[string]any{"security_group_rule": rule})
	both := map[string]any{"security_group_id": sg, "direction": "ingress", "remote_ip_prefix": "10.0.0.0/8", "remote_address_group_id": id}
	e.expectError(400, "SecurityGroupMultipleRemoteEntites", "Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be provided.",
		"POST", "/v2.0/security-group-rules", e.DemoToken, map[string]any{"security_group_rule": both})
	other, _ := e.NewProjectUser("ag-stranger")
	e.Fail(404, "AddressGroupNotFound", "GET", "/v2.0/address-groups/"+id, other, nil)
	e.expectError(409, "AddressGroupInUse", "Address group "+id+" is in use on one or more security group rules.",
		"DELETE", "/v2.0/address-groups/"+id, e.DemoToken, nil)

	net, _ := e.NetworkWithSubnet(e.DemoToken, "10.70.0.0/24")
	e.Create(e.AdminToken, "ports", "port", map[string]any{"network_id": net, "project_id": e.DemoProject, "security_groups": []any{sg},
		"binding:host_id": "host-ag", "device_owner": "compute:nova", "device_id": "vm"})
	st, err := e.Network.HostState(context.Background(), dataplane.Host{Name: "host-ag"}, HostRoles{})
	if err != nil {
		t.Fatal(err)
	}
	var allowed []netip.Prefix
	for _, r := range st.SecurityGroups[sg].Rules {
		if r.Direction == "ingress" && r.Protocol == "tcp" {
			allowed = append(allowed, r.RemoteIPPrefix)
		}
	}
	if !slices.Equal(allowed, []netip.Prefix{netip.MustParsePrefix("10.5.0.0/24")}) {
		t.Errorf("firewall rules from the address group: %v", allowed)
	}

	e.Must(204, "DELETE", "/v2.0/security-group-rules/"+created["id"].(string), e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.0/address-groups/"+id, e.DemoToken, nil)
}
