package image

// defaultPolicies are Glance's default rules as deployed with enforce_new_defaults
// off: publicizing and (de)activating need admin, changes need the owner or admin,
// reads are open and visibility does the rest.
var defaultPolicies = map[string]string{
	"context_is_admin":  "role:admin",
	"get_images":        "",
	"get_image":         "",
	"add_image":         "role:admin or project_id:%(target.owner)s",
	"modify_image":      "role:admin or project_id:%(target.owner)s",
	"delete_image":      "role:admin or project_id:%(target.owner)s",
	"publicize_image":   "role:admin",
	"communitize_image": "role:admin or project_id:%(target.owner)s",
	"upload_image":      "role:admin or project_id:%(target.owner)s",
	"download_image":    "",
	"deactivate":        "role:admin",
	"reactivate":        "role:admin",
	"add_member":        "role:admin or project_id:%(target.owner)s",
	"delete_member":     "role:admin or project_id:%(target.owner)s",
	"get_member":        "",
	"get_members":       "",
	"modify_member":     "role:admin or project_id:%(target.member_id)s",
	"stage_image":       "role:admin or project_id:%(target.owner)s",
	"import_image":      "role:admin or project_id:%(target.owner)s",
	// Tasks are admin's by default upstream (tasks_api_access).
	"get_tasks": "role:admin",
	"get_task":  "role:admin",
	"add_task":  "role:admin",
}
