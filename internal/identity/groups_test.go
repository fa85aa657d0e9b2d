package identity

import (
	"net/http"
	"strings"
	"testing"
)

func ugCreateGroup(e *testEnv, attrs map[string]any) map[string]any {
	e.t.Helper()
	return obj(e.Must(http.StatusCreated, "POST", "/v3/groups", e.AdminToken, map[string]any{"group": attrs}), "group")
}

func TestGroupLifecycle(t *testing.T) {
	e := newTestEnv(t)
	g := ugCreateGroup(e, map[string]any{"name": "devs", "description": "Developers", "team": "core"})
	id := g["id"].(string)
	want := map[string]any{"name": "devs", "description": "Developers", "domain_id": "default", "team": "core"}
	for k, v := range want {
		if g[k] != v {
			t.Errorf("%s = %v, want %v", k, g[k], v)
		}
	}
	if len(id) != 32 {
		t.Errorf("id %q", id)
	}
	if self, _ := obj(g, "links")["self"].(string); !strings.HasSuffix(self, "/v3/groups/"+id) {
		t.Errorf("links.self = %q", self)
	}
	if g2 := ugCreateGroup(e, map[string]any{"name": "ops"}); g2["description"] != "" {
		t.Errorf("default description: %v", g2)
	}
	d := obj(e.Must(http.StatusCreated, "POST", "/v3/domains", e.AdminToken, map[string]any{"domain": map[string]any{"name": "acme"}}), "domain")
	acme := ugCreateGroup(e, map[string]any{"name": "devs", "domain_id": d["id"]}) // unique per domain only

	got := obj(e.Must(http.StatusOK, "GET", "/v3/groups/"+id, e.AdminToken, nil), "group")
	if got["name"] != "devs" || got["team"] != "core" {
		t.Fatalf("show: %v", got)
	}
	filters := []struct {
		query string
		want  int
	}{
		{"", 3},
		{"?name=devs", 2},
		{"?name=devs&domain_id=default", 1},
		{"?domain_id=" + d["id"].(string), 1},
		{"?name=nope", 0},
		{"?name__contains=ev", 2},
		{"?name__icontains=OP", 1},
		{"?name__contains=foo", 0},
	}
	for _, tt := range filters {
		t.Run("list"+tt.query, func(t *testing.T) {
			out := e.Must(http.StatusOK, "GET", "/v3/groups"+tt.query, e.AdminToken, nil)
			if got := list(out, "groups"); len(got) != tt.want {
				t.Fatalf("%d groups, want %d: %v", len(got), tt.want, got)
			}
			if obj(out, "links")["self"] == nil {
				t.Fatalf("no links: %v", out)
			}
		})
	}

	up := obj(e.Must(http.StatusOK, "PATCH", "/v3/groups/"+id, e.AdminToken, map[string]any{"group": map[string]any{
		"name": "developers", "description": nil, "team": "platform"}}), "group")
	if up["name"] != "developers" || up["description"] != "" || up["team"] != "platform" || up["domain_id"] != "default" {
		t.Fatalf("update: %v", up)
	}
	e.Must(http.StatusConflict, "PATCH", "/v3/groups/"+id, e.AdminToken, map[string]any{"group": map[string]any{"name": "ops"}})
	e.Must(http.StatusConflict, "POST", "/v3/groups", e.AdminToken, map[string]any{"group": map[string]any{"name": "ops"}})

	e.Must(http.StatusNoContent, "DELETE", "/v3/groups/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/groups/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v3/groups/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "PATCH", "/v3/groups/"+id, e.AdminToken, map[string]any{"group": map[string]any{"name": "x"}})
	e.Must(http.StatusNotFound, "GET", "/v3/groups/"+id+"/users", e.AdminToken, nil)
	e.Must(http.StatusOK, "GET", "/v3/groups/"+acme["id"].(string), e.AdminToken, nil)
}

func TestGroupBadInput(t *testing.T) {
	e := newTestEnv(t)
	id := ugCreateGroup(e, map[string]any{"name": "g"})["id"].(string)
	tests := []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"group not an object", "POST", "/v3/groups", map[string]any{"group": "notanobject"}, 400},
		{"no group", "POST", "/v3/groups", map[string]any{"name": "x"}, 400},
		{"name missing", "POST", "/v3/groups", map[string]any{"group": map[string]any{"description": "d"}}, 400},
		{"name blank", "POST", "/v3/groups", map[string]any{"group": map[string]any{"name": " "}}, 400},
		{"name a number", "POST", "/v3/groups", map[string]any{"group": map[string]any{"name": 1}}, 400},
		{"description a number", "POST", "/v3/groups", map[string]any{"group": map[string]any{"name": "x", "description": 1}}, 400},
		{"unknown domain", "POST", "/v3/groups", map[string]any{"group": map[string]any{"name": "x", "domain_id": "nope"}}, 404},
		{"duplicate", "POST", "/v3/groups", map[string]any{"group": map[string]any{"name": "g"}}, 409},
		{"empty update", "PATCH", "/v3/groups/" + id, map[string]any{"group": map[string]any{}}, 400},
		{"update not an object", "PATCH", "/v3/groups/" + id, map[string]any{"group": []any{}}, 400},
		{"update name a number", "PATCH", "/v3/groups/" + id, map[string]any{"group": map[string]any{"name": false}}, 400},
		{"change domain", "PATCH", "/v3/groups/" + id, map[string]any{"group": map[string]any{"domain_id": "other"}}, 400},
		{"change id", "PATCH", "/v3/groups/" + id, map[string]any{"group": map[string]any{"id": "other"}}, 400},
		{"missing group", "GET", "/v3/groups/nope", nil, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := e.Do(tt.method, tt.path, e.AdminToken, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if er := obj(out, "error"); er == nil || er["code"] != float64(tt.status) {
				t.Fatalf("error body not Keystone's: %v", out)
			}
		})
	}
	if msg := errorMessage(e.Must(404, "GET", "/v3/groups/nope", e.AdminToken, nil)); msg != "Could not find group: nope." {
		t.Fatalf("message %q", msg)
	}
}

func TestGroupMembership(t *testing.T) {
	e := newTestEnv(t)
	gid := ugCreateGroup(e, map[string]any{"name": "g"})["id"].(string)
	uid := ugCreateUser(e, map[string]any{"name": "m", "password": "pw"})["id"].(string)
	demoID := ugUserID(e, "demo")
	member := "/v3/groups/" + gid + "/users/" + uid

	tests := []struct {
		name, method, path string
		status             int
		message            string
	}{
		{"check before adding", "GET", member, 404, "User '" + uid + "' not found in group '" + gid + "'"},
		{"HEAD before adding", "HEAD", member, 404, ""},
		{"remove before adding", "DELETE", member, 404, "User '" + uid + "' not found in group '" + gid + "'"},
		{"add", "PUT", member, 204, ""},
		{"add again", "PUT", member, 204, ""},
		{"check", "GET", member, 204, ""},
		{"HEAD", "HEAD", member, 204, ""},
		{"add demo", "PUT", "/v3/groups/" + gid + "/users/" + demoID, 204, ""},
		{"add unknown user", "PUT", "/v3/groups/" + gid + "/users/nope", 404, "Could not find user: nope."},
		{"add to unknown group", "PUT", "/v3/groups/nope/users/" + uid, 404, "Could not find group: nope."},
		{"check unknown user", "GET", "/v3/groups/" + gid + "/users/nope", 404, "Could not find user: nope."},
		{"remove unknown user", "DELETE", "/v3/groups/" + gid + "/users/nope", 404, "Could not find user: nope."},
		{"remove from unknown group", "DELETE", "/v3/groups/nope/users/" + uid, 404, "Could not find group: nope."},
	}
	for _, tt := range tests {
		status, out, _ := e.Do(tt.method, tt.path, e.AdminToken, nil)
		if status != tt.status {
			t.Fatalf("%s: status %d, want %d: %v", tt.name, status, tt.status, out)
		}
		if tt.message != "" && errorMessage(out) != tt.message {
			t.Fatalf("%s: message %q, want %q", tt.name, errorMessage(out), tt.message)
		}
	}

	users := list(e.Must(http.StatusOK, "GET", "/v3/groups/"+gid+"/users", e.AdminToken, nil), "users")
	if len(users) != 2 || users[0]["name"] != "demo" || users[1]["name"] != "m" {
		t.Fatalf("members: %v", users)
	}
	for _, u := range users {
		if _, leaked := u["password"]; leaked {
			t.Fatalf("member rendered a password: %v", u)
		}
	}
	if got := list(e.Must(http.StatusOK, "GET", "/v3/groups/"+gid+"/users?name=m", e.AdminToken, nil), "users"); len(got) != 1 {
		t.Fatalf("members named m: %v", got)
	}
	if got := list(e.Must(http.StatusOK, "GET", "/v3/groups/"+gid+"/users?enabled=false", e.AdminToken, nil), "users"); len(got) != 0 {
		t.Fatalf("disabled members: %v", got)
	}
	if got := list(e.Must(http.StatusOK, "GET", "/v3/users/"+uid+"/groups", e.AdminToken, nil), "groups"); len(got) != 1 || got[0]["id"] != gid {
		t.Fatalf("groups of the member: %v", got)
	}

	e.Must(http.StatusNoContent, "DELETE", member, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", member, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "DELETE", member, e.AdminToken, nil)
	if got := list(e.Must(http.StatusOK, "GET", "/v3/users/"+uid+"/groups", e.AdminToken, nil), "groups"); len(got) != 0 {
		t.Fatalf("groups after removal: %v", got)
	}
}

func TestRemovingGroupMemberRevokesTokens(t *testing.T) {
	e := newTestEnv(t)
	gid := ugCreateGroup(e, map[string]any{"name": "g"})["id"].(string)
	uid := ugCreateUser(e, map[string]any{"name": "m", "password": "pw"})["id"].(string)
	ugGrant(e, "GroupProject", gid, ugProjectID(e, "demo"), "member")
	e.Must(http.StatusNoContent, "PUT", "/v3/groups/"+gid+"/users/"+uid, e.AdminToken, nil)

	// The group's role is what lets m scope to demo.
	tok := e.Login("m", "pw", "demo")
	other := ugToken(e, "demo", testDemoPassword)
	if s := ugTokenStatus(e, tok); s != http.StatusOK {
		t.Fatalf("token before removal: %d", s)
	}
	// Adding a member revokes nothing.
	e.Must(http.StatusNoContent, "PUT", "/v3/groups/"+gid+"/users/"+ugUserID(e, "demo"), e.AdminToken, nil)
	if s := ugTokenStatus(e, tok); s != http.StatusOK {
		t.Fatalf("token after another member joined: %d", s)
	}

	e.Must(http.StatusNoContent, "DELETE", "/v3/groups/"+gid+"/users/"+uid, e.AdminToken, nil)
	if s := ugTokenStatus(e, tok); s != http.StatusUnauthorized {
		t.Fatalf("token after removal from the group: %d, want 401", s)
	}
	if s := ugTokenStatus(e, other); s != http.StatusOK {
		t.Fatalf("other member's token: %d", s)
	}
	// Without the group, m has no role on demo any more.
	if status, _, _ := e.Do("POST", "/v3/auth/tokens", "", passwordAuth("m", "pw", map[string]any{
		"project": map[string]any{"name": "demo", "domain": map[string]any{"id": "default"}}})); status != http.StatusUnauthorized {
		t.Fatalf("scoping to demo after removal: %d, want 401", status)
	}
	ugToken(e, "m", "pw") // but may still log in
}

func TestDeleteGroupRevokesMembers(t *testing.T) {
	e := newTestEnv(t)
	demoProject := ugProjectID(e, "demo")
	ugCreateUser(e, map[string]any{"name": "a", "password": "pw"})
	ugCreateUser(e, map[string]any{"name": "b", "password": "pw"})
	aID, bID := ugUserID(e, "a"), ugUserID(e, "b")

	// A group holding a role: deleting it revokes its members' tokens and grants.
	withRole := ugCreateGroup(e, map[string]any{"name": "with-role"})["id"].(string)
	ugGrant(e, "GroupProject", withRole, demoProject, "member")
	e.Must(http.StatusNoContent, "PUT", "/v3/groups/"+withRole+"/users/"+aID, e.AdminToken, nil)
	// A group without roles: deleting it changes nothing for its members.
	bare := ugCreateGroup(e, map[string]any{"name": "bare"})["id"].(string)
	e.Must(http.StatusNoContent, "PUT", "/v3/groups/"+bare+"/users/"+bID, e.AdminToken, nil)

	aTok, bTok := e.Login("a", "pw", "demo"), ugToken(e, "b", "pw")
	e.Must(http.StatusNoContent, "DELETE", "/v3/groups/"+withRole, e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/groups/"+bare, e.AdminToken, nil)
	if s := ugTokenStatus(e, aTok); s != http.StatusUnauthorized {
		t.Fatalf("member of a deleted group with roles: %d, want 401", s)
	}
	if s := ugTokenStatus(e, bTok); s != http.StatusOK {
		t.Fatalf("member of a deleted group without roles: %d, want 200", s)
	}
	var n int
	if err := e.Svc.db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM assignments WHERE actor_id = ?`, withRole).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d assignments of the deleted group remain", n)
	}
	// The users themselves remain.
	e.Must(http.StatusOK, "GET", "/v3/users/"+aID, e.AdminToken, nil)
	if got := list(e.Must(http.StatusOK, "GET", "/v3/users/"+aID+"/groups", e.AdminToken, nil), "groups"); len(got) != 0 {
		t.Fatalf("groups of a: %v", got)
	}
}

func TestGroupPolicy(t *testing.T) {
	e := newTestEnv(t)
	gid := ugCreateGroup(e, map[string]any{"name": "g"})["id"].(string)
	demoID := ugUserID(e, "demo")
	member := "/v3/groups/" + gid + "/users/" + demoID
	tests := []struct {
		name, method, path string
		body               any
	}{
		{"list", "GET", "/v3/groups", nil},
		{"create", "POST", "/v3/groups", map[string]any{"group": map[string]any{"name": "evil"}}},
		{"show", "GET", "/v3/groups/" + gid, nil},
		{"update", "PATCH", "/v3/groups/" + gid, map[string]any{"group": map[string]any{"name": "evil"}}},
		{"delete", "DELETE", "/v3/groups/" + gid, nil},
		{"members", "GET", "/v3/groups/" + gid + "/users", nil},
		{"add itself", "PUT", member, nil},
		{"check", "GET", member, nil},
		{"remove", "DELETE", member, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, out, _ := e.Do(tt.method, tt.path, e.DemoToken, tt.body); status != http.StatusForbidden {
				t.Fatalf("demo: status %d, want 403: %v", status, out)
			}
		})
	}
	g := obj(e.Must(http.StatusOK, "GET", "/v3/groups/"+gid, e.AdminToken, nil), "group")
	if g["name"] != "g" {
		t.Fatalf("demo changed the group: %v", g)
	}
	e.Must(http.StatusNotFound, "GET", member, e.AdminToken, nil)
}
