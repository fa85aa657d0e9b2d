package network

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// subnetBody is a subnet as stored.
type subnetBody struct {
	standard
	NetworkID         string      `json:"network_id"`
	IPVersion         int         `json:"ip_version"`
	CIDR              string      `json:"cidr"`
	GatewayIP         *string     `json:"gateway_ip"`
	EnableDHCP        bool        `json:"enable_dhcp"`
	AllocationPools   []pool      `json:"allocation_pools"`
	DNSNameservers    []string    `json:"dns_nameservers"`
	HostRoutes        []hostRoute `json:"host_routes"`
	IPv6RAMode        *string     `json:"ipv6_ra_mode"`
	IPv6AddressMode   *string     `json:"ipv6_address_mode"`
	SubnetpoolID      *string     `json:"subnetpool_id"`
	SegmentID         *string     `json:"segment_id"`
	ServiceTypes      []string    `json:"service_types"`
	DNSPublishFixedIP bool        `json:"dns_publish_fixed_ip"`
}

type hostRoute struct {
	Destination string `json:"destination"`
	NextHop     string `json:"nexthop"`
}

var subnetAttributes = []string{"name", "description", "project_id", "tenant_id", "network_id", "ip_version", "cidr",
	"gateway_ip", "enable_dhcp", "allocation_pools", "dns_nameservers", "host_routes", "ipv6_ra_mode",
	"ipv6_address_mode", "subnetpool_id", "segment_id", "service_types", "dns_publish_fixed_ip", "tags", "prefixlen",
	"use_default_subnetpool"}

func (s *Service) subnetRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/subnets", Handler: s.listSubnets},
		{Method: "POST", Path: "/v2.0/subnets", Handler: s.createSubnet},
		{Method: "GET", Path: "/v2.0/subnets/{id}", Handler: s.showSubnet},
		{Method: "PUT", Path: "/v2.0/subnets/{id}", Handler: s.updateSubnet},
		{Method: "DELETE", Path: "/v2.0/subnets/{id}", Handler: s.deleteSubnet},
	}
}

func (sb *subnetBody) prefix() netip.Prefix {
	p, _ := netip.ParsePrefix(sb.CIDR)
	return p
}

func (sb *subnetBody) gateway() netip.Addr {
	if sb.GatewayIP == nil {
		return netip.Addr{}
	}
	a, _ := netip.ParseAddr(*sb.GatewayIP)
	return a
}

// subnetTarget is a subnet as upstream's policy engine sees it: its attributes, its
// network's shared and router:external (which subnets show), and network:project_id,
// the network's owner (upstream's OwnerCheck looks it up).
func subnetTarget(sb *subnetBody, n *networkBody) map[string]any {
	return map[string]any{"id": sb.ID, "project_id": sb.ProjectID, "tenant_id": sb.ProjectID, "network_id": n.ID,
		"network:project_id": n.ProjectID, "network:tenant_id": n.ProjectID,
		"shared": n.Shared, "router:external": n.External}
}

// subnetJSON renders a subnet without the attributes the caller may not see
// (segment_id is admin's).
func (s *Service) subnetJSON(c caller, sb *subnetBody, n *networkBody) object {
	o := render(sb)
	s.hideAttributes(c, "subnet", o, subnetTarget(sb, n))
	return o
}

// networksByID loads every network once, for list visibility checks.
func (s *Service) networksByID(ctx context.Context, q db.Querier) (map[string]*networkBody, error) {
	nets, err := loadBodies[networkBody](ctx, q, `SELECT body FROM networks`)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*networkBody, len(nets))
	for i := range nets {
		out[nets[i].ID] = &nets[i]
	}
	return out, nil
}

func (s *Service) listSubnets(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	nets, err := s.networksByID(r.Context(), s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	subs, err := loadBodies[subnetBody](r.Context(), s.db, `SELECT body FROM subnets`)
	if err != nil {
		return httpapi.Response{}, err
	}
	var out []object
	for i := range subs {
		if n := nets[subs[i].NetworkID]; n != nil && s.allowed(c, "get_subnet", subnetTarget(&subs[i], n)) {
			out = append(out, s.subnetJSON(c, &subs[i], n))
		}
	}
	return listResponse(r, "subnets", out)
}

// visibleSubnet loads a subnet and its network, 404 when the caller may not see it.
func (s *Service) visibleSubnet(ctx context.Context, c caller, q db.Querier, id string) (*subnetBody, *networkBody, error) {
	var sb subnetBody
	if err := loadBody(ctx, q, "subnets", id, &sb); err != nil {
		return nil, nil, notFoundIfNoRows(err, "SubnetNotFound", "Subnet", id)
	}
	var n networkBody
	if err := loadBody(ctx, q, "networks", sb.NetworkID, &n); err != nil {
		return nil, nil, err
	}
	if !s.allowed(c, "get_subnet", subnetTarget(&sb, &n)) {
		return nil, nil, notFound("SubnetNotFound", "Subnet", id)
	}
	return &sb, &n, nil
}

func (s *Service) showSubnet(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	sb, n, err := s.visibleSubnet(r.Context(), c, s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "subnet", s.subnetJSON(c, sb, n)), nil
}

func (s *Service) createSubnet(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "subnet", subnetAttributeMap, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	project, err := projectFor(c, attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	netID, _ := attrs["network_id"].(string)
	if netID == "" {
		return httpapi.Response{}, badRequest("Failed to parse request. Required attribute 'network_id' not specified")
	}
	sb := &subnetBody{standard: newStandard(newUUID(), project, stamp(s.now())), NetworkID: netID, EnableDHCP: true,
		DNSNameservers: []string{}, HostRoutes: []hostRoute{}, ServiceTypes: []string{}}
	if err := attrInt(attrs, "ip_version", &sb.IPVersion); err != nil {
		return httpapi.Response{}, err
	}
	if err := attrString(attrs, "cidr", &sb.CIDR); err != nil {
		return httpapi.Response{}, err
	}
	var req subnetRequest
	if err := attrInt(attrs, "prefixlen", &req.prefixLen); err != nil {
		return httpapi.Response{}, err
	}
	if sb.CIDR != "" {
		if req.cidr, err = parseCIDR(sb.CIDR); err != nil {
			return httpapi.Response{}, err
		}
	}
	if sb.IPVersion == 0 {
		return httpapi.Response{}, badRequest("Failed to parse request. Required attribute 'ip_version' not specified")
	}
	if sb.IPVersion != 4 && sb.IPVersion != 6 {
		return httpapi.Response{}, badRequest("Invalid input for ip_version. Reason: %d is not in [4, 6].", sb.IPVersion)
	}
	if req.cidr.IsValid() && (sb.IPVersion == 4) != req.cidr.Addr().Is4() {
		return httpapi.Response{}, invalidInput("Cidr %s does not match ip_version %d", sb.CIDR, sb.IPVersion)
	}
	var n *networkBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		sb.SubnetpoolID, sb.GatewayIP, sb.AllocationPools = nil, nil, nil // from the start when the transaction runs again
		pool, err := s.subnetPoolFor(r.Context(), c, tx, attrs, sb.IPVersion)
		if err != nil {
			return err
		}
		prefix := req.cidr
		if pool == nil && !prefix.IsValid() {
			return badSubnetsRequest("a subnetpool must be specified in the absence of a cidr")
		}
		if pool != nil {
			if prefix, err = s.allocateSubnet(r.Context(), tx, pool, project, req); err != nil {
				return err
			}
			sb.SubnetpoolID = &pool.ID
		}
		if err := sb.settle(attrs, prefix); err != nil {
			return err
		}
		// Only the network's owner (or an admin) adds subnets to it: a member's
		// subnet on an external network would serve other tenants' floating IPs. A
		// network the caller cannot see is not found.
		if n, err = s.visibleNetwork(r.Context(), c, tx, netID); err != nil {
			return err
		}
		if err := s.authorize(c, "subnet", "create_subnet", subnetTarget(sb, n), attrs, true); err != nil {
			return err
		}
		if err := s.checkQuota(r.Context(), tx, project, "subnet", "subnets"); err != nil {
			return err
		}
		others, err := loadBodies[subnetBody](r.Context(), tx, `SELECT body FROM subnets WHERE network_id = ?`, netID)
		if err != nil {
			return err
		}
		for _, o := range others {
			if o.prefix().Overlaps(prefix) {
				return invalidInput("Requested subnet with cidr: %s for network: %s overlaps with another subnet", sb.CIDR, netID)
			}
		}
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO subnets (id, network_id, project_id, subnetpool_id, body) VALUES (?, ?, ?, ?, ?)`,
			sb.ID, netID, project, sb.SubnetpoolID, marshal(sb)); err != nil {
			return err
		}
		if sb.autoAddress() {
			if err := s.addAutoAddresses(r.Context(), tx, sb); err != nil {
				return err
			}
		}
		return s.touchNetwork(r.Context(), tx, netID)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"subnet": s.subnetJSON(c, sb, n)}), nil
}

// settle sets the attributes of a new subnet of prefix (given or allocated from a
// pool) and checks them: the gateway (by default the first address; null: none),
// the allocation pools (by default the whole range but the gateway), the rest of
// the body and the IPv6 modes.
func (sb *subnetBody) settle(attrs map[string]any, prefix netip.Prefix) error {
	sb.CIDR = prefix.String()
	gw := prefix.Addr().Next()
	if v, ok := attrs["gateway_ip"]; ok {
		var err error
		if v == nil {
			gw = netip.Addr{}
		} else if gw, err = parseAddr(v, "gateway_ip"); err != nil {
			return err
		}
	}
	if gw.IsValid() {
		g := gw.String()
		sb.GatewayIP = &g
	}
	if err := sb.apply(attrs); err != nil {
		return err
	}
	if _, ok := attrs["allocation_pools"]; !ok {
		sb.AllocationPools = defaultPools(prefix, gw)
	}
	if err := sb.validate(); err != nil {
		return err
	}
	return sb.applyIPv6Modes(attrs)
}

// touchNetwork bumps a network's revision when its subnets change, as upstream.
func (s *Service) touchNetwork(ctx context.Context, tx *db.Tx, id string) error {
	var n networkBody
	if err := loadBody(ctx, tx, "networks", id, &n); err != nil {
		return err
	}
	n.touch(stamp(s.now()))
	return saveBody(ctx, tx, "networks", id, &n)
}

// apply sets the attributes create and update share.
func (sb *subnetBody) apply(attrs map[string]any) error {
	if err := attrString(attrs, "name", &sb.Name); err != nil {
		return err
	}
	if err := attrString(attrs, "description", &sb.Description); err != nil {
		return err
	}
	if err := attrBool(attrs, "enable_dhcp", &sb.EnableDHCP); err != nil {
		return err
	}
	if err := attrBool(attrs, "dns_publish_fixed_ip", &sb.DNSPublishFixedIP); err != nil {
		return err
	}
	if err := attrStrings(attrs, "dns_nameservers", &sb.DNSNameservers); err != nil {
		return err
	}
	if err := attrStrings(attrs, "tags", &sb.Tags); err != nil {
		return err
	}
	if err := attrStrings(attrs, "service_types", &sb.ServiceTypes); err != nil {
		return err
	}
	if v, ok := attrs["allocation_pools"]; ok {
		if err := decodeInto(v, &sb.AllocationPools, "allocation_pools"); err != nil {
			return err
		}
	}
	if v, ok := attrs["host_routes"]; ok {
		if err := decodeInto(v, &sb.HostRoutes, "host_routes"); err != nil {
			return err
		}
	}
	if sb.AllocationPools == nil {
		sb.AllocationPools = []pool{}
	}
	if sb.HostRoutes == nil {
		sb.HostRoutes = []hostRoute{}
	}
	return nil
}

// validate checks a subnet's addresses as upstream does: gateway, pools, DNS
// servers and host routes must be well-formed, inside the subnet where they must be,
// and must not overlap each other or the gateway.
func (sb *subnetBody) validate() error {
	prefix := sb.prefix()
	gw := sb.gateway()
	if gw.IsValid() {
		if gw.Is4() != prefix.Addr().Is4() {
			return invalidInput("Gateway IP version inconsistent with subnet IP version")
		}
		if prefix.Addr().Is4() && prefix.Bits() < 31 && (gw == prefix.Addr() || gw == lastAddr(prefix)) {
			return invalidInput("Gateway is not valid on subnet")
		}
	}
	ranges := make([][2]netip.Addr, 0, len(sb.AllocationPools))
	for _, p := range sb.AllocationPools {
		s, err1 := netip.ParseAddr(p.Start)
		e, err2 := netip.ParseAddr(p.End)
		if err1 != nil || err2 != nil || e.Less(s) {
			return badRequest("The allocation pool %s-%s is not valid.", p.Start, p.End)
		}
		if !prefix.Contains(s) || !prefix.Contains(e) {
			return badRequest("The allocation pool %s-%s spans beyond the subnet cidr %s.", p.Start, p.End, sb.CIDR)
		}
		if gw.IsValid() && !gw.Less(s) && !e.Less(gw) {
			return conflict("GatewayConflictWithAllocationPools", "Gateway ip %s conflicts with allocation pool %s-%s.", gw, p.Start, p.End)
		}
		for _, o := range ranges {
			if !e.Less(o[0]) && !o[1].Less(s) {
				return badRequest("Found overlapping allocation pools: %s-%s and %s-%s for subnet %s.", o[0], o[1], s, e, sb.CIDR)
			}
		}
		ranges = append(ranges, [2]netip.Addr{s, e})
	}
	seen := map[string]bool{}
	for _, d := range sb.DNSNameservers {
		if _, err := netip.ParseAddr(d); err != nil {
			return invalidInput("'%s' is not a valid nameserver. '%s' is not a valid IP address", d, d)
		}
		if seen[d] {
			return invalidInput("Duplicate nameserver '%s'", d)
		}
		seen[d] = true
	}
	for _, hr := range sb.HostRoutes {
		if _, err := netip.ParsePrefix(hr.Destination); err != nil {
			return invalidInput("'%s' is not a valid CIDR for host route destination", hr.Destination)
		}
		if _, err := netip.ParseAddr(hr.NextHop); err != nil {
			return invalidInput("'%s' is not a valid IP address for host route nexthop", hr.NextHop)
		}
	}
	return nil
}

func (s *Service) updateSubnet(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "subnet", subnetAttributeMap, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	for _, ro := range []string{"cidr", "ip_version", "network_id", "project_id", "tenant_id", "ipv6_ra_mode", "ipv6_address_mode"} {
		if _, ok := attrs[ro]; ok {
			return httpapi.Response{}, badRequest("Cannot update read-only attribute %s", ro)
		}
	}
	var sb *subnetBody
	var n *networkBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if sb, n, err = s.visibleSubnet(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.authorize(c, "subnet", "update_subnet", subnetTarget(sb, n), attrs, false); err != nil {
			return err
		}
		if v, ok := attrs["gateway_ip"]; ok {
			if v == nil {
				sb.GatewayIP = nil
			} else {
				gw, err := parseAddr(v, "gateway_ip")
				if err != nil {
					return err
				}
				g := gw.String()
				sb.GatewayIP = &g
			}
		}
		if v, ok := attrs["enable_dhcp"].(bool); ok && !v && sb.IPVersion == 6 && (sb.IPv6RAMode != nil || sb.IPv6AddressMode != nil) {
			return invalidInput("Cannot disable enable_dhcp with ipv6 attributes set")
		}
		if err := sb.apply(attrs); err != nil {
			return err
		}
		if err := sb.validate(); err != nil {
			return err
		}
		sb.touch(stamp(s.now()))
		return saveBody(r.Context(), tx, "subnets", sb.ID, sb)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"subnet": s.subnetJSON(c, sb, n)}), nil
}

// deleteSubnet refuses while a port other than Neutron's own (DHCP) holds an
// address of it, as upstream (SubnetInUse, 409).
func (s *Service) deleteSubnet(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	id := r.PathValue("id")
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		sb, n, err := s.visibleSubnet(r.Context(), c, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(c, "delete_subnet", subnetTarget(sb, n)); err != nil {
			return err
		}
		ports, err := loadBodies[portBody](r.Context(), tx,
			`SELECT p.body FROM ports p JOIN ip_allocations a ON a.port_id = p.id WHERE a.subnet_id = ?`, id)
		if err != nil {
			return err
		}
		for i := range ports {
			// An auto-address subnet's addresses are the ports' own (EUI-64) and go
			// with it, as upstream; only a router interface holds it.
			if ports[i].DeviceOwner != ownerDHCP && (!sb.autoAddress() || ports[i].DeviceOwner == ownerRouterInterface) {
				return conflict("SubnetInUse", "Unable to complete operation on subnet %s: One or more ports have an IP allocation from this subnet.", id)
			}
		}
		for i := range ports { // the ports keep their other addresses
			p := &ports[i]
			p.FixedIPs = slices.DeleteFunc(p.FixedIPs, func(f fixedIP) bool { return f.SubnetID == id })
			if err := saveBody(r.Context(), tx, "ports", p.ID, p); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(r.Context(), `DELETE FROM ip_allocations WHERE subnet_id = ?`, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(r.Context(), `DELETE FROM subnets WHERE id = ?`, id); err != nil {
			return err
		}
		return s.touchNetwork(r.Context(), tx, sb.NetworkID)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// parseCIDR accepts only a network address with its prefix, as upstream.
func parseCIDR(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, invalidInput("'%s' is not a valid IP subnet", s)
	}
	if p.Masked() != p {
		return netip.Prefix{}, invalidInput("'%s' isn't a recommended CIDR, use '%s' instead", s, p.Masked())
	}
	return p, nil
}

func parseAddr(v any, field string) (netip.Addr, error) {
	str, ok := v.(string)
	if !ok {
		return netip.Addr{}, invalidInput("'%v' is not a valid IP address for %s", v, field)
	}
	a, err := netip.ParseAddr(str)
	if err != nil {
		return netip.Addr{}, invalidInput("'%s' is not a valid IP address", str)
	}
	return a, nil
}

// decodeInto re-decodes a JSON attribute into a typed value.
func decodeInto(v any, dst any, field string) error {
	if err := jsonRoundTrip(v, dst); err != nil {
		return invalidInput("Invalid data format for %s: %v", field, fmt.Sprint(v))
	}
	return nil
}

// applyIPv6Modes sets ipv6_ra_mode and ipv6_address_mode of a new subnet with
// upstream's checks, in its order: each a known mode (the attribute's validator),
// none on IPv4, none without DHCP, the same when both are given, and a /64 for the
// auto-address modes (EUI-64 addresses need one).
func (sb *subnetBody) applyIPv6Modes(attrs map[string]any) error {
	for _, attr := range []string{"ipv6_ra_mode", "ipv6_address_mode"} {
		v, ok := attrs[attr]
		if !ok || v == nil {
			continue
		}
		mode, _ := v.(string)
		if !slices.Contains(ipv6Modes, mode) {
			return badRequest("Invalid input for %s. Reason: %v is not in valid_values.", attr, v)
		}
		if attr == "ipv6_ra_mode" {
			sb.IPv6RAMode = &mode
		} else {
			sb.IPv6AddressMode = &mode
		}
	}
	ra, addr := sb.IPv6RAMode, sb.IPv6AddressMode
	switch {
	case ra == nil && addr == nil:
		return nil
	case sb.IPVersion == 4 && ra != nil:
		return invalidInput("ipv6_ra_mode is not valid when ip_version is 4")
	case sb.IPVersion == 4:
		return invalidInput("ipv6_address_mode is not valid when ip_version is 4")
	case !sb.EnableDHCP:
		return invalidInput("ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False")
	case ra != nil && addr != nil && *ra != *addr:
		return invalidInput("ipv6_ra_mode set to '%s' with ipv6_address_mode set to '%s' is not valid. If both attributes are set, they must be the same value", *ra, *addr)
	case sb.autoAddress() && sb.prefix().Bits() != 64:
		return invalidInput("Invalid CIDR %s for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64", sb.CIDR)
	}
	return nil
}
