package compute

import (
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// A server's addresses (/servers/{id}/ips) and its interfaces
// (/servers/{id}/os-interface; attach and detach are in server_interfaces.go).
func (s *Service) serverAddressRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/v2.1/servers/{id}/ips", Handler: s.listServerIPs},
		{Method: "GET", Path: "/v2.1/servers/{id}/ips/{network}", Handler: s.showServerIPs},
		{Method: "GET", Path: "/v2.1/servers/{id}/os-interface", Handler: s.listInterfaces},
		{Method: "GET", Path: "/v2.1/servers/{id}/os-interface/{port}", Handler: s.showInterface},
		{Method: "POST", Path: "/v2.1/servers/{id}/os-interface", Handler: s.attachInterface},
		{Method: "DELETE", Path: "/v2.1/servers/{id}/os-interface/{port}", Handler: s.detachInterface},
	}
}

// addresses are the server's fixed and floating addresses by network name, in
// the 2.1 ips shape ({addr, version}).
func addresses(in *instance) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for _, p := range in.Request.Ports {
		for _, ip := range append(append([]string{}, p.IPs...), p.FloatingIPs...) {
			v := addressView(ip, "", "")
			out[p.NetworkName] = append(out[p.NetworkName], map[string]any{"addr": ip, "version": v["version"]})
		}
	}
	return out
}

func (s *Service) listServerIPs(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:ips:index")
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(map[string]any{"addresses": addresses(in)}), nil
}

func (s *Service) showServerIPs(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:ips:show")
	if err != nil {
		return httpapi.Response{}, err
	}
	network := r.PathValue("network")
	ips, ok := addresses(in)[network]
	if !ok {
		return httpapi.Response{}, notFound("Instance is not a member of specified network")
	}
	return httpapi.OK(map[string]any{network: ips}), nil
}

// interfaceView is an os-interface attachment: the port as the network
// service has it now (state, subnets).
func (s *Service) interfaceView(r *http.Request, p instancePort) map[string]any {
	v := map[string]any{"port_id": p.ID, "net_id": p.NetworkID, "mac_addr": p.MAC, "port_state": "DOWN"}
	fixed := []map[string]string{}
	if port, err := s.opts.Network.PortStatus(r.Context(), p.ID); err == nil {
		v["port_state"] = port.Status
		for _, f := range port.FixedIPs {
			fixed = append(fixed, map[string]string{"ip_address": f.IP.String(), "subnet_id": f.SubnetID})
		}
	} else {
		for _, ip := range p.IPs {
			fixed = append(fixed, map[string]string{"ip_address": ip})
		}
	}
	v["fixed_ips"] = fixed
	if versionOf(r).AtLeast(httpapi.Version{Major: 2, Minor: 70}) {
		v["tag"] = nullable(p.Tag)
	}
	return v
}

func (s *Service) listInterfaces(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-attach-interfaces:list")
	if err != nil {
		return httpapi.Response{}, err
	}
	out := make([]map[string]any, 0, len(in.Request.Ports))
	for _, p := range in.Request.Ports {
		out = append(out, s.interfaceView(r, p))
	}
	return httpapi.OK(map[string]any{"interfaceAttachments": out}), nil
}

func (s *Service) showInterface(r *http.Request) (httpapi.Response, error) {
	in, err := s.visibleInstance(r, "os_compute_api:os-attach-interfaces:show")
	if err != nil {
		return httpapi.Response{}, err
	}
	id := r.PathValue("port")
	for _, p := range in.Request.Ports {
		if p.ID == id {
			return httpapi.OK(map[string]any{"interfaceAttachment": s.interfaceView(r, p)}), nil
		}
	}
	return httpapi.Response{}, notFound("Port %s is not attached", id)
}
