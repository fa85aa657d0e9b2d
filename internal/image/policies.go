package image

import "github.com/nimbus-cloud/nimbus/internal/platform/policy"

// Upstream Glance's check strings (glance/policies/base.py), from which its
// defaults are built.
const (
	ruleAdmin         = "rule:context_is_admin"
	projectMember     = "role:member and project_id:%(project_id)s"
	projectReader     = "role:reader and project_id:%(project_id)s"
	adminOrMember     = ruleAdmin + " or (" + projectMember + ")"
	adminOrReader     = ruleAdmin + " or (" + projectReader + ")"
	imageMemberCheck  = "project_id:%(member_id)s"
	visibleByCheck    = "(project_id:%(project_id)s or " + imageMemberCheck + " or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s)"
	adminOrReaderSees = ruleAdmin + " or (role:reader and " + visibleByCheck + ")"
	adminOrMemberSees = ruleAdmin + " or (role:member and " + visibleByCheck + ")"
	adminOrSharedWith = ruleAdmin + " or role:reader and (project_id:%(project_id)s or " + imageMemberCheck + ")"
	// ADMIN_OR_PROJECT_READER_GET_NAMESPACE: a metadef namespace's project, or public
	adminOrReaderNamespace = ruleAdmin + " or (role:reader and (project_id:%(project_id)s or 'public':%(visibility)s))"
	metadefAdmin           = "rule:metadef_admin"
)

// defaultPolicies are upstream Glance's current defaults (secure RBAC, as with
// enforce_new_defaults): writes need the member role in the image's project,
// reads the reader role, admin may do anything, and scopeTypes below keep every
// image and task rule to project-scoped tokens. The targets are upstream's too:
// project_id and owner are the image's owner, visibility its visibility, and
// member_id the caller's project when the image is shared with it (imageTarget).
var defaultPolicies = map[string]string{
	"default":          "",
	"context_is_admin": "role:admin",
	"service_api":      "role:service or role:admin",

	"add_image":             ruleAdmin + " or (" + projectMember + " and project_id:%(owner)s)",
	"delete_image":          adminOrMember,
	"get_image":             adminOrReaderSees,
	"get_images":            adminOrReader,
	"modify_image":          adminOrMember,
	"publicize_image":       ruleAdmin,
	"communitize_image":     adminOrMember,
	"download_image":        adminOrMemberSees,
	"download_from_store":   adminOrMemberSees,
	"upload_image":          adminOrMember,
	"delete_image_location": ruleAdmin,
	"get_image_location":    adminOrReader,
	"set_image_location":    adminOrMember,
	"add_image_location":    "rule:service_api or (" + projectMember + " and project_id:%(owner)s)",
	"fetch_image_location":  "rule:service_api",
	"add_member":            adminOrMember,
	"delete_member":         adminOrMember,
	"get_member":            adminOrSharedWith,
	"get_members":           adminOrSharedWith,
	"modify_member":         ruleAdmin + " or (role:member and " + imageMemberCheck + ")",
	"manage_image_cache":    ruleAdmin,
	"deactivate":            adminOrMember,
	"reactivate":            adminOrMember,
	"copy_image":            ruleAdmin,
	"list_cached_nodes":     ruleAdmin,

	// The tasks API is admin's (tasks_api_access); the per-action rules are
	// upstream's internal ones, open by default.
	"get_task":         "rule:default",
	"get_tasks":        "rule:default",
	"add_task":         "rule:default",
	"modify_task":      "rule:default",
	"tasks_api_access": ruleAdmin,

	// metadef.py: reads by the namespace's project or of public namespaces,
	// writes admin's (metadef_admin)
	"metadef_default":                          "",
	"metadef_admin":                            ruleAdmin,
	"get_metadef_namespace":                    adminOrReaderNamespace,
	"get_metadef_namespaces":                   adminOrReader,
	"modify_metadef_namespace":                 metadefAdmin,
	"add_metadef_namespace":                    metadefAdmin,
	"delete_metadef_namespace":                 metadefAdmin,
	"get_metadef_object":                       adminOrReaderNamespace,
	"get_metadef_objects":                      adminOrReaderNamespace,
	"modify_metadef_object":                    metadefAdmin,
	"add_metadef_object":                       metadefAdmin,
	"delete_metadef_object":                    metadefAdmin,
	"list_metadef_resource_types":              adminOrReaderNamespace,
	"get_metadef_resource_type":                adminOrReaderNamespace,
	"add_metadef_resource_type_association":    metadefAdmin,
	"remove_metadef_resource_type_association": metadefAdmin,
	"get_metadef_property":                     adminOrReaderNamespace,
	"get_metadef_properties":                   adminOrReaderNamespace,
	"modify_metadef_property":                  metadefAdmin,
	"add_metadef_property":                     metadefAdmin,
	"remove_metadef_property":                  metadefAdmin,
	"get_metadef_tag":                          adminOrReaderNamespace,
	"get_metadef_tags":                         adminOrReaderNamespace,
	"modify_metadef_tag":                       metadefAdmin,
	"add_metadef_tag":                          metadefAdmin,
	"add_metadef_tags":                         metadefAdmin,
	"delete_metadef_tag":                       metadefAdmin,
	"delete_metadef_tags":                      metadefAdmin,

	// cache.py and discovery.py: no route of theirs is served, but a policy
	// file naming them reads as upstream's
	"cache_image":        ruleAdmin,
	"cache_list":         ruleAdmin,
	"cache_delete":       ruleAdmin,
	"cache_clean":        ruleAdmin,
	"cache_prune":        ruleAdmin,
	"stores_info_detail": ruleAdmin + " or rule:service_api",
}

// scopeTypes are upstream's scope_types: every image and task rule is for
// project-scoped tokens only, so a domain- or system-scoped token (whose
// project is empty) can neither see nor make images (403), as upstream with
// enforce_scope.
func scopeTypes() map[string][]string {
	out := map[string][]string{}
	for name := range defaultPolicies {
		switch name {
		case "default", "context_is_admin", "service_api", "metadef_default", "metadef_admin":
		default:
			out[name] = []string{policy.ScopeProject}
		}
	}
	return out
}
