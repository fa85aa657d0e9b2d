package network

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// poolCases are the address scope, subnet pool and address group routes, held to
// upstream's address_scope.py, subnetpool.py and address_group.py rules.
func (m *matrix) poolCases() []policytest.Case {
	owned := map[string]any{"project_id": m.owner, "tenant_id": m.owner, "shared": false}
	pool := map[string]any{"project_id": m.owner, "tenant_id": m.owner, "shared": false, "is_default": false}
	scopePath, poolPath, groupPath := "/v2.0/address-scopes/"+m.scope, "/v2.0/subnetpools/"+m.pool, "/v2.0/address-groups/"+m.addressGroup
	put := func(path string, body any) func(t *testing.T, p policytest.Persona) bool {
		return func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "PUT", path, body) }
	}
	get := func(path string) func(t *testing.T, p policytest.Persona) bool {
		return func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "GET", path, nil) }
	}
	return []policytest.Case{
		{Route: "GET /v2.0/address-scopes", Rules: []string{"get_address_scope"}, Target: owned,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.sees(p, "/v2.0/address-scopes", "address_scopes", m.scope)
			}},
		{Route: "POST /v2.0/address-scopes", Expect: m.expect(m.created(map[string]any{"shared": false}), "create_address_scope"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/address-scopes", map[string]any{"address_scope": m.body(p,
					map[string]any{"name": "s", "ip_version": 6})})
			}},
		{Route: "POST /v2.0/address-scopes", Expect: m.expect(m.created(map[string]any{"shared": true}), "create_address_scope",
			"create_address_scope:shared"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/address-scopes", map[string]any{"address_scope": m.body(p,
					map[string]any{"name": "s", "ip_version": 6, "shared": true})})
			}},
		{Route: "GET /v2.0/address-scopes/{id}", Rules: []string{"get_address_scope"}, Target: owned, Do: get(scopePath)},
		{Route: "PUT /v2.0/address-scopes/{id}", Rules: []string{"update_address_scope"}, Target: owned,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", scopePath, map[string]any{"address_scope": map[string]any{"name": p.Name}})
			}},
		{Route: "DELETE /v2.0/address-scopes/{id}", Rules: []string{"delete_address_scope"}, Target: owned,
			Do: func(t *testing.T, p policytest.Persona) bool {
				doomed := m.make("address-scopes", "address_scope", map[string]any{"name": "doomed", "ip_version": 4})
				return m.allowedAs(p, "DELETE", "/v2.0/address-scopes/"+doomed, nil)
			}},

		{Route: "GET /v2.0/subnetpools", Rules: []string{"get_subnetpool"}, Target: pool,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.sees(p, "/v2.0/subnetpools", "subnetpools", m.pool)
			}},
		{Route: "POST /v2.0/subnetpools", Expect: m.expect(m.created(map[string]any{"shared": false, "is_default": false}), "create_subnetpool"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/subnetpools", map[string]any{"subnetpool": m.body(p,
					map[string]any{"name": "p", "prefixes": []any{"10.201.0.0/16"}})})
			}},
		{Route: "POST /v2.0/subnetpools", Expect: m.expect(m.created(map[string]any{"shared": true, "is_default": false}),
			"create_subnetpool", "create_subnetpool:shared"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/subnetpools", map[string]any{"subnetpool": m.body(p,
					map[string]any{"name": "p", "prefixes": []any{"10.201.0.0/16"}, "shared": "True"})})
			}},
		{Route: "GET /v2.0/subnetpools/{id}", Rules: []string{"get_subnetpool"}, Target: pool, Do: get(poolPath)},
		{Route: "PUT /v2.0/subnetpools/{id}", Rules: []string{"update_subnetpool"}, Target: pool,
			Do: put(poolPath, map[string]any{"subnetpool": map[string]any{"description": "d"}})},
		{Route: "PUT /v2.0/subnetpools/{id}", Rules: []string{"update_subnetpool", "update_subnetpool:is_default"}, Target: pool,
			Do: put(poolPath, map[string]any{"subnetpool": map[string]any{"is_default": false}})},
		{Route: "DELETE /v2.0/subnetpools/{id}", Rules: []string{"delete_subnetpool"}, Target: pool,
			Do: func(t *testing.T, p policytest.Persona) bool {
				doomed := m.make("subnetpools", "subnetpool", map[string]any{"name": "doomed", "prefixes": []any{"10.202.0.0/16"}})
				return m.allowedAs(p, "DELETE", "/v2.0/subnetpools/"+doomed, nil)
			}},
		{Route: "PUT /v2.0/subnetpools/{id}/add_prefixes", Rules: []string{"add_prefixes"}, Target: pool,
			Do: put(poolPath+"/add_prefixes", map[string]any{"prefixes": []any{"10.203.0.0/16"}})},
		{Route: "PUT /v2.0/subnetpools/{id}/remove_prefixes", Rules: []string{"remove_prefixes"}, Target: pool,
			Do: put(poolPath+"/remove_prefixes", map[string]any{"prefixes": []any{"10.203.0.0/16"}})},

		{Route: "GET /v2.0/address-groups", Rules: []string{"get_address_group"}, Target: owned,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.sees(p, "/v2.0/address-groups", "address_groups", m.addressGroup)
			}},
		{Route: "POST /v2.0/address-groups", Expect: m.expect(m.created(map[string]any{"shared": false}), "create_address_group"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/address-groups", map[string]any{"address_group": m.body(p, map[string]any{"name": "g"})})
			}},
		{Route: "GET /v2.0/address-groups/{id}", Rules: []string{"get_address_group"}, Target: owned, Do: get(groupPath)},
		{Route: "PUT /v2.0/address-groups/{id}", Rules: []string{"update_address_group"}, Target: owned,
			Do: put(groupPath, map[string]any{"address_group": map[string]any{"description": "d"}})},
		{Route: "DELETE /v2.0/address-groups/{id}", Rules: []string{"delete_address_group"}, Target: owned,
			Do: func(t *testing.T, p policytest.Persona) bool {
				doomed := m.make("address-groups", "address_group", map[string]any{"name": "doomed"})
				return m.allowedAs(p, "DELETE", "/v2.0/address-groups/"+doomed, nil)
			}},
		{Route: "PUT /v2.0/address-groups/{id}/add_addresses", Rules: []string{"add_addresses"}, Target: owned,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", groupPath+"/add_addresses", map[string]any{
					"addresses": []any{fmt.Sprintf("10.2.%d.0/24", m.next())}})
			}},
		{Route: "PUT /v2.0/address-groups/{id}/remove_addresses", Rules: []string{"remove_addresses"}, Target: owned,
			Do: func(t *testing.T, p policytest.Persona) bool {
				cidr := fmt.Sprintf("10.3.%d.0/24", m.next())
				m.e.Must(http.StatusOK, "PUT", groupPath+"/add_addresses", m.member, map[string]any{"addresses": []any{cidr}})
				return m.allowedAs(p, "PUT", groupPath+"/remove_addresses", map[string]any{"addresses": []any{cidr}})
			}},
	}
}

// trunkCases are the trunk routes, held to upstream's trunk.py rules.
func (m *matrix) trunkCases() []policytest.Case {
	trunk := map[string]any{"project_id": m.owner, "tenant_id": m.owner}
	path := "/v2.0/trunks/" + m.trunk
	port := func() string { return m.make("ports", "port", map[string]any{"network_id": m.net}) }
	return []policytest.Case{
		{Route: "GET /v2.0/trunks", Rules: []string{"get_trunk"}, Target: trunk,
			Do: func(t *testing.T, p policytest.Persona) bool { return m.sees(p, "/v2.0/trunks", "trunks", m.trunk) }},
		// The parent must be a port the caller sees too (else upstream's PortNotFound).
		{Route: "POST /v2.0/trunks", Expect: func(p policytest.Persona) bool {
			parent := map[string]any{"project_id": m.owner, "tenant_id": m.owner, "network_id": m.net,
				"network:project_id": m.owner, "network:tenant_id": m.owner, "shared": false, "device_owner": ""}
			return m.expect(m.created(nil), "create_trunk")(p) && m.upstream.Allowed("get_port", parent, p.Creds)
		},
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "POST", "/v2.0/trunks", map[string]any{"trunk": m.body(p, map[string]any{"port_id": port()})})
			}},
		{Route: "GET /v2.0/trunks/{id}", Rules: []string{"get_trunk"}, Target: trunk,
			Do: func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "GET", path, nil) }},
		{Route: "PUT /v2.0/trunks/{id}", Rules: []string{"update_trunk"}, Target: trunk,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", path, map[string]any{"trunk": map[string]any{"name": p.Name}})
			}},
		{Route: "DELETE /v2.0/trunks/{id}", Rules: []string{"delete_trunk"}, Target: trunk,
			Do: func(t *testing.T, p policytest.Persona) bool {
				doomed := m.make("trunks", "trunk", map[string]any{"port_id": port()})
				return m.allowedAs(p, "DELETE", "/v2.0/trunks/"+doomed, nil)
			}},
		{Route: "GET /v2.0/trunks/{id}/get_subports", Rules: []string{"get_subports"}, Target: trunk,
			Do: func(t *testing.T, p policytest.Persona) bool { return m.allowedAs(p, "GET", path+"/get_subports", nil) }},
		{Route: "PUT /v2.0/trunks/{id}/add_subports", Rules: []string{"add_subports"}, Target: trunk,
			Do: func(t *testing.T, p policytest.Persona) bool {
				return m.allowedAs(p, "PUT", path+"/add_subports", map[string]any{"sub_ports": []any{map[string]any{
					"port_id": port(), "segmentation_type": "vlan", "segmentation_id": 100 + m.next()}}})
			}},
		{Route: "PUT /v2.0/trunks/{id}/remove_subports", Rules: []string{"remove_subports"}, Target: trunk,
			Do: func(t *testing.T, p policytest.Persona) bool {
				sub := port()
				m.e.Must(http.StatusOK, "PUT", path+"/add_subports", m.member, map[string]any{"sub_ports": []any{map[string]any{
					"port_id": sub, "segmentation_type": "vlan", "segmentation_id": 1000 + m.next()}}})
				return m.allowedAs(p, "PUT", path+"/remove_subports", map[string]any{"sub_ports": []any{map[string]any{"port_id": sub}}})
			}},
	}
}
