package network

import (
	"context"
	"net/http"
	"net/netip"
	"strings"
)

// MetadataInstance identifies the instance behind a metadata request that reached
// router routerID from ip, as upstream's metadata agent does: the router's tenant
// networks (those it has a network:router_interface port on), then the one port of
// those networks with ip as a fixed IP, whose device_id is the instance and whose
// project is the instance's. Neutron's own ports (network:* owners) and ports with
// no device don't count. No such port, or more than one (upstream answers only
// for exactly one), is an *httpapi.Error with status 404, which the metadata proxy
// answers as 404 without asking the compute metadata API.
func (s *Service) MetadataInstance(ctx context.Context, routerID string, ip netip.Addr) (instanceID, projectID string, err error) {
	ip = ip.Unmap()
	ports, err := loadBodies[portBody](ctx, s.db, `SELECT p.body FROM ip_allocations a JOIN ports p ON p.id = a.port_id
		WHERE a.ip_address = ? AND a.network_id IN (
			SELECT q.network_id FROM router_ports rp JOIN ports q ON q.id = rp.port_id
			WHERE rp.router_id = ? AND rp.port_type = ?)
		ORDER BY p.id`, ip.String(), routerID, ownerRouterInterface)
	if err != nil {
		return "", "", err
	}
	return onlyInstance(ports, func() error { return metadataInstanceNotFound(routerID, ip) })
}

// MetadataNetworkInstance identifies the instance behind a metadata request that
// reached the DHCP namespace of network networkID from ip (a network no router
// serves; upstream's X-Neutron-Network-ID): the one port of that network with ip as
// a fixed IP, by the same rules as MetadataInstance.
func (s *Service) MetadataNetworkInstance(ctx context.Context, networkID string, ip netip.Addr) (instanceID, projectID string, err error) {
	ip = ip.Unmap()
	ports, err := loadBodies[portBody](ctx, s.db, `SELECT p.body FROM ip_allocations a JOIN ports p ON p.id = a.port_id
		WHERE a.ip_address = ? AND a.network_id = ? ORDER BY p.id`, ip.String(), networkID)
	if err != nil {
		return "", "", err
	}
	return onlyInstance(ports, func() error {
		return neutronError(http.StatusNotFound, "PortNotFound", "No instance port with IP address %s on network %s.", ip, networkID)
	})
}

// onlyInstance is the device and project of the one instance port among ports
// (Neutron's own ports and ports without a device left out), or notFound's error.
func onlyInstance(ports []portBody, notFound func() error) (instanceID, projectID string, err error) {
	var found *portBody
	for i := range ports {
		p := &ports[i]
		if p.DeviceID == "" || strings.HasPrefix(p.DeviceOwner, "network:") {
			continue
		}
		if found != nil && found.ID != p.ID {
			return "", "", notFound()
		}
		found = p
	}
	if found == nil {
		return "", "", notFound()
	}
	return found.DeviceID, found.ProjectID, nil
}

func metadataInstanceNotFound(routerID string, ip netip.Addr) error {
	return neutronError(http.StatusNotFound, "PortNotFound",
		"No instance port with IP address %s on the networks of router %s.", ip, routerID)
}
