package network

import (
	"context"
	"net/http"
	"net/netip"
	"slices"
	"testing"
)

// TestSubnetIPv6Modes checks ipv6_ra_mode and ipv6_address_mode as upstream
// validates them, in its order, with its messages; and that they are stored,
// shown and read-only.
func TestSubnetIPv6Modes(t *testing.T) {
	e := newTestEnv(t, nil)
	net := e.Create(e.DemoToken, "networks", "network", map[string]any{"name": "v6"})["id"].(string)
	for _, tc := range []struct {
		name          string
		attrs         map[string]any
		status        int
		kind, message string
	}{
		{"an unknown mode", map[string]any{"ip_version": 6, "cidr": "fd00:1::/64", "ipv6_ra_mode": "dhcp"},
			400, "HTTPBadRequest", "Invalid input for ipv6_ra_mode. Reason: dhcp is not in valid_values."},
		{"an unknown address mode", map[string]any{"ip_version": 6, "cidr": "fd00:1::/64", "ipv6_address_mode": "auto"},
			400, "HTTPBadRequest", "Invalid input for ipv6_address_mode. Reason: auto is not in valid_values."},
		{"a mode on IPv4", map[string]any{"ip_version": 4, "cidr": "10.9.0.0/24", "ipv6_ra_mode": "slaac"},
			400, "InvalidInput", "Invalid input for operation: ipv6_ra_mode is not valid when ip_version is 4."},
		{"an address mode on IPv4", map[string]any{"ip_version": 4, "cidr": "10.9.0.0/24", "ipv6_address_mode": "slaac"},
			400, "InvalidInput", "Invalid input for operation: ipv6_address_mode is not valid when ip_version is 4."},
		{"modes without DHCP", map[string]any{"ip_version": 6, "cidr": "fd00:1::/64", "enable_dhcp": false, "ipv6_address_mode": "dhcpv6-stateful"},
			400, "InvalidInput", "Invalid input for operation: ipv6_ra_mode or ipv6_address_mode cannot be set when enable_dhcp is set to False."},
		{"two different modes", map[string]any{"ip_version": 6, "cidr": "fd00:1::/64", "ipv6_ra_mode": "slaac", "ipv6_address_mode": "dhcpv6-stateful"},
			400, "InvalidInput", "Invalid input for operation: ipv6_ra_mode set to 'slaac' with ipv6_address_mode set to 'dhcpv6-stateful' is not valid. If both attributes are set, they must be the same value."},
		{"SLAAC on a /80", map[string]any{"ip_version": 6, "cidr": "fd00:1::/80", "ipv6_address_mode": "slaac"},
			400, "InvalidInput", "Invalid input for operation: Invalid CIDR fd00:1::/80 for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64."},
		{"stateless RA only on a /56", map[string]any{"ip_version": 6, "cidr": "fd00:1::/56", "ipv6_ra_mode": "dhcpv6-stateless"},
			400, "InvalidInput", "Invalid input for operation: Invalid CIDR fd00:1::/56 for IPv6 address mode. OpenStack uses the EUI-64 address format, which requires the prefix to be /64."},
		{"stateful on a /80 is fine", map[string]any{"ip_version": 6, "cidr": "fd00:2::/80", "ipv6_ra_mode": "dhcpv6-stateful", "ipv6_address_mode": "dhcpv6-stateful"},
			201, "", ""},
		{"an RA mode alone", map[string]any{"ip_version": 6, "cidr": "fd00:3::/64", "ipv6_ra_mode": "slaac"}, 201, "", ""},
		{"explicit nulls", map[string]any{"ip_version": 6, "cidr": "fd00:4::/64", "ipv6_ra_mode": nil, "ipv6_address_mode": nil}, 201, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attrs := map[string]any{"network_id": net}
			for k, v := range tc.attrs {
				attrs[k] = v
			}
			status, out, data := e.Do("POST", "/v2.0/subnets", e.DemoToken, map[string]any{"subnet": attrs})
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, data)
			}
			if tc.status != 201 {
				ne, _ := out["NeutronError"].(map[string]any)
				if ne["type"] != tc.kind || ne["message"] != tc.message {
					t.Fatalf("error %s, want %s %q", data, tc.kind, tc.message)
				}
				return
			}
			sub := out["subnet"].(map[string]any)
			for _, k := range []string{"ipv6_ra_mode", "ipv6_address_mode"} {
				if sub[k] != tc.attrs[k] {
					t.Errorf("%s = %v, want %v", k, sub[k], tc.attrs[k])
				}
			}
		})
	}

	s := e.Create(e.DemoToken, "subnets", "subnet", map[string]any{"network_id": net, "ip_version": 6, "cidr": "fd00:9::/64",
		"ipv6_ra_mode": "dhcpv6-stateful", "ipv6_address_mode": "dhcpv6-stateful"})
	path := "/v2.0/subnets/" + s["id"].(string)
	e.Fail(400, "HTTPBadRequest", "PUT", path, e.DemoToken, map[string]any{"subnet": map[string]any{"ipv6_ra_mode": "slaac"}})
	status, out, data := e.Do("PUT", path, e.DemoToken, map[string]any{"subnet": map[string]any{"enable_dhcp": false}})
	if ne, _ := out["NeutronError"].(map[string]any); status != 400 || ne["message"] != "Invalid input for operation: Cannot disable enable_dhcp with ipv6 attributes set." {
		t.Fatalf("disabling DHCP with modes set: %d %s", status, data)
	}
	e.Must(200, "PUT", path, e.DemoToken, map[string]any{"subnet": map[string]any{"name": "renamed"}})
}

// TestAutoAddresses checks ports on slaac and dhcpv6-stateless subnets: their
// EUI-64 address (from the port's MAC, not the pools), also on a subnet added
// later and for the DHCP port; an explicit other address refused as upstream;
// router interfaces take the gateway instead; deleting the subnet takes the
// addresses along.
func TestAutoAddresses(t *testing.T) {
	e := newTestEnv(t, nil)
	ctx := context.Background()
	net := e.Create(e.DemoToken, "networks", "network", map[string]any{"name": "auto"})["id"].(string)
	v4 := e.Create(e.DemoToken, "subnets", "subnet", map[string]any{"network_id": net, "ip_version": 4, "cidr": "10.5.0.0/24"})["id"].(string)
	before := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": net})
	slaac := e.Create(e.DemoToken, "subnets", "subnet", map[string]any{"network_id": net, "ip_version": 6, "cidr": "fd00:5::/64",
		"ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"})["id"].(string)
	stateful := e.Create(e.DemoToken, "subnets", "subnet", map[string]any{"network_id": net, "ip_version": 6, "cidr": "fd00:6::/64",
		"ipv6_ra_mode": "dhcpv6-stateful", "ipv6_address_mode": "dhcpv6-stateful"})["id"].(string)
	mac := "fa:16:3e:12:34:56"
	const eui = "fd00:5::f816:3eff:fe12:3456"

	ips := func(p map[string]any) map[string]string {
		out := map[string]string{}
		for _, f := range p["fixed_ips"].([]any) {
			m := f.(map[string]any)
			out[m["subnet_id"].(string)] = m["ip_address"].(string)
		}
		return out
	}
	show := func(id string) map[string]any {
		return e.Must(200, "GET", "/v2.0/ports/"+id, e.DemoToken, nil)["port"].(map[string]any)
	}
	p := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": net, "mac_address": mac})
	if got := ips(p); got[slaac] != eui || got[v4] != "10.5.0.3" || got[stateful] != "fd00:6::2" || len(got) != 3 {
		t.Fatalf("a new port's addresses: %v", got)
	}
	if got := ips(show(before["id"].(string))); got[slaac] == "" || got[v4] == "" {
		t.Fatalf("a port from before the SLAAC subnet: %v", got)
	}
	beforeEUI, _ := eui64(netip.MustParsePrefix("fd00:5::/64"), before["mac_address"].(string))
	if ips(show(before["id"].(string)))[slaac] != beforeEUI.String() {
		t.Fatalf("the earlier port's SLAAC address is not its EUI-64 %s", beforeEUI)
	}

	for i, tc := range []struct {
		name     string
		fixedIPs []any
		status   int
		want     map[string]string // subnet -> address
	}{
		{"only the stateful subnet: the SLAAC address comes too", []any{map[string]any{"subnet_id": stateful}}, 201,
			map[string]string{stateful: "fd00:6::3", slaac: "fd00:5::f816:3eff:fe00:aa01"}},
		{"the SLAAC subnet by ID: its EUI-64 address", []any{map[string]any{"subnet_id": slaac}}, 201,
			map[string]string{slaac: "fd00:5::f816:3eff:fe00:aa02"}},
		{"its own EUI-64 address by value", []any{map[string]any{"ip_address": "fd00:5::f816:3eff:fe00:aa03"}}, 201,
			map[string]string{slaac: "fd00:5::f816:3eff:fe00:aa03"}},
		{"another address on the SLAAC subnet", []any{map[string]any{"subnet_id": slaac, "ip_address": "fd00:5::99"}}, 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			attrs := map[string]any{"network_id": net, "mac_address": "fa:16:3e:00:aa:0" + string(rune('1'+i)), "fixed_ips": tc.fixedIPs}
			status, out, data := e.Do("POST", "/v2.0/ports", e.DemoToken, map[string]any{"port": attrs})
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, data)
			}
			if tc.status != 201 {
				ne, _ := out["NeutronError"].(map[string]any)
				if ne["type"] != "AllocationOnAutoAddressSubnet" ||
					ne["message"] != "IPv6 address fd00:5::99 cannot be directly assigned to a port on subnet "+slaac+" as the subnet is configured for automatic addresses" {
					t.Fatalf("error %s", data)
				}
				return
			}
			if got := ips(out["port"].(map[string]any)); len(got) != len(tc.want) || !mapsEqual(got, tc.want) {
				t.Fatalf("addresses %v, want %v", got, tc.want)
			}
		})
	}

	// A router interface on the SLAAC subnet holds its gateway, no EUI-64 address.
	router := e.Create(e.DemoToken, "routers", "router", map[string]any{"name": "r"})["id"].(string)
	iface := e.Must(200, "PUT", routerPath(router, "add_router_interface"), e.DemoToken, map[string]any{"subnet_id": slaac})
	rp := show(iface["port_id"].(string))
	if got := ips(rp); len(got) != 1 || got[slaac] != "fd00:5::1" {
		t.Fatalf("the router interface's addresses: %v", got)
	}
	e.Must(200, "PUT", routerPath(router, "remove_router_interface"), e.DemoToken, map[string]any{"subnet_id": slaac})

	// The DHCP port gets the EUI-64 address of its MAC.
	if err := e.Network.EnsureDHCPPorts(ctx, "nn"); err != nil {
		t.Fatal(err)
	}
	dhcp := e.Must(200, "GET", "/v2.0/ports?device_owner=network:dhcp&network_id="+net, e.AdminToken, nil)["ports"].([]any)[0].(map[string]any)
	wantEUI, _ := eui64(netip.MustParsePrefix("fd00:5::/64"), dhcp["mac_address"].(string))
	if got := ips(dhcp); got[slaac] != wantEUI.String() || got[stateful] == "" || got[v4] == "" {
		t.Fatalf("the DHCP port's addresses: %v (want %s on the SLAAC subnet)", got, wantEUI)
	}

	// The SLAAC subnet can be deleted with ports on it: their addresses go.
	e.Must(http.StatusNoContent, "DELETE", "/v2.0/subnets/"+slaac, e.DemoToken, nil)
	if got := ips(show(p["id"].(string))); got[slaac] != "" || len(got) != 2 {
		t.Fatalf("addresses after deleting the SLAAC subnet: %v", got)
	}
	e.Fail(409, "SubnetInUse", "DELETE", "/v2.0/subnets/"+stateful, e.DemoToken, nil)
}

func mapsEqual(a, b map[string]string) bool {
	keys := func(m map[string]string) []string {
		var out []string
		for k, v := range m {
			out = append(out, k+"="+v)
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(keys(a), keys(b))
}

// TestEUI64 checks the interface identifier against upstream's (netaddr's) result.
func TestEUI64(t *testing.T) {
	for _, tc := range []struct{ prefix, mac, want string }{
		{"2001:db8::/64", "fa:16:3e:12:34:56", "2001:db8::f816:3eff:fe12:3456"},
		{"fd00:1:2:3::/64", "00:00:00:00:00:01", "fd00:1:2:3:200:ff:fe00:1"},
		{"fd00:1:2:3:4::/64", "02:00:00:00:00:01", "fd00:1:2:3:0:ff:fe00:1"}, // the masked prefix
	} {
		got, ok := eui64(netip.MustParsePrefix(tc.prefix), tc.mac)
		if !ok || got.String() != tc.want {
			t.Errorf("eui64(%s, %s) = %s, %v; want %s", tc.prefix, tc.mac, got, ok, tc.want)
		}
	}
	if _, ok := eui64(netip.MustParsePrefix("10.0.0.0/24"), "fa:16:3e:12:34:56"); ok {
		t.Error("an IPv4 prefix made an EUI-64 address")
	}
}
