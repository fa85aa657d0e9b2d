package network

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
)

// TestServeAgents drives the agents' RPC as an agent of another host would: the
// state it reads over the bus is exactly what the service computes in-process
// (nothing lost in the encoding), its reports land, and writes nudge it.
func TestServeAgents(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	server, err := bus.Start(bus.Options{Token: "t0ken", Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if err := e.Network.ServeAgents(server); err != nil {
		t.Fatal(err)
	}
	agentBus, err := bus.Start(bus.Options{URL: server.URL})
	if err != nil {
		t.Fatal(err)
	}
	defer agentBus.Close()
	nudged := make(chan struct{}, 16)
	unsubscribe, err := agentBus.Subscribe(SubjectChanged, func([]byte) { nudged <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer unsubscribe()
	if err := agentBus.Flush(); err != nil {
		t.Fatal(err)
	}

	// A state with a bit of everything: DHCP, a router with a gateway and a
	// floating IP, security groups, address pairs, a port bound to the remote host.
	netID, subID := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	select {
	case <-nudged:
	case <-ctx.Done():
		t.Fatal("a write did not nudge the agents on the bus")
	}
	p := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID, "dns_name": "vm1",
		"allowed_address_pairs": []any{map[string]any{"ip_address": "10.0.0.200/32"}}})
	e.Must(200, "PUT", "/v2.0/ports/"+p["id"].(string), e.AdminToken, map[string]any{"port": map[string]any{"binding:host_id": "h2"}})
	ext := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "ext", "router:external": true})
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": ext["id"], "cidr": "172.24.4.0/24", "ip_version": 4})
	router := e.Create(e.DemoToken, "routers", "router", map[string]any{"name": "r1",
		"external_gateway_info": map[string]any{"network_id": ext["id"]}})
	e.Must(200, "PUT", "/v2.0/routers/"+router["id"].(string)+"/add_router_interface", e.DemoToken, map[string]any{"subnet_id": subID})
	e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": ext["id"], "port_id": p["id"]})

	var ok struct{}
	if err := agentBus.Call(ctx, SubjectEnsureDHCPPorts, EnsureDHCPPortsRequest{Host: "nn"}, &ok); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		host  string
		roles HostRoles
	}{{"h2", HostRoles{}}, {"nn", HostRoles{DHCP: true, L3: true}}} {
		host := dataplane.Host{Name: c.host, PhysicalInterfaces: map[string]string{"public": "eth1"}}
		want, err := e.Network.HostState(ctx, host, c.roles)
		if err != nil {
			t.Fatal(err)
		}
		var got dataplane.State
		if err := agentBus.Call(ctx, SubjectHostState, HostStateRequest{Host: host, Roles: c.roles}, &got); err != nil {
			t.Fatal(err)
		}
		if len(want.Networks) == 0 {
			t.Fatalf("%s: empty state, the test shows nothing", c.host)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: state over the bus differs:\n got %+v\nwant %+v", c.host, got, want)
		}
	}
	if err := agentBus.Call(ctx, SubjectSetPortStatus, SetPortStatusRequest{Status: "ACTIVE", IDs: []string{p["id"].(string)}}, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.Must(200, "GET", "/v2.0/ports/"+p["id"].(string), e.DemoToken, nil)["port"].(map[string]any); got["status"] != "ACTIVE" {
		t.Errorf("port status = %v after the remote agent wired it", got["status"])
	}
	if err := agentBus.Call(ctx, SubjectReportAgent, ReportAgentRequest{AgentType: "Linux bridge agent",
		Binary: "neutron-linuxbridge-agent", Host: "h2", Configurations: map[string]any{"tunneling_ip": "192.0.2.2"}}, nil); err != nil {
		t.Fatal(err)
	}
	agents := e.Must(200, "GET", "/v2.0/agents?host=h2", e.AdminToken, nil)["agents"].([]any)
	if len(agents) != 1 || agents[0].(map[string]any)["alive"] != true {
		t.Errorf("agents of h2 = %v", agents)
	}
	if err := agentBus.Call(ctx, SubjectHostState, "not a request", nil); err == nil {
		t.Error("a malformed request got an answer")
	}
}
