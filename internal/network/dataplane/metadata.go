package dataplane

import "net/netip"

// MetadataAddress is where guests find the metadata API (port 80): in a router's
// namespace, or in the DHCP namespace of a network no router serves.
var MetadataAddress = netip.MustParseAddr("169.254.169.254")

// RoutedSubnets are the IDs of n's subnets that a router serves, as upstream's DHCP
// agent tells them (get_isolated_subnets): a network:router_interface port holds
// the subnet's gateway address. Every other subnet is isolated. The ports looked
// at are DHCPHosts (every port of the network) and Ports.
func RoutedSubnets(n Network) map[string]bool {
	gateways := map[string]netip.Addr{}
	for _, s := range n.Subnets {
		if s.GatewayIP.IsValid() {
			gateways[s.ID] = s.GatewayIP
		}
	}
	routed := map[string]bool{}
	for _, ports := range [][]Port{n.DHCPHosts, n.Ports} {
		for _, p := range ports {
			if p.DeviceOwner != OwnerRouterInterface {
				continue
			}
			for _, f := range p.FixedIPs {
				if gw, ok := gateways[f.SubnetID]; ok && gw == f.IP {
					routed[f.SubnetID] = true
				}
			}
		}
	}
	return routed
}

// DHCPMetadata reports whether the DHCP namespace of n serves the metadata API on
// host h, as upstream's should_enable_metadata for IPv4: the network is served by
// DHCP here and has an IPv4 DHCP subnet, and either h forces metadata or one of
// those subnets is isolated and h enables isolated metadata. The DHCP part then
// puts 169.254.169.254/32 on the namespace's ns- device and routes instances of
// isolated subnets to it (DHCP option 121); the metadata part listens there.
func DHCPMetadata(h Host, n Network) bool {
	if !n.DHCP || !n.AdminStateUp || !h.ForceMetadata && !h.EnableIsolatedMetadata {
		return false
	}
	routed := RoutedSubnets(n)
	for _, s := range n.Subnets {
		if !s.EnableDHCP || s.IPVersion != 4 {
			continue
		}
		if h.ForceMetadata || !routed[s.ID] {
			return true
		}
	}
	return false
}
