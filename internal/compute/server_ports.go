package compute

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// A server's ports are made with its user's token and bound with compute's
// own credentials, as upstream Nova makes them (_create_port_minimal with the
// user's client, the binding with the admin client): the network service then
// decides, by its own policies and quotas, everything the user may have on
// the port (the network, a fixed IP, the security groups). The API makes them
// while it has the token, before the servers are recorded; the conductor only
// binds them to the chosen host. docs/compute.md says why.

// makePorts makes, as the caller, the port of every requested network that
// names none, for each server of ids (device_id: the server, so the port is
// known as the server's until it is bound). It returns each server's networks,
// every entry naming its port. A refusal of the network service is the
// request's (ports made so far are deleted).
func (s *Service) makePorts(ctx context.Context, token, project string, requested []requestedNetwork, groups, ids []string) ([][]requestedNetwork, error) {
	out := make([][]requestedNetwork, len(ids))
	for i, id := range ids {
		nets := make([]requestedNetwork, len(requested))
		copy(nets, requested)
		out[i] = nets
		for j := range nets {
			n := &nets[j]
			if n.PortID != "" {
				continue // the user's own
			}
			p, err := s.opts.Network.CreatePort(ctx, token, PortRequest{ProjectID: project, NetworkID: n.NetworkID,
				FixedIP: n.FixedIP, SecurityGroups: groups, DeviceID: id})
			if err != nil {
				s.deleteMadePorts(ctx, out)
				return nil, createPortFault(err, *n)
			}
			n.PortID, n.Created = p.ID, true
		}
	}
	return out, nil
}

// deleteMadePorts deletes the ports makePorts made, for a create that failed
// after it.
func (s *Service) deleteMadePorts(ctx context.Context, servers [][]requestedNetwork) {
	for _, nets := range servers {
		for _, n := range nets {
			if !n.Created {
				continue
			}
			if err := s.opts.Network.DeletePort(ctx, n.PortID); err != nil && !httpapi.IsStatus(err, http.StatusNotFound) {
				s.log.Warn("delete the port of a refused create", "port", n.PortID, "error", err)
			}
		}
	}
}

// createPortFault is the network service's refusal of a server's port as the
// create answers it: upstream's 400 for an unknown network, an address in use
// or outside the network (FixedIpAlreadyInUse, InvalidInput), the network's
// 403 (its policy, its port quota) as it is.
func createPortFault(err error, n requestedNetwork) error {
	var he *httpapi.Error
	if !errors.As(err, &he) {
		return fmt.Errorf("create a port on network %s: %w", n.NetworkID, err)
	}
	switch he.Status {
	case http.StatusNotFound:
		return badRequest("Network %s could not be found.", n.NetworkID)
	case http.StatusBadRequest, http.StatusConflict:
		return badRequest("%s", he.Message)
	case http.StatusForbidden:
		return forbidden("%s", he.Message)
	}
	return fmt.Errorf("create a port on network %s: %w", n.NetworkID, err)
}

// checkExternalAttach is upstream's _check_external_network_attach: servers
// attach to an external network that is not shared only where the caller has
// network:attach_external_network (admin).
func (s *Service) checkExternalAttach(ctx context.Context, n NetworkInfo) error {
	if !n.External || n.Shared {
		return nil
	}
	creds := auth.FromContext(ctx)
	target := map[string]any{"target.project_id": creds.ProjectID, "target.user_id": creds.UserID}
	if s.policy.Allowed("network:attach_external_network", target, creds.PolicyCredentials()) {
		return nil
	}
	return forbidden("It is not allowed to create an interface on external network %s", n.ID)
}

// portUsable checks a port the caller brings for server: it must be the
// caller's project's (upstream's PortNotUsable: a network's owner sees the
// ports others made on it, an admin every port) and bound to nothing.
func portUsable(ctx context.Context, p Port, server string) error {
	if p.ProjectID != auth.FromContext(ctx).ProjectID {
		return badRequest("Port %s not usable for instance %s.", p.ID, server)
	}
	if p.DeviceID != "" {
		return conflict("Port %s is still in use.", p.ID)
	}
	return nil
}
