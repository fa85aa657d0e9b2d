package network

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// routerBody is a router as stored; its ports are in router_ports.
type routerBody struct {
	standard
	AdminStateUp          bool         `json:"admin_state_up"`
	Status                string       `json:"status"`
	ExternalGatewayInfo   *gatewayInfo `json:"external_gateway_info"`
	Routes                []hostRoute  `json:"routes"`
	Distributed           bool         `json:"distributed"`
	HA                    bool         `json:"ha"`
	AvailabilityZoneHints []string     `json:"availability_zone_hints"`
	FlavorID              *string      `json:"flavor_id"`
}

// gatewayInfo is a router's external_gateway_info (ext-gw-mode adds enable_snat).
type gatewayInfo struct {
	NetworkID        string    `json:"network_id"`
	EnableSNAT       bool      `json:"enable_snat"`
	ExternalFixedIPs []fixedIP `json:"external_fixed_ips"`
}

var routerAttributes = []string{"name", "description", "project_id", "tenant_id", "admin_state_up",
	"external_gateway_info", "routes", "distributed", "ha", "availability_zone_hints", "flavor_id", "tags"}

// maxRoutes is upstream's max_routes: the extra routes one router may have.
const maxRoutes = 30

func (s *Service) routerRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/routers", Handler: s.listRouters},
		{Method: "POST", Path: "/v2.0/routers", Handler: s.createRouter},
		{Method: "GET", Path: "/v2.0/routers/{id}", Handler: s.showRouter},
		{Method: "PUT", Path: "/v2.0/routers/{id}", Handler: s.updateRouter},
		{Method: "DELETE", Path: "/v2.0/routers/{id}", Handler: s.deleteRouter},
		{Method: "PUT", Path: "/v2.0/routers/{id}/add_router_interface", Handler: s.addRouterInterface},
		{Method: "PUT", Path: "/v2.0/routers/{id}/remove_router_interface", Handler: s.removeRouterInterface},
		{Method: "PUT", Path: "/v2.0/routers/{id}/add_extraroutes", Handler: s.addExtraRoutes},
		{Method: "PUT", Path: "/v2.0/routers/{id}/remove_extraroutes", Handler: s.removeExtraRoutes},
	}
}

// badRouterRequest is upstream's BadRequest(resource='router'): "Bad router request: ...".
func badRouterRequest(format string, args ...any) error {
	return neutronError(http.StatusBadRequest, "BadRequest", "Bad router request: "+format+".", args...)
}

// target is the router as upstream's policy engine sees it.
func (rt *routerBody) target() map[string]any {
	return map[string]any{"id": rt.ID, "project_id": rt.ProjectID, "tenant_id": rt.ProjectID}
}

// routerJSON renders a router; distributed and ha only for those get_router:* allow.
func (s *Service) routerJSON(c caller, rt *routerBody) object {
	o := render(rt)
	// One zone: a router with an agent to host it is in "nova".
	o["availability_zones"] = []string{"nova"}
	s.hideAttributes(c, "router", o, rt.target())
	return o
}

// visibleRouter loads a router the caller may see: 404 otherwise.
func (s *Service) visibleRouter(ctx context.Context, c caller, q db.Querier, id string) (*routerBody, error) {
	var rt routerBody
	if err := loadBody(ctx, q, "routers", id, &rt); err != nil {
		return nil, notFoundIfNoRows(err, "RouterNotFound", "Router", id)
	}
	if !s.allowed(c, "get_router", rt.target()) {
		return nil, notFound("RouterNotFound", "Router", id)
	}
	return &rt, nil
}

func (s *Service) listRouters(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	routers, err := projectBodies[routerBody](r.Context(), s.db, c, "routers")
	if err != nil {
		return httpapi.Response{}, err
	}
	var out []object
	for i := range routers {
		if s.allowed(c, "get_router", routers[i].target()) {
			out = append(out, s.routerJSON(c, &routers[i]))
		}
	}
	return listResponse(r, "routers", out)
}

func (s *Service) showRouter(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	rt, err := s.visibleRouter(r.Context(), c, s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "router", s.routerJSON(c, rt)), nil
}

// apply sets the plain attributes create and update share.
func (rt *routerBody) apply(attrs map[string]any) error {
	for _, f := range []func() error{
		func() error { return attrString(attrs, "name", &rt.Name) },
		func() error { return attrString(attrs, "description", &rt.Description) },
		func() error { return attrBool(attrs, "admin_state_up", &rt.AdminStateUp) },
		func() error { return attrBool(attrs, "distributed", &rt.Distributed) },
		func() error { return attrBool(attrs, "ha", &rt.HA) },
		func() error { return attrStrings(attrs, "availability_zone_hints", &rt.AvailabilityZoneHints) },
		func() error { return attrStrings(attrs, "tags", &rt.Tags) },
	} {
		if err := f(); err != nil {
			return err
		}
	}
	if rt.Distributed {
		return badRouterRequest("Distributed routers are not supported")
	}
	if rt.HA {
		return badRouterRequest("HA routers are not supported")
	}
	for _, z := range rt.AvailabilityZoneHints {
		if z != "nova" {
			return neutronError(http.StatusNotFound, "AvailabilityZoneNotFound", "AvailabilityZone %s could not be found.", z)
		}
	}
	if v, ok := attrs["flavor_id"]; ok && v != nil {
		return neutronError(http.StatusNotFound, "FlavorNotFound", "Flavor %v could not be found.", v)
	}
	return nil
}

func (s *Service) createRouter(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "router", routerAttributeMap, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	if _, ok := attrs["routes"]; ok {
		return httpapi.Response{}, badRequest("Attribute 'routes' not allowed in POST")
	}
	project, err := projectFor(c, attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	gw, err := parseGateway(attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	var rt *routerBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		rt = &routerBody{standard: newStandard(newUUID(), project, stamp(s.now())), AdminStateUp: true,
			Status: "ACTIVE", Routes: []hostRoute{}, AvailabilityZoneHints: []string{}}
		if err := s.authorize(c, "router", "create_router", rt.target(), attrs, true); err != nil {
			return err
		}
		if err := rt.apply(attrs); err != nil {
			return err
		}
		if err := s.checkQuota(r.Context(), tx, project, "router", "routers"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO routers (id, project_id, body) VALUES (?, ?, ?)`,
			rt.ID, project, marshal(rt)); err != nil {
			return err
		}
		if err := s.applyGateway(r.Context(), tx, c, rt, gw); err != nil {
			return err
		}
		return saveBody(r.Context(), tx, "routers", rt.ID, rt)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"router": s.routerJSON(c, rt)}), nil
}

func (s *Service) updateRouter(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "router", routerAttributeMap, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	for _, ro := range []string{"project_id", "tenant_id"} {
		if _, ok := attrs[ro]; ok {
			return httpapi.Response{}, badRequest("Cannot update read-only attribute %s", ro)
		}
	}
	gw, err := parseGateway(attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	var routes []hostRoute
	_, setRoutes := attrs["routes"]
	if setRoutes {
		if routes, err = parseRoutes(attrs["routes"]); err != nil {
			return httpapi.Response{}, err
		}
	}
	var rt *routerBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if rt, err = s.visibleRouter(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.authorize(c, "router", "update_router", rt.target(), attrs, false); err != nil {
			return err
		}
		if err := rt.apply(attrs); err != nil {
			return err
		}
		if err := s.applyGateway(r.Context(), tx, c, rt, gw); err != nil {
			return err
		}
		if setRoutes {
			if err := s.validateRoutes(r.Context(), tx, rt, routes); err != nil {
				return err
			}
			rt.Routes = routes
		}
		rt.touch(stamp(s.now()))
		return saveBody(r.Context(), tx, "routers", rt.ID, rt)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"router": s.routerJSON(c, rt)}), nil
}

// deleteRouter refuses while the router has interfaces (RouterInUse, 409), as
// upstream; its gateway port goes with it.
func (s *Service) deleteRouter(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		rt, err := s.visibleRouter(r.Context(), c, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := s.enforce(c, "delete_router", rt.target()); err != nil {
			return err
		}
		interfaces, err := s.routerPorts(r.Context(), tx, rt.ID, ownerRouterInterface)
		if err != nil {
			return err
		}
		if len(interfaces) > 0 {
			return conflict("RouterInUse", "Router %s still has ports", rt.ID)
		}
		gateways, err := s.routerPorts(r.Context(), tx, rt.ID, ownerRouterGateway)
		if err != nil {
			return err
		}
		for i := range gateways {
			if err := s.removeRouterPort(r.Context(), tx, rt.ID, gateways[i].ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(r.Context(), `DELETE FROM router_ports WHERE router_id = ?`, rt.ID); err != nil {
			return err
		}
		_, err = tx.ExecContext(r.Context(), `DELETE FROM routers WHERE id = ?`, rt.ID)
		return err
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// routerPorts are a router's ports of one kind (interface or gateway).
func (s *Service) routerPorts(ctx context.Context, q db.Querier, routerID, kind string) ([]portBody, error) {
	return loadBodies[portBody](ctx, q, `SELECT p.body FROM ports p JOIN router_ports rp ON rp.port_id = p.id
		WHERE rp.router_id = ? AND rp.port_type = ? ORDER BY p.id`, routerID, kind)
}

func (s *Service) removeRouterPort(ctx context.Context, tx *db.Tx, routerID, portID string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM router_ports WHERE router_id = ? AND port_id = ?`, routerID, portID); err != nil {
		return err
	}
	return s.removePort(ctx, tx, portID)
}

// newServicePort creates a port Neutron itself owns (a router's, a floating IP's)
// with the addresses asked of IPAM. As upstream's internal ports it is outside the
// project's port quota, and it has no port security: it forwards other hosts'
// traffic.
func (s *Service) newServicePort(ctx context.Context, tx *db.Tx, n *networkBody, project, owner, deviceID string, ips ipRequest) (*portBody, error) {
	p := &portBody{standard: newStandard(newUUID(), project, stamp(s.now())), NetworkID: n.ID, AdminStateUp: true,
		Status: "DOWN", DeviceOwner: owner, DeviceID: deviceID, FixedIPs: []fixedIP{},
		AllowedAddressPairs: []addressPair{}, SecurityGroups: []string{}, BindingVNICType: "normal",
		BindingVIFType: "unbound", BindingVIFDetails: map[string]any{}, BindingProfile: map[string]any{},
		ExtraDHCPOpts: []any{}, IPAllocation: "immediate"}
	if owner == ownerFloatingIP {
		p.Status = "N/A" // as upstream: nothing plugs a floating IP's port
	}
	if err := s.insertPort(ctx, tx, p); err != nil {
		return nil, err
	}
	if err := s.assignIPs(ctx, tx, p, n, ips); err != nil {
		return nil, err
	}
	s.bind(p, n)
	return p, saveBody(ctx, tx, "ports", p.ID, p)
}

// gatewayRequest is what a request says about external_gateway_info.
type gatewayRequest struct {
	clear     bool
	networkID string
	snat      *bool
	fixedIPs  []fixedIP
	hasFixed  bool
}

// parseGateway reads external_gateway_info (nil: the request does not set it).
func parseGateway(attrs map[string]any) (*gatewayRequest, error) {
	v, ok := attrs["external_gateway_info"]
	if !ok {
		return nil, nil
	}
	m, isMap := v.(map[string]any)
	if v != nil && !isMap {
		return nil, invalidInput("Invalid data format for external_gateway_info: '%v' is not a dictionary", v)
	}
	if len(m) == 0 {
		return &gatewayRequest{clear: true}, nil
	}
	keys := slices.Sorted(maps.Keys(m))
	provided := "{'" + strings.Join(keys, "', '") + "'}"
	for _, k := range keys {
		if k != "network_id" && k != "enable_snat" && k != "external_fixed_ips" {
			return nil, invalidInput("Validation of dictionary's keys failed. Expected keys: {'network_id'} Provided keys: %s", provided)
		}
	}
	g := &gatewayRequest{}
	id, _ := m["network_id"].(string)
	if id == "" {
		return nil, invalidInput("Validation of dictionary's keys failed. Expected keys: {'network_id'} Provided keys: %s", provided)
	}
	g.networkID = id
	if _, ok := m["enable_snat"]; ok {
		var b bool
		if err := attrBool(m, "enable_snat", &b); err != nil {
			return nil, err
		}
		g.snat = &b
	}
	if f, ok := m["external_fixed_ips"]; ok {
		g.hasFixed = true
		g.fixedIPs = []fixedIP{}
		if f != nil {
			if err := decodeInto(f, &g.fixedIPs, "external_fixed_ips"); err != nil {
				return nil, err
			}
		}
		for _, ip := range g.fixedIPs {
			if ip.SubnetID == "" && ip.IPAddress == "" {
				return nil, invalidInput("Invalid data format for external_fixed_ips: each needs a subnet_id or an ip_address")
			}
		}
	}
	return g, nil
}

// applyGateway sets, changes or clears a router's gateway: a port on the external
// network (device_owner network:router_gateway, project "" as upstream) with an
// address of its subnets or the external_fixed_ips asked for.
func (s *Service) applyGateway(ctx context.Context, tx *db.Tx, c caller, rt *routerBody, g *gatewayRequest) error {
	if g == nil {
		return nil
	}
	ports, err := s.routerPorts(ctx, tx, rt.ID, ownerRouterGateway)
	if err != nil {
		return err
	}
	var current *portBody
	if len(ports) > 0 {
		current = &ports[0]
	}
	if g.clear {
		if current != nil {
			if err := s.gatewayUnused(ctx, tx, rt, current.NetworkID); err != nil {
				return err
			}
			if err := s.removeRouterPort(ctx, tx, rt.ID, current.ID); err != nil {
				return err
			}
		}
		rt.ExternalGatewayInfo = nil
		return nil
	}
	// As upstream, external_gateway_info is replaced whole: SNAT is on unless the
	// request turns it off. (The admin-only sub-attributes were authorized with the
	// request: see attributeRules.)
	snat := true
	if g.snat != nil {
		snat = *g.snat
	}
	n, err := s.visibleNetwork(ctx, c, tx, g.networkID)
	if err != nil {
		return err
	}
	if !n.External {
		return badRouterRequest("Network %s is not an external network", n.ID)
	}
	if current != nil && current.NetworkID == n.ID {
		if g.hasFixed && !sameFixedIPs(current.FixedIPs, g.fixedIPs) {
			if _, err := tx.ExecContext(ctx, `DELETE FROM ip_allocations WHERE port_id = ?`, current.ID); err != nil {
				return err
			}
			current.FixedIPs = []fixedIP{}
			if err := s.assignIPs(ctx, tx, current, n, ipRequest{given: true, fixed: g.fixedIPs}); err != nil {
				return err
			}
			current.touch(stamp(s.now()))
			if err := saveBody(ctx, tx, "ports", current.ID, current); err != nil {
				return err
			}
		}
	} else {
		if current != nil {
			if err := s.gatewayUnused(ctx, tx, rt, current.NetworkID); err != nil {
				return err
			}
			if err := s.removeRouterPort(ctx, tx, rt.ID, current.ID); err != nil {
				return err
			}
		}
		ips := ipRequest{given: g.hasFixed, fixed: g.fixedIPs}
		if current, err = s.newServicePort(ctx, tx, n, "", ownerRouterGateway, rt.ID, ips); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO router_ports (router_id, port_id, port_type) VALUES (?, ?, ?)`,
			rt.ID, current.ID, ownerRouterGateway); err != nil {
			return err
		}
	}
	rt.ExternalGatewayInfo = &gatewayInfo{NetworkID: n.ID, EnableSNAT: snat, ExternalFixedIPs: current.FixedIPs}
	return nil
}

// sameFixedIPs reports whether a port already has exactly the addresses asked
// for (a request may name only subnets).
func sameFixedIPs(have, want []fixedIP) bool {
	if len(have) != len(want) {
		return false
	}
	for i := range want {
		if (want[i].SubnetID != "" && want[i].SubnetID != have[i].SubnetID) ||
			(want[i].IPAddress != "" && want[i].IPAddress != have[i].IPAddress) {
			return false
		}
	}
	return true
}

// gatewayUnused refuses to take a gateway away while floating IPs reach their ports
// through it (RouterExternalGatewayInUseByFloatingIp, 409).
func (s *Service) gatewayUnused(ctx context.Context, tx *db.Tx, rt *routerBody, netID string) error {
	fips, err := s.routerFloatingIPs(ctx, tx, rt.ID)
	if err != nil {
		return err
	}
	for _, f := range fips {
		if f.FloatingNetworkID == netID {
			return conflict("RouterExternalGatewayInUseByFloatingIp", "Gateway cannot be updated for router %s, since a gateway to external network %s is required by one or more floating IPs.", rt.ID, netID)
		}
	}
	return nil
}

// parseRoutes reads a routes attribute: a list of {destination, nexthop}.
func parseRoutes(v any) ([]hostRoute, error) {
	routes := []hostRoute{}
	if v != nil {
		if err := decodeInto(v, &routes, "routes"); err != nil {
			return nil, err
		}
	}
	seen := map[hostRoute]bool{}
	for i, hr := range routes {
		dst, err := parseCIDR(hr.Destination)
		if err != nil {
			return nil, err
		}
		hop, err := netip.ParseAddr(hr.NextHop)
		if err != nil {
			return nil, invalidInput("'%s' is not a valid IP address", hr.NextHop)
		}
		if dst.Addr().Is4() != hop.Is4() {
			return nil, invalidInput("Invalid route %s via %s: IP versions differ", hr.Destination, hr.NextHop)
		}
		routes[i] = hostRoute{Destination: dst.String(), NextHop: hop.String()}
		if seen[routes[i]] {
			return nil, invalidInput("Duplicate hostroute '%s'", formatRoutes(routes[i:i+1]))
		}
		seen[routes[i]] = true
	}
	return routes, nil
}

func formatRoutes(routes []hostRoute) string {
	parts := make([]string, 0, len(routes))
	for _, hr := range routes {
		parts = append(parts, fmt.Sprintf("{'destination': '%s', 'nexthop': '%s'}", hr.Destination, hr.NextHop))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// validateRoutes checks extra routes as upstream: at most maxRoutes, each nexthop
// on a subnet one of the router's ports is on, and not the router's own address.
func (s *Service) validateRoutes(ctx context.Context, q db.Querier, rt *routerBody, routes []hostRoute) error {
	if len(routes) > maxRoutes {
		return neutronError(http.StatusBadRequest, "RoutesExhausted", "Unable to complete operation for %s. The number of routes exceeds the maximum %d.", rt.ID, maxRoutes)
	}
	ports, err := loadBodies[portBody](ctx, q, `SELECT p.body FROM ports p JOIN router_ports rp ON rp.port_id = p.id WHERE rp.router_id = ?`, rt.ID)
	if err != nil {
		return err
	}
	var cidrs []netip.Prefix
	own := map[string]bool{}
	for _, p := range ports {
		for _, f := range p.FixedIPs {
			own[f.IPAddress] = true
			var sb subnetBody
			if err := loadBody(ctx, q, "subnets", f.SubnetID, &sb); err != nil {
				if db.IsNoRows(err) {
					continue
				}
				return err
			}
			cidrs = append(cidrs, sb.prefix())
		}
	}
	for _, hr := range routes {
		hop, _ := netip.ParseAddr(hr.NextHop)
		reason := ""
		switch {
		case own[hop.String()]:
			reason = "the nexthop is used by router"
		case !slices.ContainsFunc(cidrs, func(p netip.Prefix) bool { return p.Contains(hop) }):
			reason = "the nexthop is not connected with router"
		}
		if reason != "" {
			return neutronError(http.StatusBadRequest, "InvalidRoutes", "Invalid format for routes: %s, %s.", formatRoutes([]hostRoute{hr}), reason)
		}
	}
	return nil
}

// extraRoutes handles the extraroute-atomic actions: routes are added to or removed
// from the router's list in one transaction, so concurrent callers do not lose
// each other's routes.
func (s *Service) extraRoutes(r *http.Request, add bool) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := requestBody(r, "router", []string{"routes"})
	if err != nil {
		return httpapi.Response{}, err
	}
	// Upstream checks these routes only once merged, as update_router's; their
	// own check answers as that attribute's (type:hostroutes) rather than a 500.
	if msg := validHostRoutes(attrs["routes"]); msg != "" {
		return httpapi.Response{}, badRequest("Invalid input for routes. Reason: %s.", msg)
	}
	routes, err := parseRoutes(attrs["routes"])
	if err != nil {
		return httpapi.Response{}, err
	}
	action := "remove_extraroutes"
	if add {
		action = "add_extraroutes"
	}
	var rt *routerBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if rt, err = s.visibleRouter(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.enforce(c, action, rt.target()); err != nil {
			return err
		}
		next := slices.Clone(rt.Routes)
		for _, hr := range routes {
			has := slices.Contains(next, hr)
			switch {
			case add && !has:
				next = append(next, hr)
			case !add && has:
				next = slices.DeleteFunc(next, func(o hostRoute) bool { return o == hr })
			}
		}
		if add {
			if err := s.validateRoutes(r.Context(), tx, rt, next); err != nil {
				return err
			}
		}
		rt.Routes = next
		rt.touch(stamp(s.now()))
		return saveBody(r.Context(), tx, "routers", rt.ID, rt)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"router": s.routerJSON(c, rt)}), nil
}

func (s *Service) addExtraRoutes(r *http.Request) (httpapi.Response, error) {
	return s.extraRoutes(r, true)
}
func (s *Service) removeExtraRoutes(r *http.Request) (httpapi.Response, error) {
	return s.extraRoutes(r, false)
}
