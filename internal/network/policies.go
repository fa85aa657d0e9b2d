package network

import "github.com/nimbus-cloud/nimbus/internal/platform/policy"

// Upstream's building blocks (neutron-lib's neutron_lib/policy/rules.py and
// neutron/conf/policies/base.py), composed as upstream composes them so each rule
// below reads as upstream's check string (TestDefaultPoliciesAreUpstreams holds
// them to it). Targets are upstream's too: a resource's attributes by their API
// names (project_id, device_owner, shared, router:external), with
// network:project_id and security_group:project_id for the owner of the parent.
const (
	admin   = "rule:admin_only"
	service = "rule:service_api"

	projectManager = "role:manager and project_id:%(project_id)s"
	projectMember  = "role:member and project_id:%(project_id)s"
	projectReader  = "role:reader and project_id:%(project_id)s"

	adminOrProjectManager = "(" + admin + ") or (" + projectManager + ")"
	adminOrProjectMember  = "(" + admin + ") or (" + projectMember + ")"
	adminOrProjectReader  = "(" + admin + ") or (" + projectReader + ")"
	adminOrService        = "(" + admin + ") or (" + service + ")"

	netOwnerManager       = "role:manager and rule:network_owner"
	netOwnerMember        = "role:member and rule:network_owner"
	netOwnerReader        = "role:reader and rule:network_owner"
	adminOrNetOwnerMember = "(" + admin + ") or (" + netOwnerMember + ")"
	adminOrNetOwnerReader = "(" + admin + ") or (" + netOwnerReader + ")"

	adminOrSGOwnerMember = "(" + admin + ") or (role:member and rule:sg_owner)"
	adminOrSGOwnerReader = "(" + admin + ") or (role:reader and rule:sg_owner)"

	advsvc = "rule:context_is_advsvc"
)

// anyOf joins check strings as neutron-lib's policy_or.
func anyOf(checks ...string) string {
	out := ""
	for i, c := range checks {
		if i > 0 {
			out += " or "
		}
		out += c
	}
	return out
}

// baseRules are the rules the others refer to (neutron/conf/policies/base.py and
// the definitions of network.py, subnet.py, port.py and security_group.py). They
// have no scope types, as upstream's. Upstream's owner, admin_or_owner and default
// are left out: in Nimbus's one policy engine Keystone's rules of those names
// (user ownership) come first, and no rule below refers to them; an attribute
// without a rule of its own gets upstream's default (admin or owner) in code.
var baseRules = map[string]string{
	"context_is_admin":      "role:admin",
	"service_api":           "role:service",
	"context_is_advsvc":     "role:advsvc",
	"admin_only":            "rule:context_is_admin",
	"network_owner":         "project_id:%(network:project_id)s",
	"sg_owner":              "project_id:%(security_group:project_id)s",
	"shared":                "field:networks:shared=True",
	"external":              "field:networks:router:external=True",
	"external_network":      "field:subnets:router:external=True",
	"network_device":        "field:port:device_owner=~^network:",
	"shared_security_group": "field:security_groups:shared=True",
	"shared_address_scopes": "field:address_scopes:shared=True",
	"shared_subnetpools":    "field:subnetpools:shared=True",
	"shared_address_groups": "field:address_groups:shared=True",
}

// defaultPolicies are upstream's rules for the operations Nimbus serves: the
// secure-RBAC defaults (members of a project write its resources, readers read
// them, the network's owner decides what goes on it, admins everything), all of
// them project-scoped.
var defaultPolicies = map[string]string{
	"create_network":                           adminOrProjectMember,
	"create_network:shared":                    admin,
	"create_network:router:external":           admin,
	"create_network:is_default":                admin,
	"create_network:port_security_enabled":     adminOrProjectMember,
	"create_network:provider:network_type":     admin,
	"create_network:provider:physical_network": admin,
	"create_network:provider:segmentation_id":  admin,
	"get_network":                              anyOf(adminOrProjectReader, service, "rule:shared", "rule:external", advsvc),
	"get_network:provider:network_type":        admin,
	"get_network:provider:physical_network":    admin,
	"get_network:provider:segmentation_id":     admin,
	"get_network:tags":                         anyOf(adminOrProjectReader, "rule:shared", "rule:external", advsvc),
	"update_network":                           adminOrProjectMember,
	"update_network:shared":                    admin,
	"update_network:router:external":           admin,
	"update_network:is_default":                admin,
	"update_network:port_security_enabled":     adminOrProjectMember,
	"update_network:provider:network_type":     admin,
	"update_network:provider:physical_network": admin,
	"update_network:provider:segmentation_id":  admin,
	"update_network:tags":                      adminOrProjectMember,
	"delete_network":                           adminOrProjectMember,
	"delete_network:tags":                      adminOrProjectMember,

	"create_subnet":            adminOrNetOwnerMember,
	"create_subnet:segment_id": admin,
	"get_subnet":               anyOf(projectReader, "rule:shared", "rule:external_network", adminOrNetOwnerReader, service),
	"get_subnet:segment_id":    admin,
	"get_subnet:tags":          anyOf(projectReader, "rule:shared", "rule:external_network", adminOrNetOwnerReader),
	"update_subnet":            anyOf(projectMember, adminOrNetOwnerMember),
	"update_subnet:segment_id": admin,
	"update_subnet:tags":       anyOf(projectMember, adminOrNetOwnerMember),
	"delete_subnet":            anyOf(projectMember, adminOrNetOwnerMember),
	"delete_subnet:tags":       anyOf(projectMember, adminOrNetOwnerMember),

	"create_port":                                   anyOf(adminOrService, netOwnerMember, "rule:shared"),
	"create_port:device_id":                         anyOf(adminOrProjectMember, service),
	"create_port:device_owner":                      anyOf("not rule:network_device", adminOrService, netOwnerMember),
	"create_port:mac_address":                       anyOf(adminOrService, netOwnerMember),
	"create_port:fixed_ips":                         anyOf(adminOrService, netOwnerMember, "rule:shared"),
	"create_port:fixed_ips:ip_address":              anyOf(adminOrService, netOwnerMember),
	"create_port:fixed_ips:subnet_id":               anyOf(adminOrService, netOwnerMember, "rule:shared"),
	"create_port:port_security_enabled":             anyOf(adminOrService, netOwnerMember),
	"create_port:binding:host_id":                   adminOrService,
	"create_port:binding:profile":                   service,
	"create_port:binding:vnic_type":                 anyOf(adminOrProjectMember, service),
	"create_port:allowed_address_pairs":             anyOf(adminOrNetOwnerMember, service),
	"create_port:allowed_address_pairs:mac_address": anyOf(adminOrNetOwnerMember, service),
	"create_port:allowed_address_pairs:ip_address":  anyOf(adminOrNetOwnerMember, service),
	"create_port:trusted":                           admin,
	"get_port":                                      anyOf(adminOrService, netOwnerReader, projectReader),
	"get_port:binding:vif_type":                     adminOrService,
	"get_port:binding:vif_details":                  adminOrService,
	"get_port:binding:host_id":                      adminOrService,
	"get_port:binding:profile":                      adminOrService,
	"get_port:trusted":                              admin,
	"get_port:tags":                                 anyOf(advsvc, adminOrNetOwnerReader, projectReader),
	"update_port":                                   anyOf(adminOrService, projectMember),
	"update_port:device_id":                         anyOf(adminOrProjectMember, service),
	"update_port:device_owner":                      anyOf("not rule:network_device", adminOrService, netOwnerMember),
	"update_port:mac_address":                       anyOf(adminOrService, netOwnerManager),
	"update_port:fixed_ips":                         anyOf(adminOrService, netOwnerMember),
	"update_port:fixed_ips:ip_address":              anyOf(adminOrService, netOwnerMember),
	"update_port:fixed_ips:subnet_id":               anyOf(adminOrService, netOwnerMember, "rule:shared"),
	"update_port:port_security_enabled":             anyOf(adminOrService, netOwnerMember),
	"update_port:binding:host_id":                   adminOrService,
	"update_port:binding:profile":                   service,
	"update_port:binding:vnic_type":                 anyOf(adminOrService, projectMember),
	"update_port:allowed_address_pairs":             anyOf(adminOrNetOwnerMember, service),
	"update_port:allowed_address_pairs:mac_address": anyOf(adminOrNetOwnerMember, service),
	"update_port:allowed_address_pairs:ip_address":  anyOf(adminOrNetOwnerMember, service),
	"update_port:trusted":                           admin,
	"update_port:tags":                              anyOf(adminOrProjectMember, advsvc),
	"delete_port":                                   anyOf(adminOrService, netOwnerMember, projectMember),
	"delete_port:tags":                              anyOf(advsvc, projectMember, adminOrNetOwnerMember),

	"create_router":                                          adminOrProjectMember,
	"create_router:distributed":                              admin,
	"create_router:ha":                                       admin,
	"create_router:external_gateway_info":                    adminOrProjectMember,
	"create_router:external_gateway_info:network_id":         adminOrProjectMember,
	"create_router:external_gateway_info:enable_snat":        admin,
	"create_router:external_gateway_info:external_fixed_ips": admin,
	"get_router":                                             adminOrProjectReader,
	"get_router:distributed":                                 admin,
	"get_router:ha":                                          admin,
	"get_router:tags":                                        adminOrProjectReader,
	"update_router":                                          adminOrProjectMember,
	"update_router:distributed":                              admin,
	"update_router:ha":                                       admin,
	"update_router:external_gateway_info":                    adminOrProjectMember,
	"update_router:external_gateway_info:network_id":         adminOrProjectMember,
	"update_router:external_gateway_info:enable_snat":        admin,
	"update_router:external_gateway_info:external_fixed_ips": admin,
	"update_router:tags":                                     adminOrProjectMember,
	"delete_router":                                          adminOrProjectMember,
	"delete_router:tags":                                     adminOrProjectMember,
	"add_router_interface":                                   adminOrProjectMember,
	"remove_router_interface":                                adminOrProjectMember,
	"add_extraroutes":                                        adminOrProjectMember,
	"remove_extraroutes":                                     adminOrProjectMember,

	"create_floatingip":                     adminOrProjectMember,
	"create_floatingip:floating_ip_address": adminOrProjectManager,
	"get_floatingip":                        adminOrProjectReader,
	"get_floatingip:tags":                   adminOrProjectReader,
	"update_floatingip":                     adminOrProjectMember,
	"update_floatingip:tags":                adminOrProjectMember,
	"delete_floatingip":                     adminOrProjectMember,
	"delete_floatingip:tags":                adminOrProjectMember,

	"create_security_group":      adminOrProjectMember,
	"get_security_group":         anyOf(adminOrProjectReader, "rule:shared_security_group"),
	"get_security_group:tags":    anyOf(adminOrProjectReader, "rule:shared_security_group"),
	"update_security_group":      adminOrProjectMember,
	"update_security_group:tags": adminOrProjectMember,
	"delete_security_group":      adminOrProjectMember,
	"delete_security_group:tags": adminOrProjectMember,
	"create_security_group_rule": adminOrSGOwnerMember,
	"get_security_group_rule":    adminOrSGOwnerReader,
	"delete_security_group_rule": adminOrSGOwnerMember,

	"get_quota":    adminOrProjectManager,
	"update_quota": admin,
	"delete_quota": admin,

	"get_agent":    admin,
	"update_agent": admin,
	"delete_agent": admin,

	"get_network_ip_availability": adminOrService,

	"create_address_scope":        adminOrProjectMember,
	"create_address_scope:shared": admin,
	"get_address_scope":           anyOf(admin, projectReader, "rule:shared_address_scopes"),
	"update_address_scope":        adminOrProjectMember,
	"update_address_scope:shared": admin,
	"delete_address_scope":        adminOrProjectMember,

	"create_subnetpool":            adminOrProjectMember,
	"create_subnetpool:shared":     admin,
	"create_subnetpool:is_default": admin,
	"create_subnetpool:tags":       adminOrProjectMember,
	"get_subnetpool":               anyOf(adminOrProjectReader, "rule:shared_subnetpools"),
	"get_subnetpool:tags":          anyOf(adminOrProjectReader, "rule:shared_subnetpools"),
	"update_subnetpool":            adminOrProjectMember,
	"update_subnetpool:is_default": admin,
	"update_subnetpool:tags":       adminOrProjectMember,
	"delete_subnetpool":            adminOrProjectMember,
	"delete_subnetpool:tags":       adminOrProjectMember,
	"add_prefixes":                 adminOrProjectMember,
	"remove_prefixes":              adminOrProjectMember,

	"create_address_group": adminOrProjectMember,
	"get_address_group":    anyOf(adminOrProjectReader, "rule:shared_address_groups"),
	"update_address_group": adminOrProjectMember,
	"delete_address_group": adminOrProjectMember,
	"add_addresses":        adminOrProjectMember,
	"remove_addresses":     adminOrProjectMember,

	"create_trunk":          adminOrProjectMember,
	"create_trunk:tags":     adminOrProjectMember,
	"get_trunk":             adminOrProjectReader,
	"get_trunk:tags":        adminOrProjectReader,
	"update_trunk":          adminOrProjectMember,
	"update_trunk:tags":     adminOrProjectMember,
	"delete_trunk":          adminOrProjectMember,
	"delete_trunk:tags":     adminOrProjectMember,
	"get_subports":          adminOrProjectReader,
	"add_subports":          adminOrProjectMember,
	"remove_subports":       adminOrProjectMember,
	"get_availability_zone": "role:reader",

	// neutron/conf/policies/port_bindings.py (port_bindings.go)
	"get_port_binding":    adminOrService,
	"create_port_binding": service,
	"delete_port_binding": service,
	"activate":            service,
}

// registerPolicies registers the rules with their scope types: every operation of
// the network API is project-scoped upstream (scope_types ['project'], enforced),
// so a domain- or system-scoped token, whatever its roles, neither makes nor sees
// a project's resources.
func registerPolicies(e *policy.Enforcer) error {
	if err := e.Register(baseRules); err != nil {
		return err
	}
	if err := e.Register(defaultPolicies); err != nil {
		return err
	}
	scopes := make(map[string][]string, len(defaultPolicies))
	for name := range defaultPolicies {
		scopes[name] = []string{policy.ScopeProject}
	}
	return e.SetScopeTypes(scopes)
}
