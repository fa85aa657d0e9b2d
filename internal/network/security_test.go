package network

import (
	"net/http"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// personas returns the matrix's callers by name, with the owning project's id.
func (e *testEnv) personas(project string) (map[string]policytest.Persona, string) {
	e.t.Helper()
	list, owner := e.identity.Personas(project)
	out := map[string]policytest.Persona{}
	for _, p := range list {
		out[p.Name] = p
	}
	return out, owner
}

// FailWith sends a request that must fail with status and Neutron error type kind,
// and whose message contains message.
func (e *testEnv) FailWith(status int, kind, message, method, path, token string, body any) {
	e.t.Helper()
	got, out, data := e.Do(method, path, token, body)
	ne, _ := out["NeutronError"].(map[string]any)
	if got != status || ne == nil || (kind != "" && ne["type"] != kind) || !strings.Contains(ne["message"].(string), message) {
		e.t.Fatalf("%s %s: %d %s, want %d %s %q", method, path, got, data, status, kind, message)
	}
}

// portBody is a port create or update request.
func portReq(attrs map[string]any) map[string]any { return map[string]any{"port": attrs} }

// TestReadersCannotWriteNetworking is finding 4 of issue 16: a reader of a project
// made ports and subnets on its networks, opened a member's port to every address
// (allowed_address_pairs 0.0.0.0/0) and deleted it, because the network_owner rule
// checked no role. Upstream's defaults want role member with ownership for writes.
func TestReadersCannotWriteNetworking(t *testing.T) {
	e := newTestEnv(t, nil)
	who, _ := e.personas("readers")
	member, reader := who[policytest.Member].Token, who[policytest.Reader].Token
	netID, subID := e.NetworkWithSubnet(member, "10.40.0.0/24")
	port := e.Create(member, "ports", "port", map[string]any{"network_id": netID, "name": "members"})
	portPath := "/v2.0/ports/" + port["id"].(string)

	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "POST", "/v2.0/ports", reader, portReq(map[string]any{"network_id": netID}))
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "POST", "/v2.0/subnets", reader,
		map[string]any{"subnet": map[string]any{"network_id": netID, "ip_version": 4, "cidr": "10.41.0.0/24"}})
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "PUT", portPath, reader,
		portReq(map[string]any{"allowed_address_pairs": []any{map[string]any{"ip_address": "0.0.0.0/0"}}}))
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "PUT", portPath, reader, portReq(map[string]any{"name": "readers"}))
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "DELETE", portPath, reader, nil)
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "PUT", "/v2.0/subnets/"+subID, reader,
		map[string]any{"subnet": map[string]any{"name": "readers"}})
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "DELETE", "/v2.0/subnets/"+subID, reader, nil)
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "PUT", "/v2.0/ports/"+port["id"].(string)+"/tags/x", reader, nil)

	// The member's port is as it was, and the reader still reads it.
	got := e.Must(http.StatusOK, "GET", portPath, reader, nil)["port"].(map[string]any)
	if pairs := got["allowed_address_pairs"].([]any); len(pairs) != 0 || got["name"] != "members" {
		t.Fatalf("port after the reader's attempts: %v", got)
	}
	if ports := e.Must(http.StatusOK, "GET", "/v2.0/ports?network_id="+netID, member, nil)["ports"].([]any); len(ports) != 1 {
		t.Fatalf("ports on the network: %v", ports)
	}
}

// TestRouterInterfaceNeedsTheSubnetsOwner is finding 5: a tenant attached its router
// to a subnet of a shared network it did not own, taking the subnet's gateway
// address (and with an extra route, every tenant's traffic). Upstream refuses a
// router interface on a subnet of another project (LP#1757482), and a port whose
// address is outside the allocation pools of a subnet the caller does not own.
func TestRouterInterfaceNeedsTheSubnetsOwner(t *testing.T) {
	e := newTestEnv(t, nil)
	shared := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "shared", "shared": true})
	sharedID := shared["id"].(string)
	sharedSub := e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": sharedID, "ip_version": 4,
		"cidr": "10.50.0.0/24"})["id"].(string)
	tenant, tenantProject := e.NewProjectUser("tenant")
	router := e.Create(tenant, "routers", "router", map[string]any{"name": "r"})["id"].(string)

	e.FailWith(http.StatusBadRequest, "BadRequest", "Bad router request: Cannot add interface to router because subnet "+
		sharedSub+" is not owned by project making the request.",
		"PUT", routerPath(router, "add_router_interface"), tenant, map[string]any{"subnet_id": sharedSub})
	if held := e.Must(http.StatusOK, "GET", "/v2.0/ports?fixed_ips=ip_address%3D10.50.0.1", e.AdminToken, nil)["ports"].([]any); len(held) != 0 {
		t.Fatalf("the shared subnet's gateway is held: %v", held)
	}

	// By port: another project's port is not found; the tenant's own port with the
	// gateway address (outside the pools, placed there by an admin) is refused.
	others := e.Create(e.AdminToken, "ports", "port", map[string]any{"network_id": sharedID})
	e.Fail(http.StatusNotFound, "PortNotFound", "PUT", routerPath(router, "add_router_interface"), tenant,
		map[string]any{"port_id": others["id"]})
	gateway := e.Create(e.AdminToken, "ports", "port", map[string]any{"network_id": sharedID, "project_id": tenantProject,
		"fixed_ips": []any{map[string]any{"ip_address": "10.50.0.1"}}})
	e.FailWith(http.StatusBadRequest, "BadRequest", "Bad router request: Cannot add interface to router because specified port "+
		gateway["id"].(string)+" has an IP address out of the allocation pool of subnet "+sharedSub+
		", which is not owned by the project making the request.",
		"PUT", routerPath(router, "add_router_interface"), tenant, map[string]any{"port_id": gateway["id"]})
	if p := e.Must(http.StatusOK, "GET", "/v2.0/ports/"+gateway["id"].(string), e.AdminToken, nil)["port"].(map[string]any); p["device_owner"] != "" || p["device_id"] != "" {
		t.Fatalf("the refused port was taken by the router: %v", p)
	}
	// A port of the tenant's with an address from the pools is the tenant's to attach.
	own := e.Create(tenant, "ports", "port", map[string]any{"network_id": sharedID})
	e.Must(http.StatusOK, "PUT", routerPath(router, "add_router_interface"), tenant, map[string]any{"port_id": own["id"]})

	// The subnet's owner attaches its own router (once the address is free again).
	e.Must(http.StatusNoContent, "DELETE", "/v2.0/ports/"+gateway["id"].(string), e.AdminToken, nil)
	adminRouter := e.Create(e.AdminToken, "routers", "router", map[string]any{"name": "owner"})["id"].(string)
	e.Must(http.StatusOK, "PUT", routerPath(adminRouter, "add_router_interface"), e.AdminToken, map[string]any{"subnet_id": sharedSub})
}

// TestMembersCannotExtendOthersNetworks is finding 6 (and the network half of 8): a
// member added a subnet to the external network, which then served other tenants'
// floating IPs. Upstream: only the network's owner (or an admin) adds subnets; ports
// go on one's own networks and on shared ones, not on an external network, and
// another project's private network is not found.
func TestMembersCannotExtendOthersNetworks(t *testing.T) {
	e := newTestEnv(t, nil)
	public := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "public", "router:external": true})["id"].(string)
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": public, "ip_version": 4, "cidr": "172.24.4.0/24"})
	shared := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "shared", "shared": true})["id"].(string)
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": shared, "ip_version": 4, "cidr": "10.60.0.0/24"})
	private, _ := e.NetworkWithSubnet(e.DemoToken, "10.61.0.0/24")
	tenant, _ := e.NewProjectUser("tenant")
	subnet := func(net, cidr string) map[string]any {
		return map[string]any{"subnet": map[string]any{"network_id": net, "ip_version": 4, "cidr": cidr}}
	}

	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "POST", "/v2.0/subnets", tenant, subnet(public, "172.25.0.0/24"))
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "POST", "/v2.0/subnets", tenant, subnet(shared, "10.62.0.0/24"))
	e.Fail(http.StatusNotFound, "NetworkNotFound", "POST", "/v2.0/subnets", tenant, subnet(private, "10.63.0.0/24"))
	e.Fail(http.StatusNotFound, "NetworkNotFound", "POST", "/v2.0/ports", tenant, portReq(map[string]any{"network_id": private}))
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "POST", "/v2.0/ports", tenant, portReq(map[string]any{"network_id": public}))
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "POST", "/v2.0/ports", tenant, portReq(map[string]any{"network_id": public,
		"fixed_ips": []any{map[string]any{"ip_address": "172.24.4.10"}}}))
	if subs := e.Must(http.StatusOK, "GET", "/v2.0/subnets?network_id="+public, e.AdminToken, nil)["subnets"].([]any); len(subs) != 1 {
		t.Fatalf("subnets of the external network: %v", subs)
	}
	// A shared network takes the tenant's ports (rule:shared), with addresses from its pools.
	e.Create(tenant, "ports", "port", map[string]any{"network_id": shared})
	// Everyone sees the external network's subnet (upstream's external_network rule).
	if subs := e.Must(http.StatusOK, "GET", "/v2.0/subnets?network_id="+public, tenant, nil)["subnets"].([]any); len(subs) != 1 {
		t.Fatalf("the external network's subnets seen by a tenant: %v", subs)
	}
}

// TestPortAttributeRules is finding 7: upstream's per-attribute port rules
// (create_port:fixed_ips:ip_address, ...:mac_address, port_security_enabled,
// allowed_address_pairs, binding:*, device_owner, trusted) are the network owner's
// or admin's, on create and on update; Nimbus looked them up under the wrong name
// (create_port:fixed_ips) and had no update rules.
func TestPortAttributeRules(t *testing.T) {
	e := newTestEnv(t, nil)
	shared := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "shared", "shared": true})["id"].(string)
	sharedSub := e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": shared, "ip_version": 4,
		"cidr": "10.70.0.0/24"})["id"].(string)
	tenant, _ := e.NewProjectUser("tenant")
	own, ownSub := e.NetworkWithSubnet(tenant, "10.71.0.0/24")
	onShared := e.Create(tenant, "ports", "port", map[string]any{"network_id": shared})["id"].(string)
	onOwn := e.Create(tenant, "ports", "port", map[string]any{"network_id": own})["id"].(string)

	pairs := []any{map[string]any{"ip_address": "0.0.0.0/0"}}
	for _, tc := range []struct {
		name   string
		net    string
		attrs  map[string]any
		status int
	}{
		{"address on a shared network", shared, map[string]any{"fixed_ips": []any{map[string]any{"ip_address": "10.70.0.9"}}}, 403},
		{"subnet and address on a shared network", shared, map[string]any{"fixed_ips": []any{map[string]any{"subnet_id": sharedSub, "ip_address": "10.70.0.9"}}}, 403},
		{"subnet on a shared network", shared, map[string]any{"fixed_ips": []any{map[string]any{"subnet_id": sharedSub}}}, 201},
		{"MAC on a shared network", shared, map[string]any{"mac_address": "fa:16:3e:00:70:01"}, 403},
		{"port security on a shared network", shared, map[string]any{"port_security_enabled": false}, 403},
		{"address pairs on a shared network", shared, map[string]any{"allowed_address_pairs": pairs}, 403},
		{"network device owner on a shared network", shared, map[string]any{"device_owner": "network:dhcp"}, 403},
		{"compute device owner on a shared network", shared, map[string]any{"device_owner": "compute:nova", "device_id": "vm"}, 201},
		{"binding host", shared, map[string]any{"binding:host_id": "h1"}, 403},
		{"binding profile", shared, map[string]any{"binding:profile": map[string]any{}}, 403},
		{"trusted", shared, map[string]any{"trusted": true}, 403},
		{"address on the own network", own, map[string]any{"fixed_ips": []any{map[string]any{"subnet_id": ownSub, "ip_address": "10.71.0.9"}}}, 201},
		{"MAC on the own network", own, map[string]any{"mac_address": "fa:16:3e:00:71:01"}, 201},
		{"port security on the own network", own, map[string]any{"port_security_enabled": false, "security_groups": []any{}}, 201},
		{"address pairs on the own network", own, map[string]any{"allowed_address_pairs": pairs}, 201},
		{"network device owner on the own network", own, map[string]any{"device_owner": "network:custom"}, 201},
		{"binding host on the own network", own, map[string]any{"binding:host_id": "h1"}, 403},
		{"binding profile on the own network", own, map[string]any{"binding:profile": map[string]any{}}, 403},
	} {
		attrs := map[string]any{"network_id": tc.net}
		for k, v := range tc.attrs {
			attrs[k] = v
		}
		status, _, data := e.Do("POST", "/v2.0/ports", tenant, portReq(attrs))
		if status != tc.status {
			t.Errorf("create, %s: %d %s, want %d", tc.name, status, data, tc.status)
		}
	}

	for _, tc := range []struct {
		name   string
		port   string
		attrs  map[string]any
		status int
	}{
		{"addresses on a shared network", onShared, map[string]any{"fixed_ips": []any{map[string]any{"subnet_id": sharedSub}}}, 403},
		{"MAC on a shared network", onShared, map[string]any{"mac_address": "fa:16:3e:00:70:02"}, 403},
		{"port security on a shared network", onShared, map[string]any{"port_security_enabled": false, "security_groups": []any{}}, 403},
		{"address pairs on a shared network", onShared, map[string]any{"allowed_address_pairs": pairs}, 403},
		{"network device owner on a shared network", onShared, map[string]any{"device_owner": "network:router_interface"}, 403},
		{"binding host on a shared network", onShared, map[string]any{"binding:host_id": "h1"}, 403},
		{"name on a shared network", onShared, map[string]any{"name": "mine"}, 200},
		{"address on the own network", onOwn, map[string]any{"fixed_ips": []any{map[string]any{"ip_address": "10.71.0.20"}}}, 200},
		{"address pairs on the own network", onOwn, map[string]any{"allowed_address_pairs": pairs}, 200},
		{"MAC on the own network", onOwn, map[string]any{"mac_address": "fa:16:3e:00:71:02"}, 403}, // a manager's
		{"binding profile on the own network", onOwn, map[string]any{"binding:profile": map[string]any{}}, 403},
	} {
		status, _, data := e.Do("PUT", "/v2.0/ports/"+tc.port, tenant, portReq(tc.attrs))
		if status != tc.status {
			t.Errorf("update, %s: %d %s, want %d", tc.name, status, data, tc.status)
		}
	}
	got := e.Must(http.StatusOK, "GET", "/v2.0/ports/"+onShared, tenant, nil)["port"].(map[string]any)
	if got["port_security_enabled"] != true || len(got["allowed_address_pairs"].([]any)) != 0 {
		t.Fatalf("port on the shared network after refused updates: %v", got)
	}

	// The same rules on other resources: a network's is_default is admin's. As
	// upstream, creating with the default value is not policed; an update naming
	// the attribute always is.
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "POST", "/v2.0/networks", tenant,
		map[string]any{"network": map[string]any{"name": "default", "is_default": true}})
	e.Create(tenant, "networks", "network", map[string]any{"name": "not-default", "is_default": false})
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "PUT", "/v2.0/networks/"+own, tenant,
		map[string]any{"network": map[string]any{"is_default": false}})
}

// TestScopedTokensMakeAndSeeNothing is finding 11 (network half): a domain-scoped
// admin token created a network in any project and listed every project's
// resources. Upstream's network rules are project-scoped (scope_types ['project'],
// enforced): other scopes create nothing (403), see nothing in lists, and get 404
// for a resource.
func TestScopedTokensMakeAndSeeNothing(t *testing.T) {
	e := newTestEnv(t, nil)
	who, owner := e.personas("scopes")
	member := who[policytest.Member].Token
	netID, subID := e.NetworkWithSubnet(member, "10.80.0.0/24")
	port := e.Create(member, "ports", "port", map[string]any{"network_id": netID})["id"].(string)
	router := e.Create(member, "routers", "router", map[string]any{"name": "r"})["id"].(string)
	group := e.Create(member, "security-groups", "security_group", map[string]any{"name": "g"})["id"].(string)
	for _, name := range []string{policytest.DomainAdmin, policytest.SystemAdmin} {
		token := who[name].Token
		for _, list := range []string{"networks", "subnets", "ports", "routers", "security-groups", "security-group-rules", "floatingips"} {
			key := strings.ReplaceAll(list, "-", "_")
			if items := e.Must(http.StatusOK, "GET", "/v2.0/"+list, token, nil)[key].([]any); len(items) != 0 {
				t.Errorf("%s lists %d %s: %v", name, len(items), list, items)
			}
		}
		for _, path := range []string{"/v2.0/networks/" + netID, "/v2.0/subnets/" + subID, "/v2.0/ports/" + port,
			"/v2.0/routers/" + router, "/v2.0/security-groups/" + group} {
			if status, _, data := e.Do("GET", path, token, nil); status != http.StatusNotFound {
				t.Errorf("%s GET %s: %d %s, want 404", name, path, status, data)
			}
			if status, _, data := e.Do("DELETE", path, token, nil); status != http.StatusNotFound && status != http.StatusForbidden {
				t.Errorf("%s DELETE %s: %d %s, want a refusal", name, path, status, data)
			}
		}
		e.FailWith(http.StatusForbidden, "InvalidScope", "scope", "POST", "/v2.0/networks", token,
			map[string]any{"network": map[string]any{"name": "x", "project_id": owner}})
		e.FailWith(http.StatusForbidden, "InvalidScope", "scope", "POST", "/v2.0/security-groups", token,
			map[string]any{"security_group": map[string]any{"name": "x", "project_id": owner}})
		e.FailWith(http.StatusForbidden, "InvalidScope", "scope", "POST", "/v2.0/routers", token,
			map[string]any{"router": map[string]any{"name": "x", "project_id": owner}})
	}
	if nets := e.Must(http.StatusOK, "GET", "/v2.0/networks", member, nil)["networks"].([]any); len(nets) != 1 {
		t.Fatalf("the owning project's networks: %v", nets)
	}
}

// TestBulkPortsUndoneForCallersWhoCannotDelete: a reader may create ports on a
// shared network (upstream's create_port allows rule:shared) but not delete them;
// when one port of a bulk request fails, the ones made before it must still go,
// as upstream's emulated bulk create deletes them itself.
func TestBulkPortsUndoneForCallersWhoCannotDelete(t *testing.T) {
	e := newTestEnv(t, nil)
	shared := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "shared", "shared": true})["id"].(string)
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": shared, "ip_version": 4, "cidr": "10.95.0.0/24"})
	who, _ := e.personas("bulk")
	reader := who[policytest.Reader].Token
	e.Create(reader, "ports", "port", map[string]any{"network_id": shared, "name": "single"})
	e.Fail(http.StatusBadRequest, "", "POST", "/v2.0/ports", reader, map[string]any{"ports": []any{
		map[string]any{"network_id": shared, "name": "first"},
		map[string]any{"network_id": shared, "name": 5},
	}})
	ports := e.Must(http.StatusOK, "GET", "/v2.0/ports?network_id="+shared, e.AdminToken, nil)["ports"].([]any)
	if len(ports) != 1 || ports[0].(map[string]any)["name"] != "single" {
		t.Fatalf("ports after the failed bulk request: %v", ports)
	}
}
