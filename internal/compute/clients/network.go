package clients

import (
	"context"
	"net/http"
	"net/netip"
	"net/url"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Network is the network API (Neutron v2.0).
type Network struct{ e *endpoint }

var _ compute.Network = (*Network)(nil)

// NewNetwork authenticates against identity and reaches the network API at url.
func NewNetwork(creds Credentials, url string) *Network {
	return &Network{e: newEndpoint(creds, url)}
}

type networkBody struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	ProjectID string `json:"project_id"`
	Shared    bool   `json:"shared"`
	External  bool   `json:"router:external"`
	MTU       int    `json:"mtu"`
}

func (n networkBody) info() compute.NetworkInfo {
	return compute.NetworkInfo{ID: n.ID, Name: n.Name, ProjectID: n.ProjectID, Shared: n.Shared, External: n.External, MTU: n.MTU}
}

type portBody struct {
	ID          string `json:"id"`
	NetworkID   string `json:"network_id"`
	ProjectID   string `json:"project_id"`
	MAC         string `json:"mac_address"`
	Status      string `json:"status"`
	DeviceID    string `json:"device_id"`
	DeviceOwner string `json:"device_owner"`
	HostID      string `json:"binding:host_id"`
	FixedIPs    []struct {
		SubnetID  string `json:"subnet_id"`
		IPAddress string `json:"ip_address"`
	} `json:"fixed_ips"`
	SecurityGroups []string `json:"security_groups"`
	// PortSecurity is nil when the port_security extension is off, which
	// upstream takes as enabled.
	PortSecurity *bool  `json:"port_security_enabled"`
	IPAllocation string `json:"ip_allocation"`
}

func (p portBody) port() compute.Port {
	out := compute.Port{ID: p.ID, NetworkID: p.NetworkID, ProjectID: p.ProjectID, MAC: p.MAC, Status: p.Status,
		DeviceID: p.DeviceID, DeviceOwner: p.DeviceOwner, HostID: p.HostID, SecurityGroups: p.SecurityGroups,
		PortSecurityEnabled: p.PortSecurity == nil || *p.PortSecurity, IPAllocation: p.IPAllocation}
	for _, f := range p.FixedIPs {
		if ip, err := netip.ParseAddr(f.IPAddress); err == nil {
			out.FixedIPs = append(out.FixedIPs, compute.PortIP{SubnetID: f.SubnetID, IP: ip})
		}
	}
	return out
}

func (c *Network) Networks(ctx context.Context, token string) ([]compute.NetworkInfo, error) {
	var body struct {
		Networks []networkBody `json:"networks"`
	}
	if err := c.e.get(ctx, token, "v2.0/networks", &body); err != nil {
		return nil, err
	}
	var out []compute.NetworkInfo
	for _, n := range body.Networks {
		if !n.External {
			out = append(out, n.info())
		}
	}
	return out, nil
}

func (c *Network) GetNetwork(ctx context.Context, token, id string) (compute.NetworkInfo, error) {
	var body struct {
		Network networkBody `json:"network"`
	}
	if err := c.e.get(ctx, token, "v2.0/networks/"+url.PathEscape(id), &body); err != nil {
		return compute.NetworkInfo{}, err
	}
	return body.Network.info(), nil
}

func (c *Network) GetPort(ctx context.Context, token, id string) (compute.Port, error) {
	var body struct {
		Port portBody `json:"port"`
	}
	if err := c.e.get(ctx, token, "v2.0/ports/"+url.PathEscape(id), &body); err != nil {
		return compute.Port{}, err
	}
	return body.Port.port(), nil
}

func (c *Network) PortStatus(ctx context.Context, id string) (compute.Port, error) {
	return c.GetPort(ctx, "", id)
}

// SecurityGroupIDs resolves each name (or id) among the project's groups; an
// unknown one is upstream's 400.
func (c *Network) SecurityGroupIDs(ctx context.Context, token, project string, namesOrIDs []string) ([]string, error) {
	var body struct {
		Groups []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"security_groups"`
	}
	if err := c.e.get(ctx, token, "v2.0/security-groups?project_id="+url.QueryEscape(project), &body); err != nil {
		return nil, err
	}
	var out []string
	for _, want := range namesOrIDs {
		found := ""
		for _, g := range body.Groups {
			if g.ID == want {
				found = g.ID
				break
			}
			if g.Name == want {
				if found != "" {
					return nil, httpapi.BadRequest("Multiple security_group matches found for name '%s', use an ID to be more specific.", want)
				}
				found = g.ID
			}
		}
		if found == "" {
			return nil, httpapi.BadRequest("Security group %s not found for project %s.", want, project)
		}
		out = append(out, found)
	}
	return out, nil
}

// CreatePort makes a port as token's bearer (compute's own for ""): a server's
// ports are made with its user's token, so the network's policies and quotas
// decide what the user may have, as upstream's minimal port; the device owner
// and the binding host, an admin's to set, come with BindPort.
func (c *Network) CreatePort(ctx context.Context, token string, req compute.PortRequest) (compute.Port, error) {
	port := map[string]any{"network_id": req.NetworkID, "project_id": req.ProjectID}
	if req.DeviceID != "" {
		port["device_id"] = req.DeviceID
	}
	if req.FixedIP != "" {
		port["fixed_ips"] = []map[string]string{{"ip_address": req.FixedIP}}
	}
	if req.SecurityGroups != nil {
		port["security_groups"] = req.SecurityGroups
	}
	var body struct {
		Port portBody `json:"port"`
	}
	if err := c.e.send(ctx, token, http.MethodPost, "v2.0/ports", map[string]any{"port": port}, &body, http.StatusCreated); err != nil {
		return compute.Port{}, err
	}
	return body.Port.port(), nil
}

func (c *Network) updatePort(ctx context.Context, token, id string, fields map[string]any) (compute.Port, error) {
	var body struct {
		Port portBody `json:"port"`
	}
	if err := c.e.send(ctx, token, http.MethodPut, "v2.0/ports/"+url.PathEscape(id), map[string]any{"port": fields}, &body, http.StatusOK); err != nil {
		return compute.Port{}, err
	}
	return body.Port.port(), nil
}

func (c *Network) BindPort(ctx context.Context, id, deviceID, deviceOwner, host string) (compute.Port, error) {
	return c.updatePort(ctx, "", id, map[string]any{"device_id": deviceID, "device_owner": deviceOwner, "binding:host_id": host})
}

func (c *Network) UnbindPort(ctx context.Context, id string) error {
	_, err := c.updatePort(ctx, "", id, map[string]any{"device_id": "", "device_owner": "", "binding:host_id": ""})
	return err
}

func (c *Network) DeletePort(ctx context.Context, id string) error {
	return c.e.remove(ctx, "", "v2.0/ports/"+url.PathEscape(id))
}

func (c *Network) FloatingIPs(ctx context.Context, portID string) ([]netip.Addr, error) {
	var body struct {
		FloatingIPs []struct {
			IP string `json:"floating_ip_address"`
		} `json:"floatingips"`
	}
	if err := c.e.get(ctx, "", "v2.0/floatingips?port_id="+url.QueryEscape(portID), &body); err != nil {
		return nil, err
	}
	var out []netip.Addr
	for _, f := range body.FloatingIPs {
		if ip, err := netip.ParseAddr(f.IP); err == nil {
			out = append(out, ip)
		}
	}
	return out, nil
}

func (c *Network) DevicePorts(ctx context.Context, token, deviceID string) ([]compute.Port, error) {
	var body struct {
		Ports []portBody `json:"ports"`
	}
	if err := c.e.get(ctx, token, "v2.0/ports?device_id="+url.QueryEscape(deviceID), &body); err != nil {
		return nil, err
	}
	out := make([]compute.Port, len(body.Ports))
	for i, p := range body.Ports {
		out[i] = p.port()
	}
	return out, nil
}

func (c *Network) SetPortSecurityGroups(ctx context.Context, token, portID string, groupIDs []string) (compute.Port, error) {
	if groupIDs == nil {
		groupIDs = []string{} // null is not a list to the network API
	}
	return c.updatePort(ctx, token, portID, map[string]any{"security_groups": groupIDs})
}

var _ compute.NetworkProxy = (*Network)(nil)

type floatingIPBody struct {
	ID        string  `json:"id"`
	IP        string  `json:"floating_ip_address"`
	FixedIP   *string `json:"fixed_ip_address"`
	PortID    *string `json:"port_id"`
	NetworkID string  `json:"floating_network_id"`
}

// floatingIP completes a floating IP with its pool's name and its port's
// device, as upstream's port_details and network_details.
func (c *Network) floatingIP(ctx context.Context, token string, b floatingIPBody, names map[string]string) compute.FloatingIP {
	f := compute.FloatingIP{ID: b.ID, IP: b.IP, Pool: b.NetworkID}
	if b.FixedIP != nil {
		f.FixedIP = *b.FixedIP
	}
	if b.PortID != nil && *b.PortID != "" {
		f.PortID = *b.PortID
		if p, err := c.PortStatus(ctx, f.PortID); err == nil {
			f.DeviceID = p.DeviceID
		}
	}
	name, ok := names[b.NetworkID]
	if !ok {
		if n, err := c.GetNetwork(ctx, token, b.NetworkID); err == nil {
			name = n.Name
		}
		names[b.NetworkID] = name
	}
	if name != "" {
		f.Pool = name
	}
	return f
}

func (c *Network) listFloatingIPs(ctx context.Context, token, query string) ([]compute.FloatingIP, error) {
	var body struct {
		FloatingIPs []floatingIPBody `json:"floatingips"`
	}
	if err := c.e.get(ctx, token, "v2.0/floatingips?"+query, &body); err != nil {
		return nil, err
	}
	names := map[string]string{}
	out := make([]compute.FloatingIP, len(body.FloatingIPs))
	for i, b := range body.FloatingIPs {
		out[i] = c.floatingIP(ctx, token, b, names)
	}
	return out, nil
}

func (c *Network) ListFloatingIPs(ctx context.Context, token, project string) ([]compute.FloatingIP, error) {
	return c.listFloatingIPs(ctx, token, url.Values{"project_id": {project}}.Encode())
}

func (c *Network) GetFloatingIP(ctx context.Context, token, id string) (compute.FloatingIP, error) {
	var body struct {
		FloatingIP floatingIPBody `json:"floatingip"`
	}
	if err := c.e.get(ctx, token, "v2.0/floatingips/"+url.PathEscape(id), &body); err != nil {
		return compute.FloatingIP{}, err
	}
	return c.floatingIP(ctx, token, body.FloatingIP, map[string]string{}), nil
}

func (c *Network) FloatingIPByAddress(ctx context.Context, token, address string) (compute.FloatingIP, error) {
	fips, err := c.listFloatingIPs(ctx, token, url.Values{"floating_ip_address": {address}}.Encode())
	if err != nil {
		return compute.FloatingIP{}, err
	}
	if len(fips) == 0 {
		return compute.FloatingIP{}, httpapi.NotFound("Floating IP not found for address %s.", address)
	}
	return fips[0], nil
}

func (c *Network) CreateFloatingIP(ctx context.Context, token, pool string) (compute.FloatingIP, error) {
	var nets struct {
		Networks []networkBody `json:"networks"`
	}
	if err := c.e.get(ctx, token, "v2.0/networks?router:external=true", &nets); err != nil {
		return compute.FloatingIP{}, err
	}
	networkID := ""
	for _, n := range nets.Networks {
		if n.ID == pool || n.Name == pool {
			networkID = n.ID
			break
		}
	}
	if networkID == "" {
		return compute.FloatingIP{}, httpapi.NotFound("Floating IP pool not found.")
	}
	var body struct {
		FloatingIP floatingIPBody `json:"floatingip"`
	}
	if err := c.e.send(ctx, token, http.MethodPost, "v2.0/floatingips",
		map[string]any{"floatingip": map[string]any{"floating_network_id": networkID}}, &body, http.StatusCreated); err != nil {
		return compute.FloatingIP{}, err
	}
	return c.floatingIP(ctx, token, body.FloatingIP, map[string]string{}), nil
}

func (c *Network) DeleteFloatingIP(ctx context.Context, token, id string) error {
	return c.e.remove(ctx, token, "v2.0/floatingips/"+url.PathEscape(id))
}

func (c *Network) AssociateFloatingIP(ctx context.Context, token, id, portID, fixedIP string) error {
	fields := map[string]any{"port_id": nil}
	if portID != "" {
		fields["port_id"], fields["fixed_ip_address"] = portID, fixedIP
	}
	return c.e.send(ctx, token, http.MethodPut, "v2.0/floatingips/"+url.PathEscape(id),
		map[string]any{"floatingip": fields}, nil, http.StatusOK)
}

func (c *Network) VisibleNetworks(ctx context.Context, token string) ([]compute.NetworkInfo, error) {
	var body struct {
		Networks []networkBody `json:"networks"`
	}
	if err := c.e.get(ctx, token, "v2.0/networks", &body); err != nil {
		return nil, err
	}
	out := make([]compute.NetworkInfo, len(body.Networks))
	for i, n := range body.Networks {
		out[i] = n.info()
	}
	return out, nil
}
