package network

import (
	"context"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// networkBody is a network as stored.
type networkBody struct {
	standard
	AdminStateUp          bool     `json:"admin_state_up"`
	Status                string   `json:"status"`
	Shared                bool     `json:"shared"`
	External              bool     `json:"router:external"`
	MTU                   int      `json:"mtu"`
	PortSecurityEnabled   bool     `json:"port_security_enabled"`
	NetworkType           string   `json:"provider:network_type"`
	PhysicalNetwork       *string  `json:"provider:physical_network"`
	SegmentationID        *int     `json:"provider:segmentation_id"`
	AvailabilityZoneHints []string `json:"availability_zone_hints"`
	DNSDomain             string   `json:"dns_domain"`
	IsDefault             bool     `json:"is_default"`
}

var networkAttributes = []string{"name", "description", "project_id", "tenant_id", "admin_state_up", "shared",
	"router:external", "mtu", "port_security_enabled", "provider:network_type", "provider:physical_network",
	"provider:segmentation_id", "availability_zone_hints", "dns_domain", "is_default", "tags"}

func (s *Service) networkRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/networks", Handler: s.listNetworks},
		{Method: "POST", Path: "/v2.0/networks", Handler: s.createNetwork},
		{Method: "GET", Path: "/v2.0/networks/{id}", Handler: s.showNetwork},
		{Method: "PUT", Path: "/v2.0/networks/{id}", Handler: s.updateNetwork},
		{Method: "DELETE", Path: "/v2.0/networks/{id}", Handler: s.deleteNetwork},
	}
}

// target is the network as upstream's policy engine sees it: its attributes.
func (n *networkBody) target() map[string]any {
	return map[string]any{"id": n.ID, "project_id": n.ProjectID, "tenant_id": n.ProjectID,
		"shared": n.Shared, "router:external": n.External, "is_default": n.IsDefault}
}

// networkJSON renders a network with its subnets; provider attributes only for
// those the get_network:provider:* rules allow.
func (s *Service) networkJSON(c caller, n *networkBody, subnets []string) object {
	o := render(n)
	if subnets == nil {
		subnets = []string{}
	}
	o["subnets"] = subnets
	o["availability_zones"] = []string{"nova"}
	o["ipv4_address_scope"] = nil
	o["ipv6_address_scope"] = nil
	o["l2_adjacency"] = true
	s.hideAttributes(c, "network", o, n.target())
	return o
}

// addressScopes sets the rendered networks' ipv4_address_scope and
// ipv6_address_scope (the address-scope extension): the scope of the pool their
// subnets of that version come from.
func (s *Service) addressScopes(ctx context.Context, q db.Querier, nets []object) error {
	type row struct {
		net, scope string
		version    int
	}
	rows, err := db.QueryAll(ctx, q, func(sc db.Scanner) (row, error) {
		var r row
		return r, sc.Scan(&r.net, &r.version, &r.scope)
	}, `SELECT s.network_id, p.ip_version, p.address_scope_id FROM subnets s JOIN subnetpools p ON p.id = s.subnetpool_id
		WHERE p.address_scope_id IS NOT NULL ORDER BY s.id`)
	if err != nil || len(rows) == 0 {
		return err
	}
	scopes := map[string]map[int]string{}
	for _, r := range rows {
		if scopes[r.net] == nil {
			scopes[r.net] = map[int]string{}
		}
		scopes[r.net][r.version] = r.scope
	}
	for _, o := range nets {
		id, _ := o["id"].(string)
		if v4, ok := scopes[id][4]; ok {
			o["ipv4_address_scope"] = v4
		}
		if v6, ok := scopes[id][6]; ok {
			o["ipv6_address_scope"] = v6
		}
	}
	return nil
}

// visibleNetwork loads a network the caller may see: 404 otherwise, so networks of
// other projects do not leak.
func (s *Service) visibleNetwork(ctx context.Context, c caller, q db.Querier, id string) (*networkBody, error) {
	var n networkBody
	if err := loadBody(ctx, q, "networks", id, &n); err != nil {
		return nil, notFoundIfNoRows(err, "NetworkNotFound", "Network", id)
	}
	if !s.allowed(c, "get_network", n.target()) {
		return nil, notFound("NetworkNotFound", "Network", id)
	}
	return &n, nil
}

func (s *Service) subnetIDs(ctx context.Context, q db.Querier) (map[string][]string, error) {
	type pair struct{ net, id string }
	rows, err := db.QueryAll(ctx, q, func(sc db.Scanner) (pair, error) {
		var p pair
		return p, sc.Scan(&p.net, &p.id)
	}, `SELECT network_id, id FROM subnets ORDER BY id`)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, p := range rows {
		out[p.net] = append(out[p.net], p.id)
	}
	return out, nil
}

func (s *Service) listNetworks(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	nets, err := loadBodies[networkBody](r.Context(), s.db, `SELECT body FROM networks`)
	if err != nil {
		return httpapi.Response{}, err
	}
	subnets, err := s.subnetIDs(r.Context(), s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	var out []object
	for i := range nets {
		if s.allowed(c, "get_network", nets[i].target()) {
			out = append(out, s.networkJSON(c, &nets[i], subnets[nets[i].ID]))
		}
	}
	if err := s.addressScopes(r.Context(), s.db, out); err != nil {
		return httpapi.Response{}, err
	}
	return listResponse(r, "networks", out)
}

func (s *Service) showNetwork(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	n, err := s.visibleNetwork(r.Context(), c, s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	subnets, err := db.QueryStrings(r.Context(), s.db, `SELECT id FROM subnets WHERE network_id = ? ORDER BY id`, n.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	o := s.networkJSON(c, n, subnets)
	if err := s.addressScopes(r.Context(), s.db, []object{o}); err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "network", o), nil
}

func (s *Service) createNetwork(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "network", networkAttributeMap, true)
	if err != nil {
		return httpapi.Response{}, err
	}
	project, err := projectFor(c, attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	now := stamp(s.now())
	n := &networkBody{standard: newStandard(newUUID(), project, now), AdminStateUp: true, Status: "ACTIVE",
		PortSecurityEnabled: true, AvailabilityZoneHints: []string{}}
	if err := n.apply(attrs); err != nil {
		return httpapi.Response{}, err
	}
	if err := s.authorize(c, "network", "create_network", n.target(), attrs, true); err != nil {
		return httpapi.Response{}, err
	}
	want, err := requestedSegment(attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	mtu := 0
	if err := attrInt(attrs, "mtu", &mtu); err != nil {
		return httpapi.Response{}, err
	}
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		n.PhysicalNetwork, n.SegmentationID = nil, nil // from the start when the transaction runs again
		if err := s.checkQuota(r.Context(), tx, project, "network", "networks"); err != nil {
			return err
		}
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO networks (id, project_id, body) VALUES (?, ?, '{}')`, n.ID, project); err != nil {
			return err
		}
		seg, err := s.types.allocate(r.Context(), tx, n.ID, want)
		if err != nil {
			return err
		}
		n.NetworkType = seg.Type
		if seg.PhysicalNetwork != "" {
			n.PhysicalNetwork = &seg.PhysicalNetwork
		}
		if seg.SegmentationID != 0 {
			n.SegmentationID = &seg.SegmentationID
		}
		n.MTU = s.mtu(seg.Type)
		if mtu > 0 {
			if mtu > n.MTU {
				return invalidInput("Requested MTU is too big, maximum is %d", n.MTU)
			}
			n.MTU = mtu
		}
		return saveBody(r.Context(), tx, "networks", n.ID, n)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"network": s.networkJSON(c, n, nil)}), nil
}

// requestedSegment reads the provider attributes of a create request (nil: none).
func requestedSegment(attrs map[string]any) (*segment, error) {
	_, hasType := attrs["provider:network_type"]
	_, hasPhys := attrs["provider:physical_network"]
	_, hasSeg := attrs["provider:segmentation_id"]
	if !hasType && !hasPhys && !hasSeg {
		return nil, nil
	}
	seg := &segment{}
	if err := attrString(attrs, "provider:network_type", &seg.Type); err != nil {
		return nil, err
	}
	if err := attrString(attrs, "provider:physical_network", &seg.PhysicalNetwork); err != nil {
		return nil, err
	}
	if err := attrInt(attrs, "provider:segmentation_id", &seg.SegmentationID); err != nil {
		return nil, err
	}
	return seg, nil
}

// apply sets the attributes create and update share.
func (n *networkBody) apply(attrs map[string]any) error {
	for _, f := range []func() error{
		func() error { return attrString(attrs, "name", &n.Name) },
		func() error { return attrString(attrs, "description", &n.Description) },
		func() error { return attrBool(attrs, "admin_state_up", &n.AdminStateUp) },
		func() error { return attrBool(attrs, "shared", &n.Shared) },
		func() error { return attrBool(attrs, "router:external", &n.External) },
		func() error { return attrBool(attrs, "port_security_enabled", &n.PortSecurityEnabled) },
		func() error { return attrStrings(attrs, "availability_zone_hints", &n.AvailabilityZoneHints) },
		func() error { return attrString(attrs, "dns_domain", &n.DNSDomain) },
		func() error { return attrBool(attrs, "is_default", &n.IsDefault) },
		func() error { return attrStrings(attrs, "tags", &n.Tags) },
	} {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) updateNetwork(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "network", networkAttributeMap, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	for _, attr := range []string{"provider:network_type", "provider:physical_network", "provider:segmentation_id"} {
		if _, ok := attrs[attr]; ok {
			return httpapi.Response{}, invalidInput("Plugin does not support updating provider attributes")
		}
	}
	for _, attr := range []string{"project_id", "tenant_id"} {
		if _, ok := attrs[attr]; ok {
			return httpapi.Response{}, badRequest("Cannot update read-only attribute %s", attr)
		}
	}
	var n *networkBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		if n, err = s.visibleNetwork(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		wasShared := n.Shared
		if err := n.apply(attrs); err != nil {
			return err
		}
		// As upstream, the rules see the network as the update would leave it.
		if err := s.authorize(c, "network", "update_network", n.target(), attrs, false); err != nil {
			return err
		}
		mtu := n.MTU
		if err := attrInt(attrs, "mtu", &mtu); err != nil {
			return err
		}
		if max := s.mtu(n.NetworkType); mtu > max || mtu < 68 {
			return invalidInput("Requested MTU %d is not between 68 and %d", mtu, max)
		}
		n.MTU = mtu
		if wasShared && !n.Shared {
			var others int
			if err := tx.QueryRowContext(r.Context(), `SELECT COUNT(*) FROM ports WHERE network_id = ? AND project_id <> ?`,
				n.ID, n.ProjectID).Scan(&others); err != nil {
				return err
			}
			if others > 0 {
				return conflict("InvalidSharedSetting", "Unable to reconfigure sharing settings for network %s. Multiple tenants are using it.", n.ID)
			}
		}
		n.touch(stamp(s.now()))
		return saveBody(r.Context(), tx, "networks", n.ID, n)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	subnets, err := db.QueryStrings(r.Context(), s.db, `SELECT id FROM subnets WHERE network_id = ? ORDER BY id`, n.ID)
	if err != nil {
		return httpapi.Response{}, err
	}
	o := s.networkJSON(c, n, subnets)
	if err := s.addressScopes(r.Context(), s.db, []object{o}); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"network": o}), nil
}

// deleteNetwork removes a network with its subnets and the ports Neutron itself made
// there (DHCP); any other port keeps it in use (409), as upstream.
func (s *Service) deleteNetwork(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	id := r.PathValue("id")
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		n, err := s.visibleNetwork(r.Context(), c, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(c, "delete_network", n.target()); err != nil {
			return err
		}
		// As upstream's external network handler: the floating IPs of an external
		// network that are associated with no port go with it.
		if n.External {
			fipPorts, err := db.QueryStrings(r.Context(), tx,
				`SELECT floating_port_id FROM floatingips WHERE floating_network_id = ? AND port_id IS NULL`, id)
			if err != nil {
				return err
			}
			for _, port := range fipPorts {
				if _, err := tx.ExecContext(r.Context(), `DELETE FROM floatingips WHERE floating_port_id = ?`, port); err != nil {
					return err
				}
				if err := s.removePort(r.Context(), tx, port); err != nil {
					return err
				}
			}
		}
		ports, err := loadBodies[portBody](r.Context(), tx, `SELECT body FROM ports WHERE network_id = ?`, id)
		if err != nil {
			return err
		}
		var inUse []string
		for _, p := range ports {
			if p.DeviceOwner != ownerDHCP {
				inUse = append(inUse, p.ID)
			}
		}
		if len(inUse) > 0 {
			return conflict("NetworkInUse", "Unable to complete operation on network %s. There are one or more ports still in use on the network, id for these ports is: %s.",
				id, strings.Join(inUse, ","))
		}
		for _, q := range []string{
			`DELETE FROM ports WHERE network_id = ?`,
			`DELETE FROM ip_allocations WHERE network_id = ?`,
			`DELETE FROM subnets WHERE network_id = ?`,
			`DELETE FROM segment_allocations WHERE network_id = ?`,
			`DELETE FROM networks WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(r.Context(), q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}
