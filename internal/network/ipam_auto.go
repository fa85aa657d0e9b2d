package network

import (
	"context"
	"net"
	"net/netip"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// IPv6 modes of ipv6_ra_mode and ipv6_address_mode (upstream's IPV6_MODES).
var ipv6Modes = []string{dataplane.DHCPv6Stateful, dataplane.DHCPv6Stateless, dataplane.IPv6SLAAC}

// autoAddress reports whether the subnet's instances make their own addresses from
// the advertised prefix (upstream's is_auto_address_subnet: slaac or
// dhcpv6-stateless in either mode). A port's address there is not picked from the
// pools but is its EUI-64 address, what the instance will configure.
func (sb *subnetBody) autoAddress() bool {
	for _, m := range []*string{sb.IPv6AddressMode, sb.IPv6RAMode} {
		if m != nil && (*m == dataplane.IPv6SLAAC || *m == dataplane.DHCPv6Stateless) {
			return true
		}
	}
	return false
}

// takesAutoAddress reports whether a port of this owner gets the EUI-64 address of
// each auto-address subnet, as upstream: all but router interfaces, which hold
// the subnet's gateway instead.
func takesAutoAddress(owner string) bool { return owner != ownerRouterInterface }

// eui64 is the address of mac in prefix by the modified EUI-64 interface
// identifier (RFC 4291 appendix A; upstream's get_ipv6_addr_by_EUI64).
func eui64(prefix netip.Prefix, mac string) (netip.Addr, bool) {
	hw, err := net.ParseMAC(mac)
	if err != nil || len(hw) != 6 || !prefix.Addr().Is6() || prefix.Bits() > 64 {
		return netip.Addr{}, false
	}
	b := prefix.Masked().Addr().As16()
	copy(b[8:], []byte{hw[0] ^ 0x02, hw[1], hw[2], 0xff, 0xfe, hw[3], hw[4], hw[5]})
	return netip.AddrFrom16(b), true
}

// allocateAuto records port p's EUI-64 address on auto-address subnet sb (false:
// its MAC makes none).
func allocateAuto(ctx context.Context, tx *db.Tx, sb *subnetBody, p *portBody) (fixedIP, bool, error) {
	a, ok := eui64(sb.prefix(), p.MACAddress)
	if !ok {
		return fixedIP{}, false, nil
	}
	recorded, err := recordIP(ctx, tx, sb, a, p.ID)
	if err != nil {
		return fixedIP{}, false, err
	}
	if !recorded {
		return fixedIP{}, false, conflict("IpAddressAlreadyAllocated", "IP address %s already allocated in subnet %s", a, sb.ID)
	}
	return fixedIP{SubnetID: sb.ID, IPAddress: a.String()}, true, nil
}

// addAutoAddresses gives every port of a new auto-address subnet's network (but
// router interfaces) its EUI-64 address there, as upstream's
// add_auto_addrs_on_network_ports.
func (s *Service) addAutoAddresses(ctx context.Context, tx *db.Tx, sb *subnetBody) error {
	ports, err := loadBodies[portBody](ctx, tx, `SELECT body FROM ports WHERE network_id = ? ORDER BY id`, sb.NetworkID)
	if err != nil {
		return err
	}
	for i := range ports {
		p := &ports[i]
		if !takesAutoAddress(p.DeviceOwner) {
			continue
		}
		f, ok, err := allocateAuto(ctx, tx, sb, p)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		p.FixedIPs = append(p.FixedIPs, f)
		p.touch(stamp(s.now()))
		if err := saveBody(ctx, tx, "ports", p.ID, p); err != nil {
			return err
		}
	}
	return nil
}
