package network

import (
	"fmt"
	"net/http"
	"testing"
)

// TestNestedAttributeValidation holds the nested attributes and the bodies
// outside the core attribute maps to neutron-lib's validators (fixed_ips,
// allocation_pools, host_routes, dns_nameservers, allowed_address_pairs,
// binding:profile, external_gateway_info, routes), the quota, tags and router
// interface bodies to the checks of the code that reads them (quotasv2.py,
// tagging.py, l3_db.py), and the member actions' bodies (prefixes, addresses,
// sub_ports): upstream's permissive forms accepted, invalid ones refused with
// upstream's status, type and message.
func TestNestedAttributeValidation(t *testing.T) {
	e := newTestEnv(t, nil)
	net, sub := e.NetworkWithSubnet(e.DemoToken, "10.60.0.0/24")
	port := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": net})["id"].(string)
	router := e.Create(e.DemoToken, "routers", "router", map[string]any{"name": "r"})["id"].(string)
	ext := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "ext", "router:external": true})["id"].(string)
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": ext, "ip_version": 4, "cidr": "172.31.0.0/24"})
	pool := e.Create(e.AdminToken, "subnetpools", "subnetpool", map[string]any{"name": "p", "prefixes": []any{"10.200.0.0/16"},
		"default_prefixlen": 24})["id"].(string)
	group := e.Create(e.DemoToken, "address-groups", "address_group", map[string]any{"name": "g", "addresses": []any{"10.0.0.1/32"}})["id"].(string)
	trunk := e.Create(e.DemoToken, "trunks", "trunk", map[string]any{"port_id": port})["id"].(string)
	quota := "/v2.0/quotas/" + e.DemoProject
	tags := "/v2.0/networks/" + net + "/tags"
	body := func(member string, attrs map[string]any) map[string]any { return map[string]any{member: attrs} }
	newPort := func(attrs map[string]any) map[string]any {
		attrs["network_id"] = net
		return body("port", attrs)
	}
	newSubnet := func(attrs map[string]any) map[string]any {
		attrs["network_id"], attrs["ip_version"] = net, 4
		if _, ok := attrs["cidr"]; !ok {
			attrs["cidr"] = "10.70.0.0/24"
		}
		return body("subnet", attrs)
	}
	gateway := func(info any) map[string]any { return body("router", map[string]any{"external_gateway_info": info}) }
	fiftyOne := make([]any, 51)
	for i := range fiftyOne {
		fiftyOne[i] = fmt.Sprint("t", i)
	}

	t.Run("accepted", func(t *testing.T) {
		e.t = t
		for _, tc := range []struct {
			name, method, path string
			admin              bool
			body               any
			status             int
		}{
			{"fixed IPs by subnet alone", "POST", "/v2.0/ports", false, newPort(map[string]any{"fixed_ips": []any{map[string]any{"subnet_id": sub}}}), 201},
			{"fixed IPs by address alone", "POST", "/v2.0/ports", false, newPort(map[string]any{"fixed_ips": []any{map[string]any{"ip_address": "10.60.0.40"}}}), 201},
			{"a MAC with dashes", "POST", "/v2.0/ports", true, newPort(map[string]any{"mac_address": "fa-16-3e-00-00-01"}), 201},
			{"a MAC without separators", "POST", "/v2.0/ports", true, newPort(map[string]any{"mac_address": "fa163e000002"}), 201},
			{"security groups of null", "POST", "/v2.0/ports", false, newPort(map[string]any{"security_groups": nil, "port_security_enabled": false}), 201},
			{"address pairs of null", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"allowed_address_pairs": nil}), 200},
			{"an address pair with a CIDR", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"allowed_address_pairs": []any{
				map[string]any{"ip_address": "10.60.0.128/25"}}}), 200},
			{"port tags on create", "POST", "/v2.0/ports", false, newPort(map[string]any{"tags": []any{"a", "b"}}), 201},
			{"DHCP options, a blank router and a version as a string", "PUT", "/v2.0/ports/" + port, true, body("port", map[string]any{"extra_dhcp_opts": []any{
				map[string]any{"opt_name": "tftp-server", "opt_value": "10.0.0.9", "ip_version": "4"},
				map[string]any{"opt_name": "router", "opt_value": ""}}}), 200},
			{"a DNS name in capitals", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"dns_name": "Web-1"}), 200},
			{"an FQDN", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"dns_name": "web-2.example.org."}), 200},
			{"a network's DNS domain", "PUT", "/v2.0/networks/" + net, false, body("network", map[string]any{"dns_domain": "Example.ORG."}), 200},
			{"a compute service type", "PUT", "/v2.0/subnets/" + sub, true, body("subnet", map[string]any{"service_types": []any{"compute:nova"}}), 200},
			{"no service types", "PUT", "/v2.0/subnets/" + sub, true, body("subnet", map[string]any{"service_types": []any{}}), 200},
			{"DHCP options of null", "PUT", "/v2.0/ports/" + port, true, body("port", map[string]any{"extra_dhcp_opts": nil}), 200},
			{"a gateway of null", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"cidr": "10.71.0.0/24", "gateway_ip": nil}), 201},
			{"pools, routes and servers", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"cidr": "10.72.0.0/24",
				"allocation_pools": []any{map[string]any{"start": "10.72.0.10", "end": "10.72.0.20"}},
				"host_routes":      []any{map[string]any{"destination": "192.168.0.0/16", "nexthop": "10.72.0.254"}},
				"dns_nameservers":  []any{"10.72.0.2", "2001:db8::53"}}), 201},
			{"host routes and servers of null", "PUT", "/v2.0/subnets/" + sub, false, body("subnet", map[string]any{"host_routes": nil, "dns_nameservers": nil}), 200},
			{"an empty gateway clears it", "PUT", "/v2.0/routers/" + router, false, gateway(map[string]any{}), 200},
			{"a null gateway clears it", "PUT", "/v2.0/routers/" + router, false, gateway(nil), 200},
			{"SNAT as a string", "PUT", "/v2.0/routers/" + router, true, gateway(map[string]any{"network_id": ext, "enable_snat": "False"}), 200},
			{"routes of null", "PUT", "/v2.0/routers/" + router, false, body("router", map[string]any{"routes": nil}), 200},
			{"a quota as a string, force and check_limit", "PUT", quota, true, body("quota", map[string]any{"network": "20", "force": true,
				"check_limit": true}), 200},
			{"an unlimited quota", "PUT", quota, true, body("quota", map[string]any{"port": -1}), 200},
			{"fifty tags", "PUT", tags, false, map[string]any{"tags": fiftyOne[:50]}, 200},
			{"a prefix list", "PUT", "/v2.0/subnetpools/" + pool + "/add_prefixes", true, map[string]any{"prefixes": []any{"10.201.0.0/16"}}, 200},
		} {
			token := e.DemoToken
			if tc.admin {
				token = e.AdminToken
			}
			if status, _, data := e.Do(tc.method, tc.path, token, tc.body); status != tc.status {
				t.Errorf("%s: status %d, want %d: %s", tc.name, status, tc.status, data)
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		e.t = t
		for _, tc := range []struct {
			name, method, path string
			admin              bool
			body               any
			kind, message      string
		}{
			{"fixed IPs not a list", "POST", "/v2.0/ports", false, newPort(map[string]any{"fixed_ips": "x"}),
				"HTTPBadRequest", "Invalid input for fixed_ips. Reason: Invalid data format for fixed IP: 'x'."},
			{"a fixed IP not a dictionary", "POST", "/v2.0/ports", false, newPort(map[string]any{"fixed_ips": []any{"10.60.0.5"}}),
				"HTTPBadRequest", "Invalid input for fixed_ips. Reason: Invalid data format for fixed IP: '10.60.0.5'."},
			{"a fixed IP's bad address", "POST", "/v2.0/ports", false, newPort(map[string]any{"fixed_ips": []any{map[string]any{"ip_address": "bad"}}}),
				"HTTPBadRequest", "Invalid input for fixed_ips. Reason: 'bad' is not a valid IP address."},
			{"a fixed IP with leading zeros", "POST", "/v2.0/ports", false, newPort(map[string]any{"fixed_ips": []any{map[string]any{"ip_address": "10.60.0.050"}}}),
				"HTTPBadRequest", "Invalid input for fixed_ips. Reason: '10.60.0.050' is not an accepted IP address, '10.60.0.50' is recommended."},
			{"a fixed IP twice", "POST", "/v2.0/ports", false, newPort(map[string]any{"fixed_ips": []any{map[string]any{"ip_address": "10.60.0.7"},
				map[string]any{"ip_address": "10.60.0.7"}}}), "HTTPBadRequest", "Invalid input for fixed_ips. Reason: Duplicate IP address '10.60.0.7'."},
			{"a fixed IP's bad subnet", "POST", "/v2.0/ports", false, newPort(map[string]any{"fixed_ips": []any{map[string]any{"subnet_id": "bad"}}}),
				"HTTPBadRequest", "Invalid input for fixed_ips. Reason: 'bad' is not a valid UUID."},
			{"a fixed IP of neither", "POST", "/v2.0/ports", false, newPort(map[string]any{"fixed_ips": []any{map[string]any{"foo": "bar"}}}),
				"InvalidInput", "Invalid input for operation: IP allocation requires subnet_id or ip_address."},
			{"a bad MAC", "POST", "/v2.0/ports", true, newPort(map[string]any{"mac_address": "zz"}),
				"HTTPBadRequest", "Invalid input for mac_address. Reason: 'zz' is not a valid MAC address."},
			{"the broadcast MAC", "POST", "/v2.0/ports", true, newPort(map[string]any{"mac_address": "ff:ff:ff:ff:ff:ff"}),
				"HTTPBadRequest", "Invalid input for mac_address. Reason: 'ff:ff:ff:ff:ff:ff' is not a valid MAC address."},
			{"security groups not a list", "POST", "/v2.0/ports", false, newPort(map[string]any{"security_groups": "x"}),
				"HTTPBadRequest", "Invalid input for security_groups. Reason: 'x' is not a list."},
			{"a security group not a UUID", "POST", "/v2.0/ports", false, newPort(map[string]any{"security_groups": []any{"web"}}),
				"HTTPBadRequest", "Invalid input for security_groups. Reason: 'web' is not a valid UUID."},
			{"a binding profile not a dictionary", "POST", "/v2.0/ports", false, newPort(map[string]any{"binding:profile": "x"}),
				"HTTPBadRequest", "Invalid input for binding:profile. Reason: 'x' is not a dictionary."},
			{"an unknown VNIC type", "POST", "/v2.0/ports", false, newPort(map[string]any{"binding:vnic_type": "weird"}),
				"HTTPBadRequest", "Invalid input for binding:vnic_type. Reason: weird is not in valid_values."},
			{"DHCP options not a list", "POST", "/v2.0/ports", true, newPort(map[string]any{"extra_dhcp_opts": "x"}),
				"InvalidInput", "Invalid input for operation: 'x' is not a list."},
			{"a DHCP option with a blank value", "POST", "/v2.0/ports", true, newPort(map[string]any{"extra_dhcp_opts": []any{
				map[string]any{"opt_name": "tftp-server", "opt_value": " "}}}),
				"InvalidInput", "Invalid input for operation: No valid key specs matched for: {'opt_name': 'tftp-server', 'opt_value': ' '}."},
			{"a DHCP option of two lines", "POST", "/v2.0/ports", true, newPort(map[string]any{"extra_dhcp_opts": []any{
				map[string]any{"opt_name": "a\nb", "opt_value": "1"}}}),
				"InvalidInput", "Invalid input for operation: No valid key specs matched for: {'opt_name': 'a\\nb', 'opt_value': '1'}."},
			{"a DHCP option's version not a number", "POST", "/v2.0/ports", true, newPort(map[string]any{"extra_dhcp_opts": []any{
				map[string]any{"opt_name": "mtu", "opt_value": "1400", "ip_version": "four"}}}),
				"InvalidInput", "Invalid input for operation: 'four' is not an integer."},
			{"a DNS name not a string", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"dns_name": 5}),
				"InvalidInput", "Invalid input for operation: Input value 5 must be string type."},
			{"a DNS name with an underscore", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"dns_name": "web_1"}),
				"HTTPBadRequest", "Invalid input for dns_name. Reason: 'web_1' not a valid PQDN or FQDN. Reason: Name 'web_1' must be 1-63 characters long, each of which can only be alphanumeric or a hyphen."},
			{"a DNS name with a hyphen last", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"dns_name": "web-"}),
				"HTTPBadRequest", "Invalid input for dns_name. Reason: 'web-' not a valid PQDN or FQDN. Reason: Name 'web-' must not start or end with a hyphen."},
			{"a DNS name with a numeric TLD", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"dns_name": "web.42"}),
				"HTTPBadRequest", "Invalid input for dns_name. Reason: 'web.42' not a valid PQDN or FQDN. Reason: TLD '42' must not be all numeric."},
			{"a DNS domain without its final dot", "PUT", "/v2.0/networks/" + net, false, body("network", map[string]any{"dns_domain": "example.org"}),
				"HTTPBadRequest", "Invalid input for dns_domain. Reason: 'example.org' is not a FQDN."},
			{"a DNS domain of null", "PUT", "/v2.0/networks/" + net, false, body("network", map[string]any{"dns_domain": nil}),
				"InvalidInput", "Invalid input for operation: Input value None must be string type."},
			{"a floating IP's FQDN", "POST", "/v2.0/floatingips", false, body("floatingip", map[string]any{"floating_network_id": ext, "dns_name": "web.",
				"dns_domain": "example.org."}), "HTTPBadRequest", "Invalid input for dns_name. Reason: 'web.' is a FQDN. It should be a relative domain name."},
			{"service types not a list", "PUT", "/v2.0/subnets/" + sub, true, body("subnet", map[string]any{"service_types": "network:dhcp"}),
				"HTTPBadRequest", "Subnet service types must be a list."},
			{"a service type not a string", "PUT", "/v2.0/subnets/" + sub, true, body("subnet", map[string]any{"service_types": []any{5}}),
				"InvalidInputSubnetServiceType", "Subnet service type 5 is not a string."},
			{"a service type of no device owner", "PUT", "/v2.0/subnets/" + sub, true, body("subnet", map[string]any{"service_types": []any{"baremetal:none"}}),
				"InvalidSubnetServiceType", "Subnet service type baremetal:none does not correspond to a valid device owner."},
			{"a network's tags on create", "POST", "/v2.0/networks", false, body("network", map[string]any{"tags": []any{"a"}}),
				"HTTPBadRequest", "Attribute 'tags' not allowed in POST"},
			{"a subnet pool's tags on create", "POST", "/v2.0/subnetpools", true, body("subnetpool", map[string]any{"name": "q", "prefixes": []any{"10.202.0.0/16"},
				"tags": []any{"a"}}), "HTTPBadRequest", "Attribute 'tags' not allowed in POST"},
			{"a network's tags on update", "PUT", "/v2.0/networks/" + net, false, body("network", map[string]any{"tags": []any{"a"}}),
				"HTTPBadRequest", "Cannot update read-only attribute tags"},
			{"port tags twice", "POST", "/v2.0/ports", false, newPort(map[string]any{"tags": []any{"a", "a"}}),
				"HTTPBadRequest", "Invalid input for tags. Reason: Duplicate items in the list: 'a'."},
			{"address pairs not a list", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"allowed_address_pairs": "x"}),
				"HTTPBadRequest", "Allowed address pairs must be a list."},
			{"an address pair without address", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"allowed_address_pairs": []any{
				map[string]any{"mac_address": "fa:16:3e:00:00:09"}}}), "AllowedAddressPairsMissingIP", "AllowedAddressPair must contain ip_address"},
			{"an address pair twice", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"allowed_address_pairs": []any{
				map[string]any{"ip_address": "10.60.0.9"}, map[string]any{"ip_address": "10.60.0.9"}}}),
				"DuplicateAddressPairInRequest", "Request contains duplicate address pair: mac_address None ip_address 10.60.0.9."},
			{"an address pair's unknown key", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"allowed_address_pairs": []any{
				map[string]any{"ip_address": "10.60.0.9", "colour": "red"}}}), "HTTPBadRequest", "Unrecognized attribute(s) 'colour'"},
			{"an address pair's bad address", "PUT", "/v2.0/ports/" + port, false, body("port", map[string]any{"allowed_address_pairs": []any{
				map[string]any{"ip_address": "10.60.0.0/33"}}}), "HTTPBadRequest", "'10.60.0.0/33' is not a valid IP subnet"},
			{"a bad CIDR", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"cidr": "bad"}),
				"HTTPBadRequest", "Invalid input for cidr. Reason: 'bad' is not a valid IP subnet."},
			{"a bad gateway", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"gateway_ip": "10.70.0"}),
				"HTTPBadRequest", "Invalid input for gateway_ip. Reason: '10.70.0' is not a valid IP address."},
			{"pools not a list", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"allocation_pools": "x"}),
				"HTTPBadRequest", "Invalid input for allocation_pools. Reason: Invalid data format for IP pool: 'x'."},
			{"a pool not a dictionary", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"allocation_pools": []any{"x"}}),
				"HTTPBadRequest", "Invalid input for allocation_pools. Reason: Invalid input. 'x' must be a dictionary with keys: ['start', 'end']."},
			{"a pool without end", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"allocation_pools": []any{map[string]any{"start": "10.70.0.5"}}}),
				"HTTPBadRequest", "Invalid input for allocation_pools. Reason: Validation of dictionary's keys failed. Expected keys: {'start', 'end'} Provided keys: {'start'}."},
			{"a pool's bad start", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"allocation_pools": []any{map[string]any{"start": "x", "end": "10.70.0.9"}}}),
				"HTTPBadRequest", "Invalid input for allocation_pools. Reason: 'x' is not a valid IP address."},
			{"host routes not a list", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"host_routes": "x"}),
				"HTTPBadRequest", "Invalid input for host_routes. Reason: Invalid data format for hostroute: 'x'."},
			{"a host route with host bits", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"host_routes": []any{
				map[string]any{"destination": "10.1.0.1/16", "nexthop": "10.70.0.1"}}}), "HTTPBadRequest", "Invalid input for host_routes. Reason: '10.1.0.1/16' is not a valid CIDR."},
			{"a host route twice", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"host_routes": []any{
				map[string]any{"destination": "10.1.0.0/16", "nexthop": "10.70.0.1"}, map[string]any{"destination": "10.1.0.0/16", "nexthop": "10.70.0.1"}}}),
				"HTTPBadRequest", "Invalid input for host_routes. Reason: Duplicate hostroute '{'destination': '10.1.0.0/16', 'nexthop': '10.70.0.1'}'."},
			{"a bad name server", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"dns_nameservers": []any{"dns.example"}}),
				"HTTPBadRequest", "Invalid input for dns_nameservers. Reason: 'dns.example' is not a valid nameserver. 'dns.example' is not a valid IP address."},
			{"a name server twice", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"dns_nameservers": []any{"10.0.0.2", "10.0.0.2"}}),
				"HTTPBadRequest", "Invalid input for dns_nameservers. Reason: Duplicate nameserver '10.0.0.2'."},
			{"name servers not a list", "POST", "/v2.0/subnets", false, newSubnet(map[string]any{"dns_nameservers": 5}),
				"HTTPBadRequest", "Invalid input for dns_nameservers. Reason: Invalid data format for nameserver: '5'."},
			{"a gateway's bad fixed IPs", "PUT", "/v2.0/routers/" + router, true, gateway(map[string]any{"network_id": ext,
				"external_fixed_ips": []any{map[string]any{"ip_address": "x"}}}), "HTTPBadRequest", "Invalid input for external_gateway_info. Reason: 'x' is not a valid IP address."},
			{"an interface of neither", "PUT", "/v2.0/routers/" + router + "/add_router_interface", false, map[string]any{"name": "x"},
				"BadRequest", "Bad router request: Either subnet_id or port_id must be specified."},
			{"a removed interface's bad port", "PUT", "/v2.0/routers/" + router + "/remove_router_interface", false, map[string]any{"port_id": "x"},
				"BadRequest", "Bad router request: 'x' is not a valid UUID."},
			{"extra routes not a list", "PUT", "/v2.0/routers/" + router + "/add_extraroutes", false, body("router", map[string]any{"routes": "x"}),
				"HTTPBadRequest", "Invalid input for routes. Reason: Invalid data format for hostroute: 'x'."},
			{"a quota below -1", "PUT", quota, true, body("quota", map[string]any{"network": -5}),
				"HTTPBadRequest", "Invalid input for network. Reason: '-5' is too small - must be at least '-1'."},
			{"a quota beyond the database's", "PUT", quota, true, body("quota", map[string]any{"network": 2147483648}),
				"HTTPBadRequest", "Invalid input for network. Reason: '2147483648' is too large - must be no larger than '2147483647'."},
			{"a quota not an integer", "PUT", quota, true, body("quota", map[string]any{"network": "many"}),
				"InvalidInput", "Invalid input for operation: 'many' is not an integer."},
			{"an unknown quota", "PUT", quota, true, body("quota", map[string]any{"volumes": 5}),
				"HTTPBadRequest", "Unrecognized attribute(s) 'volumes'"},
			{"tags of null", "PUT", tags, false, map[string]any{"tags": nil}, "InvalidInput", "Invalid input for operation: 'None' is not a list."},
			{"tags not strings", "PUT", tags, false, map[string]any{"tags": []any{5}}, "InvalidInput", "Invalid input for operation: '5' is not a valid string."},
			{"tags without tags", "PUT", tags, false, map[string]any{"tag": []any{}}, "InvalidInput", "Invalid input for operation: Invalid tags body."},
			{"fifty-one tags", "PUT", tags, false, map[string]any{"tags": fiftyOne}, "BadRequest",
				"Bad networks request: The number of tags exceed the per-resource limit of 50."},
			{"a prefix list not a list", "PUT", "/v2.0/subnetpools/" + pool + "/add_prefixes", true, map[string]any{"prefixes": "x"},
				"HTTPBadRequest", "Invalid input for prefixes. Reason: 'x' is not a list."},
			{"an address not an address", "PUT", "/v2.0/address-groups/" + group + "/add_addresses", false, map[string]any{"addresses": []any{"bad"}},
				"HTTPBadRequest", "Invalid input for addresses. Reason: 'bad' is not a valid IP subnet."},
			{"sub-ports not a list", "PUT", "/v2.0/trunks/" + trunk + "/add_subports", false, map[string]any{"sub_ports": "x"},
				"InvalidInput", "Invalid input for operation: Invalid data format for subports: 'x' is not a list."},
			{"an agent's state", "PUT", "/v2.0/agents/6f1e3f5c-0000-4000-8000-00000000dead", true, body("agent", map[string]any{"admin_state_up": "maybe"}),
				"InvalidInput", "Invalid input for operation: 'maybe' cannot be converted to boolean."},
			{"an agent's host", "PUT", "/v2.0/agents/6f1e3f5c-0000-4000-8000-00000000dead", true, body("agent", map[string]any{"host": "h"}),
				"HTTPBadRequest", "Cannot update read-only attribute host"},
		} {
			token := e.DemoToken
			if tc.admin {
				token = e.AdminToken
			}
			e.expectError(http.StatusBadRequest, tc.kind, tc.message, tc.method, tc.path, token, tc.body)
		}
	})

	// The security group extension's converters and its name validator raise
	// their own exceptions (neutron/extensions/securitygroup.py).
	t.Run("security groups", func(t *testing.T) {
		e.t = t
		sg := e.Create(e.DemoToken, "security-groups", "security_group", map[string]any{"name": "web"})["id"].(string)
		rule := func(attrs map[string]any) map[string]any {
			attrs["security_group_id"], attrs["direction"] = sg, "ingress"
			return body("security_group_rule", attrs)
		}
		for _, tc := range []struct {
			name          string
			body          map[string]any
			status        int
			kind, message string
		}{
			{"an ethertype in lower case", rule(map[string]any{"ethertype": "ipv6", "protocol": "TCP", "port_range_min": "443", "port_range_max": 443}), 201, "", ""},
			{"a protocol number as a string", rule(map[string]any{"protocol": "47"}), 201, "", ""},
			{"any protocol", rule(map[string]any{"protocol": "any", "remote_ip_prefix": ""}), 201, "", ""},
			{"a prefix without length", rule(map[string]any{"protocol": "udp", "remote_ip_prefix": "10.1.2.3"}), 201, "", ""},
			{"an unknown protocol", rule(map[string]any{"protocol": "bogus"}), 400, "SecurityGroupRuleInvalidProtocol",
				"Security group rule protocol bogus not supported. Only protocol values " + sgSupportedProtocols + " and integer representations [0 to 255] are supported."},
			{"a protocol number too large", rule(map[string]any{"protocol": 256}), 400, "SecurityGroupRuleInvalidProtocol",
				"Security group rule protocol 256 not supported. Only protocol values " + sgSupportedProtocols + " and integer representations [0 to 255] are supported."},
			{"an unknown ethertype", rule(map[string]any{"ethertype": "IPv5"}), 400, "SecurityGroupRuleInvalidEtherType",
				"Security group rule for ethertype 'IPv5' not supported. Allowed values are ['IPv4', 'IPv6']."},
			{"a bad prefix", rule(map[string]any{"remote_ip_prefix": "10.0.0.0/33"}), 400, "InvalidCIDR", "Invalid CIDR 10.0.0.0/33 given as IP prefix."},
			{"a bad port", rule(map[string]any{"protocol": "tcp", "port_range_min": "http"}), 400, "SecurityGroupInvalidPortValue", "Invalid value for port http"},
			{"a group named Default", body("security_group", map[string]any{"name": "Default"}), 409, "SecurityGroupDefaultAlreadyExists",
				"Default security group already exists."},
		} {
			path := "/v2.0/security-group-rules"
			if _, ok := tc.body["security_group"]; ok {
				path = "/v2.0/security-groups"
			}
			if tc.status == 201 {
				e.Must(201, "POST", path, e.DemoToken, tc.body)
				continue
			}
			e.expectError(tc.status, tc.kind, tc.message, "POST", path, e.DemoToken, tc.body)
		}
		e.expectError(409, "SecurityGroupDefaultAlreadyExists", "Default security group already exists.", "PUT", "/v2.0/security-groups/"+sg,
			e.DemoToken, body("security_group", map[string]any{"name": "DEFAULT"}))
	})
}
