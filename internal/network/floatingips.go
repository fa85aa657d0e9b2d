package network

import (
	"context"
	"net/http"
	"net/netip"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// floatingIPBody is a floating IP as stored. Its address lives on its own port of
// the external network (device_owner network:floatingip), so IPAM keeps it unique.
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
	QoSPolicyID       *string  `json:"qos_policy_id"`
	PortForwardings   []any    `json:"port_forwardings"`
}

var floatingIPAttributes = []string{"floating_network_id", "floating_ip_address", "subnet_id", "port_id",
	"fixed_ip_address", "description", "project_id", "tenant_id", "tags", "dns_name", "dns_domain", "qos_policy_id"}

func (s *Service) floatingIPRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/floatingips", Handler: s.listFloatingIPs},
		{Method: "POST", Path: "/v2.0/floatingips", Handler: s.createFloatingIP},
		{Method: "GET", Path: "/v2.0/floatingips/{id}", Handler: s.showFloatingIP},
		{Method: "PUT", Path: "/v2.0/floatingips/{id}", Handler: s.updateFloatingIP},
		{Method: "DELETE", Path: "/v2.0/floatingips/{id}", Handler: s.deleteFloatingIP},
	}
}

func (s *Service) listFloatingIPs(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	fips, err := loadBodies[floatingIPBody](r.Context(), s.db, `SELECT body FROM floatingips`)
	if err != nil {
		return httpapi.Response{}, err
	}
	var out []object
	for i := range fips {
		if s.allowed(c, "admin_or_reader", ownerTarget(fips[i].ProjectID)) {
			out = append(out, render(&fips[i]))
		}
	}
	return listResponse(r, "floatingips", out)
}

func (s *Service) visibleFloatingIP(ctx context.Context, c caller, q db.Querier, id string) (*floatingIPBody, error) {
	var f floatingIPBody
	if err := loadBody(ctx, q, "floatingips", id, &f); err != nil {
		return nil, notFoundIfNoRows(err, "FloatingIPNotFound", "Floating IP", id)
	}
	if !s.allowed(c, "admin_or_reader", ownerTarget(f.ProjectID)) {
		return nil, notFound("FloatingIPNotFound", "Floating IP", id)
	}
	if err := q.QueryRowContext(ctx, `SELECT floating_port_id FROM floatingips WHERE id = ?`, id).Scan(&f.FloatingPortID); err != nil {
		return nil, err
	}
	return &f, nil
}

func (s *Service) showFloatingIP(r *http.Request) (httpapi.Response, error) {
	f, err := s.visibleFloatingIP(r.Context(), s.caller(r), s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "floatingip", render(f)), nil
}

func (s *Service) createFloatingIP(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := requestBody(r, "floatingip", floatingIPAttributes)
	if err != nil {
		return httpapi.Response{}, err
	}
	project, err := projectFor(c, attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := s.enforce(c, "admin_or_member", ownerTarget(project)); err != nil {
		return httpapi.Response{}, err
	}
	netID, _ := attrs["floating_network_id"].(string)
	if netID == "" {
		return httpapi.Response{}, badRequest("Failed to parse request. Required attribute 'floating_network_id' not specified")
	}
	now := stamp(s.now())
	f := &floatingIPBody{ID: newUUID(), ProjectID: project, Tags: []string{}, CreatedAt: now, UpdatedAt: now,
		RevisionNumber: 1, FloatingNetworkID: netID, Status: "DOWN", PortForwardings: []any{}}
	if err := attrString(attrs, "description", &f.Description); err != nil {
		return httpapi.Response{}, err
	}
	if err := attrStrings(attrs, "tags", &f.Tags); err != nil {
		return httpapi.Response{}, err
	}
	var requested any
	addr, _ := attrs["floating_ip_address"].(string)
	subnet, _ := attrs["subnet_id"].(string)
	if addr != "" || subnet != "" {
		if addr != "" {
			if err := s.enforce(c, "admin_only", nil); err != nil {
				return httpapi.Response{}, err
			}
		}
		requested = []fixedIP{{SubnetID: subnet, IPAddress: addr}}
	}
	err = s.retryConflicts(r.Context(), func(tx *db.Tx) error {
		n, err := s.visibleNetwork(r.Context(), c, tx, netID)
		if err != nil {
			return err
		}
		if !n.External {
			return badRequest("Bad floatingip request: Network %s is not a valid external network.", netID)
		}
		if err := s.checkQuota(r.Context(), tx, project, "floatingip", "floatingips"); err != nil {
			return err
		}
		p, err := s.newServicePort(r.Context(), tx, n, "", ownerFloatingIP, f.ID, requested)
		if err != nil {
			return err
		}
		f.FloatingPortID, f.FloatingIPAddress = p.ID, p.FixedIPs[0].IPAddress
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO floatingips (id, project_id, floating_network_id, floating_port_id, port_id, body)
			VALUES (?, ?, ?, ?, NULL, '{}')`, f.ID, project, netID, p.ID); err != nil {
			return err
		}
		if portID, _ := attrs["port_id"].(string); portID != "" {
			fixed, _ := attrs["fixed_ip_address"].(string)
			if err := s.associate(r.Context(), tx, c, f, portID, fixed); err != nil {
				return err
			}
		}
		return s.saveFloatingIP(r.Context(), tx, f)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"floatingip": render(f)}), nil
}

func (s *Service) saveFloatingIP(ctx context.Context, tx *db.Tx, f *floatingIPBody) error {
	var port any
	if f.PortID != nil {
		port = *f.PortID
	}
	_, err := tx.ExecContext(ctx, `UPDATE floatingips SET port_id = ?, body = ? WHERE id = ?`, port, marshal(f), f.ID)
	return err
}

// associate maps f to a fixed address of a port, through the router that connects
// the port's subnet to f's external network.
func (s *Service) associate(ctx context.Context, tx *db.Tx, c caller, f *floatingIPBody, portID, fixed string) error {
	p, _, err := s.visiblePort(ctx, c, tx, portID)
	if err != nil {
		return err
	}
	if p.ProjectID != f.ProjectID && !c.admin {
		return notFound("PortNotFound", "Port", portID)
	}
	var chosen *fixedIP
	for i, ip := range p.FixedIPs {
		a, _ := netip.ParseAddr(ip.IPAddress)
		if fixed == ip.IPAddress || fixed == "" && a.Is4() {
			chosen = &p.FixedIPs[i]
			break
		}
	}
	if chosen == nil {
		if fixed != "" {
			return badRequest("Bad floatingip request: Port %s does not have fixed ip %s.", portID, fixed)
		}
		return badRequest("Bad floatingip request: Port %s does not have any IPv4 address.", portID)
	}
	var taken string
	err = tx.QueryRowContext(ctx, `SELECT id FROM floatingips WHERE port_id = ? AND id <> ? AND body LIKE ?`,
		portID, f.ID, `%"fixed_ip_address":"`+chosen.IPAddress+`"%`).Scan(&taken)
	if err == nil {
		return conflict("FloatingIPPortAlreadyAssociated", "Cannot associate floating IP %s (%s) with port %s using fixed IP %s, as that fixed IP already has a floating IP on external network %s.",
			f.FloatingIPAddress, f.ID, portID, chosen.IPAddress, f.FloatingNetworkID)
	} else if !db.IsNoRows(err) {
		return err
	}
	routerID, err := s.routerFor(ctx, tx, chosen.SubnetID, f.FloatingNetworkID)
	if err != nil {
		return err
	}
	if routerID == "" {
		return neutronError(http.StatusNotFound, "ExternalGatewayForFloatingIPNotFound",
			"External network %s is not reachable from subnet %s. Therefore, cannot associate Port %s with a Floating IP.",
			f.FloatingNetworkID, chosen.SubnetID, portID)
	}
	f.PortID, f.FixedIPAddress, f.RouterID = &p.ID, &chosen.IPAddress, &routerID
	// ACTIVE as upstream reports once the L3 agent has the NAT rules; Nimbus's L3
	// agent converges to this state (see docs/network.md).
	f.Status = "ACTIVE"
	return nil
}

// routerFor finds a router with an interface on the subnet and a gateway on the
// external network.
func (s *Service) routerFor(ctx context.Context, tx *db.Tx, subnetID, externalNet string) (string, error) {
	routers, err := loadBodies[routerBody](ctx, tx, `SELECT DISTINCT r.body FROM routers r JOIN router_ports rp ON rp.router_id = r.id
		JOIN ip_allocations a ON a.port_id = rp.port_id WHERE a.subnet_id = ? AND rp.port_type = ?`, subnetID, ownerRouterInterface)
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
	attrs, err := requestBody(r, "floatingip", floatingIPAttributes)
	if err != nil {
		return httpapi.Response{}, err
	}
	var f *floatingIPBody
	err = s.db.InTx(r.Context(), func(tx *db.Tx) error {
		if f, err = s.visibleFloatingIP(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.enforce(c, "admin_or_member", ownerTarget(f.ProjectID)); err != nil {
			return err
		}
		if err := attrString(attrs, "description", &f.Description); err != nil {
			return err
		}
		if v, ok := attrs["port_id"]; ok {
			disassociate(f)
			if portID, _ := v.(string); portID != "" {
				fixed, _ := attrs["fixed_ip_address"].(string)
				if err := s.associate(r.Context(), tx, c, f, portID, fixed); err != nil {
					return err
				}
			}
		}
		f.UpdatedAt = stamp(s.now())
		f.RevisionNumber++
		return s.saveFloatingIP(r.Context(), tx, f)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"floatingip": render(f)}), nil
}

func (s *Service) deleteFloatingIP(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	err := s.db.InTx(r.Context(), func(tx *db.Tx) error {
		f, err := s.visibleFloatingIP(r.Context(), c, tx, r.PathValue("id"))
		if err != nil {
			return err
		}
		if err := s.enforce(c, "admin_or_member", ownerTarget(f.ProjectID)); err != nil {
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

// checkInterfaceFloatingIPs refuses to remove a router interface that floating IPs
// of the router reach their fixed addresses through.
func (s *Service) checkInterfaceFloatingIPs(ctx context.Context, tx *db.Tx, routerID string, p *portBody) error {
	fips, err := loadBodies[floatingIPBody](ctx, tx, `SELECT body FROM floatingips WHERE port_id IS NOT NULL`)
	if err != nil {
		return err
	}
	for _, f := range fips {
		if f.RouterID == nil || *f.RouterID != routerID || f.FixedIPAddress == nil {
			continue
		}
		a, _ := netip.ParseAddr(*f.FixedIPAddress)
		for _, ip := range p.FixedIPs {
			var sb subnetBody
			if err := loadBody(ctx, tx, "subnets", ip.SubnetID, &sb); err != nil {
				return err
			}
			if sb.prefix().Contains(a) {
				return conflict("RouterInterfaceInUseByFloatingIP", "Router interface for subnet %s on router %s cannot be deleted, as it is required by one or more floating IPs.", ip.SubnetID, routerID)
			}
		}
	}
	return nil
}
