package metadata

import (
	"encoding/json"
	"net/netip"
	"testing"
)

// TestNetworkData: a port on a static IPv4 subnet (gateway, DNS, a host route) and
// an IPv6 SLAAC one, a port on a DHCP subnet, and a port without addresses, as
// upstream's get_network_metadata renders them.
func TestNetworkData(t *testing.T) {
	a, p := netip.MustParseAddr, netip.MustParsePrefix
	inst := instanceB()
	inst.Ports = []Port{
		{ID: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", NetworkID: "net-1", MAC: "fa:16:3e:11:11:11", MTU: 1500, FixedIPs: []FixedIP{
			{IP: a("192.0.2.10"), SubnetID: "v4", CIDR: p("192.0.2.0/24"), Gateway: a("192.0.2.1"),
				DNSNameservers: []netip.Addr{a("192.0.2.53"), a("8.8.8.8")},
				HostRoutes:     []Route{{Destination: p("198.51.100.7/24"), NextHop: a("192.0.2.254")}}},
			// Upstream renders the first subnet of each family only.
			{IP: a("192.0.3.10"), SubnetID: "v4-second", CIDR: p("192.0.3.0/24"), Gateway: a("192.0.3.1")},
			// Neutron's IPv6 subnets have enable_dhcp too; with an address mode it
			// is that mode, and with no DHCP port the MTU stays.
			{IP: a("2001:db8:1::f816:3eff:fe11:1111"), SubnetID: "v6", CIDR: p("2001:db8:1::/64"), Gateway: a("fe80::1"),
				DNSNameservers: []netip.Addr{a("2001:db8:1::53")}, IPv6AddressMode: "slaac", EnableDHCP: true,
				HostRoutes: []Route{{Destination: p("2001:db8:2::/48"), NextHop: a("2001:db8:1::fe")}}},
		}},
		{ID: "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", NetworkID: "net-2", MAC: "fa:16:3e:22:22:22", MTU: 1450, FixedIPs: []FixedIP{
			{IP: a("10.1.0.4"), SubnetID: "dhcp", CIDR: p("10.1.0.0/24"), Gateway: a("10.1.0.1"), DNSNameservers: []netip.Addr{a("8.8.8.8")},
				EnableDHCP: true, DHCPServer: a("10.1.0.2")},
		}},
		{ID: "cccccccc-cccc-4ccc-8ccc-cccccccccccc", NetworkID: "net-3", MAC: "fa:16:3e:33:33:33", MTU: 1500},
	}
	want := `{"links": [` +
		`{"id": "tapaaaaaaaa-aa", "vif_id": "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "type": "bridge", "mtu": 1500, "ethernet_mac_address": "fa:16:3e:11:11:11"}, ` +
		`{"id": "tapbbbbbbbb-bb", "vif_id": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb", "type": "bridge", "mtu": null, "ethernet_mac_address": "fa:16:3e:22:22:22"}], ` +
		`"networks": [` +
		`{"id": "network0", "type": "ipv4", "link": "tapaaaaaaaa-aa", "ip_address": "192.0.2.10", "netmask": "255.255.255.0", ` +
		`"routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "192.0.2.1"}, {"network": "198.51.100.0", "netmask": "255.255.255.0", "gateway": "192.0.2.254"}], ` +
		`"network_id": "net-1", "services": [{"type": "dns", "address": "192.0.2.53"}, {"type": "dns", "address": "8.8.8.8"}]}, ` +
		`{"id": "network1", "type": "ipv6_slaac", "link": "tapaaaaaaaa-aa", "ip_address": "2001:db8:1:0:f816:3eff:fe11:1111", "netmask": "ffff:ffff:ffff:ffff::", ` +
		`"routes": [{"network": "::", "netmask": "::", "gateway": "fe80::1"}, {"network": "2001:db8:2::", "netmask": "ffff:ffff:ffff::", "gateway": "2001:db8:1::fe"}], ` +
		`"network_id": "net-1", "services": [{"type": "dns", "address": "2001:db8:1::53"}]}, ` +
		`{"id": "network2", "type": "ipv4_dhcp", "link": "tapbbbbbbbb-bb", "network_id": "net-2"}], ` +
		`"services": [{"type": "dns", "address": "192.0.2.53"}, {"type": "dns", "address": "8.8.8.8"}, {"type": "dns", "address": "2001:db8:1::53"}]}`
	h := Handler(newFakeSource(inst), testOptions())
	w := serve(h, request("GET", "/openstack/latest/network_data.json", inst.UUID, inst.ProjectID))
	if w.Code != 200 || w.Body.String() != want {
		t.Fatalf("network_data.json: %d\n%s\nwant\n%s", w.Code, w.Body.String(), want)
	}
	if !json.Valid(w.Body.Bytes()) {
		t.Error("network_data.json is not JSON")
	}
	// EC2 takes the first fixed IPv4 of all ports.
	if w := serve(h, request("GET", "/latest/meta-data/local-ipv4", inst.UUID, inst.ProjectID)); w.Body.String() != "192.0.2.10" {
		t.Errorf("local-ipv4 = %q", w.Body.String())
	}
}

// TestNetworkDataPortsWithoutAddresses: ports but no addresses is empty lists, not
// {} (which is for no ports at all), as upstream.
func TestNetworkDataPortsWithoutAddresses(t *testing.T) {
	inst := instanceB()
	inst.Ports = []Port{{ID: "p", NetworkID: "n", MAC: "fa:16:3e:00:00:01"}}
	d := &document{inst: inst}
	if got, want := string(pyJSON(d.networkData())), `{"links": [], "networks": [], "services": []}`; got != want {
		t.Errorf("network data = %s, want %s", got, want)
	}
}
