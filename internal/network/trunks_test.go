package network

import (
	"fmt"
	"slices"
	"testing"
)

func TestTrunks(t *testing.T) {
	e := newTestEnv(t, nil)
	net, _ := e.NetworkWithSubnet(e.DemoToken, "10.80.0.0/24")
	port := func() string {
		return e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": net})["id"].(string)
	}
	parent, sub1, sub2 := port(), port(), port()
	trunk := func(attrs map[string]any) map[string]any { return map[string]any{"trunk": attrs} }
	vlan := func(id string, seg any) map[string]any {
		return map[string]any{"port_id": id, "segmentation_type": "vlan", "segmentation_id": seg}
	}
	for _, tc := range []struct {
		name          string
		body          map[string]any
		status        int
		kind, message string
	}{
		{"no parent", trunk(map[string]any{"name": "t"}), 400, "HTTPBadRequest", "Failed to parse request. Required attribute 'port_id' not specified"},
		{"a parent that is no UUID", trunk(map[string]any{"port_id": "p"}), 400, "HTTPBadRequest", "Invalid input for port_id. Reason: 'p' is not a valid UUID."},
		{"sub-ports that are no list", trunk(map[string]any{"port_id": parent, "sub_ports": "x"}), 400, "HTTPBadRequest",
			"Invalid input for sub_ports. Reason: Invalid data format for subports: 'x' is not a list."},
		{"a sub-port twice", trunk(map[string]any{"port_id": parent, "sub_ports": []any{vlan(sub1, 1), vlan(sub1, 2)}}), 400, "HTTPBadRequest",
			"Invalid input for sub_ports. Reason: Non unique UUID for subport: '" + sub1 + "'."},
		{"a VLAN twice", trunk(map[string]any{"port_id": parent, "sub_ports": []any{vlan(sub1, 7), vlan(sub2, 7)}}), 400, "HTTPBadRequest",
			"Invalid input for sub_ports. Reason: Segmentation ID '7' for '" + sub2 + "' is not unique."},
		{"a VLAN out of range", trunk(map[string]any{"port_id": parent, "sub_ports": []any{vlan(sub1, 4095)}}), 400, "InvalidInput",
			"Invalid input for operation: Segmentation ID '4095' is not in range."},
		{"an unknown segmentation", trunk(map[string]any{"port_id": parent, "sub_ports": []any{map[string]any{"port_id": sub1,
			"segmentation_type": "vxlan", "segmentation_id": 5}}}), 400, "InvalidInput", "Invalid input for operation: Unknown segmentation_type 'vxlan'."},
		{"the parent as sub-port", trunk(map[string]any{"port_id": parent, "sub_ports": []any{vlan(parent, 5)}}), 409, "ParentPortInUse",
			"Port " + parent + " is currently in use and is not eligible for use as a parent port."},
		{"a status", trunk(map[string]any{"port_id": parent, "status": "ACTIVE"}), 400, "HTTPBadRequest", "Attribute 'status' not allowed in POST"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.expectError(tc.status, tc.kind, tc.message, "POST", "/v2.0/trunks", e.DemoToken, tc.body)
		})
	}
	e.t = t
	// tags are not a create's (tagging.py's TAG_ATTRIBUTE_MAP): set by the tag routes
	e.expectError(400, "HTTPBadRequest", "Attribute 'tags' not allowed in POST", "POST", "/v2.0/trunks", e.DemoToken,
		trunk(map[string]any{"port_id": parent, "tags": []any{"red"}}))
	tr := e.Create(e.DemoToken, "trunks", "trunk", map[string]any{"name": "t", "port_id": parent, "admin_state_up": "true",
		"sub_ports": []any{vlan(sub1, "10"), vlan(sub2, 11)}})
	id := tr["id"].(string)
	e.Must(200, "PUT", "/v2.0/trunks/"+id+"/tags", e.DemoToken, map[string]any{"tags": []any{"red"}})
	tr = e.Must(200, "GET", "/v2.0/trunks/"+id, e.DemoToken, nil)["trunk"].(map[string]any)
	want := []any{map[string]any{"port_id": sub1, "segmentation_type": "vlan", "segmentation_id": float64(10)},
		map[string]any{"port_id": sub2, "segmentation_type": "vlan", "segmentation_id": float64(11)}}
	if tr["status"] != "DOWN" || tr["admin_state_up"] != true || fmt.Sprint(tr["sub_ports"]) != fmt.Sprint(want) ||
		!slices.Equal(tr["tags"].([]any), []any{"red"}) {
		t.Errorf("trunk %v", tr)
	}
	e.expectError(409, "ParentPortInUse", "Port "+parent+" is currently in use and is not eligible for use as a parent port.",
		"POST", "/v2.0/trunks", e.DemoToken, trunk(map[string]any{"port_id": parent}))
	e.expectError(409, "TrunkPortInUse", "Port "+sub1+" is in use by another trunk.",
		"POST", "/v2.0/trunks", e.DemoToken, trunk(map[string]any{"port_id": sub1}))
	e.expectError(409, "PortInUseAsTrunkParent", "Port "+parent+" is currently a parent port for trunk "+id+".", "DELETE", "/v2.0/ports/"+parent, e.DemoToken, nil)
	e.expectError(409, "PortInUseAsSubPort", "Port "+sub1+" is currently a subport for trunk "+id+".", "DELETE", "/v2.0/ports/"+sub1, e.DemoToken, nil)

	// The parent port shows its trunk (trunk-details), with the sub-ports' MACs.
	shown := e.Must(200, "GET", "/v2.0/ports/"+parent, e.DemoToken, nil)["port"].(map[string]any)
	details, _ := shown["trunk_details"].(map[string]any)
	if details["trunk_id"] != id || len(details["sub_ports"].([]any)) != 2 || details["sub_ports"].([]any)[0].(map[string]any)["mac_address"] == "" {
		t.Errorf("trunk_details %v", shown["trunk_details"])
	}
	if _, has := e.Must(200, "GET", "/v2.0/ports/"+sub1, e.DemoToken, nil)["port"].(map[string]any)["trunk_details"]; has {
		t.Error("a sub-port has trunk_details")
	}

	sub3 := port()
	e.expectError(409, "DuplicateSubPort", "segmentation_type vlan and segmentation_id 10 already in use on trunk "+id+".",
		"PUT", "/v2.0/trunks/"+id+"/add_subports", e.DemoToken, map[string]any{"sub_ports": []any{vlan(sub3, 10)}})
	out := e.Must(200, "PUT", "/v2.0/trunks/"+id+"/add_subports", e.DemoToken, map[string]any{"sub_ports": []any{vlan(sub3, 12)}})
	if n := len(out["sub_ports"].([]any)); n != 3 || out["id"] != id {
		t.Errorf("after add_subports: %d sub-ports", n)
	}
	e.expectError(404, "SubPortNotFound", "SubPort "+parent+" on trunk "+id+" could not be found.",
		"PUT", "/v2.0/trunks/"+id+"/remove_subports", e.DemoToken, map[string]any{"sub_ports": []any{map[string]any{"port_id": parent}}})
	e.Must(200, "PUT", "/v2.0/trunks/"+id+"/remove_subports", e.DemoToken, map[string]any{"sub_ports": []any{map[string]any{"port_id": sub3}}})
	subs := e.Must(200, "GET", "/v2.0/trunks/"+id+"/get_subports", e.DemoToken, nil)["sub_ports"]
	if fmt.Sprint(subs) != fmt.Sprint(want) {
		t.Errorf("get_subports %v", subs)
	}
	updated := e.Must(200, "PUT", "/v2.0/trunks/"+id, e.DemoToken, trunk(map[string]any{"name": "", "description": "d"}))["trunk"].(map[string]any)
	if updated["name"] != "" || updated["description"] != "d" || updated["revision_number"].(float64) <= tr["revision_number"].(float64) {
		t.Errorf("updated %v", updated)
	}
	e.expectError(400, "HTTPBadRequest", "Cannot update read-only attribute port_id", "PUT", "/v2.0/trunks/"+id, e.DemoToken,
		trunk(map[string]any{"port_id": sub3}))
	e.Must(201, "PUT", "/v2.0/trunks/"+id+"/tags/blue", e.DemoToken, nil)
	if tags := e.Must(200, "GET", "/v2.0/trunks/"+id+"/tags", e.DemoToken, nil)["tags"].([]any); !slices.Contains(tags, any("blue")) {
		t.Errorf("tags %v", tags)
	}
	other, _ := e.NewProjectUser("trunk-stranger")
	e.Fail(404, "TrunkNotFound", "GET", "/v2.0/trunks/"+id, other, nil)
	e.Must(204, "DELETE", "/v2.0/trunks/"+id, e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.0/ports/"+sub1, e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.0/ports/"+parent, e.DemoToken, nil)
}

// TestDeleteExternalNetwork: as upstream, the floating IPs of an external network
// that no port uses go with it; ports still in use are named.
func TestDeleteExternalNetwork(t *testing.T) {
	e := newTestEnv(t, nil)
	ext := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "ext", "router:external": true})["id"].(string)
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": ext, "ip_version": 4, "cidr": "172.30.0.0/24"})
	fip := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": ext})["id"].(string)
	e.Must(204, "DELETE", "/v2.0/networks/"+ext, e.AdminToken, nil)
	e.Fail(404, "", "GET", "/v2.0/floatingips/"+fip, e.DemoToken, nil)

	net, _ := e.NetworkWithSubnet(e.DemoToken, "10.81.0.0/24")
	p := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": net})["id"].(string)
	e.expectError(409, "NetworkInUse", "Unable to complete operation on network "+net+
		". There are one or more ports still in use on the network, id for these ports is: "+p+".", "DELETE", "/v2.0/networks/"+net, e.DemoToken, nil)
}

// TestSecurityGroupRulePorts: port ranges are refused with upstream's errors,
// which name the offending port.
func TestSecurityGroupRulePorts(t *testing.T) {
	e := newTestEnv(t, nil)
	sg := e.Create(e.DemoToken, "security-groups", "security_group", map[string]any{"name": "g"})["id"].(string)
	rule := func(proto any, lo, hi any) map[string]any {
		r := map[string]any{"security_group_id": sg, "direction": "ingress", "protocol": proto}
		if lo != nil {
			r["port_range_min"] = lo
		}
		if hi != nil {
			r["port_range_max"] = hi
		}
		return map[string]any{"security_group_rule": r}
	}
	for _, tc := range []struct {
		name          string
		body          map[string]any
		kind, message string
	}{
		{"min over 65535", rule("tcp", 70000, 80000), "SecurityGroupInvalidPortValue", "Invalid value for port 70000"},
		{"max over 65535", rule("tcp", 22, 65536), "SecurityGroupInvalidPortValue", "Invalid value for port 65536"},
		{"a port that is no number", rule("udp", "ssh", 22), "SecurityGroupInvalidPortValue", "Invalid value for port ssh"},
		{"a negative port", rule("udp", -1, 22), "SecurityGroupInvalidPortValue", "Invalid value for port -1"},
		{"port zero", rule("tcp", 0, 22), "SecurityGroupInvalidPortValue", "Invalid value for port 0"},
		{"min over max", rule("tcp", 80, 22), "SecurityGroupInvalidPortRange", "For TCP/UDP protocols, port_range_min must be <= port_range_max"},
		{"only a max", rule("tcp", nil, 22), "SecurityGroupInvalidPortRange", "For TCP/UDP protocols, port_range_min must be <= port_range_max"},
		{"no protocol", rule(nil, 22, 22), "SecurityGroupProtocolRequiredWithPorts", "Must also specify protocol if port range is given."},
		{"ports on GRE", rule("gre", 22, 22), "SecurityGroupInvalidProtocolForPort",
			"Ports cannot be specified for protocol 47. Ports are only supported for DCCP, SCTP, TCP, UDP, UDPLITE."},
		{"an ICMP type over 255", rule("icmp", 256, nil), "SecurityGroupInvalidIcmpValue", "Invalid value for ICMP type (port_range_min) 256. It must be 0 to 255."},
		{"an ICMP code over 255", rule("icmp", 8, 300), "SecurityGroupInvalidIcmpValue", "Invalid value for ICMP code (port_range_max) 300. It must be 0 to 255."},
		{"an ICMP code alone", rule("icmp", nil, 0), "SecurityGroupMissingIcmpType", "ICMP code (port-range-max) 0 is provided but ICMP type (port-range-min) is missing."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.expectError(400, tc.kind, tc.message, "POST", "/v2.0/security-group-rules", e.DemoToken, tc.body)
		})
	}
	e.t = t
	// Ports as strings, as older clients send them.
	r := e.Create(e.DemoToken, "security-group-rules", "security_group_rule", rule("tcp", "8000", "8080")["security_group_rule"].(map[string]any))
	if r["port_range_min"] != float64(8000) || r["port_range_max"] != float64(8080) {
		t.Errorf("rule %v", r)
	}
}
