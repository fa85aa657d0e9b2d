package agent

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// ReportInterval is how often an agent's heartbeat is refreshed when nothing it
// reports has changed (upstream's report_interval; the API counts an agent dead
// after agent_down_time, 75 s).
const ReportInterval = 30 * time.Second

// report is one agent row as the API lists it.
type report struct {
	binary         string
	configurations map[string]any
	at             time.Time
}

// upstreamAgents names, for each part, the agent it is upstream (agent_type, binary):
// `openstack network agent list` shows them. The firewall is the L2 agent's
// security group driver upstream, so it has no row of its own.
var upstreamAgents = map[string][2]string{
	"linuxbridge": {"Linux bridge agent", "neutron-linuxbridge-agent"},
	"dhcp":        {"DHCP agent", "neutron-dhcp-agent"},
	"l3":          {"L3 agent", "neutron-l3-agent"},
	"metadata":    {"Metadata agent", "neutron-metadata-agent"},
}

// report sends the heartbeat of every agent this host runs: at once when what it
// reports changed (the VTEP others tunnel to, its resources), else every ReportInterval.
func (a *Agent) report(ctx context.Context, st dataplane.State) error {
	if a.reported == nil {
		a.reported = map[string]report{}
	}
	now := time.Now
	if a.now != nil {
		now = a.now
	}
	for _, p := range slices.Concat(a.Parts, a.Routing) {
		names, ok := upstreamAgents[p.Name()]
		if !ok {
			continue
		}
		agentType, binary := names[0], names[1]
		r := report{binary: binary, configurations: a.configurations(p.Name(), st), at: now()}
		last, seen := a.reported[agentType]
		if seen && maps.EqualFunc(last.configurations, r.configurations, func(x, y any) bool { return fmt.Sprint(x) == fmt.Sprint(y) }) &&
			r.at.Sub(last.at) < ReportInterval {
			continue
		}
		if err := a.Controller.ReportAgent(ctx, agentType, binary, a.Host.Name, r.configurations); err != nil {
			return fmt.Errorf("report %s: %w", agentType, err)
		}
		a.reported[agentType] = r
	}
	return nil
}

// configurations are what upstream's agents put in their reports' configurations.
func (a *Agent) configurations(part string, st dataplane.State) map[string]any {
	switch part {
	case "linuxbridge":
		devices := 0
		for _, n := range st.Networks {
			devices += len(n.Ports)
		}
		c := map[string]any{"devices": devices, "interface_mappings": a.Host.PhysicalInterfaces,
			"l2_population": true, "tunnel_types": []string{}}
		if a.Host.VTEP.IsValid() {
			c["tunneling_ip"] = a.Host.VTEP.String()
			c["tunnel_types"] = []string{dataplane.TypeVXLAN}
		}
		return c
	case "dhcp":
		networks, subnets, ports := 0, 0, 0
		for _, n := range st.Networks {
			if n.DHCP {
				networks++
				subnets += len(n.Subnets)
				ports += len(n.DHCPHosts)
			}
		}
		return map[string]any{"networks": networks, "subnets": subnets, "ports": ports,
			"dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq", "dhcp_lease_duration": 86400}
	case "l3":
		interfaces, fips, gateways := 0, 0, 0
		for _, r := range st.Routers {
			interfaces += len(r.Interfaces)
			fips += len(r.FloatingIPs)
			if r.Gateway != nil {
				gateways++
			}
		}
		return map[string]any{"routers": len(st.Routers), "interfaces": interfaces, "floating_ips": fips,
			"ex_gw_ports": gateways, "agent_mode": "legacy"}
	}
	return map[string]any{}
}
