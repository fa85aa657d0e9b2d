package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/policy"

// defaultPolicies are Keystone's default rules as upstream defines them today
// (keystone/common/policies/*.py): the new defaults alone, since oslo.policy no
// longer falls back to the deprecated ones (enforce_new_defaults = True). The
// admin role on any project is still the cloud's admin (rule:admin_required), as
// upstream; readers and members see what is theirs, system readers everything,
// domain managers their domain. A policy.yaml may override any of them.
var defaultPolicies = map[string]string{
	// Shared rules (base.py).
	"admin_required":                 "role:admin or is_admin:1",
	"service_role":                   "role:service",
	"service_or_admin":               "rule:admin_required or rule:service_role",
	"owner":                          "user_id:%(user_id)s",
	"admin_or_owner":                 "rule:admin_required or rule:owner",
	"token_subject":                  "user_id:%(target.token.user_id)s",
	"admin_or_token_subject":         "rule:admin_required or rule:token_subject",
	"service_admin_or_token_subject": "rule:service_or_admin or rule:token_subject",
	"domain_managed_target_role":     "'manager':%(target.role.name)s or 'member':%(target.role.name)s or 'reader':%(target.role.name)s",

	// The token's own scopes (auth.py).
	"identity:get_auth_catalog":  "",
	"identity:get_auth_projects": "",
	"identity:get_auth_domains":  "",
	"identity:get_auth_system":   "",

	// Tokens (token.py).
	"identity:check_token":    "rule:admin_required or (role:reader and system_scope:all) or rule:token_subject",
	"identity:validate_token": "rule:admin_required or (role:reader and system_scope:all) or rule:service_role or rule:token_subject",
	"identity:revoke_token":   "rule:admin_required or rule:token_subject",

	// Domains (domain.py).
	"identity:get_domain":    "rule:admin_required or (role:reader and system_scope:all) or token.domain.id:%(target.domain.id)s or token.project.domain.id:%(target.domain.id)s",
	"identity:list_domains":  "rule:admin_required or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain.id)s)",
	"identity:create_domain": "rule:admin_required",
	"identity:update_domain": "rule:admin_required",
	"identity:delete_domain": "rule:admin_required",

	// Domain-specific configuration (domain_config.py).
	"identity:create_domain_config":                  "rule:admin_required",
	"identity:get_domain_config":                     "rule:admin_required or (role:reader and system_scope:all)",
	"identity:get_security_compliance_domain_config": "",
	"identity:update_domain_config":                  "rule:admin_required",
	"identity:delete_domain_config":                  "rule:admin_required",
	"identity:get_domain_config_default":             "rule:admin_required or (role:reader and system_scope:all)",

	// Projects and their tags (project.py).
	"identity:get_project":         "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s) or project_id:%(target.project.id)s",
	"identity:list_projects":       "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)",
	"identity:list_user_projects":  "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s",
	"identity:create_project":      "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
	"identity:update_project":      "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
	"identity:delete_project":      "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
	"identity:list_project_tags":   "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s) or project_id:%(target.project.id)s",
	"identity:get_project_tag":     "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s) or project_id:%(target.project.id)s",
	"identity:update_project_tags": "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
	"identity:create_project_tag":  "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
	"identity:delete_project_tags": "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
	"identity:delete_project_tag":  "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",

	// Users (user.py).
	"identity:get_user":    "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s",
	"identity:list_users":  "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)",
	"identity:create_user": "(rule:admin_required) or (role:manager and token.domain.id:%(target.user.domain_id)s)",
	"identity:update_user": "(rule:admin_required) or (role:manager and token.domain.id:%(target.user.domain_id)s)",
	"identity:delete_user": "(rule:admin_required) or (role:manager and token.domain.id:%(target.user.domain_id)s)",

	// Groups and membership (group.py).
	"identity:get_group":              "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s)",
	"identity:list_groups":            "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s)",
	"identity:list_groups_for_user":   "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(user_id)s",
	"identity:create_group":           "(rule:admin_required) or (role:manager and domain_id:%(target.group.domain_id)s)",
	"identity:update_group":           "(rule:admin_required) or (role:manager and domain_id:%(target.group.domain_id)s)",
	"identity:delete_group":           "(rule:admin_required) or (role:manager and domain_id:%(target.group.domain_id)s)",
	"identity:list_users_in_group":    "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s)",
	"identity:remove_user_from_group": "(rule:admin_required) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)",
	"identity:check_user_in_group":    "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)",
	"identity:add_user_to_group":      "(rule:admin_required) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)",

	// Roles and domain-specific roles (role.py).
	"identity:get_role":           "(rule:admin_required or (role:reader and system_scope:all)) or (role:manager and rule:domain_managed_target_role)",
	"identity:list_roles":         "(rule:admin_required or (role:reader and system_scope:all)) or (role:manager and not domain_id:None)",
	"identity:create_role":        "rule:admin_required",
	"identity:update_role":        "rule:admin_required",
	"identity:delete_role":        "rule:admin_required",
	"identity:get_domain_role":    "rule:admin_required or (role:reader and system_scope:all)",
	"identity:list_domain_roles":  "rule:admin_required or (role:reader and system_scope:all)",
	"identity:create_domain_role": "rule:admin_required",
	"identity:update_domain_role": "rule:admin_required",
	"identity:delete_domain_role": "rule:admin_required",

	// Implied roles (implied_role.py).
	"identity:get_implied_role":          "rule:admin_required or (role:reader and system_scope:all)",
	"identity:list_implied_roles":        "rule:admin_required or (role:reader and system_scope:all)",
	"identity:create_implied_role":       "rule:admin_required",
	"identity:delete_implied_role":       "rule:admin_required",
	"identity:list_role_inference_rules": "rule:admin_required or (role:reader and system_scope:all)",
	"identity:check_implied_role":        "rule:admin_required or (role:reader and system_scope:all)",

	// Grants, on projects, domains and the system (grant.py).
	"identity:check_grant":                   "(rule:admin_required) or ((role:reader and system_scope:all) or ((role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s))",
	"identity:list_grants":                   "(rule:admin_required) or ((role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s))",
	"identity:create_grant":                  "(rule:admin_required) or ((role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s) or ((role:manager and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:manager and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and rule:domain_managed_target_role",
	"identity:revoke_grant":                  "(rule:admin_required) or ((role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s) or ((role:manager and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:manager and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and rule:domain_managed_target_role",
	"identity:list_system_grants_for_user":   "rule:admin_required or (role:reader and system_scope:all)",
	"identity:check_system_grant_for_user":   "rule:admin_required or (role:reader and system_scope:all)",
	"identity:create_system_grant_for_user":  "rule:admin_required",
	"identity:revoke_system_grant_for_user":  "rule:admin_required",
	"identity:list_system_grants_for_group":  "rule:admin_required or (role:reader and system_scope:all)",
	"identity:check_system_grant_for_group":  "rule:admin_required or (role:reader and system_scope:all)",
	"identity:create_system_grant_for_group": "rule:admin_required",
	"identity:revoke_system_grant_for_group": "rule:admin_required",

	// Role assignments (role_assignment.py).
	"identity:list_role_assignments":          "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)",
	"identity:list_role_assignments_for_tree": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)",

	// Regions (region.py).
	"identity:get_region":    "",
	"identity:list_regions":  "",
	"identity:create_region": "rule:admin_required",
	"identity:update_region": "rule:admin_required",
	"identity:delete_region": "rule:admin_required",

	// Services (service.py).
	"identity:get_service":    "rule:admin_required or (role:reader and system_scope:all)",
	"identity:list_services":  "rule:admin_required or (role:reader and system_scope:all)",
	"identity:create_service": "rule:admin_required",
	"identity:update_service": "rule:admin_required",
	"identity:delete_service": "rule:admin_required",

	// Endpoints (endpoint.py).
	"identity:get_endpoint":    "rule:admin_required or (role:reader and system_scope:all)",
	"identity:list_endpoints":  "rule:admin_required or (role:reader and system_scope:all)",
	"identity:create_endpoint": "rule:admin_required",
	"identity:update_endpoint": "rule:admin_required",
	"identity:delete_endpoint": "rule:admin_required",

	// Application credentials (application_credential.py).
	"identity:get_application_credential":    "(rule:admin_required) or (role:reader and system_scope:all) or rule:owner",
	"identity:list_application_credentials":  "(rule:admin_required) or (role:reader and system_scope:all) or rule:owner",
	"identity:create_application_credential": "user_id:%(user_id)s",
	"identity:delete_application_credential": "rule:admin_or_owner",

	// Their access rules (access_rule.py).
	"identity:get_access_rule":    "(role:reader and system_scope:all) or user_id:%(target.user.id)s",
	"identity:list_access_rules":  "(role:reader and system_scope:all) or user_id:%(target.user.id)s",
	"identity:delete_access_rule": "(role:admin and system_scope:all) or user_id:%(target.user.id)s",

	// Credentials (credential.py).
	"identity:get_credential":    "(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s",
	"identity:list_credentials":  "(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s",
	"identity:create_credential": "(rule:admin_required) or user_id:%(target.credential.user_id)s",
	"identity:update_credential": "(rule:admin_required) or user_id:%(target.credential.user_id)s",
	"identity:delete_credential": "(rule:admin_required) or user_id:%(target.credential.user_id)s",

	// EC2 credentials, OS-EC2 (ec2_credential.py).
	"identity:ec2_get_credential":    "(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s",
	"identity:ec2_list_credentials":  "(rule:admin_required) or (role:reader and system_scope:all) or rule:owner",
	"identity:ec2_create_credential": "(rule:admin_required) or (role:member and user_id:%(target.credential.user_id)s)",
	"identity:ec2_delete_credential": "(rule:admin_required) or (role:member and user_id:%(target.credential.user_id)s)",

	// EC2 and S3 signature logins: a service's or an admin's token (ec2tokens.py, s3tokens.py).
	"identity:ec2tokens_validate": "rule:service_or_admin",
	"identity:s3tokens_validate":  "rule:service_or_admin",

	// Policy blobs (policy.py).
	"identity:get_policy":    "rule:admin_required or (role:reader and system_scope:all)",
	"identity:list_policies": "rule:admin_required or (role:reader and system_scope:all)",
	"identity:create_policy": "rule:admin_required",
	"identity:update_policy": "rule:admin_required",
	"identity:delete_policy": "rule:admin_required",

	// Registered limits (registered_limit.py).
	"identity:get_registered_limit":     "",
	"identity:list_registered_limits":   "",
	"identity:create_registered_limits": "rule:admin_required",
	"identity:update_registered_limit":  "rule:admin_required",
	"identity:delete_registered_limit":  "rule:admin_required",

	// Limits (limit.py).
	"identity:get_limit_model": "",
	"identity:get_limit":       "rule:admin_required or (role:reader and system_scope:all) or (domain_id:%(target.limit.domain.id)s or domain_id:%(target.limit.project.domain_id)s) or (project_id:%(target.limit.project_id)s and not None:%(target.limit.project_id)s)",
	"identity:list_limits":     "",
	"identity:create_limits":   "rule:admin_required",
	"identity:update_limit":    "rule:admin_required",
	"identity:delete_limit":    "rule:admin_required",

	// Endpoint filtering, OS-EP-FILTER (project_endpoint.py).
	"identity:list_projects_for_endpoint":   "rule:admin_required or (role:reader and system_scope:all)",
	"identity:add_endpoint_to_project":      "rule:admin_required",
	"identity:check_endpoint_in_project":    "rule:admin_required or (role:reader and system_scope:all)",
	"identity:list_endpoints_for_project":   "rule:admin_required or (role:reader and system_scope:all)",
	"identity:remove_endpoint_from_project": "rule:admin_required",

	// Endpoint groups, OS-EP-FILTER (endpoint_group.py).
	"identity:create_endpoint_group":                         "rule:admin_required",
	"identity:list_endpoint_groups":                          "rule:admin_required or (role:reader and system_scope:all)",
	"identity:get_endpoint_group":                            "rule:admin_required or (role:reader and system_scope:all)",
	"identity:update_endpoint_group":                         "rule:admin_required",
	"identity:delete_endpoint_group":                         "rule:admin_required",
	"identity:list_projects_associated_with_endpoint_group":  "rule:admin_required or (role:reader and system_scope:all)",
	"identity:list_endpoints_associated_with_endpoint_group": "rule:admin_required or (role:reader and system_scope:all)",
	"identity:get_endpoint_group_in_project":                 "rule:admin_required or (role:reader and system_scope:all)",
	"identity:list_endpoint_groups_for_project":              "rule:admin_required or (role:reader and system_scope:all)",
	"identity:add_endpoint_group_to_project":                 "rule:admin_required",
	"identity:remove_endpoint_group_from_project":            "rule:admin_required",

	// Federation mappings (mapping.py).
	"identity:create_mapping": "rule:admin_required",
	"identity:get_mapping":    "rule:admin_required or (role:reader and system_scope:all)",
	"identity:list_mappings":  "rule:admin_required or (role:reader and system_scope:all)",
	"identity:delete_mapping": "rule:admin_required",
	"identity:update_mapping": "rule:admin_required",

	// Trusts, OS-TRUST (trust.py).
	"identity:create_trust":            "user_id:%(target.trust.trustor_user_id)s",
	"identity:list_trusts":             "rule:admin_required or (role:reader and system_scope:all)",
	"identity:list_trusts_for_trustor": "(rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s)",
	"identity:list_trusts_for_trustee": "(rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustee_user_id)s)",
	"identity:list_roles_for_trust":    "(rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)",
	"identity:get_role_for_trust":      "(rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)",
	"identity:delete_trust":            "rule:admin_required or user_id:%(target.trust.trustor_user_id)s",
	"identity:get_trust":               "(rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)",

	// OAuth1 consumers (consumer.py).
	"identity:get_consumer":    "rule:admin_required or (role:reader and system_scope:all)",
	"identity:list_consumers":  "rule:admin_required or (role:reader and system_scope:all)",
	"identity:create_consumer": "rule:admin_required",
	"identity:update_consumer": "rule:admin_required",
	"identity:delete_consumer": "rule:admin_required",

	// OAuth1 request and access tokens (access_token.py).
	"identity:authorize_request_token": "rule:admin_required",
	"identity:get_access_token":        "rule:admin_required",
	"identity:get_access_token_role":   "rule:admin_required",
	"identity:list_access_tokens":      "rule:admin_required",
	"identity:list_access_token_roles": "rule:admin_required",
	"identity:delete_access_token":     "rule:admin_required",
}

// policyScopeTypes are the token scopes upstream lets reach each rule (its
// scope_types), always enforced as oslo.policy now does: a token of another
// scope is refused whatever the check string says. Rules without scope types
// (the shared ones, the token's own catalog and scopes) accept every token.
var policyScopeTypes = map[string][]string{
	// system, domain, project
	"identity:check_token":                           allScopes,
	"identity:validate_token":                        allScopes,
	"identity:revoke_token":                          allScopes,
	"identity:get_domain":                            allScopes,
	"identity:list_domains":                          allScopes,
	"identity:create_domain_config":                  systemOrProject,
	"identity:get_domain_config":                     systemOrProject,
	"identity:get_security_compliance_domain_config": allScopes,
	"identity:update_domain_config":                  systemOrProject,
	"identity:delete_domain_config":                  systemOrProject,
	"identity:get_domain_config_default":             systemOrProject,
	"identity:get_project":                           allScopes,
	"identity:list_projects":                         allScopes,
	"identity:list_user_projects":                    allScopes,
	"identity:create_project":                        allScopes,
	"identity:update_project":                        allScopes,
	"identity:delete_project":                        allScopes,
	"identity:list_project_tags":                     allScopes,
	"identity:get_project_tag":                       allScopes,
	"identity:update_project_tags":                   allScopes,
	"identity:create_project_tag":                    allScopes,
	"identity:delete_project_tags":                   allScopes,
	"identity:delete_project_tag":                    allScopes,
	"identity:get_user":                              allScopes,
	"identity:list_users":                            allScopes,
	"identity:create_user":                           allScopes,
	"identity:update_user":                           allScopes,
	"identity:delete_user":                           allScopes,
	"identity:get_group":                             allScopes,
	"identity:list_groups":                           allScopes,
	"identity:list_groups_for_user":                  allScopes,
	"identity:create_group":                          allScopes,
	"identity:update_group":                          allScopes,
	"identity:delete_group":                          allScopes,
	"identity:list_users_in_group":                   allScopes,
	"identity:remove_user_from_group":                allScopes,
	"identity:check_user_in_group":                   allScopes,
	"identity:add_user_to_group":                     allScopes,
	"identity:get_role":                              allScopes,
	"identity:list_roles":                            allScopes,
	"identity:check_grant":                           allScopes,
	"identity:list_grants":                           allScopes,
	"identity:create_grant":                          allScopes,
	"identity:revoke_grant":                          allScopes,
	"identity:list_role_assignments":                 allScopes,
	"identity:list_role_assignments_for_tree":        allScopes,
	"identity:get_region":                            allScopes,
	"identity:list_regions":                          allScopes,
	"identity:get_credential":                        allScopes,
	"identity:list_credentials":                      allScopes,
	"identity:create_credential":                     allScopes,
	"identity:update_credential":                     allScopes,
	"identity:delete_credential":                     allScopes,
	"identity:ec2tokens_validate":                    allScopes,
	"identity:s3tokens_validate":                     allScopes,
	"identity:get_registered_limit":                  allScopes,
	"identity:list_registered_limits":                allScopes,
	"identity:get_limit_model":                       allScopes,
	"identity:get_limit":                             allScopes,
	"identity:list_limits":                           allScopes,
	// system, project
	"identity:create_domain":                                 systemOrProject,
	"identity:update_domain":                                 systemOrProject,
	"identity:delete_domain":                                 systemOrProject,
	"identity:create_role":                                   systemOrProject,
	"identity:update_role":                                   systemOrProject,
	"identity:delete_role":                                   systemOrProject,
	"identity:get_domain_role":                               systemOrProject,
	"identity:list_domain_roles":                             systemOrProject,
	"identity:create_domain_role":                            systemOrProject,
	"identity:update_domain_role":                            systemOrProject,
	"identity:delete_domain_role":                            systemOrProject,
	"identity:get_implied_role":                              systemOrProject,
	"identity:list_implied_roles":                            systemOrProject,
	"identity:create_implied_role":                           systemOrProject,
	"identity:delete_implied_role":                           systemOrProject,
	"identity:list_role_inference_rules":                     systemOrProject,
	"identity:check_implied_role":                            systemOrProject,
	"identity:list_system_grants_for_user":                   systemOrProject,
	"identity:check_system_grant_for_user":                   systemOrProject,
	"identity:create_system_grant_for_user":                  systemOrProject,
	"identity:revoke_system_grant_for_user":                  systemOrProject,
	"identity:list_system_grants_for_group":                  systemOrProject,
	"identity:check_system_grant_for_group":                  systemOrProject,
	"identity:create_system_grant_for_group":                 systemOrProject,
	"identity:revoke_system_grant_for_group":                 systemOrProject,
	"identity:create_region":                                 systemOrProject,
	"identity:update_region":                                 systemOrProject,
	"identity:delete_region":                                 systemOrProject,
	"identity:get_service":                                   systemOrProject,
	"identity:list_services":                                 systemOrProject,
	"identity:create_service":                                systemOrProject,
	"identity:update_service":                                systemOrProject,
	"identity:delete_service":                                systemOrProject,
	"identity:get_endpoint":                                  systemOrProject,
	"identity:list_endpoints":                                systemOrProject,
	"identity:create_endpoint":                               systemOrProject,
	"identity:update_endpoint":                               systemOrProject,
	"identity:delete_endpoint":                               systemOrProject,
	"identity:get_application_credential":                    systemOrProject,
	"identity:list_application_credentials":                  systemOrProject,
	"identity:delete_application_credential":                 systemOrProject,
	"identity:get_access_rule":                               systemOrProject,
	"identity:list_access_rules":                             systemOrProject,
	"identity:delete_access_rule":                            systemOrProject,
	"identity:ec2_get_credential":                            systemOrProject,
	"identity:ec2_list_credentials":                          systemOrProject,
	"identity:ec2_create_credential":                         systemOrProject,
	"identity:ec2_delete_credential":                         systemOrProject,
	"identity:get_policy":                                    systemOrProject,
	"identity:list_policies":                                 systemOrProject,
	"identity:create_policy":                                 systemOrProject,
	"identity:update_policy":                                 systemOrProject,
	"identity:delete_policy":                                 systemOrProject,
	"identity:create_registered_limits":                      systemOrProject,
	"identity:update_registered_limit":                       systemOrProject,
	"identity:delete_registered_limit":                       systemOrProject,
	"identity:create_limits":                                 systemOrProject,
	"identity:update_limit":                                  systemOrProject,
	"identity:delete_limit":                                  systemOrProject,
	"identity:list_projects_for_endpoint":                    systemOrProject,
	"identity:add_endpoint_to_project":                       systemOrProject,
	"identity:check_endpoint_in_project":                     systemOrProject,
	"identity:list_endpoints_for_project":                    systemOrProject,
	"identity:remove_endpoint_from_project":                  systemOrProject,
	"identity:create_endpoint_group":                         systemOrProject,
	"identity:list_endpoint_groups":                          systemOrProject,
	"identity:get_endpoint_group":                            systemOrProject,
	"identity:update_endpoint_group":                         systemOrProject,
	"identity:delete_endpoint_group":                         systemOrProject,
	"identity:list_projects_associated_with_endpoint_group":  systemOrProject,
	"identity:list_endpoints_associated_with_endpoint_group": systemOrProject,
	"identity:get_endpoint_group_in_project":                 systemOrProject,
	"identity:list_endpoint_groups_for_project":              systemOrProject,
	"identity:add_endpoint_group_to_project":                 systemOrProject,
	"identity:remove_endpoint_group_from_project":            systemOrProject,
	"identity:create_mapping":                                systemOrProject,
	"identity:get_mapping":                                   systemOrProject,
	"identity:list_mappings":                                 systemOrProject,
	"identity:delete_mapping":                                systemOrProject,
	"identity:update_mapping":                                systemOrProject,
	"identity:list_trusts":                                   systemOrProject,
	"identity:list_trusts_for_trustor":                       systemOrProject,
	"identity:list_trusts_for_trustee":                       systemOrProject,
	"identity:list_roles_for_trust":                          systemOrProject,
	"identity:get_role_for_trust":                            systemOrProject,
	"identity:delete_trust":                                  systemOrProject,
	"identity:get_trust":                                     systemOrProject,
	"identity:get_consumer":                                  systemOrProject,
	"identity:list_consumers":                                systemOrProject,
	"identity:create_consumer":                               systemOrProject,
	"identity:update_consumer":                               systemOrProject,
	"identity:delete_consumer":                               systemOrProject,
	// project
	"identity:create_application_credential": projectOnly,
	"identity:create_trust":                  projectOnly,
	"identity:authorize_request_token":       projectOnly,
	"identity:get_access_token":              projectOnly,
	"identity:get_access_token_role":         projectOnly,
	"identity:list_access_tokens":            projectOnly,
	"identity:list_access_token_roles":       projectOnly,
	"identity:delete_access_token":           projectOnly,
}

var (
	allScopes       = []string{policy.ScopeSystem, policy.ScopeDomain, policy.ScopeProject}
	systemOrProject = []string{policy.ScopeSystem, policy.ScopeProject}
	projectOnly     = []string{policy.ScopeProject}
)
