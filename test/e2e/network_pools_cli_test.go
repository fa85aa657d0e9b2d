package e2e

import (
	"context"
	"strings"
	"testing"
)

// TestNetworkPoolsCLI drives address scopes, subnet pools (and subnets allocated
// from them), address groups (as a security group rule's remote) and trunks with
// the real openstack CLI.
func TestNetworkPoolsCLI(t *testing.T) {
	c := shared
	const demo = "nimbus-demo"
	cleanup := func(args ...string) {
		t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), demo, args...) })
	}

	// An address scope with a pool in it; subnets come from the pool by length.
	var scope row
	scopeName := uniqueName("scope")
	OSJSON(t, c, demo, &scope, "address", "scope", "create", "--ip-version", "4", scopeName)
	cleanup("address", "scope", "delete", str(scope, "id"))
	wantField(t, "address scope create", scope, "ip_version", "4")
	OS(t, c, demo, "address", "scope", "set", "--name", scopeName+"-renamed", str(scope, "id"))
	OSJSON(t, c, demo, &scope, "address", "scope", "show", str(scope, "id"))
	wantField(t, "address scope set", scope, "name", scopeName+"-renamed")
	if out := OS(t, c, demo, "address", "scope", "list", "-f", "value", "-c", "ID"); !strings.Contains(out, str(scope, "id")) {
		t.Fatalf("address scope list lacks %s:\n%s", str(scope, "id"), out)
	}

	var pool row
	poolName := uniqueName("pool")
	OSJSON(t, c, demo, &pool, "subnet", "pool", "create", "--pool-prefix", "10.150.0.0/16", "--default-prefix-length", "26",
		"--address-scope", str(scope, "id"), "--tag", "red", poolName)
	poolID := str(pool, "id")
	cleanup("subnet", "pool", "delete", poolID)
	wantField(t, "subnet pool create", pool, "default_prefixlen", "26")
	wantField(t, "subnet pool create", pool, "address_scope_id", str(scope, "id"))
	wantField(t, "subnet pool create", pool, "tags", "[red]")
	mustFail(t, c, demo, "subnetpools within an address scope must have unique prefixes",
		"subnet", "pool", "create", "--pool-prefix", "10.150.128.0/17", "--address-scope", str(scope, "id"), uniqueName("pool"))

	var net row
	OSJSON(t, c, demo, &net, "network", "create", uniqueName("net"))
	netID := str(net, "id")
	cleanup("network", "delete", netID)
	var sub row
	OSJSON(t, c, demo, &sub, "subnet", "create", "--network", netID, "--subnet-pool", poolID, uniqueName("sub"))
	wantField(t, "subnet from a pool", sub, "cidr", "10.150.0.0/26")
	wantField(t, "subnet from a pool", sub, "subnetpool_id", poolID)
	var small row
	OSJSON(t, c, demo, &small, "subnet", "create", "--network", netID, "--subnet-pool", poolID, "--prefix-length", "28", uniqueName("sub"))
	wantField(t, "subnet by prefix length", small, "cidr", "10.150.0.64/28")
	mustFail(t, c, demo, "Subnet pool has existing allocations", "subnet", "pool", "delete", poolID)
	OS(t, c, demo, "subnet", "pool", "set", "--pool-prefix", "10.151.0.0/16", poolID)
	OSJSON(t, c, demo, &pool, "subnet", "pool", "show", poolID)
	if prefixes := str(pool, "prefixes"); !strings.Contains(prefixes, "10.150.0.0/15") {
		t.Fatalf("prefixes after set --pool-prefix: %s", prefixes)
	}
	OS(t, c, demo, "subnet", "delete", str(small, "id"), str(sub, "id"))

	// An address group as a rule's remote, its addresses added and removed.
	var group row
	OSJSON(t, c, demo, &group, "address", "group", "create", "--address", "10.160.0.1", "--description", "e2e", uniqueName("ag"))
	groupID := str(group, "id")
	cleanup("address", "group", "delete", groupID)
	wantField(t, "address group create", group, "addresses", "[10.160.0.1/32]")
	OS(t, c, demo, "address", "group", "set", "--address", "10.161.0.0/24", groupID)
	OS(t, c, demo, "address", "group", "unset", "--address", "10.160.0.1", groupID)
	OSJSON(t, c, demo, &group, "address", "group", "show", groupID)
	wantField(t, "address group set and unset", group, "addresses", "[10.161.0.0/24]")
	var sg row
	OSJSON(t, c, demo, &sg, "security", "group", "create", uniqueName("sg"))
	cleanup("security", "group", "delete", str(sg, "id"))
	var rule row
	OSJSON(t, c, demo, &rule, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22",
		"--remote-address-group", groupID, str(sg, "id"))
	wantField(t, "rule with an address group", rule, "remote_address_group_id", groupID)
	mustFail(t, c, demo, "is in use on one or more security group rules", "address", "group", "delete", groupID)
	mustFail(t, c, demo, "Invalid value for port 70000", "security", "group", "rule", "create", "--protocol", "tcp",
		"--dst-port", "70000:80000", str(sg, "id"))
	OS(t, c, demo, "security", "group", "rule", "delete", str(rule, "id"))

	// A trunk: a parent port and VLAN sub-ports.
	port := func() string {
		var p row
		OSJSON(t, c, demo, &p, "port", "create", "--network", netID, uniqueName("port"))
		cleanup("port", "delete", str(p, "id"))
		return str(p, "id")
	}
	parent, sub1, sub2 := port(), port(), port()
	var trunk row
	trunkName := uniqueName("trunk")
	OSJSON(t, c, demo, &trunk, "network", "trunk", "create", "--parent-port", parent,
		"--subport", "port="+sub1+",segmentation-type=vlan,segmentation-id=100", trunkName)
	trunkID := str(trunk, "id")
	cleanup("network", "trunk", "delete", trunkID)
	wantField(t, "trunk create", trunk, "status", "DOWN")
	OS(t, c, demo, "network", "trunk", "set", "--subport", "port="+sub2+",segmentation-type=vlan,segmentation-id=101", trunkName)
	subports := OS(t, c, demo, "network", "subport", "list", "--trunk", trunkName, "-f", "value", "-c", "Port")
	if !strings.Contains(subports, sub1) || !strings.Contains(subports, sub2) {
		t.Fatalf("network subport list:\n%s", subports)
	}
	mustFail(t, c, demo, "already in use on trunk", "network", "trunk", "set",
		"--subport", "port="+port()+",segmentation-type=vlan,segmentation-id=100", trunkName)
	mustFail(t, c, demo, "is currently a parent port for trunk", "port", "delete", parent)
	OS(t, c, demo, "network", "trunk", "unset", "--subport", sub1, trunkName)
	OSJSON(t, c, demo, &trunk, "network", "trunk", "show", trunkName)
	if subs := str(trunk, "sub_ports"); strings.Contains(subs, sub1) || !strings.Contains(subs, sub2) {
		t.Fatalf("sub_ports after unset: %s", subs)
	}
	OS(t, c, demo, "network", "trunk", "delete", trunkID)
}
