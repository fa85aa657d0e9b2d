package metadata

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// TestConvergeCommands checks the commands and listeners of Converge with a recording
// fake runner: lo brought up and given the address only where missing, nothing
// changed by a second pass or by a restarted proxy, listeners only for admin-up
// routers with a namespace and for the DHCP namespaces of isolated networks,
// re-opened when the namespace is made again or the listener died, closed when the
// router or network goes.
func TestConvergeCommands(t *testing.T) {
	r := &fakeRunner{Outputs: map[string]string{
		"|ip netns list":                     "qrouter-r1\nqrouter-r2 (id: 7)\nqrouter-r4\nqdhcp-n1\nqdhcp-n2\n",
		"qrouter-r1|ip -d -j addr show":      loJSON(false),
		"qrouter-r2|ip -d -j addr show":      loJSON(true, "169.254.169.254/32"),
		"qrouter-r4|ip -d -j addr show":      loJSON(true),
		"|ip -d -j addr show":                "[]",
		"qdhcp-n1|ip -d -j addr show":        dhcpJSON("10.0.0.2/24", "169.254.169.254/32"),
		"qdhcp-n2|ip -d -j addr show":        dhcpJSON("10.1.0.2/24"),
		"qrouter-missing|ip -d -j addr show": "",
	}}
	isolated := func(id string, routed bool) dataplane.Network {
		sub := dataplane.Subnet{ID: "s-" + id, IPVersion: 4, CIDR: netip.MustParsePrefix("10.0.0.0/24"), GatewayIP: netip.MustParseAddr("10.0.0.1"), EnableDHCP: true}
		n := dataplane.Network{ID: id, DHCP: true, AdminStateUp: true, Subnets: []dataplane.Subnet{sub}}
		if routed {
			n.DHCPHosts = []dataplane.Port{{DeviceOwner: dataplane.OwnerRouterInterface, FixedIPs: []dataplane.FixedIP{{SubnetID: sub.ID, IP: sub.GatewayIP}}}}
		}
		return n
	}
	st := dataplane.State{Host: dataplane.Host{EnableIsolatedMetadata: true}, Networks: []dataplane.Network{
		isolated("n1", false),
		isolated("n2", true),  // a router serves it: its DHCP namespace does not
		isolated("n3", false), // no namespace (yet)
	}, Routers: []dataplane.Router{
		{ID: "r1", AdminStateUp: true},
		{ID: "r2", AdminStateUp: true},
		{ID: "r3", AdminStateUp: true}, // no namespace (yet): nothing to serve
		{ID: "r4", AdminStateUp: false},
	}}
	newProxy := func() (*Proxy, *fakeNamespaces) {
		p, err := New(Options{Runner: r, Lookup: &fakeLookup{}, MetadataURL: "http://127.0.0.1:8775", SharedSecret: "s",
			Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		f := newFakeNamespaces()
		f.install(t, p)
		return p, f
	}
	p, f := newProxy()
	ctx := context.Background()
	converge := func() {
		t.Helper()
		if wired, err := p.Converge(ctx, st); err != nil || wired != nil {
			t.Fatalf("Converge = %v, %v", wired, err)
		}
	}
	serving := func(want ...string) {
		t.Helper()
		got := p.Serving()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("serving %v, want %v", got, want)
		}
	}

	converge()
	if got, want := take(r), []string{
		"qrouter-r1|ip link set lo up",
		"qrouter-r1|ip addr add 169.254.169.254/32 dev lo",
	}; !slices.Equal(got, want) {
		t.Fatalf("first pass ran %q, want %q", got, want)
	}
	serving("qdhcp-n1", "qrouter-r1", "qrouter-r2")

	// The host now holds what the first pass made.
	r.Outputs["qrouter-r1|ip -d -j addr show"] = loJSON(true, "169.254.169.254/32")
	converge()
	if c := take(r); len(c) > 0 {
		t.Fatalf("second pass ran %q", c)
	}
	if f.opened["qrouter-r1"] != 1 || f.opened["qrouter-r2"] != 1 || f.opened["qdhcp-n1"] != 1 {
		t.Fatalf("listeners opened %v, want one each", f.opened)
	}

	// A restarted proxy (a kill -9 of the agent) finds the addresses: it only listens.
	p.Close()
	p, f = newProxy()
	converge()
	if c := take(r); len(c) > 0 {
		t.Fatalf("pass after a restart ran %q", c)
	}
	serving("qdhcp-n1", "qrouter-r1", "qrouter-r2")

	// r2's namespace deleted and made again by the L3 part: a new listener.
	f.ids["qrouter-r2"] = nsID{dev: 4, ino: 99}
	old := f.lns["qrouter-r2"]
	converge()
	if f.opened["qrouter-r2"] != 2 {
		t.Fatalf("listeners opened in qrouter-r2: %d, want 2", f.opened["qrouter-r2"])
	}
	if !old.closed.Load() {
		t.Fatal("the listener in the old namespace still accepts")
	}

	// r1's listener dies behind our back: the next pass opens it again.
	f.lns["qrouter-r1"].Close()
	waitFor(t, func() bool { return !slices.Contains(p.Serving(), "qrouter-r1") })
	converge()
	if f.opened["qrouter-r1"] != 2 {
		t.Fatalf("listeners opened in qrouter-r1: %d, want 2", f.opened["qrouter-r1"])
	}
	serving("qdhcp-n1", "qrouter-r1", "qrouter-r2")

	// n1's DHCP namespace made again by the DHCP part: a new listener; a router
	// attached to n1: its DHCP namespace stops serving; isolated metadata turned
	// off: none serves.
	f.ids["qdhcp-n1"] = nsID{dev: 4, ino: 98}
	converge()
	if f.opened["qdhcp-n1"] != 2 {
		t.Fatalf("listeners opened in qdhcp-n1: %d, want 2", f.opened["qdhcp-n1"])
	}
	n1 := f.lns["qdhcp-n1"]
	st.Networks[0] = isolated("n1", true)
	converge()
	serving("qrouter-r1", "qrouter-r2")
	if !n1.closed.Load() {
		t.Fatal("a routed network's DHCP namespace still accepts")
	}
	st.Networks[0] = isolated("n1", false)
	converge()
	serving("qdhcp-n1", "qrouter-r1", "qrouter-r2")
	st.Host.EnableIsolatedMetadata = false
	converge()
	serving("qrouter-r1", "qrouter-r2")
	st.Host.ForceMetadata = true // force_metadata: routed networks too, if the DHCP part put the address there
	st.Networks = []dataplane.Network{isolated("n1", true)}
	converge()
	serving("qdhcp-n1", "qrouter-r1", "qrouter-r2")

	// A DHCP namespace without the address (the DHCP part failed): an error, no
	// listener; it follows once the address is there.
	st.Networks = append(st.Networks, isolated("n2", false))
	if _, err := p.Converge(ctx, st); err == nil || !strings.Contains(err.Error(), "network n2") {
		t.Fatalf("Converge without the address on qdhcp-n2 = %v", err)
	}
	r.Outputs["qdhcp-n2|ip -d -j addr show"] = dhcpJSON("10.1.0.2/24", "169.254.169.254/32")
	converge()
	serving("qdhcp-n1", "qdhcp-n2", "qrouter-r1", "qrouter-r2")
	if c := take(r); len(c) > 0 {
		t.Fatalf("serving DHCP namespaces ran %q (the DHCP part owns their addresses)", c)
	}
	st.Networks = nil

	// r1 set admin-down, then r2 removed: their listeners close.
	st.Routers[0].AdminStateUp = false
	r1 := f.lns["qrouter-r1"]
	converge()
	serving("qrouter-r2")
	if !r1.closed.Load() {
		t.Fatal("an admin-down router's listener still accepts")
	}
	st.Routers = st.Routers[2:]
	converge()
	serving()
	if c := take(r); len(c) > 0 {
		t.Fatalf("removing routers ran %q (the address goes with the namespace)", c)
	}

	p.Close()
	if _, err := p.Converge(ctx, st); err == nil {
		t.Fatal("Converge after Close succeeded")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("condition not met within 2 s")
}
