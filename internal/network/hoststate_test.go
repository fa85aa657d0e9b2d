package network

import (
	"context"
	"maps"
	"net/netip"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// TestHostState checks what one host is told to build: the networks of its bound
// ports, the DHCP port on the network node, security groups with remote members.
func TestHostState(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	netID, subID := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	other, _ := e.NetworkWithSubnet(e.DemoToken, "10.1.0.0/24") // no port on h1: not h1's business
	_ = other
	p := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID, "dns_name": "vm1"})
	e.Must(200, "PUT", "/v2.0/ports/"+p["id"].(string), e.AdminToken, map[string]any{"port": map[string]any{"binding:host_id": "h1"}})

	if err := e.Network.EnsureDHCPPorts(ctx, "nn"); err != nil {
		t.Fatal(err)
	}
	if err := e.Network.EnsureDHCPPorts(ctx, "nn"); err != nil { // idempotent
		t.Fatal(err)
	}
	compute, err := e.Network.HostState(ctx, dataplane.Host{Name: "h1"}, HostRoles{})
	if err != nil {
		t.Fatal(err)
	}
	if len(compute.Networks) != 1 || compute.Networks[0].ID != netID || len(compute.Networks[0].Ports) != 1 {
		t.Fatalf("compute host networks = %+v", compute.Networks)
	}
	port := compute.Networks[0].Ports[0]
	if port.Hostname != "vm1" || len(port.FixedIPs) != 1 || port.FixedIPs[0].SubnetID != subID || !port.PortSecurity {
		t.Fatalf("port = %+v", port)
	}
	sg := compute.SecurityGroups[port.SecurityGroups[0]]
	if len(sg.Rules) != 4 || len(sg.MemberIPs) != 1 || sg.MemberIPs[0] != netip.PrefixFrom(port.FixedIPs[0].IP, 32) {
		t.Fatalf("default group = %+v", sg)
	}
	node, err := e.Network.HostState(ctx, dataplane.Host{Name: "nn"}, HostRoles{DHCP: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(node.Networks) != 2 { // the DHCP ports, not h1's port
		t.Fatalf("network node networks = %d, want both networks (DHCP)", len(node.Networks))
	}
	dhcpPorts := 0
	for _, n := range node.Networks {
		if !n.DHCP {
			t.Fatalf("network %s without DHCP on the network node", n.ID)
		}
		for _, p := range n.Ports {
			if p.DeviceOwner == dataplane.OwnerDHCP {
				dhcpPorts++
				if len(p.FixedIPs) != 1 {
					t.Fatalf("DHCP port addresses %v", p.FixedIPs)
				}
			}
		}
	}
	if dhcpPorts != 2 {
		t.Fatalf("DHCP ports = %d, want one per network", dhcpPorts)
	}
	// The DHCP server knows every port of its network, also those bound elsewhere.
	for _, n := range node.Networks {
		want := map[string]bool{}
		for _, p := range n.Ports {
			want[p.MAC] = true
		}
		if n.ID == netID {
			want[port.MAC] = true
		}
		got := map[string]bool{}
		for _, h := range n.DHCPHosts {
			got[h.MAC] = true
		}
		if len(got) != len(want) || !maps.Equal(got, want) {
			t.Fatalf("network %s DHCP hosts %v, want %v", n.ID, got, want)
		}
	}
	// The network node with the L3 role builds routers and wires their ports.
	router := e.Create(e.DemoToken, "routers", "router", map[string]any{"name": "r1"})
	e.Must(200, "PUT", "/v2.0/routers/"+router["id"].(string)+"/add_router_interface", e.DemoToken, map[string]any{"subnet_id": subID})
	l3, err := e.Network.HostState(ctx, dataplane.Host{Name: "nn"}, HostRoles{DHCP: true, L3: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(l3.Routers) != 1 || l3.Routers[0].ID != router["id"] || len(l3.Routers[0].Interfaces) != 1 {
		t.Fatalf("routers = %+v", l3.Routers)
	}
	rif := l3.Routers[0].Interfaces[0]
	if rif.NetworkID != netID || len(rif.Subnets) != 1 || rif.Subnets[0].ID != subID {
		t.Fatalf("router interface = %+v", rif)
	}
	wired := false
	for _, n := range l3.Networks {
		for _, p := range n.Ports {
			wired = wired || p.ID == rif.Port.ID
		}
	}
	if !wired {
		t.Fatalf("the router's interface port is not among the network node's ports: %+v", l3.Networks)
	}
	if again, err := e.Network.HostState(ctx, dataplane.Host{Name: "nn"}, HostRoles{DHCP: true}); err != nil || len(again.Routers) != 0 {
		t.Fatalf("a host without the L3 role got routers %+v (%v)", again.Routers, err)
	}
	e.Must(200, "PUT", "/v2.0/routers/"+router["id"].(string)+"/remove_router_interface", e.DemoToken, map[string]any{"subnet_id": subID})
	// A network whose subnets go loses its DHCP port.
	e.Must(204, "DELETE", "/v2.0/ports/"+p["id"].(string), e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.0/subnets/"+subID, e.DemoToken, nil)
	if err := e.Network.EnsureDHCPPorts(ctx, "nn"); err != nil {
		t.Fatal(err)
	}
	ports := e.Must(200, "GET", "/v2.0/ports?network_id="+netID, e.AdminToken, nil)["ports"].([]any)
	if len(ports) != 0 {
		t.Fatalf("ports left on %s: %v", netID, ports)
	}
}

// TestAgentSignals checks what agents rely on: a write wakes them, reads do not, and
// the status they report shows in the API.
func TestAgentSignals(t *testing.T) {
	e := newTestEnv(t, nil)
	drain := func() bool {
		select {
		case <-e.Network.Changes():
			return true
		default:
			return false
		}
	}
	drain()
	netID, _ := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	if !drain() {
		t.Fatal("creating a network did not wake the agents")
	}
	e.Must(200, "GET", "/v2.0/networks/"+netID, e.DemoToken, nil)
	e.Fail(404, "NetworkNotFound", "DELETE", "/v2.0/networks/nope", e.DemoToken, nil)
	if drain() {
		t.Fatal("a read or a failed write woke the agents")
	}
	p := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID})
	id := p["id"].(string)
	if err := e.Network.SetPortStatus(context.Background(), "ACTIVE", id, "gone-port"); err != nil {
		t.Fatal(err)
	}
	got := e.Must(200, "GET", "/v2.0/ports/"+id, e.DemoToken, nil)["port"].(map[string]any)
	if got["status"] != "ACTIVE" {
		t.Fatalf("status = %v", got["status"])
	}
}
