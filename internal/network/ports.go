package network

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

const (
	ownerDHCP            = dataplane.OwnerDHCP
	ownerRouterInterface = dataplane.OwnerRouterInterface
	ownerRouterGateway   = dataplane.OwnerRouterGateway
	ownerFloatingIP      = dataplane.OwnerFloatingIP
)

// portBody is a port as stored.
type portBody struct {
	standard
	NetworkID             string         `json:"network_id"`
	AdminStateUp          bool           `json:"admin_state_up"`
	Status                string         `json:"status"`
	MACAddress            string         `json:"mac_address"`
	DeviceID              string         `json:"device_id"`
	DeviceOwner           string         `json:"device_owner"`
	FixedIPs              []fixedIP      `json:"fixed_ips"`
	AllowedAddressPairs   []addressPair  `json:"allowed_address_pairs"`
	SecurityGroups        []string       `json:"security_groups"`
	PortSecurityEnabled   bool           `json:"port_security_enabled"`
	BindingHostID         string         `json:"binding:host_id"`
	BindingVIFType        string         `json:"binding:vif_type"`
	BindingVIFDetails     map[string]any `json:"binding:vif_details"`
	BindingVNICType       string         `json:"binding:vnic_type"`
	BindingProfile        map[string]any `json:"binding:profile"`
	DNSName               string         `json:"dns_name"`
	ExtraDHCPOpts         []any          `json:"extra_dhcp_opts"`
	PropagateUplinkStatus bool           `json:"propagate_uplink_status"`
	IPAllocation          string         `json:"ip_allocation"`
	// Bindings are the port's bindings besides the active one (port_bindings.go).
	Bindings []portBinding `json:"nimbus:bindings,omitempty"`
}

type fixedIP struct {
	SubnetID  string `json:"subnet_id"`
	IPAddress string `json:"ip_address"`
}

type addressPair struct {
	IPAddress  string `json:"ip_address"`
	MACAddress string `json:"mac_address,omitempty"`
}

var portAttributes = []string{"name", "description", "project_id", "tenant_id", "network_id", "admin_state_up",
	"mac_address", "device_id", "device_owner", "fixed_ips", "allowed_address_pairs", "security_groups",
	"port_security_enabled", "binding:host_id", "binding:vnic_type", "binding:profile", "dns_name", "tags",
	"extra_dhcp_opts", "propagate_uplink_status", "trusted"}

func (s *Service) portRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.0/ports", Handler: s.listPorts},
		{Method: "POST", Path: "/v2.0/ports", Handler: s.createPort},
		{Method: "GET", Path: "/v2.0/ports/{id}", Handler: s.showPort},
		{Method: "PUT", Path: "/v2.0/ports/{id}", Handler: s.updatePort},
		{Method: "DELETE", Path: "/v2.0/ports/{id}", Handler: s.deletePort},
	}
}

// portTarget is a port as upstream's policy engine sees it: its attributes, with
// network:project_id, its network's owner, and shared, its network's (upstream's
// field check looks both up from the network).
func portTarget(p *portBody, n *networkBody) map[string]any {
	return map[string]any{"id": p.ID, "project_id": p.ProjectID, "tenant_id": p.ProjectID, "network_id": n.ID,
		"network:project_id": n.ProjectID, "network:tenant_id": n.ProjectID, "shared": n.Shared,
		"device_owner": p.DeviceOwner, "device_id": p.DeviceID}
}

// portJSON renders a port; binding details only for those get_port:binding:* allow.
func (s *Service) portJSON(c caller, p *portBody, n *networkBody) object {
	o := render(p)
	delete(o, "nimbus:bindings") // not a port attribute
	var assignments []any
	for _, f := range p.FixedIPs {
		host := p.DNSName
		if host == "" {
			host = "host-" + strings.NewReplacer(".", "-", ":", "-").Replace(f.IPAddress)
		}
		assignments = append(assignments, map[string]any{"hostname": host, "ip_address": f.IPAddress,
			"fqdn": host + "." + s.opts.DNSDomain})
	}
	if assignments == nil {
		assignments = []any{}
	}
	o["dns_assignment"] = assignments
	if trusted, ok := p.BindingProfile["trusted"]; ok {
		o["trusted"] = trusted
	}
	if n != nil {
		s.hideAttributes(c, "port", o, portTarget(p, n))
	}
	return o
}

func (s *Service) listPorts(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	nets, err := s.networksByID(r.Context(), s.db)
	if err != nil {
		return httpapi.Response{}, err
	}
	query, args := `SELECT body FROM ports`, []any{}
	if !c.admin { // the rest are filtered by policy below; this keeps big clouds cheap
		query, args = `SELECT p.body FROM ports p JOIN networks n ON n.id = p.network_id WHERE p.project_id = ? OR n.project_id = ?`,
			[]any{c.project, c.project}
	}
	ports, err := loadBodies[portBody](r.Context(), s.db, query, args...)
	if err != nil {
		return httpapi.Response{}, err
	}
	var out []object
	for i := range ports {
		n := nets[ports[i].NetworkID]
		if n != nil && s.allowed(c, "get_port", portTarget(&ports[i], n)) {
			out = append(out, s.portJSON(c, &ports[i], n))
		}
	}
	if err := s.trunkDetails(r.Context(), s.db, out); err != nil {
		return httpapi.Response{}, err
	}
	return listResponse(r, "ports", out)
}

// visiblePort loads a port and its network, 404 when the caller may not see it.
func (s *Service) visiblePort(ctx context.Context, c caller, q db.Querier, id string) (*portBody, *networkBody, error) {
	var p portBody
	if err := loadBody(ctx, q, "ports", id, &p); err != nil {
		return nil, nil, notFoundIfNoRows(err, "PortNotFound", "Port", id)
	}
	var n networkBody
	if err := loadBody(ctx, q, "networks", p.NetworkID, &n); err != nil {
		return nil, nil, err
	}
	if !s.allowed(c, "get_port", portTarget(&p, &n)) {
		return nil, nil, notFound("PortNotFound", "Port", id)
	}
	return &p, &n, nil
}

func (s *Service) showPort(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	p, n, err := s.visiblePort(r.Context(), c, s.db, r.PathValue("id"))
	if err != nil {
		return httpapi.Response{}, err
	}
	o := s.portJSON(c, p, n)
	if err := s.trunkDetails(r.Context(), s.db, []object{o}); err != nil {
		return httpapi.Response{}, err
	}
	return showResponse(r, "port", o), nil
}

func (s *Service) createPort(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "port", portAttributeMap, true)
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
	ips, err := requestedIPs(attrs)
	if err != nil {
		return httpapi.Response{}, err
	}
	var p *portBody
	var n *networkBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		var err error
		if n, err = s.visibleNetwork(r.Context(), c, tx, netID); err != nil {
			return err
		}
		p = &portBody{standard: newStandard(newUUID(), project, stamp(s.now())), NetworkID: netID, AdminStateUp: true,
			Status: "DOWN", PortSecurityEnabled: n.PortSecurityEnabled, FixedIPs: []fixedIP{},
			AllowedAddressPairs: []addressPair{}, SecurityGroups: []string{}, BindingVNICType: "normal",
			BindingVIFType: "unbound", BindingVIFDetails: map[string]any{}, BindingProfile: map[string]any{},
			ExtraDHCPOpts: []any{}, IPAllocation: "immediate"}
		if err := p.apply(attrs); err != nil {
			return err
		}
		// The network's owner decides what goes on it: others may add ports only to
		// a shared network, without choosing addresses, MACs, port security, address
		// pairs, bindings or a network: device owner (and a network they cannot see
		// is not found, above).
		if err := s.authorize(c, "port", "create_port", portTarget(p, n), attrs, true); err != nil {
			return err
		}
		if err := s.checkQuota(r.Context(), tx, project, "port", "ports"); err != nil {
			return err
		}
		if err := s.insertPort(r.Context(), tx, p); err != nil {
			return err
		}
		if err := s.assignIPs(r.Context(), tx, p, n, ips); err != nil {
			return err
		}
		if err := s.setPortSecurity(r.Context(), tx, c, p, attrs, true); err != nil {
			return err
		}
		s.bind(p, n)
		return saveBody(r.Context(), tx, "ports", p.ID, p)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Created(map[string]any{"port": s.portJSON(c, p, n)}), nil
}

// macGenerationRetries is upstream's mac_generation_retries: how many MACs a port is
// drawn before its creation fails.
const macGenerationRetries = 16

// insertPort stores a new port's row, drawing its MAC when it has none. A MAC the
// service drew that another port of the network has (1 in 16M per port: likely
// among a few thousand) is drawn again, as upstream's mac_generation_retries; one
// the caller asked for is taken (409).
func (s *Service) insertPort(ctx context.Context, tx *db.Tx, p *portBody) error {
	generated := p.MACAddress == ""
	for range macGenerationRetries {
		if generated {
			p.MACAddress = s.newMAC()
		}
		inserted, err := insertedOne(tx.ExecContext(ctx, `INSERT INTO ports (id, network_id, project_id, mac_address, device_id, host_id, body)
			VALUES (?, ?, ?, ?, ?, ?, '{}') ON CONFLICT DO NOTHING`, p.ID, p.NetworkID, p.ProjectID, p.MACAddress, p.DeviceID, p.BindingHostID))
		switch {
		case err != nil:
			return err
		case inserted:
			return nil
		case !generated:
			return conflict("MacAddressInUse", "Unable to complete operation for network %s. The mac address %s is in use.", p.NetworkID, p.MACAddress)
		}
	}
	return neutronError(http.StatusServiceUnavailable, "MacAddressGenerationFailure", "Unable to generate unique mac on network %s.", p.NetworkID)
}

// apply sets the attributes create and update share.
func (p *portBody) apply(attrs map[string]any) error {
	for _, f := range []func() error{
		func() error { return attrString(attrs, "name", &p.Name) },
		func() error { return attrString(attrs, "description", &p.Description) },
		func() error { return attrBool(attrs, "admin_state_up", &p.AdminStateUp) },
		func() error { return attrString(attrs, "device_id", &p.DeviceID) },
		func() error { return attrString(attrs, "device_owner", &p.DeviceOwner) },
		func() error { return attrString(attrs, "binding:host_id", &p.BindingHostID) },
		func() error { return attrString(attrs, "binding:vnic_type", &p.BindingVNICType) },
		func() error { return attrStrings(attrs, "tags", &p.Tags) },
		func() error { return attrBool(attrs, "propagate_uplink_status", &p.PropagateUplinkStatus) },
	} {
		if err := f(); err != nil {
			return err
		}
	}
	if v, ok := attrs["mac_address"]; ok {
		mac, err := parseMAC(v)
		if err != nil {
			return err
		}
		p.MACAddress = mac
	}
	if v, ok := attrs["dns_name"]; ok {
		name, _ := v.(string)
		if name != "" && !dnsLabel.MatchString(name) {
			return invalidInput("'%s' not a valid PQDN or FQDN. Reason: it is not a valid hostname label", name)
		}
		p.DNSName = name
	}
	if v, ok := attrs["binding:profile"]; ok {
		m, isMap := v.(map[string]any)
		if v != nil && !isMap {
			return invalidInput("binding:profile must be a dictionary")
		}
		if m == nil {
			m = map[string]any{}
		}
		p.BindingProfile = m
	}
	if v, ok := attrs["trusted"]; ok { // port-trusted-vif: kept in the binding profile, as upstream
		switch b := v.(type) {
		case nil:
			delete(p.BindingProfile, "trusted")
		case bool:
			p.BindingProfile["trusted"] = b
		default:
			return invalidInput("'%v' cannot be converted to boolean", v)
		}
	}
	// null changes nothing (extradhcpopt_db reads only a list it is given)
	if v, ok := attrs["extra_dhcp_opts"]; ok && v != nil {
		if err := decodeInto(v, &p.ExtraDHCPOpts, "extra_dhcp_opts"); err != nil {
			return err
		}
	}
	if p.BindingVNICType != "normal" && p.BindingVNICType != "" {
		return invalidInput("binding:vnic_type '%s' is not supported (only normal)", p.BindingVNICType)
	}
	return nil
}

var dnsLabel = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)

func parseMAC(v any) (string, error) {
	str, _ := v.(string)
	hw, err := parseMACForms(str)
	if err != nil || len(hw) != 6 {
		return "", invalidInput("'%v' is not a valid MAC address", v)
	}
	if hw[0]&1 == 1 || str == "00:00:00:00:00:00" {
		return "", invalidInput("'%s' is not a valid MAC address", str)
	}
	return hw.String(), nil
}

// randomMAC makes an address with OpenStack's fa:16:3e prefix.
func randomMAC() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", b[0], b[1], b[2])
}

// bind fills the binding attributes: a port bound to a host plugs into the
// network's Linux bridge there.
func (s *Service) bind(p *portBody, n *networkBody) {
	if p.BindingHostID == "" {
		p.BindingVIFType, p.BindingVIFDetails = "unbound", map[string]any{}
		return
	}
	p.BindingVIFType = "bridge"
	p.BindingVIFDetails = map[string]any{"port_filter": true, "connectivity": "l2",
		"bridge_name": dataplane.BridgeName(n.ID)}
}

func (s *Service) updatePort(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := parseBody(r, "port", portAttributeMap, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	for _, ro := range []string{"network_id", "project_id", "tenant_id"} {
		if _, ok := attrs[ro]; ok {
			return httpapi.Response{}, badRequest("Cannot update read-only attribute %s", ro)
		}
	}
	var ips ipRequest
	if _, ok := attrs["fixed_ips"]; ok {
		if ips, err = requestedIPs(attrs); err != nil {
			return httpapi.Response{}, err
		}
	}
	var p *portBody
	var n *networkBody
	err = s.inTx(r.Context(), func(tx *db.Tx) error {
		var err error
		if p, n, err = s.visiblePort(r.Context(), c, tx, r.PathValue("id")); err != nil {
			return err
		}
		oldMAC := p.MACAddress
		if err := p.apply(attrs); err != nil {
			return err
		}
		// As upstream, the rules see the port as the update would leave it (a
		// device_owner of network:... is the network owner's to set).
		if err := s.authorize(c, "port", "update_port", portTarget(p, n), attrs, false); err != nil {
			return err
		}
		if p.MACAddress != oldMAC {
			if p.BindingHostID != "" {
				return conflict("PortBound", "Unable to complete operation on port %s, port is already bound, port type: bridge, old_mac %s, new_mac %s.", p.ID, oldMAC, p.MACAddress)
			}
			if _, err := tx.ExecContext(r.Context(), `UPDATE ports SET mac_address = ? WHERE id = ?`, p.MACAddress, p.ID); err != nil {
				if db.IsUniqueViolation(err) {
					return conflict("MacAddressInUse", "Unable to complete operation for network %s. The mac address %s is in use.", n.ID, p.MACAddress)
				}
				return err
			}
		}
		if ips.given {
			if _, err := tx.ExecContext(r.Context(), `DELETE FROM ip_allocations WHERE port_id = ?`, p.ID); err != nil {
				return err
			}
			p.FixedIPs = []fixedIP{}
			if err := s.assignIPs(r.Context(), tx, p, n, ips); err != nil {
				return err
			}
		}
		if err := s.setPortSecurity(r.Context(), tx, c, p, attrs, false); err != nil {
			return err
		}
		s.bind(p, n)
		if _, err := tx.ExecContext(r.Context(), `UPDATE ports SET device_id = ?, host_id = ? WHERE id = ?`,
			p.DeviceID, p.BindingHostID, p.ID); err != nil {
			return err
		}
		p.touch(stamp(s.now()))
		return saveBody(r.Context(), tx, "ports", p.ID, p)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"port": s.portJSON(c, p, n)}), nil
}

// deletePort removes a port; a router's ports go only through the router API.
func (s *Service) deletePort(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	id := r.PathValue("id")
	err := s.inTx(r.Context(), func(tx *db.Tx) error {
		p, n, err := s.visiblePort(r.Context(), c, tx, id)
		if err != nil {
			return err
		}
		if err := s.enforce(c, "delete_port", portTarget(p, n)); err != nil {
			return err
		}
		if slices.Contains([]string{ownerRouterInterface, ownerRouterGateway, ownerFloatingIP}, p.DeviceOwner) {
			return conflict("ServicePortInUse", "Port %s cannot be deleted directly via the port API: has device owner %s.", id, p.DeviceOwner)
		}
		if err := trunkOfPort(r.Context(), tx, id); err != nil {
			return err
		}
		return s.removePort(r.Context(), tx, id)
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.NoContent(), nil
}

// removePort deletes a port with its addresses and group memberships, releasing
// the floating IPs associated with it.
func (s *Service) removePort(ctx context.Context, tx *db.Tx, id string) error {
	if err := s.disassociatePort(ctx, tx, id); err != nil {
		return err
	}
	for _, q := range []string{
		`DELETE FROM ip_allocations WHERE port_id = ?`,
		`DELETE FROM port_security_groups WHERE port_id = ?`,
		`DELETE FROM ports WHERE id = ?`,
	} {
		if _, err := tx.ExecContext(ctx, q, id); err != nil {
			return err
		}
	}
	return nil
}
