package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/httpapi"

// extensionRoutes are Keystone's smaller APIs: policies, limits, EC2 credentials,
// endpoint filtering, federation mappings and trusts.
func (s *Service) extensionRoutes() []httpapi.Route {
	var all []httpapi.Route
	for _, group := range [][]httpapi.Route{
		s.policyBlobRoutes(),
		s.limitRoutes(),
		s.ec2CredentialRoutes(),
		s.endpointFilterRoutes(),
		s.federationMappingRoutes(),
		s.trustRoutes(),
		s.accessRuleRoutes(),
		s.signatureTokenRoutes(),
		s.oauth1Routes(),
	} {
		all = append(all, group...)
	}
	return all
}

// extensionPolicies are the default rules of the extension APIs, upstream's with
// their deprecated predecessors ORed in (admin on any project is cloud admin), as
// defaultPolicies.
var extensionPolicies = map[string]string{
	// Policy blobs (/v3/policies).
	"identity:get_policy":    "rule:system_reader_or_admin",
	"identity:list_policies": "rule:system_reader_or_admin",
	"identity:create_policy": "rule:admin_required",
	"identity:update_policy": "rule:admin_required",
	"identity:delete_policy": "rule:admin_required",

	// Unified limits: anyone may read registered limits and the model; a limit is
	// visible in its system, domain or project scope.
	"identity:get_registered_limit":     "",
	"identity:list_registered_limits":   "",
	"identity:create_registered_limits": "rule:admin_required",
	"identity:update_registered_limit":  "rule:admin_required",
	"identity:delete_registered_limit":  "rule:admin_required",
	"identity:get_limit_model":          "",
	"identity:get_limit":                "rule:system_reader or domain_id:%(target.limit.domain.id)s or domain_id:%(target.limit.project.domain_id)s or project_id:%(target.limit.project_id)s or rule:admin_required",
	"identity:list_limits":              "",
	"identity:create_limits":            "rule:admin_required",
	"identity:update_limit":             "rule:admin_required",
	"identity:delete_limit":             "rule:admin_required",

	// EC2 credentials: their owner's (members only may write), or an admin's.
	"identity:ec2_get_credential":    "rule:admin_required or rule:system_reader or user_id:%(target.credential.user_id)s",
	"identity:ec2_list_credentials":  "rule:admin_required or rule:system_reader or rule:owner",
	"identity:ec2_create_credential": "rule:admin_required or (role:member and user_id:%(target.credential.user_id)s)",
	"identity:ec2_delete_credential": "rule:admin_required or (role:member and user_id:%(target.credential.user_id)s)",

	// Endpoint filtering (OS-EP-FILTER).
	"identity:add_endpoint_to_project":      "rule:admin_required",
	"identity:check_endpoint_in_project":    "rule:system_reader_or_admin",
	"identity:list_endpoints_for_project":   "rule:system_reader_or_admin",
	"identity:list_projects_for_endpoint":   "rule:system_reader_or_admin",
	"identity:remove_endpoint_from_project": "rule:admin_required",

	// Federation mappings (OS-FEDERATION).
	"identity:get_mapping":    "rule:system_reader_or_admin",
	"identity:list_mappings":  "rule:system_reader_or_admin",
	"identity:create_mapping": "rule:admin_required",
	"identity:update_mapping": "rule:admin_required",
	"identity:delete_mapping": "rule:admin_required",

	// Trusts (OS-TRUST): only the trustor creates; its parties (and readers) see it.
	"identity:create_trust":            "user_id:%(target.trust.trustor_user_id)s",
	"identity:list_trusts":             "rule:system_reader_or_admin",
	"identity:list_trusts_for_trustor": "rule:system_reader_or_admin or user_id:%(target.trust.trustor_user_id)s",
	"identity:list_trusts_for_trustee": "rule:system_reader_or_admin or user_id:%(target.trust.trustee_user_id)s",
	"identity:get_trust":               "rule:system_reader_or_admin or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s",
	"identity:list_roles_for_trust":    "rule:system_reader_or_admin or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s",
	"identity:get_role_for_trust":      "rule:system_reader_or_admin or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s",
	"identity:delete_trust":            "rule:admin_required or user_id:%(target.trust.trustor_user_id)s",

	// Application credential access rules: their user's, or a system reader's.
	"identity:list_access_rules":  "rule:system_reader or user_id:%(target.user.id)s",
	"identity:get_access_rule":    "rule:system_reader or user_id:%(target.user.id)s",
	"identity:delete_access_rule": "rule:system_admin or user_id:%(target.user.id)s",

	// OS-OAUTH1 (upstream's consumer.py and access_token.py defaults).
	"identity:get_consumer":            "rule:system_reader_or_admin",
	"identity:list_consumers":          "rule:system_reader_or_admin",
	"identity:create_consumer":         "rule:admin_required",
	"identity:update_consumer":         "rule:admin_required",
	"identity:delete_consumer":         "rule:admin_required",
	"identity:authorize_request_token": "rule:admin_required",
	"identity:list_access_tokens":      "rule:admin_required",
	"identity:get_access_token":        "rule:admin_required",
	"identity:delete_access_token":     "rule:admin_required",
	"identity:list_access_token_roles": "rule:admin_required",
	"identity:get_access_token_role":   "rule:admin_required",
}
