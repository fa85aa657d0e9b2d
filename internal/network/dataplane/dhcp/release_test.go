package dhcp

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

func TestParseLeases(t *testing.T) {
	got := parseLeases(`1764800000 fa:16:3e:00:00:05 10.0.0.5 vm-one 01:fa:16:3e:00:00:05
1764800000 FA:16:3E:00:00:06 10.0.0.6 * *
garbage line
1764800000 fa:16:3e:00:00:07 not-an-ip * *
duid 00:01:00:01:2e:c1:5a:10:fa:16:3e:00:00:02
1764800000 1234 fd00::5 vm-one 00:01:00:01:2e:c1:5a:10:fa:16:3e:00:00:05
1764800000 T99 fd00::6 * 00:02:00:00:ab:11:01:02
`)
	want := leaseFile{ServerID: "00:01:00:01:2e:c1:5a:10:fa:16:3e:00:00:02", Leases: []lease{
		{IP: netip.MustParseAddr("10.0.0.5"), MAC: "fa:16:3e:00:00:05", ClientID: "01:fa:16:3e:00:00:05"},
		{IP: netip.MustParseAddr("10.0.0.6"), MAC: "fa:16:3e:00:00:06"},
		{IP: netip.MustParseAddr("fd00::5"), MAC: "fa:16:3e:00:00:05", ClientID: "00:01:00:01:2e:c1:5a:10:fa:16:3e:00:00:05", IAID: "1234"},
		{IP: netip.MustParseAddr("fd00::6"), ClientID: "00:02:00:00:ab:11:01:02", IAID: "99"},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseLeases:\n got %+v\nwant %+v", got, want)
	}
}

func TestDUIDMAC(t *testing.T) {
	for duid, want := range map[string]string{
		"00:01:00:01:2e:c1:5a:10:fa:16:3e:00:00:05":             "fa:16:3e:00:00:05", // DUID-LLT, Ethernet
		"00:03:00:01:fa:16:3e:00:00:05":                         "fa:16:3e:00:00:05", // DUID-LL, Ethernet
		"00:03:00:06:fa:16:3e:00:00:05":                         "",                  // DUID-LL, IEEE 802 (not Ethernet)
		"00:02:00:00:ab:11:01:02":                               "",                  // DUID-EN: no MAC
		"00:04:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:00": "",                  // DUID-UUID
		"00:01:00:01:2e:c1":                                     "",                  // truncated
		"zz":                                                    "",
	} {
		if got := duidMAC(duid); got != want {
			t.Errorf("duidMAC(%s) = %q, want %q", duid, got, want)
		}
	}
}

func TestStaleLeases(t *testing.T) {
	held := vmPort("10.0.0.5", "")
	n := testNetwork(held)
	n.DHCPHosts[1].FixedIPs = append(n.DHCPHosts[1].FixedIPs, dataplane.FixedIP{IP: netip.MustParseAddr("fd00::5")})
	l := func(ip, mac string) lease { return lease{IP: netip.MustParseAddr(ip), MAC: mac} }
	for _, tc := range []struct {
		name  string
		lease lease
		stale bool
	}{
		{"held by its port", l("10.0.0.5", held.MAC), false},
		{"address moved to another MAC", l("10.0.0.5", "fa:16:3e:99:99:99"), true},
		{"address of no port", l("10.0.0.9", held.MAC), true},
		{"IPv6, DUID with the port's MAC", l("fd00::5", held.MAC), false},
		{"IPv6, DUID with another MAC", l("fd00::5", "fa:16:3e:99:99:99"), true},
		{"IPv6, DUID without a MAC, address held", l("fd00::5", ""), false},
		{"IPv6, address of no port", l("fd00::9", ""), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := staleLeases(leaseFile{Leases: []lease{tc.lease}}, n)
			if (len(got) == 1) != tc.stale {
				t.Errorf("stale = %v, want %v", got, tc.stale)
			}
		})
	}
}

func TestDropped(t *testing.T) {
	old := `fa:16:3e:00:00:05,vm-one,10.0.0.5
fa:16:3e:00:00:06,host-10-0-0-6,10.0.0.6
FA:16:3E:00:00:07,vm-three,10.0.0.7
fa:16:3e:00:00:05,tag:dhcpv6,vm-one,[fd00::5]
`
	for _, tc := range []struct {
		name, new string
		want      []lease
	}{
		{"nothing changed", old, nil},
		{"a port deleted", "fa:16:3e:00:00:05,vm-one,10.0.0.5\nfa:16:3e:00:00:07,vm-three,10.0.0.7\n",
			[]lease{{IP: netip.MustParseAddr("10.0.0.6"), MAC: "fa:16:3e:00:00:06"}}},
		{"an address given to another MAC", "fa:16:3e:00:00:05,vm-one,10.0.0.5\nfa:16:3e:00:00:99,vm-four,10.0.0.6\nfa:16:3e:00:00:07,vm-three,10.0.0.7\n",
			[]lease{{IP: netip.MustParseAddr("10.0.0.6"), MAC: "fa:16:3e:00:00:06"}}},
		{"a port renamed", "fa:16:3e:00:00:05,renamed,10.0.0.5\nfa:16:3e:00:00:06,host-10-0-0-6,10.0.0.6\nfa:16:3e:00:00:07,vm-three,10.0.0.7\n", nil},
		{"everything gone (IPv6 entries are the lease file's)", "", []lease{
			{IP: netip.MustParseAddr("10.0.0.5"), MAC: "fa:16:3e:00:00:05"},
			{IP: netip.MustParseAddr("10.0.0.6"), MAC: "fa:16:3e:00:00:06"},
			{IP: netip.MustParseAddr("10.0.0.7"), MAC: "fa:16:3e:00:00:07"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dropped(old, tc.new); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("dropped = %+v, want %+v", got, tc.want)
			}
		})
	}
}
