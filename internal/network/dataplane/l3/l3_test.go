package l3

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
)

// TestRouterPackets builds two tenant networks and an external one on a simulated
// host, instances as namespaces, an outside host on the external bridge, and checks
// with real packets: routing between subnets, SNAT, floating IPs in and out and
// gone after disassociation, idempotence, repair after a restart, and removal.
func TestRouterPackets(t *testing.T) {
	dataplanetest.RequireHost(t, "ip", "nft", "sysctl", "ping")
	b := dataplanetest.NewBed(t, "l3t")
	ip := netip.MustParseAddr
	pfx := netip.MustParsePrefix
	netA, netB, ext := "aaaaaaaa-0a", "bbbbbbbb-0b", "eeeeeeee-0e"
	b.Bridge(netA)
	b.Bridge(netB)
	// The external bridge is left to the L3 agent to create (as when it runs
	// before the L2 agent).
	subA := dataplane.Subnet{ID: "sa", IPVersion: 4, CIDR: pfx("10.61.1.0/24"), GatewayIP: ip("10.61.1.1")}
	subB := dataplane.Subnet{ID: "sb", IPVersion: 4, CIDR: pfx("10.61.2.0/24"), GatewayIP: ip("10.61.2.1")}
	subE := dataplane.Subnet{ID: "se", IPVersion: 4, CIDR: pfx("172.31.61.0/24"), GatewayIP: ip("172.31.61.1")}
	port := func(id, mac, subnet, addr string) dataplane.Port {
		return dataplane.Port{ID: id, MAC: mac, AdminStateUp: true, FixedIPs: []dataplane.FixedIP{{SubnetID: subnet, IP: ip(addr)}}}
	}
	router := dataplane.Router{
		ID: fmt.Sprintf("%s-router", b.Prefix), AdminStateUp: true, EnableSNAT: true,
		Interfaces: []dataplane.RouterPort{
			{Port: port("1111aaaa-01-qr", "fa:16:3e:00:01:01", "sa", "10.61.1.1"), NetworkID: netA, Subnets: []dataplane.Subnet{subA}},
			{Port: port("2222bbbb-02-qr", "fa:16:3e:00:02:01", "sb", "10.61.2.1"), NetworkID: netB, Subnets: []dataplane.Subnet{subB}},
		},
		Gateway: &dataplane.RouterPort{Port: port("3333eeee-03-qg", "fa:16:3e:00:03:01", "se", "172.31.61.2"), NetworkID: ext, Subnets: []dataplane.Subnet{subE}},
	}
	st := dataplane.State{Host: dataplane.Host{Name: "node1", Namespace: b.Host}, Routers: []dataplane.Router{router}}
	rns := dataplane.RouterNamespace(router.ID)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", rns).Run() })

	rec := &dataplanetest.Recorder{Runner: dataplane.ExecRunner{}, Mutating: dataplanetest.Mutating}
	a := New(rec, nil)
	ctx := context.Background()
	converge := func() {
		t.Helper()
		if _, err := a.Converge(ctx, st); err != nil {
			t.Fatal(err)
		}
		a.Wait()
	}
	converge()

	vm1 := b.Instance("vm1", netA, port("vm1aaaaa-01", "fa:16:3e:01:00:01", "sa", "10.61.1.10"), "10.61.1.10/24", "10.61.1.1")
	vm2 := b.Instance("vm2", netB, port("vm2bbbbb-02", "fa:16:3e:02:00:01", "sb", "10.61.2.10"), "10.61.2.10/24", "10.61.2.1")
	out := b.Instance("out", ext, port("outeeeee-03", "fa:16:3e:03:00:01", "se", "172.31.61.1"), "172.31.61.1/24", "")

	t.Run("route between subnets", func(t *testing.T) {
		if !b.EventuallyPing(vm1, "10.61.2.10") {
			t.Fatalf("vm1 cannot ping vm2 through the router\n%s", b.Sh(rns, "ip", "addr"))
		}
	})
	outPeers := b.Listen(out, "172.31.61.1:8022")
	t.Run("snat", func(t *testing.T) {
		if src := b.Dial(vm1, "172.31.61.1:8022", outPeers); src != "172.31.61.2" {
			t.Fatalf("outside host saw %q, want the router's gateway address 172.31.61.2", src)
		}
	})

	vm2Peers := b.Listen(vm2, "10.61.2.10:8022")
	st.Routers[0].FloatingIPs = []dataplane.FloatingIP{{ID: "fip1", FloatingIP: ip("172.31.61.50"), FixedIP: ip("10.61.2.10")}}
	converge()
	t.Run("floating ip", func(t *testing.T) {
		if !b.EventuallyPing(out, "172.31.61.50") {
			t.Fatal("outside host cannot ping the floating IP")
		}
		if src := b.Dial(out, "172.31.61.50:8022", vm2Peers); src != "172.31.61.1" {
			t.Fatalf("instance saw %q from the outside host, want 172.31.61.1", src)
		}
		if src := b.Dial(vm2, "172.31.61.1:8022", outPeers); src != "172.31.61.50" {
			t.Fatalf("outside host saw %q from the floating IP's instance, want 172.31.61.50", src)
		}
		if src := b.Dial(vm1, "172.31.61.1:8022", outPeers); src != "172.31.61.2" {
			t.Fatalf("outside host saw %q from an instance without floating IP, want 172.31.61.2", src)
		}
	})

	t.Run("converge twice changes nothing", func(t *testing.T) {
		// IPv6 duplicate address detection finishes on its own ("tentative" goes away):
		// that is the kernel's doing, not the agent's.
		snapshot := func() string {
			return strings.ReplaceAll(b.Sh(rns, "nft", "list", "ruleset")+b.Sh(rns, "ip", "addr")+b.Sh(rns, "ip", "route"), " tentative", "")
		}
		before := snapshot()
		rec.Take()
		converge()
		if c := rec.Take(); len(c) > 0 {
			t.Errorf("second converge changed:\n%s", strings.Join(c, "\n"))
		}
		// After a restart (kill -9: a new agent with no memory) too.
		a = New(rec, nil)
		converge()
		if c := rec.Take(); len(c) > 0 {
			t.Errorf("converge after restart changed:\n%s", strings.Join(c, "\n"))
		}
		after := snapshot()
		if before != after {
			t.Errorf("state changed:\n%s\n---\n%s", before, after)
		}
	})

	t.Run("repair", func(t *testing.T) {
		qg := dataplane.RouterGatewayName(router.Gateway.Port.ID)
		b.Sh(rns, "ip", "addr", "del", "172.31.61.50/32", "dev", qg)
		b.Sh(rns, "ip", "route", "del", "default")
		b.Sh(rns, "nft", "flush", "chain", "ip", Table, "prerouting")
		b.Sh(b.Host, "ip", "link", "del", dataplane.TapName(router.Interfaces[0].Port.ID))
		a = New(rec, nil)
		converge()
		// The flushed chain is seen by an agent that remembers its last listing.
		converge()
		if !b.EventuallyPing(out, "172.31.61.50") || !b.EventuallyPing(vm1, "10.61.2.10") {
			t.Fatalf("not repaired:\n%s\n%s", b.Sh(rns, "ip", "addr"), b.Sh(rns, "nft", "list", "ruleset"))
		}
	})

	t.Run("floating ip removed", func(t *testing.T) {
		st.Routers[0].FloatingIPs = nil
		converge()
		if b.Ping(out, "172.31.61.50") {
			t.Fatal("floating IP still answers after disassociation")
		}
		if src := b.Dial(out, "172.31.61.50:8022", vm2Peers); src != "" {
			t.Fatalf("floating IP still reaches the instance (saw %s)", src)
		}
	})

	t.Run("snat disabled", func(t *testing.T) {
		st.Routers[0].EnableSNAT = false
		converge()
		if src := b.Dial(vm1, "172.31.61.1:8022", outPeers); src == "172.31.61.2" {
			t.Fatal("still SNAT with enable_snat false")
		}
		st.Routers[0].EnableSNAT = true
		converge()
	})

	t.Run("extra route", func(t *testing.T) {
		st.Routers[0].Routes = []dataplane.Route{{Destination: pfx("192.168.61.0/24"), NextHop: ip("10.61.1.10")}}
		converge()
		if r := b.Sh(rns, "ip", "route", "show", "192.168.61.0/24"); !strings.Contains(r, "via 10.61.1.10") {
			t.Fatalf("extra route missing: %q", r)
		}
		st.Routers[0].Routes = nil
		converge()
		if r := b.Sh(rns, "ip", "route", "show", "192.168.61.0/24"); strings.TrimSpace(r) != "" {
			t.Fatalf("extra route left: %q", r)
		}
	})

	t.Run("remove interface", func(t *testing.T) {
		st.Routers[0].Interfaces = st.Routers[0].Interfaces[:1]
		converge()
		if b.Ping(vm1, "10.61.2.10") {
			t.Fatal("still routed after removing the interface")
		}
		if l := b.Sh(b.Host, "ip", "link"); strings.Contains(l, dataplane.TapName(router.Interfaces[1].Port.ID)) {
			t.Fatalf("tap left:\n%s", l)
		}
	})

	t.Run("remove router", func(t *testing.T) {
		st.Routers = nil
		converge()
		if l := b.Sh("", "ip", "netns", "list"); strings.Contains(l, rns) {
			t.Fatalf("namespace left:\n%s", l)
		}
		l := b.Sh(b.Host, "ip", "link")
		for _, p := range []string{router.Interfaces[0].Port.ID, router.Gateway.Port.ID} {
			if strings.Contains(l, dataplane.TapName(p)) {
				t.Fatalf("tap of %s left:\n%s", p, l)
			}
		}
	})
}
