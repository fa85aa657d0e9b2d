package compute

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// TestInterfaceAttachDetach: attach by network and by port answers the
// attachment and shows it on the server at once, records the actions; detach
// deletes the port compute made and unbinds the user's; bad input, unknown
// ports and networks, ports in use, locked servers and wrong states are
// upstream's faults, with nothing changed.
func TestInterfaceAttachDetach(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	id := e.boot(e.DemoToken, nil)
	const netID, freePort, usedPort, missing = "6b9e1c1e-0000-4000-8000-000000000001", "6b9e1c1e-0000-4000-8000-0000000000aa",
		"6b9e1c1e-0000-4000-8000-0000000000bb", "6b9e1c1e-0000-4000-8000-0000000000ff"
	e.net.mu.Lock()
	e.net.networks[netID] = NetworkInfo{ID: netID, Name: "second", ProjectID: e.DemoProject, MTU: 1400}
	e.net.ports[freePort] = &Port{ID: freePort, NetworkID: netID, ProjectID: e.DemoProject, MAC: "fa:16:3e:aa:aa:aa",
		FixedIPs: []PortIP{{SubnetID: "bbbbbbbb-0000-4000-8000-000000000002", IP: netip.MustParseAddr("10.1.0.10")}}}
	e.net.ports[usedPort] = &Port{ID: usedPort, NetworkID: netID, ProjectID: e.DemoProject, MAC: "fa:16:3e:bb:bb:bb", DeviceID: "someone-else"}
	e.net.mu.Unlock()
	path := "/v2.1/servers/" + id + "/os-interface"
	att := func(m map[string]any) map[string]any { return map[string]any{"interfaceAttachment": m} }
	ports := e.net.count()

	for _, tc := range []struct {
		name   string
		body   any
		status int
		msg    string
	}{
		{"both port and network", att(map[string]any{"net_id": netID, "port_id": freePort}), 400, "Must not input both network_id and port_id"},
		{"fixed IP without network", att(map[string]any{"port_id": freePort, "fixed_ips": []any{map[string]any{"ip_address": "10.1.0.5"}}}), 400, "Must input network_id when request IP address"},
		{"bad fixed IP", att(map[string]any{"net_id": netID, "fixed_ips": []any{map[string]any{"ip_address": "10.1.0.500"}}}), 400, "Invalid input for field/attribute ip_address. Value: 10.1.0.500. '10.1.0.500' is not valid under any of the given schemas"},
		{"two fixed IPs", att(map[string]any{"net_id": netID, "fixed_ips": []any{map[string]any{"ip_address": "10.1.0.5"}, map[string]any{"ip_address": "10.1.0.6"}}}), 400, "fixed_ips"},
		{"network id not a uuid", att(map[string]any{"net_id": "net-1"}), 400, "is not a 'uuid'"},
		{"unknown key", att(map[string]any{"net_id": netID, "color": "red"}), 400, "Additional properties are not allowed ('color' was unexpected)"},
		{"tag before 2.49", att(map[string]any{"net_id": netID, "tag": "t"}), 400, "('tag' was unexpected)"},
		{"attachment not an object", map[string]any{"interfaceAttachment": "x"}, 400, "is not of type 'object'"},
		{"no network named, two to choose from", map[string]any{}, 400, "More than one possible network found."},
		{"unknown network", att(map[string]any{"net_id": missing}), 404, "Network " + missing + " could not be found."},
		{"unknown port", att(map[string]any{"port_id": missing}), 404, "Port " + missing + " could not be found."},
		{"port in use", att(map[string]any{"port_id": usedPort}), 409, "Port " + usedPort + " is still in use."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, raw := e.Do("POST", path, e.DemoToken, tc.body)
			checkFault(t, status, out, raw, tc.status, tc.msg)
		})
	}
	if n := e.net.count(); n != ports {
		t.Fatalf("bad attaches left %d ports, want %d", n, ports)
	}

	// Attach by network: a port compute makes, bound to the server's host.
	got := e.Must(200, "POST", path, e.DemoToken, att(map[string]any{"net_id": netID}))["interfaceAttachment"].(map[string]any)
	made, _ := got["port_id"].(string)
	if got["net_id"] != netID || got["port_state"] != "DOWN" || got["mac_addr"] == "" || made == "" {
		t.Fatalf("attachment %v", got)
	}
	fixed, _ := got["fixed_ips"].([]any)
	if len(fixed) != 1 {
		t.Fatalf("attachment's fixed_ips %v", got["fixed_ips"])
	}
	ip := fixed[0].(map[string]any)["ip_address"].(string)
	if p, _ := e.net.PortStatus(t.Context(), made); p.DeviceID != id || p.HostID != "h1" || !strings.HasPrefix(p.DeviceOwner, "compute:") {
		t.Errorf("the new port is %+v, want it bound to %s on h1", p, id)
	}
	if addrs := fmt.Sprint(e.server(id)["addresses"].(map[string]any)["second"]); !strings.Contains(addrs, ip) {
		t.Errorf("the server's addresses on second = %s, want %s", addrs, ip)
	}
	// Attach the user's port.
	got = e.Must(200, "POST", path, e.DemoToken, att(map[string]any{"port_id": freePort}))["interfaceAttachment"].(map[string]any)
	if got["port_id"] != freePort || got["mac_addr"] != "fa:16:3e:aa:aa:aa" {
		t.Fatalf("attachment of the user's port %v", got)
	}
	if list := e.Must(200, "GET", path, e.DemoToken, nil)["interfaceAttachments"].([]any); len(list) != 3 {
		t.Fatalf("%d interfaces after two attaches, want 3", len(list))
	}
	if inst, _ := e.Compute.HostInstances(t.Context(), "h1"); len(inst) != 1 || len(inst[0].Ports) != 3 {
		t.Fatalf("the agent's desired state %+v, want the instance with 3 ports", inst)
	}
	actions := fmt.Sprint(e.Must(200, "GET", "/v2.1/servers/"+id+"/os-instance-actions", e.DemoToken, nil))
	if strings.Count(actions, "attach_interface") != 2 {
		t.Errorf("instance actions %s, want two attach_interface", actions)
	}

	// Detach: not attached is 404; compute's port is deleted, the user's unbound.
	status, out, raw := e.Do("DELETE", path+"/"+missing, e.DemoToken, nil)
	checkFault(t, status, out, raw, 404, "Port "+missing+" is not attached")
	e.Must(202, "DELETE", path+"/"+made, e.DemoToken, nil)
	if _, err := e.net.PortStatus(t.Context(), made); err == nil {
		t.Error("the port compute made is still there after detach")
	}
	e.Must(202, "DELETE", path+"/"+freePort, e.DemoToken, nil)
	if p, err := e.net.PortStatus(t.Context(), freePort); err != nil || p.DeviceID != "" || p.HostID != "" {
		t.Errorf("the user's port after detach: %+v, %v; want it kept and unbound", p, err)
	}
	if list := e.Must(200, "GET", path, e.DemoToken, nil)["interfaceAttachments"].([]any); len(list) != 1 {
		t.Fatalf("%d interfaces after the detaches, want 1", len(list))
	}
	actions = fmt.Sprint(e.Must(200, "GET", "/v2.1/servers/"+id+"/os-instance-actions", e.DemoToken, nil))
	if strings.Count(actions, "detach_interface") != 2 {
		t.Errorf("instance actions %s, want two detach_interface", actions)
	}

	// States: locked is 409 for the owner; suspended and a running task are 409;
	// stopped is allowed.
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.AdminToken, map[string]any{"lock": nil})
	status, out, raw = e.Do("POST", path, e.DemoToken, att(map[string]any{"net_id": netID}))
	checkFault(t, status, out, raw, 409, "is locked")
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.AdminToken, map[string]any{"unlock": nil})
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"suspend": nil})
	status, out, raw = e.Do("POST", path, e.DemoToken, att(map[string]any{"net_id": netID}))
	checkFault(t, status, out, raw, 409, "Cannot 'attach_interface' instance "+id+" while it is in task_state suspending")
	e.run()
	status, out, raw = e.Do("DELETE", path+"/"+freePort, e.DemoToken, nil)
	checkFault(t, status, out, raw, 409, "Cannot 'detach_interface' instance "+id+" while it is in vm_state suspended")
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"resume": nil})
	e.run()
	e.Must(202, "POST", "/v2.1/servers/"+id+"/action", e.DemoToken, map[string]any{"os-stop": nil})
	e.run()
	e.Must(200, "POST", path, e.DemoToken, att(map[string]any{"net_id": netID}))
	if n := e.net.count(); n != ports+1 {
		t.Errorf("%d ports after the attach to the stopped server, want %d", n, ports+1)
	}
	// Delete of the server releases the attached port like the others.
	e.Must(204, "DELETE", "/v2.1/servers/"+id, e.DemoToken, nil)
	e.run()
	if n := e.net.count(); n != ports-1 {
		t.Errorf("%d ports after the server's delete, want %d (the user's free port, the used one)", n, ports-1)
	}
}
