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

// dhcpSubnets are the network's IPv4 subnets with DHCP on (IPv6 is not served yet:
// its subnets are left out, not refused).
func dhcpSubnets(n dataplane.Network) []dataplane.Subnet {
	var out []dataplane.Subnet
	for _, s := range n.Subnets {
		if s.EnableDHCP && s.IPVersion == 4 && s.CIDR.IsValid() && s.CIDR.Addr().Is4() {
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

// render builds the three files of network n for domain.
func render(n dataplane.Network, domain string) files {
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
			if _, ok := subnetOf(subnets, f); !ok || !f.IP.Is4() {
				continue
			}
			key := mac + "," + f.IP.String()
			if seen[key] {
				continue
			}
			seen[key] = true
			name := hostname(p.Hostname, f.IP)
			fmt.Fprintf(&hosts, "%s,%s,%s\n", mac, name, f.IP)
			fmt.Fprintf(&addn, "%s\t%s.%s\t%s\n", f.IP, name, domain, name)
		}
	}
	for _, s := range subnets {
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
	size := 0
	for _, s := range dhcpSubnets(n) {
		mask := net.CIDRMask(s.CIDR.Bits(), 32)
		a = append(a, fmt.Sprintf("--dhcp-range=set:%s,%s,static,%s,%ds", subnetTag(s), s.CIDR.Masked().Addr(), net.IP(mask).String(), lease))
		if host := 32 - s.CIDR.Bits(); host < 24 {
			size += 1 << host
		} else {
			size += 1 << 24
		}
	}
	a = append(a, "--dhcp-lease-max="+strconv.Itoa(size), "--conf-file=/dev/null", "--domain="+domain)
	for _, s := range dnsServers {
		a = append(a, "--server="+s)
	}
	return a
}
