package identity

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// ugCreateUser creates a user of the Default domain through the API and returns it.
func ugCreateUser(e *testEnv, attrs map[string]any) map[string]any {
	e.t.Helper()
	return obj(e.Must(http.StatusCreated, "POST", "/v3/users", e.AdminToken, map[string]any{"user": attrs}), "user")
}

// ugToken logs a Default-domain user in without a scope (an unscoped token when it
// has no default project) and returns the token, failing unless it gets one.
func ugToken(e *testEnv, name, password string) string {
	e.t.Helper()
	status, out, hdr := e.Do("POST", "/v3/auth/tokens", "", passwordAuth(name, password, nil))
	if status != http.StatusCreated {
		e.t.Fatalf("login %s: %d %v", name, status, out)
	}
	return hdr.Get("X-Subject-Token")
}

// ugLoginStatus is the status of a password login.
func ugLoginStatus(e *testEnv, name, password string) int {
	e.t.Helper()
	status, _, _ := e.Do("POST", "/v3/auth/tokens", "", passwordAuth(name, password, nil))
	return status
}

// ugTokenStatus uses a token to validate itself: 200 while it is valid, 401 once
// it is revoked.
func ugTokenStatus(e *testEnv, token string) int {
	e.t.Helper()
	status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", token, nil, map[string]string{"X-Subject-Token": token})
	return status
}

// ugGrant assigns a global role to a user or group on a project, straight in the
// database (the assignment API is not under test here).
func ugGrant(e *testEnv, typ, actorID, projectID, role string) {
	e.t.Helper()
	ctx := context.Background()
	var roleID string
	if err := e.Svc.db.QueryRowContext(ctx, `SELECT id FROM roles WHERE name = ? AND domain_id = ?`, role, nullDomainID).
		Scan(&roleID); err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.Svc.db.ExecContext(ctx, `INSERT INTO assignments (type, actor_id, target_id, role_id, inherited)
		VALUES (?, ?, ?, ?, FALSE)`, typ, actorID, projectID, roleID); err != nil {
		e.t.Fatal(err)
	}
	e.Svc.changed()
}

func ugProjectID(e *testEnv, name string) string {
	e.t.Helper()
	ps := list(e.Must(http.StatusOK, "GET", "/v3/projects?name="+name, e.AdminToken, nil), "projects")
	if len(ps) != 1 {
		e.t.Fatalf("project %s: %v", name, ps)
	}
	return ps[0]["id"].(string)
}

func ugUserID(e *testEnv, name string) string {
	e.t.Helper()
	us := list(e.Must(http.StatusOK, "GET", "/v3/users?name="+name, e.AdminToken, nil), "users")
	if len(us) != 1 {
		e.t.Fatalf("user %s: %v", name, us)
	}
	return us[0]["id"].(string)
}

func errorMessage(out map[string]any) string {
	m, _ := obj(out, "error")["message"].(string)
	return m
}

func TestUserLifecycle(t *testing.T) {
	e := newTestEnv(t)
	demoProject := ugProjectID(e, "demo")
	u := ugCreateUser(e, map[string]any{
		"name": "alice", "password": "s3cret", "email": "alice@example.com", "description": "Alice",
		"default_project_id": demoProject, "options": map[string]any{"ignore_lockout_failure_attempts": true},
	})
	id, _ := u["id"].(string)
	if len(id) != 32 {
		t.Fatalf("id %q is not a 32-digit uuid", id)
	}
	want := map[string]any{"name": "alice", "domain_id": "default", "enabled": true, "email": "alice@example.com",
		"description": "Alice", "default_project_id": demoProject, "password_expires_at": nil}
	for k, v := range want {
		if got, ok := u[k]; !ok || got != v {
			t.Errorf("%s = %v, want %v", k, got, v)
		}
	}
	if obj(u, "options")["ignore_lockout_failure_attempts"] != true {
		t.Errorf("options: %v", u["options"])
	}
	if self, _ := obj(u, "links")["self"].(string); !strings.HasSuffix(self, "/v3/users/"+id) {
		t.Errorf("links.self = %q", self)
	}
	for _, secret := range []string{"password", "password_hash", "extra"} {
		if _, leaked := u[secret]; leaked {
			t.Errorf("user rendered %q: %v", secret, u)
		}
	}

	// Defaults: no default project attribute, empty options.
	bob := ugCreateUser(e, map[string]any{"name": "bob", "enabled": false})
	if _, has := bob["default_project_id"]; has || bob["enabled"] != false || len(obj(bob, "options")) != 0 {
		t.Fatalf("bob: %v", bob)
	}

	got := obj(e.Must(http.StatusOK, "GET", "/v3/users/"+id, e.AdminToken, nil), "user")
	if got["email"] != "alice@example.com" || got["name"] != "alice" {
		t.Fatalf("show: %v", got)
	}
	if _, leaked := got["password"]; leaked {
		t.Fatal("show rendered the password")
	}

	filters := []struct {
		query string
		want  []string
	}{
		{"", []string{"admin", "alice", "bob", "demo"}},
		{"?name=alice", []string{"alice"}},
		{"?name=nobody", nil},
		{"?domain_id=default", []string{"admin", "alice", "bob", "demo"}},
		{"?domain_id=nope", nil},
		{"?enabled=false", []string{"bob"}},
		{"?enabled=0", []string{"bob"}},
		{"?enabled=true&name=bob", nil},
		// Keystone's inexact filters, as gophercloud's Filters send them.
		{"?name__contains=li", []string{"alice"}},
		{"?name__contains=LI", nil},
		{"?name__icontains=LI", []string{"alice"}},
		{"?name__startswith=b", []string{"bob"}},
		{"?name__iendswith=MIN", []string{"admin"}},
		{"?name__contains=m&name__contains=d", []string{"admin", "demo"}},
		{"?name__nonsense=x", []string{"admin", "alice", "bob", "demo"}},
		{"?enabled=true&name__contains=o", []string{"demo"}},
	}
	for _, tt := range filters {
		t.Run("list"+tt.query, func(t *testing.T) {
			out := e.Must(http.StatusOK, "GET", "/v3/users"+tt.query, e.AdminToken, nil)
			var names []string
			for _, u := range list(out, "users") {
				names = append(names, u["name"].(string))
			}
			if strings.Join(names, ",") != strings.Join(tt.want, ",") {
				t.Fatalf("names %v, want %v", names, tt.want)
			}
			if obj(out, "links")["self"] == nil {
				t.Fatalf("no links: %v", out)
			}
		})
	}

	// Update: rename, change an extra, add one, unset the default project, options merge.
	up := obj(e.Must(http.StatusOK, "PATCH", "/v3/users/"+id, e.AdminToken, map[string]any{"user": map[string]any{
		"name": "alice2", "email": "a2@example.com", "phone": "123", "default_project_id": nil,
		"options": map[string]any{"lock_password": true, "ignore_lockout_failure_attempts": nil},
	}}), "user")
	if up["name"] != "alice2" || up["email"] != "a2@example.com" || up["phone"] != "123" || up["description"] != "Alice" {
		t.Fatalf("update: %v", up)
	}
	if _, has := up["default_project_id"]; has {
		t.Fatalf("default project not unset: %v", up)
	}
	if opts := obj(up, "options"); opts["lock_password"] != true || opts["ignore_lockout_failure_attempts"] != nil {
		t.Fatalf("options: %v", opts)
	}
	// The id may be echoed back unchanged.
	e.Must(http.StatusOK, "PATCH", "/v3/users/"+id, e.AdminToken, map[string]any{"user": map[string]any{"id": id, "domain_id": "default"}})

	e.Must(http.StatusConflict, "POST", "/v3/users", e.AdminToken, map[string]any{"user": map[string]any{"name": "bob"}})
	e.Must(http.StatusConflict, "PATCH", "/v3/users/"+id, e.AdminToken, map[string]any{"user": map[string]any{"name": "bob"}})

	e.Must(http.StatusNoContent, "DELETE", "/v3/users/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/users/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v3/users/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "PATCH", "/v3/users/"+id, e.AdminToken, map[string]any{"user": map[string]any{"name": "x"}})
	// The name is free again.
	ugCreateUser(e, map[string]any{"name": "alice2"})
}

func TestUserCreateInOtherDomain(t *testing.T) {
	e := newTestEnv(t)
	d := obj(e.Must(http.StatusCreated, "POST", "/v3/domains", e.AdminToken, map[string]any{"domain": map[string]any{"name": "acme"}}), "domain")
	u := ugCreateUser(e, map[string]any{"name": "demo", "domain_id": d["id"]}) // names are unique per domain only
	if u["domain_id"] != d["id"] {
		t.Fatalf("domain: %v", u)
	}
	if got := list(e.Must(http.StatusOK, "GET", "/v3/users?name=demo", e.AdminToken, nil), "users"); len(got) != 2 {
		t.Fatalf("two demos expected: %v", got)
	}
	if got := list(e.Must(http.StatusOK, "GET", "/v3/users?domain_id="+d["id"].(string), e.AdminToken, nil), "users"); len(got) != 1 || got[0]["id"] != u["id"] {
		t.Fatalf("domain filter: %v", got)
	}
	// Without domain_id, a user lands in the domain of the token's project.
	if u := ugCreateUser(e, map[string]any{"name": "carol"}); u["domain_id"] != "default" {
		t.Fatalf("default domain: %v", u)
	}
}

func TestUserCreateBadInput(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name   string
		body   any
		status int
	}{
		{"user not an object", map[string]any{"user": "notanobject"}, 400},
		{"user null", map[string]any{"user": nil}, 400},
		{"no user", map[string]any{"name": "x"}, 400},
		{"malformed JSON", []byte(`{"user": {"name": `), 400},
		{"empty body", []byte(``), 400},
		{"name missing", map[string]any{"user": map[string]any{"password": "x"}}, 400},
		{"name empty", map[string]any{"user": map[string]any{"name": ""}}, 400},
		{"name blank", map[string]any{"user": map[string]any{"name": "   "}}, 400},
		{"name not a string", map[string]any{"user": map[string]any{"name": 42}}, 400},
		{"name too long", map[string]any{"user": map[string]any{"name": strings.Repeat("n", 256)}}, 400},
		{"enabled a number", map[string]any{"user": map[string]any{"name": "x", "enabled": 1}}, 400},
		{"enabled not a boolean string", map[string]any{"user": map[string]any{"name": "x", "enabled": "maybe"}}, 400},
		{"domain_id null", map[string]any{"user": map[string]any{"name": "x", "domain_id": nil}}, 400},
		{"password a number", map[string]any{"user": map[string]any{"name": "x", "password": 1234}}, 400},
		{"password too long", map[string]any{"user": map[string]any{"name": "x", "password": strings.Repeat("p", maxPasswordLength+1)}}, 400},
		{"description a number", map[string]any{"user": map[string]any{"name": "x", "description": 1}}, 400},
		{"default_project_id a number", map[string]any{"user": map[string]any{"name": "x", "default_project_id": 1}}, 400},
		{"default_project_id a domain", map[string]any{"user": map[string]any{"name": "x", "default_project_id": "default"}}, 400},
		{"options not an object", map[string]any{"user": map[string]any{"name": "x", "options": []any{}}}, 400},
		{"unknown option", map[string]any{"user": map[string]any{"name": "x", "options": map[string]any{"frobnicate": true}}}, 400},
		{"option not a boolean", map[string]any{"user": map[string]any{"name": "x", "options": map[string]any{"lock_password": "yes"}}}, 400},
		{"bad MFA rules", map[string]any{"user": map[string]any{"name": "x", "options": map[string]any{"multi_factor_auth_rules": []any{[]any{}}}}}, 400},
		{"domain_id a number", map[string]any{"user": map[string]any{"name": "x", "domain_id": 7}}, 400},
		{"unknown domain", map[string]any{"user": map[string]any{"name": "x", "domain_id": "nope"}}, 404},
		{"duplicate", map[string]any{"user": map[string]any{"name": "demo"}}, 409},
		{"duplicate after trimming", map[string]any{"user": map[string]any{"name": " demo "}}, 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := e.Do("POST", "/v3/users", e.AdminToken, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if er := obj(out, "error"); er == nil || er["code"] != float64(tt.status) || er["title"] == nil || er["message"] == "" {
				t.Fatalf("error body not Keystone's: %v", out)
			}
		})
	}
	if msg := errorMessage(e.Must(404, "POST", "/v3/users", e.AdminToken, map[string]any{"user": map[string]any{"name": "x", "domain_id": "nope"}})); msg != "Could not find domain: nope." {
		t.Fatalf("message %q", msg)
	}
	// Nothing was created by the failures.
	if got := list(e.Must(http.StatusOK, "GET", "/v3/users", e.AdminToken, nil), "users"); len(got) != 2 {
		t.Fatalf("users: %v", got)
	}
	// Valid MFA rules are kept.
	u := ugCreateUser(e, map[string]any{"name": "m", "options": map[string]any{"multi_factor_auth_rules": []any{[]any{"password", "totp"}}}})
	if rules, _ := obj(u, "options")["multi_factor_auth_rules"].([]any); len(rules) != 1 {
		t.Fatalf("options: %v", u["options"])
	}
}

func TestUserUpdateBadInput(t *testing.T) {
	e := newTestEnv(t)
	id := ugCreateUser(e, map[string]any{"name": "u"})["id"].(string)
	tests := []struct {
		name   string
		path   string
		body   any
		status int
	}{
		{"empty user", id, map[string]any{"user": map[string]any{}}, 400},
		{"user not an object", id, map[string]any{"user": "notanobject"}, 400},
		{"enabled a number", id, map[string]any{"user": map[string]any{"enabled": 1}}, 400},
		{"name empty", id, map[string]any{"user": map[string]any{"name": ""}}, 400},
		{"change domain", id, map[string]any{"user": map[string]any{"domain_id": "other"}}, 400},
		{"null domain", id, map[string]any{"user": map[string]any{"domain_id": nil}}, 400},
		{"change id", id, map[string]any{"user": map[string]any{"id": "other"}}, 400},
		{"bad option", id, map[string]any{"user": map[string]any{"options": map[string]any{"nope": true}}}, 400},
		{"default project a domain", id, map[string]any{"user": map[string]any{"default_project_id": "default"}}, 400},
		{"unknown user", "nope", map[string]any{"user": map[string]any{"name": "x"}}, 404},
		{"duplicate name", id, map[string]any{"user": map[string]any{"name": "admin"}}, 409},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := e.Do("PATCH", "/v3/users/"+tt.path, e.AdminToken, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
		})
	}
	u := obj(e.Must(http.StatusOK, "GET", "/v3/users/"+id, e.AdminToken, nil), "user")
	if u["name"] != "u" || u["enabled"] != true || len(obj(u, "options")) != 0 {
		t.Fatalf("failed updates changed the user: %v", u)
	}
}

func TestUserPolicy(t *testing.T) {
	e := newTestEnv(t)
	demoID, adminID := ugUserID(e, "demo"), ugUserID(e, "admin")
	tests := []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"list users", "GET", "/v3/users", nil, 403},
		{"list users of a domain", "GET", "/v3/users?domain_id=default", nil, 403},
		{"create user", "POST", "/v3/users", map[string]any{"user": map[string]any{"name": "evil"}}, 403},
		{"create user in a missing domain", "POST", "/v3/users", map[string]any{"user": map[string]any{"name": "evil", "domain_id": "nope"}}, 403},
		{"show itself", "GET", "/v3/users/" + demoID, nil, 200},
		{"show another", "GET", "/v3/users/" + adminID, nil, 403},
		{"show a missing user", "GET", "/v3/users/nope", nil, 403},
		{"update itself", "PATCH", "/v3/users/" + demoID, map[string]any{"user": map[string]any{"enabled": true}}, 403},
		{"delete another", "DELETE", "/v3/users/" + adminID, nil, 403},
		{"own groups", "GET", "/v3/users/" + demoID + "/groups", nil, 200},
		{"another's groups", "GET", "/v3/users/" + adminID + "/groups", nil, 403},
		{"own projects", "GET", "/v3/users/" + demoID + "/projects", nil, 200},
		{"another's projects", "GET", "/v3/users/" + adminID + "/projects", nil, 403},
		{"no token", "GET", "/v3/users/" + demoID, nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := e.DemoToken
			if tt.status == 401 {
				token = ""
			}
			status, out, _ := e.Do(tt.method, tt.path, token, tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
		})
	}
	if got := list(e.Must(http.StatusOK, "GET", "/v3/users?name=evil", e.AdminToken, nil), "users"); len(got) != 0 {
		t.Fatalf("demo created a user: %v", got)
	}
	me := obj(e.Must(http.StatusOK, "GET", "/v3/users/"+demoID, e.DemoToken, nil), "user")
	if me["name"] != "demo" || me["default_project_id"] != ugProjectID(e, "demo") {
		t.Fatalf("demo's own user: %v", me)
	}
}

func TestChangePassword(t *testing.T) {
	e := newTestEnv(t)
	demoID := ugUserID(e, "demo")
	old := e.DemoToken
	if s := ugTokenStatus(e, old); s != http.StatusOK {
		t.Fatalf("demo token before: %d", s)
	}
	// No token needed: the original password is the credential.
	e.Must(http.StatusNoContent, "POST", "/v3/users/"+demoID+"/password", "", map[string]any{"user": map[string]any{
		"original_password": testDemoPassword, "password": "new-demo-secret"}})
	if s := ugTokenStatus(e, old); s != http.StatusUnauthorized {
		t.Fatalf("old token after the password change: %d, want 401", s)
	}
	if status, _, _ := e.Do("GET", "/v3/users/"+demoID, old, nil); status != http.StatusUnauthorized {
		t.Fatalf("old token on GET user: %d, want 401", status)
	}
	if s := ugLoginStatus(e, "demo", testDemoPassword); s != http.StatusUnauthorized {
		t.Fatalf("old password: %d, want 401", s)
	}
	fresh := e.Login("demo", "new-demo-secret", "demo")
	if s := ugTokenStatus(e, fresh); s != http.StatusOK {
		t.Fatalf("new token: %d", s)
	}
	// Admin tokens are untouched.
	if s := ugTokenStatus(e, e.AdminToken); s != http.StatusOK {
		t.Fatalf("admin token: %d", s)
	}

	// An admin resetting a password through PATCH also ends the user's sessions.
	e.Must(http.StatusOK, "PATCH", "/v3/users/"+demoID, e.AdminToken, map[string]any{"user": map[string]any{"password": "reset"}})
	if s := ugTokenStatus(e, fresh); s != http.StatusUnauthorized {
		t.Fatalf("token after admin reset: %d, want 401", s)
	}
	if s := ugLoginStatus(e, "demo", "new-demo-secret"); s != http.StatusUnauthorized {
		t.Fatalf("password before reset: %d, want 401", s)
	}
	e.Login("demo", "reset", "demo")
	// Updating anything else does not.
	tok := e.Login("demo", "reset", "demo")
	e.Must(http.StatusOK, "PATCH", "/v3/users/"+demoID, e.AdminToken, map[string]any{"user": map[string]any{"email": "d@example.com"}})
	if s := ugTokenStatus(e, tok); s != http.StatusOK {
		t.Fatalf("token after unrelated update: %d", s)
	}
}

func TestChangePasswordErrors(t *testing.T) {
	e := newTestEnv(t)
	id := ugCreateUser(e, map[string]any{"name": "pat", "password": "orig"})["id"].(string)
	locked := ugCreateUser(e, map[string]any{"name": "locked", "password": "orig", "options": map[string]any{"lock_password": true}})["id"].(string)
	body := func(user any) map[string]any { return map[string]any{"user": user} }
	tests := []struct {
		name   string
		id     string
		body   any
		status int
	}{
		{"wrong original", id, body(map[string]any{"original_password": "wrong", "password": "x"}), 401},
		{"unknown user", "nope", body(map[string]any{"original_password": "orig", "password": "x"}), 401},
		{"user not an object", id, body("notanobject"), 400},
		{"no original", id, body(map[string]any{"password": "x"}), 400},
		{"no password", id, body(map[string]any{"original_password": "orig"}), 400},
		{"password a number", id, body(map[string]any{"original_password": "orig", "password": 5}), 400},
		{"unexpected attribute", id, body(map[string]any{"original_password": "orig", "password": "x", "name": "n"}), 400},
		{"lock_password", locked, body(map[string]any{"original_password": "orig", "password": "x"}), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, hdr := e.Do("POST", "/v3/users/"+tt.id+"/password", "", tt.body)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %v", status, tt.status, out)
			}
			if status == 401 {
				if msg := errorMessage(out); msg != errAuthFailed.Message {
					t.Fatalf("401 message %q says more than the generic one", msg)
				}
				if hdr.Get("WWW-Authenticate") == "" {
					t.Fatal("401 without WWW-Authenticate")
				}
			}
		})
	}
	// None of that changed a password.
	ugToken(e, "pat", "orig")
	ugToken(e, "locked", "orig")
	// GET is not a way to change a password.
	if status, _, hdr := e.Do("GET", "/v3/users/"+id+"/password", e.AdminToken, nil); status != http.StatusMethodNotAllowed || !strings.Contains(hdr.Get("Allow"), "POST") {
		t.Fatalf("GET password: %d Allow %q", status, hdr.Get("Allow"))
	}
	// The admin can still reset a locked password.
	e.Must(http.StatusOK, "PATCH", "/v3/users/"+locked, e.AdminToken, map[string]any{"user": map[string]any{"password": "new"}})
	ugToken(e, "locked", "new")
}

func TestDisabledUser(t *testing.T) {
	e := newTestEnv(t)
	id := ugCreateUser(e, map[string]any{"name": "dora", "password": "pw"})["id"].(string)
	tok := ugToken(e, "dora", "pw")
	if s := ugTokenStatus(e, tok); s != http.StatusOK {
		t.Fatalf("token: %d", s)
	}
	e.Must(http.StatusOK, "PATCH", "/v3/users/"+id, e.AdminToken, map[string]any{"user": map[string]any{"enabled": false}})
	if s := ugTokenStatus(e, tok); s != http.StatusUnauthorized {
		t.Fatalf("token of a disabled user: %d, want 401", s)
	}
	if s := ugLoginStatus(e, "dora", "pw"); s != http.StatusUnauthorized {
		t.Fatalf("login of a disabled user: %d, want 401", s)
	}
	// Disabled users cannot change their password either.
	if status, _, _ := e.Do("POST", "/v3/users/"+id+"/password", "", map[string]any{"user": map[string]any{
		"original_password": "pw", "password": "pw2"}}); status != http.StatusUnauthorized {
		t.Fatalf("password change of a disabled user: %d, want 401", status)
	}
	e.Must(http.StatusOK, "PATCH", "/v3/users/"+id, e.AdminToken, map[string]any{"user": map[string]any{"enabled": true}})
	if s := ugTokenStatus(e, tok); s != http.StatusUnauthorized {
		t.Fatalf("old token after re-enabling: %d, want 401", s)
	}
	if s := ugTokenStatus(e, ugToken(e, "dora", "pw")); s != http.StatusOK {
		t.Fatalf("new token after re-enabling: %d", s)
	}
}

func TestDeleteUserCleansUp(t *testing.T) {
	e := newTestEnv(t)
	demoProject := ugProjectID(e, "demo")
	id := ugCreateUser(e, map[string]any{"name": "del", "password": "pw", "default_project_id": demoProject})["id"].(string)
	ugGrant(e, "UserProject", id, demoProject, "member")
	gid := obj(e.Must(http.StatusCreated, "POST", "/v3/groups", e.AdminToken, map[string]any{"group": map[string]any{"name": "g"}}), "group")["id"].(string)
	e.Must(http.StatusNoContent, "PUT", "/v3/groups/"+gid+"/users/"+id, e.AdminToken, nil)
	tok := e.Login("del", "pw", "demo")
	e.Must(http.StatusNoContent, "DELETE", "/v3/users/"+id, e.AdminToken, nil)
	if s := ugTokenStatus(e, tok); s != http.StatusUnauthorized {
		t.Fatalf("token of a deleted user: %d, want 401", s)
	}
	ctx := context.Background()
	for table, col := range map[string]string{"assignments": "actor_id", "user_group_membership": "user_id", "users": "id"} {
		var n int
		if err := e.Svc.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+table+` WHERE `+col+` = ?`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s still has %d rows of the deleted user", table, n)
		}
	}
	if got := list(e.Must(http.StatusOK, "GET", "/v3/groups/"+gid+"/users", e.AdminToken, nil), "users"); len(got) != 0 {
		t.Fatalf("group members: %v", got)
	}
	// A new user of the same name is a different user and logs in.
	ugCreateUser(e, map[string]any{"name": "del", "password": "pw"})
	ugToken(e, "del", "pw")
}

func TestUserProjectsAndGroups(t *testing.T) {
	e := newTestEnv(t)
	demoProject, adminProject := ugProjectID(e, "demo"), ugProjectID(e, "admin")
	e.Must(http.StatusCreated, "POST", "/v3/projects", e.AdminToken, map[string]any{"project": map[string]any{"name": "other"}})
	id := ugCreateUser(e, map[string]any{"name": "pj", "password": "pw"})["id"].(string)
	e.Must(http.StatusNotFound, "GET", "/v3/users/nope/projects", e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/users/nope/groups", e.AdminToken, nil)
	if got := list(e.Must(http.StatusOK, "GET", "/v3/users/"+id+"/projects", e.AdminToken, nil), "projects"); len(got) != 0 {
		t.Fatalf("projects of a user without roles: %v", got)
	}

	ugGrant(e, "UserProject", id, demoProject, "member")
	g := obj(e.Must(http.StatusCreated, "POST", "/v3/groups", e.AdminToken, map[string]any{"group": map[string]any{"name": "ops"}}), "group")
	gid := g["id"].(string)
	ugGrant(e, "GroupProject", gid, adminProject, "reader")
	e.Must(http.StatusNoContent, "PUT", "/v3/groups/"+gid+"/users/"+id, e.AdminToken, nil)

	names := func(path, key string) string {
		var out []string
		for _, x := range list(e.Must(http.StatusOK, "GET", path, e.AdminToken, nil), key) {
			out = append(out, x["name"].(string))
		}
		return strings.Join(out, ",")
	}
	if got := names("/v3/users/"+id+"/projects", "projects"); got != "admin,demo" {
		t.Fatalf("projects (direct and through the group) = %q", got)
	}
	if got := names("/v3/users/"+id+"/projects?name=demo", "projects"); got != "demo" {
		t.Fatalf("projects?name=demo = %q", got)
	}
	if got := names("/v3/users/"+id+"/projects?domain_id=nope", "projects"); got != "" {
		t.Fatalf("projects?domain_id=nope = %q", got)
	}
	if got := names("/v3/users/"+id+"/groups", "groups"); got != "ops" {
		t.Fatalf("groups = %q", got)
	}
	gs := list(e.Must(http.StatusOK, "GET", "/v3/users/"+id+"/groups", e.AdminToken, nil), "groups")
	if v, has := gs[0]["membership_expires_at"]; !has || v != nil || gs[0]["domain_id"] != "default" {
		t.Fatalf("group of a user: %v", gs[0])
	}
	if got := names("/v3/users/"+id+"/groups?name=nope", "groups"); got != "" {
		t.Fatalf("groups?name=nope = %q", got)
	}
	// The user sees its own projects, and the group's roles reach its tokens.
	tok := e.Login("pj", "pw", "admin")
	if got := list(e.Must(http.StatusOK, "GET", "/v3/users/"+id+"/projects", tok, nil), "projects"); len(got) != 2 {
		t.Fatalf("own projects: %v", got)
	}
}
