package e2e

import "testing"

// TestGophercloudComputeV2Acceptance runs gophercloud's compute v2 acceptance
// tests against the shared cloud (the fake compute driver), booting onto the demo
// project's network "private" as devstack's OS_NETWORK_NAME does onto its own.
func TestGophercloudComputeV2Acceptance(t *testing.T) {
	// runAcceptance passes the environment through to the suite's tests.
	t.Setenv("OS_NETWORK_NAME", "private")
	runGophercloudSuite(t, gophercloudSuite{name: "compute v2", packages: []string{"compute/v2"},
		heading: "gophercloud compute v2"})
}
