package metadata

import (
	"fmt"
	"net/netip"
)

// nicNameLen is the length of a tap device's name (upstream's NIC_NAME_LEN): the
// link id is "tap" and the port ID, cut there.
const nicNameLen = 14

// linkType is the VIF type network_data.json names: the guest's NIC sits on a
// Linux bridge (upstream's VIF_TYPE_BRIDGE, one of its exposed legacy types).
const linkType = "bridge"

// subnetIPs are a port's addresses in one subnet, with the subnet's settings.
type subnetIPs struct {
	subnet FixedIP // the first address's, which carry the subnet's settings
	ips    []netip.Addr
}

// portSubnets groups a port's fixed IPs by subnet, in the order they come.
func portSubnets(p Port) []subnetIPs {
	var out []subnetIPs
	at := map[string]int{}
	for _, ip := range p.FixedIPs {
		i, ok := at[ip.SubnetID]
		if !ok {
			i = len(out)
			at[ip.SubnetID] = i
			out = append(out, subnetIPs{subnet: ip})
		}
		out[i].ips = append(out[i].ips, ip.IP)
	}
	return out
}

// networkData is network_data.json, as upstream's netutils.get_network_metadata:
// a link per port with addresses; per port, its first IPv4 and first IPv6 subnet
// as a network (static, or only "<ipvN>_dhcp" when DHCP configures it); and the
// DNS servers of them all. An instance without ports has none of it ({}).
func (d *document) networkData() object {
	if len(d.inst.Ports) == 0 {
		return object{}
	}
	links, nets, services := []any{}, []any{}, []any{}
	seen := map[netip.Addr]bool{}
	ifc, netNum := -1, -1
	for _, p := range d.inst.Ports {
		subnets := portSubnets(p)
		if len(subnets) == 0 {
			continue
		}
		ifc++
		link := portLink(p, subnets, ifc)
		links = append(links, link)
		linkID, _ := link.get("id")
		for _, version := range []int{4, 6} {
			s, ok := firstSubnet(subnets, version)
			if !ok {
				continue
			}
			netNum++
			nets = append(nets, subnetNetwork(p, s, version, netNum, linkID.(string)))
			for _, dns := range s.subnet.DNSNameservers {
				if !seen[dns] {
					seen[dns] = true
					services = append(services, dnsService(dns))
				}
			}
		}
	}
	return object{{"links", links}, {"networks", nets}, {"services", services}}
}

func firstSubnet(subnets []subnetIPs, version int) (subnetIPs, bool) {
	for _, s := range subnets {
		if (version == 4) == s.ips[0].Is4() {
			return s, true
		}
	}
	return subnetIPs{}, false
}

// portLink is a port's link. Its MTU is null when DHCP serves one of its subnets
// (as upstream: the guest learns it from DHCP) or the network has none.
func portLink(p Port, subnets []subnetIPs, ifc int) object {
	id := "tap" + p.ID
	if len(id) > nicNameLen {
		id = id[:nicNameLen]
	}
	if p.ID == "" {
		id = fmt.Sprintf("interface%d", ifc)
	}
	var mtu any
	if p.MTU > 0 {
		mtu = p.MTU
	}
	for _, s := range subnets {
		if s.subnet.DHCPServer.IsValid() {
			mtu = nil
		}
	}
	return object{
		{"id", id},
		{"vif_id", p.ID},
		{"type", linkType},
		{"mtu", mtu},
		{"ethernet_mac_address", p.MAC},
	}
}

// subnetNetwork is the network of a port's subnet: IPv6 with an address mode is
// ipv6_<mode>; a subnet with DHCP is ipvN_dhcp and nothing more; else ipvN with
// the first address, netmask, routes (the default one via the gateway first)
// and DNS servers.
func subnetNetwork(p Port, s subnetIPs, version, netNum int, linkID string) object {
	id := fmt.Sprintf("network%d", netNum)
	sub := s.subnet
	typ := fmt.Sprintf("ipv%d", version)
	if sub.IPv6AddressMode != "" {
		typ += "_" + sub.IPv6AddressMode
	} else if sub.DHCPServer.IsValid() || sub.EnableDHCP {
		return object{{"id", id}, {"type", typ + "_dhcp"}, {"link", linkID}, {"network_id", p.NetworkID}}
	}
	routes := []any{}
	if sub.Gateway.IsValid() {
		all := "0.0.0.0"
		if version == 6 {
			all = "::"
		}
		routes = append(routes, object{{"network", all}, {"netmask", all}, {"gateway", sub.Gateway.String()}})
	}
	for _, r := range sub.HostRoutes {
		routes = append(routes, object{
			{"network", r.Destination.Masked().Addr().String()},
			{"netmask", netmask(r.Destination)},
			{"gateway", r.NextHop.String()},
		})
	}
	services := []any{}
	for _, dns := range sub.DNSNameservers {
		services = append(services, dnsService(dns))
	}
	return object{
		{"id", id},
		{"type", typ},
		{"link", linkID},
		{"ip_address", s.ips[0].String()},
		{"netmask", netmask(sub.CIDR)},
		{"routes", routes},
		{"network_id", p.NetworkID},
		{"services", services},
	}
}

func dnsService(a netip.Addr) object { return object{{"type", "dns"}, {"address", a.String()}} }

// netmask is a prefix's mask as an address (255.255.255.0, ffff:ffff:ffff:ffff::),
// as upstream's netaddr prints it.
func netmask(p netip.Prefix) string {
	n := 16
	if p.Addr().Is4() {
		n = 4
	}
	b := make([]byte, n)
	for i := 0; i < p.Bits(); i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a.String()
}
