package network

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// externalNetwork makes devstack's "public": an external network with a subnet.
func (e *testEnv) externalNetwork(cidr string) (string, string) {
	e.t.Helper()
	n := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "public", "router:external": true})
	s := e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": n["id"], "ip_version": 4, "cidr": cidr})
	return n["id"].(string), s["id"].(string)
}

func routerPath(id string, action ...string) string {
	return "/v2.0/routers/" + id + strings.Join(append([]string{""}, action...), "/")
}

func gateway(netID string, extra map[string]any) map[string]any {
	gw := map[string]any{"network_id": netID}
	for k, v := range extra {
		gw[k] = v
	}
	return map[string]any{"router": map[string]any{"external_gateway_info": gw}}
}

func TestRouterLifecycle(t *testing.T) {
	e := newTestEnv(t, nil)
	extID, extSub := e.externalNetwork("172.24.4.0/24")
	privID, privSub := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")

	rt := e.Create(e.DemoToken, "routers", "router", map[string]any{"name": "r1"})
	id := rt["id"].(string)
	if rt["status"] != "ACTIVE" || rt["external_gateway_info"] != nil || rt["admin_state_up"] != true ||
		rt["project_id"] != e.DemoProject || rt["tenant_id"] != e.DemoProject {
		t.Fatalf("created router %v", rt)
	}
	if _, ok := rt["distributed"]; ok {
		t.Fatalf("a member sees distributed (admin's, as upstream): %v", rt)
	}
	if zones, _ := rt["availability_zones"].([]any); len(zones) != 1 || zones[0] != "nova" {
		t.Fatalf("availability_zones %v", rt["availability_zones"])
	}
	if shown := e.Must(200, "GET", routerPath(id), e.AdminToken, nil)["router"].(map[string]any); shown["distributed"] != false || shown["ha"] != false {
		t.Fatalf("admin's view %v", shown)
	}

	// The gateway: a port on the external network with one of its addresses.
	up := e.Must(200, "PUT", routerPath(id), e.DemoToken, gateway(extID, nil))["router"].(map[string]any)
	gw := up["external_gateway_info"].(map[string]any)
	ips := gw["external_fixed_ips"].([]any)
	if gw["network_id"] != extID || gw["enable_snat"] != true || len(ips) != 1 || ips[0].(map[string]any)["subnet_id"] != extSub ||
		!strings.HasPrefix(ips[0].(map[string]any)["ip_address"].(string), "172.24.4.") {
		t.Fatalf("gateway %v", gw)
	}
	if up["revision_number"].(float64) < 2 {
		t.Fatalf("revision not bumped: %v", up["revision_number"])
	}
	gwPorts := e.Must(200, "GET", "/v2.0/ports?device_id="+id+"&device_owner=network:router_gateway", e.AdminToken, nil)["ports"].([]any)
	if len(gwPorts) != 1 || gwPorts[0].(map[string]any)["project_id"] != "" {
		t.Fatalf("gateway ports %v", gwPorts)
	}
	// Same network again keeps the port (idempotent).
	again := e.Must(200, "PUT", routerPath(id), e.DemoToken, gateway(extID, nil))["router"].(map[string]any)
	if again["external_gateway_info"].(map[string]any)["external_fixed_ips"].([]any)[0].(map[string]any)["ip_address"] != ips[0].(map[string]any)["ip_address"] {
		t.Fatalf("setting the same gateway again changed its address: %v", again["external_gateway_info"])
	}
	e.Fail(403, "PolicyNotAuthorized", "PUT", routerPath(id), e.DemoToken, gateway(extID, map[string]any{"enable_snat": false}))
	snat := e.Must(200, "PUT", routerPath(id), e.AdminToken, gateway(extID, map[string]any{"enable_snat": false}))["router"].(map[string]any)
	if snat["external_gateway_info"].(map[string]any)["enable_snat"] != false {
		t.Fatalf("enable_snat not set: %v", snat)
	}
	fixed := e.Must(200, "PUT", routerPath(id), e.AdminToken, gateway(extID, map[string]any{"external_fixed_ips": []any{map[string]any{"ip_address": "172.24.4.99"}}}))["router"].(map[string]any)
	if got := fixed["external_gateway_info"].(map[string]any)["external_fixed_ips"].([]any)[0].(map[string]any)["ip_address"]; got != "172.24.4.99" {
		t.Fatalf("external_fixed_ips: %v", got)
	}
	if fixed["external_gateway_info"].(map[string]any)["enable_snat"] != true {
		t.Fatalf("external_gateway_info is replaced whole (SNAT back to its default), as upstream: %v", fixed)
	}
	e.Fail(403, "PolicyNotAuthorized", "PUT", routerPath(id), e.DemoToken, gateway(extID, map[string]any{"enable_snat": true}))

	// Interfaces.
	added := e.Must(200, "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": privSub})
	for _, k := range []string{"id", "tenant_id", "project_id", "port_id", "subnet_id", "subnet_ids", "network_id"} {
		if _, ok := added[k]; !ok {
			t.Fatalf("add_router_interface answer lacks %s: %v", k, added)
		}
	}
	if added["id"] != id || added["subnet_id"] != privSub || added["network_id"] != privID {
		t.Fatalf("add_router_interface answer %v", added)
	}
	ifPort := e.Must(200, "GET", "/v2.0/ports/"+added["port_id"].(string), e.DemoToken, nil)["port"].(map[string]any)
	if ifPort["device_owner"] != "network:router_interface" || ifPort["device_id"] != id ||
		ifPort["fixed_ips"].([]any)[0].(map[string]any)["ip_address"] != "10.0.0.1" {
		t.Fatalf("interface port %v", ifPort)
	}
	e.Fail(409, "ServicePortInUse", "DELETE", "/v2.0/ports/"+ifPort["id"].(string), e.DemoToken, nil)
	e.Fail(409, "RouterInUse", "DELETE", routerPath(id), e.DemoToken, nil)
	e.Fail(409, "SubnetInUse", "DELETE", "/v2.0/subnets/"+privSub, e.DemoToken, nil)

	// By port.
	_, sub2 := e.NetworkWithSubnet(e.DemoToken, "10.2.0.0/24")
	free := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": e.subnetNetwork(sub2)})
	byPort := e.Must(200, "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"port_id": free["id"]})
	if byPort["port_id"] != free["id"] || byPort["subnet_id"] != sub2 {
		t.Fatalf("add by port %v", byPort)
	}
	if p := e.Must(200, "GET", "/v2.0/ports/"+free["id"].(string), e.DemoToken, nil)["port"].(map[string]any); p["device_owner"] != "network:router_interface" {
		t.Fatalf("port after add_router_interface %v", p)
	}

	// Extra routes: the nexthop must be on one of the router's subnets.
	route := func(dst, hop string) map[string]any { return map[string]any{"destination": dst, "nexthop": hop} }
	set := e.Must(200, "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"routes": []any{route("192.168.0.0/16", "10.0.0.5")}}})["router"].(map[string]any)
	if len(set["routes"].([]any)) != 1 {
		t.Fatalf("routes %v", set["routes"])
	}
	e.Fail(409, "RouterInterfaceInUseByRoute", "PUT", routerPath(id, "remove_router_interface"), e.DemoToken, map[string]any{"subnet_id": privSub})
	atomic := e.Must(200, "PUT", routerPath(id, "add_extraroutes"), e.DemoToken, map[string]any{"router": map[string]any{"routes": []any{route("192.169.0.0/16", "10.2.0.9")}}})["router"].(map[string]any)
	if len(atomic["routes"].([]any)) != 2 {
		t.Fatalf("add_extraroutes %v", atomic["routes"])
	}
	atomic = e.Must(200, "PUT", routerPath(id, "remove_extraroutes"), e.DemoToken, map[string]any{"router": map[string]any{"routes": []any{route("192.168.0.0/16", "10.0.0.5")}}})["router"].(map[string]any)
	if rs := atomic["routes"].([]any); len(rs) != 1 || rs[0].(map[string]any)["nexthop"] != "10.2.0.9" {
		t.Fatalf("remove_extraroutes %v", rs)
	}
	e.Must(200, "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"routes": nil}})

	// Removal, by subnet and by port.
	removed := e.Must(200, "PUT", routerPath(id, "remove_router_interface"), e.DemoToken, map[string]any{"subnet_id": privSub})
	if removed["port_id"] != added["port_id"] || removed["subnet_id"] != privSub {
		t.Fatalf("remove answer %v", removed)
	}
	e.Fail(404, "PortNotFound", "GET", "/v2.0/ports/"+added["port_id"].(string), e.DemoToken, nil)
	e.Fail(404, "RouterInterfaceNotFoundForSubnet", "PUT", routerPath(id, "remove_router_interface"), e.DemoToken, map[string]any{"subnet_id": privSub})
	e.Must(200, "PUT", routerPath(id, "remove_router_interface"), e.DemoToken, map[string]any{"port_id": free["id"]})
	e.Fail(404, "RouterInterfaceNotFound", "PUT", routerPath(id, "remove_router_interface"), e.DemoToken, map[string]any{"port_id": free["id"]})

	// Clearing the gateway releases its port; deleting the router works now.
	cleared := e.Must(200, "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"external_gateway_info": map[string]any{}}})["router"].(map[string]any)
	if cleared["external_gateway_info"] != nil {
		t.Fatalf("gateway not cleared %v", cleared)
	}
	e.Must(200, "PUT", routerPath(id), e.DemoToken, gateway(extID, nil))
	e.Must(204, "DELETE", routerPath(id), e.DemoToken, nil)
	if left := e.Must(200, "GET", "/v2.0/ports?device_id="+id, e.AdminToken, nil)["ports"].([]any); len(left) != 0 {
		t.Fatalf("ports left after router delete: %v", left)
	}
	e.Fail(404, "RouterNotFound", "GET", routerPath(id), e.DemoToken, nil)
	// The external network is free again.
	e.Must(204, "DELETE", "/v2.0/subnets/"+extSub, e.AdminToken, nil)
}

// subnetNetwork is the network of a subnet.
func (e *testEnv) subnetNetwork(subnetID string) string {
	e.t.Helper()
	return e.Must(200, "GET", "/v2.0/subnets/"+subnetID, e.AdminToken, nil)["subnet"].(map[string]any)["network_id"].(string)
}

func TestRouterBadInput(t *testing.T) {
	e := newTestEnv(t, nil)
	extID, _ := e.externalNetwork("172.24.4.0/24")
	privID, privSub := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	_, overlap := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/25")
	noGW := e.Create(e.DemoToken, "subnets", "subnet", map[string]any{"network_id": privID, "ip_version": 4, "cidr": "10.9.0.0/24", "gateway_ip": nil})
	used := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": privID, "device_id": "some-vm"})
	rt := e.Create(e.DemoToken, "routers", "router", map[string]any{"name": "r"})
	id := rt["id"].(string)
	e.Must(200, "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": privSub})
	otherToken, _ := e.NewProjectUser("other")

	for _, tc := range []struct {
		name          string
		method, path  string
		token         string
		body          any
		status        int
		kind          string
		messageSubstr string
	}{
		{"routes on create", "POST", "/v2.0/routers", e.DemoToken, map[string]any{"router": map[string]any{"routes": []any{}}}, 400, "", "routes"},
		{"unknown attribute", "POST", "/v2.0/routers", e.DemoToken, map[string]any{"router": map[string]any{"colour": "red"}}, 400, "", "colour"},
		{"not an object", "POST", "/v2.0/routers", e.DemoToken, map[string]any{"router": []any{1}}, 400, "", ""},
		{"bad admin_state_up", "POST", "/v2.0/routers", e.DemoToken, map[string]any{"router": map[string]any{"admin_state_up": "maybe"}}, 400, "InvalidInput", ""},
		{"distributed by a member", "POST", "/v2.0/routers", e.DemoToken, map[string]any{"router": map[string]any{"distributed": true}}, 403, "PolicyNotAuthorized", ""},
		{"unknown zone", "POST", "/v2.0/routers", e.DemoToken, map[string]any{"router": map[string]any{"availability_zone_hints": []any{"mars"}}}, 404, "AvailabilityZoneNotFound", ""},
		{"gateway not a dict", "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"external_gateway_info": "public"}}, 400, "HTTPBadRequest",
			"Invalid input for external_gateway_info. Reason: 'public' is not a dictionary."},
		{"gateway without network", "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"external_gateway_info": map[string]any{"enable_snat": true}}}, 400, "HTTPBadRequest",
			"Invalid input for external_gateway_info. Reason: Validation of dictionary's keys failed. Expected keys: {'network_id'} Provided keys: {'enable_snat'}."},
		{"gateway unknown key", "PUT", routerPath(id), e.DemoToken, gateway(extID, map[string]any{"colour": 1}), 400, "HTTPBadRequest",
			"Invalid input for external_gateway_info. Reason: Unexpected keys supplied: colour."},
		{"gateway network not a UUID", "PUT", routerPath(id), e.DemoToken, gateway("no-such-net", nil), 400, "HTTPBadRequest",
			"Invalid input for external_gateway_info. Reason: 'no-such-net' is not a valid UUID."},
		{"gateway snat not a boolean", "PUT", routerPath(id), e.DemoToken, gateway(extID, map[string]any{"enable_snat": "maybe"}), 400, "InvalidInput",
			"Invalid input for operation: 'maybe' cannot be converted to boolean."},
		{"gateway fixed IPs not a list", "PUT", routerPath(id), e.AdminToken, gateway(extID, map[string]any{"external_fixed_ips": "x"}), 400, "HTTPBadRequest",
			"Invalid input for external_gateway_info. Reason: Invalid data format for fixed IP: 'x'."},
		{"gateway on internal network", "PUT", routerPath(id), e.DemoToken, gateway(privID, nil), 400, "BadRequest", "is not an external network"},
		{"gateway on unknown network", "PUT", routerPath(id), e.DemoToken, gateway("6f1e3f5c-0000-4000-8000-00000000dead", nil), 404, "NetworkNotFound", ""},
		{"gateway fixed IPs by a member", "PUT", routerPath(id), e.DemoToken, gateway(extID, map[string]any{"external_fixed_ips": []any{map[string]any{"ip_address": "172.24.4.50"}}}), 403, "PolicyNotAuthorized", ""},
		{"gateway address outside", "PUT", routerPath(id), e.AdminToken, gateway(extID, map[string]any{"external_fixed_ips": []any{map[string]any{"ip_address": "10.1.1.1"}}}), 400, "", ""},
		{"read-only project", "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"project_id": "x"}}, 400, "", ""},
		{"route nexthop not connected", "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"routes": []any{map[string]any{"destination": "0.0.0.0/0", "nexthop": "10.5.0.1"}}}}, 400, "InvalidRoutes", "not connected"},
		{"route nexthop is the router", "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"routes": []any{map[string]any{"destination": "8.8.8.0/24", "nexthop": "10.0.0.1"}}}}, 400, "InvalidRoutes", "used by router"},
		{"route bad destination", "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"routes": []any{map[string]any{"destination": "nowhere", "nexthop": "10.0.0.5"}}}}, 400, "HTTPBadRequest",
			"Invalid input for routes. Reason: 'nowhere' is not a valid CIDR."},
		{"route not a list", "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"routes": "x"}}, 400, "HTTPBadRequest",
			"Invalid input for routes. Reason: Invalid data format for hostroute: 'x'."},
		{"route loopback", "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"routes": []any{map[string]any{"destination": "127.0.0.0/8", "nexthop": "10.0.0.5"}}}}, 400, "HTTPBadRequest",
			"Invalid input for routes. Reason: '127.0.0.0/8' is not a routable CIDR."},
		{"route nexthop not an address", "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"routes": []any{map[string]any{"destination": "8.8.8.0/24", "nexthop": "10.0.0.05"}}}}, 400, "HTTPBadRequest",
			"Invalid input for routes. Reason: '10.0.0.05' is not an accepted IP address, '10.0.0.5' is recommended."},
		{"route extra key", "PUT", routerPath(id), e.DemoToken, map[string]any{"router": map[string]any{"routes": []any{map[string]any{"destination": "8.8.8.0/24", "nexthop": "10.0.0.5", "x": 1}}}}, 400, "HTTPBadRequest",
			"Invalid input for routes. Reason: Validation of dictionary's keys failed. Expected keys: {'destination', 'nexthop'} Provided keys: {'destination', 'nexthop', 'x'}."},
		{"extraroutes bad route", "PUT", routerPath(id, "add_extraroutes"), e.DemoToken, map[string]any{"router": map[string]any{"routes": []any{map[string]any{"destination": "8.8.8.0/24"}}}}, 400, "HTTPBadRequest",
			"Invalid input for routes. Reason: Validation of dictionary's keys failed. Expected keys: {'destination', 'nexthop'} Provided keys: {'destination'}."},
		{"interface twice", "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": privSub}, 400, "BadRequest", "Router already has a port on subnet"},
		{"interface overlapping", "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": overlap}, 400, "BadRequest", "overlaps"},
		{"interface without gateway", "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": noGW["id"]}, 400, "BadRequest", "gateway IP"},
		{"interface port in use", "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"port_id": used["id"]}, 409, "PortInUse", ""},
		{"interface both", "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"port_id": used["id"], "subnet_id": privSub}, 400, "BadRequest", ""},
		{"interface neither", "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{}, 400, "BadRequest", ""},
		{"interface malformed", "PUT", routerPath(id, "add_router_interface"), e.DemoToken, []any{"x"}, 400, "", ""},
		{"interface id not a string", "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": 7}, 400, "BadRequest", "Bad router request: '7' is not a valid UUID."},
		{"interface id null", "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"port_id": nil}, 400, "BadRequest", "Bad router request: 'None' is not a valid UUID."},
		{"interface id not a UUID", "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": "nope"}, 400, "BadRequest", "Bad router request: 'nope' is not a valid UUID."},
		{"interface unknown subnet", "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": "6f1e3f5c-0000-4000-8000-00000000dead"}, 404, "SubnetNotFound", ""},
		{"interface unknown port", "PUT", routerPath(id, "add_router_interface"), e.DemoToken, map[string]any{"port_id": "6f1e3f5c-0000-4000-8000-00000000dead"}, 404, "PortNotFound", ""},
		{"remove unknown subnet", "PUT", routerPath(id, "remove_router_interface"), e.DemoToken, map[string]any{"subnet_id": "6f1e3f5c-0000-4000-8000-00000000dead"}, 404, "SubnetNotFound", ""},
		{"remove mismatched subnet", "PUT", routerPath(id, "remove_router_interface"), e.DemoToken, map[string]any{"subnet_id": overlap, "port_id": "6f1e3f5c-0000-4000-8000-00000000dead"}, 404, "RouterInterfaceNotFound", ""},
		{"other project's router", "GET", routerPath(id), otherToken, nil, 404, "RouterNotFound", ""},
		{"other project's update", "PUT", routerPath(id), otherToken, map[string]any{"router": map[string]any{"name": "x"}}, 404, "RouterNotFound", ""},
		{"other project's interface", "PUT", routerPath(id, "add_router_interface"), otherToken, map[string]any{"subnet_id": privSub}, 404, "RouterNotFound", ""},
		{"unknown router delete", "DELETE", routerPath("nope"), e.DemoToken, nil, 404, "RouterNotFound", ""},
		{"extraroutes unknown key", "PUT", routerPath(id, "add_extraroutes"), e.DemoToken, map[string]any{"router": map[string]any{"name": "x"}}, 400, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, out, data := e.Do(tc.method, tc.path, tc.token, tc.body)
			if got != tc.status {
				t.Fatalf("status %d, want %d: %s", got, tc.status, data)
			}
			ne, _ := out["NeutronError"].(map[string]any)
			if ne == nil || (tc.kind != "" && ne["type"] != tc.kind) || !strings.Contains(ne["message"].(string), tc.messageSubstr) {
				t.Fatalf("error %s, want type %q with %q", data, tc.kind, tc.messageSubstr)
			}
		})
	}
}

func TestRouterQuota(t *testing.T) {
	e := newTestEnv(t, nil)
	e.Must(200, "PUT", "/v2.0/quotas/"+e.DemoProject, e.AdminToken, map[string]any{"quota": map[string]any{"router": 1}})
	e.Create(e.DemoToken, "routers", "router", map[string]any{"name": "one"})
	e.Fail(http.StatusConflict, "OverQuota", "POST", "/v2.0/routers", e.DemoToken, map[string]any{"router": map[string]any{"name": "two"}})
	details := e.Must(200, "GET", "/v2.0/quotas/"+e.DemoProject+"/details", e.DemoToken, nil)["quota"].(map[string]any)
	if details["router"].(map[string]any)["used"] != float64(1) {
		t.Fatalf("router usage %v", details["router"])
	}
	list := e.Must(200, "GET", "/v2.0/routers?name=one", e.DemoToken, nil)["routers"].([]any)
	if len(list) != 1 {
		t.Fatalf("filtered list %v", list)
	}
}

// TestDesiredRouters checks what the L3 agent is told to build.
func TestDesiredRouters(t *testing.T) {
	e := newTestEnv(t, nil)
	extID, privNet, privSub, routerID := e.routedNetwork()
	vm := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": privNet})
	fip := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID, "port_id": vm["id"]})
	e.Must(200, "PUT", routerPath(routerID), e.DemoToken, map[string]any{"router": map[string]any{"routes": []any{
		map[string]any{"destination": "192.168.0.0/16", "nexthop": "10.0.0.77"}}}})
	e.Create(e.DemoToken, "routers", "router", map[string]any{"name": "bare"})

	routers, err := e.Network.desiredRouters(context.Background(), e.DB)
	if err != nil {
		t.Fatal(err)
	}
	if len(routers) != 2 {
		t.Fatalf("routers %+v", routers)
	}
	var r dataplane.Router
	for _, x := range routers {
		if x.ID == routerID {
			r = x
		} else if x.Gateway != nil || len(x.Interfaces) != 0 {
			t.Fatalf("bare router %+v", x)
		}
	}
	if !r.AdminStateUp || !r.EnableSNAT || r.Gateway == nil || r.Gateway.NetworkID != extID || len(r.Gateway.Subnets) != 1 ||
		len(r.Gateway.Port.FixedIPs) != 1 {
		t.Fatalf("gateway %+v", r)
	}
	if len(r.Interfaces) != 1 || r.Interfaces[0].Subnets[0].ID != privSub || r.Interfaces[0].Port.FixedIPs[0].IP != netip.MustParseAddr("10.0.0.1") {
		t.Fatalf("interfaces %+v", r.Interfaces)
	}
	if len(r.Routes) != 1 || r.Routes[0].NextHop != netip.MustParseAddr("10.0.0.77") {
		t.Fatalf("routes %+v", r.Routes)
	}
	vmIP := vm["fixed_ips"].([]any)[0].(map[string]any)["ip_address"].(string)
	if len(r.FloatingIPs) != 1 || r.FloatingIPs[0].ID != fip["id"] || r.FloatingIPs[0].FixedIP != netip.MustParseAddr(vmIP) ||
		r.FloatingIPs[0].FloatingIP != netip.MustParseAddr(fip["floating_ip_address"].(string)) {
		t.Fatalf("floating IPs %+v", r.FloatingIPs)
	}
}

// TestNewEndpointsNever500 sends malformed bodies to every endpoint of routers,
// floating IPs, agents, availability and tags: each must answer a 4xx.
func TestNewEndpointsNever500(t *testing.T) {
	e := newTestEnv(t, nil)
	extID, _, subID, routerID := e.routedNetwork()
	fip := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID})
	if err := e.Network.ReportAgent(context.Background(), "L3 agent", "neutron-l3-agent", "h", nil); err != nil {
		t.Fatal(err)
	}
	agentID := e.Must(200, "GET", "/v2.0/agents", e.AdminToken, nil)["agents"].([]any)[0].(map[string]any)["id"].(string)
	bodies := []any{nil, "x", 7, []any{}, map[string]any{}, map[string]any{"router": nil}, map[string]any{"router": "x"},
		map[string]any{"router": map[string]any{"external_gateway_info": map[string]any{"network_id": 5}}},
		map[string]any{"router": map[string]any{"external_gateway_info": map[string]any{"network_id": extID, "external_fixed_ips": "x"}}},
		map[string]any{"router": map[string]any{"external_gateway_info": map[string]any{"network_id": extID, "external_fixed_ips": []any{map[string]any{}}}}},
		map[string]any{"router": map[string]any{"external_gateway_info": map[string]any{"network_id": extID, "enable_snat": "x"}}},
		map[string]any{"router": map[string]any{"routes": []any{1}}}, map[string]any{"router": map[string]any{"routes": []any{map[string]any{}}}},
		map[string]any{"router": map[string]any{"name": []any{}}}, map[string]any{"router": map[string]any{"flavor_id": "f"}},
		map[string]any{"floatingip": map[string]any{"floating_network_id": 7}},
		map[string]any{"floatingip": map[string]any{"floating_network_id": extID, "subnet_id": 3}},
		map[string]any{"floatingip": map[string]any{"port_id": []any{}}}, map[string]any{"floatingip": map[string]any{"fixed_ip_address": 1}},
		map[string]any{"agent": map[string]any{"description": 5}}, map[string]any{"tags": []any{nil}}, map[string]any{"tags": map[string]any{}},
		map[string]any{"subnet_id": subID, "port_id": 5}, map[string]any{"subnet_id": []any{}},
	}
	paths := []struct{ method, path string }{
		{"POST", "/v2.0/routers"}, {"PUT", routerPath(routerID)}, {"PUT", routerPath(routerID, "add_router_interface")},
		{"PUT", routerPath(routerID, "remove_router_interface")}, {"PUT", routerPath(routerID, "add_extraroutes")},
		{"PUT", routerPath(routerID, "remove_extraroutes")}, {"POST", "/v2.0/floatingips"}, {"PUT", fipPath(fip["id"].(string))},
		{"PUT", "/v2.0/agents/" + agentID}, {"PUT", routerPath(routerID, "tags")}, {"PUT", fipPath(fip["id"].(string)) + "/tags"},
		{"PUT", "/v2.0/networks/" + extID + "/tags"},
	}
	for _, p := range paths {
		for _, b := range bodies {
			for _, token := range []string{e.DemoToken, e.AdminToken} {
				status, _, data := e.Do(p.method, p.path, token, b)
				if status >= 500 {
					t.Fatalf("%s %s %v: %d %s", p.method, p.path, b, status, data)
				}
			}
		}
	}
}
