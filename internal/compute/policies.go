package compute

import (
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// defaultPolicies are Nova's current default rules (nova/policies/*.py, the
// secure-RBAC defaults): members of a project manage its servers, readers read
// them, admins everything; flavors, services, hypervisors and aggregates are
// admin's to change. Targets name the resource's owner as target.project_id and
// target.user_id, Nimbus's spelling of upstream's %(project_id)s.
var defaultPolicies = map[string]string{
	"context_is_admin": "role:admin",
	// admin_api is upstream's is_admin:True, which nova derives from
	// context_is_admin; the current defaults no longer use it.
	"admin_api":                "role:admin",
	"project_manager_api":      "role:manager and project_id:%(target.project_id)s",
	"project_member_api":       "role:member and project_id:%(target.project_id)s",
	"project_reader_api":       "role:reader and project_id:%(target.project_id)s",
	"project_manager_or_admin": "rule:project_manager_api or rule:context_is_admin",
	"project_member_or_admin":  "rule:project_member_api or rule:context_is_admin",
	"project_reader_or_admin":  "rule:project_reader_api or rule:context_is_admin",

	"network:attach_external_network": "rule:context_is_admin",

	"os_compute_api:servers:index":                         "rule:project_reader_or_admin",
	"os_compute_api:servers:detail":                        "rule:project_reader_or_admin",
	"os_compute_api:servers:index:get_all_tenants":         "rule:context_is_admin",
	"os_compute_api:servers:detail:get_all_tenants":        "rule:context_is_admin",
	"os_compute_api:servers:show":                          "rule:project_reader_or_admin",
	"os_compute_api:servers:show:host_status":              "rule:context_is_admin",
	"os_compute_api:servers:create":                        "rule:project_member_or_admin",
	"os_compute_api:servers:create:forced_host":            "rule:context_is_admin",
	"compute:servers:create:requested_destination":         "rule:context_is_admin",
	"os_compute_api:servers:create:trusted_certs":          "rule:project_member_or_admin",
	"os_compute_api:servers:create:attach_network":         "rule:project_member_or_admin",
	"os_compute_api:servers:create:attach_volume":          "rule:project_member_or_admin",
	"os_compute_api:servers:create:zero_disk_flavor":       "rule:context_is_admin",
	"os_compute_api:servers:show:host_status:unknown-only": "rule:context_is_admin",
	"os_compute_api:servers:show:flavor-extra-specs":       "rule:project_reader_or_admin",
	"os_compute_api:servers:update":                        "rule:project_member_or_admin",
	"os_compute_api:servers:delete":                        "rule:project_member_or_admin",
	"os_compute_api:servers:start":                         "rule:project_member_or_admin",
	"os_compute_api:servers:stop":                          "rule:project_member_or_admin",
	"os_compute_api:servers:reboot":                        "rule:project_member_or_admin",
	"os_compute_api:servers:rebuild":                       "rule:project_member_or_admin",
	"os_compute_api:servers:resize":                        "rule:project_member_or_admin",
	"os_compute_api:servers:confirm_resize":                "rule:project_member_or_admin",
	"os_compute_api:servers:revert_resize":                 "rule:project_member_or_admin",
	"os_compute_api:os-rescue":                             "rule:project_member_or_admin",
	"os_compute_api:os-evacuate":                           "rule:context_is_admin",
	"os_compute_api:os-unrescue":                           "rule:project_member_or_admin",
	"os_compute_api:os-pause-server:pause":                 "rule:project_member_or_admin",
	"os_compute_api:os-pause-server:unpause":               "rule:project_member_or_admin",
	"os_compute_api:os-suspend-server:suspend":             "rule:project_member_or_admin",
	"os_compute_api:os-suspend-server:resume":              "rule:project_member_or_admin",
	"os_compute_api:os-lock-server:lock":                   "rule:project_member_or_admin",
	"os_compute_api:os-lock-server:unlock":                 "rule:project_member_or_admin",
	"os_compute_api:os-lock-server:unlock:unlock_override": "rule:context_is_admin",
	"os_compute_api:os-console-output":                     "rule:project_member_or_admin",
	"os_compute_api:os-server-diagnostics":                 "rule:context_is_admin",
	"os_compute_api:os-remote-consoles":                    "rule:project_member_or_admin",
	"os_compute_api:os-extended-server-attributes":         "rule:context_is_admin",
	"os_compute_api:os-flavor-manage:create":               "rule:context_is_admin",
	"os_compute_api:os-flavor-manage:delete":               "rule:context_is_admin",
	"os_compute_api:os-flavor-manage:update":               "rule:context_is_admin",
	"os_compute_api:os-flavor-extra-specs:index":           "rule:project_reader_or_admin",
	"os_compute_api:os-flavor-extra-specs:show":            "rule:project_reader_or_admin",
	"os_compute_api:os-flavor-extra-specs:create":          "rule:context_is_admin",
	"os_compute_api:os-flavor-extra-specs:update":          "rule:context_is_admin",
	"os_compute_api:os-flavor-extra-specs:delete":          "rule:context_is_admin",
	"os_compute_api:os-flavor-access:add_tenant_access":    "rule:context_is_admin",
	"os_compute_api:os-flavor-access:remove_tenant_access": "rule:context_is_admin",
	"os_compute_api:os-flavor-access":                      "rule:context_is_admin",
	"os_compute_api:os-keypairs:index":                     "(rule:context_is_admin) or user_id:%(target.user_id)s",
	"os_compute_api:os-keypairs:show":                      "(rule:context_is_admin) or user_id:%(target.user_id)s",
	"os_compute_api:os-keypairs:create":                    "(rule:context_is_admin) or user_id:%(target.user_id)s",
	"os_compute_api:os-keypairs:delete":                    "(rule:context_is_admin) or user_id:%(target.user_id)s",
	"os_compute_api:os-services:list":                      "rule:context_is_admin",
	"os_compute_api:os-services:update":                    "rule:context_is_admin",
	"os_compute_api:os-services:delete":                    "rule:context_is_admin",

	"os_compute_api:extensions": "@",

	"os_compute_api:os-availability-zone:list":   "@",
	"os_compute_api:os-availability-zone:detail": "rule:context_is_admin",

	"os_compute_api:os-hypervisors:list":        "rule:context_is_admin",
	"os_compute_api:os-hypervisors:list-detail": "rule:context_is_admin",
	"os_compute_api:os-hypervisors:show":        "rule:context_is_admin",
	"os_compute_api:os-hypervisors:statistics":  "rule:context_is_admin",
	"os_compute_api:os-hypervisors:search":      "rule:context_is_admin",
	"os_compute_api:os-hypervisors:servers":     "rule:context_is_admin",
	"os_compute_api:os-hypervisors:uptime":      "rule:context_is_admin",

	"os_compute_api:limits":               "@",
	"os_compute_api:limits:other_project": "rule:context_is_admin",

	"os_compute_api:os-quota-sets:show":     "rule:project_reader_or_admin",
	"os_compute_api:os-quota-sets:detail":   "rule:project_reader_or_admin",
	"os_compute_api:os-quota-sets:defaults": "@",
	"os_compute_api:os-quota-sets:update":   "rule:context_is_admin",
	"os_compute_api:os-quota-sets:delete":   "rule:context_is_admin",

	"os_compute_api:os-simple-tenant-usage:list": "rule:context_is_admin",
	"os_compute_api:os-simple-tenant-usage:show": "rule:project_reader_or_admin",

	"os_compute_api:server-metadata:index":      "rule:project_reader_or_admin",
	"os_compute_api:server-metadata:show":       "rule:project_reader_or_admin",
	"os_compute_api:server-metadata:create":     "rule:project_member_or_admin",
	"os_compute_api:server-metadata:update_all": "rule:project_member_or_admin",
	"os_compute_api:server-metadata:update":     "rule:project_member_or_admin",
	"os_compute_api:server-metadata:delete":     "rule:project_member_or_admin",

	"os_compute_api:ips:index":                   "rule:project_reader_or_admin",
	"os_compute_api:ips:show":                    "rule:project_reader_or_admin",
	"os_compute_api:os-attach-interfaces:list":   "rule:project_reader_or_admin",
	"os_compute_api:os-attach-interfaces:show":   "rule:project_reader_or_admin",
	"os_compute_api:os-attach-interfaces:create": "rule:project_member_or_admin",
	"os_compute_api:os-attach-interfaces:delete": "rule:project_member_or_admin",

	"os_compute_api:os-volumes-attachments:index":  "rule:project_reader_or_admin",
	"os_compute_api:os-volumes-attachments:show":   "rule:project_reader_or_admin",
	"os_compute_api:os-volumes-attachments:create": "rule:project_member_or_admin",
	"os_compute_api:os-volumes-attachments:update": "rule:project_member_or_admin",
	"os_compute_api:os-volumes-attachments:swap":   "rule:service_or_admin",
	"os_compute_api:os-volumes-attachments:delete": "rule:project_member_or_admin",

	"os_compute_api:os-instance-actions:list":   "rule:project_reader_or_admin",
	"os_compute_api:os-instance-actions:show":   "rule:project_reader_or_admin",
	"os_compute_api:os-instance-actions:events": "rule:context_is_admin",

	"os_compute_api:os-aggregates:index":        "rule:context_is_admin",
	"os_compute_api:os-aggregates:create":       "rule:context_is_admin",
	"os_compute_api:os-aggregates:show":         "rule:context_is_admin",
	"os_compute_api:os-aggregates:update":       "rule:context_is_admin",
	"os_compute_api:os-aggregates:delete":       "rule:context_is_admin",
	"os_compute_api:os-aggregates:add_host":     "rule:context_is_admin",
	"os_compute_api:os-aggregates:remove_host":  "rule:context_is_admin",
	"os_compute_api:os-aggregates:set_metadata": "rule:context_is_admin",

	"os_compute_api:os-server-tags:index":      "rule:project_reader_or_admin",
	"os_compute_api:os-server-tags:show":       "rule:project_reader_or_admin",
	"os_compute_api:os-server-tags:update":     "rule:project_member_or_admin",
	"os_compute_api:os-server-tags:update_all": "rule:project_member_or_admin",
	"os_compute_api:os-server-tags:delete":     "rule:project_member_or_admin",
	"os_compute_api:os-server-tags:delete_all": "rule:project_member_or_admin",

	"os_compute_api:os-server-groups:index":              "rule:project_reader_or_admin",
	"os_compute_api:os-server-groups:index:all_projects": "rule:context_is_admin",
	"os_compute_api:os-server-groups:show":               "rule:project_reader_or_admin",
	"os_compute_api:os-server-groups:create":             "rule:project_member_or_admin",
	"os_compute_api:os-server-groups:delete":             "rule:project_member_or_admin",

	"os_compute_api:os-security-groups:get":         "rule:project_reader_or_admin",
	"os_compute_api:os-security-groups:show":        "rule:project_reader_or_admin",
	"os_compute_api:os-security-groups:create":      "rule:project_member_or_admin",
	"os_compute_api:os-security-groups:update":      "rule:project_member_or_admin",
	"os_compute_api:os-security-groups:delete":      "rule:project_member_or_admin",
	"os_compute_api:os-security-groups:rule:create": "rule:project_member_or_admin",
	"os_compute_api:os-security-groups:rule:delete": "rule:project_member_or_admin",
	"os_compute_api:os-security-groups:list":        "rule:project_reader_or_admin",
	"os_compute_api:os-security-groups:add":         "rule:project_member_or_admin",
	"os_compute_api:os-security-groups:remove":      "rule:project_member_or_admin",

	// nova/policies/base.py's service rules, for the calls other services make.
	"service_api":      "role:service",
	"service_or_admin": "rule:service_api or rule:context_is_admin",

	"os_compute_api:os-admin-actions:reset_state":     "rule:context_is_admin",
	"os_compute_api:os-server-password:show":          "rule:project_reader_or_admin",
	"os_compute_api:os-server-password:clear":         "rule:project_member_or_admin",
	"os_compute_api:os-server-external-events:create": "rule:service_or_admin",
	"os_compute_api:os-instance-usage-audit-log:list": "rule:context_is_admin",
	"os_compute_api:os-instance-usage-audit-log:show": "rule:context_is_admin",
	"os_compute_api:os-hosts:list":                    "rule:context_is_admin",
	"os_compute_api:os-hosts:show":                    "rule:context_is_admin",
	"os_compute_api:os-hosts:update":                  "rule:context_is_admin",
	"os_compute_api:os-hosts:reboot":                  "rule:context_is_admin",
	"os_compute_api:os-hosts:shutdown":                "rule:context_is_admin",
	"os_compute_api:os-hosts:start":                   "rule:context_is_admin",
	"os_compute_api:os-floating-ips:add":              "rule:project_member_or_admin",
	"os_compute_api:os-floating-ips:remove":           "rule:project_member_or_admin",
	"os_compute_api:os-floating-ips:list":             "rule:project_reader_or_admin",
	"os_compute_api:os-floating-ips:create":           "rule:project_member_or_admin",
	"os_compute_api:os-floating-ips:show":             "rule:project_reader_or_admin",
	"os_compute_api:os-floating-ips:delete":           "rule:project_member_or_admin",
	"os_compute_api:os-networks:list":                 "rule:project_reader_or_admin",
	"os_compute_api:os-networks:show":                 "rule:project_reader_or_admin",
}

// policyScopes are the rules' scope types: every API rule of Nova is
// scope_types ['project'] (nova/policies/*.py), enforced as with upstream's
// enforce_scope = True, so a domain- or system-scoped token, which names no
// project, is refused (403) instead of acting on the empty project. The base
// rules a check string refers to have none, as upstream's.
func policyScopes() map[string][]string {
	out := map[string][]string{}
	for name := range defaultPolicies {
		if strings.Contains(name, ":") {
			out[name] = []string{policy.ScopeProject}
		}
	}
	return out
}
