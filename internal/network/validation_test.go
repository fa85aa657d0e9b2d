package network

import (
	"net/http"
	"strings"
	"testing"
)

// TestRequestValidation holds the create and update bodies of every resource to
// neutron-lib's attribute maps: upstream's permissive forms are accepted (booleans
// as "True", "1", 1, "yes", "on"; integers as strings), and bad values, read-only
// and unknown attributes and missing required ones are refused with upstream's
// status, type and message.
func TestRequestValidation(t *testing.T) {
	e := newTestEnv(t, nil)
	net, sub := e.NetworkWithSubnet(e.DemoToken, "10.60.0.0/24")
	port := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": net})["id"].(string)
	router := e.Create(e.DemoToken, "routers", "router", map[string]any{"name": "r"})["id"].(string)
	sg := e.Create(e.DemoToken, "security-groups", "security_group", map[string]any{"name": "g"})["id"].(string)
	ext := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "ext", "router:external": true})["id"].(string)
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": ext, "ip_version": 4, "cidr": "172.31.0.0/24"})
	fip := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": ext})["id"].(string)
	long := strings.Repeat("x", 256)
	body := func(member string, attrs map[string]any) map[string]any { return map[string]any{member: attrs} }

	t.Run("accepted", func(t *testing.T) {
		e.t = t
		for _, tc := range []struct {
			name, method, path string
			body               map[string]any
			status             int
			key                string
			want               any
		}{
			{"network booleans as strings", "POST", "/v2.0/networks", body("network", map[string]any{"admin_state_up": "False", "port_security_enabled": "0"}),
				201, "admin_state_up", false},
			{"a boolean as a number", "PUT", "/v2.0/networks/" + net, body("network", map[string]any{"admin_state_up": 1}), 200, "admin_state_up", true},
			{"a boolean as yes", "PUT", "/v2.0/networks/" + net, body("network", map[string]any{"port_security_enabled": "yes"}), 200, "port_security_enabled", true},
			{"an MTU as a string", "PUT", "/v2.0/networks/" + net, body("network", map[string]any{"mtu": "1400"}), 200, "mtu", float64(1400)},
			{"a subnet's ip_version as a string", "POST", "/v2.0/subnets", body("subnet", map[string]any{"network_id": net, "ip_version": "4",
				"cidr": "10.61.0.0/24", "enable_dhcp": "false"}), 201, "enable_dhcp", false},
			{"DNS servers of null", "PUT", "/v2.0/subnets/" + sub, body("subnet", map[string]any{"dns_nameservers": nil}), 200, "dns_nameservers", []any{}},
			{"a port's admin state as a string", "PUT", "/v2.0/ports/" + port, body("port", map[string]any{"admin_state_up": "off"}), 200, "admin_state_up", false},
			{"a router's admin state as a string", "PUT", "/v2.0/routers/" + router, body("router", map[string]any{"admin_state_up": "On"}), 200, "admin_state_up", true},
			{"a group's stateful as a string", "PUT", "/v2.0/security-groups/" + sg, body("security_group", map[string]any{"stateful": "TRUE"}), 200, "stateful", true},
			{"a rule's ports as strings", "POST", "/v2.0/security-group-rules", body("security_group_rule", map[string]any{"security_group_id": sg,
				"direction": "ingress", "protocol": "udp", "port_range_min": "53", "port_range_max": "53"}), 201, "port_range_max", float64(53)},
			{"a floating IP's port of null", "PUT", "/v2.0/floatingips/" + fip, body("floatingip", map[string]any{"port_id": nil}), 200, "port_id", nil},
		} {
			status, out, data := e.Do(tc.method, tc.path, e.DemoToken, tc.body)
			if status != tc.status {
				t.Errorf("%s: status %d, want %d: %s", tc.name, status, tc.status, data)
				continue
			}
			for _, v := range out {
				if obj, ok := v.(map[string]any); ok {
					if got := obj[tc.key]; !equalJSON(got, tc.want) {
						t.Errorf("%s: %s = %v, want %v", tc.name, tc.key, got, tc.want)
					}
				}
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		e.t = t
		for _, tc := range []struct {
			name, method, path string
			body               map[string]any
			kind, message      string
		}{
			{"a boolean that is none", "POST", "/v2.0/networks", body("network", map[string]any{"admin_state_up": "maybe"}),
				"InvalidInput", "Invalid input for operation: 'maybe' cannot be converted to boolean."},
			{"a boolean that is a list", "POST", "/v2.0/networks", body("network", map[string]any{"shared": []any{}}),
				"InvalidInput", "Invalid input for operation: '[]' cannot be converted to boolean."},
			{"a name too long", "POST", "/v2.0/networks", body("network", map[string]any{"name": long}),
				"HTTPBadRequest", "Invalid input for name. Reason: '" + long + "' exceeds maximum length of 255."},
			{"a name that is no string", "PUT", "/v2.0/networks/" + net, body("network", map[string]any{"name": 5}),
				"HTTPBadRequest", "Invalid input for name. Reason: '5' is not a valid string."},
			{"an MTU that is no integer", "PUT", "/v2.0/networks/" + net, body("network", map[string]any{"mtu": "big"}),
				"InvalidInput", "Invalid input for operation: 'big' is not an integer."},
			{"a network's status", "POST", "/v2.0/networks", body("network", map[string]any{"status": "DOWN"}),
				"HTTPBadRequest", "Attribute 'status' not allowed in POST"},
			{"an unknown attribute", "POST", "/v2.0/networks", body("network", map[string]any{"colour": "red", "flavour": 1}),
				"HTTPBadRequest", "Unrecognized attribute(s) 'colour, flavour'"},
			{"a network's id", "PUT", "/v2.0/networks/" + net, body("network", map[string]any{"id": net}),
				"HTTPBadRequest", "Cannot update read-only attribute id"},
			{"zones on update", "PUT", "/v2.0/networks/" + net, body("network", map[string]any{"availability_zone_hints": []any{}}),
				"HTTPBadRequest", "Cannot update read-only attribute availability_zone_hints"},
			{"a subnet without network", "POST", "/v2.0/subnets", body("subnet", map[string]any{"ip_version": 4, "cidr": "10.62.0.0/24"}),
				"HTTPBadRequest", "Failed to parse request. Required attribute 'network_id' not specified"},
			{"a subnet without version", "POST", "/v2.0/subnets", body("subnet", map[string]any{"network_id": net, "cidr": "10.62.0.0/24"}),
				"HTTPBadRequest", "Failed to parse request. Required attribute 'ip_version' not specified"},
			{"IP version 5", "POST", "/v2.0/subnets", body("subnet", map[string]any{"network_id": net, "ip_version": 5, "cidr": "10.62.0.0/24"}),
				"HTTPBadRequest", "Invalid input for ip_version. Reason: 5 is not in valid_values."},
			{"a network id that is no UUID", "POST", "/v2.0/subnets", body("subnet", map[string]any{"network_id": "net", "ip_version": 4}),
				"HTTPBadRequest", "Invalid input for network_id. Reason: 'net' is not a valid UUID."},
			{"a negative prefix length", "POST", "/v2.0/subnets", body("subnet", map[string]any{"network_id": net, "ip_version": 4, "prefixlen": -8}),
				"HTTPBadRequest", "Invalid input for prefixlen. Reason: '-8' should be non-negative."},
			{"a subnet's cidr on update", "PUT", "/v2.0/subnets/" + sub, body("subnet", map[string]any{"cidr": "10.60.0.0/25"}),
				"HTTPBadRequest", "Cannot update read-only attribute cidr"},
			{"a port without network", "POST", "/v2.0/ports", body("port", map[string]any{"name": "p"}),
				"HTTPBadRequest", "Failed to parse request. Required attribute 'network_id' not specified"},
			{"a port's status", "PUT", "/v2.0/ports/" + port, body("port", map[string]any{"status": "ACTIVE"}),
				"HTTPBadRequest", "Cannot update read-only attribute status"},
			{"a device owner too long", "PUT", "/v2.0/ports/" + port, body("port", map[string]any{"device_owner": long}),
				"HTTPBadRequest", "Invalid input for device_owner. Reason: '" + long + "' exceeds maximum length of 255."},
			{"routes on create", "POST", "/v2.0/routers", body("router", map[string]any{"routes": []any{}}),
				"HTTPBadRequest", "Attribute 'routes' not allowed in POST"},
			{"a router flavor that is no UUID", "POST", "/v2.0/routers", body("router", map[string]any{"flavor_id": "gold"}),
				"HTTPBadRequest", "Invalid input for flavor_id. Reason: 'gold' is not a valid UUID."},
			{"a floating IP without network", "POST", "/v2.0/floatingips", body("floatingip", map[string]any{}),
				"HTTPBadRequest", "Failed to parse request. Required attribute 'floating_network_id' not specified"},
			{"a group's rules", "POST", "/v2.0/security-groups", body("security_group", map[string]any{"security_group_rules": []any{}}),
				"HTTPBadRequest", "Attribute 'security_group_rules' not allowed in POST"},
			{"a rule's direction", "POST", "/v2.0/security-group-rules", body("security_group_rule", map[string]any{"security_group_id": sg,
				"direction": "sideways"}), "HTTPBadRequest", "Invalid input for direction. Reason: sideways is not in valid_values."},
			{"a rule without direction", "POST", "/v2.0/security-group-rules", body("security_group_rule", map[string]any{"security_group_id": sg}),
				"HTTPBadRequest", "Failed to parse request. Required attribute 'direction' not specified"},
			{"a remote group that is no UUID", "POST", "/v2.0/security-group-rules", body("security_group_rule", map[string]any{"security_group_id": sg,
				"direction": "egress", "remote_group_id": "web"}), "HTTPBadRequest", "Invalid input for remote_group_id. Reason: 'web' is not a valid UUID."},
		} {
			e.expectError(http.StatusBadRequest, tc.kind, tc.message, tc.method, tc.path, e.DemoToken, tc.body)
		}
	})
}

func equalJSON(a, b any) bool {
	la, aList := a.([]any)
	lb, bList := b.([]any)
	if aList || bList {
		return aList && bList && len(la) == len(lb) && len(la) == 0
	}
	return a == b
}
