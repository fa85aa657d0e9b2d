package e2e

import "testing"

// TestGophercloudComputeV2Acceptance runs gophercloud's compute v2 acceptance
// tests against a cloud of their own whose compute host runs real QEMU guests
// (the test guest image) and whose data plane lives in a namespace the test made,
// booting onto the demo project's network "private" as devstack's OS_NETWORK_NAME
// does onto its own.
func TestGophercloudComputeV2Acceptance(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gophercloud compute acceptance suite on a cloud of its own")
	}
	requireQEMU(t)
	t.Parallel()
	d := newDataplaneBed(t, "gc")
	d.start("NIMBUS_COMPUTE_DRIVER=qemu", "NIMBUS_IMAGE_GUEST_IMAGE=true", "NIMBUS_NETWORK_METADATA_URL=")
	runGophercloudSuite(t, gophercloudSuite{name: "compute v2", packages: []string{"compute/v2"},
		heading: "gophercloud compute v2", cloud: d.Cloud, env: map[string]string{"OS_NETWORK_NAME": "private"},
		without: []string{"TestBootFromMultiEphemeralServer"}}) // TestLocalDisksQEMU's, on a flavor with ephemeral
}
