package identity

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// TestPolicyMatrix drives every route of the identity API as each kind of caller
// and holds the outcome to what Keystone's current default rules say
// (testdata/upstream-policies.yaml, transcribed from keystone/common/policies),
// with their scope types, against the target upstream's API module builds for
// the request (keystone/api/*.py: _build_*_target_enforcement).
func TestPolicyMatrix(t *testing.T) {
	upstream, err := policytest.LoadUpstream("testdata/upstream-policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m := newMatrix(t, upstream)
	var cases []policytest.Case
	for _, group := range [][]policytest.Case{
		m.tokenCases(), m.domainCases(), m.domainConfigCases(), m.projectCases(), m.userCases(), m.groupCases(), m.roleCases(),
		m.grantCases(), m.catalogCases(), m.appCredCases(), m.credentialCases(), m.ec2Cases(), m.extensionCases(),
		m.trustCases(), m.oauth1Cases(),
	} {
		cases = append(cases, group...)
	}
	policytest.Matrix{Upstream: upstream, Personas: m.personas, Routes: m.Svc.routes()}.Check(t, cases)
}

// matrix is the cloud the matrix runs on: the personas of policytest (owning
// project P in the Default domain, another project P2), each with the user
// behind it, and fixtures made by the bootstrap admin.
type matrix struct {
	*testEnv
	t        *testing.T
	upstream *policy.Enforcer
	personas []policytest.Persona
	users    map[string]matrixUser // by persona name
	project  string                // P
	other    string                // P2
	demoID   string
	seq      atomic.Int64
}

type matrixUser struct{ id, name, password string }

// domainManager holds role manager on the Default domain, domain-scoped.
const domainManager = "domain-manager"

func newMatrix(t *testing.T, upstream *policy.Enforcer) *matrix {
	e := newTestEnv(t)
	m := &matrix{testEnv: e, t: t, upstream: upstream, users: map[string]matrixUser{}}
	m.project, m.other = extCreateProject(e, "matrix"), extCreateProject(e, "matrix-other")
	m.demoID = acUserID(e, e.DemoToken)
	onProject := func(id string) map[string]any { return map[string]any{"project": map[string]any{"id": id}} }
	for _, p := range []struct {
		name, role, target string
		scope              map[string]any
	}{
		{policytest.Admin, "admin", "/v3/projects/" + m.project, onProject(m.project)},
		{policytest.Member, "member", "/v3/projects/" + m.project, onProject(m.project)},
		{policytest.Reader, "reader", "/v3/projects/" + m.project, onProject(m.project)},
		{policytest.OtherMember, "member", "/v3/projects/" + m.other, onProject(m.other)},
		{policytest.DomainAdmin, "admin", "/v3/domains/default", map[string]any{"domain": map[string]any{"id": "default"}}},
		{policytest.SystemAdmin, "", "", map[string]any{"system": map[string]any{"all": true}}},
		// Keystone's rules give a domain's manager its users, groups, projects
		// and assignments of the lesser roles: identity's own persona.
		{domainManager, "manager", "/v3/domains/default", map[string]any{"domain": map[string]any{"id": "default"}}},
	} {
		u := matrixUser{id: acUserID(e, e.AdminToken), name: "admin", password: testAdminPassword}
		if p.role != "" {
			u = m.newUser("matrix-" + p.name)
			e.Must(http.StatusNoContent, "PUT", p.target+"/users/"+u.id+"/roles/"+extRoleID(t, e, p.role), e.AdminToken, nil)
		}
		token := m.login(u, p.scope)
		creds, err := e.Svc.Validator().Authenticate(context.Background(), token)
		if err != nil {
			t.Fatal(err)
		}
		m.personas = append(m.personas, policytest.Persona{Name: p.name, Token: token, Creds: creds.PolicyCredentials()})
		m.users[p.name] = u
	}
	return m
}

// name is a fresh unique name.
func (m *matrix) name(prefix string) string { return fmt.Sprintf("%s-%d", prefix, m.seq.Add(1)) }

// status makes a request and returns its status.
func (m *matrix) status(method, path, token string, body any, headers ...string) int {
	m.t.Helper()
	hdr := map[string]string{}
	for i := 0; i+1 < len(headers); i += 2 {
		hdr[headers[i]] = headers[i+1]
	}
	status, _, _ := m.DoWithHeaders(method, path, token, body, hdr)
	return status
}

// admin makes a request as the bootstrap admin and returns the decoded answer.
func (m *matrix) admin(want int, method, path string, body any) map[string]any {
	m.t.Helper()
	return m.Must(want, method, path, m.AdminToken, body)
}

func (m *matrix) login(u matrixUser, scope map[string]any) string {
	m.t.Helper()
	a := map[string]any{"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
		"user": map[string]any{"id": u.id, "password": u.password}}}}
	if scope != nil {
		a["scope"] = scope
	}
	status, out, hdr := m.Do("POST", "/v3/auth/tokens", "", map[string]any{"auth": a})
	if status != http.StatusCreated {
		m.t.Fatalf("login %s: %d %v", u.name, status, out)
	}
	return hdr.Get("X-Subject-Token")
}

func (m *matrix) newUser(name string) matrixUser {
	m.t.Helper()
	u := matrixUser{name: name, password: name + "-pw"}
	u.id = obj(m.admin(http.StatusCreated, "POST", "/v3/users", map[string]any{"user": map[string]any{
		"name": name, "password": u.password, "domain_id": "default"}}), "user")["id"].(string)
	return u
}

func (m *matrix) userID(p policytest.Persona) string { return p.Creds["user_id"].(string) }

// projectToken is a project-scoped token of the persona's user (its own token
// when it is one; domain and system personas get a role on P for it).
func (m *matrix) projectToken(p policytest.Persona) string {
	m.t.Helper()
	if policy.TokenScope(p.Creds) == policy.ScopeProject {
		return p.Token
	}
	u := m.users[p.Name]
	m.admin(http.StatusNoContent, "PUT", "/v3/projects/"+m.project+"/users/"+u.id+"/roles/"+extRoleID(m.t, m.testEnv, "member"), nil)
	return m.login(u, map[string]any{"project": map[string]any{"id": m.project}})
}

// projectOf is the project the persona's user has a role on (P for the domain
// and system personas, through projectToken).
func (m *matrix) projectOf(p policytest.Persona) string {
	return pick(p.Name == policytest.OtherMember, m.other, m.project)
}

// allowed is the kit's reading of a status.
func allowed(status int) bool { return policytest.Allowed(status) }

// rule is the usual case: one rule, one target, one request per persona.
func rule(route, name string, target map[string]any, do func(p policytest.Persona) int) policytest.Case {
	return policytest.Case{Route: route, Rules: []string{name}, Target: target,
		Do: func(t *testing.T, p policytest.Persona) bool { return allowed(do(p)) }}
}

// perPersona is a case whose upstream target depends on the caller (a list
// filtered by the caller's domain, a resource of the caller's own).
func (m *matrix) perPersona(route, name string, target func(p policytest.Persona) map[string]any, do func(p policytest.Persona) int) policytest.Case {
	return policytest.Case{Route: route, Rules: []string{name},
		Expect: func(p policytest.Persona) bool { return m.upstream.Allowed(name, target(p), p.Creds) },
		Do:     func(t *testing.T, p policytest.Persona) bool { return allowed(do(p)) }}
}

// domainScopedTarget is the target upstream's list APIs give a domain-scoped
// caller ({key: its domain}) and everyone else (none).
func domainScopedTarget(key string) func(p policytest.Persona) map[string]any {
	return func(p policytest.Persona) map[string]any {
		if d, _ := p.Creds["domain_id"].(string); d != "" {
			return map[string]any{key: d}
		}
		return nil
	}
}

// --- tokens and the token's own scopes (auth.py) ---

func (m *matrix) tokenCases() []policytest.Case {
	own := func(p policytest.Persona) map[string]any { return map[string]any{"target.token.user_id": m.userID(p)} }
	demo := map[string]any{"target.token.user_id": m.demoID}
	var cases []policytest.Case
	for _, c := range []struct{ method, rule string }{{"GET", "identity:validate_token"}, {"HEAD", "identity:check_token"}} {
		cases = append(cases,
			m.perPersona(c.method+" /v3/auth/tokens", c.rule, own, func(p policytest.Persona) int {
				return m.status(c.method, "/v3/auth/tokens", p.Token, nil, "X-Subject-Token", p.Token)
			}),
			rule(c.method+" /v3/auth/tokens", c.rule, demo, func(p policytest.Persona) int {
				return m.status(c.method, "/v3/auth/tokens", p.Token, nil, "X-Subject-Token", m.DemoToken)
			}))
	}
	cases = append(cases,
		m.perPersona("DELETE /v3/auth/tokens", "identity:revoke_token", own, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/auth/tokens", p.Token, nil, "X-Subject-Token", m.login(m.users[p.Name], nil))
		}),
		rule("DELETE /v3/auth/tokens", "identity:revoke_token", demo, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/auth/tokens", p.Token, nil, "X-Subject-Token", m.Login("demo", testDemoPassword, "demo"))
		}),
		// Upstream answers the catalog to project-scoped tokens only.
		policytest.Case{Route: "GET /v3/auth/catalog", Rules: []string{"identity:get_auth_catalog"},
			Expect: func(p policytest.Persona) bool { return p.Creds["project_id"] != "" },
			Do: func(t *testing.T, p policytest.Persona) bool {
				return allowed(m.status("GET", "/v3/auth/catalog", p.Token, nil))
			}},
	)
	for route, name := range map[string]string{
		"/v3/auth/projects": "identity:get_auth_projects", "/v3/auth/domains": "identity:get_auth_domains",
		"/v3/auth/system": "identity:get_auth_system", "/v3/OS-FEDERATION/projects": "identity:get_auth_projects",
		"/v3/OS-FEDERATION/domains": "identity:get_auth_domains",
	} {
		cases = append(cases, rule("GET "+route, name, nil, func(p policytest.Persona) int { return m.status("GET", route, p.Token, nil) }))
	}
	return cases
}

// --- domains (domains.py) ---

func (m *matrix) newDomain(enabled bool) string {
	return obj(m.admin(http.StatusCreated, "POST", "/v3/domains", map[string]any{"domain": map[string]any{
		"name": m.name("matrix-domain"), "enabled": enabled}}), "domain")["id"].(string)
}

func (m *matrix) domainConfigCases() []policytest.Case {
	domain := m.newDomain(true)
	base := "/v3/domains/" + domain + "/config"
	ldap := map[string]any{"config": map[string]any{"ldap": map[string]any{"url": "ldap://matrix", "suffix": "dc=matrix"}}}
	// fresh gives the domain its config again before a write that may remove it.
	fresh := func() {
		if status := m.status("PUT", base, m.AdminToken, ldap); status != http.StatusOK && status != http.StatusCreated {
			m.t.Fatalf("PUT %s: %d", base, status)
		}
	}
	m.admin(http.StatusCreated, "PUT", base, ldap)
	do := func(method, path string, body any, reset bool) func(p policytest.Persona) int {
		return func(p policytest.Persona) int {
			if reset {
				fresh()
			}
			return m.status(method, path, p.Token, body)
		}
	}
	group, option := "/v3/domains/{domain_id}/{config}/{group}", "/v3/domains/{domain_id}/{config}/{group}/{option}"
	return []policytest.Case{
		rule("PUT /v3/domains/{domain_id}/config", "identity:create_domain_config", nil, do("PUT", base, ldap, false)),
		rule("GET /v3/domains/{domain_id}/config", "identity:get_domain_config", nil, do("GET", base, nil, false)),
		rule("PATCH /v3/domains/{domain_id}/config", "identity:update_domain_config", nil,
			do("PATCH", base, map[string]any{"config": map[string]any{"ldap": map[string]any{"user": "cn=matrix"}}}, false)),
		rule("DELETE /v3/domains/{domain_id}/config", "identity:delete_domain_config", nil, do("DELETE", base, nil, true)),
		rule("GET "+group, "identity:get_domain_config", nil, do("GET", base+"/ldap", nil, false)),
		rule("GET "+group, "identity:get_security_compliance_domain_config", nil,
			do("GET", "/v3/domains/default/config/security_compliance", nil, false)),
		rule("PATCH "+group, "identity:update_domain_config", nil,
			do("PATCH", base+"/ldap", map[string]any{"config": map[string]any{"ldap": map[string]any{"url": "ldap://m"}}}, true)),
		rule("DELETE "+group, "identity:delete_domain_config", nil, do("DELETE", base+"/ldap", nil, true)),
		rule("GET "+option, "identity:get_domain_config", nil, do("GET", base+"/ldap/url", nil, false)),
		rule("GET "+option, "identity:get_security_compliance_domain_config", nil,
			do("GET", "/v3/domains/default/config/security_compliance/password_regex", nil, false)),
		rule("PATCH "+option, "identity:update_domain_config", nil,
			do("PATCH", base+"/ldap/url", map[string]any{"config": map[string]any{"url": "ldap://m"}}, true)),
		rule("DELETE "+option, "identity:delete_domain_config", nil, do("DELETE", base+"/ldap/url", nil, true)),
		rule("GET /v3/domains/config/default", "identity:get_domain_config_default", nil, do("GET", "/v3/domains/config/default", nil, false)),
		rule("GET /v3/domains/config/{group}/default", "identity:get_domain_config_default", nil,
			do("GET", "/v3/domains/config/ldap/default", nil, false)),
		rule("GET /v3/domains/config/{group}/{option}/default", "identity:get_domain_config_default", nil,
			do("GET", "/v3/domains/config/ldap/url/default", nil, false)),
	}
}

func (m *matrix) domainCases() []policytest.Case {
	other := m.newDomain(true)
	domainTarget := func(id string) map[string]any { return map[string]any{"target.domain.id": id} }
	get := func(id string) func(p policytest.Persona) int {
		return func(p policytest.Persona) int { return m.status("GET", "/v3/domains/"+id, p.Token, nil) }
	}
	return []policytest.Case{
		// A domain-scoped caller's list is judged against its domain.
		m.perPersona("GET /v3/domains", "identity:list_domains", domainScopedTarget("target.domain.id"),
			func(p policytest.Persona) int { return m.status("GET", "/v3/domains", p.Token, nil) }),
		rule("POST /v3/domains", "identity:create_domain", nil, func(p policytest.Persona) int {
			return m.status("POST", "/v3/domains", p.Token, map[string]any{"domain": map[string]any{"name": m.name("matrix-new-domain")}})
		}),
		rule("GET /v3/domains/{domain_id}", "identity:get_domain", domainTarget("default"), get("default")),
		rule("GET /v3/domains/{domain_id}", "identity:get_domain", domainTarget(other), get(other)),
		rule("PATCH /v3/domains/{domain_id}", "identity:update_domain", nil, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/domains/"+m.newDomain(true), p.Token, map[string]any{"domain": map[string]any{"description": "x"}})
		}),
		rule("DELETE /v3/domains/{domain_id}", "identity:delete_domain", nil, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/domains/"+m.newDomain(false), p.Token, nil)
		}),
	}
}

// --- projects and tags (projects.py) ---

func (m *matrix) projectCases() []policytest.Case {
	P := map[string]any{"target.project.id": m.project, "target.project.domain_id": "default"}
	fresh := func() (string, map[string]any) {
		id := extCreateProject(m.testEnv, m.name("matrix-project"))
		return id, map[string]any{"target.project.id": id, "target.project.domain_id": "default"}
	}
	freshID := func() string { id, _ := fresh(); return id }
	anyFresh := map[string]any{"target.project.id": "a fresh project", "target.project.domain_id": "default"}
	m.admin(http.StatusCreated, "PUT", "/v3/projects/"+m.project+"/tags/shown", nil)
	return []policytest.Case{
		m.perPersona("GET /v3/projects", "identity:list_projects", domainScopedTarget("target.domain_id"),
			func(p policytest.Persona) int { return m.status("GET", "/v3/projects", p.Token, nil) }),
		rule("POST /v3/projects", "identity:create_project", map[string]any{"target.project.domain_id": "default"},
			func(p policytest.Persona) int {
				return m.status("POST", "/v3/projects", p.Token, map[string]any{"project": map[string]any{
					"name": m.name("matrix-new-project"), "domain_id": "default"}})
			}),
		rule("GET /v3/projects/{project_id}", "identity:get_project", P, func(p policytest.Persona) int {
			return m.status("GET", "/v3/projects/"+m.project, p.Token, nil)
		}),
		rule("PATCH /v3/projects/{project_id}", "identity:update_project", anyFresh, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/projects/"+freshID(), p.Token, map[string]any{"project": map[string]any{"description": "x"}})
		}),
		rule("DELETE /v3/projects/{project_id}", "identity:delete_project", anyFresh, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/projects/"+freshID(), p.Token, nil)
		}),
		rule("GET /v3/projects/{project_id}/tags", "identity:list_project_tags", P, func(p policytest.Persona) int {
			return m.status("GET", "/v3/projects/"+m.project+"/tags", p.Token, nil)
		}),
		rule("PUT /v3/projects/{project_id}/tags", "identity:update_project_tags", anyFresh, func(p policytest.Persona) int {
			return m.status("PUT", "/v3/projects/"+freshID()+"/tags", p.Token, map[string]any{"tags": []string{"a", "b"}})
		}),
		rule("DELETE /v3/projects/{project_id}/tags", "identity:delete_project_tags", anyFresh, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/projects/"+freshID()+"/tags", p.Token, nil)
		}),
		rule("GET /v3/projects/{project_id}/tags/{tag}", "identity:get_project_tag", P, func(p policytest.Persona) int {
			return m.status("GET", "/v3/projects/"+m.project+"/tags/shown", p.Token, nil)
		}),
		rule("HEAD /v3/projects/{project_id}/tags/{tag}", "identity:get_project_tag", P, func(p policytest.Persona) int {
			return m.status("HEAD", "/v3/projects/"+m.project+"/tags/shown", p.Token, nil)
		}),
		rule("PUT /v3/projects/{project_id}/tags/{tag}", "identity:create_project_tag", P, func(p policytest.Persona) int {
			return m.status("PUT", "/v3/projects/"+m.project+"/tags/"+m.name("by-"+p.Name), p.Token, nil)
		}),
		rule("DELETE /v3/projects/{project_id}/tags/{tag}", "identity:delete_project_tag", P, func(p policytest.Persona) int {
			tag := m.name("gone")
			m.admin(http.StatusCreated, "PUT", "/v3/projects/"+m.project+"/tags/"+tag, nil)
			return m.status("DELETE", "/v3/projects/"+m.project+"/tags/"+tag, p.Token, nil)
		}),
	}
}

// --- users (users.py) ---

func (m *matrix) userCases() []policytest.Case {
	userTarget := func(id string) map[string]any {
		return map[string]any{"user_id": id, "target.user.id": id, "target.user.domain_id": "default"}
	}
	own := func(p policytest.Persona) map[string]any { return userTarget(m.userID(p)) }
	anyUser := userTarget("a fresh user")
	var cases []policytest.Case
	for _, c := range []struct{ path, rule string }{
		{"", "identity:get_user"}, {"/groups", "identity:list_groups_for_user"}, {"/projects", "identity:list_user_projects"},
	} {
		route := "GET /v3/users/{user_id}" + c.path
		cases = append(cases,
			m.perPersona(route, c.rule, own, func(p policytest.Persona) int {
				return m.status("GET", "/v3/users/"+m.userID(p)+c.path, p.Token, nil)
			}),
			rule(route, c.rule, userTarget(m.demoID), func(p policytest.Persona) int {
				return m.status("GET", "/v3/users/"+m.demoID+c.path, p.Token, nil)
			}))
	}
	return append(cases,
		m.perPersona("GET /v3/users", "identity:list_users", domainScopedTarget("target.domain_id"),
			func(p policytest.Persona) int { return m.status("GET", "/v3/users", p.Token, nil) }),
		rule("POST /v3/users", "identity:create_user", map[string]any{"target.user.domain_id": "default"},
			func(p policytest.Persona) int {
				return m.status("POST", "/v3/users", p.Token, map[string]any{"user": map[string]any{
					"name": m.name("matrix-new-user"), "domain_id": "default"}})
			}),
		rule("PATCH /v3/users/{user_id}", "identity:update_user", anyUser, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/users/"+m.newUser(m.name("matrix-patched")).id, p.Token, map[string]any{"user": map[string]any{"description": "x"}})
		}),
		rule("DELETE /v3/users/{user_id}", "identity:delete_user", anyUser, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/users/"+m.newUser(m.name("matrix-deleted")).id, p.Token, nil)
		}),
	)
}

// --- groups and membership (groups.py) ---

func (m *matrix) newGroup() string {
	return ugCreateGroup(m.testEnv, map[string]any{"name": m.name("matrix-group")})["id"].(string)
}

func (m *matrix) groupCases() []policytest.Case {
	group, member := m.newGroup(), m.newUser("matrix-group-member")
	m.admin(http.StatusNoContent, "PUT", "/v3/groups/"+group+"/users/"+member.id, nil)
	G := map[string]any{"target.group.id": group, "target.group.domain_id": "default"}
	GU := map[string]any{"target.group.id": group, "target.group.domain_id": "default",
		"target.user.id": member.id, "target.user.domain_id": "default"}
	membership := "/v3/groups/" + group + "/users/" + member.id
	return []policytest.Case{
		m.perPersona("GET /v3/groups", "identity:list_groups", domainScopedTarget("target.group.domain_id"),
			func(p policytest.Persona) int { return m.status("GET", "/v3/groups", p.Token, nil) }),
		rule("POST /v3/groups", "identity:create_group", map[string]any{"target.group.domain_id": "default"},
			func(p policytest.Persona) int {
				return m.status("POST", "/v3/groups", p.Token, map[string]any{"group": map[string]any{
					"name": m.name("matrix-new-group"), "domain_id": "default"}})
			}),
		rule("GET /v3/groups/{group_id}", "identity:get_group", G, func(p policytest.Persona) int {
			return m.status("GET", "/v3/groups/"+group, p.Token, nil)
		}),
		rule("PATCH /v3/groups/{group_id}", "identity:update_group", G, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/groups/"+m.newGroup(), p.Token, map[string]any{"group": map[string]any{"description": "x"}})
		}),
		rule("DELETE /v3/groups/{group_id}", "identity:delete_group", G, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/groups/"+m.newGroup(), p.Token, nil)
		}),
		rule("GET /v3/groups/{group_id}/users", "identity:list_users_in_group", G, func(p policytest.Persona) int {
			return m.status("GET", "/v3/groups/"+group+"/users", p.Token, nil)
		}),
		rule("PUT /v3/groups/{group_id}/users/{user_id}", "identity:add_user_to_group", GU, func(p policytest.Persona) int {
			return m.status("PUT", membership, p.Token, nil)
		}),
		rule("HEAD /v3/groups/{group_id}/users/{user_id}", "identity:check_user_in_group", GU, func(p policytest.Persona) int {
			return m.status("HEAD", membership, p.Token, nil)
		}),
		rule("GET /v3/groups/{group_id}/users/{user_id}", "identity:check_user_in_group", GU, func(p policytest.Persona) int {
			return m.status("GET", membership, p.Token, nil)
		}),
		rule("DELETE /v3/groups/{group_id}/users/{user_id}", "identity:remove_user_from_group", GU, func(p policytest.Persona) int {
			m.admin(http.StatusNoContent, "PUT", membership, nil)
			return m.status("DELETE", membership, p.Token, nil)
		}),
	}
}

// --- roles and implied roles (roles.py, role_inferences.py) ---

func (m *matrix) newRole() string {
	return obj(m.admin(http.StatusCreated, "POST", "/v3/roles", map[string]any{"role": map[string]any{
		"name": m.name("matrix-role")}}), "role")["id"].(string)
}

func (m *matrix) roleCases() []policytest.Case {
	member := extRoleID(m.t, m.testEnv, "member")
	prior, implied := m.newRole(), m.newRole()
	m.admin(http.StatusCreated, "PUT", "/v3/roles/"+prior+"/implies/"+implied, nil)
	R := map[string]any{"target.role.id": member, "target.role.name": "member"}
	anyRole := map[string]any{"target.role.name": "matrix-role"}
	inference := "/v3/roles/" + prior + "/implies/" + implied
	return []policytest.Case{
		rule("GET /v3/roles", "identity:list_roles", nil, func(p policytest.Persona) int { return m.status("GET", "/v3/roles", p.Token, nil) }),
		rule("POST /v3/roles", "identity:create_role", nil, func(p policytest.Persona) int {
			return m.status("POST", "/v3/roles", p.Token, map[string]any{"role": map[string]any{"name": m.name("matrix-new-role")}})
		}),
		rule("GET /v3/roles/{role_id}", "identity:get_role", R, func(p policytest.Persona) int {
			return m.status("GET", "/v3/roles/"+member, p.Token, nil)
		}),
		rule("PATCH /v3/roles/{role_id}", "identity:update_role", anyRole, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/roles/"+m.newRole(), p.Token, map[string]any{"role": map[string]any{"description": "x"}})
		}),
		rule("DELETE /v3/roles/{role_id}", "identity:delete_role", anyRole, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/roles/"+m.newRole(), p.Token, nil)
		}),
		rule("GET /v3/roles/{prior_role_id}/implies", "identity:list_implied_roles", nil, func(p policytest.Persona) int {
			return m.status("GET", "/v3/roles/"+prior+"/implies", p.Token, nil)
		}),
		rule("PUT /v3/roles/{prior_role_id}/implies/{implied_role_id}", "identity:create_implied_role", nil, func(p policytest.Persona) int {
			return m.status("PUT", "/v3/roles/"+m.newRole()+"/implies/"+implied, p.Token, nil)
		}),
		rule("GET /v3/roles/{prior_role_id}/implies/{implied_role_id}", "identity:get_implied_role", nil, func(p policytest.Persona) int {
			return m.status("GET", inference, p.Token, nil)
		}),
		rule("HEAD /v3/roles/{prior_role_id}/implies/{implied_role_id}", "identity:check_implied_role", nil, func(p policytest.Persona) int {
			return m.status("HEAD", inference, p.Token, nil)
		}),
		rule("DELETE /v3/roles/{prior_role_id}/implies/{implied_role_id}", "identity:delete_implied_role", nil, func(p policytest.Persona) int {
			from := m.newRole()
			m.admin(http.StatusCreated, "PUT", "/v3/roles/"+from+"/implies/"+implied, nil)
			return m.status("DELETE", "/v3/roles/"+from+"/implies/"+implied, p.Token, nil)
		}),
		rule("GET /v3/role_inferences", "identity:list_role_inference_rules", nil, func(p policytest.Persona) int {
			return m.status("GET", "/v3/role_inferences", p.Token, nil)
		}),
	}
}

// --- grants on projects, domains and the system (projects.py, domains.py,
// os_inherit.py, system.py) and role assignments (role_assignments.py) ---

func (m *matrix) grantCases() []policytest.Case {
	reader := extRoleID(m.t, m.testEnv, "reader")
	user, group := m.newUser("matrix-grantee"), m.newGroup()
	role := map[string]any{"target.role.id": reader, "target.role.name": "reader", "target.role.domain_id": nil}
	var cases []policytest.Case
	for _, actor := range []struct{ kind, id string }{{"user", user.id}, {"group", group}} {
		for _, on := range []struct{ kind, id string }{{"project", m.project}, {"domain", "default"}} {
			target := map[string]any{"target." + actor.kind + ".id": actor.id, "target." + actor.kind + ".domain_id": "default"}
			if on.kind == "project" {
				target["target.project.id"], target["target.project.domain_id"] = on.id, "default"
			} else {
				target["target.domain.id"] = on.id
			}
			withRole := map[string]any{}
			for k, v := range target {
				withRole[k] = v
			}
			for k, v := range role {
				withRole[k] = v
			}
			for _, inherited := range []bool{false, true} {
				on, actor := on, actor
				at := "/" + on.kind + "s/" + on.id + "/" + actor.kind + "s/" + actor.id + "/roles"
				atRoute := "/" + on.kind + "s/{" + on.kind + "_id}/" + actor.kind + "s/{" + actor.kind + "_id}/roles"
				listPath, grantPath := "/v3"+at, "/v3"+at+"/"+reader
				listRoute, grantRoute := "/v3"+atRoute, "/v3"+atRoute+"/{role_id}"
				if inherited {
					listPath, grantPath = "/v3/OS-INHERIT"+at+"/inherited_to_projects", "/v3/OS-INHERIT"+at+"/"+reader+"/inherited_to_projects"
					listRoute, grantRoute = "/v3/OS-INHERIT"+atRoute+"/inherited_to_projects", "/v3/OS-INHERIT"+atRoute+"/{role_id}/inherited_to_projects"
				}
				m.admin(http.StatusNoContent, "PUT", grantPath, nil)
				cases = append(cases,
					rule("GET "+listRoute, "identity:list_grants", target, func(p policytest.Persona) int {
						return m.status("GET", listPath, p.Token, nil)
					}),
					rule("PUT "+grantRoute, "identity:create_grant", withRole, func(p policytest.Persona) int {
						return m.status("PUT", grantPath, p.Token, nil)
					}),
					rule("GET "+grantRoute, "identity:check_grant", withRole, func(p policytest.Persona) int {
						return m.status("GET", grantPath, p.Token, nil)
					}),
					rule("HEAD "+grantRoute, "identity:check_grant", withRole, func(p policytest.Persona) int {
						return m.status("HEAD", grantPath, p.Token, nil)
					}),
					rule("DELETE "+grantRoute, "identity:revoke_grant", withRole, func(p policytest.Persona) int {
						m.admin(http.StatusNoContent, "PUT", grantPath, nil)
						return m.status("DELETE", grantPath, p.Token, nil)
					}))
			}
		}
		base := "/v3/system/" + actor.kind + "s/" + actor.id + "/roles"
		route := "/v3/system/" + actor.kind + "s/{" + actor.kind + "_id}/roles"
		m.admin(http.StatusNoContent, "PUT", base+"/"+reader, nil)
		cases = append(cases,
			rule("GET "+route, "identity:list_system_grants_for_"+actor.kind, nil, func(p policytest.Persona) int {
				return m.status("GET", base, p.Token, nil)
			}),
			rule("PUT "+route+"/{role_id}", "identity:create_system_grant_for_"+actor.kind, nil, func(p policytest.Persona) int {
				return m.status("PUT", base+"/"+reader, p.Token, nil)
			}),
			rule("GET "+route+"/{role_id}", "identity:check_system_grant_for_"+actor.kind, nil, func(p policytest.Persona) int {
				return m.status("GET", base+"/"+reader, p.Token, nil)
			}),
			rule("HEAD "+route+"/{role_id}", "identity:check_system_grant_for_"+actor.kind, nil, func(p policytest.Persona) int {
				return m.status("HEAD", base+"/"+reader, p.Token, nil)
			}),
			rule("DELETE "+route+"/{role_id}", "identity:revoke_system_grant_for_"+actor.kind, nil, func(p policytest.Persona) int {
				m.admin(http.StatusNoContent, "PUT", base+"/"+reader, nil)
				return m.status("DELETE", base+"/"+reader, p.Token, nil)
			}))
	}
	// A domain's manager grants the lesser roles only (domain_managed_target_role).
	adminRole := extRoleID(m.t, m.testEnv, "admin")
	adminGrant := "/v3/projects/" + m.project + "/users/" + user.id + "/roles/" + adminRole
	cases = append(cases, rule("PUT /v3/projects/{project_id}/users/{user_id}/roles/{role_id}", "identity:create_grant",
		map[string]any{"target.user.id": user.id, "target.user.domain_id": "default", "target.project.id": m.project,
			"target.project.domain_id": "default", "target.role.id": adminRole, "target.role.name": "admin", "target.role.domain_id": nil},
		func(p policytest.Persona) int {
			status := m.status("PUT", adminGrant, p.Token, nil)
			m.status("DELETE", adminGrant, m.AdminToken, nil)
			return status
		}))
	return append(cases,
		m.perPersona("GET /v3/role_assignments", "identity:list_role_assignments", domainScopedTarget("target.domain_id"),
			func(p policytest.Persona) int { return m.status("GET", "/v3/role_assignments", p.Token, nil) }),
		rule("GET /v3/role_assignments", "identity:list_role_assignments_for_tree",
			map[string]any{"target.project.id": m.project, "target.project.domain_id": "default", "target.domain_id": "default"},
			func(p policytest.Persona) int {
				return m.status("GET", "/v3/role_assignments?include_subtree=true&scope.project.id="+m.project, p.Token, nil)
			}))
}

// --- the catalog (regions.py, services.py, endpoints.py) ---

func (m *matrix) newService() string {
	return obj(m.admin(http.StatusCreated, "POST", "/v3/services", map[string]any{"service": map[string]any{
		"type": m.name("matrix-type"), "name": m.name("matrix-service")}}), "service")["id"].(string)
}

func (m *matrix) newEndpoint(service string) string {
	return obj(m.admin(http.StatusCreated, "POST", "/v3/endpoints", map[string]any{"endpoint": map[string]any{
		"service_id": service, "interface": "public", "url": "http://matrix.example/" + m.name("e"), "region_id": "RegionOne"}}),
		"endpoint")["id"].(string)
}

// newEndpointGroup creates an endpoint group and returns its path.
func (m *matrix) newEndpointGroup() string {
	id := obj(m.admin(http.StatusCreated, "POST", "/v3/OS-EP-FILTER/endpoint_groups", map[string]any{"endpoint_group": map[string]any{
		"name": m.name("matrix-group"), "filters": map[string]any{"interface": "internal"}}}), "endpoint_group")["id"].(string)
	return "/v3/OS-EP-FILTER/endpoint_groups/" + id
}

func (m *matrix) newRegion() string {
	return obj(m.admin(http.StatusCreated, "POST", "/v3/regions", map[string]any{"region": map[string]any{
		"id": m.name("matrix-region")}}), "region")["id"].(string)
}

func (m *matrix) catalogCases() []policytest.Case {
	service := m.newService()
	endpoint := m.newEndpoint(service)
	get := func(path string) func(p policytest.Persona) int {
		return func(p policytest.Persona) int { return m.status("GET", path, p.Token, nil) }
	}
	return []policytest.Case{
		rule("GET /v3/regions", "identity:list_regions", nil, get("/v3/regions")),
		rule("GET /v3/regions/{region_id}", "identity:get_region", nil, get("/v3/regions/RegionOne")),
		rule("POST /v3/regions", "identity:create_region", nil, func(p policytest.Persona) int {
			return m.status("POST", "/v3/regions", p.Token, map[string]any{"region": map[string]any{"id": m.name("matrix-new-region")}})
		}),
		rule("PUT /v3/regions/{region_id}", "identity:create_region", nil, func(p policytest.Persona) int {
			return m.status("PUT", "/v3/regions/"+m.name("matrix-put-region"), p.Token, map[string]any{"region": map[string]any{}})
		}),
		rule("PATCH /v3/regions/{region_id}", "identity:update_region", nil, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/regions/"+m.newRegion(), p.Token, map[string]any{"region": map[string]any{"description": "x"}})
		}),
		rule("DELETE /v3/regions/{region_id}", "identity:delete_region", nil, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/regions/"+m.newRegion(), p.Token, nil)
		}),
		rule("GET /v3/services", "identity:list_services", nil, get("/v3/services")),
		rule("GET /v3/services/{service_id}", "identity:get_service", nil, get("/v3/services/"+service)),
		rule("POST /v3/services", "identity:create_service", nil, func(p policytest.Persona) int {
			return m.status("POST", "/v3/services", p.Token, map[string]any{"service": map[string]any{"type": m.name("matrix-new-type")}})
		}),
		rule("PATCH /v3/services/{service_id}", "identity:update_service", nil, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/services/"+m.newService(), p.Token, map[string]any{"service": map[string]any{"description": "x"}})
		}),
		rule("DELETE /v3/services/{service_id}", "identity:delete_service", nil, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/services/"+m.newService(), p.Token, nil)
		}),
		rule("GET /v3/endpoints", "identity:list_endpoints", nil, get("/v3/endpoints")),
		rule("GET /v3/endpoints/{endpoint_id}", "identity:get_endpoint", nil, get("/v3/endpoints/"+endpoint)),
		rule("POST /v3/endpoints", "identity:create_endpoint", nil, func(p policytest.Persona) int {
			return m.status("POST", "/v3/endpoints", p.Token, map[string]any{"endpoint": map[string]any{
				"service_id": service, "interface": "internal", "url": "http://matrix.example/new"}})
		}),
		rule("PATCH /v3/endpoints/{endpoint_id}", "identity:update_endpoint", nil, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/endpoints/"+m.newEndpoint(service), p.Token, map[string]any{"endpoint": map[string]any{"url": "http://matrix.example/patched"}})
		}),
		rule("DELETE /v3/endpoints/{endpoint_id}", "identity:delete_endpoint", nil, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/endpoints/"+m.newEndpoint(service), p.Token, nil)
		}),
	}
}

// --- application credentials and access rules (users.py) ---

// newAppCred makes an application credential of the token's user with one
// access rule, and returns the credential's and the rule's ids.
func (m *matrix) newAppCred(userID, token string) (string, string) {
	m.t.Helper()
	ac := obj(m.Must(http.StatusCreated, "POST", "/v3/users/"+userID+"/application_credentials", token, appCredBody(map[string]any{
		"name": m.name("matrix-appcred"), "access_rules": []any{map[string]any{
			"service": "compute", "method": "GET", "path": "/v2.1/" + m.name("servers")}}})), "application_credential")
	return ac["id"].(string), list(ac, "access_rules")[0]["id"].(string)
}

func (m *matrix) appCredCases() []policytest.Case {
	owner := func(p policytest.Persona) map[string]any {
		return map[string]any{"user_id": m.userID(p), "target.user.id": m.userID(p), "target.user.domain_id": "default"}
	}
	demo := map[string]any{"user_id": m.demoID, "target.user.id": m.demoID, "target.user.domain_id": "default"}
	demoAC, demoRule := m.newAppCred(m.demoID, m.DemoToken)
	ownAC, ownRule := map[string]string{}, map[string]string{}
	for _, p := range m.personas {
		ownAC[p.Name], ownRule[p.Name] = m.newAppCred(m.userID(p), m.projectToken(p))
	}
	apps := func(user string) string { return "/v3/users/" + user + "/application_credentials" }
	rules := func(user string) string { return "/v3/users/" + user + "/access_rules" }
	// An unused rule of the user, for deleting.
	unusedRule := func(user, token string) string {
		ac, r := m.newAppCred(user, token)
		m.Must(http.StatusNoContent, "DELETE", apps(user)+"/"+ac, token, nil)
		return r
	}
	var cases []policytest.Case
	for _, c := range []struct {
		route, rule string
		do          func(p policytest.Persona, own bool) int
	}{
		{"GET /v3/users/{user_id}/application_credentials", "identity:list_application_credentials", func(p policytest.Persona, own bool) int {
			return m.status("GET", apps(pick(own, m.userID(p), m.demoID)), p.Token, nil)
		}},
		{"POST /v3/users/{user_id}/application_credentials", "identity:create_application_credential", func(p policytest.Persona, own bool) int {
			return m.status("POST", apps(pick(own, m.userID(p), m.demoID)), p.Token, appCredBody(map[string]any{"name": m.name("matrix-new-appcred")}))
		}},
		{"GET /v3/users/{user_id}/application_credentials/{application_credential_id}", "identity:get_application_credential", func(p policytest.Persona, own bool) int {
			if own {
				return m.status("GET", apps(m.userID(p))+"/"+ownAC[p.Name], p.Token, nil)
			}
			return m.status("GET", apps(m.demoID)+"/"+demoAC, p.Token, nil)
		}},
		{"DELETE /v3/users/{user_id}/application_credentials/{application_credential_id}", "identity:delete_application_credential", func(p policytest.Persona, own bool) int {
			if own {
				ac, _ := m.newAppCred(m.userID(p), m.projectToken(p))
				return m.status("DELETE", apps(m.userID(p))+"/"+ac, p.Token, nil)
			}
			ac, _ := m.newAppCred(m.demoID, m.DemoToken)
			return m.status("DELETE", apps(m.demoID)+"/"+ac, p.Token, nil)
		}},
		{"GET /v3/users/{user_id}/access_rules", "identity:list_access_rules", func(p policytest.Persona, own bool) int {
			return m.status("GET", rules(pick(own, m.userID(p), m.demoID)), p.Token, nil)
		}},
		{"GET /v3/users/{user_id}/access_rules/{access_rule_id}", "identity:get_access_rule", func(p policytest.Persona, own bool) int {
			if own {
				return m.status("GET", rules(m.userID(p))+"/"+ownRule[p.Name], p.Token, nil)
			}
			return m.status("GET", rules(m.demoID)+"/"+demoRule, p.Token, nil)
		}},
		{"DELETE /v3/users/{user_id}/access_rules/{access_rule_id}", "identity:delete_access_rule", func(p policytest.Persona, own bool) int {
			if own {
				return m.status("DELETE", rules(m.userID(p))+"/"+unusedRule(m.userID(p), m.projectToken(p)), p.Token, nil)
			}
			return m.status("DELETE", rules(m.demoID)+"/"+unusedRule(m.demoID, m.DemoToken), p.Token, nil)
		}},
	} {
		cases = append(cases,
			m.perPersona(c.route, c.rule, owner, func(p policytest.Persona) int { return c.do(p, true) }),
			rule(c.route, c.rule, demo, func(p policytest.Persona) int { return c.do(p, false) }))
	}
	return cases
}

func pick(cond bool, a, b string) string {
	if cond {
		return a
	}
	return b
}

// --- credentials (credentials.py) ---

func (m *matrix) newCredential(userID string) string {
	return obj(m.admin(http.StatusCreated, "POST", "/v3/credentials", credBody(map[string]any{
		"type": "cert", "blob": m.name("blob"), "user_id": userID})), "credential")["id"].(string)
}

func (m *matrix) credentialCases() []policytest.Case {
	ownerIs := func(id string) map[string]any { return map[string]any{"target.credential.user_id": id} }
	own := func(p policytest.Persona) map[string]any { return ownerIs(m.userID(p)) }
	demoCred := m.newCredential(m.demoID)
	create := func(userID, token string) int {
		return m.status("POST", "/v3/credentials", token, credBody(map[string]any{"type": "cert", "blob": m.name("blob"), "user_id": userID}))
	}
	return []policytest.Case{
		// The list's target is the caller itself (none for system scope); each
		// credential is then shown if get_credential allows it.
		m.perPersona("GET /v3/credentials", "identity:list_credentials", func(p policytest.Persona) map[string]any {
			if p.Creds["system_scope"] == "all" {
				return nil
			}
			return own(p)
		}, func(p policytest.Persona) int { return m.status("GET", "/v3/credentials", p.Token, nil) }),
		m.perPersona("POST /v3/credentials", "identity:create_credential", own, func(p policytest.Persona) int {
			return create(m.userID(p), p.Token)
		}),
		rule("POST /v3/credentials", "identity:create_credential", ownerIs(m.demoID), func(p policytest.Persona) int {
			return create(m.demoID, p.Token)
		}),
		m.perPersona("GET /v3/credentials/{credential_id}", "identity:get_credential", own, func(p policytest.Persona) int {
			return m.status("GET", "/v3/credentials/"+m.newCredential(m.userID(p)), p.Token, nil)
		}),
		rule("GET /v3/credentials/{credential_id}", "identity:get_credential", ownerIs(m.demoID), func(p policytest.Persona) int {
			return m.status("GET", "/v3/credentials/"+demoCred, p.Token, nil)
		}),
		m.perPersona("PATCH /v3/credentials/{credential_id}", "identity:update_credential", own, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/credentials/"+m.newCredential(m.userID(p)), p.Token, credBody(map[string]any{"blob": "new"}))
		}),
		rule("PATCH /v3/credentials/{credential_id}", "identity:update_credential", ownerIs(m.demoID), func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/credentials/"+m.newCredential(m.demoID), p.Token, credBody(map[string]any{"blob": "new"}))
		}),
		m.perPersona("DELETE /v3/credentials/{credential_id}", "identity:delete_credential", own, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/credentials/"+m.newCredential(m.userID(p)), p.Token, nil)
		}),
		rule("DELETE /v3/credentials/{credential_id}", "identity:delete_credential", ownerIs(m.demoID), func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/credentials/"+m.newCredential(m.demoID), p.Token, nil)
		}),
	}
}

// --- EC2 credentials (users.py, OS-EC2) ---

func (m *matrix) newEC2(userID string) string {
	return obj(m.admin(http.StatusCreated, "POST", "/v3/users/"+userID+"/credentials/OS-EC2",
		map[string]any{"tenant_id": m.project}), "credential")["access"].(string)
}

func (m *matrix) ec2Cases() []policytest.Case {
	base := func(userID string) string { return "/v3/users/" + userID + "/credentials/OS-EC2" }
	// Upstream's targets: the path's user_id as a view argument; the credential
	// (its owner) when the path names one; {"credential": {"user_id": ...}} on create.
	owner := func(id string) map[string]any { return map[string]any{"user_id": id, "target.credential.user_id": id} }
	own := func(p policytest.Persona) map[string]any { return owner(m.userID(p)) }
	demoKey := m.newEC2(m.demoID)
	var cases []policytest.Case
	for _, c := range []struct {
		route, rule string
		do          func(p policytest.Persona, user string) int
	}{
		{"GET /v3/users/{user_id}/credentials/OS-EC2", "identity:ec2_list_credentials", func(p policytest.Persona, user string) int {
			return m.status("GET", base(user), p.Token, nil)
		}},
		{"POST /v3/users/{user_id}/credentials/OS-EC2", "identity:ec2_create_credential", func(p policytest.Persona, user string) int {
			return m.status("POST", base(user), p.Token, map[string]any{"tenant_id": m.project})
		}},
		{"GET /v3/users/{user_id}/credentials/OS-EC2/{credential_id}", "identity:ec2_get_credential", func(p policytest.Persona, user string) int {
			key := demoKey
			if user != m.demoID {
				key = m.newEC2(user)
			}
			return m.status("GET", base(user)+"/"+key, p.Token, nil)
		}},
		{"DELETE /v3/users/{user_id}/credentials/OS-EC2/{credential_id}", "identity:ec2_delete_credential", func(p policytest.Persona, user string) int {
			return m.status("DELETE", base(user)+"/"+m.newEC2(user), p.Token, nil)
		}},
	} {
		cases = append(cases,
			m.perPersona(c.route, c.rule, own, func(p policytest.Persona) int { return c.do(p, m.userID(p)) }),
			rule(c.route, c.rule, owner(m.demoID), func(p policytest.Persona) int { return c.do(p, m.demoID) }))
	}
	// Turning a signature into a token takes a service's or an admin's token; an
	// empty body then fails validation (400), past the policy.
	for _, path := range []string{"/v3/ec2tokens", "/v3/s3tokens"} {
		name := "identity:" + path[len("/v3/"):] + "_validate"
		cases = append(cases, rule("POST "+path, name, nil, func(p policytest.Persona) int {
			return m.status("POST", path, p.Token, map[string]any{})
		}))
	}
	return cases
}

// --- policy blobs, limits, endpoint filtering, federation mappings (policy.py,
// registered_limits.py, limits.py, os_ep_filter.py, os_federation.py) ---

func (m *matrix) newRegisteredLimit(service string) (id, resource string) {
	resource = m.name("matrix-resource")
	id = list(m.admin(http.StatusCreated, "POST", "/v3/registered_limits", map[string]any{"registered_limits": []any{
		map[string]any{"service_id": service, "resource_name": resource, "default_limit": 10}}}), "registered_limits")[0]["id"].(string)
	return id, resource
}

func (m *matrix) newLimit(service string) string {
	_, resource := m.newRegisteredLimit(service)
	return list(m.admin(http.StatusCreated, "POST", "/v3/limits", map[string]any{"limits": []any{map[string]any{
		"service_id": service, "project_id": m.project, "resource_name": resource, "resource_limit": 5}}}), "limits")[0]["id"].(string)
}

func (m *matrix) newPolicyBlob() string {
	return obj(m.admin(http.StatusCreated, "POST", "/v3/policies", map[string]any{"policy": map[string]any{
		"type": "application/json", "blob": "{}"}}), "policy")["id"].(string)
}

func (m *matrix) newMapping() string {
	id := m.name("matrix-mapping")
	m.admin(http.StatusCreated, "PUT", "/v3/OS-FEDERATION/mappings/"+id, mappingBody(extMappingRules("any_one_of", "Staff")))
	return id
}

func (m *matrix) extensionCases() []policytest.Case {
	service := m.newService()
	endpoint := m.newEndpoint(service)
	regLimit, _ := m.newRegisteredLimit(service)
	limit := m.newLimit(service)
	blob := m.newPolicyBlob()
	mapping := m.newMapping()
	projectEndpoint := "/v3/OS-EP-FILTER/projects/" + m.project + "/endpoints/" + endpoint
	m.admin(http.StatusNoContent, "PUT", projectEndpoint, nil)
	endpointGroup := m.newEndpointGroup()
	groupInProject := endpointGroup + "/projects/" + m.project
	m.admin(http.StatusNoContent, "PUT", groupInProject, nil)
	get := func(path string) func(p policytest.Persona) int {
		return func(p policytest.Persona) int { return m.status("GET", path, p.Token, nil) }
	}
	limitTarget := map[string]any{"target.limit.project_id": m.project, "target.limit.project.domain_id": "default"}
	return []policytest.Case{
		rule("GET /v3/policies", "identity:list_policies", nil, get("/v3/policies")),
		rule("GET /v3/policies/{policy_id}", "identity:get_policy", nil, get("/v3/policies/"+blob)),
		rule("POST /v3/policies", "identity:create_policy", nil, func(p policytest.Persona) int {
			return m.status("POST", "/v3/policies", p.Token, map[string]any{"policy": map[string]any{"type": "application/json", "blob": "{}"}})
		}),
		rule("PATCH /v3/policies/{policy_id}", "identity:update_policy", nil, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/policies/"+m.newPolicyBlob(), p.Token, map[string]any{"policy": map[string]any{"blob": "[]"}})
		}),
		rule("DELETE /v3/policies/{policy_id}", "identity:delete_policy", nil, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/policies/"+m.newPolicyBlob(), p.Token, nil)
		}),

		rule("GET /v3/registered_limits", "identity:list_registered_limits", nil, get("/v3/registered_limits")),
		rule("GET /v3/registered_limits/{registered_limit_id}", "identity:get_registered_limit", nil, get("/v3/registered_limits/"+regLimit)),
		rule("POST /v3/registered_limits", "identity:create_registered_limits", nil, func(p policytest.Persona) int {
			return m.status("POST", "/v3/registered_limits", p.Token, map[string]any{"registered_limits": []any{
				map[string]any{"service_id": service, "resource_name": m.name("matrix-new-resource"), "default_limit": 1}}})
		}),
		rule("PATCH /v3/registered_limits/{registered_limit_id}", "identity:update_registered_limit", nil, func(p policytest.Persona) int {
			id, _ := m.newRegisteredLimit(service)
			return m.status("PATCH", "/v3/registered_limits/"+id, p.Token, map[string]any{"registered_limit": map[string]any{"default_limit": 2}})
		}),
		rule("DELETE /v3/registered_limits/{registered_limit_id}", "identity:delete_registered_limit", nil, func(p policytest.Persona) int {
			id, _ := m.newRegisteredLimit(service)
			return m.status("DELETE", "/v3/registered_limits/"+id, p.Token, nil)
		}),
		rule("GET /v3/limits/model", "identity:get_limit_model", nil, get("/v3/limits/model")),
		rule("GET /v3/limits", "identity:list_limits", nil, get("/v3/limits")),
		rule("GET /v3/limits/{limit_id}", "identity:get_limit", limitTarget, get("/v3/limits/"+limit)),
		rule("POST /v3/limits", "identity:create_limits", nil, func(p policytest.Persona) int {
			_, resource := m.newRegisteredLimit(service)
			return m.status("POST", "/v3/limits", p.Token, map[string]any{"limits": []any{map[string]any{
				"service_id": service, "project_id": m.project, "resource_name": resource, "resource_limit": 1}}})
		}),
		rule("PATCH /v3/limits/{limit_id}", "identity:update_limit", nil, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/limits/"+m.newLimit(service), p.Token, map[string]any{"limit": map[string]any{"resource_limit": 3}})
		}),
		rule("DELETE /v3/limits/{limit_id}", "identity:delete_limit", nil, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/limits/"+m.newLimit(service), p.Token, nil)
		}),

		rule("PUT /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}", "identity:add_endpoint_to_project", nil,
			func(p policytest.Persona) int { return m.status("PUT", projectEndpoint, p.Token, nil) }),
		rule("GET /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}", "identity:check_endpoint_in_project", nil,
			get(projectEndpoint)),
		rule("HEAD /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}", "identity:check_endpoint_in_project", nil,
			func(p policytest.Persona) int { return m.status("HEAD", projectEndpoint, p.Token, nil) }),
		rule("DELETE /v3/OS-EP-FILTER/projects/{project_id}/endpoints/{endpoint_id}", "identity:remove_endpoint_from_project", nil,
			func(p policytest.Persona) int {
				e := m.newEndpoint(service)
				path := "/v3/OS-EP-FILTER/projects/" + m.project + "/endpoints/" + e
				m.admin(http.StatusNoContent, "PUT", path, nil)
				return m.status("DELETE", path, p.Token, nil)
			}),
		rule("GET /v3/OS-EP-FILTER/projects/{project_id}/endpoints", "identity:list_endpoints_for_project", nil,
			get("/v3/OS-EP-FILTER/projects/"+m.project+"/endpoints")),
		rule("GET /v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects", "identity:list_projects_for_endpoint", nil,
			get("/v3/OS-EP-FILTER/endpoints/"+endpoint+"/projects")),

		rule("GET /v3/OS-EP-FILTER/endpoint_groups", "identity:list_endpoint_groups", nil, get("/v3/OS-EP-FILTER/endpoint_groups")),
		rule("POST /v3/OS-EP-FILTER/endpoint_groups", "identity:create_endpoint_group", nil, func(p policytest.Persona) int {
			return m.status("POST", "/v3/OS-EP-FILTER/endpoint_groups", p.Token, map[string]any{"endpoint_group": map[string]any{
				"name": m.name("matrix-group"), "filters": map[string]any{"interface": "public"}}})
		}),
		rule("GET /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}", "identity:get_endpoint_group", nil, get(endpointGroup)),
		rule("HEAD /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}", "identity:get_endpoint_group", nil,
			func(p policytest.Persona) int { return m.status("HEAD", endpointGroup, p.Token, nil) }),
		rule("PATCH /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}", "identity:update_endpoint_group", nil, func(p policytest.Persona) int {
			return m.status("PATCH", endpointGroup, p.Token, map[string]any{"endpoint_group": map[string]any{"description": "d"}})
		}),
		rule("DELETE /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}", "identity:delete_endpoint_group", nil, func(p policytest.Persona) int {
			return m.status("DELETE", m.newEndpointGroup(), p.Token, nil)
		}),
		rule("GET /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects", "identity:list_projects_associated_with_endpoint_group", nil,
			get(endpointGroup+"/projects")),
		rule("GET /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/endpoints", "identity:list_endpoints_associated_with_endpoint_group", nil,
			get(endpointGroup+"/endpoints")),
		rule("GET /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}", "identity:get_endpoint_group_in_project", nil,
			get(groupInProject)),
		rule("HEAD /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}", "identity:get_endpoint_group_in_project", nil,
			func(p policytest.Persona) int { return m.status("HEAD", groupInProject, p.Token, nil) }),
		rule("PUT /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}", "identity:add_endpoint_group_to_project", nil,
			func(p policytest.Persona) int {
				return m.status("PUT", m.newEndpointGroup()+"/projects/"+m.project, p.Token, nil)
			}),
		rule("DELETE /v3/OS-EP-FILTER/endpoint_groups/{endpoint_group_id}/projects/{project_id}", "identity:remove_endpoint_group_from_project", nil,
			func(p policytest.Persona) int {
				path := m.newEndpointGroup() + "/projects/" + m.project
				m.admin(http.StatusNoContent, "PUT", path, nil)
				return m.status("DELETE", path, p.Token, nil)
			}),
		rule("GET /v3/OS-EP-FILTER/projects/{project_id}/endpoint_groups", "identity:list_endpoint_groups_for_project", nil,
			get("/v3/OS-EP-FILTER/projects/"+m.project+"/endpoint_groups")),

		rule("GET /v3/OS-FEDERATION/mappings", "identity:list_mappings", nil, get("/v3/OS-FEDERATION/mappings")),
		rule("GET /v3/OS-FEDERATION/mappings/{mapping_id}", "identity:get_mapping", nil, get("/v3/OS-FEDERATION/mappings/"+mapping)),
		rule("PUT /v3/OS-FEDERATION/mappings/{mapping_id}", "identity:create_mapping", nil, func(p policytest.Persona) int {
			return m.status("PUT", "/v3/OS-FEDERATION/mappings/"+m.name("matrix-new-mapping"), p.Token,
				mappingBody(extMappingRules("any_one_of", "Staff")))
		}),
		rule("PATCH /v3/OS-FEDERATION/mappings/{mapping_id}", "identity:update_mapping", nil, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/OS-FEDERATION/mappings/"+m.newMapping(), p.Token,
				mappingBody(extMappingRules("not_any_of", "Contractor")))
		}),
		rule("DELETE /v3/OS-FEDERATION/mappings/{mapping_id}", "identity:delete_mapping", nil, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/OS-FEDERATION/mappings/"+m.newMapping(), p.Token, nil)
		}),
	}
}

// --- trusts (trusts.py) ---

// newTrust makes a trust of the token's user (trustor) to demo on its project.
func (m *matrix) newTrust(trustorID, projectID, token string) string {
	m.t.Helper()
	return obj(m.Must(http.StatusCreated, "POST", "/v3/OS-TRUST/trusts", token, map[string]any{"trust": map[string]any{
		"trustor_user_id": trustorID, "trustee_user_id": m.demoID, "project_id": projectID, "impersonation": false,
		"roles": []any{map[string]any{"name": "reader"}}}}), "trust")["id"].(string)
}

func (m *matrix) trustCases() []policytest.Case {
	adminID, adminProject := acUserID(m.testEnv, m.AdminToken), extProjectID(m.testEnv, m.AdminToken)
	// A trust the caller has no part in: admin's to demo.
	foreign := m.newTrust(adminID, adminProject, m.AdminToken)
	foreignTarget := map[string]any{"target.trust.trustor_user_id": adminID, "target.trust.trustee_user_id": m.demoID}
	reader := extRoleID(m.t, m.testEnv, "reader")
	// The caller's own (as trustor), made with a project token of its user.
	ownTrust := func(p policytest.Persona) string { return m.newTrust(m.userID(p), m.projectOf(p), m.projectToken(p)) }
	ownTarget := func(p policytest.Persona) map[string]any {
		return map[string]any{"target.trust.trustor_user_id": m.userID(p), "target.trust.trustee_user_id": m.demoID}
	}
	var cases []policytest.Case
	for _, c := range []struct {
		route, rule, method, suffix string
	}{
		{"GET /v3/OS-TRUST/trusts/{trust_id}", "identity:get_trust", "GET", ""},
		{"GET /v3/OS-TRUST/trusts/{trust_id}/roles", "identity:list_roles_for_trust", "GET", "/roles"},
		{"GET /v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}", "identity:get_role_for_trust", "GET", "/roles/" + reader},
		{"HEAD /v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}", "identity:get_role_for_trust", "HEAD", "/roles/" + reader},
		{"DELETE /v3/OS-TRUST/trusts/{trust_id}", "identity:delete_trust", "DELETE", ""},
	} {
		cases = append(cases,
			m.perPersona(c.route, c.rule, ownTarget, func(p policytest.Persona) int {
				return m.status(c.method, "/v3/OS-TRUST/trusts/"+ownTrust(p)+c.suffix, p.Token, nil)
			}),
			rule(c.route, c.rule, foreignTarget, func(p policytest.Persona) int {
				id := foreign
				if c.method == "DELETE" {
					id = m.newTrust(adminID, adminProject, m.AdminToken)
				}
				return m.status(c.method, "/v3/OS-TRUST/trusts/"+id+c.suffix, p.Token, nil)
			}))
	}
	return append(cases,
		rule("GET /v3/OS-TRUST/trusts", "identity:list_trusts", nil, func(p policytest.Persona) int {
			return m.status("GET", "/v3/OS-TRUST/trusts", p.Token, nil)
		}),
		m.perPersona("GET /v3/OS-TRUST/trusts", "identity:list_trusts_for_trustor", func(p policytest.Persona) map[string]any {
			return map[string]any{"target.trust.trustor_user_id": m.userID(p)}
		}, func(p policytest.Persona) int {
			return m.status("GET", "/v3/OS-TRUST/trusts?trustor_user_id="+m.userID(p), p.Token, nil)
		}),
		rule("GET /v3/OS-TRUST/trusts", "identity:list_trusts_for_trustee", map[string]any{"target.trust.trustee_user_id": m.demoID},
			func(p policytest.Persona) int {
				return m.status("GET", "/v3/OS-TRUST/trusts?trustee_user_id="+m.demoID, p.Token, nil)
			}),
		m.perPersona("POST /v3/OS-TRUST/trusts", "identity:create_trust", func(p policytest.Persona) map[string]any {
			return map[string]any{"target.trust.trustor_user_id": m.userID(p)}
		}, func(p policytest.Persona) int {
			return m.status("POST", "/v3/OS-TRUST/trusts", p.Token, map[string]any{"trust": map[string]any{
				"trustor_user_id": m.userID(p), "trustee_user_id": m.demoID, "project_id": m.projectOf(p), "impersonation": false,
				"roles": []any{map[string]any{"name": "reader"}}}})
		}),
	)
}

// --- OAuth1 consumers, request and access tokens (os_oauth1.py, users.py) ---

func (m *matrix) oauth1Cases() []policytest.Case {
	f := newOAuth1Fixture(m.t, m.testEnv) // the bootstrap admin's consumer and project
	onP := f
	onP.adminProject = m.project
	// An access token the bootstrap admin authorized (reader on its project).
	accessToken := func() string {
		rt, secret := f.requestToken(m.t, m.testEnv, "HMAC-SHA1")
		verifier := f.authorize(m.t, m.testEnv, rt, map[string]any{"name": "reader"})
		at, _ := f.accessToken(m.t, m.testEnv, "HMAC-SHA1", rt, secret, verifier)
		return at
	}
	at := accessToken()
	reader := extRoleID(m.t, m.testEnv, "reader")
	tokens := "/v3/users/" + f.adminID + "/OS-OAUTH1/access_tokens"
	newConsumer := func() string {
		return obj(m.admin(http.StatusCreated, "POST", "/v3/OS-OAUTH1/consumers", map[string]any{"consumer": map[string]any{}}), "consumer")["id"].(string)
	}
	get := func(path string) func(p policytest.Persona) int {
		return func(p policytest.Persona) int { return m.status("GET", path, p.Token, nil) }
	}
	return []policytest.Case{
		rule("GET /v3/OS-OAUTH1/consumers", "identity:list_consumers", nil, get("/v3/OS-OAUTH1/consumers")),
		rule("GET /v3/OS-OAUTH1/consumers/{consumer_id}", "identity:get_consumer", nil, get("/v3/OS-OAUTH1/consumers/"+f.consumerID)),
		rule("POST /v3/OS-OAUTH1/consumers", "identity:create_consumer", nil, func(p policytest.Persona) int {
			return m.status("POST", "/v3/OS-OAUTH1/consumers", p.Token, map[string]any{"consumer": map[string]any{}})
		}),
		rule("PATCH /v3/OS-OAUTH1/consumers/{consumer_id}", "identity:update_consumer", nil, func(p policytest.Persona) int {
			return m.status("PATCH", "/v3/OS-OAUTH1/consumers/"+newConsumer(), p.Token, map[string]any{"consumer": map[string]any{"description": "x"}})
		}),
		rule("DELETE /v3/OS-OAUTH1/consumers/{consumer_id}", "identity:delete_consumer", nil, func(p policytest.Persona) int {
			return m.status("DELETE", "/v3/OS-OAUTH1/consumers/"+newConsumer(), p.Token, nil)
		}),
		// A request token for P, authorized by the caller with a role it holds there.
		rule("PUT /v3/OS-OAUTH1/authorize/{request_token_id}", "identity:authorize_request_token", nil, func(p policytest.Persona) int {
			rt, _ := onP.requestToken(m.t, m.testEnv, "HMAC-SHA1")
			return m.status("PUT", "/v3/OS-OAUTH1/authorize/"+rt, p.Token, map[string]any{"roles": []any{map[string]any{"name": "reader"}}})
		}),
		rule("GET /v3/users/{user_id}/OS-OAUTH1/access_tokens", "identity:list_access_tokens", nil, get(tokens)),
		rule("GET /v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}", "identity:get_access_token", nil, get(tokens+"/"+at)),
		rule("GET /v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles", "identity:list_access_token_roles", nil,
			get(tokens+"/"+at+"/roles")),
		rule("GET /v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}/roles/{role_id}", "identity:get_access_token_role", nil,
			get(tokens+"/"+at+"/roles/"+reader)),
		// Upstream checks identity:ec2_delete_credential here, against a target
		// without a credential: admins only (keystone/api/users.py).
		rule("DELETE /v3/users/{user_id}/OS-OAUTH1/access_tokens/{access_token_id}", "identity:ec2_delete_credential", nil,
			func(p policytest.Persona) int { return m.status("DELETE", tokens+"/"+accessToken(), p.Token, nil) }),
	}
}
