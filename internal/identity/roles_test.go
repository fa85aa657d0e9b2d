package identity

import (
	"context"
	"net/http"
	"testing"
)

// Helpers shared by roles_test.go and assignments_test.go. Users and groups are
// written straight to the database so these tests do not depend on their APIs.

const raPassword = "s3cret-pass"

// raUser creates an enabled user of the Default domain with password raPassword.
func raUser(e *testEnv, name string) string {
	e.t.Helper()
	hash, err := e.Svc.hashPassword(raPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	id, now := newID(), e.Svc.now().UnixMicro()
	if _, err := e.Svc.db.ExecContext(context.Background(), `INSERT INTO users (id, name, domain_id, enabled,
		password_hash, password_created_at, created_at) VALUES (?,?,?,TRUE,?,?,?)`, id, name, defaultDomain, hash, now, now); err != nil {
		e.t.Fatal(err)
	}
	e.Svc.changed()
	return id
}

// raGroup creates a group of the Default domain with the given members.
func raGroup(e *testEnv, name string, members ...string) string {
	e.t.Helper()
	ctx := context.Background()
	id := newID()
	if _, err := e.Svc.db.ExecContext(ctx, `INSERT INTO groups (id, name, domain_id) VALUES (?,?,?)`, id, name, defaultDomain); err != nil {
		e.t.Fatal(err)
	}
	for _, m := range members {
		if _, err := e.Svc.db.ExecContext(ctx, `INSERT INTO user_group_membership (user_id, group_id) VALUES (?,?)`, m, id); err != nil {
			e.t.Fatal(err)
		}
	}
	e.Svc.changed()
	return id
}

// raRoleID finds a global role by name.
func raRoleID(e *testEnv, name string) string {
	e.t.Helper()
	roles := list(e.Must(http.StatusOK, "GET", "/v3/roles?name="+name, e.AdminToken, nil), "roles")
	if len(roles) != 1 {
		e.t.Fatalf("role %s: %v", name, roles)
	}
	return roles[0]["id"].(string)
}

// raProjectID finds a project of the Default domain by name.
func raProjectID(e *testEnv, name string) string {
	e.t.Helper()
	ps := list(e.Must(http.StatusOK, "GET", "/v3/projects?name="+name, e.AdminToken, nil), "projects")
	if len(ps) != 1 {
		e.t.Fatalf("project %s: %v", name, ps)
	}
	return ps[0]["id"].(string)
}

func raCreateRole(e *testEnv, body map[string]any) map[string]any {
	e.t.Helper()
	return obj(e.Must(http.StatusCreated, "POST", "/v3/roles", e.AdminToken, map[string]any{"role": body}), "role")
}

// raLogin returns the status of a project-scoped password login and its token.
func raLogin(e *testEnv, user, projectID string) (int, map[string]any, string) {
	e.t.Helper()
	status, out, hdr := e.Do("POST", "/v3/auth/tokens", "", passwordAuth(user, raPassword,
		map[string]any{"project": map[string]any{"id": projectID}}))
	return status, out, hdr.Get("X-Subject-Token")
}

// raValidate is the status of validating token with the admin token.
func raValidate(e *testEnv, token string) int {
	e.t.Helper()
	status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": token})
	return status
}

func TestRoleLifecycle(t *testing.T) {
	e := newTestEnv(t)
	role := raCreateRole(e, map[string]any{"name": "tester", "description": "runs tests", "color": "green"})
	id := role["id"].(string)
	if role["name"] != "tester" || role["description"] != "runs tests" || role["domain_id"] != nil || role["color"] != "green" {
		t.Fatalf("created role: %v", role)
	}
	if opts, ok := role["options"].(map[string]any); !ok || len(opts) != 0 {
		t.Fatalf("options: %v", role["options"])
	}
	if self := obj(role, "links")["self"]; self != e.URL+"/v3/roles/"+id {
		t.Fatalf("links.self = %v", self)
	}
	e.Must(http.StatusConflict, "POST", "/v3/roles", e.AdminToken, map[string]any{"role": map[string]any{"name": "tester"}})

	// A domain-specific role may share a global role's name and lists only by domain.
	dr := raCreateRole(e, map[string]any{"name": "tester", "domain_id": defaultDomain})
	if dr["domain_id"] != defaultDomain {
		t.Fatalf("domain role: %v", dr)
	}
	e.Must(http.StatusConflict, "POST", "/v3/roles", e.AdminToken, map[string]any{"role": map[string]any{"name": "tester", "domain_id": defaultDomain}})

	tests := []struct {
		query string
		want  []string
	}{
		{"", []string{"admin", "manager", "member", "reader", "service", "tester"}},
		{"?name=tester", []string{"tester"}},
		{"?name=nope", nil},
		{"?name__contains=este", []string{"tester"}},
		{"?name__istartswith=ADM", []string{"admin"}},
		{"?name__endswith=er", []string{"manager", "member", "reader", "tester"}},
		{"?domain_id=default", []string{"tester"}},
		{"?domain_id=default&name=admin", nil},
	}
	for _, tt := range tests {
		got := list(e.Must(http.StatusOK, "GET", "/v3/roles"+tt.query, e.AdminToken, nil), "roles")
		if len(got) != len(tt.want) {
			t.Fatalf("GET /v3/roles%s: %v, want %v", tt.query, got, tt.want)
		}
		for i, r := range got {
			if r["name"] != tt.want[i] {
				t.Fatalf("GET /v3/roles%s: %v, want %v", tt.query, got, tt.want)
			}
		}
	}

	got := obj(e.Must(http.StatusOK, "GET", "/v3/roles/"+id, e.AdminToken, nil), "role")
	if got["name"] != "tester" || got["color"] != "green" {
		t.Fatalf("show: %v", got)
	}
	up := obj(e.Must(http.StatusOK, "PATCH", "/v3/roles/"+id, e.AdminToken, map[string]any{"role": map[string]any{
		"name": "qa", "description": "quality"}}), "role")
	if up["name"] != "qa" || up["description"] != "quality" || up["color"] != "green" {
		t.Fatalf("updated: %v", up)
	}
	e.Must(http.StatusConflict, "PATCH", "/v3/roles/"+id, e.AdminToken, map[string]any{"role": map[string]any{"name": "member"}})
	e.Must(http.StatusBadRequest, "PATCH", "/v3/roles/"+id, e.AdminToken, map[string]any{"role": map[string]any{"domain_id": defaultDomain}})
	e.Must(http.StatusNotFound, "PATCH", "/v3/roles/nope", e.AdminToken, map[string]any{"role": map[string]any{"name": "x"}})

	e.Must(http.StatusNoContent, "DELETE", "/v3/roles/"+id, e.AdminToken, nil)
	out := e.Must(http.StatusNotFound, "GET", "/v3/roles/"+id, e.AdminToken, nil)
	if msg := obj(out, "error")["message"]; msg != "Could not find role: "+id+"." {
		t.Fatalf("404 message: %v", msg)
	}
	e.Must(http.StatusNotFound, "DELETE", "/v3/roles/"+id, e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/roles/"+dr["id"].(string), e.AdminToken, nil)
}

func TestRoleBadInput(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name string
		body any
		want int
	}{
		{"not JSON", []byte(`{"role":`), 400},
		{"no envelope", map[string]any{"name": "x"}, 400},
		{"envelope not object", map[string]any{"role": []string{"x"}}, 400},
		{"name missing", map[string]any{"role": map[string]any{}}, 400},
		{"name blank", map[string]any{"role": map[string]any{"name": " "}}, 400},
		{"name wrong type", map[string]any{"role": map[string]any{"name": 7}}, 400},
		{"name too long", map[string]any{"role": map[string]any{"name": string(make([]byte, 256))}}, 400},
		{"description wrong type", map[string]any{"role": map[string]any{"name": "x", "description": true}}, 400},
		{"domain_id wrong type", map[string]any{"role": map[string]any{"name": "x", "domain_id": 1}}, 400},
		{"options wrong type", map[string]any{"role": map[string]any{"name": "x", "options": "immutable"}}, 400},
		{"unknown option", map[string]any{"role": map[string]any{"name": "x", "options": map[string]any{"sticky": true}}}, 400},
		{"immutable not bool", map[string]any{"role": map[string]any{"name": "x", "options": map[string]any{"immutable": "yes"}}}, 400},
		{"unknown domain", map[string]any{"role": map[string]any{"name": "x", "domain_id": "nope"}}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := e.Do("POST", "/v3/roles", e.AdminToken, tt.body)
			if status != tt.want {
				t.Fatalf("status %d, want %d: %v", status, tt.want, out)
			}
			if obj(out, "error")["code"] != float64(tt.want) {
				t.Fatalf("error body: %v", out)
			}
		})
	}
	e.Must(http.StatusBadRequest, "PATCH", "/v3/roles/"+raRoleID(e, "reader"), e.AdminToken,
		map[string]any{"role": map[string]any{"name": false}})
}

func TestImmutableRole(t *testing.T) {
	e := newTestEnv(t)
	role := raCreateRole(e, map[string]any{"name": "frozen", "options": map[string]any{"immutable": true}})
	id := role["id"].(string)
	if obj(role, "options")["immutable"] != true {
		t.Fatalf("options: %v", role)
	}
	e.Must(http.StatusForbidden, "DELETE", "/v3/roles/"+id, e.AdminToken, nil)
	e.Must(http.StatusForbidden, "PATCH", "/v3/roles/"+id, e.AdminToken, map[string]any{"role": map[string]any{"name": "thawed"}})
	up := obj(e.Must(http.StatusOK, "PATCH", "/v3/roles/"+id, e.AdminToken, map[string]any{"role": map[string]any{
		"options": map[string]any{"immutable": false}}}), "role")
	if obj(up, "options")["immutable"] != false {
		t.Fatalf("options after update: %v", up)
	}
	e.Must(http.StatusNoContent, "DELETE", "/v3/roles/"+id, e.AdminToken, nil)
}

func TestRolePolicy(t *testing.T) {
	e := newTestEnv(t)
	reader := raRoleID(e, "reader")
	tests := []struct {
		method, path string
		body         any
	}{
		{"POST", "/v3/roles", map[string]any{"role": map[string]any{"name": "mine"}}},
		{"POST", "/v3/roles", map[string]any{"role": map[string]any{"name": "mine", "domain_id": defaultDomain}}},
		{"GET", "/v3/roles", nil},
		{"GET", "/v3/roles/" + reader, nil},
		{"PATCH", "/v3/roles/" + reader, map[string]any{"role": map[string]any{"name": "x"}}},
		{"DELETE", "/v3/roles/" + reader, nil},
		{"DELETE", "/v3/roles/nope", nil}, // no hint that it does not exist
		{"PUT", "/v3/roles/" + reader + "/implies/" + reader, nil},
		{"GET", "/v3/role_inferences", nil},
	}
	for _, tt := range tests {
		if status, out, _ := e.Do(tt.method, tt.path, e.DemoToken, tt.body); status != http.StatusForbidden {
			t.Errorf("demo %s %s: %d, want 403: %v", tt.method, tt.path, status, out)
		}
	}
	e.Must(http.StatusUnauthorized, "GET", "/v3/roles", "", nil)
}

func TestImpliedRoles(t *testing.T) {
	e := newTestEnv(t)
	prior := raCreateRole(e, map[string]any{"name": "prior"})["id"].(string)
	implied := raCreateRole(e, map[string]any{"name": "implied"})["id"].(string)
	domainRole := raCreateRole(e, map[string]any{"name": "local", "domain_id": defaultDomain})["id"].(string)
	admin, member, reader := raRoleID(e, "admin"), raRoleID(e, "member"), raRoleID(e, "reader")
	rule := "/v3/roles/" + prior + "/implies/" + implied

	out := e.Must(http.StatusCreated, "PUT", rule, e.AdminToken, nil)
	inf := obj(out, "role_inference")
	if obj(inf, "prior_role")["id"] != prior || obj(inf, "prior_role")["name"] != "prior" ||
		obj(inf, "implies")["id"] != implied || obj(inf, "implies")["name"] != "implied" ||
		obj(obj(inf, "implies"), "links")["self"] != e.URL+"/v3/roles/"+implied {
		t.Fatalf("role_inference: %v", out)
	}
	if obj(out, "links")["self"] != e.URL+rule {
		t.Fatalf("links: %v", out)
	}
	e.Must(http.StatusCreated, "PUT", rule, e.AdminToken, nil) // idempotent
	e.Must(http.StatusOK, "GET", rule, e.AdminToken, nil)
	e.Must(http.StatusNoContent, "HEAD", rule, e.AdminToken, nil)

	listed := obj(e.Must(http.StatusOK, "GET", "/v3/roles/"+prior+"/implies", e.AdminToken, nil), "role_inference")
	if imp, _ := listed["implies"].([]any); len(imp) != 1 || obj(listed, "prior_role")["id"] != prior {
		t.Fatalf("list implies: %v", listed)
	}
	infs := list(e.Must(http.StatusOK, "GET", "/v3/role_inferences", e.AdminToken, nil), "role_inferences")
	got := map[string]int{}
	for _, i := range infs {
		imp, _ := i["implies"].([]any)
		got[obj(i, "prior_role")["name"].(string)] = len(imp)
	}
	if got["admin"] != 1 || got["manager"] != 1 || got["member"] != 1 || got["prior"] != 1 || len(got) != 4 {
		t.Fatalf("role_inferences: %v", infs)
	}

	bad := []struct {
		name, path string
		want       int
	}{
		{"self", "/v3/roles/" + prior + "/implies/" + prior, 400},
		{"cycle", "/v3/roles/" + implied + "/implies/" + prior, 400},
		{"long cycle", "/v3/roles/" + reader + "/implies/" + admin, 403}, // admin is never implied
		{"cycle through chain", "/v3/roles/" + reader + "/implies/" + member, 400},
		{"global implies domain-specific", "/v3/roles/" + prior + "/implies/" + domainRole, 403},
		{"unknown prior", "/v3/roles/nope/implies/" + implied, 404},
		{"unknown implied", "/v3/roles/" + prior + "/implies/nope", 404},
	}
	for _, tt := range bad {
		if status, out, _ := e.Do("PUT", tt.path, e.AdminToken, nil); status != tt.want {
			t.Errorf("%s: %d, want %d: %v", tt.name, status, tt.want, out)
		}
	}
	// A domain-specific role may imply a global one.
	e.Must(http.StatusCreated, "PUT", "/v3/roles/"+domainRole+"/implies/"+implied, e.AdminToken, nil)

	// A user holding the prior role gets the implied one in its token.
	user := raUser(e, "inferred")
	demo := raProjectID(e, "demo")
	e.Must(http.StatusNoContent, "PUT", "/v3/projects/"+demo+"/users/"+user+"/roles/"+prior, e.AdminToken, nil)
	status, body, tok := raLogin(e, "inferred", demo)
	if status != http.StatusCreated {
		t.Fatalf("login: %d %v", status, body)
	}
	if roles := roleNames(obj(body, "token")); !roles["prior"] || !roles["implied"] || len(roles) != 2 {
		t.Fatalf("token roles %v, want prior and implied", roles)
	}
	// Dropping the rule revokes tokens carrying the prior role.
	e.Must(http.StatusNoContent, "DELETE", rule, e.AdminToken, nil)
	if s := raValidate(e, tok); s != http.StatusNotFound {
		t.Fatalf("token after rule deletion: %d, want 404", s)
	}
	e.Must(http.StatusNotFound, "HEAD", rule, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", rule, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "DELETE", rule, e.AdminToken, nil)
	status, body, tok = raLogin(e, "inferred", demo)
	if roles := roleNames(obj(body, "token")); status != http.StatusCreated || !roles["prior"] || roles["implied"] {
		t.Fatalf("login after rule deletion: %d, roles %v", status, roles)
	}
	// The admin token (admin, manager, member, reader) was untouched.
	if s := raValidate(e, e.AdminToken); s != http.StatusOK {
		t.Fatalf("admin token: %d", s)
	}

	// Deleting the role removes its assignments and rules and revokes its tokens.
	e.Must(http.StatusCreated, "PUT", rule, e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/roles/"+prior, e.AdminToken, nil)
	if s := raValidate(e, tok); s != http.StatusNotFound {
		t.Fatalf("token after role deletion: %d, want 404", s)
	}
	if status, _, _ := raLogin(e, "inferred", demo); status != http.StatusUnauthorized {
		t.Fatalf("login after role deletion: %d, want 401", status)
	}
	for _, i := range list(e.Must(http.StatusOK, "GET", "/v3/role_inferences", e.AdminToken, nil), "role_inferences") {
		if obj(i, "prior_role")["id"] == prior {
			t.Fatalf("rule of deleted role still listed: %v", i)
		}
	}
}

func TestDomainRoleImpliesIntoToken(t *testing.T) {
	e := newTestEnv(t)
	local := raCreateRole(e, map[string]any{"name": "local", "domain_id": defaultDomain})["id"].(string)
	e.Must(http.StatusCreated, "PUT", "/v3/roles/"+local+"/implies/"+raRoleID(e, "member"), e.AdminToken, nil)
	user := raUser(e, "viadomainrole")
	demo := raProjectID(e, "demo")
	e.Must(http.StatusNoContent, "PUT", "/v3/projects/"+demo+"/users/"+user+"/roles/"+local, e.AdminToken, nil)
	status, body, tok := raLogin(e, "viadomainrole", demo)
	if roles := roleNames(obj(body, "token")); status != http.StatusCreated || roles["local"] || !roles["member"] || !roles["reader"] {
		t.Fatalf("login: %d roles %v, want member and reader but not the domain role", status, roles)
	}
	// Tokens never carry the domain-specific role, yet deleting it must revoke them.
	e.Must(http.StatusNoContent, "DELETE", "/v3/roles/"+local, e.AdminToken, nil)
	if s := raValidate(e, tok); s != http.StatusNotFound {
		t.Fatalf("token after domain role deletion: %d, want 404", s)
	}
	// A domain-specific role cannot be granted on a project of another domain.
	other := obj(e.Must(http.StatusCreated, "POST", "/v3/domains", e.AdminToken, map[string]any{"domain": map[string]any{"name": "other"}}), "domain")["id"].(string)
	foreign := raCreateRole(e, map[string]any{"name": "foreign", "domain_id": other})["id"].(string)
	e.Must(http.StatusForbidden, "PUT", "/v3/projects/"+demo+"/users/"+user+"/roles/"+foreign, e.AdminToken, nil)
}
