package network

import (
	"context"
	"net/http"
	"net/netip"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// interfaceInfo is the body of add/remove_router_interface: {"subnet_id"} or {"port_id"}.
type interfaceInfo struct{ subnetID, portID string }

// parseInterfaceInfo checks the body as upstream's _validate_interface_info
// (neutron/db/l3_db.py): one of the keys named, each named one a UUID (a null
// one too: validate_uuid refuses None), and not both when adding.
func parseInterfaceInfo(r *http.Request, adding bool) (interfaceInfo, error) {
	var body map[string]any
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return interfaceInfo{}, badRequest("%s", err.Error())
	}
	_, portGiven := body["port_id"]
	_, subnetGiven := body["subnet_id"]
	if !portGiven && !subnetGiven {
		return interfaceInfo{}, badRouterRequest("Either subnet_id or port_id must be specified")
	}
	var info interfaceInfo
	for _, key := range []string{"port_id", "subnet_id"} {
		v, ok := body[key]
		if !ok {
			continue
		}
		if msg := validUUID(v); msg != "" {
			return interfaceInfo{}, badRouterRequest("%s", msg)
		}
		if key == "port_id" {
			info.portID = v.(string)
		} else {
			info.subnetID = v.(string)
		}
	}
	if adding && portGiven && subnetGiven {
		return info, badRouterRequest("Cannot specify both subnet-id and port-id")
	}
	return info, nil
}

// interfaceJSON is upstream's answer to add/remove_router_interface.
func interfaceJSON(rt *routerBody, p *portBody, subnets []string) map[string]any {
	first := ""
	if len(subnets) > 0 {
		first = subnets[0]
	}
	return map[string]any{"id": rt.ID, "tenant_id": rt.ProjectID, "project_id": rt.ProjectID, "port_id": p.ID,
		"subnet_id": first, "subnet_ids": subnets, "network_id": p.NetworkID}
}

func portSubnets(p *portBody) []string {
	out := []string{}
	for _, f := range p.FixedIPs {
		if !slices.Contains(out, f.SubnetID) {
			out = append(out, f.SubnetID)
		}
	}
	return out
}

// checkRouterSubnets refuses what upstream's _check_for_dup_router_subnets does: a
// subnet the router already has a port on (its gateway included), or one whose
// CIDR overlaps one of those.
func (s *Service) checkRouterSubnets(ctx context.Context, tx *db.Tx, rt *routerBody, added []*subnetBody) error {
	ports, err := loadBodies[portBody](ctx, tx, `SELECT p.body FROM ports p JOIN router_ports rp ON rp.port_id = p.id WHERE rp.router_id = ?`, rt.ID)
	if err != nil {
		return err
	}
	for _, p := range ports {
		for _, id := range portSubnets(&p) {
			var have subnetBody
			if err := loadBody(ctx, tx, "subnets", id, &have); err != nil {
				if db.IsNoRows(err) {
					continue
				}
				return err
			}
			for _, sb := range added {
				if sb.ID == have.ID {
					return badRouterRequest("Router already has a port on subnet %s", sb.ID)
				}
				if sb.prefix().Overlaps(have.prefix()) {
					return badRouterRequest("Cidr %s of subnet %s overlaps with cidr %s of subnet %s", sb.CIDR, sb.ID, have.CIDR, have.ID)
				}
			}
		}
	}
	return nil
}

// addRouterInterface connects a router to a subnet: by subnet (a new port with the
// subnet's gateway address) or by an unused port of the caller.
func (s *Service) addRouterInterface(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	info, err := parseInterfaceInfo(r, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	var rt *routerBody
	var p *portBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if rt, err = s.visibleRouter(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.enforce(c, "add_router_interface", rt.target()); err != nil {
			return err
		}
		if info.portID != "" {
			p, err = s.routerInterfaceByPort(r.Context(), tx, c, rt, info.portID)
		} else {
			p, err = s.routerInterfaceBySubnet(r.Context(), tx, c, rt, info.subnetID)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO router_ports (router_id, port_id, port_type) VALUES (?, ?, ?)`,
			rt.ID, p.ID, ownerRouterInterface); err != nil {
			return err
		}
		rt.touch(stamp(s.now()))
		return saveBody(r.Context(), tx, "routers", rt.ID, rt)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(interfaceJSON(rt, p, portSubnets(p))), nil
}

func (s *Service) routerInterfaceBySubnet(ctx context.Context, tx *db.Tx, c caller, rt *routerBody, subnetID string) (*portBody, error) {
	sb, n, err := s.visibleSubnet(ctx, c, tx, subnetID)
	if err != nil {
		return nil, err
	}
	if sb.GatewayIP == nil {
		return nil, badRouterRequest("Subnet for router interface must have a gateway IP")
	}
	// The interface takes the subnet's gateway address: on a subnet of another
	// project (a shared network's) it would take every tenant's traffic. Upstream
	// refuses it (LP#1757482) unless the network is shared with the caller's project
	// by an RBAC entry of its own, which Nimbus does not have.
	if sb.ProjectID != c.project && !c.admin {
		return nil, badRouterRequest("Cannot add interface to router because subnet %s is not owned by project making the request", subnetID)
	}
	if err := s.checkRouterSubnets(ctx, tx, rt, []*subnetBody{sb}); err != nil {
		return nil, err
	}
	return s.newServicePort(ctx, tx, n, rt.ProjectID, ownerRouterInterface, rt.ID,
		ipRequest{given: true, fixed: []fixedIP{{SubnetID: sb.ID, IPAddress: *sb.GatewayIP}}})
}

func (s *Service) routerInterfaceByPort(ctx context.Context, tx *db.Tx, c caller, rt *routerBody, portID string) (*portBody, error) {
	p, n, err := s.visiblePort(ctx, c, tx, portID)
	if err != nil {
		return nil, err
	}
	if p.DeviceID != "" {
		return nil, conflict("PortInUse", "Unable to complete operation on port %s for network %s. Port already has an attached device %s.", p.ID, n.ID, p.DeviceID)
	}
	if len(p.FixedIPs) == 0 {
		return nil, badRouterRequest("Router port must have at least one fixed IP")
	}
	var subnets []*subnetBody
	v4 := 0
	for _, id := range portSubnets(p) {
		var sb subnetBody
		if err := loadBody(ctx, tx, "subnets", id, &sb); err != nil {
			return nil, err
		}
		if sb.IPVersion == 4 {
			v4++
		}
		subnets = append(subnets, &sb)
	}
	if err := s.checkRouterSubnets(ctx, tx, rt, subnets); err != nil {
		return nil, err
	}
	if v4 > 1 {
		return nil, badRouterRequest("Cannot have multiple IPv4 subnets on router port")
	}
	if err := portInPoolsOrOwner(c, p, subnets); err != nil {
		return nil, err
	}
	p.DeviceID, p.DeviceOwner = rt.ID, ownerRouterInterface
	p.touch(stamp(s.now()))
	// Conditional on the port being free, as read above.
	res, err := tx.ExecContext(ctx, `UPDATE ports SET device_id = ? WHERE id = ? AND device_id = ''`, p.DeviceID, p.ID)
	if err != nil {
		return nil, err
	}
	if taken, err := res.RowsAffected(); err != nil {
		return nil, err
	} else if taken != 1 {
		return nil, conflict("PortInUse", "Unable to complete operation on port %s for network %s. Port already has an attached device.", p.ID, n.ID)
	}
	return p, saveBody(ctx, tx, "ports", p.ID, p)
}

// portInPoolsOrOwner is upstream's _validate_port_in_range_or_admin: a port whose
// address is outside the allocation pools of a subnet the caller does not own (a
// shared subnet's gateway address, which an admin may have given it) is refused as
// a router interface, lest the router take the subnet's gateway.
func portInPoolsOrOwner(c caller, p *portBody, subnets []*subnetBody) error {
	if c.admin {
		return nil
	}
	for _, f := range p.FixedIPs {
		i := slices.IndexFunc(subnets, func(sb *subnetBody) bool { return sb.ID == f.SubnetID })
		if i < 0 || subnets[i].ProjectID == c.project {
			continue
		}
		a, err := netip.ParseAddr(f.IPAddress)
		if err != nil || !inPools(subnets[i].AllocationPools, a) {
			return badRouterRequest("Cannot add interface to router because specified port %s has an IP address out of the allocation pool of subnet %s, which is not owned by the project making the request",
				p.ID, f.SubnetID)
		}
	}
	return nil
}

// inPools reports whether a is in one of the pools.
func inPools(pools []pool, a netip.Addr) bool {
	for _, p := range pools {
		start, err1 := netip.ParseAddr(p.Start)
		end, err2 := netip.ParseAddr(p.End)
		if err1 == nil && err2 == nil && !a.Less(start) && !end.Less(a) {
			return true
		}
	}
	return false
}

// removeRouterInterface disconnects a router from a subnet or removes one of its
// interface ports; the port goes, or for a port with other subnets, its address
// on that subnet.
func (s *Service) removeRouterInterface(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	info, err := parseInterfaceInfo(r, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	var rt *routerBody
	var p *portBody
	var removed []string
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if rt, err = s.visibleRouter(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.enforce(c, "remove_router_interface", rt.target()); err != nil {
			return err
		}
		interfaces, err := s.routerPorts(r.Context(), tx, rt.ID, ownerRouterInterface)
		if err != nil {
			return err
		}
		switch {
		case info.portID != "":
			i := slices.IndexFunc(interfaces, func(q portBody) bool { return q.ID == info.portID })
			if i < 0 {
				return neutronError(http.StatusNotFound, "RouterInterfaceNotFound", "Router %s does not have an interface with id %s", rt.ID, info.portID)
			}
			p = &interfaces[i]
			removed = portSubnets(p)
			if info.subnetID != "" && !slices.Contains(removed, info.subnetID) {
				return neutronError(http.StatusBadRequest, "SubnetMismatchForPort", "Subnet %s does not match any subnet on port %s", info.subnetID, info.portID)
			}
		default:
			i := slices.IndexFunc(interfaces, func(q portBody) bool { return slices.Contains(portSubnets(&q), info.subnetID) })
			if i < 0 {
				if _, _, err := s.visibleSubnet(r.Context(), c, tx, info.subnetID); err != nil {
					return err
				}
				return neutronError(http.StatusNotFound, "RouterInterfaceNotFoundForSubnet", "Router %s has no interface on subnet %s", rt.ID, info.subnetID)
			}
			p = &interfaces[i]
			removed = []string{info.subnetID}
		}
		if err := s.interfaceUnused(r.Context(), tx, rt, removed); err != nil {
			return err
		}
		if len(portSubnets(p)) > len(removed) { // only that subnet's address goes
			p.FixedIPs = slices.DeleteFunc(p.FixedIPs, func(f fixedIP) bool { return f.SubnetID == info.subnetID })
			if _, err := tx.ExecContext(r.Context(), `DELETE FROM ip_allocations WHERE port_id = ? AND subnet_id = ?`, p.ID, info.subnetID); err != nil {
				return err
			}
			p.touch(stamp(s.now()))
			if err := saveBody(r.Context(), tx, "ports", p.ID, p); err != nil {
				return err
			}
		} else if err := s.removeRouterPort(r.Context(), tx, rt.ID, p.ID); err != nil {
			return err
		}
		rt.touch(stamp(s.now()))
		return saveBody(r.Context(), tx, "routers", rt.ID, rt)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(interfaceJSON(rt, p, removed)), nil
}

// interfaceUnused refuses to disconnect subnets that floating IPs or extra routes
// of the router still need, as upstream (409).
func (s *Service) interfaceUnused(ctx context.Context, tx *db.Tx, rt *routerBody, subnetIDs []string) error {
	fips, err := s.routerFloatingIPs(ctx, tx, rt.ID)
	if err != nil {
		return err
	}
	for _, id := range subnetIDs {
		var sb subnetBody
		if err := loadBody(ctx, tx, "subnets", id, &sb); err != nil {
			if db.IsNoRows(err) {
				continue
			}
			return err
		}
		for _, f := range fips {
			if f.FixedIPAddress == nil {
				continue
			}
			if a, err := netip.ParseAddr(*f.FixedIPAddress); err == nil && sb.prefix().Contains(a) {
				return conflict("RouterInterfaceInUseByFloatingIP", "Router interface for subnet %s on router %s cannot be deleted, as it is required by one or more floating IPs.", id, rt.ID)
			}
		}
		for _, hr := range rt.Routes {
			if a, err := netip.ParseAddr(hr.NextHop); err == nil && sb.prefix().Contains(a) {
				return conflict("RouterInterfaceInUseByRoute", "Router interface for subnet %s on router %s cannot be deleted, as it is required by one or more routes.", id, rt.ID)
			}
		}
	}
	return nil
}

// routerFloatingIPs are the floating IPs associated through a router.
func (s *Service) routerFloatingIPs(ctx context.Context, q db.Querier, routerID string) ([]floatingIPBody, error) {
	fips, err := loadBodies[floatingIPBody](ctx, q, `SELECT body FROM floatingips WHERE port_id IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(fips, func(f floatingIPBody) bool { return f.RouterID == nil || *f.RouterID != routerID }), nil
}
