package network

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// matrix is the state TestPolicyMatrix's cases share: the six callers, the owning
// project and its resources, made by the project's member.
type matrix struct {
	e        *testEnv
	upstream *policy.Enforcer
	owner    string // the owning project
	member   string // its member's token, which makes the resources
	// the owning project's resources
	net, sub, port, router, group, rule, fip, agent string
	scope, pool, addressGroup, trunk                string
	// a network of the owning project for router interfaces, and the cloud's
	// shared and external networks (an admin's)
	ifaceNet, shared, external string
	// serial makes names and addresses unique
	serial int
}

// projectOf is the project a persona's creates go to: its own, or for a token
// scoped to no project, the owning one it names in the body (as an admin would).
func (m *matrix) projectOf(p policytest.Persona) string {
	if own, _ := p.Creds["project_id"].(string); own != "" {
		return own
	}
	return m.owner
}

// status sends a request as p and returns the status.
func (m *matrix) status(p policytest.Persona, method, path string, body any) int {
	m.e.t.Helper()
	status, _, _ := m.e.Do(method, path, p.Token, body)
	return status
}

// allowedAs reports whether p got past the policy of a request.
func (m *matrix) allowedAs(p policytest.Persona, method, path string, body any) bool {
	return policytest.Allowed(m.status(p, method, path, body))
}

// sees reports whether p finds the item id in a list.
func (m *matrix) sees(p policytest.Persona, path, key, id string) bool {
	m.e.t.Helper()
	status, out, _ := m.e.Do("GET", path, p.Token, nil)
	if status != http.StatusOK {
		return false
	}
	items, _ := out[key].([]any)
	return slices.ContainsFunc(items, func(it any) bool {
		o, _ := it.(map[string]any)
		return o["id"] == id || o["network_id"] == id || o["name"] == id
	})
}

// make creates a resource as the owning project's member and returns its id.
func (m *matrix) make(collection, member string, attrs map[string]any) string {
	return m.e.Create(m.member, collection, member, attrs)["id"].(string)
}

// next is a fresh number for names and addresses.
func (m *matrix) next() int {
	m.serial++
	return m.serial
}

// expect is upstream's decision for p on rules with a target built for p.
func (m *matrix) expect(target func(p policytest.Persona) map[string]any, rules ...string) func(policytest.Persona) bool {
	return func(p policytest.Persona) bool {
		for _, rule := range rules {
			if !m.upstream.Allowed(rule, target(p), p.Creds) {
				return false
			}
		}
		return true
	}
}

// created is the target of a create by p: the resource will be p's project's.
func (m *matrix) created(extra map[string]any) func(p policytest.Persona) map[string]any {
	return func(p policytest.Persona) map[string]any {
		t := map[string]any{"project_id": m.projectOf(p), "tenant_id": m.projectOf(p)}
		for k, v := range extra {
			t[k] = v
		}
		return t
	}
}

// body adds project_id for personas scoped to no project.
func (m *matrix) body(p policytest.Persona, attrs map[string]any) map[string]any {
	if own, _ := p.Creds["project_id"].(string); own == "" {
		attrs["project_id"] = m.owner
	}
	return attrs
}

// TestPolicyMatrix holds every route of the network API, for each of the six
// callers, to upstream Neutron's default policies (testdata/upstream-policies.yaml,
// transcribed from neutron's policy modules with their scope types): the request
// must be allowed exactly when upstream's rules allow it on the resource as upstream
// sees it. Lists are held to upstream's per-item filter: the caller sees the
// owning project's resource exactly when the resource's get rule allows it.
func TestPolicyMatrix(t *testing.T) {
	e := newTestEnv(t, nil)
	upstream, err := policytest.LoadUpstream(upstreamPolicies)
	if err != nil {
		t.Fatal(err)
	}
	personas, owner := e.identity.Personas("matrix")
	m := &matrix{e: e, upstream: upstream, owner: owner}
	for _, p := range personas {
		if p.Name == policytest.Member {
			m.member = p.Token
		}
	}
	m.external = e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "public", "router:external": true})["id"].(string)
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": m.external, "ip_version": 4, "cidr": "172.24.4.0/24"})
	m.shared = e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "shared", "shared": true})["id"].(string)
	e.Create(e.AdminToken, "subnets", "subnet", map[string]any{"network_id": m.shared, "ip_version": 4, "cidr": "10.99.0.0/24"})
	m.net, m.sub = e.NetworkWithSubnet(m.member, "10.90.0.0/24")
	m.ifaceNet, _ = e.NetworkWithSubnet(m.member, "10.89.0.0/24")
	m.port = m.make("ports", "port", map[string]any{"network_id": m.net})
	m.router = m.make("routers", "router", map[string]any{"name": "r", "external_gateway_info": map[string]any{"network_id": m.external}})
	e.Must(http.StatusOK, "PUT", routerPath(m.router, "add_router_interface"), m.member, map[string]any{"subnet_id": m.sub})
	m.group = m.make("security-groups", "security_group", map[string]any{"name": "g"})
	m.rule = m.make("security-group-rules", "security_group_rule", map[string]any{"security_group_id": m.group,
		"direction": "ingress", "protocol": "tcp", "port_range_min": 22, "port_range_max": 22})
	m.fip = m.make("floatingips", "floatingip", map[string]any{"floating_network_id": m.external})
	if err := e.Network.ReportAgent(context.Background(), "L3 agent", "neutron-l3-agent", "matrix-host", nil); err != nil {
		t.Fatal(err)
	}
	m.agent = e.Must(http.StatusOK, "GET", "/v2.0/agents?host=matrix-host", e.AdminToken, nil)["agents"].([]any)[0].(map[string]any)["id"].(string)
	e.Must(http.StatusOK, "PUT", "/v2.0/quotas/"+owner, e.AdminToken, map[string]any{"quota": map[string]any{"network": 50}})

	m.scope = m.make("address-scopes", "address_scope", map[string]any{"name": "s", "ip_version": 4})
	m.pool = m.make("subnetpools", "subnetpool", map[string]any{"name": "p", "prefixes": []any{"10.200.0.0/16"}})
	m.addressGroup = m.make("address-groups", "address_group", map[string]any{"name": "ag", "addresses": []any{"10.1.0.0/24"}})
	m.trunk = m.make("trunks", "trunk", map[string]any{"port_id": m.make("ports", "port", map[string]any{"network_id": m.net})})

	cases := slices.Concat(m.networkCases(), m.subnetCases(), m.portCases(), m.securityGroupCases(), m.routerCases(),
		m.floatingIPCases(), m.quotaCases(), m.otherCases(), m.tagCases(), m.poolCases(), m.trunkCases(), m.portBindingCases())
	policytest.Matrix{Upstream: upstream, Personas: personas, Routes: e.Network.routes()}.Check(t, cases)
}

// fixed is a target that is the same for every persona.
func fixed(target map[string]any) func(policytest.Persona) map[string]any {
	return func(policytest.Persona) map[string]any { return target }
}

func (m *matrix) networkTarget(id string, shared, external bool) map[string]any {
	return map[string]any{"id": id, "project_id": m.owner, "tenant_id": m.owner, "shared": shared, "router:external": external}
}

func (m *matrix) networkCases() []policytest.Case {
	net := m.networkTarget(m.net, false, false)
	adminNet := func(shared, external bool) map[string]any {
		t := m.networkTarget("", shared, external)
		t["project_id"], t["tenant_id"] = "admin's", "admin's"
		return t
	}
	return []policytest.Case{
		{Route: "GET /v2.0/networks", Rules: []string{"get_network"}, Target: net,
			Do: func(t *testing.T, p policytest.Persona) bool { return m.sees(p, "/v2.0/networks", "networks", m.net) }},
		{Route: "GET /v2.0/networks", Rules: []string{"get_network"}, Target: adminNet(false, true), // the external network
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.sees(p, "/v2.0/networks", "networks", m.external)
			}},
		{Route: "POST /v2.0/networks", Expect: m.expect(m.created(nil), "create_network"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/networks", map[string]any{"network": m.body(p, map[string]any{"name": "n"})})
			}},
		{Route: "GET /v2.0/networks/{id}", Rules: []string{"get_network"}, Target: net,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "GET", "/v2.0/networks/"+m.net, nil)
			}},
		{Route: "GET /v2.0/networks/{id}", Rules: []string{"get_network"}, Target: adminNet(true, false), // the shared network
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "GET", "/v2.0/networks/"+m.shared, nil)
			}},
		{Route: "PUT /v2.0/networks/{id}", Rules: []string{"update_network"}, Target: net,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", "/v2.0/networks/"+m.net, map[string]any{"network": map[string]any{"description": p.Name}})
			}},
		{Route: "DELETE /v2.0/networks/{id}", Rules: []string{"delete_network"}, Target: net,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "DELETE", "/v2.0/networks/"+m.make("networks", "network", map[string]any{"name": "doomed"}), nil)
			}},
	}
}

func (m *matrix) subnetTarget(network string, networkOwner string, shared bool) map[string]any {
	return map[string]any{"project_id": networkOwner, "tenant_id": networkOwner, "network_id": network,
		"network:project_id": networkOwner, "network:tenant_id": networkOwner, "shared": shared, "router:external": false}
}

func (m *matrix) subnetCases() []policytest.Case {
	sub := m.subnetTarget(m.net, m.owner, false)
	freshSubnet := func() string {
		return m.make("subnets", "subnet", map[string]any{"network_id": m.net, "ip_version": 4,
			"cidr": fmt.Sprintf("10.91.%d.0/24", m.next())})
	}
	create := func(network string) func(t *testing.T, p policytest.Persona) bool {
		return func(t *testing.T, p policytest.Persona) bool {
			return m.allowedAs(p, "POST", "/v2.0/subnets", map[string]any{"subnet": m.body(p, map[string]any{
				"network_id": network, "ip_version": 4, "cidr": fmt.Sprintf("10.92.%d.0/24", m.next())})})
		}
	}
	return []policytest.Case{
		{Route: "GET /v2.0/subnets", Rules: []string{"get_subnet"}, Target: sub,
			Do: func(t *testing.T, p policytest.Persona) bool { return m.sees(p, "/v2.0/subnets", "subnets", m.sub) }},
		{Route: "POST /v2.0/subnets", Expect: m.expect(m.created(map[string]any{"network_id": m.net,
			"network:project_id": m.owner, "shared": false}), "create_subnet"), Do: create(m.net)},
		{Route: "POST /v2.0/subnets", Expect: m.expect(m.created(map[string]any{"network_id": m.shared, // a shared network
			"network:project_id": "admin's", "shared": true}), "create_subnet"), Do: create(m.shared)},
		{Route: "GET /v2.0/subnets/{id}", Rules: []string{"get_subnet"}, Target: sub,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "GET", "/v2.0/subnets/"+m.sub, nil)
			}},
		{Route: "PUT /v2.0/subnets/{id}", Rules: []string{"update_subnet"}, Target: sub,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", "/v2.0/subnets/"+m.sub, map[string]any{"subnet": map[string]any{"description": p.Name}})
			}},
		{Route: "DELETE /v2.0/subnets/{id}", Rules: []string{"delete_subnet"}, Target: sub,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "DELETE", "/v2.0/subnets/"+freshSubnet(), nil)
			}},
	}
}

func (m *matrix) portCases() []policytest.Case {
	port := map[string]any{"project_id": m.owner, "tenant_id": m.owner, "network_id": m.net,
		"network:project_id": m.owner, "network:tenant_id": m.owner, "shared": false, "device_owner": ""}
	create := func(network string) func(t *testing.T, p policytest.Persona) bool {
		return func(t *testing.T, p policytest.Persona) bool {
			return m.allowedAs(p, "POST", "/v2.0/ports", portReq(m.body(p, map[string]any{"network_id": network})))
		}
	}
	return []policytest.Case{
		{Route: "GET /v2.0/ports", Rules: []string{"get_port"}, Target: port,
			Do: func(t *testing.T, p policytest.Persona) bool { return m.sees(p, "/v2.0/ports", "ports", m.port) }},
		{Route: "POST /v2.0/ports", Expect: m.expect(m.created(map[string]any{"network_id": m.net,
			"network:project_id": m.owner, "shared": false, "device_owner": ""}), "create_port"), Do: create(m.net)},
		{Route: "POST /v2.0/ports", Expect: m.expect(m.created(map[string]any{"network_id": m.shared, // a shared network
			"network:project_id": "admin's", "shared": true, "device_owner": ""}), "create_port"), Do: create(m.shared)},
		{Route: "POST /v2.0/ports", Expect: m.expect(m.created(map[string]any{"network_id": m.external, // the external network
			"network:project_id": "admin's", "shared": false, "device_owner": ""}), "create_port"), Do: create(m.external)},
		{Route: "GET /v2.0/ports/{id}", Rules: []string{"get_port"}, Target: port,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "GET", "/v2.0/ports/"+m.port, nil)
			}},
		{Route: "PUT /v2.0/ports/{id}", Rules: []string{"update_port"}, Target: port,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", "/v2.0/ports/"+m.port, portReq(map[string]any{"description": p.Name}))
			}},
		{Route: "PUT /v2.0/ports/{id}", Rules: []string{"update_port", "update_port:allowed_address_pairs",
			"update_port:allowed_address_pairs:ip_address"}, Target: port,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", "/v2.0/ports/"+m.port, portReq(map[string]any{
					"allowed_address_pairs": []any{map[string]any{"ip_address": "10.90.0.200"}}}))
			}},
		{Route: "DELETE /v2.0/ports/{id}", Rules: []string{"delete_port"}, Target: port,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "DELETE", "/v2.0/ports/"+m.make("ports", "port", map[string]any{"network_id": m.net}), nil)
			}},
	}
}

func (m *matrix) securityGroupCases() []policytest.Case {
	group := map[string]any{"project_id": m.owner, "tenant_id": m.owner, "shared": false}
	rule := map[string]any{"project_id": m.owner, "tenant_id": m.owner, "security_group_id": m.group,
		"security_group:project_id": m.owner}
	ruleBody := func(port int) map[string]any {
		return map[string]any{"security_group_id": m.group, "direction": "ingress", "protocol": "tcp",
			"port_range_min": port, "port_range_max": port}
	}
	return []policytest.Case{
		{Route: "GET /v2.0/security-groups", Rules: []string{"get_security_group"}, Target: group,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.sees(p, "/v2.0/security-groups", "security_groups", m.group)
			}},
		{Route: "POST /v2.0/security-groups", Expect: m.expect(m.created(map[string]any{"shared": false}), "create_security_group"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/security-groups", map[string]any{"security_group": m.body(p,
					map[string]any{"name": fmt.Sprintf("g%d", m.next())})})
			}},
		{Route: "GET /v2.0/security-groups/{id}", Rules: []string{"get_security_group"}, Target: group,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "GET", "/v2.0/security-groups/"+m.group, nil)
			}},
		{Route: "PUT /v2.0/security-groups/{id}", Rules: []string{"update_security_group"}, Target: group,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", "/v2.0/security-groups/"+m.group,
					map[string]any{"security_group": map[string]any{"description": p.Name}})
			}},
		{Route: "DELETE /v2.0/security-groups/{id}", Rules: []string{"delete_security_group"}, Target: group,
			Do: func(t *testing.T, p policytest.Persona) bool {
				doomed := m.make("security-groups", "security_group", map[string]any{"name": fmt.Sprintf("doomed%d", m.next())})
				return m.allowedAs(p, "DELETE", "/v2.0/security-groups/"+doomed, nil)
			}},
		{Route: "GET /v2.0/security-group-rules", Rules: []string{"get_security_group_rule"}, Target: rule,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.sees(p, "/v2.0/security-group-rules", "security_group_rules", m.rule)
			}},
		{Route: "POST /v2.0/security-group-rules", Expect: m.expect(m.created(map[string]any{"security_group_id": m.group,
			"security_group:project_id": m.owner}), "create_security_group_rule"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/security-group-rules", map[string]any{"security_group_rule": ruleBody(1000 + m.next())})
			}},
		{Route: "GET /v2.0/security-group-rules/{id}", Rules: []string{"get_security_group_rule"}, Target: rule,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "GET", "/v2.0/security-group-rules/"+m.rule, nil)
			}},
		{Route: "DELETE /v2.0/security-group-rules/{id}", Rules: []string{"delete_security_group_rule"}, Target: rule,
			Do: func(t *testing.T, p policytest.Persona) bool {
				doomed := m.make("security-group-rules", "security_group_rule", ruleBody(2000+m.next()))
				return m.allowedAs(p, "DELETE", "/v2.0/security-group-rules/"+doomed, nil)
			}},
	}
}

func (m *matrix) routerCases() []policytest.Case {
	router := map[string]any{"project_id": m.owner, "tenant_id": m.owner}
	path := func(action ...string) string { return routerPath(m.router, action...) }
	routes := map[string]any{"router": map[string]any{"routes": []any{}}}
	return []policytest.Case{
		{Route: "GET /v2.0/routers", Rules: []string{"get_router"}, Target: router,
			Do: func(t *testing.T, p policytest.Persona) bool { return m.sees(p, "/v2.0/routers", "routers", m.router) }},
		{Route: "POST /v2.0/routers", Expect: m.expect(m.created(nil), "create_router"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/routers", map[string]any{"router": m.body(p, map[string]any{"name": "r"})})
			}},
		{Route: "POST /v2.0/routers", Expect: m.expect(m.created(nil), "create_router", "create_router:external_gateway_info",
			"create_router:external_gateway_info:network_id", "create_router:external_gateway_info:enable_snat"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/routers", map[string]any{"router": m.body(p, map[string]any{"name": "r",
					"external_gateway_info": map[string]any{"network_id": m.external, "enable_snat": false}})})
			}},
		{Route: "GET /v2.0/routers/{id}", Rules: []string{"get_router"}, Target: router,
			Do: func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "GET", path(), nil) }},
		{Route: "PUT /v2.0/routers/{id}", Rules: []string{"update_router"}, Target: router,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", path(), map[string]any{"router": map[string]any{"description": p.Name}})
			}},
		{Route: "DELETE /v2.0/routers/{id}", Rules: []string{"delete_router"}, Target: router,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "DELETE", routerPath(m.make("routers", "router", map[string]any{"name": "doomed"})), nil)
			}},
		{Route: "PUT /v2.0/routers/{id}/add_router_interface", Rules: []string{"add_router_interface"}, Target: router,
			Do: func(t *testing.T, p policytest.Persona) bool {
				sub := m.make("subnets", "subnet", map[string]any{"network_id": m.ifaceNet, "ip_version": 4,
					"cidr": fmt.Sprintf("10.93.%d.0/24", m.next())})
				return m.allowedAs(p, "PUT", path("add_router_interface"), map[string]any{"subnet_id": sub})
			}},
		{Route: "PUT /v2.0/routers/{id}/remove_router_interface", Rules: []string{"remove_router_interface"}, Target: router,
			Do: func(t *testing.T, p policytest.Persona) bool {
				sub := m.make("subnets", "subnet", map[string]any{"network_id": m.ifaceNet, "ip_version": 4,
					"cidr": fmt.Sprintf("10.94.%d.0/24", m.next())})
				m.e.Must(http.StatusOK, "PUT", path("add_router_interface"), m.member, map[string]any{"subnet_id": sub})
				return m.allowedAs(p, "PUT", path("remove_router_interface"), map[string]any{"subnet_id": sub})
			}},
		{Route: "PUT /v2.0/routers/{id}/add_extraroutes", Rules: []string{"add_extraroutes"}, Target: router,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", path("add_extraroutes"), routes)
			}},
		{Route: "PUT /v2.0/routers/{id}/remove_extraroutes", Rules: []string{"remove_extraroutes"}, Target: router,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", path("remove_extraroutes"), routes)
			}},
	}
}

func (m *matrix) floatingIPCases() []policytest.Case {
	fip := map[string]any{"project_id": m.owner, "tenant_id": m.owner}
	return []policytest.Case{
		{Route: "GET /v2.0/floatingips", Rules: []string{"get_floatingip"}, Target: fip,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.sees(p, "/v2.0/floatingips", "floatingips", m.fip)
			}},
		{Route: "POST /v2.0/floatingips", Expect: m.expect(m.created(nil), "create_floatingip"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/floatingips", fipBody(m.body(p, map[string]any{"floating_network_id": m.external})))
			}},
		{Route: "POST /v2.0/floatingips", Expect: m.expect(m.created(nil), "create_floatingip", "create_floatingip:floating_ip_address"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/floatingips", fipBody(m.body(p, map[string]any{"floating_network_id": m.external,
					"floating_ip_address": fmt.Sprintf("172.24.4.%d", 100+m.next())})))
			}},
		{Route: "GET /v2.0/floatingips/{id}", Rules: []string{"get_floatingip"}, Target: fip,
			Do: func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "GET", fipPath(m.fip), nil) }},
		{Route: "PUT /v2.0/floatingips/{id}", Rules: []string{"update_floatingip"}, Target: fip,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", fipPath(m.fip), fipBody(map[string]any{"description": p.Name}))
			}},
		{Route: "DELETE /v2.0/floatingips/{id}", Rules: []string{"delete_floatingip"}, Target: fip,
			Do: func(t *testing.T, p policytest.Persona) bool {
				doomed := m.make("floatingips", "floatingip", map[string]any{"floating_network_id": m.external})
				return m.allowedAs(p, "DELETE", fipPath(doomed), nil)
			}},
	}
}

// quotaCases follow upstream's quota controller (neutron/extensions/quotasv2.py),
// which makes its own checks, on the caller's own project: a project's own quota
// is its users' to read, another's takes get_quota, its details an admin role.
func (m *matrix) quotaCases() []policytest.Case {
	own := func(p policytest.Persona) map[string]any {
		project, _ := p.Creds["project_id"].(string)
		return map[string]any{"project_id": project, "tenant_id": project}
	}
	ownOr := func(rule string, target func(policytest.Persona) map[string]any) func(policytest.Persona) bool {
		return func(p policytest.Persona) bool {
			return p.Creds["project_id"] == m.owner || m.upstream.Allowed(rule, target(p), p.Creds)
		}
	}
	path := "/v2.0/quotas/" + m.owner
	read := func(suffix string) func(t *testing.T, p policytest.Persona) bool {
		return func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "GET", path+suffix, nil) }
	}
	return []policytest.Case{
		{Route: "GET /v2.0/quotas", Expect: m.expect(own, "get_quota"),
			Do: func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "GET", "/v2.0/quotas", nil) }},
		{Route: "GET /v2.0/quotas/{project_id}", Expect: ownOr("get_quota", own), Do: read("")},
		{Route: "GET /v2.0/quotas/{project_id}/default", Expect: ownOr("get_quota", own), Do: read("/default")},
		{Route: "GET /v2.0/quotas/{project_id}/details.json", Expect: ownOr("context_is_admin", own), Do: read("/details.json")},
		{Route: "GET /v2.0/quotas/{project_id}/details", Expect: ownOr("context_is_admin", own), Do: read("/details")},
		{Route: "PUT /v2.0/quotas/{project_id}", Expect: m.expect(own, "update_quota"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", path, map[string]any{"quota": map[string]any{"network": 50}})
			}},
		{Route: "DELETE /v2.0/quotas/{project_id}", Expect: m.expect(own, "delete_quota"),
			Do: func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "DELETE", path, nil) }},
	}
}

func (m *matrix) otherCases() []policytest.Case {
	agent := "/v2.0/agents/" + m.agent
	return []policytest.Case{
		// Upstream checks no rule on extensions: any token reads them.
		{Route: "GET /v2.0/extensions",
			Do: func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "GET", "/v2.0/extensions", nil) }},
		{Route: "GET /v2.0/extensions/{alias}",
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "GET", "/v2.0/extensions/router", nil)
			}},
		{Route: "GET /v2.0/availability_zones", Rules: []string{"get_availability_zone"},
			Target: map[string]any{"name": "nova", "resource": "network", "state": "available"},
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.sees(p, "/v2.0/availability_zones", "availability_zones", "nova")
			}},
		{Route: "GET /v2.0/network-ip-availabilities", Rules: []string{"get_network_ip_availability"},
			Target: m.networkTarget(m.net, false, false),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.sees(p, "/v2.0/network-ip-availabilities", "network_ip_availabilities", m.net)
			}},
		{Route: "GET /v2.0/network-ip-availabilities/{id}", Rules: []string{"get_network_ip_availability"},
			Target: m.networkTarget(m.net, false, false),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "GET", "/v2.0/network-ip-availabilities/"+m.net, nil)
			}},
		{Route: "GET /v2.0/agents", Rules: []string{"get_agent"}, Target: map[string]any{},
			Do: func(t *testing.T, p policytest.Persona) bool { return m.sees(p, "/v2.0/agents", "agents", m.agent) }},
		{Route: "GET /v2.0/agents/{id}", Rules: []string{"get_agent"}, Target: map[string]any{},
			Do: func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "GET", agent, nil) }},
		{Route: "PUT /v2.0/agents/{id}", Rules: []string{"update_agent"}, Target: map[string]any{},
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", agent, map[string]any{"agent": map[string]any{"description": p.Name}})
			}},
		{Route: "DELETE /v2.0/agents/{id}", Rules: []string{"delete_agent"}, Target: map[string]any{},
			Do: func(t *testing.T, p policytest.Persona) bool {
				host := fmt.Sprintf("doomed-%d", m.next())
				if err := m.e.Network.ReportAgent(context.Background(), "DHCP agent", "neutron-dhcp-agent", host, nil); err != nil {
					t.Fatal(err)
				}
				id := m.e.Must(http.StatusOK, "GET", "/v2.0/agents?host="+host, m.e.AdminToken, nil)["agents"].([]any)[0].(map[string]any)["id"]
				return m.allowedAs(p, "DELETE", "/v2.0/agents/"+id.(string), nil)
			}},
	}
}

// tagCases are the tag API on each taggable resource: upstream's
// get_<resource>:tags, update_<resource>:tags and delete_<resource>:tags.
func (m *matrix) tagCases() []policytest.Case {
	var cases []policytest.Case
	for _, res := range []struct {
		collection, what, id string
		target               map[string]any
	}{
		{"networks", "network", m.net, m.networkTarget(m.net, false, false)},
		{"subnets", "subnet", m.sub, m.subnetTarget(m.net, m.owner, false)},
		{"ports", "port", m.port, map[string]any{"project_id": m.owner, "network_id": m.net, "network:project_id": m.owner,
			"shared": false, "device_owner": ""}},
		{"routers", "router", m.router, map[string]any{"project_id": m.owner}},
		{"security-groups", "security_group", m.group, map[string]any{"project_id": m.owner, "shared": false}},
		{"floatingips", "floatingip", m.fip, map[string]any{"project_id": m.owner}},
		{"subnetpools", "subnetpool", m.pool, map[string]any{"project_id": m.owner, "shared": false, "is_default": false}},
		{"trunks", "trunk", m.trunk, map[string]any{"project_id": m.owner}},
	} {
		base := "/v2.0/" + res.collection + "/{id}/tags"
		tags := "/v2.0/" + res.collection + "/" + res.id + "/tags"
		keep := func(tag string) { m.e.Must(http.StatusCreated, "PUT", tags+"/"+tag, m.member, nil) }
		get, update, del := []string{"get_" + res.what + ":tags"}, []string{"update_" + res.what + ":tags"}, []string{"delete_" + res.what + ":tags"}
		cases = append(cases,
			policytest.Case{Route: "GET " + base, Rules: get, Target: res.target,
				Do: func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "GET", tags, nil) }},
			policytest.Case{Route: "GET " + base + "/{tag}", Rules: get, Target: res.target,
				Do: func(t *testing.T, p policytest.Persona) bool {
					keep("kept")
					return m.allowedAs(p, "GET", tags+"/kept", nil)
				}},
			policytest.Case{Route: "PUT " + base, Rules: update, Target: res.target,
				Do: func(t *testing.T, p policytest.Persona) bool {
					return m.allowedAs(p, "PUT", tags, map[string]any{"tags": []any{"kept", strings.ToLower(p.Name)}})
				}},
			policytest.Case{Route: "PUT " + base + "/{tag}", Rules: update, Target: res.target,
				Do: func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "PUT", tags+"/"+p.Name, nil) }},
			policytest.Case{Route: "DELETE " + base + "/{tag}", Rules: del, Target: res.target,
				Do: func(t *testing.T, p policytest.Persona) bool {
					keep("gone")
					return m.allowedAs(p, "DELETE", tags+"/gone", nil)
				}},
			policytest.Case{Route: "DELETE " + base, Rules: del, Target: res.target,
				Do: func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "DELETE", tags, nil) }},
		)
	}
	return cases
}
