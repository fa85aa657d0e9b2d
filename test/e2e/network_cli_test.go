package e2e

import (
	"context"
	"strings"
	"testing"
)

// TestNetworkCLI drives the network service with the real openstack CLI, as the
// reference documents use it: networks of each type, subnets, ports, security groups,
// with list/show/set/delete, and upstream's errors for bad input.
func TestNetworkCLI(t *testing.T) {
	c := shared
	const admin, demo = "nimbus-admin", "nimbus-demo"
	cleanup := func(cloud string, args ...string) {
		t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), cloud, args...) })
	}

	// A tenant network gets a VXLAN segment from the pool; admins choose explicitly.
	name := uniqueName("net")
	var net row
	OSJSON(t, c, demo, &net, "network", "create", "--description", "e2e", name)
	netID := str(net, "id")
	cleanup(demo, "network", "delete", netID)
	wantField(t, "network create", net, "status", "ACTIVE")
	wantField(t, "network create", net, "mtu", "1450")
	OSJSON(t, c, admin, &net, "network", "show", netID)
	wantField(t, "network show as admin", net, "provider:network_type", "vxlan")

	physnet := uniqueName("physnet")
	var flat row
	OSJSON(t, c, admin, &flat, "network", "create", "--provider-network-type", "flat", "--provider-physical-network", physnet,
		"--external", "--share", uniqueName("flat"))
	cleanup(admin, "network", "delete", str(flat, "id"))
	wantField(t, "flat network", flat, "provider:network_type", "flat")
	wantField(t, "flat network", flat, "router:external", "true")
	wantField(t, "flat network", flat, "shared", "true")
	var local row
	OSJSON(t, c, admin, &local, "network", "create", "--provider-network-type", "local", uniqueName("local"))
	cleanup(admin, "network", "delete", str(local, "id"))
	wantField(t, "local network", local, "provider:network_type", "local")
	wantField(t, "local network", local, "mtu", "1500")
	var vx row
	OSJSON(t, c, admin, &vx, "network", "create", "--provider-network-type", "vxlan", "--provider-segment", "1999", uniqueName("vx"))
	cleanup(admin, "network", "delete", str(vx, "id"))
	wantField(t, "vxlan network", vx, "provider:segmentation_id", "1999")
	mustFail(t, c, admin, "1999", "network", "create", "--provider-network-type", "vxlan", "--provider-segment", "1999", uniqueName("vx"))
	mustFail(t, c, demo, "disallowed by policy", "network", "create", "--external", uniqueName("ext"))
	mustFail(t, c, demo, "disallowed by policy", "network", "create", "--provider-network-type", "local", uniqueName("l"))

	// Subnets: pools, gateway, DNS, host routes, no DHCP; overlap in one network is refused.
	var sub row
	OSJSON(t, c, demo, &sub, "subnet", "create", "--network", netID, "--subnet-range", "10.20.0.0/24",
		"--allocation-pool", "start=10.20.0.10,end=10.20.0.100", "--gateway", "10.20.0.1", "--dns-nameserver", "10.20.0.53",
		"--host-route", "destination=10.99.0.0/16,gateway=10.20.0.254", uniqueName("sub"))
	subID := str(sub, "id")
	wantField(t, "subnet create", sub, "gateway_ip", "10.20.0.1")
	if pools := str(sub, "allocation_pools"); !strings.Contains(pools, "10.20.0.10") || !strings.Contains(pools, "10.20.0.100") {
		t.Fatalf("allocation_pools = %s", pools)
	}
	if routes := str(sub, "host_routes"); !strings.Contains(routes, "10.99.0.0/16") {
		t.Fatalf("host_routes = %s", routes)
	}
	var nodhcp row
	OSJSON(t, c, demo, &nodhcp, "subnet", "create", "--network", netID, "--subnet-range", "10.21.0.0/24", "--no-dhcp", uniqueName("sub"))
	wantField(t, "subnet --no-dhcp", nodhcp, "enable_dhcp", "false")
	mustFail(t, c, demo, "overlaps", "subnet", "create", "--network", netID, "--subnet-range", "10.20.0.128/25", uniqueName("sub"))
	OS(t, c, demo, "subnet", "set", "--name", "renamed-sub", "--dns-nameserver", "10.20.0.54", subID)
	OSJSON(t, c, demo, &sub, "subnet", "show", subID)
	wantField(t, "subnet set", sub, "name", "renamed-sub")

	// Ports: the first free address of the pool, a chosen address and MAC, errors.
	var port row
	OSJSON(t, c, demo, &port, "port", "create", "--network", netID, "--fixed-ip", "subnet="+subID, uniqueName("port"))
	portID := str(port, "id")
	if ips := str(port, "fixed_ips"); !strings.Contains(ips, "10.20.0.10") {
		t.Fatalf("fixed_ips = %s, want the pool's first address", ips)
	}
	if mac := str(port, "mac_address"); !strings.HasPrefix(mac, "fa:16:3e:") {
		t.Fatalf("mac %s", mac)
	}
	var chosen row
	OSJSON(t, c, demo, &chosen, "port", "create", "--network", netID, "--fixed-ip", "subnet="+subID+",ip-address=10.20.0.77",
		"--mac-address", "fa:16:3e:00:00:77", uniqueName("port"))
	wantField(t, "port with MAC", chosen, "mac_address", "fa:16:3e:00:00:77")
	mustFail(t, c, demo, "already allocated", "port", "create", "--network", netID, "--fixed-ip", "subnet="+subID+",ip-address=10.20.0.77", uniqueName("port"))
	mustFail(t, c, demo, "not a valid IP", "port", "create", "--network", netID, "--fixed-ip", "ip-address=192.0.2.1", uniqueName("port"))
	mustFail(t, c, demo, "still in use", "network", "delete", netID)

	// Security groups: a group with rules, put on the port.
	sgName := uniqueName("sg")
	var sg row
	OSJSON(t, c, demo, &sg, "security", "group", "create", sgName)
	sgID := str(sg, "id")
	var icmp, ssh row
	OSJSON(t, c, demo, &icmp, "security", "group", "rule", "create", "--protocol", "icmp", "--ingress", sgID)
	OSJSON(t, c, demo, &ssh, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "--ingress", sgID)
	wantField(t, "rule create", ssh, "port_range_min", "22")
	mustFail(t, c, demo, "already exists", "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "--ingress", sgID)
	var rules []row
	OSJSON(t, c, demo, &rules, "security", "group", "rule", "list", sgID)
	if len(rules) != 4 {
		t.Fatalf("rules of %s = %v, want 2 egress + 2 added", sgName, rules)
	}
	OS(t, c, demo, "port", "set", "--security-group", sgID, "--name", "with-sg", portID)
	OSJSON(t, c, demo, &port, "port", "show", portID)
	wantField(t, "port set", port, "name", "with-sg")
	if groups := str(port, "security_group_ids"); !strings.Contains(groups, sgID) {
		t.Fatalf("port groups %s lack %s", groups, sgID)
	}
	mustFail(t, c, demo, "in use", "security", "group", "delete", sgID)
	OS(t, c, demo, "security", "group", "rule", "delete", str(icmp, "id"))
	OS(t, c, demo, "security", "group", "set", "--description", "web", sgID)

	var ports []row
	OSJSON(t, c, demo, &ports, "port", "list", "--network", netID)
	if len(ports) != 2 {
		t.Fatalf("port list = %v", ports)
	}
	OS(t, c, demo, "port", "delete", portID, str(chosen, "id"))
	OS(t, c, demo, "security", "group", "delete", sgID)
	OS(t, c, demo, "subnet", "delete", subID)
	OS(t, c, demo, "network", "delete", netID)
	if _, err := c.OpenStack(context.Background(), demo, "network", "show", netID); err == nil {
		t.Fatal("network still there after delete")
	}
}

// TestDefaultNetworks checks that a new cloud has devstack's networks: the external
// "public" any project can see, the demo project's own "private" and its "router1"
// between them.
func TestDefaultNetworks(t *testing.T) {
	c := shared
	var public, private row
	OSJSON(t, c, "nimbus-demo", &public, "network", "show", "public")
	wantField(t, "public", public, "router:external", "true")
	OSJSON(t, c, "nimbus-admin", &public, "network", "show", "public")
	wantField(t, "public", public, "provider:network_type", "flat")
	OSJSON(t, c, "nimbus-demo", &private, "network", "show", "private")
	var sub row
	OSJSON(t, c, "nimbus-demo", &sub, "subnet", "show", "private-subnet")
	wantField(t, "private-subnet", sub, "cidr", "10.0.0.0/26")
	wantField(t, "private-subnet", sub, "network_id", str(private, "id"))
	var psub row
	OSJSON(t, c, "nimbus-admin", &psub, "subnet", "show", "public-subnet")
	wantField(t, "public-subnet", psub, "enable_dhcp", "false")
	// router1 joins them, as devstack's.
	var router row
	OSJSON(t, c, "nimbus-demo", &router, "router", "show", "router1")
	if gw, _ := router["external_gateway_info"].(map[string]any); gw == nil || gw["network_id"] != str(public, "id") {
		t.Fatalf("router1's gateway = %v, want the public network %s", router["external_gateway_info"], str(public, "id"))
	}
	var ifaces []row
	OSJSON(t, c, "nimbus-demo", &ifaces, "port", "list", "--router", "router1", "--network", "private")
	if len(ifaces) != 1 {
		t.Fatalf("router1's ports on private: %v, want one interface", ifaces)
	}
}
