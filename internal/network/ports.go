package network

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

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
	return showResponse(r, "port", s.portJSON(c, p, n)), nil
}

func (s *Service) createPort(r *http.Request) (httpapi.Response, error) {
	c := s.caller(r)
	attrs, err := requestBody(r, "port", portAttributes)
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
	var p *portBody
	var n *networkBody
	// A concurrent port may take the address this one picked; the primary key of
	// ip_allocations refuses the second, and the whole creation is tried again.
	err = s.retryConflicts(r.Context(), func(tx *db.Tx) error {
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
		generated := p.MACAddress == ""
		if generated {
			p.MACAddress = s.newMAC()
		}
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO ports (id, network_id, project_id, mac_address, device_id, host_id, body)
			VALUES (?, ?, ?, ?, ?, ?, '{}')`, p.ID, netID, project, p.MACAddress, p.DeviceID, p.BindingHostID); err != nil {
			// A MAC we drew that another port of the network has (1 in 16M per port:
			// likely among a few thousand) is drawn again, as upstream's
			// mac_generation_retries; one the caller asked for is taken.
			if db.IsUniqueViolation(err) && !generated {
				return conflict("MacAddressInUse", "Unable to complete operation for network %s. The mac address %s is in use.", netID, p.MACAddress)
			}
			return err
		}
		requested, given := attrs["fixed_ips"]
		if err := s.assignIPs(r.Context(), tx, p, n, requested, given); err != nil {
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

// retryConflicts runs fn in a transaction, again when it lost a race on a unique
// key (an address, a MAC) to a concurrent transaction.
func (s *Service) retryConflicts(ctx context.Context, fn func(*db.Tx) error) error {
	var err error
	for attempt := range 30 {
		err = s.db.InTx(ctx, fn)
		if !db.IsUniqueViolation(err) {
			return err
		}
		// Back off a little, at random, so the racers do not collide again.
		delay := time.Duration(mrand.IntN(1000*(attempt+1))) * time.Microsecond
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
	return conflict("IpAddressGenerationFailure", "Could not allocate an address: too many concurrent requests, try again")
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
	if v, ok := attrs["extra_dhcp_opts"]; ok {
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
	hw, err := net.ParseMAC(str)
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

// assignIPs gives a port the addresses it asked for, or by default one address of
// the network's first IPv4 subnet and one of its first IPv6 subnet with stateful
// addresses; either way, as upstream, also its EUI-64 address on every
// auto-address (slaac, dhcpv6-stateless) subnet, which are never picked from the
// pools (router interfaces excepted: they take addresses like any subnet's).
func (s *Service) assignIPs(ctx context.Context, tx *db.Tx, p *portBody, n *networkBody, requested any, given bool) error {
	subnets, err := loadBodies[subnetBody](ctx, tx, `SELECT body FROM subnets WHERE network_id = ? ORDER BY id`, n.ID)
	if err != nil {
		return err
	}
	bySubnet := map[string]*subnetBody{}
	for i := range subnets {
		bySubnet[subnets[i].ID] = &subnets[i]
	}
	auto := takesAutoAddress(p.DeviceOwner)
	if !given {
		done := map[int]bool{}
		for i := range subnets {
			sb := &subnets[i]
			if done[sb.IPVersion] || auto && sb.autoAddress() {
				continue
			}
			a, ok, err := allocateIP(ctx, tx, sb, p.ID)
			if err != nil {
				return err
			}
			if !ok {
				return conflict("IpAddressGenerationFailure", "No more IP addresses available on network %s.", n.ID)
			}
			p.FixedIPs = append(p.FixedIPs, fixedIP{SubnetID: sb.ID, IPAddress: a.String()})
			done[sb.IPVersion] = true
		}
	} else {
		var wants []fixedIP
		if requested != nil {
			if err := decodeInto(requested, &wants, "fixed_ips"); err != nil {
				return err
			}
		}
		for _, want := range wants {
			if sb := bySubnet[want.SubnetID]; auto && want.IPAddress == "" && sb != nil && sb.autoAddress() {
				continue // its EUI-64 address comes below
			}
			f, err := s.assignOne(ctx, tx, p, n, subnets, bySubnet, want)
			if err != nil {
				return err
			}
			p.FixedIPs = append(p.FixedIPs, f)
		}
	}
	if !auto {
		return nil
	}
	for i := range subnets {
		sb := &subnets[i]
		if !sb.autoAddress() || slices.ContainsFunc(p.FixedIPs, func(f fixedIP) bool { return f.SubnetID == sb.ID }) {
			continue
		}
		f, ok, err := allocateAuto(ctx, tx, sb, p)
		if err != nil {
			return err
		}
		if ok {
			p.FixedIPs = append(p.FixedIPs, f)
		}
	}
	return nil
}

// assignOne handles one entry of fixed_ips: a subnet (any free address), an
// address (on whichever subnet holds it), or both.
func (s *Service) assignOne(ctx context.Context, tx *db.Tx, p *portBody, n *networkBody, subnets []subnetBody,
	bySubnet map[string]*subnetBody, want fixedIP) (fixedIP, error) {
	var sb *subnetBody
	if want.SubnetID != "" {
		if sb = bySubnet[want.SubnetID]; sb == nil {
			return fixedIP{}, badRequest("Invalid input for operation: Failed to create port on network %s, because fixed_ips included invalid subnet %s.", n.ID, want.SubnetID)
		}
	}
	if want.IPAddress == "" {
		if sb == nil {
			return fixedIP{}, invalidInput("Exactly one of subnet_id and ip_address is required in fixed_ips")
		}
		a, ok, err := allocateIP(ctx, tx, sb, p.ID)
		if err != nil {
			return fixedIP{}, err
		}
		if !ok {
			return fixedIP{}, conflict("IpAddressGenerationFailure", "No more IP addresses available on network %s.", n.ID)
		}
		return fixedIP{SubnetID: sb.ID, IPAddress: a.String()}, nil
	}
	a, err := netip.ParseAddr(want.IPAddress)
	if err != nil {
		return fixedIP{}, invalidInput("'%s' is not a valid IP address", want.IPAddress)
	}
	if sb == nil {
		for i := range subnets {
			if subnets[i].prefix().Contains(a) {
				sb = &subnets[i]
				break
			}
		}
		if sb == nil {
			return fixedIP{}, badRequest("IP address %s is not a valid IP for any of the subnets on the specified network.", a)
		}
	} else if !sb.prefix().Contains(a) {
		return fixedIP{}, badRequest("IP address %s is not a valid IP for the specified subnet.", a)
	}
	if sb.IPVersion == 4 && (a == sb.prefix().Addr() || a == lastAddr(sb.prefix())) && sb.prefix().Bits() < 31 {
		return fixedIP{}, badRequest("IP address %s is not a valid IP for the specified subnet.", a)
	}
	if sb.autoAddress() && takesAutoAddress(p.DeviceOwner) {
		// As upstream (AllocationOnAutoAddressSubnet): only the port's own EUI-64
		// address, which the instance configures by itself.
		if want, ok := eui64(sb.prefix(), p.MACAddress); !ok || want != a {
			return fixedIP{}, neutronError(http.StatusBadRequest, "AllocationOnAutoAddressSubnet",
				"IPv6 address %s cannot be directly assigned to a port on subnet %s as the subnet is configured for automatic addresses", a, sb.ID)
		}
	}
	var holder string
	err = tx.QueryRowContext(ctx, `SELECT port_id FROM ip_allocations WHERE subnet_id = ? AND ip_address = ?`, sb.ID, a.String()).Scan(&holder)
	switch {
	case err == nil:
		return fixedIP{}, conflict("IpAddressAlreadyAllocated", "IP address %s already allocated in subnet %s", a, sb.ID)
	case !db.IsNoRows(err):
		return fixedIP{}, err
	}
	if err := recordIP(ctx, tx, sb, a, p.ID); err != nil {
		return fixedIP{}, err
	}
	return fixedIP{SubnetID: sb.ID, IPAddress: a.String()}, nil
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
	attrs, err := requestBody(r, "port", portAttributes)
	if err != nil {
		return httpapi.Response{}, err
	}
	for _, ro := range []string{"network_id", "project_id", "tenant_id"} {
		if _, ok := attrs[ro]; ok {
			return httpapi.Response{}, badRequest("Cannot update read-only attribute %s", ro)
		}
	}
	var p *portBody
	var n *networkBody
	err = s.retryConflicts(r.Context(), func(tx *db.Tx) error {
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
		if requested, ok := attrs["fixed_ips"]; ok {
			if _, err := tx.ExecContext(r.Context(), `DELETE FROM ip_allocations WHERE port_id = ?`, p.ID); err != nil {
				return err
			}
			p.FixedIPs = []fixedIP{}
			if err := s.assignIPs(r.Context(), tx, p, n, requested, true); err != nil {
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
	err := s.db.InTx(r.Context(), func(tx *db.Tx) error {
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
