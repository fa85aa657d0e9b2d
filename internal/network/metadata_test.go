package network

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// TestMetadataInstance checks how the metadata proxy's (router, source IP) and
// (network, source IP) find their instance: only on the router's own tenant
// networks or on that network, only instance ports, and two projects with the same
// CIDR behind two routers, or on two networks, each see their own.
func TestMetadataInstance(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	otherToken, otherProject := e.NewProjectUser("other")

	type routed struct{ router, network, subnet string }
	routedNet := func(token, cidr string) routed {
		t.Helper()
		n, s := e.NetworkWithSubnet(token, cidr)
		r := e.Create(token, "routers", "router", map[string]any{"name": "r-" + cidr})["id"].(string)
		e.Must(200, "PUT", routerPath(r, "add_router_interface"), token, map[string]any{"subnet_id": s})
		return routed{r, n, s}
	}
	instance := func(token, network, device, owner string) netip.Addr {
		t.Helper()
		p := e.Create(token, "ports", "port", map[string]any{"network_id": network, "device_id": device, "device_owner": owner})
		return netip.MustParseAddr(p["fixed_ips"].([]any)[0].(map[string]any)["ip_address"].(string))
	}

	demo := routedNet(e.DemoToken, "10.0.0.0/24")
	other := routedNet(otherToken, "10.0.0.0/24") // the same CIDR, another project and router
	demoVM := instance(e.DemoToken, demo.network, "vm-demo", "compute:nova")
	otherVM := instance(otherToken, other.network, "vm-other", "compute:nova")
	if demoVM != otherVM {
		t.Fatalf("the test wants both instances on the same address, got %s and %s", demoVM, otherVM)
	}
	// A network of the demo project with the same CIDR that no router is attached
	// to: its instance's address is nobody's on the router's network.
	isolated, isolatedSub := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	isolatedVM := netip.MustParseAddr("10.0.0.50")
	e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": isolated, "device_id": "vm-isolated", "device_owner": "compute:nova",
		"fixed_ips": []any{map[string]any{"subnet_id": isolatedSub, "ip_address": isolatedVM.String()}}})
	unbound := instance(e.DemoToken, demo.network, "", "")                 // no device
	probe := instance(e.DemoToken, demo.network, "probe", "network:probe") // Neutron's own
	if err := e.Network.EnsureDHCPPorts(ctx, "nn"); err != nil {
		t.Fatal(err)
	}
	dhcp := e.Must(200, "GET", "/v2.0/ports?device_owner=network:dhcp&network_id="+demo.network, e.AdminToken, nil)["ports"].([]any)
	if len(dhcp) != 1 {
		t.Fatalf("DHCP ports of the demo network: %v", dhcp)
	}
	dhcpIP := netip.MustParseAddr(dhcp[0].(map[string]any)["fixed_ips"].([]any)[0].(map[string]any)["ip_address"].(string))

	// The same lookups as a network node's metadata proxy makes them, over the bus
	// (agent.Remote): the answers and the 404s must be the same.
	server, err := bus.Start(bus.Options{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if err := e.Network.ServeAgents(server); err != nil {
		t.Fatal(err)
	}
	overBus := func(req MetadataInstanceRequest) (string, string, error) {
		var r MetadataInstanceReply
		err := server.Call(ctx, SubjectMetadataInstance, req, &r)
		return r.InstanceID, r.ProjectID, httpapi.FromRemote(err)
	}
	type lookup func(ctx context.Context, key string, ip netip.Addr) (string, string, error)
	lookups := map[string][2]lookup{
		"in process": {e.Network.MetadataInstance, e.Network.MetadataNetworkInstance},
		"over the bus": {
			func(_ context.Context, router string, ip netip.Addr) (string, string, error) {
				return overBus(MetadataInstanceRequest{RouterID: router, IP: ip})
			},
			func(_ context.Context, network string, ip netip.Addr) (string, string, error) {
				return overBus(MetadataInstanceRequest{NetworkID: network, IP: ip})
			},
		},
	}

	for _, tc := range []struct {
		name            string
		router          string // or, when empty, network
		network         string
		ip              netip.Addr
		instance, owner string // empty: not found
	}{
		{"the demo instance behind the demo router", demo.router, "", demoVM, "vm-demo", e.DemoProject},
		{"the same address behind the other router", other.router, "", otherVM, "vm-other", otherProject},
		{"an IPv4-mapped source address", demo.router, "", netip.AddrFrom16(demoVM.As16()), "vm-demo", e.DemoProject},
		{"an address on a network not attached to the router", demo.router, "", isolatedVM, "", ""},
		{"an address nobody holds", demo.router, "", netip.MustParseAddr("10.0.0.200"), "", ""},
		{"the router's own interface", demo.router, "", netip.MustParseAddr("10.0.0.1"), "", ""},
		{"the DHCP port", demo.router, "", dhcpIP, "", ""},
		{"a port without device", demo.router, "", unbound, "", ""},
		{"a network:* port with a device", demo.router, "", probe, "", ""},
		{"an unknown router", "no-such-router", "", demoVM, "", ""},
		{"by network: the instance of a network no router serves", "", isolated, isolatedVM, "vm-isolated", e.DemoProject},
		{"by network: the same address on another network", "", demo.network, isolatedVM, "", ""},
		{"by network: the demo network's instance", "", demo.network, demoVM, "vm-demo", e.DemoProject},
		{"by network: the other project's instance at the same address", "", other.network, otherVM, "vm-other", otherProject},
		{"by network: the DHCP port", "", demo.network, dhcpIP, "", ""},
		{"by network: a port without device", "", demo.network, unbound, "", ""},
		{"by network: a network:* port with a device", "", demo.network, probe, "", ""},
		{"by network: an unknown network", "", "no-such-network", demoVM, "", ""},
	} {
		for how, l := range lookups {
			t.Run(tc.name+"/"+how, func(t *testing.T) {
				find, key := l[0], tc.router
				if key == "" {
					find, key = l[1], tc.network
				}
				id, project, err := find(ctx, key, tc.ip)
				if tc.instance == "" {
					var he *httpapi.Error
					if !errors.As(err, &he) || he.Status != http.StatusNotFound {
						t.Fatalf("got (%q, %q, %v), want a 404 error", id, project, err)
					}
					return
				}
				if err != nil || id != tc.instance || project != tc.owner {
					t.Fatalf("got (%q, %q, %v), want (%q, %q)", id, project, err, tc.instance, tc.owner)
				}
			})
		}
	}
}
