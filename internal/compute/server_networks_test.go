package compute

import (
	"context"
	"net/netip"
	"testing"
)

// TestServerPortsAsTheCaller (issue 16, finding 8): the ports of a server are
// what its user may have asked the network service for. The external network
// is upstream's network:attach_external_network (admin) and 403 otherwise; a
// fixed IP on a network the user does not own is the network service's refusal
// (the port is made with the user's token); a port the user passes must be the
// user's project's. On create and on interface attach alike, a refusal leaves
// no server and no port behind.
func TestServerPortsAsTheCaller(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	personas, victim := e.identity.Personas("ports")
	_ = personas
	const (
		own     = "0b9e1c1e-0000-4000-8000-000000000001"
		public  = "0b9e1c1e-0000-4000-8000-000000000002"
		shared  = "0b9e1c1e-0000-4000-8000-000000000003"
		victims = "0b9e1c1e-0000-4000-8000-0000000000aa" // the victim's port on demo's network
	)
	e.net.mu.Lock()
	e.net.networks = map[string]NetworkInfo{
		own:    {ID: own, Name: "own", ProjectID: e.DemoProject, MTU: 1450},
		public: {ID: public, Name: "public", ProjectID: e.identity.AdminProject, External: true, MTU: 1500},
		shared: {ID: shared, Name: "shared", ProjectID: victim, Shared: true, MTU: 1450},
	}
	e.net.ports[victims] = &Port{ID: victims, NetworkID: own, ProjectID: victim, MAC: "fa:16:3e:aa:aa:aa",
		FixedIPs: []PortIP{{SubnetID: "bbbbbbbb-0000-4000-8000-000000000001", IP: netip.MustParseAddr("10.0.0.200")}}}
	e.net.mu.Unlock()
	nets := func(entries ...map[string]any) map[string]any {
		list := make([]any, len(entries))
		for i, n := range entries {
			list[i] = n
		}
		return serverBody(map[string]any{"networks": list})
	}
	ports := e.net.count()

	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		msg    string
	}{
		{"the external network", nets(map[string]any{"uuid": public}), 403,
			"It is not allowed to create an interface on external network " + public},
		{"an address on the external network", nets(map[string]any{"uuid": public, "fixed_ip": "203.0.113.10"}), 403,
			"It is not allowed to create an interface on external network " + public},
		{"the external network after an allowed one", nets(map[string]any{"uuid": own}, map[string]any{"uuid": public}), 403,
			"It is not allowed to create an interface on external network " + public},
		{"an address on another project's shared network", nets(map[string]any{"uuid": shared, "fixed_ip": "10.0.0.50"}), 403,
			"disallowed by policy"},
		{"another project's port", nets(map[string]any{"port": victims}), 400, "Port " + victims + " not usable for instance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := e.Do("POST", "/v2.1/servers", e.DemoToken, tc.body)
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}
	if n := e.count(`SELECT COUNT(*) FROM instances`); n != 0 {
		t.Fatalf("refused creates left %d servers", n)
	}
	if n := e.net.count(); n != ports {
		t.Fatalf("refused creates left %d ports, want %d", n, ports)
	}

	// What the user may ask for: a port on the shared network, an address on
	// its own; an admin may use the external network. Each port is made as
	// its caller, and the conductor only binds it.
	id := e.Must(202, "POST", "/v2.1/servers", e.DemoToken, nets(map[string]any{"uuid": shared},
		map[string]any{"uuid": own, "fixed_ip": "10.0.0.50"}))["server"].(map[string]any)["id"].(string)
	e.Must(202, "POST", "/v2.1/servers", e.AdminToken, nets(map[string]any{"uuid": public}))
	e.conduct()
	e.run()
	ctx := context.Background()
	mine, err := e.net.PortsOf(ctx, id)
	if err != nil || len(mine) != 2 {
		t.Fatalf("the server's ports: %+v, %v", mine, err)
	}
	for _, p := range mine {
		if e.net.creators[p.ID] != e.DemoProject || p.ProjectID != e.DemoProject || p.HostID != "h1" {
			t.Errorf("port %s made as %q for %q, bound to %q; want made as demo's project and bound to h1",
				p.ID, e.net.creators[p.ID], p.ProjectID, p.HostID)
		}
	}
	if s := e.server(id); s["status"] != "ACTIVE" {
		t.Fatalf("server %v", s["status"])
	}

	// Interface attach is held to the same.
	path := "/v2.1/servers/" + id + "/os-interface"
	att := func(m map[string]any) map[string]any { return map[string]any{"interfaceAttachment": m} }
	ports = e.net.count()
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		msg    string
	}{
		{"the external network", att(map[string]any{"net_id": public}), 403,
			"It is not allowed to create an interface on external network " + public},
		{"an address on another project's shared network", att(map[string]any{"net_id": shared,
			"fixed_ips": []any{map[string]any{"ip_address": "10.0.0.51"}}}), 403, "disallowed by policy"},
		{"another project's port", att(map[string]any{"port_id": victims}), 400, "Port " + victims + " not usable for instance " + id},
	} {
		t.Run("attach "+tc.name, func(t *testing.T) {
			status, out, raw := e.Do("POST", path, e.DemoToken, tc.body)
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}
	if n := e.net.count(); n != ports {
		t.Fatalf("refused attaches left %d ports, want %d", n, ports)
	}
	if p, _ := e.net.PortStatus(ctx, victims); p.DeviceID != "" {
		t.Fatalf("the victim's port was bound to %s", p.DeviceID)
	}
	got := e.Must(200, "POST", path, e.DemoToken, att(map[string]any{"net_id": shared}))["interfaceAttachment"].(map[string]any)
	if made, _ := got["port_id"].(string); e.net.creators[made] != e.DemoProject {
		t.Errorf("the attached port was made as %q, want demo's project", e.net.creators[made])
	}
}
