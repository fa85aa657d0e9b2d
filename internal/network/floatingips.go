package network

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// floatingIPBody is a floating IP as stored. Its address lives on its own port of
// the external network (device_owner network:floatingip, the floatingips table's
// floating_port_id), so IPAM keeps it unique. A floating IP has no name.
type floatingIPBody struct {
	ID                string   `json:"id"`
	Description       string   `json:"description"`
	ProjectID         string   `json:"project_id"`
	Tags              []string `json:"tags"`
	CreatedAt         string   `json:"created_at"`
	UpdatedAt         string   `json:"updated_at"`
	RevisionNumber    int      `json:"revision_number"`
	FloatingNetworkID string   `json:"floating_network_id"`
	FloatingIPAddress string   `json:"floating_ip_address"`
	FloatingPortID    string   `json:"-"`
	FixedIPAddress    *string  `json:"fixed_ip_address"`
	PortID            *string  `json:"port_id"`
	RouterID          *string  `json:"router_id"`
	Status            string   `json:"status"`
	DNSName           string   `json:"dns_name"`
	DNSDomain         string   `json:"dns_domain"`
}

var floatingIPAttributes = []string{"floating_network_id", "floating_ip_address", "subnet_id", "port_id",
	"fixed_ip_address", "description", "project_id", "tenant_id", "tags", "dns_name", "dns_domain"}

func (s *Service) floatingIPRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/floatingips", Handler: s.listFloatingIPs},
		{Method: "POST", Path: "/v2.0/floatingips", Handler: s.createFloatingIP},
		{Method: "GET", Path: "/v2.0/floatingips/{id}", Handler: s.showFloatingIP},
		{Method: "PUT", Path: "/v2.0/floatingips/{id}", Handler: s.updateFloatingIP},
		{Method: "DELETE", Path: "/v2.0/floatingips/{id}", Handler: s.deleteFloatingIP},
	}
}

// badFloatingIPRequest is upstream's BadRequest(resource='floatingip').
func badFloatingIPRequest(format string, args ...any) error {
	return neutronError(http.StatusBadRequest, "BadRequest", "Bad floatingip request: "+format+".", args...)
}

// floatingIPJSON renders a floating IP with port_details (fip-port-details) of its port.
func floatingIPJSON(f *floatingIPBody, port *portBody) object {
	o := render(f)
	o["port_details"] = nil
	if port != nil {
		o["port_details"] = map[string]any{"name": port.Name, "network_id": port.NetworkID, "mac_address": port.MACAddress,
			"admin_state_up": port.AdminStateUp, "status": port.Status, "device_id": port.DeviceID, "device_owner": port.DeviceOwner}
	}
	return o
}

// floatingIPsJSON renders floating IPs, loading their ports in one query.
func (s *Service) floatingIPsJSON(ctx context.Context, q db.Querier, fips []floatingIPBody) ([]object, error) {
	ports := map[string]*portBody{}
	for _, f := range fips {
		if f.PortID != nil {
			ports[*f.PortID] = nil
		}
	}
	if len(ports) > 0 {
		list, err := loadBodies[portBody](ctx, q, `SELECT p.body FROM ports p JOIN floatingips f ON f.port_id = p.id`)
		if err != nil {
			return nil, err
		}
		for i := range list {
			ports[list[i].ID] = &list[i]
		}
	}
	out := make([]object, 0, len(fips))
	for i := range fips {
		var p *portBody
		if fips[i].PortID != nil {
			p = ports[*fips[i].PortID]
		}
		out = append(out, floatingIPJSON(&fips[i], p))
	}
	return out, nil
}

// target is the floating IP as upstream's policy engine sees it.
func (f *floatingIPBody) target() map[string]any {
	return map[string]any{"id": f.ID, "project_id": f.ProjectID, "tenant_id": f.ProjectID,
		"floating_network_id": f.FloatingNetworkID}
}

func (s *Service) listFloatingIPs(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	fips, err := projectBodies[floatingIPBody](r.Context(), s.db, c, "floatingips")
	if err != nil {
		return httpapi.Response{}, err
	}
	var visible []floatingIPBody
	for i := range fips {
		if s.allowed(c, "get_floatingip", fips[i].target()) {
			visible = append(visible, fips[i])
		}
	}
	out, err := s.floatingIPsJSON(r.Context(), s.db, visible)
	if err != nil {
		return httpapi.Response{}, err
	}
	return listResponse(r, "floatingips", out)
}

func (s *Service) visibleFloatingIP(ctx context.Context, c caller, q db.Querier, id string) (*floatingIPBody, error) {
	var f floatingIPBody
	if err := loadBody(ctx, q, "floatingips", id, &f); err != nil {
		return nil, notFoundIfNoRows(err, "FloatingIPNotFound", "Floating IP", id)
	}
	if !s.allowed(c, "get_floatingip", f.target()) {
		return nil, notFound("FloatingIPNotFound", "Floating IP", id)
	}
	if err := q.QueryRowContext(ctx, `SELECT floating_port_id FROM floatingips WHERE id = ?`, id).Scan(&f.FloatingPortID); err != nil {
		return nil, err
	}
	return &f, nil
}

// floatingIPJSONOne renders one floating IP with its port's details.
func (s *Service) floatingIPJSONOne(ctx context.Context, q db.Querier, f *floatingIPBody) (object, error) {
	out, err := s.floatingIPsJSON(ctx, q, []floatingIPBody{*f})
	if err != nil {
		return nil, err
	}
	return out[0], nil
}

func (s *Service) showFloatingIP(r *http.Request) (httpapi.Response, error) {
	f, err := s.visibleFloatingIP(r.Context(), s.caller(r), s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	o, err := s.floatingIPJSONOne(r.Context(), s.db, f)
	if err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "floatingip", o), nil
}

// association is what a request asks of port_id and fixed_ip_address.
type association struct {
	setPort bool   // port_id is in the request
	portID  string // "" with setPort: disassociate
	fixed   string
	hasFix  bool
}

func parseAssociation(attrs map[string]any) (association, error) {
	var a association
	if v, ok := attrs["port_id"]; ok {
		a.setPort = true
		if v != nil {
			s, isStr := v.(string)
			if !isStr {
				return a, invalidInput("'%v' is not a valid UUID for port_id", v)
			}
			a.portID = s
		}
	}
	if v, ok := attrs["fixed_ip_address"]; ok && v != nil {
		addr, err := parseAddr(v, "fixed_ip_address")
		if err != nil {
			return a, err
		}
		a.fixed, a.hasFix = addr.String(), true
	}
	return a, nil
}

func (s *Service) createFloatingIP(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "floatingip", floatingIPAttributeMap, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	project, err := projectFor(c, attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	netID, _ := attrs["floating_network_id"].(string)
	if netID == "" {
		return httpapi.Response{}, badRequest("Failed to parse request. Required attribute 'floating_network_id' not specified")
	}
	now := stamp(s.now())
	f := &floatingIPBody{ID: newUUID(), ProjectID: project, Tags: []string{}, CreatedAt: now, UpdatedAt: now,
		RevisionNumber: 1, FloatingNetworkID: netID, Status: "DOWN"}
	for _, fn := range []func() error{
		func() error { return attrString(attrs, "description", &f.Description) },
		func() error { return attrStrings(attrs, "tags", &f.Tags) },
		func() error { return attrString(attrs, "dns_name", &f.DNSName) },
		func() error { return attrString(attrs, "dns_domain", &f.DNSDomain) },
	} {
		if err := fn(); err != nil {
			return httpapi.Response{}, err
		}
	}
	want := fixedIP{}
	if err := attrString(attrs, "subnet_id", &want.SubnetID); err != nil {
		return httpapi.Response{}, err
	}
	if v, ok := attrs["floating_ip_address"]; ok && v != nil {
		a, err := parseAddr(v, "floating_ip_address")
		if err != nil {
			return httpapi.Response{}, err
		}
		want.IPAddress = a.String()
	}
	assoc, err := parseAssociation(attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	if assoc.hasFix && assoc.portID == "" {
		return httpapi.Response{}, badFloatingIPRequest("fixed_ip_address cannot be specified without a port_id")
	}
	if err := s.authorize(c, "floatingip", "create_floatingip", f.target(), attrs, true); err != nil {
		return httpapi.Response{}, err
	}
	var port *portBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		disassociate(f) // from the start when the transaction runs again
		port = nil
		n, err := s.visibleNetwork(r.Context(), c, tx, netID)
		if err != nil {
			return err
		}
		if !n.External {
			return badFloatingIPRequest("Network %s is not a valid external network", netID)
		}
		if err := s.checkQuota(r.Context(), tx, project, "floatingip", "floatingips"); err != nil {
			return err
		}
		requested, err := s.floatingAddressRequest(r.Context(), tx, n, want)
		if err != nil {
			return err
		}
		p, err := s.newServicePort(r.Context(), tx, n, "", ownerFloatingIP, f.ID, requested)
		if err != nil {
			return err
		}
		if len(p.FixedIPs) == 0 {
			return badFloatingIPRequest("Unable to find any IP address on external network %s", netID)
		}
		f.FloatingPortID, f.FloatingIPAddress = p.ID, p.FixedIPs[0].IPAddress
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO floatingips (id, project_id, floating_network_id, floating_port_id, port_id, body)
			VALUES (?, ?, ?, ?, NULL, '{}')`, f.ID, project, netID, p.ID); err != nil {
			return err
		}
		if assoc.portID != "" {
			if port, err = s.associate(r.Context(), tx, c, f, assoc.portID, assoc.fixed); err != nil {
				return err
			}
		}
		return s.saveFloatingIP(r.Context(), tx, f)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"floatingip": floatingIPJSON(f, port)}), nil
}

// floatingAddressRequest is what a floating IP's port asks of IPAM: the address or
// subnet asked for, else an IPv4 address of the external network's first subnet
// with one free (a floating IP is IPv4, as upstream).
func (s *Service) floatingAddressRequest(ctx context.Context, tx *db.Tx, n *networkBody, want fixedIP) (ipRequest, error) {
	if want.SubnetID != "" || want.IPAddress != "" {
		if a, err := netip.ParseAddr(want.IPAddress); err == nil && !a.Is4() {
			return ipRequest{}, badFloatingIPRequest("Floating IP address %s is not an IPv4 address", want.IPAddress)
		}
		return ipRequest{given: true, fixed: []fixedIP{want}}, nil
	}
	subnets, err := loadBodies[subnetBody](ctx, tx, `SELECT body FROM subnets WHERE network_id = ?`, n.ID)
	if err != nil {
		return ipRequest{}, err
	}
	if !slices.ContainsFunc(subnets, func(sb subnetBody) bool { return sb.IPVersion == 4 }) {
		return ipRequest{}, badFloatingIPRequest("Unable to find any IP address on external network %s", n.ID)
	}
	return ipRequest{ipv4Only: true}, nil
}

// saveFloatingIP stores f with its association. The unique index on the network,
// port and fixed address refuses a second floating IP on one fixed IP, which is
// upstream's 409 (associate checks it first; this holds it under any interleaving).
func (s *Service) saveFloatingIP(ctx context.Context, tx *db.Tx, f *floatingIPBody) error {
	var port, fixed any
	if f.PortID != nil && f.FixedIPAddress != nil {
		port, fixed = *f.PortID, *f.FixedIPAddress
	}
	_, err := tx.ExecContext(ctx, `UPDATE floatingips SET port_id = ?, fixed_ip_address = ?, body = ? WHERE id = ?`,
		port, fixed, marshal(f), f.ID)
	if db.IsUniqueViolation(err) && f.PortID != nil && f.FixedIPAddress != nil {
		return alreadyAssociated(f, *f.PortID, *f.FixedIPAddress)
	}
	return err
}

// alreadyAssociated is upstream's FloatingIPPortAlreadyAssociated.
func alreadyAssociated(f *floatingIPBody, portID, fixed string) error {
	return conflict("FloatingIPPortAlreadyAssociated", "Cannot associate floating IP %s (%s) with port %s using fixed IP %s, as that fixed IP already has a floating IP on external network %s.",
		f.FloatingIPAddress, f.ID, portID, fixed, f.FloatingNetworkID)
}

// associate maps f to a fixed IPv4 address of a port, through the router that
// connects the port's subnet to f's external network.
func (s *Service) associate(ctx context.Context, tx *db.Tx, c caller, f *floatingIPBody, portID, fixed string) (*portBody, error) {
	p, _, err := s.visiblePort(ctx, c, tx, portID)
	if err != nil {
		return nil, err
	}
	if p.ProjectID != f.ProjectID && !c.admin {
		return nil, notFound("PortNotFound", "Port", portID)
	}
	// As upstream (neutron.common.utils.is_fip_serviced), only DHCP ports are
	// refused: any other port with a fixed address behind a router, a router's own
	// interface included, may have a floating IP. Gateway and floating IP ports sit
	// on the external network, so no router leads to them (404 below). Upstream's
	// message leaves "%(id)s" unformatted; this one names the port.
	if p.DeviceOwner == ownerDHCP {
		return nil, badFloatingIPRequest("Port %s is unable to be assigned a floating IP", portID)
	}
	var chosen *fixedIP
	var v4 []*fixedIP
	for i, ip := range p.FixedIPs {
		if a, err := netip.ParseAddr(ip.IPAddress); err == nil && a.Is4() {
			v4 = append(v4, &p.FixedIPs[i])
			if fixed == ip.IPAddress {
				chosen = &p.FixedIPs[i]
			}
		}
	}
	switch {
	case fixed != "" && chosen == nil:
		return nil, badFloatingIPRequest("Port %s does not have fixed ip %s", portID, fixed)
	case chosen == nil && len(v4) == 0:
		return nil, badFloatingIPRequest("Cannot add floating IP to port %s that has no fixed IPv4 addresses", portID)
	case chosen == nil && len(v4) > 1:
		return nil, badFloatingIPRequest("Port %s has multiple fixed IPv4 addresses.  Must provide a specific IPv4 address when assigning a floating IP", portID)
	case chosen == nil:
		chosen = v4[0]
	}
	var others int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM floatingips WHERE floating_network_id = ? AND port_id = ? AND fixed_ip_address = ? AND id <> ?`,
		f.FloatingNetworkID, portID, chosen.IPAddress, f.ID).Scan(&others); err != nil {
		return nil, err
	}
	if others > 0 {
		return nil, alreadyAssociated(f, portID, chosen.IPAddress)
	}
	routerID, err := s.routerFor(ctx, tx, chosen.SubnetID, f.FloatingNetworkID)
	if err != nil {
		return nil, err
	}
	if routerID == "" {
		return nil, neutronError(http.StatusNotFound, "ExternalGatewayForFloatingIPNotFound",
			"External network %s is not reachable from subnet %s.  Therefore, cannot associate Port %s with a Floating IP.",
			f.FloatingNetworkID, chosen.SubnetID, portID)
	}
	f.PortID, f.FixedIPAddress, f.RouterID = &p.ID, &chosen.IPAddress, &routerID
	// Upstream reports ACTIVE once the L3 agent has set up the NAT; Nimbus's L3
	// agent converges to what the database says, so the API reports the mapping as
	// soon as it is decided. When the agents report floating IP status themselves,
	// this becomes theirs to set.
	f.Status = "ACTIVE"
	return p, nil
}

// routerFor finds a router with an interface on the subnet and a gateway on the
// external network.
func (s *Service) routerFor(ctx context.Context, tx *db.Tx, subnetID, externalNet string) (string, error) {
	routers, err := loadBodies[routerBody](ctx, tx, `SELECT r.body FROM routers r WHERE r.id IN (SELECT rp.router_id FROM router_ports rp
		JOIN ip_allocations a ON a.port_id = rp.port_id WHERE a.subnet_id = ? AND rp.port_type = ?) ORDER BY r.id`, subnetID, ownerRouterInterface)
	if err != nil {
		return "", err
	}
	for _, rt := range routers {
		if rt.ExternalGatewayInfo != nil && rt.ExternalGatewayInfo.NetworkID == externalNet {
			return rt.ID, nil
		}
	}
	return "", nil
}

func disassociate(f *floatingIPBody) {
	f.PortID, f.FixedIPAddress, f.RouterID, f.Status = nil, nil, nil, "DOWN"
}

func (s *Service) updateFloatingIP(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "floatingip", floatingIPAttributeMap, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	for _, ro := range []string{"floating_network_id", "floating_ip_address", "subnet_id", "project_id", "tenant_id", "dns_name", "dns_domain"} {
		if _, ok := attrs[ro]; ok {
			return httpapi.Response{}, badRequest("Cannot update read-only attribute %s", ro)
		}
	}
	assoc, err := parseAssociation(attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	var f *floatingIPBody
	var port *portBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if f, err = s.visibleFloatingIP(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.authorize(c, "floatingip", "update_floatingip", f.target(), attrs, false); err != nil {
			return err
		}
		if err := attrString(attrs, "description", &f.Description); err != nil {
			return err
		}
		portID := assoc.portID
		if !assoc.setPort && f.PortID != nil {
			portID = *f.PortID // a new fixed_ip_address on the same port
		}
		if assoc.hasFix && portID == "" {
			return badFloatingIPRequest("fixed_ip_address cannot be specified without a port_id")
		}
		if assoc.setPort || assoc.hasFix {
			disassociate(f)
			if portID != "" {
				if port, err = s.associate(r.Context(), tx, c, f, portID, assoc.fixed); err != nil {
					return err
				}
			}
		} else if f.PortID != nil {
			var p portBody
			if err := loadBody(r.Context(), tx, "ports", *f.PortID, &p); err == nil {
				port = &p
			}
		}
		f.UpdatedAt = stamp(s.now())
		f.RevisionNumber++
		return s.saveFloatingIP(r.Context(), tx, f)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"floatingip": floatingIPJSON(f, port)}), nil
}

// deleteFloatingIP releases the floating IP's address with its port.
func (s *Service) deleteFloatingIP(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		f, err := s.visibleFloatingIP(r.Context(), c, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := s.enforce(c, "delete_floatingip", f.target()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(r.Context(), `DELETE FROM floatingips WHERE id = ?`, f.ID); err != nil {
			return err
		}
		return s.removePort(r.Context(), tx, f.FloatingPortID)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// disassociatePort releases the floating IPs of a port that is going away, as
// upstream does when a port is deleted.
func (s *Service) disassociatePort(ctx context.Context, tx *db.Tx, portID string) error {
	fips, err := loadBodies[floatingIPBody](ctx, tx, `SELECT body FROM floatingips WHERE port_id = ?`, portID)
	if err != nil {
		return err
	}
	for i := range fips {
		disassociate(&fips[i])
		fips[i].UpdatedAt = stamp(s.now())
		fips[i].RevisionNumber++
		if err := s.saveFloatingIP(ctx, tx, &fips[i]); err != nil {
			return err
		}
	}
	return nil
}

// backfillFloatingIPs gives the floating IPs associated before migration 0002 their
// fixed_ip_address column, which the unique index needs to hold one floating IP per
// fixed IP. Where a race of earlier versions associated several with one fixed IP,
// the one associated first keeps it and the others are disassociated, as though
// they had lost that race. It runs at every start; after the first it finds nothing.
func (s *Service) backfillFloatingIPs(ctx context.Context) error {
	var released []string
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		released = nil // from the start when the transaction runs again
		fips, err := loadBodies[floatingIPBody](ctx, tx, `SELECT body FROM floatingips WHERE port_id IS NOT NULL AND fixed_ip_address IS NULL`)
		if err != nil {
			return err
		}
		slices.SortFunc(fips, func(a, b floatingIPBody) int {
			return cmp.Or(cmp.Compare(a.UpdatedAt, b.UpdatedAt), cmp.Compare(a.ID, b.ID))
		})
		for i := range fips {
			f := &fips[i]
			if f.PortID != nil && f.FixedIPAddress != nil {
				var holders int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM floatingips WHERE floating_network_id = ? AND port_id = ? AND fixed_ip_address = ?`,
					f.FloatingNetworkID, *f.PortID, *f.FixedIPAddress).Scan(&holders); err != nil {
					return err
				}
				if holders == 0 {
					if err := s.saveFloatingIP(ctx, tx, f); err != nil {
						return err
					}
					continue
				}
			}
			released = append(released, f.ID)
			disassociate(f)
			f.UpdatedAt = stamp(s.now())
			f.RevisionNumber++
			if err := s.saveFloatingIP(ctx, tx, f); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("backfill floating IPs' fixed addresses: %w", err)
	}
	for _, id := range released {
		s.log.WarnContext(ctx, "floating IP disassociated: its fixed IP had another floating IP (a race of an earlier version)", "floatingip", id)
	}
	return nil
}
