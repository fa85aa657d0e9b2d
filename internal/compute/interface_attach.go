package compute

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// attachPort gives the instance a port on its host, as the compute service
// does at boot: a new one on the network, made as the caller (owned by compute,
// so deleted with the server or on detach), or the caller's own, then bound to
// the server with compute's credentials. The port is recorded in the instance,
// with the attach_interface action, only if the instance may still take it;
// otherwise it is given back.
func (s *Service) attachPort(r *http.Request, in *instance, req interfaceRequest) (instancePort, error) {
	ctx := r.Context()
	token := r.Header.Get("X-Auth-Token")
	owner := "compute:" + s.zoneOf(in)
	var p Port
	var err error
	created := req.PortID == ""
	if req.PortID != "" {
		cur, err := s.opts.Network.GetPort(ctx, token, req.PortID)
		if err != nil {
			if httpapi.IsStatus(err, http.StatusNotFound) {
				return instancePort{}, notFound("Port %s could not be found.", req.PortID)
			}
			return instancePort{}, err
		}
		if err := portUsable(ctx, cur, in.UUID); err != nil {
			return instancePort{}, err
		}
		net, err := s.opts.Network.GetNetwork(ctx, "", cur.NetworkID)
		if err != nil {
			return instancePort{}, fmt.Errorf("look up network %s of port %s: %w", cur.NetworkID, req.PortID, err)
		}
		if err := s.checkExternalAttach(ctx, net); err != nil {
			return instancePort{}, err
		}
		p, err = s.opts.Network.BindPort(ctx, req.PortID, in.UUID, owner, in.Host)
		if err != nil {
			return instancePort{}, networkFault(err)
		}
	} else {
		netID := req.NetworkID
		if netID == "" {
			if netID, err = s.onlyNetwork(ctx, token, in); err != nil {
				return instancePort{}, err
			}
		}
		net, err := s.opts.Network.GetNetwork(ctx, token, netID)
		if err != nil {
			if httpapi.IsStatus(err, http.StatusNotFound) {
				return instancePort{}, notFound("Network %s could not be found.", netID)
			}
			return instancePort{}, err
		}
		if err := s.checkExternalAttach(ctx, net); err != nil {
			return instancePort{}, err
		}
		made, err := s.opts.Network.CreatePort(ctx, token, PortRequest{ProjectID: in.ProjectID, NetworkID: netID, FixedIP: req.FixedIP,
			SecurityGroups: in.Request.SecurityGroupIDs, DeviceID: in.UUID})
		if err != nil {
			return instancePort{}, networkFault(err)
		}
		if p, err = s.opts.Network.BindPort(ctx, made.ID, in.UUID, owner, in.Host); err != nil {
			s.releasePort(ctx, in, instancePort{ID: made.ID, Created: true})
			return instancePort{}, networkFault(err)
		}
	}
	ip := instancePort{ID: p.ID, NetworkID: p.NetworkID, MAC: p.MAC, Created: created, Tag: req.Tag}
	for _, f := range p.FixedIPs {
		ip.IPs = append(ip.IPs, f.IP.String())
	}
	if n, err := s.opts.Network.GetNetwork(ctx, "", p.NetworkID); err == nil {
		ip.NetworkName, ip.MTU = n.Name, n.MTU
	}
	err = s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadInstance(ctx, tx, in.UUID)
		if err != nil {
			return err
		}
		if cur.Deleted || cur.Host != in.Host || !slices.Contains(interfaceStates, cur.VMState) || cur.TaskState != "" {
			return conflict("Instance %s changed while the interface was being attached; try again.", in.UUID)
		}
		if err := s.checkLocked(r, cur); err != nil {
			return err
		}
		cur.Request.Ports = append(cur.Request.Ports, ip)
		cur.UpdatedAt = stamp(s.now())
		if err := saveInstance(ctx, tx, cur); err != nil {
			return err
		}
		return s.startAction(ctx, tx, r, cur, "attach_interface")
	})
	if err != nil {
		s.releasePort(ctx, in, ip)
		return instancePort{}, err
	}
	s.kick(in.Host)
	return ip, nil
}

// onlyNetwork is the network an attach that names none goes to: the one the
// project may use, as upstream allocates for a request without networks.
func (s *Service) onlyNetwork(ctx context.Context, token string, in *instance) (string, error) {
	nets, err := s.opts.Network.Networks(ctx, token)
	if err != nil {
		return "", err
	}
	switch len(nets) {
	case 0:
		return "", badRequest("No specific network was requested and none are available for project '%s'.", in.ProjectID)
	case 1:
		return nets[0].ID, nil
	}
	return "", badRequest("More than one possible network found. Specify network ID(s) to select which one(s) to connect to.")
}

// detachPort takes the port from the instance (with the detach_interface
// action) and releases it: deleted when compute made it, unbound when the user
// brought it. The host's agent then unplugs it from the guest.
func (s *Service) detachPort(r *http.Request, in *instance, portID string) error {
	ctx := r.Context()
	var gone instancePort
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		cur, err := loadInstance(ctx, tx, in.UUID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(cur.Request.Ports, func(p instancePort) bool { return p.ID == portID })
		if i < 0 {
			return notFound("Port %s is not attached", portID)
		}
		if cur.Deleted || !slices.Contains(interfaceStates, cur.VMState) || cur.TaskState != "" {
			return conflict("Instance %s changed while the interface was being detached; try again.", in.UUID)
		}
		if err := s.checkLocked(r, cur); err != nil {
			return err
		}
		gone = cur.Request.Ports[i]
		cur.Request.Ports = slices.Delete(cur.Request.Ports, i, i+1)
		cur.UpdatedAt = stamp(s.now())
		if err := saveInstance(ctx, tx, cur); err != nil {
			return err
		}
		return s.startAction(ctx, tx, r, cur, "detach_interface")
	})
	if err != nil {
		return err
	}
	s.releasePort(ctx, in, gone)
	s.kick(in.Host)
	return nil
}

// releasePort gives back one port of the instance, as releasePorts does for all.
func (s *Service) releasePort(ctx context.Context, in *instance, p instancePort) {
	var err error
	if p.Created {
		err = s.opts.Network.DeletePort(ctx, p.ID)
	} else {
		err = s.opts.Network.UnbindPort(ctx, p.ID)
	}
	if err != nil && !httpapi.IsStatus(err, http.StatusNotFound) {
		s.log.Warn("release port", "instance", in.UUID, "port", p.ID, "error", err)
	}
}

// networkFault is the network service's refusal (a fixed IP in use: 409, one
// outside the network's subnets: 400, one its policy does not give the caller:
// 403) as the compute fault of the same status; anything else stays an error
// of the service.
func networkFault(err error) error {
	var he *httpapi.Error
	if errors.As(err, &he) && (he.Status == 400 || he.Status == 403 || he.Status == 404 || he.Status == 409) {
		return httpapi.Errorf(he.Status, "%s", he.Message)
	}
	return err
}
