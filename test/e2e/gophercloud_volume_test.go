package e2e

import "testing"

// TestGophercloudBlockStorageV3Acceptance runs gophercloud's block storage v3
// acceptance tests of the volume API core (volumes, their actions and
// attachments, types, quotas, limits) against the shared cloud; the
// snapshot, backup and service tests are the snapshot and backup API's to add.
func TestGophercloudBlockStorageV3Acceptance(t *testing.T) {
	runGophercloudSuite(t, gophercloudSuite{name: "block storage v3", packages: []string{"blockstorage/v3"},
		heading: "gophercloud block storage v3",
		only: []string{"TestLimits", "TestQuotasetGet", "TestQuotasetGetDefaults", "TestQuotasetGetUsage",
			"TestQuotasetUpdate", "TestQuotasetDelete", "TestVolumeAttachments", "TestVolumes", "TestVolumesMultiAttach",
			"TestVolumeActionsAttachCreateDestroy", "TestVolumeActionsReserveUnreserve", "TestVolumeActionsExtendSize",
			"TestVolumeActionsImageMetadata", "TestVolumeActionsSetBootable", "TestVolumeActionsChangeType",
			"TestVolumeActionsResetStatus", "TestVolumeActionsReImage", "TestVolumeTenants",
			"TestVolumeTypesCRUD", "TestVolumeTypesExtraSpecs", "TestVolumeTypesAccess", "TestEncryptionVolumeTypes",
			"TestVolumeActionsUploadImageDestroy", "TestSchedulerHints"}})
}
