package dataplanetest

import (
	"context"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/testbed"
)

// Lease runs the Debian DHCP client once on the instance's eth0 and returns what
// the server offered (testbed.Lease), failing the test without a lease. dir holds
// the client's files; ns is the instance's namespace.
func Lease(t *testing.T, dir, ns string) map[string]string {
	t.Helper()
	m, err := testbed.Lease(context.Background(), dir, ns)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
