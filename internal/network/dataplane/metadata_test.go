package dataplane

import (
	"maps"
	"net/netip"
	"testing"
)

// TestDHCPMetadata checks which subnets count as routed (upstream's
// get_isolated_subnets) and which DHCP namespaces serve metadata.
func TestDHCPMetadata(t *testing.T) {
	v4 := Subnet{ID: "v4", IPVersion: 4, CIDR: netip.MustParsePrefix("10.0.0.0/24"), GatewayIP: netip.MustParseAddr("10.0.0.1"), EnableDHCP: true}
	v4b := Subnet{ID: "v4b", IPVersion: 4, CIDR: netip.MustParsePrefix("10.1.0.0/24"), GatewayIP: netip.MustParseAddr("10.1.0.1"), EnableDHCP: true}
	noDHCP := v4b
	noDHCP.EnableDHCP = false
	v6 := Subnet{ID: "v6", IPVersion: 6, CIDR: netip.MustParsePrefix("fd00::/64"), GatewayIP: netip.MustParseAddr("fd00::1"), EnableDHCP: true}
	rport := func(owner, subnet, ip string) Port {
		return Port{DeviceOwner: owner, FixedIPs: []FixedIP{{SubnetID: subnet, IP: netip.MustParseAddr(ip)}}}
	}
	isolated := Host{EnableIsolatedMetadata: true}
	for _, tc := range []struct {
		name          string
		host          Host
		n             Network
		routed        []string
		serves        bool
		notDHCP, down bool
	}{
		{name: "no router: isolated", host: isolated, n: Network{Subnets: []Subnet{v4}}, serves: true},
		{name: "a router on the gateway", host: isolated, routed: []string{"v4"},
			n: Network{Subnets: []Subnet{v4}, DHCPHosts: []Port{rport(OwnerRouterInterface, "v4", "10.0.0.1")}}},
		{name: "a router port on this host (Ports)", host: isolated, routed: []string{"v4"},
			n: Network{Subnets: []Subnet{v4}, Ports: []Port{rport(OwnerRouterInterface, "v4", "10.0.0.1")}}},
		{name: "a router interface on another address does not count", host: isolated, serves: true,
			n: Network{Subnets: []Subnet{v4}, DHCPHosts: []Port{rport(OwnerRouterInterface, "v4", "10.0.0.9")}}},
		{name: "an instance on the gateway address does not count", host: isolated, serves: true,
			n: Network{Subnets: []Subnet{v4}, DHCPHosts: []Port{rport("compute:nova", "v4", "10.0.0.1")}}},
		{name: "one routed subnet, one isolated: served", host: isolated, routed: []string{"v4"}, serves: true,
			n: Network{Subnets: []Subnet{v4, v4b}, DHCPHosts: []Port{rport(OwnerRouterInterface, "v4", "10.0.0.1")}}},
		{name: "the isolated subnet has no DHCP", host: isolated, routed: []string{"v4"},
			n: Network{Subnets: []Subnet{v4, noDHCP}, DHCPHosts: []Port{rport(OwnerRouterInterface, "v4", "10.0.0.1")}}},
		{name: "IPv6 only: no IPv4 metadata", host: isolated, n: Network{Subnets: []Subnet{v6}}},
		{name: "forced: routed too", host: Host{ForceMetadata: true}, routed: []string{"v4"}, serves: true,
			n: Network{Subnets: []Subnet{v4}, DHCPHosts: []Port{rport(OwnerRouterInterface, "v4", "10.0.0.1")}}},
		{name: "neither option", n: Network{Subnets: []Subnet{v4}}},
		{name: "not served by DHCP here", host: isolated, n: Network{Subnets: []Subnet{v4}}, notDHCP: true},
		{name: "admin down", host: isolated, n: Network{Subnets: []Subnet{v4}}, down: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := tc.n
			n.DHCP, n.AdminStateUp = !tc.notDHCP, !tc.down
			want := map[string]bool{}
			for _, id := range tc.routed {
				want[id] = true
			}
			if got := RoutedSubnets(n); !maps.Equal(got, want) {
				t.Errorf("RoutedSubnets = %v, want %v", got, want)
			}
			if got := DHCPMetadata(tc.host, n); got != tc.serves {
				t.Errorf("DHCPMetadata = %v, want %v", got, tc.serves)
			}
		})
	}
}
