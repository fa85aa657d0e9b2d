package volume

import "maps"

// Rule names of snapshots, backups, services, zones and pools, as
// cinder/policies/{snapshots,snapshot_actions,snapshot_metadata,backups,
// backup_actions,services,scheduler_stats}.py name them.
const (
	policySnapshotGet          = "volume:get_snapshot"
	policySnapshotGetAll       = "volume:get_all_snapshots"
	policySnapshotCreate       = "volume:create_snapshot"
	policySnapshotDelete       = "volume:delete_snapshot"
	policySnapshotUpdate       = "volume:update_snapshot"
	policySnapshotAttributes   = "volume_extension:extended_snapshot_attributes"
	policySnapshotResetStatus  = "volume_extension:snapshot_admin_actions:reset_status"
	policySnapshotForceDelete  = "volume_extension:snapshot_admin_actions:force_delete"
	policySnapshotUpdateStatus = "snapshot_extension:snapshot_actions:update_snapshot_status"
	policySnapshotMetaGet      = "volume:get_snapshot_metadata"
	policySnapshotMetaUpdate   = "volume:update_snapshot_metadata"
	policySnapshotMetaDelete   = "volume:delete_snapshot_metadata"

	policyBackupGetAll      = "backup:get_all"
	policyBackupGet         = "backup:get"
	policyBackupCreate      = "backup:create"
	policyBackupUpdate      = "backup:update"
	policyBackupDelete      = "backup:delete"
	policyBackupRestore     = "backup:restore"
	policyBackupImport      = "backup:backup-import"
	policyBackupExport      = "backup:export-import"
	policyBackupAttributes  = "backup:backup_project_attribute"
	policyBackupResetStatus = "volume_extension:backup_admin_actions:reset_status"
	policyBackupForceDelete = "volume_extension:backup_admin_actions:force_delete"

	policyServicesIndex  = "volume_extension:services:index"
	policyServicesUpdate = "volume_extension:services:update"
	policyGetPools       = "scheduler_extension:scheduler_stats:get_pools"
)

// snapshotBackupPolicies are upstream's current defaults for the rules above.
var snapshotBackupPolicies = map[string]string{
	policySnapshotGet:          adminOrReader,
	policySnapshotGetAll:       adminOrReader,
	policySnapshotCreate:       adminOrMember,
	policySnapshotDelete:       adminOrMember,
	policySnapshotUpdate:       adminOrMember,
	policySnapshotAttributes:   adminOrReader,
	policySnapshotResetStatus:  ruleAdminAPI,
	policySnapshotForceDelete:  ruleAdminAPI,
	policySnapshotUpdateStatus: adminOrMember,
	policySnapshotMetaGet:      adminOrReader,
	policySnapshotMetaUpdate:   adminOrMember,
	policySnapshotMetaDelete:   adminOrMember,

	policyBackupGetAll:      adminOrReader,
	policyBackupGet:         adminOrReader,
	policyBackupCreate:      adminOrMember,
	policyBackupUpdate:      adminOrMember,
	policyBackupDelete:      adminOrMember,
	policyBackupRestore:     adminOrMember,
	policyBackupImport:      ruleAdminAPI,
	policyBackupExport:      ruleAdminAPI,
	policyBackupAttributes:  ruleAdminAPI,
	policyBackupResetStatus: ruleAdminAPI,
	policyBackupForceDelete: ruleAdminAPI,

	policyServicesIndex:  ruleAdminAPI,
	policyServicesUpdate: ruleAdminAPI,
	policyGetPools:       ruleAdminAPI,
}

// the rules join the service's defaults before New registers them, so the
// API core's policy file is not touched by this part
func init() { maps.Copy(defaultPolicies, snapshotBackupPolicies) }
