package network

import (
	"net/http"
	"sort"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

func (s *Service) discoveryRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/{$}", Handler: s.versions, Public: true},
		{Method: "GET", Path: "/v2.0", Handler: s.resources, Public: true},
		{Method: "GET", Path: "/v2.0/{$}", Handler: s.resources, Public: true},
		{Method: "GET", Path: "/v2.0/extensions", Handler: s.listExtensions},
		{Method: "GET", Path: "/v2.0/extensions/{alias}", Handler: s.showExtension},
	}
}

// versions is GET /: Neutron answers 200 (not 300) with its one version.
func (s *Service) versions(r *http.Request) (httpapi.Response, error) {
	return httpapi.OK(map[string]any{"versions": []any{map[string]any{
		"id": "v2.0", "status": "CURRENT",
		"links": []any{map[string]any{"rel": "self", "href": s.opts.PublicURL + "/v2.0/"}},
	}}}), nil
}

// collections are the resources GET /v2.0 lists.
var collections = []string{"networks", "subnets", "ports", "security-groups", "security-group-rules", "routers",
	"floatingips", "quotas", "agents", "network-ip-availabilities", "availability_zones", "extensions",
	"subnetpools", "address-scopes", "address-groups", "trunks"}

func (s *Service) resources(r *http.Request) (httpapi.Response, error) {
	var out []any
	for _, c := range collections {
		name := c[:len(c)-1]
		out = append(out, map[string]any{"name": name, "collection": c,
			"links": []any{map[string]any{"rel": "self", "href": s.opts.PublicURL + "/v2.0/" + c}}})
	}
	return httpapi.OK(map[string]any{"resources": out}), nil
}

// extension is one API extension Nimbus implements, as GET /v2.0/extensions lists it.
type extension struct{ alias, name, description string }

// extensions lists exactly what is implemented; clients (the openstack CLI,
// gophercloud's acceptance tests) look for aliases here before using a feature.
var extensions = []extension{
	{"address-group", "Address group", "Support address group"},
	{"address-scope", "Address scope", "Address scopes extension."},
	{"agent", "agent", "The agent management extension."},
	{"allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs"},
	{"availability_zone", "Availability Zone", "The availability zone extension."},
	{"binding", "Port Binding", "Expose port bindings of a virtual port to external application"},
	{"binding-extended", "Port Bindings Extended", "Expose port bindings of a virtual port to external application"},
	{"default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the default."},
	{"dns-integration", "DNS Integration", "Provides integration with DNS."},
	{"external-net", "Neutron external network", "Adds external network attribute to network resource."},
	{"ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction for specifying whether SNAT should occur on the external gateway"},
	{"extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router"},
	{"extraroute-atomic", "Atomically add/remove extra routes", "Edit extra routes of a router on server side by atomically adding/removing extra routes"},
	{"fip-port-details", "Floating IP Port Details Extension", "Add port_details attribute to Floating IP resource"},
	{"network-ip-availability", "Network IP Availability", "Provides IP availability data for each network and subnet."},
	{"network_availability_zone", "Network Availability Zone", "Availability zone support for network."},
	{"net-mtu", "Network MTU", "Provides MTU attribute for a network resource."},
	{"net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a network resource."},
	{"port-trusted-vif", "Port trusted vif", "Expose port 'trusted' attribute"},
	{"revision-if-match", "If-Match constraints based on revision_number", "Extension indicating that If-Match based on revision_number is supported."},
	{"port-security", "Port Security", "Provides port security"},
	{"project-id", "project_id field enabled", "Extension that indicates that project_id field is enabled."},
	{"provider", "Provider Network", "Expose mapping of virtual networks to physical networks"},
	{"quotas", "Quota management support", "Expose functions for quotas management per project"},
	{"router_availability_zone", "Router Availability Zone", "Availability zone support for router."},
	{"router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway."},
	{"security-group", "security-group", "The security groups extension."},
	{"security-groups-remote-address-group", "Remote address group id field for security group rules", "Add new field of remote address group id in SG rules"},
	{"subnetpool", "Neutron L3 Subnet Pool", "Layer 3 subnet pool abstraction"},
	{"subnetpool-prefix-ops", "Subnet Pool Prefix Operations", "Provides support for adjusting the prefix list of subnet pools"},
	{"standard-attr-description", "standard-attr-description", "Extension to add descriptions to standard attributes"},
	{"standard-attr-revisions", "Resource revision numbers", "This extension will display the revision number of neutron resources."},
	{"standard-attr-tag", "Tag support for resources with standard attribute: subnet, trunk, network_segment_range, router, network, policy, subnetpool, port, security_group, floatingip", "Enables to set tag on resources with standard attribute."},
	{"standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes."},
	{"trunk", "Trunk Extension", "Provides support for trunk ports"},
	{"trunk-details", "Trunk port details", "Expose trunk port details"},
}

func extensionJSON(e extension) map[string]any {
	return map[string]any{"alias": e.alias, "name": e.name, "description": e.description,
		"updated": "2013-01-01T00:00:00-00:00", "links": []any{}}
}

func (s *Service) listExtensions(r *http.Request) (httpapi.Response, error) {
	list := make([]any, 0, len(extensions))
	sorted := append([]extension(nil), extensions...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].alias < sorted[j].alias })
	for _, e := range sorted {
		list = append(list, extensionJSON(e))
	}
	return httpapi.OK(map[string]any{"extensions": list}), nil
}

func (s *Service) showExtension(r *http.Request) (httpapi.Response, error) {
	alias := r.PathValue("alias")
	for _, e := range extensions {
		if e.alias == alias {
			return httpapi.OK(map[string]any{"extension": extensionJSON(e)}), nil
		}
	}
	return httpapi.Response{}, notFound("ExtensionNotFound", "Extension with alias", alias)
}
