package l3

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

func testRouter() dataplane.Router {
	pfx := netip.MustParsePrefix
	ip := netip.MustParseAddr
	return dataplane.Router{
		ID: "r1", AdminStateUp: true, EnableSNAT: true,
		Interfaces: []dataplane.RouterPort{{
			Port:      dataplane.Port{ID: "qrport-0001-x", MAC: "fa:16:3e:00:00:01", AdminStateUp: true, FixedIPs: []dataplane.FixedIP{{SubnetID: "s1", IP: ip("10.0.0.1")}}},
			NetworkID: "net1-000000-x",
			Subnets:   []dataplane.Subnet{{ID: "s1", IPVersion: 4, CIDR: pfx("10.0.0.0/24"), GatewayIP: ip("10.0.0.1")}},
		}},
		Gateway: &dataplane.RouterPort{
			Port:      dataplane.Port{ID: "qgport-0001-x", MAC: "fa:16:3e:00:00:02", AdminStateUp: true, FixedIPs: []dataplane.FixedIP{{SubnetID: "e1", IP: ip("172.24.4.2")}}},
			NetworkID: "ext1-000000-x",
			Subnets:   []dataplane.Subnet{{ID: "e1", IPVersion: 4, CIDR: pfx("172.24.4.0/24"), GatewayIP: ip("172.24.4.1")}},
		},
	}
}

func TestRenderNAT(t *testing.T) {
	ip := netip.MustParseAddr
	fip := dataplane.FloatingIP{ID: "f1", FloatingIP: ip("172.24.4.10"), FixedIP: ip("10.0.0.5")}
	tests := []struct {
		name      string
		edit      func(*dataplane.Router)
		want, not []string
	}{
		{"snat", func(*dataplane.Router) {},
			[]string{`oifname "qg-qgport-0001" ip saddr { 10.0.0.0/24 } snat to 172.24.4.2`}, []string{"dnat"}},
		{"snat disabled", func(r *dataplane.Router) { r.EnableSNAT = false },
			nil, []string{"snat"}},
		{"no gateway", func(r *dataplane.Router) { r.Gateway = nil; r.FloatingIPs = []dataplane.FloatingIP{fip} },
			nil, []string{"snat", "dnat"}},
		{"floating ip", func(r *dataplane.Router) { r.FloatingIPs = []dataplane.FloatingIP{fip} },
			[]string{
				"ip daddr 172.24.4.10 dnat to 10.0.0.5",
				`oifname "qg-qgport-0001" ip saddr 10.0.0.5 snat to 172.24.4.10`,
			}, nil},
		{"floating ip without snat", func(r *dataplane.Router) { r.EnableSNAT = false; r.FloatingIPs = []dataplane.FloatingIP{fip} },
			[]string{"ip daddr 172.24.4.10 dnat to 10.0.0.5", "snat to 172.24.4.10"}, []string{"snat to 172.24.4.2"}},
		{"ipv6 is not translated", func(r *dataplane.Router) {
			r.FloatingIPs = []dataplane.FloatingIP{{FloatingIP: ip("2001:db8::10"), FixedIP: ip("fd00::5")}}
			r.Interfaces[0].Subnets = append(r.Interfaces[0].Subnets, dataplane.Subnet{IPVersion: 6, CIDR: netip.MustParsePrefix("fd00::/64")})
		}, []string{"{ 10.0.0.0/24 }"}, []string{"2001:db8", "fd00"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := testRouter()
			tc.edit(&r)
			got := renderNAT(r)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(got, n) {
					t.Errorf("unexpected %q in\n%s", n, got)
				}
			}
		})
	}
	// The floating IP's SNAT comes before the subnet's, or it would never match.
	r := testRouter()
	r.FloatingIPs = []dataplane.FloatingIP{fip}
	got := renderNAT(r)
	if strings.Index(got, "snat to 172.24.4.10") > strings.Index(got, "snat to 172.24.4.2") {
		t.Errorf("floating SNAT after subnet SNAT:\n%s", got)
	}
}

func TestRenderTableChecksum(t *testing.T) {
	r := testRouter()
	s1, sum1 := renderTable("h", r)
	s2, sum2 := renderTable("h", r)
	if s1 != s2 || sum1 != sum2 {
		t.Fatal("rendering is not deterministic")
	}
	r.EnableSNAT = false
	if _, sum3 := renderTable("h", r); sum3 == sum1 {
		t.Fatal("checksum does not follow the content")
	}
	if !strings.Contains(s1, `comment "owner=h sum=`+sum1+`"`) || !strings.HasPrefix(s1, "table ip nimbus-l3\ndelete table ip nimbus-l3\n") {
		t.Fatalf("script:\n%s", s1)
	}
}

// TestConvergeFreshRouter checks the commands that build a router from nothing.
func TestConvergeFreshRouter(t *testing.T) {
	f := &fakeRunner{
		Outputs: map[string]string{
			"|ip netns list":            "qdhcp-x (id: 1)\n",
			"hostns|ip -d -j addr":      `[{"ifname":"lo","flags":["LOOPBACK","UP"]}]`,
			"qrouter-r1|ip -d -j addr":  `[{"ifname":"lo","flags":["LOOPBACK"]}]`,
			"qrouter-r1|ip -4 -j route": "[]",
			"qrouter-r1|ip -6 -j route": "",
		},
		Fail: map[string]bool{"qrouter-r1|nft list": true},
	}
	a := New(f, nil)
	var garps []string
	a.GARP = func(ns, dev, ip string) { garps = append(garps, ns+" "+dev+" "+ip) }
	r := testRouter()
	r.FloatingIPs = []dataplane.FloatingIP{{FloatingIP: netip.MustParseAddr("172.24.4.10"), FixedIP: netip.MustParseAddr("10.0.0.5")}}
	st := dataplane.State{Host: dataplane.Host{Name: "n1", Namespace: "hostns"}, Routers: []dataplane.Router{r}}
	wired, err := a.Converge(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if len(wired) != 2 {
		t.Errorf("wired %v", wired)
	}
	for _, want := range []string{
		"|ip netns add qrouter-r1",
		"qrouter-r1|nft table ip nimbus-l3",
		"qrouter-r1|sysctl -w net.ipv4.ip_forward=1",
		"qrouter-r1|ip link set lo up",
		"hostns|ip link add brqnet1-000000 type bridge",
		"hostns|ip link add tapqrport-0001 type veth peer name qr-qrport-0001 address fa:16:3e:00:00:01 netns qrouter-r1",
		"hostns|ip link set tapqrport-0001 master brqnet1-000000",
		"qrouter-r1|ip addr add 10.0.0.1/24 dev qr-qrport-0001",
		"hostns|ip link add tapqgport-0001 type veth peer name qg-qgport-0001 address fa:16:3e:00:00:02 netns qrouter-r1",
		"qrouter-r1|ip addr add 172.24.4.2/24 dev qg-qgport-0001",
		"qrouter-r1|ip addr add 172.24.4.10/32 dev qg-qgport-0001",
		"qrouter-r1|ip route replace 0.0.0.0/0 via 172.24.4.1 proto static",
	} {
		if !f.Has(want) {
			t.Errorf("missing command %q", want)
		}
	}
	if len(garps) != 1 || garps[0] != "qrouter-r1 qg-qgport-0001 172.24.4.10" {
		t.Errorf("gratuitous ARPs %v", garps)
	}
	if t.Failed() {
		t.Log(strings.Join(f.Cmds, "\n"))
	}
}

// TestConvergeRemovesOnlyOwnRouters checks that stale router namespaces are removed
// only when this host made them.
func TestConvergeRemovesOnlyOwnRouters(t *testing.T) {
	f := &fakeRunner{
		Outputs: map[string]string{
			"|ip netns list":          "qrouter-mine\nqrouter-other\nqrouter-unmarked\nqdhcp-x\n",
			"qrouter-mine|nft list":   `table ip nimbus-l3 { comment "owner=n1@hostns sum=1" }`,
			"qrouter-other|nft list":  `table ip nimbus-l3 { comment "owner=n2@other sum=1" }`,
			"qrouter-mine|ip -d -j":   `[{"ifname":"qr-abc","linkinfo":{"info_kind":"veth"}}]`,
			"qrouter-unmarked|ip -d ": `[]`,
		},
		Fail: map[string]bool{"qrouter-unmarked|nft list": true},
	}
	a := New(f, nil)
	st := dataplane.State{Host: dataplane.Host{Name: "n1", Namespace: "hostns"}}
	if _, err := a.Converge(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if !f.Has("|ip netns del qrouter-mine") || !f.Has("qrouter-mine|ip link del qr-abc") {
		t.Errorf("own router not removed:\n%s", strings.Join(f.Cmds, "\n"))
	}
	if f.Has("|ip netns del qrouter-other") || f.Has("|ip netns del qrouter-unmarked") || f.Has("|ip netns del qdhcp") {
		t.Errorf("removed what is not ours:\n%s", strings.Join(f.Cmds, "\n"))
	}
	// The real host (no Namespace) also reclaims unmarked routers: a crash between
	// creating the namespace and marking it.
	f.Cmds = nil
	st.Host.Namespace = ""
	if _, err := a.Converge(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if !f.Has("|ip netns del qrouter-unmarked") || f.Has("|ip netns del qrouter-other") {
		t.Errorf("root host:\n%s", strings.Join(f.Cmds, "\n"))
	}
}
