package volume

// Upstream Cinder's check strings (cinder/policies/base.py): the current
// defaults are the "xena" rules, admin anywhere or the project's member
// (writes) or reader (reads); admin_api is the admin of the admin project.
const (
	ruleAdminAPI   = "rule:admin_api"
	adminOrReader  = "rule:xena_system_admin_or_project_reader"
	adminOrMember  = "rule:xena_system_admin_or_project_member"
	projectReader  = "role:reader and project_id:%(project_id)s"
	projectMember  = "role:member and project_id:%(project_id)s"
	legacySysAdmin = "role:admin"
)

// Rule names, as cinder/policies/*.py name them.
const (
	policyVolumeCreate          = "volume:create"
	policyVolumeCreateFromImage = "volume:create_from_image"
	policyVolumeGet             = "volume:get"
	policyVolumeGetAll          = "volume:get_all"
	policyVolumeUpdate          = "volume:update"
	policyVolumeDelete          = "volume:delete"
	policyVolumeForceDelete     = "volume:force_delete"
	policyHostAttribute         = "volume_extension:volume_host_attribute"
	policyTenantAttribute       = "volume_extension:volume_tenant_attribute"
	policyMigAttribute          = "volume_extension:volume_mig_status_attribute"
	policyMultiattach           = "volume:multiattach"

	policyExtend         = "volume:extend"
	policyExtendAttached = "volume:extend_attached_volume"
	policyRevert         = "volume:revert_to_snapshot"
	policyResetStatus    = "volume_extension:volume_admin_actions:reset_status"
	policyUpdateReadonly = "volume:update_readonly_flag"
	policyAdminForceDel  = "volume_extension:volume_admin_actions:force_delete"
	policyForceDetach    = "volume_extension:volume_admin_actions:force_detach"
	policyUploadPublic   = "volume_extension:volume_actions:upload_public"
	policyUploadImage    = "volume_extension:volume_actions:upload_image"
	policyDetach         = "volume_extension:volume_actions:detach"
	policyAttach         = "volume_extension:volume_actions:attach"
	policyBeginDetaching = "volume_extension:volume_actions:begin_detaching"
	policyUnreserve      = "volume_extension:volume_actions:unreserve"
	policyReserve        = "volume_extension:volume_actions:reserve"
	policyRollDetaching  = "volume_extension:volume_actions:roll_detaching"
	policyTerminate      = "volume_extension:volume_actions:terminate_connection"
	policyInitialize     = "volume_extension:volume_actions:initialize_connection"

	policyMetadataGet        = "volume:get_volume_metadata"
	policyMetadataCreate     = "volume:create_volume_metadata"
	policyMetadataUpdate     = "volume:update_volume_metadata"
	policyMetadataDelete     = "volume:delete_volume_metadata"
	policyImageMetadataShow  = "volume_extension:volume_image_metadata:show"
	policyUpdateAdminMeta    = "volume:update_volume_admin_metadata"
	policyTypesManage        = "volume_extension:types_manage"
	policyTypeCreate         = "volume_extension:type_create"
	policyTypeUpdate         = "volume_extension:type_update"
	policyTypeDelete         = "volume_extension:type_delete"
	policyTypeGet            = "volume_extension:type_get"
	policyTypeGetAll         = "volume_extension:type_get_all"
	policyTypeExtraSpecsSeen = "volume_extension:access_types_extra_specs"
	policyTypeQosSeen        = "volume_extension:access_types_qos_specs_id"
	policyExtraSpecsIndex    = "volume_extension:types_extra_specs:index"
	policyExtraSpecsShow     = "volume_extension:types_extra_specs:show"
	policyExtraSpecsCreate   = "volume_extension:types_extra_specs:create"
	policyExtraSpecsUpdate   = "volume_extension:types_extra_specs:update"
	policyExtraSpecsDelete   = "volume_extension:types_extra_specs:delete"
	policyExtraSpecsReadSens = "volume_extension:types_extra_specs:read_sensitive"
	policyTypeAccess         = "volume_extension:volume_type_access"
	policyTypeAccessAdd      = "volume_extension:volume_type_access:addProjectAccess"
	policyTypeAccessRemove   = "volume_extension:volume_type_access:removeProjectAccess"
	policyTypeAccessList     = "volume_extension:volume_type_access:get_all_for_type"
	policyAttachmentCreate   = "volume:attachment_create"
	policyAttachmentUpdate   = "volume:attachment_update"
	policyAttachmentDelete   = "volume:attachment_delete"
	policyAttachmentComplete = "volume:attachment_complete"
	policyMultiattachBoot    = "volume:multiattach_bootable_volume"
	policyQuotaShow          = "volume_extension:quotas:show"
	policyQuotaUpdate        = "volume_extension:quotas:update"
	policyQuotaDelete        = "volume_extension:quotas:delete"
	policyUsedLimits         = "limits_extension:used_limits"
)

// defaultPolicies are upstream's current defaults. Upstream sets no
// scope_types on any rule (cinder/policies/base.py's note: they are to come),
// so none are registered: a rule reads the roles and the project only.
var defaultPolicies = map[string]string{
	"context_is_admin":                    "role:admin",
	"admin_api":                           "is_admin:True or (role:admin and is_admin_project:True)",
	"xena_system_admin_or_project_reader": "(" + legacySysAdmin + ") or (" + projectReader + ")",
	"xena_system_admin_or_project_member": "(" + legacySysAdmin + ") or (" + projectMember + ")",

	policyVolumeCreate:          adminOrMember,
	policyVolumeCreateFromImage: adminOrMember,
	policyVolumeGet:             adminOrReader,
	policyVolumeGetAll:          adminOrReader,
	policyVolumeUpdate:          adminOrMember,
	policyVolumeDelete:          adminOrMember,
	policyVolumeForceDelete:     ruleAdminAPI,
	policyHostAttribute:         ruleAdminAPI,
	policyTenantAttribute:       adminOrReader,
	policyMigAttribute:          ruleAdminAPI,
	policyMultiattach:           adminOrMember,

	policyExtend:         adminOrMember,
	policyExtendAttached: adminOrMember,
	policyRevert:         adminOrMember,
	policyResetStatus:    ruleAdminAPI,
	policyUpdateReadonly: adminOrMember,
	policyAdminForceDel:  ruleAdminAPI,
	policyForceDetach:    ruleAdminAPI,
	policyUploadPublic:   ruleAdminAPI,
	policyUploadImage:    adminOrMember,
	policyDetach:         adminOrMember,
	policyAttach:         adminOrMember,
	policyBeginDetaching: adminOrMember,
	policyUnreserve:      adminOrMember,
	policyReserve:        adminOrMember,
	policyRollDetaching:  adminOrMember,
	policyTerminate:      adminOrMember,
	policyInitialize:     adminOrMember,

	policyMetadataGet:       adminOrReader,
	policyMetadataCreate:    adminOrMember,
	policyMetadataUpdate:    adminOrMember,
	policyMetadataDelete:    adminOrMember,
	policyImageMetadataShow: adminOrReader,
	policyUpdateAdminMeta:   ruleAdminAPI,

	policyTypesManage:        ruleAdminAPI,
	policyTypeCreate:         ruleAdminAPI,
	policyTypeUpdate:         ruleAdminAPI,
	policyTypeDelete:         ruleAdminAPI,
	policyTypeGet:            adminOrReader,
	policyTypeGetAll:         adminOrReader,
	policyTypeExtraSpecsSeen: adminOrReader,
	policyTypeQosSeen:        ruleAdminAPI,
	policyExtraSpecsIndex:    adminOrReader,
	policyExtraSpecsShow:     adminOrReader,
	policyExtraSpecsCreate:   ruleAdminAPI,
	policyExtraSpecsUpdate:   ruleAdminAPI,
	policyExtraSpecsDelete:   ruleAdminAPI,
	policyExtraSpecsReadSens: ruleAdminAPI,
	policyTypeAccess:         adminOrMember,
	policyTypeAccessAdd:      ruleAdminAPI,
	policyTypeAccessRemove:   ruleAdminAPI,
	policyTypeAccessList:     ruleAdminAPI,

	policyAttachmentCreate:   adminOrMember,
	policyAttachmentUpdate:   adminOrMember,
	policyAttachmentDelete:   adminOrMember,
	policyAttachmentComplete: adminOrMember,
	policyMultiattachBoot:    adminOrMember,

	policyQuotaShow:   adminOrReader,
	policyQuotaUpdate: ruleAdminAPI,
	policyQuotaDelete: ruleAdminAPI,
	policyUsedLimits:  adminOrReader,
}
