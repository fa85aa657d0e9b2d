package compute

import (
	"fmt"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// novaRouteMethods names, per route, the upstream controller method it is
// (nova/api/openstack/compute/<module>.py), whose request and response
// schemas per microversion (schemas/nova) the route declares. The action
// routes (POST .../action) are novaActionRoutes.
var novaRouteMethods = map[string]string{
	"GET /{$}":      "versions.index",
	"GET /v2.1":     "versions.index@VersionsV2",
	"GET /v2.1/{$}": "versions.index@VersionsV2",

	"GET /v2.1/extensions":         "extension_info.index",
	"GET /v2.1/extensions/{alias}": "extension_info.show",

	"GET /v2.1/flavors":                                        "flavors.index",
	"GET /v2.1/flavors/detail":                                 "flavors.detail",
	"GET /v2.1/flavors/{id}":                                   "flavors.show",
	"POST /v2.1/flavors":                                       "flavors.create",
	"DELETE /v2.1/flavors/{id}":                                "flavors.delete",
	"PUT /v2.1/flavors/{id}":                                   "flavors.update",
	"GET /v2.1/flavors/{id}/os-extra_specs":                    "flavors_extraspecs.index",
	"POST /v2.1/flavors/{id}/os-extra_specs":                   "flavors_extraspecs.create",
	"GET /v2.1/flavors/{id}/os-extra_specs/{key}":              "flavors_extraspecs.show",
	"PUT /v2.1/flavors/{id}/os-extra_specs/{key}":              "flavors_extraspecs.update",
	"DELETE /v2.1/flavors/{id}/os-extra_specs/{key}":           "flavors_extraspecs.delete",
	"GET /v2.1/flavors/{id}/os-flavor-access":                  "flavor_access.index",
	"GET /v2.1/os-keypairs":                                    "keypairs.index",
	"POST /v2.1/os-keypairs":                                   "keypairs.create",
	"GET /v2.1/os-keypairs/{name}":                             "keypairs.show",
	"DELETE /v2.1/os-keypairs/{name}":                          "keypairs.delete",
	"GET /v2.1/servers":                                        "servers.index",
	"GET /v2.1/servers/detail":                                 "servers.detail",
	"POST /v2.1/servers":                                       "servers.create",
	"GET /v2.1/servers/{id}":                                   "servers.show",
	"PUT /v2.1/servers/{id}":                                   "servers.update",
	"DELETE /v2.1/servers/{id}":                                "servers.delete",
	"POST /v2.1/servers/{id}/remote-consoles":                  "remote_consoles.create",
	"GET /v2.1/servers/{id}/diagnostics":                       "server_diagnostics.index",
	"GET /v2.1/servers/{id}/tags":                              "server_tags.index",
	"PUT /v2.1/servers/{id}/tags":                              "server_tags.update_all",
	"DELETE /v2.1/servers/{id}/tags":                           "server_tags.delete_all",
	"GET /v2.1/servers/{id}/tags/{tag}":                        "server_tags.show",
	"PUT /v2.1/servers/{id}/tags/{tag}":                        "server_tags.update",
	"DELETE /v2.1/servers/{id}/tags/{tag}":                     "server_tags.delete",
	"GET /v2.1/os-services":                                    "services.index",
	"PUT /v2.1/os-services/{action}":                           "services.update",
	"DELETE /v2.1/os-services/{id}":                            "services.delete",
	"GET /v2.1/os-availability-zone":                           "availability_zone.index",
	"GET /v2.1/os-availability-zone/detail":                    "availability_zone.detail",
	"GET /v2.1/os-hypervisors":                                 "hypervisors.index",
	"GET /v2.1/os-hypervisors/detail":                          "hypervisors.detail",
	"GET /v2.1/os-hypervisors/statistics":                      "hypervisors.statistics",
	"GET /v2.1/os-hypervisors/{id}":                            "hypervisors.show",
	"GET /v2.1/os-hypervisors/{id}/uptime":                     "hypervisors.uptime",
	"GET /v2.1/os-hypervisors/{pattern}/search":                "hypervisors.search",
	"GET /v2.1/os-hypervisors/{pattern}/servers":               "hypervisors.servers",
	"GET /v2.1/limits":                                         "limits.index",
	"GET /v2.1/os-quota-sets/{project}":                        "quota_sets.show",
	"GET /v2.1/os-quota-sets/{project}/detail":                 "quota_sets.detail",
	"GET /v2.1/os-quota-sets/{project}/defaults":               "quota_sets.defaults",
	"PUT /v2.1/os-quota-sets/{project}":                        "quota_sets.update",
	"DELETE /v2.1/os-quota-sets/{project}":                     "quota_sets.delete",
	"GET /v2.1/os-simple-tenant-usage":                         "simple_tenant_usage.index",
	"GET /v2.1/os-simple-tenant-usage/{tenant}":                "simple_tenant_usage.show",
	"GET /v2.1/servers/{id}/metadata":                          "server_metadata.index",
	"POST /v2.1/servers/{id}/metadata":                         "server_metadata.create",
	"PUT /v2.1/servers/{id}/metadata":                          "server_metadata.update_all",
	"GET /v2.1/servers/{id}/metadata/{key}":                    "server_metadata.show",
	"PUT /v2.1/servers/{id}/metadata/{key}":                    "server_metadata.update",
	"DELETE /v2.1/servers/{id}/metadata/{key}":                 "server_metadata.delete",
	"GET /v2.1/servers/{id}/ips":                               "ips.index",
	"GET /v2.1/servers/{id}/ips/{network}":                     "ips.show",
	"GET /v2.1/servers/{id}/os-interface":                      "attach_interfaces.index",
	"GET /v2.1/servers/{id}/os-interface/{port}":               "attach_interfaces.show",
	"POST /v2.1/servers/{id}/os-interface":                     "attach_interfaces.create",
	"DELETE /v2.1/servers/{id}/os-interface/{port}":            "attach_interfaces.delete",
	"GET /v2.1/servers/{id}/os-volume_attachments":             "volume_attachments.index",
	"GET /v2.1/servers/{id}/os-volume_attachments/{volume}":    "volume_attachments.show",
	"POST /v2.1/servers/{id}/os-volume_attachments":            "volume_attachments.create",
	"PUT /v2.1/servers/{id}/os-volume_attachments/{volume}":    "volume_attachments.update",
	"DELETE /v2.1/servers/{id}/os-volume_attachments/{volume}": "volume_attachments.delete",
	"GET /v2.1/servers/{id}/os-instance-actions":               "instance_actions.index",
	"GET /v2.1/servers/{id}/os-instance-actions/{request_id}":  "instance_actions.show",
	"GET /v2.1/os-aggregates":                                  "aggregates.index",
	"POST /v2.1/os-aggregates":                                 "aggregates.create",
	"GET /v2.1/os-aggregates/{id}":                             "aggregates.show",
	"PUT /v2.1/os-aggregates/{id}":                             "aggregates.update",
	"DELETE /v2.1/os-aggregates/{id}":                          "aggregates.delete",
	"GET /v2.1/os-server-groups":                               "server_groups.index",
	"POST /v2.1/os-server-groups":                              "server_groups.create",
	"GET /v2.1/os-server-groups/{id}":                          "server_groups.show",
	"DELETE /v2.1/os-server-groups/{id}":                       "server_groups.delete",
	"GET /v2.1/os-security-groups":                             "security_groups.index",
	"POST /v2.1/os-security-groups":                            "security_groups.create",
	"GET /v2.1/os-security-groups/{id}":                        "security_groups.show",
	"PUT /v2.1/os-security-groups/{id}":                        "security_groups.update",
	"DELETE /v2.1/os-security-groups/{id}":                     "security_groups.delete",
	"POST /v2.1/os-security-group-rules":                       "security_groups.create@SecurityGroupRulesController",
	"DELETE /v2.1/os-security-group-rules/{id}":                "security_groups.delete@SecurityGroupRulesController",
	"GET /v2.1/servers/{id}/os-security-groups":                "security_groups.index@ServerSecurityGroupController",
	"DELETE /v2.1/servers/{id}/os-server-password":             "server_password.clear",
	"GET /v2.1/images":                                         "images.index",
	"GET /v2.1/images/detail":                                  "images.detail",
	"GET /v2.1/images/{id}":                                    "images.show",
	"DELETE /v2.1/images/{id}":                                 "images.delete",
	"GET /v2.1/images/{id}/metadata":                           "image_metadata.index",
	"POST /v2.1/images/{id}/metadata":                          "image_metadata.create",
	"PUT /v2.1/images/{id}/metadata":                           "image_metadata.update_all",
	"GET /v2.1/images/{id}/metadata/{key}":                     "image_metadata.show",
	"PUT /v2.1/images/{id}/metadata/{key}":                     "image_metadata.update",
	"DELETE /v2.1/images/{id}/metadata/{key}":                  "image_metadata.delete",
	"GET /v2.1/os-floating-ips":                                "floating_ips.index",
	"POST /v2.1/os-floating-ips":                               "floating_ips.create",
	"GET /v2.1/os-floating-ips/{id}":                           "floating_ips.show",
	"DELETE /v2.1/os-floating-ips/{id}":                        "floating_ips.delete",
	"GET /v2.1/os-networks":                                    "networks.index",
	"GET /v2.1/os-networks/{id}":                               "networks.show",
	"POST /v2.1/os-networks":                                   "networks.create",
	"POST /v2.1/os-networks/add":                               "networks.add",
	"DELETE /v2.1/os-networks/{id}":                            "networks.delete",
}

// novaCodeStatuses are the statuses of the methods whose code picks its answer
// instead of a @wsgi.response decorator, each with the body's schema (nil: no
// body): they replace the loader's one status in every range.
var novaCodeStatuses = map[string]map[int]jsonschema.Schema{
	// nova/api/openstack/compute/server_tags.py update:
	// webob.Response(status_int=201) for a tag it adds, 204 for one the server
	// already has.
	"server_tags.update": {201: nil, 204: nil},
	// floating_ips.py _add_floating_ip, _remove_floating_ip:
	// webob.Response(status_int=202), no body.
	"floating_ips._add_floating_ip":    {202: nil},
	"floating_ips._remove_floating_ip": {202: nil},
}

// withNovaSchemas gives each route of novaRouteMethods that declares no
// schemas of its own upstream's request and response schemas.
func withNovaSchemas(routes []httpapi.Route) ([]httpapi.Route, error) {
	for i, rt := range routes {
		key := rt.Method + " " + rt.Path
		if methods, ok := novaActionRoutes[key]; ok && rt.Schemas == nil {
			schemas, err := novaActionSchemas(methods)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			routes[i].Schemas = schemas
			continue
		}
		method, ok := novaRouteMethods[key]
		if !ok || rt.Schemas != nil {
			continue
		}
		schemas, err := novaRouteSchemas(method, "request", "response")
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", rt.Method, rt.Path, err)
		}
		if statuses, ok := novaCodeStatuses[method]; ok {
			for j := range schemas {
				schemas[j].Responses = statuses
			}
		}
		routes[i].Schemas = schemas
	}
	return routes, nil
}
