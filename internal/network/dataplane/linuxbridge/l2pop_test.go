package linuxbridge

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

func fe(mac, dst string) fdbEntry { return fdbEntry{MAC: mac, Dst: mustAddr(dst)} }
func ne(ip, mac string) neighEntry {
	return neighEntry{IP: mustAddr(ip), MAC: mac}
}

func TestDesiredFDB(t *testing.T) {
	local := mustAddr("192.0.2.1")
	n := dataplane.Network{Peers: []dataplane.Peer{
		{MAC: "FA:16:3E:00:00:02", IPs: []netip.Addr{mustAddr("10.0.0.2")}, VTEP: mustAddr("192.0.2.2")},
		{MAC: "fa:16:3e:00:00:03", IPs: []netip.Addr{mustAddr("10.0.0.3"), mustAddr("fd00::3")}, VTEP: mustAddr("192.0.2.2")},
		{MAC: "fa:16:3e:00:00:04", IPs: []netip.Addr{mustAddr("10.0.0.4")}, VTEP: mustAddr("192.0.2.3")},
		{MAC: "fa:16:3e:00:00:05", IPs: []netip.Addr{mustAddr("10.0.0.5")}, VTEP: local}, // ours: skipped
		{MAC: "fa:16:3e:00:00:06", IPs: []netip.Addr{mustAddr("10.0.0.6")}},              // no VTEP: skipped
	}}
	wantFDB := []fdbEntry{
		fe(zeroMAC, "192.0.2.2"), fe(zeroMAC, "192.0.2.3"),
		fe("fa:16:3e:00:00:02", "192.0.2.2"), fe("fa:16:3e:00:00:03", "192.0.2.2"), fe("fa:16:3e:00:00:04", "192.0.2.3"),
	}
	if got := desiredFDB(n, local); !slices.Equal(got, wantFDB) {
		t.Errorf("FDB\n got %v\nwant %v", got, wantFDB)
	}
	wantN := []neighEntry{ne("10.0.0.2", "fa:16:3e:00:00:02"), ne("10.0.0.3", "fa:16:3e:00:00:03"), ne("10.0.0.4", "fa:16:3e:00:00:04"), ne("fd00::3", "fa:16:3e:00:00:03")}
	if got := desiredNeighbours(n, local); !slices.Equal(got, wantN) {
		t.Errorf("neighbours\n got %v\nwant %v", got, wantN)
	}
}

func TestDiffFDB(t *testing.T) {
	m1, m2 := "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"
	for _, c := range []struct {
		name            string
		have, want      []fdbEntry
		wantSet, wantDe []fdbEntry
	}{
		{"empty", nil, nil, nil, nil},
		{"all new", nil, []fdbEntry{fe(zeroMAC, "192.0.2.2"), fe(m1, "192.0.2.2")},
			[]fdbEntry{fe(zeroMAC, "192.0.2.2"), fe(m1, "192.0.2.2")}, nil},
		{"unchanged", []fdbEntry{fe(zeroMAC, "192.0.2.2"), fe(m1, "192.0.2.2")}, []fdbEntry{fe(zeroMAC, "192.0.2.2"), fe(m1, "192.0.2.2")}, nil, nil},
		{"second flood destination", []fdbEntry{fe(zeroMAC, "192.0.2.2")}, []fdbEntry{fe(zeroMAC, "192.0.2.2"), fe(zeroMAC, "192.0.2.3")},
			[]fdbEntry{fe(zeroMAC, "192.0.2.3")}, nil},
		{"VTEP gone", []fdbEntry{fe(zeroMAC, "192.0.2.2"), fe(zeroMAC, "192.0.2.3"), fe(m2, "192.0.2.3")}, []fdbEntry{fe(zeroMAC, "192.0.2.2")},
			nil, []fdbEntry{fe(zeroMAC, "192.0.2.3"), fe(m2, "192.0.2.3")}},
		{"MAC moved: replaced, not deleted", []fdbEntry{fe(m1, "192.0.2.2")}, []fdbEntry{fe(m1, "192.0.2.3")},
			[]fdbEntry{fe(m1, "192.0.2.3")}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			set, del := diffFDB(c.have, c.want)
			if !slices.Equal(set, c.wantSet) || !slices.Equal(del, c.wantDe) {
				t.Errorf("set %v del %v, want set %v del %v", set, del, c.wantSet, c.wantDe)
			}
		})
	}
}

func TestDiffNeighbours(t *testing.T) {
	for _, c := range []struct {
		name             string
		have, want       []neighEntry
		wantSet, wantDel []neighEntry
	}{
		{"empty", nil, nil, nil, nil},
		{"new", nil, []neighEntry{ne("10.0.0.2", "fa:16:3e:00:00:02")}, []neighEntry{ne("10.0.0.2", "fa:16:3e:00:00:02")}, nil},
		{"same", []neighEntry{ne("10.0.0.2", "fa:16:3e:00:00:02")}, []neighEntry{ne("10.0.0.2", "fa:16:3e:00:00:02")}, nil, nil},
		{"new MAC for an address", []neighEntry{ne("10.0.0.2", "fa:16:3e:00:00:02")}, []neighEntry{ne("10.0.0.2", "fa:16:3e:00:00:09")},
			[]neighEntry{ne("10.0.0.2", "fa:16:3e:00:00:09")}, nil},
		{"gone", []neighEntry{ne("10.0.0.2", "fa:16:3e:00:00:02")}, nil, nil, []neighEntry{ne("10.0.0.2", "fa:16:3e:00:00:02")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			set, del := diffNeighbours(c.have, c.want)
			if !slices.Equal(set, c.wantSet) || !slices.Equal(del, c.wantDel) {
				t.Errorf("set %v del %v, want set %v del %v", set, del, c.wantSet, c.wantDel)
			}
		})
	}
}

// fakeRunner records the commands run and answers them from canned outputs, keyed
// by "netns|command line" prefixes (the longest match wins).
type fakeRunner struct {
	mu      sync.Mutex
	cmds    []string
	outputs map[string]string
	fail    map[string]string
}

func (f *fakeRunner) Run(_ context.Context, ns, name string, args ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := ns + "|" + name + " " + strings.Join(args, " ")
	f.cmds = append(f.cmds, line)
	for k, msg := range f.fail {
		if strings.HasPrefix(line, k) {
			return nil, fmt.Errorf("%s: exit status 2: %s", line, msg)
		}
	}
	best := ""
	for k := range f.outputs {
		if strings.HasPrefix(line, k) && len(k) > len(best) {
			best = k
		}
	}
	return []byte(f.outputs[best]), nil
}

func (f *fakeRunner) changes() []string {
	var out []string
	for _, c := range f.cmds {
		_, cmd, _ := strings.Cut(c, "|")
		name, args, _ := strings.Cut(cmd, " ")
		if mutating(name, strings.Fields(args)) {
			out = append(out, c)
		}
	}
	return out
}

// TestReconcileCommands checks the commands of a first pass on an empty host and
// of a pass on a host that already matches, with a recording fake runner.
func TestReconcileCommands(t *testing.T) {
	netID, portID := "11111111-2222-3333-4444-555555555555", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
	br, tap := dataplane.BridgeName(netID), dataplane.TapName(portID)
	st := dataplane.State{
		Host: dataplane.Host{Name: "h", Namespace: "hostns", VTEP: mustAddr("192.0.2.1")},
		Networks: []dataplane.Network{{ID: netID, Type: dataplane.TypeVXLAN, SegmentationID: 1001, MTU: 1450, AdminStateUp: true,
			Ports: []dataplane.Port{{ID: portID, AdminStateUp: true}},
			Peers: []dataplane.Peer{{MAC: "fa:16:3e:00:00:02", IPs: []netip.Addr{mustAddr("10.0.0.2")}, VTEP: mustAddr("192.0.2.2")}}}},
	}
	empty := &fakeRunner{outputs: map[string]string{
		"hostns|ip -d -j link show": `[{"ifname":"lo","flags":["LOOPBACK","UP"]},{"ifname":"` + tap + `","flags":["BROADCAST"],"mtu":1500,"linkinfo":{"info_kind":"veth"}},
			{"ifname":"brqstale-000","flags":["UP"],"linkinfo":{"info_kind":"bridge"}},{"ifname":"brqnotabridg","linkinfo":{"info_kind":"veth"}}]`,
		"hostns|bridge -j fdb": "[]",
		"hostns|ip -j neigh":   "[]",
	}}
	rep, err := New(empty, nil).Reconcile(context.Background(), st)
	if err != nil || !slices.Equal(rep.Wired, []string{portID}) {
		t.Fatalf("report %+v, %v", rep, err)
	}
	want := []string{
		"hostns|ip link add " + br + " type bridge",
		"hostns|ip link set " + br + " addrgenmode none",
		"hostns|ip link set " + br + " mtu 1450",
		"hostns|ip link set " + br + " up",
		"hostns|ip link add vxlan-1001 type vxlan id 1001 local 192.0.2.1 dstport 4789 nolearning proxy",
		"hostns|ip link set vxlan-1001 addrgenmode none",
		"hostns|ip link set vxlan-1001 mtu 1450",
		"hostns|bridge fdb append 00:00:00:00:00:00 dev vxlan-1001 dst 192.0.2.2 self permanent",
		"hostns|bridge fdb replace fa:16:3e:00:00:02 dev vxlan-1001 dst 192.0.2.2 self permanent",
		"hostns|ip neigh replace 10.0.0.2 lladdr fa:16:3e:00:00:02 dev vxlan-1001 nud permanent",
		"hostns|ip link set vxlan-1001 master " + br,
		"hostns|ip link set vxlan-1001 up",
		"hostns|ip link set " + tap + " mtu 1450",
		"hostns|ip link set " + tap + " master " + br,
		"hostns|ip link set " + tap + " up",
		"hostns|ip link del brqstale-000", // only the stale bridge: brqnotabridg is not one
	}
	if got := empty.changes(); !slices.Equal(got, want) {
		t.Errorf("first pass:\n got %q\nwant %q", got, want)
	}

	converged := &fakeRunner{outputs: map[string]string{
		"hostns|ip -d -j link show": `[{"ifname":"` + br + `","flags":["UP"],"mtu":1450,"inet6_addr_gen_mode":"none","linkinfo":{"info_kind":"bridge","info_data":{"forward_delay":1500}}},
			{"ifname":"vxlan-1001","flags":["UP"],"mtu":1450,"master":"` + br + `","linkinfo":{"info_kind":"vxlan","info_data":{"id":1001,"local":"192.0.2.1","port":4789,"learning":false,"proxy":true,"ttl":0}}},
			{"ifname":"` + tap + `","flags":["UP"],"mtu":1450,"master":"` + br + `","linkinfo":{"info_kind":"veth"}}]`,
		"hostns|bridge -j fdb": `[{"mac":"aa:bb:cc:dd:ee:ff","master":"` + br + `","state":"permanent"},{"mac":"00:00:00:00:00:00","dst":"192.0.2.2","flags":["self"],"state":"permanent"},{"mac":"fa:16:3e:00:00:02","dst":"192.0.2.2","flags":["self"],"state":"permanent"}]`,
		"hostns|ip -j neigh":   `[{"dst":"10.0.0.2","lladdr":"fa:16:3e:00:00:02","state":["PERMANENT"]}]`,
	}}
	if _, err := New(converged, nil).Reconcile(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	if got := converged.changes(); len(got) != 0 {
		t.Errorf("a converged host was changed: %q", got)
	}
}

// TestFaultsArePerNetwork: networks that cannot be built are faults with reasons;
// the others are built all the same, and the 802.1q probe is not repeated.
func TestFaultsArePerNetwork(t *testing.T) {
	f := &fakeRunner{
		outputs: map[string]string{"|ip -d -j link show": `[{"ifname":"eth1","flags":["UP"]}]`},
		fail:    map[string]string{"|ip link add link eth1": "Error: Unknown device type."},
	}
	st := dataplane.State{Host: dataplane.Host{Name: "h", PhysicalInterfaces: map[string]string{"physnet1": "eth1", "gone": "eth9"}},
		Networks: []dataplane.Network{
			{ID: "vlan", Type: dataplane.TypeVLAN, PhysicalNetwork: "physnet1", SegmentationID: 100},
			{ID: "flat-unmapped", Type: dataplane.TypeFlat, PhysicalNetwork: "physnet2"},
			{ID: "flat-missing", Type: dataplane.TypeFlat, PhysicalNetwork: "gone"},
			{ID: "vxlan-novtep", Type: dataplane.TypeVXLAN, SegmentationID: 5},
			{ID: "gre", Type: "gre"},
			{ID: "local", Type: dataplane.TypeLocal},
		}}
	a := New(f, nil)
	for pass := range 2 {
		rep, err := a.Reconcile(context.Background(), st)
		if err != nil {
			t.Fatal(err)
		}
		for id, want := range map[string]string{"vlan": "802.1q", "flat-unmapped": "physical_interface_mappings", "flat-missing": "eth9 of physical network",
			"vxlan-novtep": "no VTEP", "gre": "not supported"} {
			if !strings.Contains(rep.Faults[id], want) {
				t.Errorf("pass %d: fault of %s = %q, want it to say %q", pass, id, rep.Faults[id], want)
			}
		}
		if _, ok := rep.Faults["local"]; ok || len(rep.Faults) != 5 {
			t.Errorf("faults %v", rep.Faults)
		}
		if err := rep.Err(); err == nil || !strings.Contains(err.Error(), "network vlan: this host's kernel cannot make 802.1q") {
			t.Errorf("Err() = %v", err)
		}
	}
	probes := 0
	for _, c := range f.cmds {
		if strings.Contains(c, "type vlan") {
			probes++
		}
	}
	if probes != 1 {
		t.Errorf("the 802.1q probe ran %d times, want once", probes)
	}
	if !slices.Contains(f.cmds, "|ip link add "+dataplane.BridgeName("local")+" type bridge") {
		t.Errorf("the local network was not built: %q", f.cmds)
	}
}
