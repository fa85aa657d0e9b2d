package identity

// defaultPolicies are Keystone's default rules. Upstream still ORs each new
// scope-aware rule with its deprecated predecessor (enforce_new_defaults=false), so
// the admin role on any project remains cloud admin, as devstack and packstack users
// expect; a policy.yaml may tighten any of them.
var defaultPolicies = map[string]string{
	"admin_required":                 "role:admin or is_admin:1",
	"service_role":                   "role:service",
	"service_or_admin":               "rule:admin_required or rule:service_role",
	"owner":                          "user_id:%(user_id)s",
	"admin_or_owner":                 "rule:admin_required or rule:owner",
	"token_subject":                  "user_id:%(target.token.user_id)s",
	"admin_or_token_subject":         "rule:admin_required or rule:token_subject",
	"service_admin_or_token_subject": "rule:service_or_admin or rule:token_subject",
	"system_reader":                  "role:reader and system_scope:all",
	"system_admin":                   "role:admin and system_scope:all",
	"system_reader_or_admin":         "rule:system_reader or rule:admin_required",

	// Tokens.
	"identity:validate_token":    "rule:system_reader or rule:service_role or rule:token_subject or rule:admin_required",
	"identity:check_token":       "rule:system_reader or rule:service_role or rule:token_subject or rule:admin_required",
	"identity:revoke_token":      "rule:system_admin or rule:service_role or rule:token_subject or rule:admin_required",
	"identity:get_auth_catalog":  "",
	"identity:get_auth_projects": "",
	"identity:get_auth_domains":  "",
	"identity:get_auth_system":   "",

	// Domains.
	"identity:get_domain":    "rule:system_reader or domain_id:%(target.domain.id)s or project_domain_id:%(target.domain.id)s or rule:admin_required",
	"identity:list_domains":  "rule:system_reader_or_admin",
	"identity:create_domain": "rule:admin_required",
	"identity:update_domain": "rule:admin_required",
	"identity:delete_domain": "rule:admin_required",

	// Projects.
	"identity:get_project":         "rule:system_reader or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s or rule:admin_required",
	"identity:list_projects":       "rule:system_reader or (role:reader and domain_id:%(target.domain_id)s) or rule:admin_required",
	"identity:list_user_projects":  "rule:system_reader or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s or rule:admin_required",
	"identity:create_project":      "rule:admin_required or (role:admin and domain_id:%(target.project.domain_id)s)",
	"identity:update_project":      "rule:admin_required or (role:admin and domain_id:%(target.project.domain_id)s)",
	"identity:delete_project":      "rule:admin_required or (role:admin and domain_id:%(target.project.domain_id)s)",
	"identity:list_project_tags":   "rule:system_reader or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s or rule:admin_required",
	"identity:get_project_tag":     "rule:system_reader or (role:reader and domain_id:%(target.project.domain_id)s) or project_id:%(target.project.id)s or rule:admin_required",
	"identity:update_project_tags": "rule:admin_required or (role:admin and domain_id:%(target.project.domain_id)s) or (role:member and project_id:%(target.project.id)s)",
	"identity:create_project_tag":  "rule:admin_required or (role:admin and domain_id:%(target.project.domain_id)s) or (role:member and project_id:%(target.project.id)s)",
	"identity:delete_project_tags": "rule:admin_required or (role:admin and domain_id:%(target.project.domain_id)s) or (role:member and project_id:%(target.project.id)s)",
	"identity:delete_project_tag":  "rule:admin_required or (role:admin and domain_id:%(target.project.domain_id)s) or (role:member and project_id:%(target.project.id)s)",

	// Users.
	"identity:get_user":             "rule:system_reader or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s or rule:admin_required",
	"identity:list_users":           "rule:system_reader or (role:reader and domain_id:%(target.domain_id)s) or rule:admin_required",
	"identity:create_user":          "rule:admin_required or (role:admin and domain_id:%(target.user.domain_id)s)",
	"identity:update_user":          "rule:admin_required or (role:admin and domain_id:%(target.user.domain_id)s)",
	"identity:delete_user":          "rule:admin_required or (role:admin and domain_id:%(target.user.domain_id)s)",
	"identity:list_groups_for_user": "rule:system_reader or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s or rule:admin_required",

	// Groups.
	"identity:get_group":              "rule:system_reader or (role:reader and domain_id:%(target.group.domain_id)s) or rule:admin_required",
	"identity:list_groups":            "rule:system_reader or (role:reader and domain_id:%(target.domain_id)s) or rule:admin_required",
	"identity:list_users_in_group":    "rule:system_reader or (role:reader and domain_id:%(target.group.domain_id)s) or rule:admin_required",
	"identity:check_user_in_group":    "rule:system_reader or (role:reader and domain_id:%(target.group.domain_id)s) or rule:admin_required",
	"identity:create_group":           "rule:admin_required or (role:admin and domain_id:%(target.group.domain_id)s)",
	"identity:update_group":           "rule:admin_required or (role:admin and domain_id:%(target.group.domain_id)s)",
	"identity:delete_group":           "rule:admin_required or (role:admin and domain_id:%(target.group.domain_id)s)",
	"identity:add_user_to_group":      "rule:admin_required or (role:admin and domain_id:%(target.group.domain_id)s)",
	"identity:remove_user_from_group": "rule:admin_required or (role:admin and domain_id:%(target.group.domain_id)s)",

	// Roles and implied roles.
	"identity:get_role":                  "rule:system_reader_or_admin",
	"identity:list_roles":                "rule:system_reader_or_admin",
	"identity:create_role":               "rule:admin_required",
	"identity:update_role":               "rule:admin_required",
	"identity:delete_role":               "rule:admin_required",
	"identity:get_domain_role":           "rule:system_reader_or_admin",
	"identity:list_domain_roles":         "rule:system_reader_or_admin",
	"identity:create_domain_role":        "rule:admin_required",
	"identity:update_domain_role":        "rule:admin_required",
	"identity:delete_domain_role":        "rule:admin_required",
	"identity:get_implied_role":          "rule:system_reader_or_admin",
	"identity:list_implied_roles":        "rule:system_reader_or_admin",
	"identity:list_role_inference_rules": "rule:system_reader_or_admin",
	"identity:check_implied_role":        "rule:system_reader_or_admin",
	"identity:create_implied_role":       "rule:admin_required",
	"identity:delete_implied_role":       "rule:admin_required",

	// Grants and assignments.
	"identity:check_grant":                    "rule:system_reader or (role:reader and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.project.domain_id)s) or rule:admin_required",
	"identity:list_grants":                    "rule:system_reader or (role:reader and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.project.domain_id)s) or rule:admin_required",
	"identity:create_grant":                   "rule:admin_required or (role:admin and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.project.domain_id)s)",
	"identity:revoke_grant":                   "rule:admin_required or (role:admin and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.project.domain_id)s)",
	"identity:list_role_assignments":          "rule:system_reader or (role:reader and domain_id:%(target.domain_id)s) or rule:admin_required",
	"identity:list_role_assignments_for_tree": "rule:system_reader or (role:reader and domain_id:%(target.project.domain_id)s) or (role:admin and project_id:%(target.project.id)s) or rule:admin_required",
	"identity:check_system_grant_for_user":    "rule:system_reader_or_admin",
	"identity:list_system_grants_for_user":    "rule:system_reader_or_admin",
	"identity:create_system_grant_for_user":   "rule:admin_required",
	"identity:revoke_system_grant_for_user":   "rule:admin_required",
	"identity:check_system_grant_for_group":   "rule:system_reader_or_admin",
	"identity:list_system_grants_for_group":   "rule:system_reader_or_admin",
	"identity:create_system_grant_for_group":  "rule:admin_required",
	"identity:revoke_system_grant_for_group":  "rule:admin_required",

	// Catalog.
	"identity:get_region":      "",
	"identity:list_regions":    "",
	"identity:create_region":   "rule:admin_required",
	"identity:update_region":   "rule:admin_required",
	"identity:delete_region":   "rule:admin_required",
	"identity:get_service":     "rule:system_reader_or_admin",
	"identity:list_services":   "rule:system_reader_or_admin",
	"identity:create_service":  "rule:admin_required",
	"identity:update_service":  "rule:admin_required",
	"identity:delete_service":  "rule:admin_required",
	"identity:get_endpoint":    "rule:system_reader_or_admin",
	"identity:list_endpoints":  "rule:system_reader_or_admin",
	"identity:create_endpoint": "rule:admin_required",
	"identity:update_endpoint": "rule:admin_required",
	"identity:delete_endpoint": "rule:admin_required",

	// Application credentials: only their owner (and system readers) see them.
	"identity:get_application_credential":    "rule:system_reader or rule:owner",
	"identity:list_application_credentials":  "rule:system_reader or rule:owner",
	"identity:create_application_credential": "user_id:%(user_id)s",
	"identity:delete_application_credential": "rule:system_admin or rule:owner",

	// Credentials.
	"identity:get_credential":    "rule:system_reader or user_id:%(target.credential.user_id)s or rule:admin_required",
	"identity:list_credentials":  "rule:system_reader or user_id:%(target.credential.user_id)s or rule:admin_required",
	"identity:create_credential": "rule:system_admin or user_id:%(target.credential.user_id)s or rule:admin_required",
	"identity:update_credential": "rule:system_admin or user_id:%(target.credential.user_id)s or rule:admin_required",
	"identity:delete_credential": "rule:system_admin or user_id:%(target.credential.user_id)s or rule:admin_required",
}
