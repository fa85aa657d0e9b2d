package compute

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
)

// The bus subjects through which compute agents on other hosts (nimbus serve
// --role compute) read their desired state and report, as upstream's
// nova-compute talks to nova-conductor over RabbitMQ; agents never touch the
// database. SubjectChanged nudges an agent ({"host": ...}, "" for all); the
// agents resync periodically as well, since events are at-most-once. The calls
// the API makes to an agent go to SubjectHostCall + host + "." + call.
const (
	SubjectHostInstances  = "compute.agent.host_instances"
	SubjectReportInstance = "compute.agent.report_instance"
	SubjectReportService  = "compute.agent.report_service"
	SubjectReportVolumes  = "compute.agent.report_volumes"
	SubjectPortActive     = "compute.agent.port_active"
	SubjectImageAccess    = "compute.agent.image_access"
	SubjectMetadata       = "compute.agent.metadata"
	SubjectChanged        = "compute.changed"
	SubjectHostCall       = "compute.host."
)

// HostRequest names a host (host_instances) or an instance (metadata,
// port_active: ID).
type HostRequest struct {
	Host string `json:"host,omitempty"`
	ID   string `json:"id,omitempty"`
}

// ImageAccess is how an agent of another host downloads images: the image API
// and a token of the compute service's, valid for a while (agents keep no
// credentials of their own).
type ImageAccess struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// ImageAccessor hands out ImageAccess (clients.Images does).
type ImageAccessor interface {
	Access(ctx context.Context) (ImageAccess, error)
}

// ConsoleRequest is a host call's argument.
type ConsoleRequest struct {
	UUID  string `json:"uuid"`
	Lines int    `json:"lines,omitempty"`
}

// ServeAgents answers the compute agents of other hosts on b and nudges them
// after every change.
func (s *Service) ServeAgents(b *bus.Bus, images ImageAccessor) error {
	handlers := map[string]func(ctx context.Context, raw json.RawMessage) (any, error){
		SubjectHostInstances: func(ctx context.Context, raw json.RawMessage) (any, error) {
			req, err := bus.Decode[HostRequest](raw)
			if err != nil {
				return nil, err
			}
			return s.HostInstances(ctx, req.Host)
		},
		SubjectReportInstance: func(ctx context.Context, raw json.RawMessage) (any, error) {
			req, err := bus.Decode[AgentReport](raw)
			if err != nil {
				return nil, err
			}
			return nil, s.ReportInstance(ctx, req)
		},
		SubjectReportService: func(ctx context.Context, raw json.RawMessage) (any, error) {
			req, err := bus.Decode[ServiceReport](raw)
			if err != nil {
				return nil, err
			}
			return nil, s.ReportService(ctx, req)
		},
		SubjectReportVolumes: func(ctx context.Context, raw json.RawMessage) (any, error) {
			req, err := bus.Decode[VolumeReport](raw)
			if err != nil {
				return nil, err
			}
			return nil, s.ReportVolumes(ctx, req)
		},
		SubjectPortActive: func(ctx context.Context, raw json.RawMessage) (any, error) {
			req, err := bus.Decode[HostRequest](raw)
			if err != nil {
				return nil, err
			}
			return s.PortActive(ctx, req.ID)
		},
		SubjectImageAccess: func(ctx context.Context, _ json.RawMessage) (any, error) {
			return images.Access(ctx)
		},
		SubjectMetadata: func(ctx context.Context, raw json.RawMessage) (any, error) {
			req, err := bus.Decode[HostRequest](raw)
			if err != nil {
				return nil, err
			}
			return s.Instance(ctx, req.ID)
		},
	}
	for subject, h := range handlers {
		if err := b.Handle(subject, h); err != nil {
			return fmt.Errorf("serve %s: %w", subject, err)
		}
	}
	s.OnHostChange(func(host string) {
		if err := b.Publish(SubjectChanged, HostRequest{Host: host}); err != nil {
			s.log.Warn("nudge the compute agents", "error", err)
		}
	})
	return nil
}
