package dhcp

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/linuxbridge"
)

func fixed(subnet, ip string) []dataplane.FixedIP {
	return []dataplane.FixedIP{{SubnetID: subnet, IP: netip.MustParseAddr(ip)}}
}

// testNetwork is a local network 10.0.0.0/24 with DHCP, a DHCP port at .2 and the
// given instance ports; DHCPHosts holds every port.
func testNetwork(ports ...dataplane.Port) dataplane.Network {
	sub := dataplane.Subnet{ID: id(), IPVersion: 4, CIDR: netip.MustParsePrefix("10.0.0.0/24"), GatewayIP: netip.MustParseAddr("10.0.0.1"),
		EnableDHCP: true, DNSNameservers: []netip.Addr{netip.MustParseAddr("192.0.2.53")},
		HostRoutes: []dataplane.Route{{Destination: netip.MustParsePrefix("172.16.0.0/16"), NextHop: netip.MustParseAddr("10.0.0.254")}}}
	v6 := dataplane.Subnet{ID: id(), IPVersion: 6, CIDR: netip.MustParsePrefix("fd00::/64"), EnableDHCP: true}
	dhcp := dataplane.Port{ID: id(), MAC: mac(), DeviceOwner: dataplane.OwnerDHCP, AdminStateUp: true, FixedIPs: fixed(sub.ID, "10.0.0.2")}
	n := dataplane.Network{ID: id(), Type: dataplane.TypeLocal, MTU: 1450, AdminStateUp: true, DHCP: true,
		Subnets: []dataplane.Subnet{sub, v6}, Ports: []dataplane.Port{dhcp}}
	for _, p := range ports {
		for i := range p.FixedIPs {
			p.FixedIPs[i].SubnetID = sub.ID
		}
		n.Ports = append(n.Ports, p)
	}
	n.DHCPHosts = append([]dataplane.Port(nil), n.Ports...)
	return n
}

func vmPort(ip, hostname string) dataplane.Port {
	return dataplane.Port{ID: id(), MAC: mac(), DeviceOwner: "compute:nova", AdminStateUp: true, Hostname: hostname, FixedIPs: fixed("", ip)}
}

// dnsmasqPID is the network's running dnsmasq (0: none).
func dnsmasqPID(t *testing.T, a *Agent, netID string) int {
	t.Helper()
	pids := a.dnsmasqs()[netID]
	if len(pids) > 1 {
		t.Fatalf("network %s has %d dnsmasqs: %v", netID, len(pids), pids)
	}
	if len(pids) == 0 {
		return 0
	}
	return pids[0]
}

// TestDHCPServesThePortsOfItsNetwork is the DHCP agent with real packets: two
// instances on one network get exactly their ports' addresses, gateway, DNS server,
// routes, MTU and hostnames from dnsmasq in qdhcp-<net>, and then ping each other;
// dnsmasq answers DNS for the ports' names; a second network with the same
// 10.0.0.0/24 at the same time serves its own instance only, and the networks do
// not see each other. Converging again changes nothing (no command, no signal,
// same dnsmasq). A new port is a SIGHUP, not a restart. kill -9 of dnsmasq is
// repaired, a restarted agent adopts the running dnsmasq, a changed command line
// restarts it, and removing a network removes everything it had.
func TestDHCPServesThePortsOfItsNetwork(t *testing.T) {
	b := newBed(t, "srv")
	ctx := context.Background()
	host := b.netns("host")
	vm1p, vm2p := vmPort("10.0.0.5", "vm-one"), vmPort("10.0.0.6", "")
	netA := testNetwork(vm1p, vm2p)
	otherP := vmPort("10.0.0.7", "other")
	netB := testNetwork(otherP)
	vm1, vm2, other := b.instance("vm1", host, vm1p), b.instance("vm2", host, vm2p), b.instance("oth", host, otherP)

	st := dataplane.State{Host: dataplane.Host{Name: "nn", Namespace: host}, Networks: []dataplane.Network{netA, netB}}
	rec := &dataplanetest.Recorder{Runner: dataplane.ExecRunner{}, Mutating: mutating}
	sig := &signals{}
	opts := Options{DataDir: b.dir, Processes: sig}
	l2, agent := linuxbridge.New(rec, nil), New(rec, nil, opts)
	t.Cleanup(func() { // the dnsmasqs go even when the test fails
		_, _ = New(dataplane.ExecRunner{}, nil, opts).Converge(context.Background(), dataplane.State{Host: st.Host})
	})
	pass := func(a *Agent, st dataplane.State) {
		t.Helper()
		if _, err := a.Converge(ctx, st); err != nil {
			t.Fatalf("dhcp converge: %v", err)
		}
		if _, err := l2.Converge(ctx, st); err != nil {
			t.Fatalf("l2 converge: %v", err)
		}
	}
	pass(agent, st)

	got := b.lease(vm1)
	for k, want := range map[string]string{"ip_address": "10.0.0.5", "subnet_mask": "255.255.255.0", "routers": "10.0.0.1",
		"domain_name_servers": "192.0.2.53", "host_name": "vm-one", "domain_name": "openstacklocal", "interface_mtu": "1450",
		"rfc3442_classless_static_routes": "16 172 16 10 0 0 254 0 10 0 0 1"} {
		if got[k] != want {
			t.Errorf("vm1's %s = %q, want %q (offer %v)", k, got[k], want, got)
		}
	}
	got2 := b.lease(vm2)
	if got2["ip_address"] != "10.0.0.6" || got2["host_name"] != "host-10-0-0-6" {
		t.Errorf("vm2's offer %v", got2)
	}
	if !b.ping(vm1, "10.0.0.6") || !b.ping(vm2, "10.0.0.5") {
		t.Fatal("instances addressed by DHCP do not ping each other")
	}
	if ip := b.resolve(vm2, "10.0.0.2", "vm-one.openstacklocal"); ip != "10.0.0.5" {
		t.Errorf("DNS for vm-one.openstacklocal: %q", ip)
	}
	// The other network: its own dnsmasq, its own port's address, nothing of A.
	if gotB := b.lease(other); gotB["ip_address"] != "10.0.0.7" || gotB["host_name"] != "other" {
		t.Errorf("network B's instance got %v", gotB)
	}
	if b.ping(other, "10.0.0.5") || b.ping(vm1, "10.0.0.7") {
		t.Fatal("networks with the same subnet see each other")
	}
	if ip := b.resolve(other, "10.0.0.2", "vm-one.openstacklocal"); ip != "" {
		t.Errorf("network B's DNS knows network A's port: %q", ip)
	}
	dir := filepath.Join(b.dir, "dhcp", netA.ID)
	for _, f := range []string{"host", "addn_hosts", "opts", "leases", "pid"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}

	// Converging again changes nothing.
	pidA := dnsmasqPID(t, agent, netA.ID)
	rec.Take()
	sig.take()
	before := b.sh(host, "ip", "-d", "link", "show") + b.sh(dataplane.DHCPNamespace(netA.ID), "ip", "-d", "addr", "show")
	pass(agent, st)
	if ch, s := rec.Take(), sig.take(); len(ch) != 0 || len(s) != 0 {
		t.Fatalf("second converge changed things: %q, signals %q", ch, s)
	}
	after := b.sh(host, "ip", "-d", "link", "show") + b.sh(dataplane.DHCPNamespace(netA.ID), "ip", "-d", "addr", "show")
	if timers(before) != timers(after) || dnsmasqPID(t, agent, netA.ID) != pidA {
		t.Fatalf("second converge changed the host:\n%s\n---\n%s", before, after)
	}

	// A new port: the host file changes, dnsmasq is told (SIGHUP), not restarted.
	vm3p := vmPort("10.0.0.8", "vm-three")
	vm3 := b.instance("vm3", host, vm3p)
	netA = withPort(netA, vm3p)
	st.Networks[0] = netA
	pass(agent, st)
	if s := sig.take(); !slices.Equal(s, []string{itoa(pidA) + " hangup"}) {
		t.Errorf("signals for a new port: %q, want one SIGHUP to %d", s, pidA)
	}
	if got := b.lease(vm3); got["ip_address"] != "10.0.0.8" || got["host_name"] != "vm-three" {
		t.Errorf("the new port's instance got %v", got)
	}
	if dnsmasqPID(t, agent, netA.ID) != pidA {
		t.Error("dnsmasq was restarted for a new port")
	}

	// vm2's port deleted and its address given to a new port (another MAC): its
	// lease is released, so the new instance gets the address at once (dnsmasq
	// refuses a configured address leased to another MAC), and once only.
	vm4p := vmPort("10.0.0.6", "vm-four")
	netA = withPort(withoutPort(netA, vm2p.ID), vm4p)
	st.Networks[0] = netA
	vm4 := b.instance("vm4", host, vm4p)
	rec.Take()
	pass(agent, st)
	release := dataplane.DHCPNamespace(netA.ID) + "| dhcp_release " + dataplane.DHCPDeviceName(netA.Ports[0].ID) + " 10.0.0.6 " + vm2p.MAC
	if ch := rec.Take(); !slices.ContainsFunc(ch, func(c string) bool { return strings.HasPrefix(c, release) }) {
		leases, _ := os.ReadFile(filepath.Join(dir, "leases"))
		t.Errorf("commands for a port on a freed address: %q, want %q; lease file:\n%s", ch, release, leases)
	}
	if got := b.lease(vm4); got["ip_address"] != "10.0.0.6" || got["host_name"] != "vm-four" {
		t.Errorf("the port on vm2's old address got %v", got)
	}
	pass(agent, st)
	if ch := rec.Take(); slices.ContainsFunc(ch, func(c string) bool { return strings.Contains(c, "dhcp_release") }) {
		t.Errorf("a held lease released again: %q", ch)
	}

	// kill -9 of dnsmasq: the next converge starts it again.
	if err := syscall.Kill(pidA, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pidA)
	pass(agent, st)
	pidA2 := dnsmasqPID(t, agent, netA.ID)
	if pidA2 == 0 || pidA2 == pidA {
		t.Fatalf("dnsmasq after kill -9 and converge: %d (was %d)", pidA2, pidA)
	}
	if got := b.lease(vm4); got["ip_address"] != "10.0.0.6" {
		t.Errorf("after the restart vm4 got %v", got)
	}

	// A restarted agent adopts the running dnsmasq (one SIGHUP to be sure it
	// reads the current files) and starts nothing.
	agent2 := New(rec, nil, opts)
	sig.take()
	pass(agent2, st)
	if pid := dnsmasqPID(t, agent2, netA.ID); pid != pidA2 {
		t.Errorf("a restarted agent replaced dnsmasq %d with %d", pidA2, pid)
	}
	if s := sig.take(); len(s) != 2 || !slices.Contains(s, itoa(pidA2)+" hangup") {
		t.Errorf("signals from a restarted agent: %q", s)
	}
	// A dnsmasq whose command line must change (another domain) is restarted.
	opts3 := opts
	opts3.Domain = "example.org"
	agent3 := New(rec, nil, opts3)
	pass(agent3, st)
	if pid := dnsmasqPID(t, agent3, netA.ID); pid == pidA2 || pid == 0 {
		t.Errorf("dnsmasq with a new command line: %d (was %d)", pid, pidA2)
	}
	if got := b.lease(vm1); got["domain_name"] != "example.org" || got["ip_address"] != "10.0.0.5" {
		t.Errorf("after the domain change vm1 got %v", got)
	}

	// Removing network A removes its dnsmasq, namespace, veth, bridge and files;
	// network B keeps all of its.
	st.Networks = []dataplane.Network{netB}
	pass(agent3, st)
	if pids := agent3.dnsmasqs(); len(pids[netA.ID]) != 0 || len(pids[netB.ID]) != 1 {
		t.Errorf("dnsmasqs after removing network A: %v", pids)
	}
	nss := b.sh("", "ip", "netns", "list")
	if strings.Contains(nss, dataplane.DHCPNamespace(netA.ID)) || !strings.Contains(nss, dataplane.DHCPNamespace(netB.ID)) {
		t.Errorf("namespaces after removing network A:\n%s", nss)
	}
	links := b.sh(host, "ip", "-o", "link", "show")
	for _, gone := range []string{dataplane.TapName(netA.Ports[0].ID), dataplane.BridgeName(netA.ID)} {
		if strings.Contains(links, gone) {
			t.Errorf("%s left after removing network A", gone)
		}
	}
	for _, kept := range []string{dataplane.TapName(netB.Ports[0].ID), dataplane.BridgeName(netB.ID)} {
		if !strings.Contains(links, kept) {
			t.Errorf("%s of network B removed", kept)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("network A's directory: %v", err)
	}
	if got := b.lease(other); got["ip_address"] != "10.0.0.7" {
		t.Errorf("network B no longer serves: %v", got)
	}
}

func withPort(n dataplane.Network, p dataplane.Port) dataplane.Network {
	for i := range p.FixedIPs {
		p.FixedIPs[i].SubnetID = n.Subnets[0].ID
	}
	n.Ports = append(slices.Clone(n.Ports), p)
	n.DHCPHosts = append(slices.Clone(n.DHCPHosts), p)
	return n
}

func withoutPort(n dataplane.Network, id string) dataplane.Network {
	other := func(p dataplane.Port) bool { return p.ID == id }
	n.Ports = slices.DeleteFunc(slices.Clone(n.Ports), other)
	n.DHCPHosts = slices.DeleteFunc(slices.Clone(n.DHCPHosts), other)
	return n
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for range 100 {
		if (procfs{}).Cmdline(pid) == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("process %d still there", pid)
}

// TestDHCPAcrossVXLAN: the DHCP server on the network node answers an instance on
// another host of a VXLAN network: its broadcast crosses the tunnel through the
// l2population flood entry, and the reply comes back through the unicast one.
func TestDHCPAcrossVXLAN(t *testing.T) {
	b := newBed(t, "vx")
	ctx := context.Background()
	h1, h2 := b.netns("h1"), b.netns("h2")
	b.sh(h1, "ip", "link", "add", "eth1", "type", "veth", "peer", "name", "eth1", "netns", h2)
	for i, h := range []string{h1, h2} {
		b.sh(h, "ip", "addr", "add", "192.0.2."+itoa(i+1)+"/24", "dev", "eth1")
		b.sh(h, "ip", "link", "set", "eth1", "up")
	}
	vtep1, vtep2 := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	vmp := vmPort("10.0.0.5", "far")
	n := testNetwork(vmp)
	n.Type, n.SegmentationID = dataplane.TypeVXLAN, 2001
	dhcpP := n.Ports[0]
	peer := func(p dataplane.Port, vtep netip.Addr) []dataplane.Peer {
		return []dataplane.Peer{{MAC: p.MAC, IPs: []netip.Addr{p.FixedIPs[0].IP}, VTEP: vtep}}
	}
	onH1, onH2 := n, n
	onH1.Ports, onH1.Peers = []dataplane.Port{dhcpP}, peer(vmp, vtep2)
	onH2.Ports, onH2.Peers, onH2.DHCP = []dataplane.Port{vmp}, peer(dhcpP, vtep1), false
	st1 := dataplane.State{Host: dataplane.Host{Name: "h1", Namespace: h1, VTEP: vtep1}, Networks: []dataplane.Network{onH1}}
	st2 := dataplane.State{Host: dataplane.Host{Name: "h2", Namespace: h2, VTEP: vtep2}, Networks: []dataplane.Network{onH2}}
	opts := Options{DataDir: b.dir}
	t.Cleanup(func() {
		_, _ = New(dataplane.ExecRunner{}, nil, opts).Converge(context.Background(), dataplane.State{Host: st1.Host})
	})
	vm := b.instance("vm", h2, vmp)
	if _, err := New(dataplane.ExecRunner{}, nil, opts).Converge(ctx, st1); err != nil {
		t.Fatal(err)
	}
	for _, st := range []dataplane.State{st1, st2} {
		if _, err := linuxbridge.New(dataplane.ExecRunner{}, nil).Converge(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.lease(vm); got["ip_address"] != "10.0.0.5" || got["host_name"] != "far" || got["interface_mtu"] != "1450" {
		t.Fatalf("the instance across the tunnel got %v", got)
	}
	if !b.ping(vm, "10.0.0.2") {
		t.Fatal("the instance does not reach the DHCP port across the tunnel")
	}
}
