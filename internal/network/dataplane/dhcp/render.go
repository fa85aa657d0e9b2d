package dhcp

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// files are the contents of a network's dnsmasq configuration files.
type files struct {
	Hosts     string // --dhcp-hostsfile: MAC,hostname,IP per address of every port
	AddnHosts string // --addn-hosts: IP FQDN hostname, so DNS answers for every port, leased or not
	Opts      string // --dhcp-optsfile: router, DNS servers, routes, MTU per subnet
}

// dhcpSubnets are the network's subnets with DHCP on, IPv4 and IPv6: the DHCP port
// holds an address of each; which of them dnsmasq serves, and how, is up to
// rangeMode.
func dhcpSubnets(n dataplane.Network) []dataplane.Subnet {
	var out []dataplane.Subnet
	for _, s := range n.Subnets {
		if s.EnableDHCP && s.CIDR.IsValid() && s.CIDR.Addr().Is4() == (s.IPVersion == 4) {
			out = append(out, s)
		}
	}
	return out
}

// subnetOf returns the DHCP subnet holding ip.
func subnetOf(subnets []dataplane.Subnet, f dataplane.FixedIP) (dataplane.Subnet, bool) {
	for _, s := range subnets {
		if (f.SubnetID == "" || s.ID == f.SubnetID) && s.CIDR.Contains(f.IP) {
			return s, true
		}
	}
	return dataplane.Subnet{}, false
}

// hostsOf are the ports the DHCP server knows: DHCPHosts, or, when the state
// predates that field, this host's ports and the VXLAN peers.
func hostsOf(n dataplane.Network) []dataplane.Port {
	if n.DHCPHosts != nil {
		return n.DHCPHosts
	}
	out := append([]dataplane.Port(nil), n.Ports...)
	for _, p := range n.Peers {
		port := dataplane.Port{MAC: p.MAC}
		for _, ip := range p.IPs {
			port.FixedIPs = append(port.FixedIPs, dataplane.FixedIP{IP: ip})
		}
		out = append(out, port)
	}
	return out
}

// render builds the three files of network n, whose DHCP port is dhcpPort, for
// domain on host h (whether isolated subnets get the metadata route).
func render(n dataplane.Network, dhcpPort dataplane.Port, domain string, h dataplane.Host) files {
	subnets := dhcpSubnets(n)
	var hosts, addn, opts strings.Builder
	seen := map[string]bool{}
	for _, p := range hostsOf(n) {
		hw, err := net.ParseMAC(p.MAC)
		if err != nil {
			continue
		}
		mac := hw.String()
		for _, f := range p.FixedIPs {
			s, ok := subnetOf(subnets, f)
			if !ok || f.IP.Is4() != (s.IPVersion == 4) {
				continue
			}
			key := mac + "," + f.IP.String()
			if seen[key] {
				continue
			}
			seen[key] = true
			name := hostname(p.Hostname, f.IP)
			switch {
			case s.IPVersion == 4:
				fmt.Fprintf(&hosts, "%s,%s,%s\n", mac, name, f.IP)
			case statefulV6(s):
				// As upstream: tag:dhcpv6 keeps dnsmasq from taking this entry for
				// the MAC's DHCPv4 requests, and [] tells the address from a MAC.
				fmt.Fprintf(&hosts, "%s,tag:dhcpv6,%s,[%s]\n", mac, name, f.IP)
			}
			// DNS answers for every address, SLAAC ones too.
			fmt.Fprintf(&addn, "%s\t%s.%s\t%s\n", f.IP, name, domain, name)
		}
	}
	routed := dataplane.RoutedSubnets(n)
	for _, s := range subnets {
		if s.IPVersion == 6 {
			opts6(&opts, s, domain)
			continue
		}
		tag := "tag:" + subnetTag(s)
		router := s.GatewayIP
		var routes []string
		for _, hr := range s.HostRoutes {
			if !hr.Destination.Addr().Is4() || !hr.NextHop.Is4() {
				continue
			}
			if hr.Destination.Bits() == 0 {
				// A default host route is the router when the subnet has none;
				// otherwise the gateway's default route below wins.
				if !router.IsValid() {
					router = hr.NextHop
				}
				continue
			}
			routes = append(routes, hr.Destination.Masked().String()+","+hr.NextHop.String())
		}
		// The network's other subnets are on the same link (as upstream).
		for _, o := range n.Subnets {
			if o.ID != s.ID && o.IPVersion == 4 && o.CIDR.IsValid() {
				routes = append(routes, o.CIDR.Masked().String()+",0.0.0.0")
			}
		}
		// The metadata route, as upstream: an isolated subnet reaches
		// 169.254.169.254 through the DHCP port when this namespace serves
		// metadata, a routed one through its router, which serves it.
		if hop := metadataHop(h, n, s, routed[s.ID], router, dhcpPort); hop.IsValid() {
			routes = append(routes, dataplane.MetadataAddress.String()+"/32,"+hop.String())
		}
		if servers := v4(s.DNSNameservers); len(servers) > 0 {
			fmt.Fprintf(&opts, "%s,option:dns-server,%s\n", tag, strings.Join(servers, ","))
		}
		if len(routes) > 0 {
			// A client that takes option 121 ignores option 3 (RFC 3442): the
			// default route goes in the list too.
			if router.IsValid() {
				routes = append(routes, "0.0.0.0/0,"+router.String())
			}
			fmt.Fprintf(&opts, "%s,option:classless-static-route,%s\n", tag, strings.Join(routes, ","))
			fmt.Fprintf(&opts, "%s,249,%s\n", tag, strings.Join(routes, ","))
		}
		if router.IsValid() && router.Is4() {
			fmt.Fprintf(&opts, "%s,option:router,%s\n", tag, router)
		} else {
			// Without a value: dnsmasq would offer itself as the router.
			fmt.Fprintf(&opts, "%s,option:router\n", tag)
		}
		if n.MTU > 0 {
			fmt.Fprintf(&opts, "%s,option:mtu,%d\n", tag, n.MTU)
		}
	}
	return files{Hosts: hosts.String(), AddnHosts: addn.String(), Opts: opts.String()}
}

// metadataHop is where subnet s's instances send their metadata requests
// (upstream's _generate_opts_per_subnet): the DHCP port's address in s when this
// namespace serves metadata for it (forced, or isolated and enabled), else the
// subnet's router when a router serves it; invalid for no route.
func metadataHop(h dataplane.Host, n dataplane.Network, s dataplane.Subnet, routed bool, router netip.Addr, dhcpPort dataplane.Port) netip.Addr {
	if dataplane.DHCPMetadata(h, n) && (h.ForceMetadata || !routed) {
		for _, f := range dhcpPort.FixedIPs {
			if f.IP.Is4() && (f.SubnetID == "" || f.SubnetID == s.ID) && s.CIDR.Contains(f.IP) {
				return f.IP
			}
		}
		return netip.Addr{}
	}
	if routed && router.Is4() {
		return router
	}
	return netip.Addr{}
}

// opts6 writes an IPv6 subnet's options (option6:, addresses in brackets, as
// upstream): its DNS servers (none: dnsmasq offers itself) and the search domain.
// SLAAC subnets get none: their clients do not ask DHCP.
func opts6(w *strings.Builder, s dataplane.Subnet, domain string) {
	if mode := rangeMode(s); mode == "" || mode == modeRAOnly {
		return
	}
	tag := "tag:" + subnetTag(s)
	var servers []string
	for _, a := range s.DNSNameservers {
		if a.Is6() && !a.Is4In6() {
			servers = append(servers, "["+a.String()+"]")
		}
	}
	if len(servers) > 0 {
		fmt.Fprintf(w, "%s,option6:dns-server,%s\n", tag, strings.Join(servers, ","))
	}
	fmt.Fprintf(w, "%s,option6:domain-search,%s\n", tag, domain)
}

func v4(addrs []netip.Addr) []string {
	var out []string
	for _, a := range addrs {
		if a.Is4() {
			out = append(out, a.String())
		}
	}
	return out
}

// hostname is the port's DNS name as a DNS label, else upstream's host-<ip with
// dashes>. Anything but letters, digits and dashes is dropped: the name goes into
// dnsmasq's files, where a comma or a newline would be another option.
func hostname(name string, ip netip.Addr) string {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if i := strings.IndexByte(name, '.'); i >= 0 {
		name = name[:i]
	}
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return -1
	}, name)
	name = strings.Trim(name, "-")
	if len(name) > 63 {
		name = name[:63]
	}
	if name == "" {
		name = "host-" + strings.NewReplacer(".", "-", ":", "-").Replace(ip.String())
	}
	return name
}

// subnetTag names a subnet in dnsmasq's options (upstream's subnet-<id>).
func subnetTag(s dataplane.Subnet) string {
	id := s.ID
	if id == "" {
		id = strings.NewReplacer(".", "-", "/", "-").Replace(s.CIDR.String())
	}
	return "subnet-" + id
}

// args is dnsmasq's command line (after the program name) for network n in dir.
// Everything that may change while it runs lives in the files; what is here (the
// interface, the subnets, the domain) changes only with a restart.
func args(n dataplane.Network, dhcpPort dataplane.Port, dir, domain string, lease int, dnsServers []string) []string {
	a := []string{
		"--no-hosts",
		"--no-resolv",
		"--pid-file=" + filepath.Join(dir, "pid"),
		"--dhcp-hostsfile=" + filepath.Join(dir, "host"),
		"--addn-hosts=" + filepath.Join(dir, "addn_hosts"),
		"--dhcp-optsfile=" + filepath.Join(dir, "opts"),
		"--dhcp-leasefile=" + filepath.Join(dir, "leases"),
		"--log-facility=" + filepath.Join(dir, "log"),
		"--dhcp-match=set:ipxe,175",
		"--local-service",
		"--bind-dynamic",
		"--interface=" + dataplane.DHCPDeviceName(dhcpPort.ID),
	}
	size, ra, managed := 0, false, false
	for _, s := range dhcpSubnets(n) {
		mode := rangeMode(s)
		switch {
		case s.IPVersion == 4:
			mask := net.CIDRMask(s.CIDR.Bits(), 32)
			a = append(a, fmt.Sprintf("--dhcp-range=set:%s,%s,static,%s,%ds", subnetTag(s), s.CIDR.Masked().Addr(), net.IP(mask).String(), lease))
		case mode != "":
			a = append(a, fmt.Sprintf("--dhcp-range=set:%s,%s,%s,%d,%ds", subnetTag(s), s.CIDR.Masked().Addr(), mode, s.CIDR.Bits(), lease))
		default:
			continue
		}
		if advertises(s) {
			ra = true
			managed = managed || mode == modeStatic
		}
		if host := s.CIDR.Addr().BitLen() - s.CIDR.Bits(); host < 24 {
			size += 1 << host
		} else {
			size += 1 << 24
		}
	}
	if ra {
		// A stateful range advertises (with the M bit) only with --enable-ra;
		// the ra-* modes do by themselves. Router lifetime 0: dnsmasq announces
		// prefixes (and the MTU) but is never the instances' default router,
		// which the DHCP namespace is not.
		if managed {
			a = append(a, "--enable-ra")
		}
		param := "--ra-param=" + dataplane.DHCPDeviceName(dhcpPort.ID) + ","
		if n.MTU > 0 {
			param += "mtu:" + strconv.Itoa(n.MTU) + ","
		}
		a = append(a, param+"0,0")
	}
	// As upstream's dnsmasq_lease_max: a cap, or a /64 would count 2^64.
	size = min(size, 1<<24)
	a = append(a, "--dhcp-lease-max="+strconv.Itoa(size), "--conf-file=/dev/null", "--domain="+domain)
	for _, s := range dnsServers {
		a = append(a, "--server="+s)
	}
	return a
}
