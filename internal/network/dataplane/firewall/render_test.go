package firewall

import (
	"context"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

func TestRenderRule(t *testing.T) {
	pfx := netip.MustParsePrefix
	tests := []struct {
		name string
		f    family
		rule dataplane.SecurityGroupRule
		want string // "" = not rendered in this family
	}{
		{"any", ipv4, dataplane.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4"}, "-j RETURN"},
		{"tcp 22", ipv4, dataplane.SecurityGroupRule{Direction: "ingress", Protocol: "tcp", PortRangeMin: 22, PortRangeMax: 22}, "-p tcp -m tcp --dport 22 -j RETURN"},
		{"udp range", ipv4, dataplane.SecurityGroupRule{Direction: "egress", Protocol: "udp", PortRangeMin: 1000, PortRangeMax: 2000}, "-p udp -m udp --dport 1000:2000 -j RETURN"},
		{"protocol number 6", ipv4, dataplane.SecurityGroupRule{Direction: "ingress", Protocol: "6", PortRangeMin: 80, PortRangeMax: 80}, "-p tcp -m tcp --dport 80 -j RETURN"},
		{"icmp any", ipv4, dataplane.SecurityGroupRule{Direction: "ingress", Protocol: "icmp"}, "-p icmp -j RETURN"},
		{"icmp type", ipv4, dataplane.SecurityGroupRule{Direction: "ingress", Protocol: "icmp", PortRangeMin: 8}, "-p icmp -m icmp --icmp-type 8 -j RETURN"},
		{"icmp type code", ipv4, dataplane.SecurityGroupRule{Direction: "ingress", Protocol: "icmp", PortRangeMin: 3, PortRangeMax: 4}, "-p icmp -m icmp --icmp-type 3/4 -j RETURN"},
		{"icmp in ipv6", ipv6, dataplane.SecurityGroupRule{Direction: "ingress", Protocol: "icmp", PortRangeMin: 128}, "-p ipv6-icmp -m icmp6 --icmpv6-type 128 -j RETURN"},
		{"icmpv6 not in ipv4", ipv4, dataplane.SecurityGroupRule{Direction: "ingress", Protocol: "icmpv6"}, ""},
		{"remote prefix ingress", ipv4, dataplane.SecurityGroupRule{Direction: "ingress", Protocol: "tcp", RemoteIPPrefix: pfx("10.0.0.0/8")}, "-s 10.0.0.0/8 -p tcp -j RETURN"},
		{"remote prefix egress", ipv4, dataplane.SecurityGroupRule{Direction: "egress", RemoteIPPrefix: pfx("192.168.1.7/32")}, "-d 192.168.1.7/32 -j RETURN"},
		{"remote prefix any", ipv4, dataplane.SecurityGroupRule{Direction: "egress", RemoteIPPrefix: pfx("0.0.0.0/0")}, "-j RETURN"},
		{"remote prefix other family", ipv4, dataplane.SecurityGroupRule{Direction: "egress", RemoteIPPrefix: pfx("fd00::/8")}, ""},
		{"remote group", ipv4, dataplane.SecurityGroupRule{Direction: "ingress", RemoteGroupID: "sg-web"}, "-m set --match-set NIPv4sg-web src -j RETURN"},
		{"remote group egress v6", ipv6, dataplane.SecurityGroupRule{Direction: "egress", RemoteGroupID: "sg-web"}, "-m set --match-set NIPv6sg-web dst -j RETURN"},
		{"named protocol", ipv4, dataplane.SecurityGroupRule{Direction: "ingress", Protocol: "vrrp"}, "-p 112 -j RETURN"},
		{"bad protocol", ipv4, dataplane.SecurityGroupRule{Direction: "ingress", Protocol: "bogus"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := renderRule(tc.f, tc.rule, map[string]bool{})
			if !ok {
				got = ""
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func testState() dataplane.State {
	ip := netip.MustParseAddr
	return dataplane.State{
		Host: dataplane.Host{Name: "c1", Namespace: "hostns"},
		Networks: []dataplane.Network{{ID: "net1", Ports: []dataplane.Port{
			{ID: "port1-aaaaaa-bbbb", MAC: "fa:16:3e:aa:bb:cc", PortSecurity: true, SecurityGroups: []string{"sg1"}, DeviceOwner: "compute:nova",
				FixedIPs:            []dataplane.FixedIP{{IP: ip("10.0.0.5")}, {IP: ip("fd00::5")}},
				AllowedAddressPairs: []dataplane.AddressPair{{IP: netip.MustParsePrefix("10.0.0.100/32")}, {MAC: "fa:16:3e:00:00:99", IP: netip.MustParsePrefix("10.9.0.0/24")}}},
			{ID: "port2-nosec", MAC: "fa:16:3e:00:00:02", PortSecurity: false, FixedIPs: []dataplane.FixedIP{{IP: ip("10.0.0.6")}}},
			{ID: "dhcp-port-1", MAC: "fa:16:3e:00:00:03", PortSecurity: true, DeviceOwner: dataplane.OwnerDHCP, FixedIPs: []dataplane.FixedIP{{IP: ip("10.0.0.2")}}},
		}}},
		SecurityGroups: map[string]dataplane.SecurityGroup{"sg1": {ID: "sg1",
			Rules: []dataplane.SecurityGroupRule{
				{Direction: "egress", EtherType: "IPv4"},
				{Direction: "egress", EtherType: "IPv6"},
				{Direction: "ingress", EtherType: "IPv4", RemoteGroupID: "sg1"},
				{Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortRangeMin: 22, PortRangeMax: 22},
			},
			MemberIPs: []netip.Prefix{netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("10.0.0.7/32")},
		}},
	}
}

func TestRenderPort(t *testing.T) {
	rs := render(ipv4, testState())
	all := strings.Join(rs.rules, "\n")
	for _, want := range []string{
		"-A neutron-linuxbri-FORWARD -m physdev --physdev-out tapport1-aaaaa --physdev-is-bridged -j neutron-linuxbri-sg-chain",
		"-A neutron-linuxbri-sg-chain -m physdev --physdev-out tapport1-aaaaa --physdev-is-bridged -j neutron-linuxbri-iport1-aaaa",
		"-A neutron-linuxbri-sg-chain -m physdev --physdev-in tapport1-aaaaa --physdev-is-bridged -j neutron-linuxbri-oport1-aaaa",
		"-A neutron-linuxbri-iport1-aaaa -m state --state RELATED,ESTABLISHED -j RETURN",
		"-A neutron-linuxbri-iport1-aaaa -m set --match-set NIPv4sg1 src -j RETURN",
		"-A neutron-linuxbri-iport1-aaaa -p tcp -m tcp --dport 22 -j RETURN",
		"-A neutron-linuxbri-iport1-aaaa -m state --state INVALID -j DROP",
		"-A neutron-linuxbri-iport1-aaaa -j neutron-linuxbri-sg-fallback",
		"-A neutron-linuxbri-oport1-aaaa -s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 -j RETURN",
		"-A neutron-linuxbri-oport1-aaaa -j neutron-linuxbri-sport1-aaaa",
		"-A neutron-linuxbri-oport1-aaaa -p udp -m udp --sport 67 --dport 68 -j DROP",
		"-A neutron-linuxbri-oport1-aaaa -j RETURN",
		"-A neutron-linuxbri-sport1-aaaa -s 10.0.0.5/32 -m mac --mac-source FA:16:3E:AA:BB:CC -j RETURN",
		"-A neutron-linuxbri-sport1-aaaa -s 10.0.0.100/32 -m mac --mac-source FA:16:3E:AA:BB:CC -j RETURN",
		"-A neutron-linuxbri-sport1-aaaa -s 10.9.0.0/24 -m mac --mac-source FA:16:3E:00:00:99 -j RETURN",
		"-A neutron-linuxbri-sport1-aaaa -j DROP",
		"-A neutron-linuxbri-sg-chain -j ACCEPT",
		"-A neutron-linuxbri-sg-fallback -j DROP",
	} {
		if !strings.Contains(all+"\n", want+"\n") {
			t.Errorf("missing %q", want)
		}
	}
	for _, not := range []string{"tapport2-nose", "tapdhcp-port", "fd00::5"} {
		if strings.Contains(all, not) {
			t.Errorf("unexpected %q", not)
		}
	}
	// The DHCP server drop comes after the anti-spoofing jump, the accepted egress
	// after both; the fallback is last.
	idx := func(s string) int { return slices.Index(rs.rules, s) }
	spoof := idx("-A neutron-linuxbri-oport1-aaaa -j neutron-linuxbri-sport1-aaaa")
	server := idx("-A neutron-linuxbri-oport1-aaaa -p udp -m udp --sport 67 --dport 68 -j DROP")
	allow := idx("-A neutron-linuxbri-oport1-aaaa -j RETURN")
	if !(spoof < server && server < allow) {
		t.Errorf("egress order: spoof %d, dhcp server %d, allow %d", spoof, server, allow)
	}
	z := strconv.Itoa(Zones(testState().Networks)["net1"])
	if want := []string{
		"-A neutron-linuxbri-PREROUTING -i brqnet1 -j CT --zone " + z,
		"-A neutron-linuxbri-PREROUTING -m physdev --physdev-in tapdhcp-port-1 -j CT --zone " + z,
		"-A neutron-linuxbri-PREROUTING -m physdev --physdev-in tapport1-aaaaa -j CT --zone " + z,
		"-A neutron-linuxbri-PREROUTING -m physdev --physdev-in tapport2-nosec -j CT --zone " + z,
	}; !slices.Equal(rs.raw, want) {
		t.Errorf("zone rules %q, want %q", rs.raw, want)
	}
	if !rs.sets["NIPv4sg1"] || len(rs.sets) != 1 {
		t.Errorf("sets %v", rs.sets)
	}

	rs6 := render(ipv6, testState())
	all6 := strings.Join(rs6.rules, "\n")
	for _, want := range []string{
		"-A neutron-linuxbri-sport1-aaaa -s fd00::5/128 -m mac --mac-source FA:16:3E:AA:BB:CC -j RETURN",
		"-A neutron-linuxbri-sport1-aaaa -s fe80::f816:3eff:feaa:bbcc/128 -m mac --mac-source FA:16:3E:AA:BB:CC -j RETURN",
		"-A neutron-linuxbri-oport1-aaaa -p ipv6-icmp -m icmp6 --icmpv6-type 134 -j DROP",
		"-A neutron-linuxbri-oport1-aaaa -j RETURN",
	} {
		if !strings.Contains(all6+"\n", want+"\n") {
			t.Errorf("ipv6: missing %q", want)
		}
	}
	if strings.Contains(all6, "10.0.0") || strings.Contains(all6, "--dport 22") {
		t.Errorf("ipv6 has IPv4 rules:\n%s", all6)
	}
}

func TestMembers(t *testing.T) {
	got := members(ipv4, []netip.Prefix{netip.MustParsePrefix("10.0.0.7/32"), netip.MustParsePrefix("10.0.0.5/32"), netip.MustParsePrefix("10.1.0.0/16"), netip.MustParsePrefix("fd00::1/128"), netip.MustParsePrefix("10.0.0.5/32")})
	if want := []string{"10.0.0.5", "10.0.0.7", "10.1.0.0/16"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestConvergeCommands checks, with a recording runner, that a first converge
// enables br_netfilter, fills the sets, restores the chains and jumps to them, and
// that a converge finding the same checksum only reads.
func TestConvergeCommands(t *testing.T) {
	f := &fakeRunner{Outputs: map[string]string{
		"hostns|sysctl -n": "0\n",
		"hostns|iptables-save": "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:neutron-linuxbri-ogone-port - [0:0]\n" +
			"-A neutron-linuxbri-ogone-port -j RETURN\nCOMMIT\n",
		"hostns|ipset save": "create NIPv4stale hash:net family inet\nadd NIPv4stale 10.1.1.1\n",
	}}
	var script string
	a := &Agent{Runner: runnerFunc(func(ctx context.Context, ns, name string, args ...string) ([]byte, error) {
		if name == "iptables-restore" {
			b, _ := os.ReadFile(args[len(args)-1])
			script = string(b)
		}
		return f.Run(ctx, ns, name, args...)
	})}
	if _, err := a.Converge(context.Background(), testState()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"hostns|sysctl -w net.bridge.bridge-nf-call-iptables=1",
		"hostns|ipset restore -file ",
		"hostns|iptables-restore -w --noflush ",
		"hostns|iptables -w -t filter -I FORWARD 1 -j neutron-linuxbri-FORWARD",
		"hostns|iptables -w -t raw -I PREROUTING 1 -j neutron-linuxbri-PREROUTING",
		"hostns|iptables -w -t filter -I INPUT 1 -j neutron-linuxbri-INPUT",
		"hostns|iptables -w -F neutron-linuxbri-ogone-port",
		"hostns|iptables -w -X neutron-linuxbri-ogone-port",
		"hostns|ipset destroy NIPv4stale",
	} {
		if !f.Has(want) {
			t.Errorf("missing %q", want)
		}
	}
	if f.Has("hostns|ip6tables") {
		t.Error("IPv6 filtered though not asked for")
	}
	if !strings.HasPrefix(script, "*raw\n:neutron-linuxbri-PREROUTING - [0:0]\n") || !strings.Contains(script, "COMMIT\n*filter\n:neutron-linuxbri-FORWARD - [0:0]\n") || !strings.HasSuffix(script, "COMMIT\n") {
		t.Errorf("script:\n%s", script)
	}
	if t.Failed() {
		t.Log(strings.Join(f.Cmds, "\n"))
	}
}

type runnerFunc func(ctx context.Context, ns, name string, args ...string) ([]byte, error)

func (r runnerFunc) Run(ctx context.Context, ns, name string, args ...string) ([]byte, error) {
	return r(ctx, ns, name, args...)
}

func TestZones(t *testing.T) {
	nets := []dataplane.Network{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	z := Zones(nets)
	if len(z) != 3 || z["a"] == z["b"] || z["b"] == z["c"] || z["a"] == z["c"] {
		t.Fatalf("zones %v", z)
	}
	for _, v := range z {
		if v < 4097 || v > 65535 {
			t.Fatalf("zone %d out of range", v)
		}
	}
	// A network keeps its zone when others come and go.
	if z2 := Zones(nets[1:2]); z2["b"] != z["b"] {
		t.Fatalf("zone of b moved: %d then %d", z["b"], z2["b"])
	}
}

func TestRenderARP(t *testing.T) {
	got := renderARP(testState())
	for _, want := range []string{
		`iifname "tapport1-aaaaa" ether saddr != { fa:16:3e:00:00:99, fa:16:3e:aa:bb:cc } drop`,
		`iifname "tapport1-aaaaa" arp saddr ip != { 10.0.0.100, 10.0.0.5, 10.9.0.0/24 } drop`,
		`iifname "tapport1-aaaaa" arp saddr ether != { fa:16:3e:00:00:99, fa:16:3e:aa:bb:cc } drop`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "tapport2") || strings.Contains(got, "tapdhcp") {
		t.Errorf("unfiltered ports in\n%s", got)
	}
	if renderARP(dataplane.State{}) != "" {
		t.Error("table without filtered ports")
	}
}
