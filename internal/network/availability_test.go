package network

import "testing"

func TestNetworkIPAvailability(t *testing.T) {
	e := newTestEnv(t, nil)
	netID, subID := e.NetworkWithSubnet(e.DemoToken, "10.0.0.0/24")
	v6 := e.Create(e.DemoToken, "subnets", "subnet", map[string]any{"network_id": netID, "ip_version": 6, "cidr": "fd00::/120"})
	for range 2 {
		e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID})
	}
	empty := e.Create(e.DemoToken, "networks", "network", map[string]any{"name": "empty"})

	show := e.Must(200, "GET", "/v2.0/network-ip-availabilities/"+netID, e.AdminToken, nil)["network_ip_availability"].(map[string]any)
	// 10.0.0.0/24: .2-.254 (253); fd00::/120: ::2-::ff (254). Each port has one of each.
	if show["network_id"] != netID || show["total_ips"] != float64(253+254) || show["used_ips"] != float64(4) ||
		show["project_id"] != e.DemoProject || show["network_name"] != "net-10.0.0.0/24" {
		t.Fatalf("availability %v", show)
	}
	subs := show["subnet_ip_availability"].([]any)
	if len(subs) != 2 {
		t.Fatalf("subnets %v", subs)
	}
	for _, s := range subs {
		m := s.(map[string]any)
		switch m["subnet_id"] {
		case subID:
			if m["total_ips"] != float64(253) || m["used_ips"] != float64(2) || m["ip_version"] != float64(4) || m["cidr"] != "10.0.0.0/24" {
				t.Fatalf("v4 subnet %v", m)
			}
		case v6["id"]:
			if m["total_ips"] != float64(254) || m["used_ips"] != float64(2) {
				t.Fatalf("v6 subnet %v", m)
			}
		default:
			t.Fatalf("unexpected subnet %v", m)
		}
	}
	list := e.Must(200, "GET", "/v2.0/network-ip-availabilities", e.AdminToken, nil)["network_ip_availabilities"].([]any)
	if len(list) != 2 {
		t.Fatalf("list %v", list)
	}
	emptyAvail := e.Must(200, "GET", "/v2.0/network-ip-availabilities/"+empty["id"].(string), e.AdminToken, nil)["network_ip_availability"].(map[string]any)
	if emptyAvail["total_ips"] != float64(0) || len(emptyAvail["subnet_ip_availability"].([]any)) != 0 {
		t.Fatalf("network without subnets %v", emptyAvail)
	}
	if got := e.Must(200, "GET", "/v2.0/network-ip-availabilities?network_id="+netID, e.AdminToken, nil)["network_ip_availabilities"].([]any); len(got) != 1 {
		t.Fatalf("filtered %v", got)
	}
	// Admin's, by default policy.
	if got := e.Must(200, "GET", "/v2.0/network-ip-availabilities", e.DemoToken, nil)["network_ip_availabilities"].([]any); len(got) != 0 {
		t.Fatalf("a member sees %v", got)
	}
	e.Fail(404, "NetworkNotFound", "GET", "/v2.0/network-ip-availabilities/"+netID, e.DemoToken, nil)
	e.Fail(404, "NetworkNotFound", "GET", "/v2.0/network-ip-availabilities/nope", e.AdminToken, nil)
}

func TestAvailabilityZones(t *testing.T) {
	e := newTestEnv(t, nil)
	zones := e.Must(200, "GET", "/v2.0/availability_zones", e.DemoToken, nil)["availability_zones"].([]any)
	if len(zones) != 2 {
		t.Fatalf("zones %v", zones)
	}
	for _, z := range zones {
		m := z.(map[string]any)
		if m["name"] != "nova" || m["state"] != "available" || (m["resource"] != "network" && m["resource"] != "router") {
			t.Fatalf("zone %v", m)
		}
	}
	if got := e.Must(200, "GET", "/v2.0/availability_zones?resource=router", e.DemoToken, nil)["availability_zones"].([]any); len(got) != 1 {
		t.Fatalf("filtered %v", got)
	}
	e.Fail(401, "", "GET", "/v2.0/availability_zones", "", nil)
}
