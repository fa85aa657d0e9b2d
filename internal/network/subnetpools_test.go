package network

import (
	"net/http"
	"net/netip"
	"slices"
	"testing"
)

// neutronError reads the type and message of a NeutronError answer.
func neutronErrorOf(out map[string]any) (string, string) {
	ne, _ := out["NeutronError"].(map[string]any)
	kind, _ := ne["type"].(string)
	msg, _ := ne["message"].(string)
	return kind, msg
}

// expectError sends a request that must fail with status, type and message.
func (e *testEnv) expectError(status int, kind, message, method, path, token string, body any) {
	e.t.Helper()
	got, out, data := e.Do(method, path, token, body)
	k, m := neutronErrorOf(out)
	if got != status || k != kind || m != message {
		e.t.Errorf("%s %s: %d %s %q, want %d %s %q (body %s)", method, path, got, k, m, status, kind, message, data)
	}
}

func TestSubnetPoolDefaults(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, tc := range []struct {
		prefixes              []any
		version, lo, hi, dflt int
		compacted             []any
	}{
		{[]any{"10.0.0.0/8"}, 4, 8, 32, 8, []any{"10.0.0.0/8"}},
		{[]any{"10.1.0.0/17", "10.1.128.0/17", "10.1.0.0/24"}, 4, 8, 32, 8, []any{"10.1.0.0/16"}},
		{[]any{"fd00::/48"}, 6, 64, 128, 64, []any{"fd00::/48"}},
		{[]any{"10.2.3.4/16"}, 4, 8, 32, 8, []any{"10.2.0.0/16"}}, // host bits, which upstream accepts
	} {
		sp := e.Create(e.DemoToken, "subnetpools", "subnetpool", map[string]any{"name": "p", "prefixes": tc.prefixes})
		if sp["ip_version"] != float64(tc.version) || sp["min_prefixlen"] != float64(tc.lo) || sp["max_prefixlen"] != float64(tc.hi) ||
			sp["default_prefixlen"] != float64(tc.dflt) || !slices.Equal(sp["prefixes"].([]any), tc.compacted) ||
			sp["default_quota"] != nil || sp["address_scope_id"] != nil || sp["is_default"] != false || sp["shared"] != false {
			t.Errorf("%v: %v", tc.prefixes, sp)
		}
	}
}

func TestSubnetPoolValidation(t *testing.T) {
	e := newTestEnv(t, nil)
	pool := func(attrs map[string]any) map[string]any { return map[string]any{"subnetpool": attrs} }
	for _, tc := range []struct {
		name          string
		body          map[string]any
		kind, message string
	}{
		{"no prefixes", pool(map[string]any{"name": "p"}), "HTTPBadRequest", "Failed to parse request. Required attribute 'prefixes' not specified"},
		{"no name", pool(map[string]any{"prefixes": []any{"10.0.0.0/8"}}), "HTTPBadRequest", "Failed to parse request. Required attribute 'name' not specified"},
		{"blank name", pool(map[string]any{"name": " ", "prefixes": []any{"10.0.0.0/8"}}), "HTTPBadRequest",
			"Invalid input for name. Reason: ' ' Blank strings are not permitted."},
		{"an address", pool(map[string]any{"name": "p", "prefixes": []any{"10.0.0.1"}}), "HTTPBadRequest",
			"Invalid input for prefixes. Reason: '10.0.0.1' is not a valid IP subnet."},
		{"not a subnet", pool(map[string]any{"name": "p", "prefixes": []any{"ten"}}), "HTTPBadRequest",
			"Invalid input for prefixes. Reason: 'ten' is not a valid IP subnet."},
		{"duplicates", pool(map[string]any{"name": "p", "prefixes": []any{"10.0.0.0/8", "10.0.0.0/8"}}), "HTTPBadRequest",
			"Invalid input for prefixes. Reason: Duplicate items in the list: '10.0.0.0/8'."},
		{"mixed versions", pool(map[string]any{"name": "p", "prefixes": []any{"10.0.0.0/8", "fd00::/8"}}), "PrefixVersionMismatch",
			"Cannot mix IPv4 and IPv6 prefixes in a subnet pool."},
		{"empty", pool(map[string]any{"name": "p", "prefixes": []any{}}), "EmptySubnetPoolPrefixList", "Empty subnet pool prefix list."},
		{"min over max", pool(map[string]any{"name": "p", "prefixes": []any{"10.0.0.0/8"}, "min_prefixlen": 30, "max_prefixlen": 24}),
			"IllegalSubnetPoolPrefixBounds", "Illegal prefix bounds: min_prefixlen=30, max_prefixlen=24."},
		{"max over bits", pool(map[string]any{"name": "p", "prefixes": []any{"10.0.0.0/8"}, "max_prefixlen": "33"}),
			"IllegalSubnetPoolPrefixBounds", "Illegal prefix bounds: max_prefixlen=33, ip_version_max=32."},
		{"default under min", pool(map[string]any{"name": "p", "prefixes": []any{"10.0.0.0/8"}, "min_prefixlen": 16, "default_prefixlen": 12}),
			"IllegalSubnetPoolPrefixBounds", "Illegal prefix bounds: default_prefixlen=12, min_prefixlen=16."},
		{"a negative length", pool(map[string]any{"name": "p", "prefixes": []any{"10.0.0.0/8"}, "min_prefixlen": -1}),
			"HTTPBadRequest", "Invalid input for min_prefixlen. Reason: '-1' should be non-negative."},
		{"a length that is no integer", pool(map[string]any{"name": "p", "prefixes": []any{"10.0.0.0/8"}, "default_prefixlen": "x"}),
			"InvalidInput", "Invalid input for operation: 'x' is not an integer."},
		{"shared that is no boolean", pool(map[string]any{"name": "p", "prefixes": []any{"10.0.0.0/8"}, "shared": "maybe"}),
			"InvalidInput", "Invalid input for operation: 'maybe' cannot be converted to boolean."},
		{"ip_version is read-only", pool(map[string]any{"name": "p", "prefixes": []any{"10.0.0.0/8"}, "ip_version": 4}),
			"HTTPBadRequest", "Attribute 'ip_version' not allowed in POST"},
		{"an unknown attribute", pool(map[string]any{"name": "p", "prefixes": []any{"10.0.0.0/8"}, "colour": "red"}),
			"HTTPBadRequest", "Unrecognized attribute(s) 'colour'"},
		{"a scope that is no UUID", pool(map[string]any{"name": "p", "prefixes": []any{"10.0.0.0/8"}, "address_scope_id": "x"}),
			"HTTPBadRequest", "Invalid input for address_scope_id. Reason: 'x' is not a valid UUID."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.t = t
			e.expectError(400, tc.kind, tc.message, "POST", "/v2.0/subnetpools", e.DemoToken, tc.body)
		})
	}
	e.t = t
	// Upstream's permissive forms: booleans and integers as strings.
	sp := e.Create(e.AdminToken, "subnetpools", "subnetpool", map[string]any{"name": "p", "prefixes": []any{"10.0.0.0/8"},
		"shared": "True", "min_prefixlen": "16", "default_prefixlen": 24.0, "default_quota": nil})
	if sp["shared"] != true || sp["min_prefixlen"] != float64(16) || sp["default_prefixlen"] != float64(24) {
		t.Errorf("permissive forms: %v", sp)
	}
	e.expectError(400, "HTTPBadRequest", "Cannot update read-only attribute shared", "PUT", "/v2.0/subnetpools/"+sp["id"].(string),
		e.AdminToken, map[string]any{"subnetpool": map[string]any{"shared": false}})
	e.expectError(400, "IllegalSubnetPoolPrefixUpdate", "Illegal update to prefixes: Existing prefixes must be a subset of the new prefixes.",
		"PUT", "/v2.0/subnetpools/"+sp["id"].(string), e.AdminToken, map[string]any{"subnetpool": map[string]any{"prefixes": []any{"11.0.0.0/8"}}})
}

func TestSubnetsFromPool(t *testing.T) {
	e := newTestEnv(t, nil)
	pool := e.Create(e.DemoToken, "subnetpools", "subnetpool", map[string]any{"name": "p", "prefixes": []any{"10.10.0.0/16"},
		"default_prefixlen": 24, "min_prefixlen": 20, "max_prefixlen": 28})
	poolID := pool["id"].(string)
	net := e.Create(e.DemoToken, "networks", "network", map[string]any{"name": "n"})["id"].(string)
	subnet := func(attrs map[string]any) map[string]any {
		attrs["network_id"], attrs["ip_version"], attrs["subnetpool_id"] = net, 4, poolID
		return map[string]any{"subnet": attrs}
	}
	cidrOf := func(attrs map[string]any) string {
		t.Helper()
		return e.Must(201, "POST", "/v2.0/subnets", e.DemoToken, subnet(attrs))["subnet"].(map[string]any)["cidr"].(string)
	}
	// By the default prefix length, by a given one, and a CIDR: never twice.
	first := cidrOf(map[string]any{})
	if first != "10.10.0.0/24" {
		t.Errorf("first subnet %s", first)
	}
	if got := cidrOf(map[string]any{"prefixlen": 28}); got != "10.10.1.0/28" {
		t.Errorf("a /28 took %s, want the first /28 of the smallest free block", got)
	}
	if got := cidrOf(map[string]any{"cidr": "10.10.8.0/24"}); got != "10.10.8.0/24" {
		t.Errorf("a given CIDR: %s", got)
	}
	created := e.Must(201, "POST", "/v2.0/subnets", e.DemoToken, subnet(map[string]any{"prefixlen": "26"}))["subnet"].(map[string]any)
	if created["subnetpool_id"] != poolID || created["gateway_ip"] != "10.10.1.65" {
		t.Errorf("a subnet of the pool: %v", created)
	}
	e.expectError(409, "SubnetAllocationError", "Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.",
		"POST", "/v2.0/subnets", e.DemoToken, subnet(map[string]any{"cidr": "10.10.0.0/24"}))
	e.expectError(409, "SubnetAllocationError", "Failed to allocate subnet: Cannot allocate requested subnet from the available set of prefixes.",
		"POST", "/v2.0/subnets", e.DemoToken, subnet(map[string]any{"cidr": "10.11.0.0/24"}))
	e.expectError(400, "MaxPrefixSubnetAllocationError", "Unable to allocate subnet with prefix length 29, maximum allowed prefix is 28.",
		"POST", "/v2.0/subnets", e.DemoToken, subnet(map[string]any{"prefixlen": 29}))
	e.expectError(400, "MinPrefixSubnetAllocationError", "Unable to allocate subnet with prefix length 16, minimum allowed prefix is 20.",
		"POST", "/v2.0/subnets", e.DemoToken, subnet(map[string]any{"prefixlen": 16}))
	e.expectError(400, "BadRequest", "Bad subnets request: Cannot allocate IPv6 subnet from IPv4 subnet pool.",
		"POST", "/v2.0/subnets", e.DemoToken, map[string]any{"subnet": map[string]any{"network_id": net, "ip_version": 6, "subnetpool_id": poolID}})
	e.expectError(400, "BadRequest", "Bad subnets request: a subnetpool must be specified in the absence of a cidr.",
		"POST", "/v2.0/subnets", e.DemoToken, map[string]any{"subnet": map[string]any{"network_id": net, "ip_version": 4}})
	// A pool with allocations is not deleted, nor are prefixes in use removed.
	e.expectError(400, "SubnetPoolDeleteError", "Unable to delete subnet pool: Subnet pool has existing allocations.",
		"DELETE", "/v2.0/subnetpools/"+poolID, e.DemoToken, nil)
	e.expectError(400, "IllegalSubnetPoolPrefixUpdate", "Illegal update to prefixes: One or more the prefixes to be removed is in use by a subnet..",
		"PUT", "/v2.0/subnetpools/"+poolID+"/remove_prefixes", e.DemoToken, map[string]any{"prefixes": []any{"10.10.0.0/24"}})
	out := e.Must(200, "PUT", "/v2.0/subnetpools/"+poolID+"/add_prefixes", e.DemoToken, map[string]any{"prefixes": []any{"10.11.0.0/16", "192.168.0.0/24"}})
	if !slices.Equal(out["prefixes"].([]any), []any{"10.10.0.0/15", "192.168.0.0/24"}) {
		t.Errorf("add_prefixes: %v", out)
	}
	out = e.Must(200, "PUT", "/v2.0/subnetpools/"+poolID+"/remove_prefixes", e.DemoToken, map[string]any{"prefixes": []any{"10.11.0.0/16"}})
	if !slices.Equal(out["prefixes"].([]any), []any{"10.10.0.0/16", "192.168.0.0/24"}) {
		t.Errorf("remove_prefixes: %v", out)
	}
}

func TestDefaultSubnetPoolAndQuota(t *testing.T) {
	e := newTestEnv(t, nil)
	pool := e.Create(e.AdminToken, "subnetpools", "subnetpool", map[string]any{"name": "default", "prefixes": []any{"10.20.0.0/16"},
		"default_prefixlen": 26, "is_default": true, "shared": true, "default_quota": 128})
	e.expectError(400, "InvalidInput", "Invalid input for operation: A default subnetpool for this IP family has already been set. Only one default may exist per IP family.",
		"POST", "/v2.0/subnetpools", e.AdminToken, map[string]any{"subnetpool": map[string]any{"name": "again", "prefixes": []any{"10.30.0.0/16"}, "is_default": true}})
	e.Fail(403, "", "POST", "/v2.0/subnetpools", e.DemoToken, map[string]any{"subnetpool": map[string]any{"name": "mine",
		"prefixes": []any{"10.40.0.0/16"}, "is_default": true}})
	net := e.Create(e.DemoToken, "networks", "network", map[string]any{"name": "n"})["id"].(string)
	byDefault := map[string]any{"subnet": map[string]any{"network_id": net, "ip_version": 4, "use_default_subnetpool": true}}
	sub := e.Must(201, "POST", "/v2.0/subnets", e.DemoToken, byDefault)["subnet"].(map[string]any)
	if sub["subnetpool_id"] != pool["id"] || sub["cidr"] != "10.20.0.0/26" {
		t.Errorf("from the default pool: %v", sub)
	}
	// 64 addresses used of 128: a second /26 fits, a third is over the quota.
	e.Must(201, "POST", "/v2.0/subnets", e.DemoToken, byDefault)
	e.expectError(409, "SubnetPoolQuotaExceeded", "Per-project subnet pool prefix quota exceeded.", "POST", "/v2.0/subnets", e.DemoToken, byDefault)
	e.expectError(400, "BadRequest", "Bad subnets request: No default subnetpool found for IPv6.", "POST", "/v2.0/subnets", e.DemoToken,
		map[string]any{"subnet": map[string]any{"network_id": net, "ip_version": 6, "use_default_subnetpool": "true"}})
	e.expectError(400, "BadRequest", "Bad subnets request: subnetpool_id and use_default_subnetpool cannot both be specified.", "POST", "/v2.0/subnets",
		e.DemoToken, map[string]any{"subnet": map[string]any{"network_id": net, "ip_version": 4, "use_default_subnetpool": true, "subnetpool_id": pool["id"]}})
}

func TestAddressScopes(t *testing.T) {
	e := newTestEnv(t, nil)
	scope := func(attrs map[string]any) map[string]any { return map[string]any{"address_scope": attrs} }
	e.expectError(400, "HTTPBadRequest", "Failed to parse request. Required attribute 'ip_version' not specified", "POST", "/v2.0/address-scopes",
		e.DemoToken, scope(map[string]any{"name": "s"}))
	e.expectError(400, "HTTPBadRequest", "Invalid input for ip_version. Reason: 5 is not in valid_values.", "POST", "/v2.0/address-scopes",
		e.DemoToken, scope(map[string]any{"name": "s", "ip_version": 5}))
	e.expectError(400, "InvalidInput", "Invalid input for operation: 'four' is not an integer.", "POST", "/v2.0/address-scopes",
		e.DemoToken, scope(map[string]any{"name": "s", "ip_version": "four"}))
	e.Fail(403, "", "POST", "/v2.0/address-scopes", e.DemoToken, scope(map[string]any{"name": "s", "ip_version": 4, "shared": true}))
	s := e.Create(e.DemoToken, "address-scopes", "address_scope", map[string]any{"name": "s", "ip_version": "4"})
	keys := []string{}
	for k := range s {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"id", "ip_version", "name", "project_id", "shared", "tenant_id"}) {
		t.Errorf("address scope keys %v", keys)
	}
	id := s["id"].(string)
	e.expectError(400, "HTTPBadRequest", "Cannot update read-only attribute ip_version", "PUT", "/v2.0/address-scopes/"+id, e.DemoToken,
		scope(map[string]any{"ip_version": 6}))
	// A pool joins the scope; two pools of a scope never overlap; a scope in use stays.
	pool := map[string]any{"name": "p", "prefixes": []any{"10.50.0.0/16"}, "address_scope_id": id}
	p := e.Create(e.DemoToken, "subnetpools", "subnetpool", pool)
	e.expectError(409, "AddressScopePrefixConflict", "Failed to associate address scope: subnetpools within an address scope must have unique prefixes.",
		"POST", "/v2.0/subnetpools", e.DemoToken, map[string]any{"subnetpool": pool})
	v6 := e.Create(e.DemoToken, "address-scopes", "address_scope", map[string]any{"name": "s6", "ip_version": 6})["id"].(string)
	e.expectError(400, "IllegalSubnetPoolIpVersionAssociationToAddressScope", "Illegal subnetpool association: subnetpool "+p["id"].(string)+
		" cannot associate with address scope "+v6+" because subnetpool ip_version is not 6.",
		"PUT", "/v2.0/subnetpools/"+p["id"].(string), e.DemoToken, map[string]any{"subnetpool": map[string]any{"address_scope_id": v6}})
	e.expectError(409, "AddressScopeInUse", "Unable to complete operation on address scope "+id+". There are one or more subnet pools in use on the address scope.",
		"DELETE", "/v2.0/address-scopes/"+id, e.DemoToken, nil)
	other, _ := e.NewProjectUser("scope-stranger")
	e.Fail(404, "AddressScopeNotFound", "GET", "/v2.0/address-scopes/"+id, other, nil)
	// A network with a subnet of the scope's pool is in the scope.
	net := e.Create(e.DemoToken, "networks", "network", map[string]any{"name": "scoped"})["id"].(string)
	sub := e.Create(e.DemoToken, "subnets", "subnet", map[string]any{"network_id": net, "ip_version": 4, "subnetpool_id": p["id"], "prefixlen": 24})
	shown := e.Must(200, "GET", "/v2.0/networks/"+net, e.DemoToken, nil)["network"].(map[string]any)
	if shown["ipv4_address_scope"] != id || shown["ipv6_address_scope"] != nil {
		t.Errorf("network scopes %v %v", shown["ipv4_address_scope"], shown["ipv6_address_scope"])
	}
	e.Must(204, "DELETE", "/v2.0/subnets/"+sub["id"].(string), e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.0/subnetpools/"+p["id"].(string), e.DemoToken, nil)
	e.Must(204, "DELETE", "/v2.0/address-scopes/"+id, e.DemoToken, nil)
}

func TestPrefixSets(t *testing.T) {
	pfx := func(list ...string) []netip.Prefix {
		var out []netip.Prefix
		for _, s := range list {
			out = append(out, netip.MustParsePrefix(s))
		}
		return out
	}
	for _, tc := range []struct {
		set, used, want []netip.Prefix
	}{
		{pfx("10.0.0.0/24"), pfx("10.0.0.0/26"), pfx("10.0.0.64/26", "10.0.0.128/25")},
		{pfx("10.0.0.0/24"), pfx("10.0.0.128/25", "10.0.0.0/25"), nil},
		{pfx("10.0.0.0/24"), pfx("10.0.0.0/8"), nil},
		{pfx("10.0.0.0/24"), pfx("192.168.0.0/16"), pfx("10.0.0.0/24")},
		{pfx("fd00::/62"), pfx("fd00::/64"), pfx("fd00:0:0:1::/64", "fd00:0:0:2::/63")},
	} {
		if got := compact(subtractAll(tc.set, tc.used)); !slices.Equal(got, tc.want) {
			t.Errorf("%v - %v = %v, want %v", tc.set, tc.used, got, tc.want)
		}
	}
	if got := compact(pfx("10.0.1.0/24", "10.0.0.0/24", "10.0.0.0/25", "10.0.2.0/23")); !slices.Equal(got, pfx("10.0.0.0/22")) {
		t.Errorf("compact: %v", got)
	}
	_ = http.StatusOK
}
