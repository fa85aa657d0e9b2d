package network

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"
)

func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func signalled(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestAgents(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	for _, a := range []struct{ kind, binary string }{
		{"Linux bridge agent", "neutron-linuxbridge-agent"},
		{"DHCP agent", "neutron-dhcp-agent"},
		{"L3 agent", "neutron-l3-agent"},
		{"Metadata agent", "neutron-metadata-agent"},
	} {
		conf := map[string]any{}
		if a.kind == "Linux bridge agent" {
			conf = map[string]any{"tunneling_ip": "192.0.2.1", "l2_population": true}
		}
		if err := e.Network.ReportAgent(ctx, a.kind, a.binary, "host1", conf); err != nil {
			t.Fatal(err)
		}
	}
	list := e.Must(200, "GET", "/v2.0/agents", e.AdminToken, nil)["agents"].([]any)
	if len(list) != 4 {
		t.Fatalf("agents %v", list)
	}
	byType := map[string]map[string]any{}
	for _, a := range list {
		m := a.(map[string]any)
		byType[m["agent_type"].(string)] = m
		if m["alive"] != true || m["host"] != "host1" || m["admin_state_up"] != true || m["heartbeat_timestamp"] == "" {
			t.Fatalf("agent %v", m)
		}
		if _, err := time.Parse(agentTimeLayout, m["created_at"].(string)); err != nil {
			t.Fatalf("created_at %v: %v", m["created_at"], err)
		}
	}
	for kind, want := range map[string]struct {
		binary, topic string
		zone          any
	}{
		"Linux bridge agent": {"neutron-linuxbridge-agent", "N/A", nil},
		"DHCP agent":         {"neutron-dhcp-agent", "dhcp_agent", "nova"},
		"L3 agent":           {"neutron-l3-agent", "l3_agent", "nova"},
		"Metadata agent":     {"neutron-metadata-agent", "N/A", nil},
	} {
		a := byType[kind]
		if a["binary"] != want.binary || a["topic"] != want.topic || a["availability_zone"] != want.zone {
			t.Fatalf("%s: %v", kind, a)
		}
	}
	l2 := byType["Linux bridge agent"]
	if l2["configurations"].(map[string]any)["tunneling_ip"] != "192.0.2.1" {
		t.Fatalf("configurations %v", l2["configurations"])
	}
	if vteps, err := e.Network.vteps(ctx); err != nil || vteps["host1"] != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("the L2 agent's VTEP is not what HostState sees: %v %v", vteps, err)
	}
	if got := e.Must(200, "GET", "/v2.0/agents?agent_type=DHCP%20agent", e.AdminToken, nil)["agents"].([]any); len(got) != 1 {
		t.Fatalf("filtered %v", got)
	}
	id := l2["id"].(string)

	// Agents are admin's: others see none.
	if got := e.Must(200, "GET", "/v2.0/agents", e.DemoToken, nil)["agents"].([]any); len(got) != 0 {
		t.Fatalf("a member sees agents: %v", got)
	}
	e.Fail(404, "AgentNotFound", "GET", "/v2.0/agents/"+id, e.DemoToken, nil)
	e.Fail(404, "AgentNotFound", "PUT", "/v2.0/agents/"+id, e.DemoToken, map[string]any{"agent": map[string]any{"admin_state_up": false}})
	e.Fail(404, "AgentNotFound", "DELETE", "/v2.0/agents/"+id, e.DemoToken, nil)
	e.Fail(404, "AgentNotFound", "GET", "/v2.0/agents/nope", e.AdminToken, nil)

	// Update.
	up := e.Must(200, "PUT", "/v2.0/agents/"+id, e.AdminToken, map[string]any{"agent": map[string]any{"admin_state_up": false, "description": "maintenance"}})["agent"].(map[string]any)
	if up["admin_state_up"] != false || up["description"] != "maintenance" {
		t.Fatalf("updated %v", up)
	}
	e.Fail(400, "", "PUT", "/v2.0/agents/"+id, e.AdminToken, map[string]any{"agent": map[string]any{"host": "h2"}})
	e.Fail(400, "InvalidInput", "PUT", "/v2.0/agents/"+id, e.AdminToken, map[string]any{"agent": map[string]any{"admin_state_up": "perhaps"}})
	e.Fail(400, "", "PUT", "/v2.0/agents/"+id, e.AdminToken, "not an object")

	// Heartbeats: a plain one wakes no agent and keeps what admins set; one after
	// agent_down_time means a restart.
	drain(e.Network.Changes())
	if err := e.Network.ReportAgent(ctx, "Linux bridge agent", "neutron-linuxbridge-agent", "host1", map[string]any{"tunneling_ip": "192.0.2.1", "l2_population": true}); err != nil {
		t.Fatal(err)
	}
	if signalled(e.Network.Changes()) {
		t.Fatal("a plain heartbeat woke the agents")
	}
	shown := e.Must(200, "GET", "/v2.0/agents/"+id, e.AdminToken, nil)["agent"].(map[string]any)
	if shown["admin_state_up"] != false || shown["id"] != id {
		t.Fatalf("after heartbeat %v", shown)
	}
	started := shown["started_at"]
	real := e.Network.now
	e.Network.now = func() time.Time { return real().Add(2 * time.Minute) }
	if dead := e.Must(200, "GET", "/v2.0/agents/"+id, e.AdminToken, nil)["agent"].(map[string]any); dead["alive"] != false {
		t.Fatalf("an agent silent for 2 minutes is alive: %v", dead)
	}
	if err := e.Network.ReportAgent(ctx, "Linux bridge agent", "neutron-linuxbridge-agent", "host1", map[string]any{"tunneling_ip": "192.0.2.9"}); err != nil {
		t.Fatal(err)
	}
	if !signalled(e.Network.Changes()) {
		t.Fatal("new configurations did not wake the agents")
	}
	back := e.Must(200, "GET", "/v2.0/agents/"+id, e.AdminToken, nil)["agent"].(map[string]any)
	if back["alive"] != true || back["started_at"] == started {
		t.Fatalf("an agent back after being down: %v (started before %v)", back, started)
	}
	e.Network.now = real

	e.Must(204, "DELETE", "/v2.0/agents/"+id, e.AdminToken, nil)
	e.Fail(404, "AgentNotFound", "GET", "/v2.0/agents/"+id, e.AdminToken, nil)
}

// TestReportAgentConcurrent checks that agents starting at once make one row each.
func TestReportAgentConcurrent(t *testing.T) {
	e := newTestEnv(t, nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- e.Network.ReportAgent(context.Background(), "DHCP agent", "neutron-dhcp-agent", "nn", nil)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := e.Must(200, "GET", "/v2.0/agents", e.AdminToken, nil)["agents"].([]any); len(got) != 1 {
		t.Fatalf("agents %v", got)
	}
}
