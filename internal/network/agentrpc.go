package network

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
)

// The bus subjects through which agents on other hosts (nimbus serve) read their
// desired state and report back, as upstream's agents use the neutron-server RPC
// topics over RabbitMQ. SubjectChanged is the nudge after every write; the agents
// resync periodically as well, since events are at-most-once.
const (
	SubjectChanged         = "network.changed"
	SubjectHostState       = "network.agent.host_state"
	SubjectEnsureDHCPPorts = "network.agent.ensure_dhcp_ports"
	SubjectSetPortStatus   = "network.agent.set_port_status"
	SubjectReportAgent     = "network.agent.report"
	// SubjectMetadataInstance is the metadata proxy's instance lookup
	// (MetadataInstance, MetadataNetworkInstance); its 404 stays a 404.
	SubjectMetadataInstance = "network.agent.metadata_instance"
)

// HostStateRequest asks for one host's desired state.
type HostStateRequest struct {
	Host  dataplane.Host `json:"host"`
	Roles HostRoles      `json:"roles"`
}

// EnsureDHCPPortsRequest asks for the DHCP ports of a DHCP host.
type EnsureDHCPPortsRequest struct {
	Host string `json:"host"`
}

// SetPortStatusRequest reports ports wired (ACTIVE) or unwired (DOWN).
type SetPortStatusRequest struct {
	Status string   `json:"status"`
	IDs    []string `json:"ids"`
}

// ReportAgentRequest is an agent's heartbeat.
type ReportAgentRequest struct {
	AgentType      string         `json:"agent_type"`
	Binary         string         `json:"binary"`
	Host           string         `json:"host"`
	Configurations map[string]any `json:"configurations"`
}

// MetadataInstanceRequest asks who sent a metadata request from IP: through
// router RouterID, or else the DHCP namespace of network NetworkID.
type MetadataInstanceRequest struct {
	RouterID  string     `json:"router_id,omitempty"`
	NetworkID string     `json:"network_id,omitempty"`
	IP        netip.Addr `json:"ip"`
}

// MetadataInstanceReply is the instance and its project.
type MetadataInstanceReply struct {
	InstanceID string `json:"instance_id"`
	ProjectID  string `json:"project_id"`
}

// ServeAgents answers the agents of other hosts on b, and nudges them after every
// change. The bus admits only holders of its token, which is what authenticates them.
func (s *Service) ServeAgents(b *bus.Bus) error {
	handlers := map[string]func(ctx context.Context, raw json.RawMessage) (any, error){
		SubjectHostState: func(ctx context.Context, raw json.RawMessage) (any, error) {
			req, err := bus.Decode[HostStateRequest](raw)
			if err != nil {
				return nil, err
			}
			return s.HostState(ctx, req.Host, req.Roles)
		},
		SubjectEnsureDHCPPorts: func(ctx context.Context, raw json.RawMessage) (any, error) {
			req, err := bus.Decode[EnsureDHCPPortsRequest](raw)
			if err != nil {
				return nil, err
			}
			return nil, s.EnsureDHCPPorts(ctx, req.Host)
		},
		SubjectSetPortStatus: func(ctx context.Context, raw json.RawMessage) (any, error) {
			req, err := bus.Decode[SetPortStatusRequest](raw)
			if err != nil {
				return nil, err
			}
			return nil, s.SetPortStatus(ctx, req.Status, req.IDs...)
		},
		SubjectReportAgent: func(ctx context.Context, raw json.RawMessage) (any, error) {
			req, err := bus.Decode[ReportAgentRequest](raw)
			if err != nil {
				return nil, err
			}
			return nil, s.ReportAgent(ctx, req.AgentType, req.Binary, req.Host, req.Configurations)
		},
		SubjectMetadataInstance: func(ctx context.Context, raw json.RawMessage) (any, error) {
			req, err := bus.Decode[MetadataInstanceRequest](raw)
			if err != nil {
				return nil, err
			}
			var r MetadataInstanceReply
			if req.RouterID != "" {
				r.InstanceID, r.ProjectID, err = s.MetadataInstance(ctx, req.RouterID, req.IP)
			} else {
				r.InstanceID, r.ProjectID, err = s.MetadataNetworkInstance(ctx, req.NetworkID, req.IP)
			}
			return r, err
		},
	}
	for subject, h := range handlers {
		if err := b.Handle(subject, h); err != nil {
			return fmt.Errorf("serve %s: %w", subject, err)
		}
	}
	s.onChange(func() {
		if err := b.Publish(SubjectChanged, struct{}{}); err != nil {
			s.log.Warn("nudge the agents", "error", err)
		}
	})
	return nil
}
