package linuxbridge

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func converge(t *testing.T, a *Agent, st dataplane.State) Report {
	t.Helper()
	rep, err := a.Reconcile(context.Background(), st)
	if err != nil {
		t.Fatalf("converge: %v", err)
	}
	return rep
}

// TestLocalNetworksPingAndStayApart: two instances of a local network ping each
// other; a second network with the same 10.0.0.0/24 on the same host sees none of
// them; converging again changes nothing; removing a network removes its bridge and
// releases its taps, and leaves every other device alone.
func TestLocalNetworksPingAndStayApart(t *testing.T) {
	b := newBed(t, "loc")
	host := b.netns("host")
	a1, a2, c1 := port("10.0.0.2"), port("10.0.0.3"), port("10.0.0.4")
	netA := dataplane.Network{ID: id(), Type: dataplane.TypeLocal, MTU: 1450, AdminStateUp: true, Ports: []dataplane.Port{a1, a2}}
	netC := dataplane.Network{ID: id(), Type: dataplane.TypeLocal, MTU: 1450, AdminStateUp: true, Ports: []dataplane.Port{c1}}
	vmA1 := b.instance("a1", host, a1, "10.0.0.2/24")
	vmA2 := b.instance("a2", host, a2, "10.0.0.3/24")
	vmC1 := b.instance("c1", host, c1, "10.0.0.4/24")
	rec := &dataplanetest.Recorder{Runner: dataplane.ExecRunner{}, Mutating: mutating}
	agent := New(rec, nil)
	st := dataplane.State{Host: dataplane.Host{Name: "h1", Namespace: host}, Networks: []dataplane.Network{netA, netC}}
	rep := converge(t, agent, st)
	want := []string{a1.ID, a2.ID, c1.ID}
	slices.Sort(want)
	if !slices.Equal(rep.Wired, want) || len(rep.Faults) != 0 {
		t.Fatalf("report %+v, want wired %v", rep, want)
	}
	if !b.ping(vmA1, "10.0.0.3") || !b.ping(vmA2, "10.0.0.2") {
		t.Fatal("instances of one network do not ping each other")
	}
	if b.ping(vmC1, "10.0.0.2") || b.ping(vmA1, "10.0.0.4") {
		t.Fatal("instances of different networks with the same subnet reach each other")
	}
	// The taps have the network's MTU and sit on its bridge.
	tapInfo := b.sh(host, "ip", "-d", "link", "show", dataplane.TapName(a1.ID))
	if !strings.Contains(tapInfo, "mtu 1450") || !strings.Contains(tapInfo, "master "+dataplane.BridgeName(netA.ID)) {
		t.Fatalf("tap of a1: %s", tapInfo)
	}

	// Converging again changes nothing.
	before := b.snapshot(host)
	rec.Take()
	converge(t, agent, st)
	if ch := rec.Take(); len(ch) != 0 {
		t.Fatalf("second converge changed things: %q", ch)
	}
	if after := b.snapshot(host); after != before {
		t.Fatalf("second converge changed the host:\n%s\n---\n%s", before, after)
	}

	// A port deleted while its instance runs: its tap is released from the bridge.
	netA.Ports = []dataplane.Port{a1}
	st.Networks = []dataplane.Network{netA, netC}
	rep = converge(t, agent, st)
	if slices.Contains(rep.Wired, a2.ID) {
		t.Fatalf("a deleted port is still wired: %v", rep.Wired)
	}
	if b.ping(vmA1, "10.0.0.3") {
		t.Fatal("the instance of a deleted port is still reachable")
	}

	// Removing network A removes its bridge; C's stays; the taps stay (they are
	// the compute agent's) but belong to no bridge.
	st.Networks = []dataplane.Network{netC}
	converge(t, agent, st)
	links := b.sh(host, "ip", "-o", "link", "show")
	if strings.Contains(links, dataplane.BridgeName(netA.ID)) || !strings.Contains(links, dataplane.BridgeName(netC.ID)) {
		t.Fatalf("after removing network A:\n%s", links)
	}
	if out := b.sh(host, "ip", "-o", "link", "show", dataplane.TapName(a1.ID)); strings.Contains(out, "master") {
		t.Fatalf("the tap of a removed network is still on a bridge: %s", out)
	}
}

// TestVXLANAcrossTwoHosts: two simulated hosts joined by a veth carrying their VTEP
// addresses; instances of one VXLAN network on each ping each other through
// vxlan-<VNI> with l2population (no multicast, no learning), the FDB and ARP
// entries are upstream's, a flat network across the same hosts works through its
// mapped interface, a VLAN network is a clear fault of this kernel without
// breaking the others, and after a "crash" that left things half broken a new
// agent repairs everything; removing the networks removes bridges and VXLAN
// devices but not the physical links.
func TestVXLANAcrossTwoHosts(t *testing.T) {
	b := newBed(t, "vx")
	h1, h2 := b.netns("h1"), b.netns("h2")
	b.wire(h1, "eth1", "192.0.2.1/24", h2, "eth1", "192.0.2.2/24") // the tunnel underlay
	b.wire(h1, "eth2", "", h2, "eth2", "")                         // the flat physical network
	vtep1, vtep2 := mustAddr("192.0.2.1"), mustAddr("192.0.2.2")
	p1, p2 := port("10.1.0.11"), port("10.1.0.12")
	f1, f2 := port("10.2.0.11"), port("10.2.0.12")
	vx := dataplane.Network{ID: id(), Type: dataplane.TypeVXLAN, SegmentationID: 1001, MTU: 1450, AdminStateUp: true}
	flat := dataplane.Network{ID: id(), Type: dataplane.TypeFlat, PhysicalNetwork: "physnet1", MTU: 1500, AdminStateUp: true}
	vlan := dataplane.Network{ID: id(), Type: dataplane.TypeVLAN, PhysicalNetwork: "physnet1", SegmentationID: 100, MTU: 1500, AdminStateUp: true,
		Ports: []dataplane.Port{port("10.3.0.11")}}
	phys := map[string]string{"physnet1": "eth2"}
	state := func(host, ns string, vtep netip.Addr, vxPort, flatPort dataplane.Port, peer dataplane.Port, peerVTEP netip.Addr) dataplane.State {
		v := vx
		v.Ports = []dataplane.Port{vxPort}
		v.Peers = []dataplane.Peer{{MAC: peer.MAC, IPs: []netip.Addr{peer.FixedIPs[0].IP}, VTEP: peerVTEP}}
		f := flat
		f.Ports = []dataplane.Port{flatPort}
		return dataplane.State{Host: dataplane.Host{Name: host, Namespace: ns, VTEP: vtep, PhysicalInterfaces: phys},
			Networks: []dataplane.Network{v, f, vlan}}
	}
	st1 := state("h1", h1, vtep1, p1, f1, p2, vtep2)
	st2 := state("h2", h2, vtep2, p2, f2, p1, vtep1)
	vm1 := b.instance("vm1", h1, p1, "10.1.0.11/24")
	vm2 := b.instance("vm2", h2, p2, "10.1.0.12/24")
	fm1 := b.instance("fm1", h1, f1, "10.2.0.11/24")
	fm2 := b.instance("fm2", h2, f2, "10.2.0.12/24")
	rec := &dataplanetest.Recorder{Runner: dataplane.ExecRunner{}, Mutating: mutating}
	ag1, ag2 := New(rec, nil), New(rec, nil)
	for _, c := range []struct {
		a  *Agent
		st dataplane.State
		p  []string
	}{{ag1, st1, []string{p1.ID, f1.ID}}, {ag2, st2, []string{p2.ID, f2.ID}}} {
		rep := converge(t, c.a, c.st)
		slices.Sort(c.p)
		if !slices.Equal(rep.Wired, c.p) {
			t.Fatalf("%s wired %v, want %v", c.st.Host.Name, rep.Wired, c.p)
		}
		if f := rep.Faults[vlan.ID]; !strings.Contains(f, "802.1q") || len(rep.Faults) != 1 {
			t.Fatalf("%s faults %v: want only the VLAN network's, naming 802.1q", c.st.Host.Name, rep.Faults)
		}
		if !slices.Equal(rep.Pending, []string{vlan.Ports[0].ID}) && len(rep.Pending) != 0 {
			t.Fatalf("pending %v", rep.Pending)
		}
	}
	if !b.ping(vm1, "10.1.0.12") || !b.ping(vm2, "10.1.0.11") {
		t.Fatal("instances of a VXLAN network on two hosts do not ping each other")
	}
	if !b.ping(fm1, "10.2.0.12") || !b.ping(fm2, "10.2.0.11") {
		t.Fatal("instances of a flat network on two hosts do not ping each other")
	}
	// Upstream's device and l2population entries.
	dev := b.sh(h1, "ip", "-d", "link", "show", "vxlan-1001")
	for _, w := range []string{"vxlan id 1001", "local 192.0.2.1", "dstport 4789", "nolearning", "proxy", "mtu 1450", "master " + dataplane.BridgeName(vx.ID)} {
		if !strings.Contains(dev, w) {
			t.Errorf("vxlan-1001 lacks %q:\n%s", w, dev)
		}
	}
	fdbOut := b.sh(h1, "bridge", "fdb", "show", "dev", "vxlan-1001")
	for _, w := range []string{"00:00:00:00:00:00 dst 192.0.2.2 self permanent", p2.MAC + " dst 192.0.2.2 self permanent"} {
		if !strings.Contains(fdbOut, w) {
			t.Errorf("vxlan-1001's FDB lacks %q:\n%s", w, fdbOut)
		}
	}
	if n := b.sh(h1, "ip", "neigh", "show", "dev", "vxlan-1001"); !strings.Contains(n, "10.1.0.12 lladdr "+p2.MAC+" PERMANENT") {
		t.Errorf("vxlan-1001's ARP entries: %s", n)
	}
	// The physical interface is on the flat network's bridge.
	if out := b.sh(h1, "ip", "-o", "link", "show", "eth2"); !strings.Contains(out, "master "+dataplane.BridgeName(flat.ID)) {
		t.Errorf("eth2 is not on the flat network's bridge: %s", out)
	}

	// Converging again changes nothing.
	before := b.snapshot(h1)
	rec.Take()
	converge(t, ag1, st1)
	if ch := rec.Take(); len(ch) != 0 {
		t.Fatalf("second converge changed things: %q", ch)
	}
	if after := b.snapshot(h1); after != before {
		t.Fatalf("second converge changed the host:\n%s\n---\n%s", before, after)
	}

	// A crash left h1 half broken: the VXLAN device gone (with its entries), a tap
	// out of its bridge, a stale FDB entry to a VTEP no longer used. A new agent
	// (a restart) repairs all of it.
	b.sh(h1, "ip", "link", "del", "vxlan-1001")
	b.sh(h1, "ip", "link", "set", dataplane.TapName(f1.ID), "nomaster")
	b.sh(h1, "ip", "link", "add", "vxlan-1002", "type", "vxlan", "id", "1002", "local", "192.0.2.1", "dstport", "4789", "nolearning")
	converge(t, New(dataplane.ExecRunner{}, nil), st1)
	if !b.ping(vm1, "10.1.0.12") || !b.ping(fm1, "10.2.0.12") {
		t.Fatal("a new agent did not repair the data plane")
	}
	if strings.Contains(b.sh(h1, "ip", "-o", "link", "show"), "vxlan-1002") {
		t.Fatal("a VXLAN device of no network survived")
	}
	// A peer that moves to another VTEP: its MAC entry follows, the old flood entry goes.
	st1.Networks[0].Peers[0].VTEP = mustAddr("192.0.2.3")
	converge(t, ag1, st1)
	fdbOut = b.sh(h1, "bridge", "fdb", "show", "dev", "vxlan-1001")
	if strings.Contains(fdbOut, "192.0.2.2") || !strings.Contains(fdbOut, p2.MAC+" dst 192.0.2.3") {
		t.Fatalf("FDB after the peer moved:\n%s", fdbOut)
	}

	// Removing every network removes bridges and VXLAN devices, releases eth2 and
	// leaves the physical links alone.
	converge(t, ag1, dataplane.State{Host: st1.Host})
	out := b.sh(h1, "ip", "-o", "link", "show")
	for _, gone := range []string{"brq", "vxlan-"} {
		if strings.Contains(out, gone) {
			t.Errorf("%s left after removing every network:\n%s", gone, out)
		}
	}
	for _, kept := range []string{"eth1", "eth2", dataplane.TapName(p1.ID)} {
		if !strings.Contains(out, kept) {
			t.Errorf("%s removed:\n%s", kept, out)
		}
	}
	if strings.Contains(b.sh(h1, "ip", "-o", "link", "show", "eth2"), "master") {
		t.Error("eth2 is still on a bridge")
	}
}

// TestAdminDownPortIsNotWired: an admin-down port's tap is on the bridge but down,
// and not reported wired; setting it up again wires it.
func TestAdminDownPortIsNotWired(t *testing.T) {
	b := newBed(t, "adm")
	host := b.netns("host")
	p := port("10.0.0.5")
	p.AdminStateUp = false
	b.instance("vm", host, p, "10.0.0.5/24")
	n := dataplane.Network{ID: id(), Type: dataplane.TypeLocal, AdminStateUp: true, Ports: []dataplane.Port{p}}
	agent := New(dataplane.ExecRunner{}, nil)
	st := dataplane.State{Host: dataplane.Host{Name: "h", Namespace: host}, Networks: []dataplane.Network{n}}
	if rep := converge(t, agent, st); len(rep.Wired) != 0 {
		t.Fatalf("admin-down port wired: %v", rep.Wired)
	}
	if out := b.sh(host, "ip", "-o", "link", "show", dataplane.TapName(p.ID)); strings.Contains(out, ",UP") {
		t.Fatalf("admin-down tap is up: %s", out)
	}
	st.Networks[0].Ports[0].AdminStateUp = true
	if rep := converge(t, agent, st); !slices.Equal(rep.Wired, []string{p.ID}) {
		t.Fatalf("wired %v", rep.Wired)
	}
}
