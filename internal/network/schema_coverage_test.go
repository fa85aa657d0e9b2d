package network

import (
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi/httpapitest"
)

// attributeMapBodies are the routes whose bodies upstream validates with an
// attribute map (neutron/api/v2/base.py prepare_request_body) or in the
// plugin's code, never with a JSON schema, and where.
// Nimbus does the same (parseBody and the attribute maps of attributemaps.go;
// TestRequestValidation and TestNestedAttributeValidation hold the messages), so
// they have no request schema: a JSON schema's messages are not Neutron's.
var attributeMapBodies = map[string]string{
	"POST /v2.0/networks":                            "neutron-lib api/definitions/network.py",
	"PUT /v2.0/networks/{id}":                        "neutron-lib api/definitions/network.py",
	"POST /v2.0/subnets":                             "neutron-lib api/definitions/subnet.py",
	"PUT /v2.0/subnets/{id}":                         "neutron-lib api/definitions/subnet.py",
	"POST /v2.0/ports":                               "neutron-lib api/definitions/port.py",
	"PUT /v2.0/ports/{id}":                           "neutron-lib api/definitions/port.py",
	"POST /v2.0/security-groups":                     "neutron-lib api/definitions/securitygroup.py",
	"PUT /v2.0/security-groups/{id}":                 "neutron-lib api/definitions/securitygroup.py",
	"POST /v2.0/security-group-rules":                "neutron-lib api/definitions/securitygroup.py",
	"POST /v2.0/routers":                             "neutron-lib api/definitions/l3.py",
	"PUT /v2.0/routers/{id}":                         "neutron-lib api/definitions/l3.py",
	"PUT /v2.0/routers/{id}/add_router_interface":    "neutron/db/l3_db.py _validate_interface_info",
	"PUT /v2.0/routers/{id}/remove_router_interface": "neutron/db/l3_db.py _validate_interface_info",
	"PUT /v2.0/routers/{id}/add_extraroutes":         "neutron/db/extraroute_db.py add_extraroutes, then update_router's routes (type:hostroutes)",
	"PUT /v2.0/routers/{id}/remove_extraroutes":      "neutron/db/extraroute_db.py add_extraroutes, then update_router's routes (type:hostroutes)",
	"POST /v2.0/floatingips":                         "neutron-lib api/definitions/l3.py",
	"PUT /v2.0/floatingips/{id}":                     "neutron-lib api/definitions/l3.py",
	"PUT /v2.0/agents/{id}":                          "neutron-lib api/definitions/agent.py",
	"PUT /v2.0/quotas/{project_id}":                  "neutron/extensions/quotasv2.py (type:range [-1, 2147483647])",
	"POST /v2.0/address-scopes":                      "neutron-lib api/definitions/address_scope.py",
	"PUT /v2.0/address-scopes/{id}":                  "neutron-lib api/definitions/address_scope.py",
	"POST /v2.0/subnetpools":                         "neutron-lib api/definitions/subnetpool.py",
	"PUT /v2.0/subnetpools/{id}":                     "neutron-lib api/definitions/subnetpool.py",
	"PUT /v2.0/subnetpools/{id}/add_prefixes":        "neutron/db/db_base_plugin_v2.py add_prefixes (type:subnet_list)",
	"PUT /v2.0/subnetpools/{id}/remove_prefixes":     "neutron/db/db_base_plugin_v2.py remove_prefixes (type:subnet_list)",
	"POST /v2.0/address-groups":                      "neutron-lib api/definitions/address_group.py",
	"PUT /v2.0/address-groups/{id}":                  "neutron-lib api/definitions/address_group.py",
	"PUT /v2.0/address-groups/{id}/add_addresses":    "neutron/db/address_group_db.py add_addresses",
	"PUT /v2.0/address-groups/{id}/remove_addresses": "neutron/db/address_group_db.py add_addresses",
	"POST /v2.0/trunks":                              "neutron-lib api/definitions/trunk.py",
	"PUT /v2.0/trunks/{id}":                          "neutron-lib api/definitions/trunk.py",
	"PUT /v2.0/trunks/{id}/add_subports":             "neutron/services/trunk/plugin.py add_subports (rules.py SubPortsValidator)",
	"PUT /v2.0/trunks/{id}/remove_subports":          "neutron/services/trunk/plugin.py add_subports (rules.py SubPortsValidator)",
	"POST /v2.0/ports/{id}/bindings":                 "neutron-lib api/definitions/portbindings_extended.py",
	"PUT /v2.0/ports/{id}/bindings/{host}/activate":  "upstream reads no body (neutron/extensions/port_bindings_extended.py activate)",
}

// TestSchemaCoverage holds every route the network API mounts to having its
// response schemas (with upstream's statuses) and, where it takes a body, a
// request schema, but for the bodies Neutron validates without one.
func TestSchemaCoverage(t *testing.T) {
	exceptions := map[string]string{}
	for route, definition := range attributeMapBodies {
		exceptions[route+": no request schema"] = "Neutron validates this body with its attribute map or in code, not a JSON schema: " + definition
	}
	s := &Service{}
	for _, tg := range s.taggables() {
		base := "PUT /v2.0/" + tg.collection + "/{id}/tags"
		exceptions[base+": no request schema"] = "Neutron validates {\"tags\": [...]} in code: neutron/extensions/tagging.py validate_tags"
		exceptions[base+"/{tag}: no request schema"] = "upstream reads no body: the tag is the path's (neutron/extensions/tagging.py update)"
	}
	httpapitest.CheckSchemaCoverage(t, s.routes(), exceptions)
}
