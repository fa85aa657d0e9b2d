package dataplanetest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
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

// Lease6 runs dhclient -6 once on the instance's eth0 (testbed.Lease6), failing
// the test without an answer.
func Lease6(t *testing.T, dir, ns string, stateless bool) map[string]string {
	t.Helper()
	m, err := testbed.Lease6(context.Background(), dir, ns, stateless)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// ClasslessRoutes decodes a lease's rfc3442_classless_static_routes (dhclient
// prints option 121 as decimal bytes: prefix length, the significant octets of the
// destination, the router) into destination prefixes and next hops, so a test's
// instance can install what the server offered (the Lease script sets only the
// address).
func ClasslessRoutes(s string) ([][2]string, error) {
	var b []int
	for _, f := range strings.Fields(s) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 255 {
			return nil, fmt.Errorf("classless routes %q: %q is not a byte", s, f)
		}
		b = append(b, n)
	}
	var out [][2]string
	for len(b) > 0 {
		bits := b[0]
		octets := (bits + 7) / 8
		if bits > 32 || len(b) < 1+octets+4 {
			return nil, fmt.Errorf("classless routes %q: truncated", s)
		}
		dst := [4]int{}
		copy(dst[:], b[1:1+octets])
		hop := b[1+octets : 1+octets+4]
		out = append(out, [2]string{
			fmt.Sprintf("%d.%d.%d.%d/%d", dst[0], dst[1], dst[2], dst[3], bits),
			fmt.Sprintf("%d.%d.%d.%d", hop[0], hop[1], hop[2], hop[3]),
		})
		b = b[1+octets+4:]
	}
	return out, nil
}
