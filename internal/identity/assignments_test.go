package identity

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
)

func TestGrants(t *testing.T) {
	e := newTestEnv(t)
	user := raUser(e, "granted")
	group := raGroup(e, "granted-group", user)
	role := raCreateRole(e, map[string]any{"name": "grantee"})["id"].(string)
	demo := raProjectID(e, "demo")
	tests := []struct {
		name       string
		list, path string // the grant is path + "/" + role (+ suffix)
		suffix     string
	}{
		{"user on project", "/v3/projects/" + demo + "/users/" + user + "/roles", "", ""},
		{"group on project", "/v3/projects/" + demo + "/groups/" + group + "/roles", "", ""},
		{"user on domain", "/v3/domains/default/users/" + user + "/roles", "", ""},
		{"group on domain", "/v3/domains/default/groups/" + group + "/roles", "", ""},
		{"user on system", "/v3/system/users/" + user + "/roles", "", ""},
		{"group on system", "/v3/system/groups/" + group + "/roles", "", ""},
		{"user inherited from domain", "/v3/OS-INHERIT/domains/default/users/" + user + "/roles/inherited_to_projects",
			"/v3/OS-INHERIT/domains/default/users/" + user + "/roles", "/inherited_to_projects"},
		{"group inherited from domain", "/v3/OS-INHERIT/domains/default/groups/" + group + "/roles/inherited_to_projects",
			"/v3/OS-INHERIT/domains/default/groups/" + group + "/roles", "/inherited_to_projects"},
		{"user inherited from project", "/v3/OS-INHERIT/projects/" + demo + "/users/" + user + "/roles/inherited_to_projects",
			"/v3/OS-INHERIT/projects/" + demo + "/users/" + user + "/roles", "/inherited_to_projects"},
		{"group inherited from project", "/v3/OS-INHERIT/projects/" + demo + "/groups/" + group + "/roles/inherited_to_projects",
			"/v3/OS-INHERIT/projects/" + demo + "/groups/" + group + "/roles", "/inherited_to_projects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.path
			if base == "" {
				base = tt.list
			}
			grant := base + "/" + role + tt.suffix
			listed := func() []string {
				var names []string
				for _, r := range list(e.Must(http.StatusOK, "GET", tt.list, e.AdminToken, nil), "roles") {
					names = append(names, r["name"].(string))
				}
				return names
			}
			e.Must(http.StatusNotFound, "HEAD", grant, e.AdminToken, nil)
			if got := listed(); slices.Contains(got, "grantee") {
				t.Fatalf("listed before grant: %v", got)
			}
			e.Must(http.StatusNoContent, "PUT", grant, e.AdminToken, nil)
			e.Must(http.StatusNoContent, "PUT", grant, e.AdminToken, nil) // idempotent
			e.Must(http.StatusNoContent, "HEAD", grant, e.AdminToken, nil)
			e.Must(http.StatusNoContent, "GET", grant, e.AdminToken, nil)
			if got := listed(); !slices.Contains(got, "grantee") {
				t.Fatalf("list after grant: %v", got)
			}
			e.Must(http.StatusNoContent, "DELETE", grant, e.AdminToken, nil)
			e.Must(http.StatusNotFound, "GET", grant, e.AdminToken, nil)
			out := e.Must(http.StatusNotFound, "DELETE", grant, e.AdminToken, nil)
			if msg, _ := obj(out, "error")["message"].(string); !strings.HasPrefix(msg, "Could not find role assignment with role: "+role) {
				t.Fatalf("message: %v", out)
			}
		})
	}
	// Inherited and direct grants are distinct.
	direct := "/v3/domains/default/users/" + user + "/roles/" + role
	e.Must(http.StatusNoContent, "PUT", direct, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "HEAD", "/v3/OS-INHERIT/domains/default/users/"+user+"/roles/"+role+"/inherited_to_projects", e.AdminToken, nil)
	if got := list(e.Must(http.StatusOK, "GET", "/v3/OS-INHERIT/domains/default/users/"+user+"/roles/inherited_to_projects", e.AdminToken, nil), "roles"); len(got) != 0 {
		t.Fatalf("inherited list shows a direct grant: %v", got)
	}
}

func TestGrantMissingEntities(t *testing.T) {
	e := newTestEnv(t)
	user := raUser(e, "someone")
	group := raGroup(e, "somegroup")
	role := raRoleID(e, "reader")
	demo := raProjectID(e, "demo")
	tests := []struct {
		method, path, msg string
	}{
		{"PUT", "/v3/projects/" + demo + "/users/" + user + "/roles/nope", "Could not find role: nope."},
		{"PUT", "/v3/projects/" + demo + "/users/nope/roles/" + role, "Could not find user: nope."},
		{"PUT", "/v3/projects/" + demo + "/groups/nope/roles/" + role, "Could not find group: nope."},
		{"PUT", "/v3/projects/nope/users/" + user + "/roles/" + role, "Could not find project: nope."},
		{"PUT", "/v3/domains/nope/groups/" + group + "/roles/" + role, "Could not find domain: nope."},
		{"PUT", "/v3/system/users/nope/roles/" + role, "Could not find user: nope."},
		{"PUT", "/v3/OS-INHERIT/domains/nope/users/" + user + "/roles/" + role + "/inherited_to_projects", "Could not find domain: nope."},
		{"HEAD", "/v3/projects/" + demo + "/users/nope/roles/" + role, ""},
		{"GET", "/v3/projects/" + demo + "/users/" + user + "/roles/nope", "Could not find role: nope."},
		{"GET", "/v3/projects/nope/users/" + user + "/roles", "Could not find project: nope."},
		{"GET", "/v3/domains/default/groups/nope/roles", "Could not find group: nope."},
		{"GET", "/v3/system/users/nope/roles", "Could not find user: nope."},
		{"DELETE", "/v3/projects/" + demo + "/users/" + user + "/roles/nope", "Could not find role: nope."},
		{"DELETE", "/v3/projects/nope/users/" + user + "/roles/" + role, "Could not find project: nope."},
	}
	for _, tt := range tests {
		status, out, _ := e.Do(tt.method, tt.path, e.AdminToken, nil)
		if status != http.StatusNotFound {
			t.Errorf("%s %s: %d, want 404: %v", tt.method, tt.path, status, out)
			continue
		}
		if tt.msg != "" && obj(out, "error")["message"] != tt.msg {
			t.Errorf("%s %s: message %v, want %q", tt.method, tt.path, obj(out, "error")["message"], tt.msg)
		}
	}
}

func TestGrantPolicy(t *testing.T) {
	e := newTestEnv(t)
	user := raUser(e, "hopeful")
	role := raRoleID(e, "admin")
	demo := raProjectID(e, "demo")
	for _, tt := range []struct{ method, path string }{
		{"PUT", "/v3/projects/" + demo + "/users/" + user + "/roles/" + role},
		{"DELETE", "/v3/projects/" + demo + "/users/" + user + "/roles/" + role},
		{"HEAD", "/v3/projects/" + demo + "/users/" + user + "/roles/" + role},
		{"GET", "/v3/projects/" + demo + "/users/" + user + "/roles"},
		{"PUT", "/v3/domains/default/users/" + user + "/roles/" + role},
		{"PUT", "/v3/system/users/" + user + "/roles/" + role},
		{"PUT", "/v3/OS-INHERIT/domains/default/users/" + user + "/roles/" + role + "/inherited_to_projects"},
		{"GET", "/v3/role_assignments"},
	} {
		if status, out, _ := e.Do(tt.method, tt.path, e.DemoToken, nil); status != http.StatusForbidden {
			t.Errorf("demo %s %s: %d, want 403: %v", tt.method, tt.path, status, out)
		}
	}
}

func TestRevokingGrantRevokesTokens(t *testing.T) {
	e := newTestEnv(t)
	member := raRoleID(e, "member")
	demo := raProjectID(e, "demo")

	// A user's own grant.
	carol := raUser(e, "carol")
	grant := "/v3/projects/" + demo + "/users/" + carol + "/roles/" + member
	e.Must(http.StatusNoContent, "PUT", grant, e.AdminToken, nil)
	status, out, tok := raLogin(e, "carol", demo)
	if status != http.StatusCreated {
		t.Fatalf("login: %d %v", status, out)
	}
	if s := raValidate(e, tok); s != http.StatusOK {
		t.Fatalf("validate before: %d", s)
	}
	e.Must(http.StatusNoContent, "DELETE", grant, e.AdminToken, nil)
	if s := raValidate(e, tok); s != http.StatusNotFound {
		t.Fatalf("validate after revoking the grant: %d, want 404", s)
	}
	e.Must(http.StatusUnauthorized, "GET", "/v3/auth/projects", tok, nil)
	if status, _, _ := raLogin(e, "carol", demo); status != http.StatusUnauthorized {
		t.Fatalf("new login after revoking the grant: %d, want 401", status)
	}
	// Re-granting works again, and only for new tokens.
	e.Must(http.StatusNoContent, "PUT", grant, e.AdminToken, nil)
	if status, _, _ := raLogin(e, "carol", demo); status != http.StatusCreated {
		t.Fatalf("login after re-grant: %d", status)
	}

	// A group's grant revokes every member's tokens, and nobody else's.
	dave, erin := raUser(e, "dave"), raUser(e, "erin")
	group := raGroup(e, "team", dave, erin)
	ggrant := "/v3/projects/" + demo + "/groups/" + group + "/roles/" + member
	e.Must(http.StatusNoContent, "PUT", ggrant, e.AdminToken, nil)
	_, _, daveTok := raLogin(e, "dave", demo)
	_, _, erinTok := raLogin(e, "erin", demo)
	_, _, carolTok := raLogin(e, "carol", demo)
	e.Must(http.StatusNoContent, "DELETE", ggrant, e.AdminToken, nil)
	for name, tok := range map[string]string{"dave": daveTok, "erin": erinTok} {
		if s := raValidate(e, tok); s != http.StatusNotFound {
			t.Fatalf("%s's token after revoking the group grant: %d, want 404", name, s)
		}
	}
	if s := raValidate(e, carolTok); s != http.StatusOK {
		t.Fatalf("carol's token after revoking another group's grant: %d, want 200", s)
	}
	if s := raValidate(e, e.DemoToken); s != http.StatusOK {
		t.Fatalf("demo's token: %d, want 200", s)
	}
	if status, _, _ := raLogin(e, "dave", demo); status != http.StatusUnauthorized {
		t.Fatalf("dave's login after revoking the group grant: %d, want 401", status)
	}

	// A domain-inherited grant reaches projects, and its removal revokes.
	inh := "/v3/OS-INHERIT/domains/default/users/" + dave + "/roles/" + member + "/inherited_to_projects"
	e.Must(http.StatusNoContent, "PUT", inh, e.AdminToken, nil)
	status, out, daveTok = raLogin(e, "dave", demo)
	if status != http.StatusCreated || !roleNames(obj(out, "token"))["member"] {
		t.Fatalf("login with inherited grant: %d %v", status, out)
	}
	e.Must(http.StatusNoContent, "DELETE", inh, e.AdminToken, nil)
	if s := raValidate(e, daveTok); s != http.StatusNotFound {
		t.Fatalf("token after revoking the inherited grant: %d, want 404", s)
	}
}

// raAssignments lists role assignments with query and returns them as compact
// strings "actor:scope:role[:inherited]" (names resolved through ids).
func raAssignments(e *testEnv, query string, label map[string]string) []string {
	e.t.Helper()
	out := e.Must(http.StatusOK, "GET", "/v3/role_assignments"+query, e.AdminToken, nil)
	if self := obj(out, "links")["self"]; self == nil {
		e.t.Fatalf("no links.self: %v", out)
	}
	var got []string
	for _, a := range list(out, "role_assignments") {
		name := func(m map[string]any) string {
			id, _ := m["id"].(string)
			if l, ok := label[id]; ok {
				return l
			}
			return id
		}
		var actor, scope string
		switch {
		case obj(a, "user") != nil:
			actor = "u=" + name(obj(a, "user"))
		case obj(a, "group") != nil:
			actor = "g=" + name(obj(a, "group"))
		}
		sc := obj(a, "scope")
		switch {
		case obj(sc, "project") != nil:
			scope = "p=" + name(obj(sc, "project"))
		case obj(sc, "domain") != nil:
			scope = "d=" + name(obj(sc, "domain"))
		case obj(sc, "system") != nil:
			scope = "system"
		}
		s := actor + ":" + scope + ":" + name(obj(a, "role"))
		if sc["OS-INHERIT:inherited_to"] == "projects" {
			s += ":inherited"
		}
		if !strings.HasPrefix(obj(a, "links")["assignment"].(string), e.URL+"/v3/") {
			e.t.Fatalf("assignment link: %v", a)
		}
		got = append(got, s)
	}
	sort.Strings(got)
	return got
}

func TestRoleAssignmentList(t *testing.T) {
	e := newTestEnv(t)
	demo := raProjectID(e, "demo")
	adminProject := raProjectID(e, "admin")
	child := obj(e.Must(http.StatusCreated, "POST", "/v3/projects", e.AdminToken, map[string]any{"project": map[string]any{
		"name": "child", "parent_id": demo}}), "project")["id"].(string)
	alice, bob := raUser(e, "alice"), raUser(e, "bob")
	devs := raGroup(e, "devs", alice)
	observer := raCreateRole(e, map[string]any{"name": "observer"})["id"].(string)
	auditor := raCreateRole(e, map[string]any{"name": "auditor"})["id"].(string)
	member, reader := raRoleID(e, "member"), raRoleID(e, "reader")
	var demoUser, adminUser string
	for _, a := range list(e.Must(http.StatusOK, "GET", "/v3/role_assignments?scope.project.id="+demo+"&role.id="+member, e.AdminToken, nil), "role_assignments") {
		demoUser = obj(a, "user")["id"].(string)
	}
	for _, a := range list(e.Must(http.StatusOK, "GET", "/v3/role_assignments?scope.system=all", e.AdminToken, nil), "role_assignments") {
		adminUser = obj(a, "user")["id"].(string)
	}
	label := map[string]string{demo: "demo", adminProject: "admin", child: "child", alice: "alice", bob: "bob", devs: "devs",
		observer: "observer", auditor: "auditor", member: "member", reader: "reader", raRoleID(e, "admin"): "admin",
		demoUser: "demouser", adminUser: "adminuser", "default": "default"}

	put := func(path string) { e.Must(http.StatusNoContent, "PUT", path, e.AdminToken, nil) }
	put("/v3/projects/" + demo + "/users/" + alice + "/roles/" + member)
	put("/v3/projects/" + demo + "/groups/" + devs + "/roles/" + observer)
	put("/v3/projects/" + child + "/users/" + bob + "/roles/" + reader)
	put("/v3/OS-INHERIT/domains/default/users/" + bob + "/roles/" + auditor + "/inherited_to_projects")
	put("/v3/OS-INHERIT/projects/" + demo + "/groups/" + devs + "/roles/" + auditor + "/inherited_to_projects")
	put("/v3/domains/default/users/" + alice + "/roles/" + reader)

	q := url.QueryEscape
	tests := []struct {
		name, query string
		want        []string
	}{
		{"user", "?user.id=" + alice, []string{"u=alice:d=default:reader", "u=alice:p=demo:member"}},
		{"group", "?group.id=" + devs, []string{"g=devs:p=demo:auditor:inherited", "g=devs:p=demo:observer"}},
		{"project", "?scope.project.id=" + demo, []string{"g=devs:p=demo:auditor:inherited", "g=devs:p=demo:observer",
			"u=alice:p=demo:member", "u=demouser:p=demo:member"}},
		{"project and role", "?scope.project.id=" + demo + "&role.id=" + member, []string{"u=alice:p=demo:member", "u=demouser:p=demo:member"}},
		{"subtree", "?scope.project.id=" + demo + "&include_subtree=true&user.id=" + bob, []string{"u=bob:p=child:reader"}},
		{"subtree of a domain", "?scope.project.id=default&include_subtree=1&include_names=1&user.id=" + bob, []string{"u=bob:p=child:reader"}},
		{"effective subtree", "?effective&scope.project.id=" + demo + "&include_subtree&user.id=" + alice, []string{
			"u=alice:p=child:auditor:inherited", "u=alice:p=demo:member", "u=alice:p=demo:observer", "u=alice:p=demo:reader"}},
		{"domain", "?scope.domain.id=default", []string{"u=alice:d=default:reader", "u=bob:d=default:auditor:inherited"}},
		{"inherited", "?" + q("scope.OS-INHERIT:inherited_to") + "=projects", []string{"g=devs:p=demo:auditor:inherited", "u=bob:d=default:auditor:inherited"}},
		{"system", "?scope.system=all", []string{"u=adminuser:system:admin"}},
		{"effective user on project", "?effective&user.id=" + alice + "&scope.project.id=" + demo, []string{
			"u=alice:p=demo:member", "u=alice:p=demo:observer", "u=alice:p=demo:reader"}},
		{"effective user everywhere", "?effective=True&user.id=" + alice, []string{
			"u=alice:d=default:reader", "u=alice:p=child:auditor:inherited", "u=alice:p=demo:member",
			"u=alice:p=demo:observer", "u=alice:p=demo:reader"}},
		{"effective domain inheritance", "?effective&user.id=" + bob, []string{
			"u=bob:p=admin:auditor:inherited", "u=bob:p=child:auditor:inherited", "u=bob:p=child:reader",
			"u=bob:p=demo:auditor:inherited"}},
		{"effective on child", "?effective&scope.project.id=" + child, []string{
			"u=alice:p=child:auditor:inherited", "u=bob:p=child:auditor:inherited", "u=bob:p=child:reader"}},
		{"effective role filter sees implied roles", "?effective&role.id=" + reader + "&scope.project.id=" + demo, []string{
			"u=alice:p=demo:reader", "u=demouser:p=demo:reader"}},
		{"effective inherited only", "?effective&user.id=" + alice + "&" + q("scope.OS-INHERIT:inherited_to") + "=projects", []string{
			"u=alice:p=child:auditor:inherited"}},
		{"effective=0 is not effective", "?effective=0&user.id=" + bob, []string{"u=bob:d=default:auditor:inherited", "u=bob:p=child:reader"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := raAssignments(e, tt.query, label)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("GET /v3/role_assignments%s:\n got %v\nwant %v", tt.query, got, tt.want)
			}
		})
	}

	bad := []string{
		"?effective&group.id=" + devs,
		"?user.id=" + alice + "&group.id=" + devs,
		"?scope.project.id=" + demo + "&scope.domain.id=default",
		"?scope.system=all&scope.domain.id=default",
		"?include_subtree=true",
		"?effective&scope.domain.id=default&" + q("scope.OS-INHERIT:inherited_to") + "=projects",
	}
	for _, query := range bad {
		if status, out, _ := e.Do("GET", "/v3/role_assignments"+query, e.AdminToken, nil); status != http.StatusBadRequest {
			t.Errorf("GET /v3/role_assignments%s: %d, want 400: %v", query, status, out)
		}
	}

	// Links: direct, group membership, inheritance and implication.
	out := e.Must(http.StatusOK, "GET", "/v3/role_assignments?effective&user.id="+alice+"&scope.project.id="+demo, e.AdminToken, nil)
	links := map[string]map[string]any{}
	for _, a := range list(out, "role_assignments") {
		if obj(a, "group") != nil {
			t.Fatalf("effective listing shows a group: %v", a)
		}
		links[label[obj(a, "role")["id"].(string)]] = obj(a, "links")
	}
	v3 := e.URL + "/v3"
	if links["member"]["assignment"] != v3+"/projects/"+demo+"/users/"+alice+"/roles/"+member {
		t.Errorf("member links: %v", links["member"])
	}
	if links["observer"]["assignment"] != v3+"/projects/"+demo+"/groups/"+devs+"/roles/"+observer ||
		links["observer"]["membership"] != v3+"/groups/"+devs+"/users/"+alice {
		t.Errorf("observer links: %v", links["observer"])
	}
	if links["reader"]["assignment"] != v3+"/projects/"+demo+"/users/"+alice+"/roles/"+member || links["reader"]["prior_role"] == nil {
		t.Errorf("implied reader links: %v", links["reader"])
	}
	out = e.Must(http.StatusOK, "GET", "/v3/role_assignments?effective&user.id="+bob+"&scope.project.id="+demo, e.AdminToken, nil)
	if as := list(out, "role_assignments"); len(as) != 1 ||
		obj(as[0], "links")["assignment"] != v3+"/OS-INHERIT/domains/default/users/"+bob+"/roles/"+auditor+"/inherited_to_projects" {
		t.Errorf("inherited links: %v", out)
	}
	out = e.Must(http.StatusOK, "GET", "/v3/role_assignments?scope.system=all", e.AdminToken, nil)
	if as := list(out, "role_assignments"); len(as) != 1 || obj(obj(as[0], "scope"), "system")["all"] != true ||
		obj(as[0], "links")["assignment"] != v3+"/system/users/"+adminUser+"/roles/"+raRoleID(e, "admin") {
		t.Errorf("system entry: %v", out)
	}
}

func TestRoleAssignmentNames(t *testing.T) {
	e := newTestEnv(t)
	demo := raProjectID(e, "demo")
	alice := raUser(e, "alice")
	devs := raGroup(e, "devs", alice)
	local := raCreateRole(e, map[string]any{"name": "local", "domain_id": defaultDomain})["id"].(string)
	e.Must(http.StatusNoContent, "PUT", "/v3/projects/"+demo+"/groups/"+devs+"/roles/"+raRoleID(e, "reader"), e.AdminToken, nil)
	e.Must(http.StatusNoContent, "PUT", "/v3/domains/default/users/"+alice+"/roles/"+local, e.AdminToken, nil)

	// What `openstack role assignment list --names` sends.
	out := e.Must(http.StatusOK, "GET", "/v3/role_assignments?include_names=True&group.id="+devs, e.AdminToken, nil)
	as := list(out, "role_assignments")
	if len(as) != 1 {
		t.Fatalf("assignments: %v", out)
	}
	g, p, r := obj(as[0], "group"), obj(obj(as[0], "scope"), "project"), obj(as[0], "role")
	if g["name"] != "devs" || obj(g, "domain")["name"] != "Default" || obj(g, "domain")["id"] != "default" ||
		p["name"] != "demo" || obj(p, "domain")["name"] != "Default" || r["name"] != "reader" || r["domain"] != nil {
		t.Fatalf("names: %v", as[0])
	}
	out = e.Must(http.StatusOK, "GET", "/v3/role_assignments?include_names=True&scope.domain.id=default", e.AdminToken, nil)
	as = list(out, "role_assignments")
	if len(as) != 1 || obj(obj(as[0], "scope"), "domain")["name"] != "Default" || obj(as[0], "user")["name"] != "alice" ||
		obj(obj(as[0], "role"), "domain")["name"] != "Default" || obj(as[0], "role")["name"] != "local" {
		t.Fatalf("domain role names: %v", out)
	}

	// And `openstack role assignment list --names --effective`: no groups, every
	// user with its name, domain-specific roles left out.
	out = e.Must(http.StatusOK, "GET", "/v3/role_assignments?effective=True&include_names=True", e.AdminToken, nil)
	seen := map[string]bool{}
	for _, a := range list(out, "role_assignments") {
		u := obj(a, "user")
		if u == nil || u["name"] == "" || obj(u, "domain")["name"] != "Default" || obj(a, "role")["name"] == "" {
			t.Fatalf("effective entry without names: %v", a)
		}
		if obj(a, "role")["name"] == "local" {
			t.Fatalf("effective listing shows a domain-specific role: %v", a)
		}
		sc := obj(a, "scope")
		if p := obj(sc, "project"); p != nil && (p["name"] == "" || obj(p, "domain")["name"] != "Default") {
			t.Fatalf("project without names: %v", a)
		}
		seen[u["name"].(string)+"/"+obj(a, "role")["name"].(string)] = true
	}
	for _, want := range []string{"alice/reader", "admin/admin", "admin/member", "admin/reader", "demo/member", "demo/reader"} {
		if !seen[want] {
			t.Errorf("missing %s in %v", want, seen)
		}
	}
}
