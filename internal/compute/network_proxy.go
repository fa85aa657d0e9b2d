package compute

import (
	"net/http"
	"net/netip"
	"slices"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// defaultFloatingPool is upstream's [neutron] default_floating_pool: the
// external network a floating IP is allocated from when the request names none.
const defaultFloatingPool = "nova"

// networkProxyRoutes are Nova's deprecated proxies of the network service:
// os-floating-ips (nova/api/openstack/compute/floating_ips.py) and os-networks
// (networks.py), to 2.35 and 404 beyond; os-networks' nova-network calls are
// 410 Gone at every microversion, as upstream's (@wsgi.removed, no
// @wsgi.api_version).
func (s *Service) networkProxyRoutes() []httpapi.Route {
	own := func(r *http.Request) (map[string]any, error) {
		return map[string]any{"target.project_id": auth.FromContext(r.Context()).ProjectID}, nil
	}
	fip := func(method, path, rule string, h httpapi.Handler) httpapi.Route {
		return httpapi.Route{Method: method, Path: "/v2.1/os-floating-ips" + path, Policy: "os_compute_api:os-floating-ips:" + rule,
			Target: own, Handler: s.upTo(35, h)}
	}
	gone := func(method, path string) httpapi.Route {
		return httpapi.Route{Method: method, Path: "/v2.1/os-networks" + path, Handler: networkGone}
	}
	return []httpapi.Route{
		fip("GET", "", "list", s.listFloatingIPs),
		fip("POST", "", "create", s.createFloatingIP),
		fip("GET", "/{id}", "show", s.showFloatingIP),
		fip("DELETE", "/{id}", "delete", s.deleteFloatingIP),
		{Method: "GET", Path: "/v2.1/os-networks", Policy: "os_compute_api:os-networks:list", Target: own, Handler: s.upTo(35, s.listProxyNetworks)},
		{Method: "GET", Path: "/v2.1/os-networks/{id}", Policy: "os_compute_api:os-networks:show", Target: own, Handler: s.upTo(35, s.showProxyNetwork)},
		gone("POST", ""), gone("POST", "/add"), gone("DELETE", "/{id}"),
		{Method: "POST", Path: "/v2.1/os-networks/{id}/action", Handler: networkActionGone},
	}
}

// networkGone is upstream's answer to nova-network's calls since it was removed.
func networkGone(*http.Request) (httpapi.Response, error) {
	return httpapi.Response{}, httpapi.Errorf(http.StatusGone, "Gone")
}

// networkActionGone is os-networks' action: upstream's dispatcher answers an
// unknown action first, and each of nova-network's actions is Gone.
func networkActionGone(r *http.Request) (httpapi.Response, error) {
	name, _, err := oneAction(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	switch name {
	case "disassociate", "associate_host", "disassociate_host", "disassociate_project":
		return networkGone(r)
	}
	return httpapi.Response{}, badRequest("There is no such action: %s", name)
}

func (s *Service) networkProxy() (NetworkProxy, error) {
	p, ok := s.opts.Network.(NetworkProxy)
	if !ok {
		return nil, httpapi.Errorf(http.StatusNotImplemented, "The requested functionality is not supported.")
	}
	return p, nil
}

// floatingIPView is floating_ips.py's _translate_floating_ip_view.
func floatingIPView(f FloatingIP) map[string]any {
	var fixed, instance any
	if f.FixedIP != "" {
		fixed = f.FixedIP
	}
	if f.DeviceID != "" {
		instance = f.DeviceID
	}
	return map[string]any{"id": f.ID, "ip": f.IP, "fixed_ip": fixed, "instance_id": instance, "pool": f.Pool}
}

func (s *Service) listFloatingIPs(r *http.Request) (httpapi.Response, error) {
	p, err := s.networkProxy()
	if err != nil {
		return httpapi.Response{}, err
	}
	fips, err := p.ListFloatingIPs(r.Context(), r.Header.Get("X-Auth-Token"), auth.FromContext(r.Context()).ProjectID)
	if err != nil {
		return httpapi.Response{}, err
	}
	views := make([]map[string]any, len(fips))
	for i, f := range fips {
		views[i] = floatingIPView(f)
	}
	return httpapi.OK(map[string]any{"floating_ips": views}), nil
}

func (s *Service) proxiedFloatingIP(r *http.Request) (NetworkProxy, FloatingIP, error) {
	p, err := s.networkProxy()
	if err != nil {
		return nil, FloatingIP{}, err
	}
	id := r.PathValue("id")
	f, err := p.GetFloatingIP(r.Context(), r.Header.Get("X-Auth-Token"), id)
	if httpapi.IsStatus(err, http.StatusNotFound) {
		return nil, FloatingIP{}, notFound("Floating IP not found for ID %s", id)
	}
	return p, f, err
}

func (s *Service) showFloatingIP(r *http.Request) (httpapi.Response, error) {
	_, f, err := s.proxiedFloatingIP(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"floating_ip": floatingIPView(f)}), nil
}

// createFloatingIP allocates from the pool named ({"pool": ...}, or upstream's
// default pool), with upstream's messages for no pool, no address, no quota.
func (s *Service) createFloatingIP(r *http.Request) (httpapi.Response, error) {
	p, err := s.networkProxy()
	if err != nil {
		return httpapi.Response{}, err
	}
	var body struct {
		Pool *string `json:"pool"`
	}
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(r, &body); err != nil {
			return httpapi.Response{}, err
		}
	}
	pool, named := defaultFloatingPool, body.Pool != nil
	if named {
		pool = *body.Pool
	}
	f, err := p.CreateFloatingIP(r.Context(), r.Header.Get("X-Auth-Token"), pool)
	switch {
	case httpapi.IsStatus(err, http.StatusNotFound):
		return httpapi.Response{}, notFound("Floating IP pool not found.")
	case httpapi.IsStatus(err, http.StatusConflict) && named:
		return httpapi.Response{}, notFound("No more floating IPs in pool %s.", pool)
	case httpapi.IsStatus(err, http.StatusConflict):
		return httpapi.Response{}, notFound("No more floating IPs available.")
	case httpapi.IsStatus(err, http.StatusForbidden) && named:
		return httpapi.Response{}, forbidden("IP allocation over quota in pool %s.", pool)
	case httpapi.IsStatus(err, http.StatusForbidden):
		return httpapi.Response{}, forbidden("IP allocation over quota.")
	case err != nil:
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"floating_ip": floatingIPView(f)}), nil
}

// deleteFloatingIP disassociates and releases it (202); the server it was on
// stops showing it.
func (s *Service) deleteFloatingIP(r *http.Request) (httpapi.Response, error) {
	p, f, err := s.proxiedFloatingIP(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := p.DeleteFloatingIP(r.Context(), r.Header.Get("X-Auth-Token"), f.ID); err != nil {
		if httpapi.IsStatus(err, http.StatusForbidden) {
			return httpapi.Response{}, forbidden("Forbidden")
		}
		return httpapi.Response{}, err
	}
	if f.DeviceID != "" {
		s.recordFloatingIP(r, f.DeviceID, "", f.IP)
	}
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// recordFloatingIP shows (on portID) or stops showing address in the server's
// addresses; a server gone since is left alone.
func (s *Service) recordFloatingIP(r *http.Request, server, portID, address string) {
	err := s.changeInstance(r, server, "", func(_ *db.Tx, cur *instance) error {
		for i := range cur.Request.Ports {
			p := &cur.Request.Ports[i]
			p.FloatingIPs = slices.DeleteFunc(p.FloatingIPs, func(ip string) bool { return ip == address })
			if p.ID == portID {
				p.FloatingIPs = append(p.FloatingIPs, address)
			}
		}
		return nil
	})
	if err != nil && !httpapi.IsStatus(err, http.StatusNotFound) {
		s.log.WarnContext(r.Context(), "recording a floating IP on a server", "server", server, "error", err)
	}
}

// addFloatingIP is the addFloatingIp action (to 2.43): the floating address
// onto the server's fixed address named, or its first IPv4 one.
func (s *Service) addFloatingIP(r *http.Request, arg []byte) (httpapi.Response, error) {
	if since(r, 44) {
		return httpapi.Response{}, versionNotFound()
	}
	var req struct {
		Address      string  `json:"address"`
		FixedAddress *string `json:"fixed_address"`
	}
	allowed := func(n string) bool { return n == "address" || n == "fixed_address" }
	if err := decodeAction("addFloatingIp", arg, allowed, &req); err != nil {
		return httpapi.Response{}, err
	}
	if _, err := netip.ParseAddr(req.Address); err != nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute address. Value: %s. '%s' is not a 'ip-address'", req.Address, req.Address)
	}
	in, err := s.visibleInstance(r, "os_compute_api:os-floating-ips:add")
	if err != nil {
		return httpapi.Response{}, err
	}
	p, err := s.networkProxy()
	if err != nil {
		return httpapi.Response{}, err
	}
	if len(in.Request.Ports) == 0 {
		return httpapi.Response{}, badRequest("Instance network is not ready yet")
	}
	portID, fixed := "", ""
	for _, port := range in.Request.Ports {
		for _, ip := range port.IPs {
			a, err := netip.ParseAddr(ip)
			if err != nil {
				continue
			}
			if req.FixedAddress != nil && ip == *req.FixedAddress || req.FixedAddress == nil && a.Is4() && fixed == "" {
				portID, fixed = port.ID, ip
			}
		}
	}
	switch {
	case fixed == "" && req.FixedAddress != nil:
		return httpapi.Response{}, badRequest("Specified fixed address not assigned to instance")
	case fixed == "":
		return httpapi.Response{}, badRequest("Unable to associate floating IP %s to any fixed IPs for instance %s. Instance has no fixed IPv4 addresses to associate.", req.Address, in.UUID)
	}
	token := r.Header.Get("X-Auth-Token")
	f, err := p.FloatingIPByAddress(r.Context(), token, req.Address)
	if httpapi.IsStatus(err, http.StatusNotFound) {
		return httpapi.Response{}, notFound("floating IP not found")
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	if err := p.AssociateFloatingIP(r.Context(), token, f.ID, portID, fixed); err != nil {
		if httpapi.IsStatus(err, http.StatusForbidden) {
			return httpapi.Response{}, forbidden("%s", httpapi.AsError(err).Message)
		}
		return httpapi.Response{}, badRequest("Unable to associate floating IP %s to fixed IP %s for instance %s. Error: %s",
			req.Address, fixed, in.UUID, httpapi.AsError(err).Message)
	}
	if f.DeviceID != "" && f.DeviceID != in.UUID {
		s.recordFloatingIP(r, f.DeviceID, "", f.IP)
	}
	s.recordFloatingIP(r, in.UUID, portID, f.IP)
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// removeFloatingIP is the removeFloatingIp action (to 2.43): 409 when the
// address is not on this server.
func (s *Service) removeFloatingIP(r *http.Request, arg []byte) (httpapi.Response, error) {
	if since(r, 44) {
		return httpapi.Response{}, versionNotFound()
	}
	var req struct {
		Address string `json:"address"`
	}
	if err := decodeAction("removeFloatingIp", arg, func(n string) bool { return n == "address" }, &req); err != nil {
		return httpapi.Response{}, err
	}
	if _, err := netip.ParseAddr(req.Address); err != nil {
		return httpapi.Response{}, badRequest("Invalid input for field/attribute address. Value: %s. '%s' is not a 'ip-address'", req.Address, req.Address)
	}
	in, err := s.visibleInstance(r, "os_compute_api:os-floating-ips:remove")
	if err != nil {
		return httpapi.Response{}, err
	}
	p, err := s.networkProxy()
	if err != nil {
		return httpapi.Response{}, err
	}
	token := r.Header.Get("X-Auth-Token")
	f, err := p.FloatingIPByAddress(r.Context(), token, req.Address)
	if httpapi.IsStatus(err, http.StatusNotFound) {
		return httpapi.Response{}, notFound("floating IP not found")
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	if f.PortID == "" || f.DeviceID != in.UUID {
		return httpapi.Response{}, conflict("Floating IP %s is not associated with instance %s.", req.Address, in.UUID)
	}
	if err := p.AssociateFloatingIP(r.Context(), token, f.ID, "", ""); err != nil {
		if httpapi.IsStatus(err, http.StatusForbidden) {
			return httpapi.Response{}, forbidden("Forbidden")
		}
		return httpapi.Response{}, err
	}
	s.recordFloatingIP(r, in.UUID, "", f.IP)
	return httpapi.Response{Status: http.StatusAccepted}, nil
}

// proxyNetworkView is networks.py's network_dict now that nova-network is
// gone: the id and the name as label, every other field null (admins see more
// of them, all null).
func proxyNetworkView(r *http.Request, n NetworkInfo) map[string]any {
	v := map[string]any{"id": n.ID, "label": n.Name}
	for _, f := range []string{"cidr", "netmask", "gateway", "broadcast", "dns1", "dns2", "cidr_v6", "gateway_v6", "netmask_v6"} {
		v[f] = nil
	}
	if isAdmin(auth.FromContext(r.Context())) {
		for _, f := range []string{"created_at", "updated_at", "deleted_at", "deleted", "injected", "bridge", "vlan",
			"vpn_public_address", "vpn_public_port", "vpn_private_address", "dhcp_start", "project_id", "host",
			"bridge_interface", "multi_host", "priority", "rxtx_base", "mtu", "dhcp_server", "enable_dhcp", "share_address"} {
			v[f] = nil
		}
	}
	return v
}

func (s *Service) listProxyNetworks(r *http.Request) (httpapi.Response, error) {
	p, err := s.networkProxy()
	if err != nil {
		return httpapi.Response{}, err
	}
	nets, err := p.VisibleNetworks(r.Context(), r.Header.Get("X-Auth-Token"))
	if err != nil {
		return httpapi.Response{}, err
	}
	views := make([]map[string]any, len(nets))
	for i, n := range nets {
		views[i] = proxyNetworkView(r, n)
	}
	return httpapi.OK(map[string]any{"networks": views}), nil
}

func (s *Service) showProxyNetwork(r *http.Request) (httpapi.Response, error) {
	id := r.PathValue("id")
	n, err := s.opts.Network.GetNetwork(r.Context(), r.Header.Get("X-Auth-Token"), id)
	if httpapi.IsStatus(err, http.StatusNotFound) {
		return httpapi.Response{}, notFound("Network %s could not be found.", id)
	}
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"network": proxyNetworkView(r, n)}), nil
}
