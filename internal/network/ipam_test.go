package network

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// TestFullSubnetMovesOnToNext is finding 5: a network's port takes an address of its
// next subnet of the version when the first is full, as upstream; a port asking
// for a full subnet by id still fails.
func TestFullSubnetMovesOnToNext(t *testing.T) {
	e := newTestEnv(t, nil)
	netID := e.Create(e.DemoToken, "networks", "network", map[string]any{})["id"].(string)
	var subnets []string
	for _, cidr := range []string{"10.0.0.0/30", "10.0.1.0/30"} { // one address each
		subnets = append(subnets, e.Create(e.DemoToken, "subnets", "subnet", map[string]any{"network_id": netID, "ip_version": 4, "cidr": cidr})["id"].(string))
	}
	var got []string
	for range 2 {
		p := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID})
		ips := p["fixed_ips"].([]any)
		if len(ips) != 1 {
			t.Fatalf("port with fixed IPs %v", ips)
		}
		got = append(got, ips[0].(map[string]any)["subnet_id"].(string))
	}
	slices.Sort(got)
	slices.Sort(subnets)
	if !slices.Equal(got, subnets) {
		t.Errorf("two ports on subnets %v, want one on each of %v", got, subnets)
	}
	e.Fail(409, "IpAddressGenerationFailure", "POST", "/v2.0/ports", e.DemoToken, portReq(map[string]any{"network_id": netID}))
	e.Fail(409, "IpAddressGenerationFailure", "POST", "/v2.0/ports", e.DemoToken,
		portReq(map[string]any{"network_id": netID, "fixed_ips": []any{map[string]any{"subnet_id": subnets[0]}}}))

	// IPv6 stateful subnets likewise; a dual-stack port takes one of each version.
	v6net := e.Create(e.DemoToken, "networks", "network", map[string]any{})["id"].(string)
	e.Create(e.DemoToken, "subnets", "subnet", map[string]any{"network_id": v6net, "ip_version": 4, "cidr": "10.2.0.0/24"})
	for _, cidr := range []string{"fd00:1::/126", "fd00:2::/126"} { // ::1 gateway, ::2-::3
		e.Create(e.DemoToken, "subnets", "subnet", map[string]any{"network_id": v6net, "ip_version": 6, "cidr": cidr,
			"ipv6_address_mode": "dhcpv6-stateful", "ipv6_ra_mode": "dhcpv6-stateful"})
	}
	for i := range 4 {
		p := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": v6net})
		versions := ""
		for _, f := range p["fixed_ips"].([]any) {
			if strings.Contains(f.(map[string]any)["ip_address"].(string), ":") {
				versions += "6"
			} else {
				versions += "4"
			}
		}
		if versions != "46" {
			t.Errorf("port %d has fixed IPs %v, want one IPv4 and one IPv6", i, p["fixed_ips"])
		}
	}
	e.Fail(409, "IpAddressGenerationFailure", "POST", "/v2.0/ports", e.DemoToken, portReq(map[string]any{"network_id": v6net}))
	e.checkAddresses()
}

// TestFullSubnetMovesOnForServicePorts: router gateways and floating IPs, the ports
// Neutron makes itself, also take the external network's next subnet.
func TestFullSubnetMovesOnForServicePorts(t *testing.T) {
	e := newTestEnv(t, nil)
	extID, _ := e.externalNetwork("172.24.4.0/30")
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": extID, "ip_version": 4, "cidr": "172.24.5.0/30"})
	e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID})
	routerID := e.Create(e.DemoToken, "routers", "router", map[string]any{})["id"].(string)
	e.Must(200, "PUT", routerPath(routerID), e.DemoToken, gateway(extID, nil))
	e.Fail(409, "IpAddressGenerationFailure", "POST", "/v2.0/floatingips", e.DemoToken, fipBody(map[string]any{"floating_network_id": extID}))
	e.checkAddresses()
}

// TestSubnetServiceTypes: a subnet with service types gives addresses only to the
// ports of those device owners, before the network's other subnets; a port no
// subnet serves is upstream's 409.
func TestSubnetServiceTypes(t *testing.T) {
	e := newTestEnv(t, nil)
	extID, openSub := e.externalNetwork("172.24.4.0/24")
	fipSub := e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": extID, "ip_version": 4, "cidr": "172.24.5.0/24",
		"service_types": []any{"network:floatingip"}})["id"].(string)
	fip := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID})
	if !strings.HasPrefix(fip["floating_ip_address"].(string), "172.24.5.") {
		t.Errorf("floating IP %v, want one of its service subnet %s", fip["floating_ip_address"], fipSub)
	}
	routerID := e.Create(e.DemoToken, "routers", "router", map[string]any{})["id"].(string)
	gw := e.Must(200, "PUT", routerPath(routerID), e.DemoToken, gateway(extID, nil))["router"].(map[string]any)["external_gateway_info"].(map[string]any)
	if ips := gw["external_fixed_ips"].([]any); len(ips) != 1 || ips[0].(map[string]any)["subnet_id"] != openSub {
		t.Errorf("gateway addresses %v, want one of %s (the floating IPs' subnet is not the gateway's)", ips, openSub)
	}
	e.Fail(400, "", "POST", "/v2.0/ports", e.AdminToken, portReq(map[string]any{"network_id": extID, "device_owner": "compute:nova",
		"fixed_ips": []any{map[string]any{"subnet_id": fipSub}}}))

	only := e.Create(e.AdminToken, "networks", "network", map[string]any{})["id"].(string)
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": only, "ip_version": 4, "cidr": "10.9.0.0/24",
		"service_types": []any{"network:router_gateway"}})
	e.Fail(409, "IpAddressGenerationFailureNoMatchingSubnet", "POST", "/v2.0/ports", e.AdminToken,
		portReq(map[string]any{"network_id": only, "device_owner": "compute:nova"}))
}

// TestOneFloatingIPPerFixedIPInTheSchema: the database itself refuses a second
// floating IP on one fixed IP, whatever the interleaving of the associations
// (finding 3), and a database an earlier version left with several is repaired at
// start: the first association stays, the others are released.
func TestOneFloatingIPPerFixedIPInTheSchema(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	extID, privNet, _, _ := e.routedNetwork()
	vm := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": privNet})
	vmID, vmIP := vm["id"].(string), vm["fixed_ips"].([]any)[0].(map[string]any)["ip_address"].(string)
	first := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID, "port_id": vmID})["id"].(string)
	second := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID})["id"].(string)

	_, err := e.DB.ExecContext(ctx, `UPDATE floatingips SET port_id = ?, fixed_ip_address = ? WHERE id = ?`, vmID, vmIP, second)
	if !db.IsUniqueViolation(err) {
		t.Fatalf("a second floating IP on %s: %v, want a unique violation", vmIP, err)
	}

	// As an earlier version could leave it: both associated, and no fixed address column.
	var f floatingIPBody
	if err := loadBody(ctx, e.DB, "floatingips", second, &f); err != nil {
		t.Fatal(err)
	}
	routerID := ""
	f.PortID, f.FixedIPAddress, f.RouterID, f.Status, f.UpdatedAt = &vmID, &vmIP, &routerID, "ACTIVE", "2099-01-01T00:00:00Z"
	for _, q := range []string{`UPDATE floatingips SET fixed_ip_address = NULL`, `UPDATE floatingips SET port_id = ?, body = ? WHERE id = ?`} {
		args := []any{}
		if strings.Contains(q, "body") {
			args = []any{vmID, marshal(&f), second}
		}
		if _, err := e.DB.ExecContext(ctx, q, args...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := New(ctx, e.opts); err != nil { // a restart
		t.Fatal(err)
	}
	if got := e.Must(200, "GET", fipPath(first), e.DemoToken, nil)["floatingip"].(map[string]any); got["port_id"] != vmID || got["fixed_ip_address"] != vmIP {
		t.Errorf("the first association after the repair: %v", got)
	}
	if got := e.Must(200, "GET", fipPath(second), e.DemoToken, nil)["floatingip"].(map[string]any); got["port_id"] != nil || got["status"] != "DOWN" {
		t.Errorf("the later association after the repair: %v", got)
	}
	if n := e.count(`SELECT COUNT(*) FROM floatingips WHERE port_id = ? AND fixed_ip_address = ?`, vmID, vmIP); n != 1 {
		t.Errorf("%d floating IPs on %s after the repair", n, vmIP)
	}
}
