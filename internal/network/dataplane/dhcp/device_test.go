package dhcp

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
)

// TestDeviceCommands checks the DHCP port's device with a recording fake runner: a
// first pass makes the veth with the port's IPv4 and IPv6 addresses (no duplicate
// address detection, router advertisements ignored) and 169.254.169.254/32 when the
// namespace serves metadata; a converged namespace costs reads only; metadata
// turned off removes the address.
func TestDeviceCommands(t *testing.T) {
	v4 := dataplane.Subnet{ID: "s4", IPVersion: 4, CIDR: netip.MustParsePrefix("10.0.0.0/24"), GatewayIP: netip.MustParseAddr("10.0.0.1"), EnableDHCP: true}
	v6 := dataplane.Subnet{ID: "s6", IPVersion: 6, CIDR: netip.MustParsePrefix("fd00::/64"), GatewayIP: netip.MustParseAddr("fd00::1"), EnableDHCP: true,
		IPv6RAMode: dataplane.DHCPv6Stateful, IPv6AddressMode: dataplane.DHCPv6Stateful}
	port := dataplane.Port{ID: "0123456789abcdef", MAC: "fa:16:3e:00:00:02", DeviceOwner: dataplane.OwnerDHCP,
		FixedIPs: []dataplane.FixedIP{{SubnetID: "s4", IP: netip.MustParseAddr("10.0.0.2")}, {SubnetID: "s6", IP: netip.MustParseAddr("fd00::2")}}}
	n := dataplane.Network{ID: "n", MTU: 1450, AdminStateUp: true, DHCP: true, Subnets: []dataplane.Subnet{v4, v6}, Ports: []dataplane.Port{port}}
	h := dataplane.Host{EnableIsolatedMetadata: true}
	const tap, dev, ns = "tap0123456789a", "ns-0123456789a", "qdhcp-n"
	lo := `{"ifname":"lo","flags":["LOOPBACK","UP"],"mtu":65536,"addr_info":[]}`
	inside := func(addrs ...string) string {
		var ai []string
		for _, a := range addrs {
			p := netip.MustParsePrefix(a)
			fam := "inet"
			if p.Addr().Is6() {
				fam = "inet6"
			}
			ai = append(ai, fmt.Sprintf(`{"family":%q,"local":%q,"prefixlen":%d,"scope":"global"}`, fam, p.Addr(), p.Bits()))
		}
		return fmt.Sprintf(`[%s,{"ifname":%q,"flags":["UP"],"mtu":1450,"address":"fa:16:3e:00:00:02","addr_info":[%s]}]`, lo, dev, strings.Join(ai, ","))
	}
	r := &dataplanetest.FakeRunner{Outputs: map[string]string{
		"|ip -d -j addr show":      "[]",
		ns + "|ip -d -j addr show": "[" + lo + "]",
	}}
	a := New(r, nil, Options{DataDir: t.TempDir()})
	changes := func() []string {
		var out []string
		for _, c := range r.Take() {
			if !strings.Contains(c, " show") && !strings.Contains(c, "sysctl -n") {
				out = append(out, c)
			}
		}
		return out
	}
	ctx := context.Background()
	if err := a.device(ctx, h, n, port); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"|ip link add " + tap + " type veth peer name " + dev + " address fa:16:3e:00:00:02 netns " + ns,
		"|ip link set " + tap + " mtu 1450",
		ns + "|ip link set " + dev + " mtu 1450",
		"|ip link set " + tap + " master brqn",
		"|ip link set " + tap + " up",
		ns + "|sysctl -w net.ipv6.conf." + dev + ".accept_ra=0",
		ns + "|ip addr add 10.0.0.2/24 dev " + dev,
		ns + "|ip addr add fd00::2/64 dev " + dev + " nodad",
		ns + "|ip addr add 169.254.169.254/32 dev " + dev,
		ns + "|ip link set " + dev + " up",
		ns + "|ip -4 route replace default via 10.0.0.1 dev " + dev,
	}
	if got := changes(); !slices.Equal(got, want) {
		t.Fatalf("first pass ran\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The namespace as the first pass left it: reads only.
	r.Outputs["|ip -d -j addr show"] = `[{"ifname":"` + tap + `","flags":["UP"],"mtu":1450,"master":"brqn","linkinfo":{"info_kind":"veth"}}]`
	r.Outputs[ns+"|ip -d -j addr show"] = inside("10.0.0.2/24", "fd00::2/64", "169.254.169.254/32")
	r.Outputs[ns+"|sysctl -n net.ipv6.conf."+dev+".accept_ra"] = "0\n"
	r.Outputs[ns+"|ip -4 -j route show default"] = `[{"dst":"default","gateway":"10.0.0.1","dev":"` + dev + `"}]`
	if err := a.device(ctx, h, n, port); err != nil {
		t.Fatal(err)
	}
	if got := changes(); len(got) != 0 {
		t.Fatalf("converged pass ran %q", got)
	}

	// Isolated metadata off (or a router on the subnet): the address goes.
	if err := a.device(ctx, dataplane.Host{}, n, port); err != nil {
		t.Fatal(err)
	}
	if got, want := changes(), []string{ns + "|ip addr del 169.254.169.254/32 dev " + dev}; !slices.Equal(got, want) {
		t.Fatalf("metadata off ran %q, want %q", got, want)
	}
}
