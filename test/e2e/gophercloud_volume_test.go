package e2e

import "testing"

// TestGophercloudBlockStorageV3Acceptance runs gophercloud's block storage v3
// acceptance tests (volumes, their actions and attachments, snapshots,
// backups, types, QoS specs, quotas, limits, services, pools) against the
// shared cloud.
func TestGophercloudBlockStorageV3Acceptance(t *testing.T) {
	runGophercloudSuite(t, gophercloudSuite{name: "block storage v3", packages: []string{"blockstorage/v3"},
		heading: "gophercloud block storage v3"})
}
