package dhcp

import "github.com/nimbus-cloud/nimbus/internal/network/dataplane"

// dnsmasq's --dhcp-range modes for IPv6 subnets.
const (
	modeStatic      = "static"       // DHCP for the hosts of the host file only (IPv4 and stateful DHCPv6)
	modeRAOnly      = "ra-only"      // router advertisements with the A bit: SLAAC, no DHCP
	modeRAStateless = "ra-stateless" // A and O bits: SLAAC, and DHCPv6 for options only
)

// rangeMode is how dnsmasq serves subnet s ("" for not at all), from its
// ipv6_address_mode (who gives addresses) and ipv6_ra_mode (whether OpenStack
// advertises the prefix), after upstream's dnsmasq driver: IPv4, stateful and
// stateless DHCPv6, and IPv6 subnets without modes get a static range; SLAAC gets no
// DHCP. Upstream leaves router advertisements to radvd in the router's namespace;
// Nimbus has none there, so dnsmasq sends them where ipv6_ra_mode asks for them:
// slaac as ra-only, dhcpv6-stateless as ra-stateless, dhcpv6-stateful as a static
// range with --enable-ra (the M bit). A SLAAC subnet whose RAs come from another
// router (no ipv6_ra_mode) needs nothing of dnsmasq.
func rangeMode(s dataplane.Subnet) string {
	if s.IPVersion == 4 {
		return modeStatic
	}
	if s.CIDR.Bits() > 64 {
		// dnsmasq's IPv6 ranges are /64 at least (upstream skips them too).
		return ""
	}
	ra, addr := s.IPv6RAMode, s.IPv6AddressMode
	if addr == "" {
		addr = ra // validated: when both are set they are the same
	}
	switch addr {
	case dataplane.IPv6SLAAC:
		if ra == "" {
			return ""
		}
		return modeRAOnly
	case dataplane.DHCPv6Stateless:
		if ra == "" {
			return modeStatic // options to whoever asks; the RAs come from elsewhere
		}
		return modeRAStateless
	}
	return modeStatic
}

// advertises reports whether dnsmasq sends router advertisements for s.
func advertises(s dataplane.Subnet) bool {
	return s.IPVersion == 6 && s.IPv6RAMode != "" && rangeMode(s) != ""
}

// statefulV6 reports whether s is an IPv6 subnet whose addresses dnsmasq hands out
// (the host file's [address] entries).
func statefulV6(s dataplane.Subnet) bool {
	return s.IPVersion == 6 && rangeMode(s) == modeStatic && s.IPv6AddressMode != dataplane.DHCPv6Stateless
}
