package firewall

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
)

// TestSecurityGroupPackets wires three instances (namespaces) on one bridge of a
// simulated host and checks with real packets: default deny ingress, conntrack,
// ICMP and TCP/22 allowed by rules (one by remote group), anti-spoofing of IP and
// MAC, allowed address pairs, port security off, idempotence and removal.
func TestSecurityGroupPackets(t *testing.T) {
	dataplanetest.RequireHost(t, "ip", "conntrack", "nft", "arping", "iptables", "iptables-restore", "ip6tables-restore", "ipset", "sysctl", "ping")
	b := dataplanetest.NewBed(t, "sgt")
	ip := netip.MustParseAddr
	pfx := netip.MustParsePrefix
	net := "cccccccc-0c"
	b.Bridge(net)
	port := func(id, mac, addr string, sec bool, groups ...string) dataplane.Port {
		return dataplane.Port{ID: id, MAC: mac, AdminStateUp: true, DeviceOwner: "compute:nova", PortSecurity: sec, SecurityGroups: groups,
			FixedIPs: []dataplane.FixedIP{{SubnetID: "s", IP: ip(addr)}}}
	}
	p1 := port("vm1ccccc-01", "fa:16:3e:10:00:01", "10.62.0.10", true, "client")
	p2 := port("vm2ccccc-02", "fa:16:3e:10:00:02", "10.62.0.20", true, "server")
	p3 := port("vm3ccccc-03", "fa:16:3e:10:00:03", "10.62.0.30", false)
	egressAny := dataplane.SecurityGroupRule{Direction: "egress", EtherType: "IPv4"}
	st := dataplane.State{
		Host:     dataplane.Host{Name: "compute1", Namespace: b.Host},
		Networks: []dataplane.Network{{ID: net, Ports: []dataplane.Port{p1, p2, p3}}},
		SecurityGroups: map[string]dataplane.SecurityGroup{
			"client": {ID: "client", Rules: []dataplane.SecurityGroupRule{egressAny}, MemberIPs: []netip.Prefix{pfx("10.62.0.10/32")}},
			"server": {ID: "server", Rules: []dataplane.SecurityGroupRule{egressAny}, MemberIPs: []netip.Prefix{pfx("10.62.0.20/32")}},
		},
	}
	rec := &dataplanetest.Recorder{Runner: dataplane.ExecRunner{}, Mutating: mutating}
	a := New(rec, nil)
	ctx := context.Background()
	converge := func() {
		t.Helper()
		if _, err := a.Converge(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	converge()
	vm1 := b.Instance("vm1", net, p1, "10.62.0.10/24", "")
	vm2 := b.Instance("vm2", net, p2, "10.62.0.20/24", "")
	vm3 := b.Instance("vm3", net, p3, "10.62.0.30/24", "")
	ssh := b.Listen(vm2, "10.62.0.20:22")
	web := b.Listen(vm3, "10.62.0.30:8080")
	server := func(rules ...dataplane.SecurityGroupRule) {
		g := st.SecurityGroups["server"]
		g.Rules = append([]dataplane.SecurityGroupRule{egressAny}, rules...)
		st.SecurityGroups["server"] = g
		converge()
	}

	t.Run("default deny ingress", func(t *testing.T) {
		if b.Ping(vm1, "10.62.0.20") || b.Ping(vm3, "10.62.0.20") {
			t.Fatal("ping reaches an instance whose groups allow no ingress")
		}
		if src := b.Dial(vm1, "10.62.0.20:22", ssh); src != "" {
			t.Fatal("TCP/22 reaches an instance whose groups allow no ingress")
		}
	})
	t.Run("replies to egress pass (conntrack)", func(t *testing.T) {
		if !b.EventuallyPing(vm2, "10.62.0.30") {
			t.Fatal("vm2 gets no echo reply")
		}
		if src := b.Dial(vm2, "10.62.0.30:8080", web); src != "10.62.0.20" {
			t.Fatalf("vm2's connection out: peer saw %q", src)
		}
		// In the network's own conntrack zone.
		zone := Zones(st.Networks)[net]
		if out, _ := b.Try(b.Host, "conntrack", "-L", "-p", "tcp", "--dport", "8080"); !strings.Contains(out, fmt.Sprintf("zone=%d ", zone)) {
			t.Errorf("connection not in zone %d:\n%s", zone, out)
		}
	})
	t.Run("icmp rule", func(t *testing.T) {
		server(dataplane.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", Protocol: "icmp"})
		if !b.EventuallyPing(vm1, "10.62.0.20") {
			t.Fatal("ICMP allowed but ping fails")
		}
		if src := b.Dial(vm1, "10.62.0.20:22", ssh); src != "" {
			t.Fatal("TCP/22 passes with only ICMP allowed")
		}
	})
	t.Run("tcp 22 from a remote group", func(t *testing.T) {
		server(dataplane.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", Protocol: "icmp"},
			dataplane.SecurityGroupRule{Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortRangeMin: 22, PortRangeMax: 22, RemoteGroupID: "client"})
		if src := b.Dial(vm1, "10.62.0.20:22", ssh); src != "10.62.0.10" {
			t.Fatalf("member of the remote group: peer saw %q", src)
		}
		if src := b.Dial(vm3, "10.62.0.20:22", ssh); src != "" {
			t.Fatal("TCP/22 passes from outside the remote group")
		}
		// A new member joins: the set follows.
		g := st.SecurityGroups["client"]
		g.MemberIPs = append(g.MemberIPs, pfx("10.62.0.30/32"))
		st.SecurityGroups["client"] = g
		converge()
		if src := b.Dial(vm3, "10.62.0.20:22", ssh); src != "10.62.0.30" {
			t.Fatalf("new member of the remote group: peer saw %q", src)
		}
	})
	t.Run("spoofed source IP dropped", func(t *testing.T) {
		b.Sh(vm1, "ip", "addr", "add", "10.62.0.99/24", "dev", "eth0")
		defer b.Sh(vm1, "ip", "addr", "del", "10.62.0.99/24", "dev", "eth0")
		if b.Ping(vm1, "10.62.0.20") == false {
			t.Fatal("own address does not pass")
		}
		if _, err := b.Try(vm1, "ping", "-c", "1", "-W", "1", "-I", "10.62.0.99", "10.62.0.20"); err == nil {
			t.Fatal("spoofed source address passes")
		}
		// Unless it is an allowed address pair.
		st.Networks[0].Ports[0].AllowedAddressPairs = []dataplane.AddressPair{{IP: pfx("10.62.0.99/32")}}
		converge()
		if _, err := b.Try(vm1, "ping", "-c", "1", "-W", "1", "-I", "10.62.0.99", "10.62.0.20"); err != nil {
			t.Fatal("allowed address pair does not pass")
		}
		st.Networks[0].Ports[0].AllowedAddressPairs = nil
		converge()
	})
	t.Run("spoofed MAC dropped", func(t *testing.T) {
		b.Sh(vm2, "ip", "neigh", "flush", "all")
		if !b.Ping(vm1, "10.62.0.20") {
			t.Fatal("own MAC does not pass")
		}
		b.Sh(vm1, "ip", "link", "set", "eth0", "address", "fa:16:3e:66:66:66")
		defer b.Sh(vm1, "ip", "link", "set", "eth0", "address", p1.MAC)
		b.Sh(vm2, "ip", "neigh", "flush", "all")
		if b.Ping(vm1, "10.62.0.20") {
			t.Fatal("spoofed MAC passes")
		}
	})

	t.Run("ARP spoofing dropped", func(t *testing.T) {
		if !b.EventuallyPing(vm3, "10.62.0.20") {
			t.Fatal("vm3 cannot ping vm2")
		}
		// vm1 claims vm2's address; vm3's cache must keep vm2's MAC.
		b.Sh(vm1, "ip", "addr", "add", "10.62.0.20/32", "dev", "eth0")
		defer b.Sh(vm1, "ip", "addr", "del", "10.62.0.20/32", "dev", "eth0")
		time.Sleep(1200 * time.Millisecond) // past the neighbour cache's locktime
		_, _ = b.Try(vm1, "arping", "-U", "-c", "2", "-w", "2", "-I", "eth0", "-s", "10.62.0.20", "10.62.0.20")
		if n := b.Sh(vm3, "ip", "neigh", "show", "10.62.0.20"); !strings.Contains(n, p2.MAC) {
			t.Fatalf("vm3's ARP cache poisoned: %s", n)
		}
	})
	t.Run("converge twice changes nothing", func(t *testing.T) {
		before := ours(b)
		rec.Take()
		converge()
		if c := rec.Take(); len(c) > 0 {
			t.Errorf("second converge changed:\n%s", strings.Join(c, "\n"))
		}
		a = New(rec, nil) // a restarted agent
		converge()
		if c := rec.Take(); len(c) > 0 {
			t.Errorf("converge after restart changed:\n%s", strings.Join(c, "\n"))
		}
		if after := ours(b); after != before {
			t.Errorf("rules changed:\n%s\n---\n%s", before, after)
		}
	})
	t.Run("repair", func(t *testing.T) {
		b.Sh(b.Host, "iptables", "-F", SpoofChain(p1.ID))
		b.Sh(b.Host, "iptables", "-D", "FORWARD", "-j", "neutron-linuxbri-FORWARD")
		converge()
		b.Sh(vm1, "ip", "addr", "add", "10.62.0.99/24", "dev", "eth0")
		defer b.Sh(vm1, "ip", "addr", "del", "10.62.0.99/24", "dev", "eth0")
		if _, err := b.Try(vm1, "ping", "-c", "1", "-W", "1", "-I", "10.62.0.99", "10.62.0.20"); err == nil {
			t.Fatalf("anti-spoofing not repaired:\n%s", ours(b))
		}
		if !strings.Contains(b.Sh(b.Host, "iptables-save", "-t", "filter"), "-A FORWARD -j neutron-linuxbri-FORWARD") {
			t.Fatal("jump from FORWARD not repaired")
		}
	})

	t.Run("port security off", func(t *testing.T) {
		st.SecurityGroups["server"] = dataplane.SecurityGroup{ID: "server", Rules: []dataplane.SecurityGroupRule{egressAny}}
		st.Networks[0].Ports[1].PortSecurity = false
		st.Networks[0].Ports[1].SecurityGroups = nil
		st.SecurityGroups["client"] = dataplane.SecurityGroup{ID: "client", Rules: []dataplane.SecurityGroupRule{egressAny}, MemberIPs: []netip.Prefix{pfx("10.62.0.10/32")}}
		converge()
		if src := b.Dial(vm3, "10.62.0.20:22", ssh); src != "10.62.0.30" {
			t.Fatalf("port security off: peer saw %q", src)
		}
		if rules := ours(b); strings.Contains(rules, IngressChain(p2.ID)) || strings.Contains(rules, "NIPv4") {
			t.Fatalf("port's chains or an unused set left:\n%s", rules)
		}
	})
	t.Run("port removed", func(t *testing.T) {
		st.Networks[0].Ports = st.Networks[0].Ports[1:]
		converge()
		if rules := ours(b); strings.Contains(rules, "vm1ccccc") {
			t.Fatalf("removed port's chains left:\n%s", rules)
		}
	})
}

// ours is our part of the simulated host's filter tables and sets.
func ours(b *dataplanetest.Bed) string {
	var out []string
	for _, cmd := range []string{"iptables-save", "ip6tables-save"} {
		for _, l := range strings.Split(b.Sh(b.Host, cmd, "-t", "filter"), "\n") {
			if strings.Contains(l, prefix) {
				out = append(out, l)
			}
		}
	}
	if arp, err := b.Try(b.Host, "nft", "list", "table", "bridge", ARPTable); err == nil {
		out = append(out, arp)
	}
	for _, l := range strings.Split(b.Sh(b.Host, "ipset", "save"), "\n") {
		if ourSet(strings.Fields(l + " x x")[1]) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
