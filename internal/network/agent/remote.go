package agent

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/nimbus-cloud/nimbus/internal/network"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/metadata"
	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Remote is the network service as an agent on another host sees it: calls over the
// bus to the process that has the database (network.Service.ServeAgents).
type Remote struct {
	bus         *bus.Bus
	changes     chan struct{}
	unsubscribe func()
}

var (
	_ Controller      = (*Remote)(nil)
	_ metadata.Lookup = (*Remote)(nil)
)

// NewRemote subscribes to the service's nudges; Close ends that.
func NewRemote(b *bus.Bus) (*Remote, error) {
	r := &Remote{bus: b, changes: make(chan struct{}, 1)}
	unsubscribe, err := b.Subscribe(network.SubjectChanged, func([]byte) {
		select {
		case r.changes <- struct{}{}:
		default: // one pending nudge stands for any number: a pass reads the whole state
		}
	})
	if err != nil {
		return nil, fmt.Errorf("subscribe to %s: %w", network.SubjectChanged, err)
	}
	r.unsubscribe = unsubscribe
	return r, nil
}

// Close stops the nudges.
func (r *Remote) Close() { r.unsubscribe() }

func (r *Remote) Changes() <-chan struct{} { return r.changes }

func (r *Remote) HostState(ctx context.Context, host dataplane.Host, roles network.HostRoles) (dataplane.State, error) {
	var st dataplane.State
	err := r.bus.Call(ctx, network.SubjectHostState, network.HostStateRequest{Host: host, Roles: roles}, &st)
	return st, err
}

func (r *Remote) EnsureDHCPPorts(ctx context.Context, host string) error {
	return r.bus.Call(ctx, network.SubjectEnsureDHCPPorts, network.EnsureDHCPPortsRequest{Host: host}, nil)
}

func (r *Remote) SetPortStatus(ctx context.Context, status string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return r.bus.Call(ctx, network.SubjectSetPortStatus, network.SetPortStatusRequest{Status: status, IDs: ids}, nil)
}

func (r *Remote) ReportAgent(ctx context.Context, agentType, binary, host string, configurations map[string]any) error {
	return r.bus.Call(ctx, network.SubjectReportAgent, network.ReportAgentRequest{AgentType: agentType, Binary: binary,
		Host: host, Configurations: configurations}, nil)
}

func (r *Remote) MetadataInstance(ctx context.Context, routerID string, ip netip.Addr) (instanceID, projectID string, err error) {
	return r.metadataInstance(ctx, network.MetadataInstanceRequest{RouterID: routerID, IP: ip})
}

func (r *Remote) MetadataNetworkInstance(ctx context.Context, networkID string, ip netip.Addr) (instanceID, projectID string, err error) {
	return r.metadataInstance(ctx, network.MetadataInstanceRequest{NetworkID: networkID, IP: ip})
}

// metadataInstance asks the network service; its "no such instance" comes back as
// the *httpapi.Error 404 the metadata proxy answers 404 for.
func (r *Remote) metadataInstance(ctx context.Context, req network.MetadataInstanceRequest) (string, string, error) {
	var reply network.MetadataInstanceReply
	if err := r.bus.Call(ctx, network.SubjectMetadataInstance, req, &reply); err != nil {
		return "", "", httpapi.FromRemote(err)
	}
	return reply.InstanceID, reply.ProjectID, nil
}
