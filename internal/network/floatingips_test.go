package network

import (
	"strings"
	"sync"
	"testing"
)

// routedNetwork is devstack's layout: public (external), a private network of the
// demo project and a router between them. It returns the external network, the
// private subnet and the router.
func (e *testEnv) routedNetwork() (extID, privNet, privSub, routerID string) {
	e.t.Helper()
	extID, _ = e.externalNetwork("172.24.4.0/24")
	privNet, privSub = e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	routerID = e.Create(e.DemoToken, "routers", "router", map[string]any{"name": "router1"})["id"].(string)
	e.Must(200, "PUT", routerPath(routerID), e.DemoToken, gateway(extID, nil))
	e.Must(200, "PUT", routerPath(routerID, "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": privSub})
	return
}

func fipPath(id string) string { return "/v2.0/floatingips/" + id }

func fipBody(attrs map[string]any) map[string]any { return map[string]any{"floatingip": attrs} }

func TestFloatingIPLifecycle(t *testing.T) {
	e := newTestEnv(t, nil)
	extID, privNet, privSub, routerID := e.routedNetwork()
	vm := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": privNet, "device_id": "vm-1", "device_owner": "compute:nova"})
	vmIP := vm["fixed_ips"].([]any)[0].(map[string]any)["ip_address"].(string)

	// Unassociated.
	f := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID, "description": "d"})
	id := f["id"].(string)
	if f["status"] != "DOWN" || f["port_id"] != nil || f["router_id"] != nil || f["fixed_ip_address"] != nil ||
		f["port_details"] != nil || f["project_id"] != e.DemoProject || f["tenant_id"] != e.DemoProject ||
		!strings.HasPrefix(f["floating_ip_address"].(string), "172.24.4.") || f["description"] != "d" {
		t.Fatalf("created floating IP %v", f)
	}
	if _, ok := f["name"]; ok {
		t.Fatalf("a floating IP has no name: %v", f)
	}
	fport := e.Must(200, "GET", "/v2.0/ports?device_owner=network:floatingip&device_id="+id, e.AdminToken, nil)["ports"].([]any)
	if len(fport) != 1 || fport[0].(map[string]any)["fixed_ips"].([]any)[0].(map[string]any)["ip_address"] != f["floating_ip_address"] {
		t.Fatalf("floating IP port %v", fport)
	}

	// Associate by update.
	up := e.Must(200, "PUT", fipPath(id), e.DemoToken, fipBody(map[string]any{"port_id": vm["id"]}))["floatingip"].(map[string]any)
	if up["status"] != "ACTIVE" || up["port_id"] != vm["id"] || up["fixed_ip_address"] != vmIP || up["router_id"] != routerID {
		t.Fatalf("associated %v", up)
	}
	details, _ := up["port_details"].(map[string]any)
	if details == nil || details["device_id"] != "vm-1" || details["network_id"] != privNet || details["mac_address"] != vm["mac_address"] {
		t.Fatalf("port_details %v", up["port_details"])
	}
	if list := e.Must(200, "GET", "/v2.0/floatingips?port_id="+vm["id"].(string), e.DemoToken, nil)["floatingips"].([]any); len(list) != 1 {
		t.Fatalf("list by port %v", list)
	}
	// The same fixed IP cannot have a second floating IP on that network.
	e.Fail(409, "FloatingIPPortAlreadyAssociated", "POST", "/v2.0/floatingips", e.DemoToken,
		fipBody(map[string]any{"floating_network_id": extID, "port_id": vm["id"]}))
	// What the floating IP needs stays.
	e.Fail(409, "RouterInterfaceInUseByFloatingIP", "PUT", routerPath(routerID, "remove_router_interface"), e.DemoToken, map[string]any{"subnet_id": privSub})
	e.Fail(409, "RouterExternalGatewayInUseByFloatingIp", "PUT", routerPath(routerID), e.DemoToken,
		map[string]any{"router": map[string]any{"external_gateway_info": nil}})

	// Disassociate, associate at creation, and the port's deletion disassociates.
	down := e.Must(200, "PUT", fipPath(id), e.DemoToken, fipBody(map[string]any{"port_id": nil}))["floatingip"].(map[string]any)
	if down["status"] != "DOWN" || down["port_id"] != nil || down["router_id"] != nil || down["fixed_ip_address"] != nil || down["port_details"] != nil {
		t.Fatalf("disassociated %v", down)
	}
	f2 := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID, "port_id": vm["id"], "fixed_ip_address": vmIP})
	if f2["status"] != "ACTIVE" || f2["router_id"] != routerID {
		t.Fatalf("created associated %v", f2)
	}
	e.Must(204, "DELETE", "/v2.0/ports/"+vm["id"].(string), e.DemoToken, nil)
	after := e.Must(200, "GET", fipPath(f2["id"].(string)), e.DemoToken, nil)["floatingip"].(map[string]any)
	if after["port_id"] != nil || after["status"] != "DOWN" {
		t.Fatalf("floating IP of a deleted port %v", after)
	}
	// Now the router can lose its interface and gateway.
	e.Must(200, "PUT", routerPath(routerID, "remove_router_interface"), e.DemoToken, map[string]any{"subnet_id": privSub})

	// Delete releases the address.
	e.Must(204, "DELETE", fipPath(id), e.DemoToken, nil)
	e.Fail(404, "FloatingIPNotFound", "GET", fipPath(id), e.DemoToken, nil)
	if left := e.Must(200, "GET", "/v2.0/ports?device_id="+id, e.AdminToken, nil)["ports"].([]any); len(left) != 0 {
		t.Fatalf("floating port left: %v", left)
	}
	// An admin may pick the address; a member may not.
	e.Fail(403, "PolicyNotAuthorized", "POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": extID, "floating_ip_address": "172.24.4.77"}))
	picked := e.Create(e.AdminToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID, "floating_ip_address": "172.24.4.77"})
	if picked["floating_ip_address"] != "172.24.4.77" {
		t.Fatalf("picked %v", picked)
	}
	e.Fail(409, "IpAddressAlreadyAllocated", "POST", "/v2.0/floatingips", e.AdminToken, fipBody(map[string]any{"floating_network_id": extID, "floating_ip_address": "172.24.4.77"}))
}

func TestFloatingIPBadInput(t *testing.T) {
	e := newTestEnv(t, nil)
	extID, privNet, _, _ := e.routedNetwork()
	vm := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": privNet})
	lonelyNet, _ := e.NetworkWithSubnet(e.DemoToken, "10.7.0.0/24")
	lonely := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": lonelyNet})
	noIPNet := e.Create(e.DemoToken, "networks", "network", map[string]any{"name": "empty"})
	noIP := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": noIPNet["id"]})
	f := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID})
	otherToken, _ := e.NewProjectUser("other")
	emptyExt := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "ext2", "router:external": true})

	for _, tc := range []struct {
		name         string
		method, path string
		token        string
		body         any
		status       int
		kind         string
		message      string
	}{
		{"no network", "POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{}), 400, "", "floating_network_id"},
		{"internal network", "POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": privNet}), 400, "BadRequest",
			"Bad floatingip request: Network " + privNet + " is not a valid external network."},
		{"unknown network", "POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": "6f1e3f5c-0000-4000-8000-000000000001"}), 404, "NetworkNotFound", ""},
		{"a network that is no UUID", "POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": "nope"}), 400, "HTTPBadRequest",
			"Invalid input for floating_network_id. Reason: 'nope' is not a valid UUID."},
		{"external network without subnet", "POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": emptyExt["id"]}), 400, "BadRequest", "Unable to find any IP address"},
		{"unknown attribute", "POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": extID, "name": "x"}), 400, "", "name"},
		{"bad address", "POST", "/v2.0/floatingips", e.AdminToken, fipBody(map[string]any{"floating_network_id": extID, "floating_ip_address": "not-an-ip"}), 400, "HTTPBadRequest",
			"Invalid input for floating_ip_address. Reason: 'not-an-ip' is not a valid IP address."},
		{"bad fixed address", "PUT", fipPath(f["id"].(string)), e.DemoToken, fipBody(map[string]any{"fixed_ip_address": "10.0.0"}), 400, "HTTPBadRequest",
			"Invalid input for fixed_ip_address. Reason: '10.0.0' is not a valid IP address."},
		{"address outside", "POST", "/v2.0/floatingips", e.AdminToken, fipBody(map[string]any{"floating_network_id": extID, "floating_ip_address": "10.9.9.9"}), 400, "", ""},
		{"unknown subnet", "POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": extID, "subnet_id": "nope"}), 400, "", ""},
		{"fixed IP without port", "POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": extID, "fixed_ip_address": "10.0.0.5"}), 400, "BadRequest", "without a port_id"},
		{"port id not a string", "POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": extID, "port_id": 5}), 400, "HTTPBadRequest",
			"Invalid input for port_id. Reason: '5' is not a valid UUID."},
		{"unknown port", "PUT", fipPath(f["id"].(string)), e.DemoToken, fipBody(map[string]any{"port_id": "6f1e3f5c-0000-4000-8000-000000000001"}), 404, "PortNotFound", ""},
		{"port without router", "PUT", fipPath(f["id"].(string)), e.DemoToken, fipBody(map[string]any{"port_id": lonely["id"]}), 404, "ExternalGatewayForFloatingIPNotFound", "is not reachable from subnet"},
		{"port without address", "PUT", fipPath(f["id"].(string)), e.DemoToken, fipBody(map[string]any{"port_id": noIP["id"]}), 400, "BadRequest", "no fixed IPv4"},
		{"fixed IP not on port", "PUT", fipPath(f["id"].(string)), e.DemoToken, fipBody(map[string]any{"port_id": vm["id"], "fixed_ip_address": "10.0.0.250"}), 400, "BadRequest", "does not have fixed ip"},
		{"read-only network", "PUT", fipPath(f["id"].(string)), e.DemoToken, fipBody(map[string]any{"floating_network_id": extID}), 400, "", "read-only"},
		{"fixed IP of no port", "PUT", fipPath(f["id"].(string)), e.DemoToken, fipBody(map[string]any{"fixed_ip_address": "10.0.0.3"}), 400, "BadRequest", ""},
		{"other project's show", "GET", fipPath(f["id"].(string)), otherToken, nil, 404, "FloatingIPNotFound", ""},
		{"other project's delete", "DELETE", fipPath(f["id"].(string)), otherToken, nil, 404, "FloatingIPNotFound", ""},
		{"other project's port", "POST", "/v2.0/floatingips", otherToken, fipBody(map[string]any{"floating_network_id": extID, "port_id": vm["id"]}), 404, "PortNotFound", ""},
		{"malformed body", "POST", "/v2.0/floatingips", e.DemoToken, []any{1}, 400, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, out, data := e.Do(tc.method, tc.path, tc.token, tc.body)
			if got != tc.status {
				t.Fatalf("status %d, want %d: %s", got, tc.status, data)
			}
			ne, _ := out["NeutronError"].(map[string]any)
			if ne == nil || (tc.kind != "" && ne["type"] != tc.kind) || !strings.Contains(ne["message"].(string), tc.message) {
				t.Fatalf("error %s, want type %q with %q", data, tc.kind, tc.message)
			}
		})
	}

	// Quota.
	e.Must(200, "PUT", "/v2.0/quotas/"+e.DemoProject, e.AdminToken, map[string]any{"quota": map[string]any{"floatingip": 1}})
	e.Fail(409, "OverQuota", "POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": extID}))
}

// TestFloatingIPOnNetworkPorts: of Neutron's own ports, upstream refuses a floating
// IP only to DHCP ports (neutron.common.utils.is_fip_serviced). A router's interface
// port may have one, as gophercloud's TestLayer3FloatingIPsExternalCreateDelete
// does; gateway and floating IP ports are on the external network, which no router
// connects to itself.
func TestFloatingIPOnNetworkPorts(t *testing.T) {
	e := newTestEnv(t, nil)
	extID, privNet, _, routerID := e.routedNetwork()
	if err := e.Network.EnsureDHCPPorts(t.Context(), "nn"); err != nil {
		t.Fatal(err)
	}
	only := func(query string) map[string]any {
		t.Helper()
		ports := e.Must(200, "GET", "/v2.0/ports?"+query, e.AdminToken, nil)["ports"].([]any)
		if len(ports) != 1 {
			t.Fatalf("ports %s: %v", query, ports)
		}
		return ports[0].(map[string]any)
	}
	iface := only("device_owner=network:router_interface&device_id=" + routerID)
	dhcp := only("device_owner=network:dhcp&network_id=" + privNet)
	gw := only("device_owner=network:router_gateway&device_id=" + routerID)
	other := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID})
	fipPort := only("device_owner=network:floatingip&device_id=" + other["id"].(string))
	addr := func(p map[string]any) string {
		return p["fixed_ips"].([]any)[0].(map[string]any)["ip_address"].(string)
	}

	for _, tc := range []struct {
		name         string
		port         map[string]any
		status       int
		kind, detail string
	}{
		{"router interface", iface, 201, "", ""},
		{"DHCP", dhcp, 400, "BadRequest", "Bad floatingip request: Port " + dhcp["id"].(string) + " is unable to be assigned a floating IP."},
		{"router gateway", gw, 404, "ExternalGatewayForFloatingIPNotFound", ""},
		{"floating IP", fipPort, 404, "ExternalGatewayForFloatingIPNotFound", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := fipBody(map[string]any{"floating_network_id": extID, "port_id": tc.port["id"]})
			status, out, data := e.Do("POST", "/v2.0/floatingips", e.AdminToken, body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, data)
			}
			if tc.status != 201 {
				ne, _ := out["NeutronError"].(map[string]any)
				if ne == nil || ne["type"] != tc.kind || !strings.Contains(ne["message"].(string), tc.detail) {
					t.Fatalf("error %s, want type %q with %q", data, tc.kind, tc.detail)
				}
				return
			}
			f := out["floatingip"].(map[string]any)
			if f["port_id"] != tc.port["id"] || f["fixed_ip_address"] != addr(tc.port) || f["router_id"] != routerID || f["status"] != "ACTIVE" {
				t.Fatalf("associated %v", f)
			}
			// Disassociated again, as the gophercloud test does.
			up := e.Must(200, "PUT", fipPath(f["id"].(string)), e.AdminToken, fipBody(map[string]any{"port_id": nil}))["floatingip"].(map[string]any)
			if up["port_id"] != nil || up["fixed_ip_address"] != nil || up["router_id"] != nil {
				t.Fatalf("disassociated %v", up)
			}
		})
	}
}

// TestFloatingIPsConcurrent: floating IPs created at once get distinct addresses,
// and one subnet added to a router by concurrent calls makes one interface.
func TestFloatingIPsConcurrent(t *testing.T) {
	e := newTestEnv(t, nil)
	extID, _, _, routerID := e.routedNetwork()
	const n = 12
	type result struct {
		status int
		addr   string
	}
	results := make(chan result, n)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, out, _ := e.Do("POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": extID}))
			addr := ""
			if f, ok := out["floatingip"].(map[string]any); ok {
				addr, _ = f["floating_ip_address"].(string)
			}
			results <- result{status, addr}
		}()
	}
	wg.Wait()
	close(results)
	seen := map[string]bool{}
	for r := range results {
		if r.status != 201 || seen[r.addr] {
			t.Fatalf("status %d, address %q (seen: %v)", r.status, r.addr, seen[r.addr])
		}
		seen[r.addr] = true
	}

	_, sub2 := e.NetworkWithSubnet(e.DemoToken, "10.3.0.0/24")
	type answer struct {
		status int
		body   []byte
	}
	answers := make(chan answer, 6)
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, _, data := e.Do("PUT", routerPath(routerID, "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": sub2})
			answers <- answer{status, data}
		}()
	}
	wg.Wait()
	close(answers)
	ok := 0
	for a := range answers {
		// The losers see the winner's interface (400) or, when it commits between
		// their check and their allocation, its address (409), as upstream could.
		switch {
		case a.status == 200:
			ok++
		case a.status == 400 && strings.Contains(string(a.body), "Router already has a port on subnet"):
		case a.status == 409 && strings.Contains(string(a.body), "IpAddressAlreadyAllocated"):
		default:
			t.Fatalf("concurrent add_router_interface answered %d %s", a.status, a.body)
		}
	}
	ports := e.Must(200, "GET", "/v2.0/ports?device_owner=network:router_interface&device_id="+routerID, e.DemoToken, nil)["ports"].([]any)
	if ok != 1 || len(ports) != 2 {
		t.Fatalf("%d successes, %d interface ports (want 1 and 2)", ok, len(ports))
	}
}
