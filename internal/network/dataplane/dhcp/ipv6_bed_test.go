package dhcp

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/linuxbridge"
)

// eui64 is the SLAAC address of mac in prefix (RFC 4291), as Neutron computes a
// port's address on a slaac or dhcpv6-stateless subnet.
func eui64(prefix, mac string) netip.Addr {
	hw, _ := net.ParseMAC(mac)
	b := netip.MustParsePrefix(prefix).Addr().As16()
	copy(b[8:], []byte{hw[0] ^ 2, hw[1], hw[2], 0xff, 0xfe, hw[3], hw[4], hw[5]})
	return netip.AddrFrom16(b)
}

// TestDHCPv6PerMode is the DHCP agent serving IPv6 with real packets, one network
// per mode: dhcpv6-stateful (with IPv4 beside it) gives dhclient -6 exactly the
// port's address and the IPv4 lease stays the port's too; slaac advertises the
// prefix, so the instance configures its port's EUI-64 address, and no default
// route via the DHCP namespace; dhcpv6-stateless advertises the prefix and answers
// dhclient -6 -S with the subnet's DNS server. A second pass changes nothing.
func TestDHCPv6PerMode(t *testing.T) {
	b := newBed(t, "v6")
	ctx := context.Background()
	host := b.netns("host")
	v6 := func(cidr, mode string, dns ...string) dataplane.Subnet {
		s := dataplane.Subnet{ID: id(), IPVersion: 6, CIDR: netip.MustParsePrefix(cidr), GatewayIP: netip.MustParsePrefix(cidr).Addr().Next(),
			EnableDHCP: true, IPv6RAMode: mode, IPv6AddressMode: mode}
		for _, d := range dns {
			s.DNSNameservers = append(s.DNSNameservers, netip.MustParseAddr(d))
		}
		return s
	}
	network := func(subnets []dataplane.Subnet, addrs func(s dataplane.Subnet, mac string, host byte) netip.Addr) (dataplane.Network, dataplane.Port) {
		dhcpPort := dataplane.Port{ID: id(), MAC: mac(), DeviceOwner: dataplane.OwnerDHCP, AdminStateUp: true}
		vm := dataplane.Port{ID: id(), MAC: mac(), DeviceOwner: "compute:nova", AdminStateUp: true, Hostname: "vm"}
		for _, s := range subnets {
			dhcpPort.FixedIPs = append(dhcpPort.FixedIPs, dataplane.FixedIP{SubnetID: s.ID, IP: addrs(s, dhcpPort.MAC, 2)})
			vm.FixedIPs = append(vm.FixedIPs, dataplane.FixedIP{SubnetID: s.ID, IP: addrs(s, vm.MAC, 5)})
		}
		n := dataplane.Network{ID: id(), Type: dataplane.TypeLocal, MTU: 1450, AdminStateUp: true, DHCP: true, Subnets: subnets,
			Ports: []dataplane.Port{dhcpPort, vm}}
		n.DHCPHosts = n.Ports
		return n, vm
	}
	fixedHost := func(s dataplane.Subnet, _ string, h byte) netip.Addr {
		a := s.CIDR.Addr().AsSlice()
		a[len(a)-1] = h
		ip, _ := netip.AddrFromSlice(a)
		return ip
	}
	slaac := func(s dataplane.Subnet, mac string, _ byte) netip.Addr { return eui64(s.CIDR.String(), mac) }

	v4 := dataplane.Subnet{ID: id(), IPVersion: 4, CIDR: netip.MustParsePrefix("10.0.0.0/24"), GatewayIP: netip.MustParseAddr("10.0.0.1"), EnableDHCP: true}
	stateful, statefulVM := network([]dataplane.Subnet{v4, v6("fd00:a::/64", dataplane.DHCPv6Stateful)}, fixedHost)
	slaacNet, slaacVM := network([]dataplane.Subnet{v6("fd00:b::/64", dataplane.IPv6SLAAC)}, slaac)
	stateless, statelessVM := network([]dataplane.Subnet{v6("fd00:c::/64", dataplane.DHCPv6Stateless, "2001:db8::53")}, slaac)
	vmA, vmB, vmC := b.instance("a", host, statefulVM), b.instance("b", host, slaacVM), b.instance("c", host, statelessVM)

	st := dataplane.State{Host: dataplane.Host{Name: "nn", Namespace: host}, Networks: []dataplane.Network{stateful, slaacNet, stateless}}
	rec := &dataplanetest.Recorder{Runner: dataplane.ExecRunner{}, Mutating: mutating}
	opts := Options{DataDir: b.dir}
	l2, agent := linuxbridge.New(rec, nil), New(rec, nil, opts)
	t.Cleanup(func() {
		_, _ = New(dataplane.ExecRunner{}, nil, opts).Converge(context.Background(), dataplane.State{Host: st.Host})
	})
	pass := func() {
		t.Helper()
		if _, err := agent.Converge(ctx, st); err != nil {
			t.Fatalf("dhcp converge: %v", err)
		}
		if _, err := l2.Converge(ctx, st); err != nil {
			t.Fatalf("l2 converge: %v", err)
		}
	}
	pass()

	// autoconf waits for a global address of the instance (router advertisements).
	autoconf := func(t *testing.T, ns string) []string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			out := b.sh(ns, "ip", "-6", "-o", "addr", "show", "dev", "eth0", "scope", "global")
			if f := strings.Fields(out); len(f) > 3 || time.Now().After(deadline) {
				var addrs []string
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if f := strings.Fields(line); len(f) > 3 {
						addrs = append(addrs, f[3])
					}
				}
				return addrs
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Run("dhcpv6-stateful: exactly the port's address", func(t *testing.T) {
		got := dataplanetest.Lease6(t, b.dir, vmA, false)
		if got["ip6_address"] != statefulVM.FixedIPs[1].IP.String() {
			t.Fatalf("DHCPv6 answer %v, want %s", got, statefulVM.FixedIPs[1].IP)
		}
		if got["dhcp6_domain_search"] != "openstacklocal." {
			t.Errorf("domain search %q", got["dhcp6_domain_search"])
		}
		// The advertisements (M bit, no A bit) add no SLAAC address of its own.
		time.Sleep(time.Second)
		if got := autoconf(t, vmA); len(got) != 1 || !strings.HasPrefix(got[0], statefulVM.FixedIPs[1].IP.String()+"/") {
			t.Errorf("addresses %v, want only the leased one", got)
		}
		if got4 := b.lease(vmA); got4["ip_address"] != "10.0.0.5" {
			t.Errorf("the IPv4 lease beside it (its client flushes the IPv6 address): %v", got4)
		}
	})
	t.Run("slaac: the port's EUI-64 address from the advertised prefix", func(t *testing.T) {
		b.sh(vmB, "ip", "link", "set", "eth0", "up")
		if got, want := autoconf(t, vmB), slaacVM.FixedIPs[0].IP.String()+"/64"; len(got) != 1 || got[0] != want {
			t.Fatalf("addresses %v, want [%s]", got, want)
		}
		if r := b.sh(vmB, "ip", "-6", "route", "show", "default"); strings.TrimSpace(r) != "" {
			t.Errorf("a default route from the DHCP namespace's advertisements: %q", r)
		}
	})
	t.Run("dhcpv6-stateless: SLAAC address, DNS server by DHCPv6", func(t *testing.T) {
		got := dataplanetest.Lease6(t, b.dir, vmC, true)
		if got["dhcp6_name_servers"] != "2001:db8::53" || got["ip6_address"] != "" {
			t.Errorf("stateless DHCPv6 answer %v", got)
		}
		if got, want := autoconf(t, vmC), statelessVM.FixedIPs[0].IP.String()+"/64"; len(got) != 1 || got[0] != want {
			t.Fatalf("addresses %v, want [%s]", got, want)
		}
	})

	rec.Take()
	pass()
	if ch := rec.Take(); len(ch) != 0 {
		t.Fatalf("second converge changed things: %q", ch)
	}
}
