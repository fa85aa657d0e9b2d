package identity

import (
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// acTokenBody validates token (as admin) and returns its "token" object.
func acTokenBody(e *testEnv, token string) map[string]any {
	e.t.Helper()
	status, out, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": token})
	if status != http.StatusOK {
		e.t.Fatalf("validate token: %d %v", status, out)
	}
	return obj(out, "token")
}

func acUserID(e *testEnv, token string) string {
	e.t.Helper()
	return obj(acTokenBody(e, token), "user")["id"].(string)
}

func appCredAuth(cred map[string]any) map[string]any {
	return map[string]any{"auth": map[string]any{"identity": map[string]any{
		"methods": []string{"application_credential"}, "application_credential": cred}}}
}

func appCredBody(m map[string]any) map[string]any { return map[string]any{"application_credential": m} }

// acLogin logs in with an application credential and returns the status, token body
// and token.
func acLogin(e *testEnv, cred map[string]any) (int, map[string]any, string) {
	e.t.Helper()
	status, out, hdr := e.Do("POST", "/v3/auth/tokens", "", appCredAuth(cred))
	return status, obj(out, "token"), hdr.Get("X-Subject-Token")
}

func TestApplicationCredentialLifecycle(t *testing.T) {
	e := newTestEnv(t)
	demoID := acUserID(e, e.DemoToken)
	demoProject := obj(acTokenBody(e, e.DemoToken), "project")["id"].(string)
	base := "/v3/users/" + demoID + "/application_credentials"

	ac := obj(e.Must(http.StatusCreated, "POST", base, e.DemoToken, appCredBody(map[string]any{
		"name": "monitoring", "description": "for the monitor", "roles": []any{map[string]any{"name": "reader"}}})),
		"application_credential")
	id, _ := ac["id"].(string)
	secret, _ := ac["secret"].(string)
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{64,}$`).MatchString(secret) {
		t.Fatalf("generated secret %q: want at least 64 url-safe characters", secret)
	}
	roles := list(ac, "roles")
	if ac["name"] != "monitoring" || ac["description"] != "for the monitor" || ac["project_id"] != demoProject ||
		ac["unrestricted"] != false || ac["expires_at"] != nil || ac["system"] != nil ||
		len(roles) != 1 || roles[0]["name"] != "reader" || roles[0]["id"] == nil || roles[0]["domain_id"] != nil {
		t.Fatalf("created application credential: %v", ac)
	}
	if _, has := roles[0]["domain_id"]; !has {
		t.Fatalf("roles carry domain_id: %v", roles)
	}
	if self := obj(ac, "links")["self"]; self != e.URL+base+"/"+id {
		t.Fatalf("links.self = %v", self)
	}

	// The secret is shown once: never by show or list.
	shown := obj(e.Must(http.StatusOK, "GET", base+"/"+id, e.DemoToken, nil), "application_credential")
	if _, has := shown["secret"]; has || shown["name"] != "monitoring" || len(list(shown, "roles")) != 1 {
		t.Fatalf("show: %v", shown)
	}
	for _, tt := range []struct {
		query string
		want  int
	}{{"", 1}, {"?name=monitoring", 1}, {"?name=other", 0}} {
		got := list(e.Must(http.StatusOK, "GET", base+tt.query, e.DemoToken, nil), "application_credentials")
		if len(got) != tt.want {
			t.Fatalf("list%s: %d, want %d", tt.query, len(got), tt.want)
		}
		for _, a := range got {
			if _, has := a["secret"]; has {
				t.Fatalf("list shows the secret: %v", a)
			}
		}
	}
	e.Must(http.StatusConflict, "POST", base, e.DemoToken, appCredBody(map[string]any{"name": "monitoring"}))

	// Log in by id: a token for the credential's project with only its roles.
	status, tok, acToken := acLogin(e, map[string]any{"id": id, "secret": secret})
	if status != http.StatusCreated {
		t.Fatalf("login by id: %d %v", status, tok)
	}
	if obj(tok, "project")["id"] != demoProject {
		t.Fatalf("app cred token scope: %v", tok)
	}
	if got := roleNames(tok); len(got) != 1 || !got["reader"] {
		t.Fatalf("app cred token roles %v, want reader only", got)
	}
	if a := obj(tok, "application_credential"); a["id"] != id || a["name"] != "monitoring" || a["restricted"] != true {
		t.Fatalf("token application_credential: %v", tok["application_credential"])
	}
	if methods, _ := tok["methods"].([]any); !slices.Contains(methods, any("application_credential")) {
		t.Fatalf("methods: %v", tok["methods"])
	}
	e.Must(http.StatusOK, "GET", "/v3/auth/projects", acToken, nil)

	// Log in by name and user.
	status, tok, _ = acLogin(e, map[string]any{"name": "monitoring", "secret": secret,
		"user": map[string]any{"name": "demo", "domain": map[string]any{"id": "default"}}})
	if status != http.StatusCreated || obj(tok, "project")["id"] != demoProject {
		t.Fatalf("login by name: %d %v", status, tok)
	}
	status, tok, _ = acLogin(e, map[string]any{"name": "monitoring", "secret": secret, "user": map[string]any{"id": demoID}})
	if status != http.StatusCreated {
		t.Fatalf("login by name and user id: %d %v", status, tok)
	}
	for name, cred := range map[string]map[string]any{
		"wrong secret": {"id": id, "secret": "wrong"},
		"unknown id":   {"id": "nope", "secret": secret},
		"wrong user":   {"name": "monitoring", "secret": secret, "user": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}}},
		"unknown name": {"name": "nope", "secret": secret, "user": map[string]any{"id": demoID}},
	} {
		if status, _, _ := acLogin(e, cred); status != http.StatusUnauthorized {
			t.Errorf("%s: %d, want 401", name, status)
		}
	}

	// The credential fixes the scope: asking for another one fails.
	other := appCredAuth(map[string]any{"id": id, "secret": secret})
	obj(other, "auth")["scope"] = map[string]any{"project": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}}}
	e.Must(http.StatusUnauthorized, "POST", "/v3/auth/tokens", "", other)

	// A restricted credential's token may not manage application credentials.
	e.Must(http.StatusForbidden, "POST", base, acToken, appCredBody(map[string]any{"name": "second"}))
	e.Must(http.StatusForbidden, "DELETE", base+"/"+id, acToken, nil)

	// By default a credential gets all the token's roles (implied ones included).
	all := obj(e.Must(http.StatusCreated, "POST", base, e.DemoToken, appCredBody(map[string]any{
		"name": "all", "secret": "my own secret"})), "application_credential")
	if all["secret"] != "my own secret" || len(list(all, "roles")) != 2 {
		t.Fatalf("default roles / given secret: %v", all)
	}
	if status, tok, _ := acLogin(e, map[string]any{"id": all["id"], "secret": "my own secret"}); status != http.StatusCreated ||
		!roleNames(tok)["member"] || !roleNames(tok)["reader"] {
		t.Fatalf("login with all roles: %d %v", status, tok)
	}

	// As upstream, a named role brings the roles it implies (member: reader).
	implied := obj(e.Must(http.StatusCreated, "POST", base, e.DemoToken, appCredBody(map[string]any{
		"name": "implied", "roles": []any{map[string]any{"name": "member"}}})), "application_credential")
	if got := extNames(list(implied, "roles")); !slices.Equal(got, []string{"member", "reader"}) {
		t.Fatalf("roles of a credential naming member: %v", got)
	}

	// An unrestricted credential's token may create further credentials.
	free := obj(e.Must(http.StatusCreated, "POST", base, e.DemoToken, appCredBody(map[string]any{
		"name": "free", "unrestricted": true})), "application_credential")
	if free["unrestricted"] != true {
		t.Fatalf("unrestricted: %v", free)
	}
	_, _, freeToken := acLogin(e, map[string]any{"id": free["id"], "secret": free["secret"]})
	e.Must(http.StatusCreated, "POST", base, freeToken, appCredBody(map[string]any{"name": "child"}))

	// Deleting revokes the tokens issued with the credential and stops logins.
	e.Must(http.StatusNoContent, "DELETE", base+"/"+id, e.DemoToken, nil)
	if status, _, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": acToken}); status != http.StatusNotFound {
		t.Fatalf("validate token of deleted credential: %d, want 404", status)
	}
	e.Must(http.StatusUnauthorized, "GET", "/v3/auth/projects", acToken, nil)
	if status, _, _ := acLogin(e, map[string]any{"id": id, "secret": secret}); status != http.StatusUnauthorized {
		t.Fatalf("login with deleted credential: %d, want 401", status)
	}
	e.Must(http.StatusNotFound, "GET", base+"/"+id, e.DemoToken, nil)
	e.Must(http.StatusNotFound, "DELETE", base+"/"+id, e.DemoToken, nil)
	// Other credentials' tokens and the user's own tokens are untouched.
	e.Must(http.StatusOK, "GET", "/v3/auth/projects", freeToken, nil)
	e.Must(http.StatusOK, "GET", "/v3/auth/projects", e.DemoToken, nil)
}

func TestApplicationCredentialBadInput(t *testing.T) {
	e := newTestEnv(t)
	demoID := acUserID(e, e.DemoToken)
	adminID := acUserID(e, e.AdminToken)
	base := "/v3/users/" + demoID + "/application_credentials"
	_, _, hdr := e.Do("POST", "/v3/auth/tokens", "", passwordAuth("demo", testDemoPassword, "unscoped"))
	unscoped := hdr.Get("X-Subject-Token")
	tests := []struct {
		name  string
		path  string
		token string
		body  any
		want  int
	}{
		{"no envelope", base, e.DemoToken, map[string]any{"name": "x"}, 400},
		{"name missing", base, e.DemoToken, appCredBody(map[string]any{}), 400},
		{"name blank", base, e.DemoToken, appCredBody(map[string]any{"name": " "}), 400},
		{"name wrong type", base, e.DemoToken, appCredBody(map[string]any{"name": 1}), 400},
		{"secret wrong type", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "secret": 1}), 400},
		{"unrestricted wrong type", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "unrestricted": "yes"}), 400},
		{"role not on the token", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "roles": []any{map[string]any{"name": "admin"}}}), 400},
		{"role id not on the token", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "roles": []any{map[string]any{"id": "nope"}}}), 400},
		{"unknown role name", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "roles": []any{map[string]any{"name": "nope"}}}), 404},
		{"role with id and name", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "roles": []any{map[string]any{"id": "a", "name": "b"}}}), 400},
		{"roles not a list", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "roles": "member"}), 400},
		{"expires in the past", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "expires_at": "2001-01-01T00:00:00Z"}), 400},
		{"expires_at not a time", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "expires_at": "tomorrow"}), 400},
		{"access rules not a list", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "access_rules": "all"}), 400},
		{"access rule not an object", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "access_rules": []any{"GET /v2.1/servers"}}), 400},
		{"access rule bad method", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "access_rules": []any{map[string]any{"path": "/v2.1/servers", "method": "FETCH", "service": "compute"}}}), 400},
		{"access rule lower-case method", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "access_rules": []any{map[string]any{"path": "/v2.1/servers", "method": "get", "service": "compute"}}}), 400},
		{"access rule path not absolute", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "access_rules": []any{map[string]any{"path": "v2.1/servers", "method": "GET", "service": "compute"}}}), 400},
		{"access rule path too long", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "access_rules": []any{map[string]any{"path": "/" + strings.Repeat("a", 225), "method": "GET", "service": "compute"}}}), 400},
		{"access rule service not a string", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "access_rules": []any{map[string]any{"path": "/v2.1/servers", "method": "GET", "service": 1}}}), 400},
		{"access rule bad service", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "access_rules": []any{map[string]any{"path": "/v2.1/servers", "method": "GET", "service": "com pute"}}}), 400},
		{"access rule unknown attribute", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "access_rules": []any{map[string]any{"path": "/v2.1/servers", "method": "GET", "service": "compute", "name": "x"}}}), 400},
		{"access rule incomplete", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "access_rules": []any{map[string]any{"path": "/v2.1/servers", "method": "GET"}}}), 400},
		{"access rule unknown id", base, e.DemoToken, appCredBody(map[string]any{"name": "x", "access_rules": []any{map[string]any{"id": "nope"}}}), 404},
		{"for another user", "/v3/users/" + adminID + "/application_credentials", e.DemoToken, appCredBody(map[string]any{"name": "x"}), 403},
		{"admin for another user", base, e.AdminToken, appCredBody(map[string]any{"name": "x"}), 403},
		{"unscoped token", base, unscoped, appCredBody(map[string]any{"name": "x"}), 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := e.Do("POST", tt.path, tt.token, tt.body)
			if status != tt.want || obj(out, "error")["code"] != float64(tt.want) {
				t.Fatalf("status %d, want %d: %v", status, tt.want, out)
			}
		})
	}
	if got := list(e.Must(http.StatusOK, "GET", base, e.DemoToken, nil), "application_credentials"); len(got) != 0 {
		t.Fatalf("failed creates left credentials: %v", got)
	}
}

func TestApplicationCredentialExpiry(t *testing.T) {
	e := newTestEnv(t)
	demoID := acUserID(e, e.DemoToken)
	expires := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	ac := obj(e.Must(http.StatusCreated, "POST", "/v3/users/"+demoID+"/application_credentials", e.DemoToken,
		appCredBody(map[string]any{"name": "short", "expires_at": expires.Format("2006-01-02T15:04:05")})), "application_credential")
	// Keystone's format for this field has no zone; gophercloud parses exactly it.
	if want := expires.Format("2006-01-02T15:04:05.000000"); ac["expires_at"] != want {
		t.Fatalf("expires_at %v, want %v", ac["expires_at"], want)
	}
	cred := map[string]any{"id": ac["id"], "secret": ac["secret"]}
	status, tok, _ := acLogin(e, cred)
	if status != http.StatusCreated {
		t.Fatalf("login before expiry: %d", status)
	}
	// Its tokens do not outlive it.
	if tokExpires, err := time.Parse(timeFormat, tok["expires_at"].(string)); err != nil || tokExpires.After(expires) {
		t.Fatalf("token expires %v, credential %v", tok["expires_at"], expires)
	}
	e.Svc.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if status, _, _ := acLogin(e, cred); status != http.StatusUnauthorized {
		t.Fatalf("login after expiry: %d, want 401", status)
	}
}

func TestApplicationCredentialPolicy(t *testing.T) {
	e := newTestEnv(t)
	adminID := acUserID(e, e.AdminToken)
	demoID := acUserID(e, e.DemoToken)
	adminBase := "/v3/users/" + adminID + "/application_credentials"
	ac := obj(e.Must(http.StatusCreated, "POST", adminBase, e.AdminToken, appCredBody(map[string]any{"name": "ops"})),
		"application_credential")
	id := ac["id"].(string)
	if len(list(ac, "roles")) != 4 { // admin, manager, member, reader
		t.Fatalf("admin's credential roles: %v", ac["roles"])
	}
	// Only the owner (or, as upstream, an admin) sees or deletes its credentials.
	e.Must(http.StatusForbidden, "GET", adminBase, e.DemoToken, nil)
	e.Must(http.StatusForbidden, "GET", adminBase+"/"+id, e.DemoToken, nil)
	e.Must(http.StatusForbidden, "DELETE", adminBase+"/"+id, e.DemoToken, nil)
	e.Must(http.StatusOK, "GET", "/v3/users/"+demoID+"/application_credentials", e.AdminToken, nil)
	// A credential is found only under its own user.
	e.Must(http.StatusNotFound, "GET", "/v3/users/"+demoID+"/application_credentials/"+id, e.DemoToken, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v3/users/"+demoID+"/application_credentials/"+id, e.DemoToken, nil)
	e.Must(http.StatusOK, "GET", adminBase+"/"+id, e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", adminBase+"/"+id, e.AdminToken, nil)
}

// acRules strips the rules of an answer down to what was asked: service, path, method.
// extNames collects the "name" of each object.
func extNames(objs []map[string]any) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		name, _ := o["name"].(string)
		out = append(out, name)
	}
	return out
}

func acRules(rules []map[string]any) [][3]any {
	out := make([][3]any, 0, len(rules))
	for _, r := range rules {
		out = append(out, [3]any{r["service"], r["path"], r["method"]})
	}
	return out
}

func TestApplicationCredentialAccessRules(t *testing.T) {
	e := newTestEnv(t)
	demoID := acUserID(e, e.DemoToken)
	base := "/v3/users/" + demoID + "/application_credentials"
	rulesBase := "/v3/users/" + demoID + "/access_rules"
	get := map[string]any{"service": "monitoring", "path": "/v2.0/metrics", "method": "GET"}
	put := map[string]any{"service": "monitoring", "path": "/v2.0/metrics", "method": "PUT"}
	servers := map[string]any{"service": "compute", "path": "/v2.1/servers/*", "method": "DELETE"}

	// As gophercloud's TestApplicationCredentialsAccessRules: the rules come back in
	// order, with ids, on create and on get.
	first := obj(e.Must(http.StatusCreated, "POST", base, e.DemoToken, appCredBody(map[string]any{
		"name": "first", "access_rules": []any{get, put}})), "application_credential")
	firstRules := list(first, "access_rules")
	if want := [][3]any{{"monitoring", "/v2.0/metrics", "GET"}, {"monitoring", "/v2.0/metrics", "PUT"}}; !slices.Equal(acRules(firstRules), want) {
		t.Fatalf("created rules: %v", firstRules)
	}
	getID, putID := firstRules[0]["id"].(string), firstRules[1]["id"].(string)
	if getID == "" || putID == "" || getID == putID {
		t.Fatalf("rule ids: %v", firstRules)
	}
	shown := obj(e.Must(http.StatusOK, "GET", base+"/"+first["id"].(string), e.DemoToken, nil), "application_credential")
	if got := extIDs(list(shown, "access_rules")); !slices.Equal(got, []string{getID, putID}) {
		t.Fatalf("shown rules: %v", shown["access_rules"])
	}

	// Identical rules are shared (by attributes, or by id); new ones are added.
	second := obj(e.Must(http.StatusCreated, "POST", base, e.DemoToken, appCredBody(map[string]any{
		"name": "second", "access_rules": []any{servers, map[string]any{"id": putID}, get, get}})), "application_credential")
	secondRules := list(second, "access_rules")
	if len(secondRules) != 3 || secondRules[1]["id"] != putID || secondRules[2]["id"] != getID ||
		secondRules[0]["id"] == getID || secondRules[0]["method"] != "DELETE" {
		t.Fatalf("second credential's rules: %v", secondRules)
	}
	serversID := secondRules[0]["id"].(string)

	// The user's list: each rule once, oldest first, with links; get each.
	all := list(e.Must(http.StatusOK, "GET", rulesBase, e.DemoToken, nil), "access_rules")
	if got := extIDs(all); !slices.Equal(got, []string{getID, putID, serversID}) {
		t.Fatalf("listed rules: %v", all)
	}
	for _, r := range all {
		one := obj(e.Must(http.StatusOK, "GET", rulesBase+"/"+r["id"].(string), e.DemoToken, nil), "access_rule")
		if one["id"] != r["id"] || one["path"] != r["path"] || one["method"] != r["method"] || one["service"] != r["service"] ||
			obj(one, "links")["self"] != e.URL+rulesBase+"/"+r["id"].(string) {
			t.Fatalf("get rule: %v, listed %v", one, r)
		}
	}
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"?service=monitoring", []string{getID, putID}},
		{"?method=DELETE", []string{serversID}},
		{"?path=/v2.0/metrics&method=PUT", []string{putID}},
		{"?service=nope", []string{}},
	} {
		if got := extIDs(list(e.Must(http.StatusOK, "GET", rulesBase+tt.query, e.DemoToken, nil), "access_rules")); !slices.Equal(got, tt.want) {
			t.Errorf("list %s: %v, want %v", tt.query, got, tt.want)
		}
	}

	// A token of a credential with rules names them (restricted, as upstream).
	secret, _ := first["secret"].(string)
	status, tok, _ := acLogin(e, map[string]any{"id": first["id"], "secret": secret})
	if status != http.StatusCreated {
		t.Fatalf("login with the first credential: %d", status)
	}
	tokAC := obj(tok, "application_credential")
	if tokAC["id"] != first["id"] || tokAC["restricted"] != true {
		t.Fatalf("token application_credential: %v", tokAC)
	}
	j, err := e.Svc.appCredTokenJSON(t.Context(), mustAppCred(t, e, first["id"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := j["access_rules"].([]map[string]any); !slices.Equal(extIDs(got), []string{getID, putID}) {
		t.Fatalf("token access_rules: %v", j)
	}

	adminID := acUserID(e, e.AdminToken)
	extRunStatusCases(t, e, []extStatusCase{
		{"delete a rule in use", "DELETE", rulesBase + "/" + getID, e.DemoToken, nil, 403},
		{"get unknown rule", "GET", rulesBase + "/nope", e.DemoToken, nil, 404},
		{"delete unknown rule", "DELETE", rulesBase + "/nope", e.DemoToken, nil, 404},
		{"another user's rule by its path", "GET", "/v3/users/" + adminID + "/access_rules/" + getID, e.AdminToken, nil, 404},
		{"admin lists demo's", "GET", rulesBase, e.AdminToken, nil, 403},
		{"admin gets demo's", "GET", rulesBase + "/" + getID, e.AdminToken, nil, 403},
		{"admin deletes demo's", "DELETE", rulesBase + "/" + serversID, e.AdminToken, nil, 403},
		{"unauthenticated", "GET", rulesBase, "", nil, 401},
	})
	// Another user cannot use demo's rule by its id.
	e.Must(http.StatusNotFound, "POST", "/v3/users/"+adminID+"/application_credentials", e.AdminToken, appCredBody(map[string]any{
		"name": "steal", "access_rules": []any{map[string]any{"id": getID}}}))

	// Rules outlive their credentials and are deletable once unused.
	e.Must(http.StatusNoContent, "DELETE", base+"/"+first["id"].(string), e.DemoToken, nil)
	if got := extIDs(list(e.Must(http.StatusOK, "GET", rulesBase, e.DemoToken, nil), "access_rules")); len(got) != 3 {
		t.Fatalf("rules after deleting a credential: %v", got)
	}
	e.Must(http.StatusForbidden, "DELETE", rulesBase+"/"+putID, e.DemoToken, nil) // still used by second
	e.Must(http.StatusNoContent, "DELETE", base+"/"+second["id"].(string), e.DemoToken, nil)
	for _, id := range []string{getID, putID, serversID} {
		e.Must(http.StatusNoContent, "DELETE", rulesBase+"/"+id, e.DemoToken, nil)
	}
	if got := list(e.Must(http.StatusOK, "GET", rulesBase, e.DemoToken, nil), "access_rules"); len(got) != 0 {
		t.Fatalf("rules left: %v", got)
	}
	// A system reader may list anyone's.
	e.Must(http.StatusOK, "GET", rulesBase, extSystemToken(e), nil)
}

func mustAppCred(t *testing.T, e *testEnv, id string) *appCredRow {
	t.Helper()
	a, err := e.Svc.getApplicationCredential(t.Context(), id)
	if err != nil || a == nil {
		t.Fatalf("load application credential %s: %v", id, err)
	}
	return a
}

// TestApplicationCredentialRoleGrantedAfterToken: as upstream, the roles an
// application credential may carry are the user's current roles on the project
// (Keystone rebuilds a token's roles when it validates it), not those the
// creating token carried when it was issued.
func TestApplicationCredentialRoleGrantedAfterToken(t *testing.T) {
	e := newTestEnv(t)
	demoID := acUserID(e, e.DemoToken)
	demoProject := obj(acTokenBody(e, e.DemoToken), "project")["id"].(string)
	base := "/v3/users/" + demoID + "/application_credentials"
	role := obj(e.Must(http.StatusCreated, "POST", "/v3/roles", e.AdminToken,
		map[string]any{"role": map[string]any{"name": "auditor"}}), "role")["id"].(string)

	e.Must(http.StatusBadRequest, "POST", base, e.DemoToken, appCredBody(map[string]any{
		"name": "early", "roles": []any{map[string]any{"name": "auditor"}}}))
	grant := "/v3/projects/" + demoProject + "/users/" + demoID + "/roles/" + role
	e.Must(http.StatusNoContent, "PUT", grant, e.AdminToken, nil)
	ac := obj(e.Must(http.StatusCreated, "POST", base, e.DemoToken, appCredBody(map[string]any{
		"name": "late", "roles": []any{map[string]any{"name": "auditor"}}})), "application_credential")
	if roles := list(ac, "roles"); len(roles) != 1 || roles[0]["id"] != role {
		t.Fatalf("roles of the credential: %v", ac["roles"])
	}
	// None named: every role the user holds now, the new one included.
	all := obj(e.Must(http.StatusCreated, "POST", base, e.DemoToken, appCredBody(map[string]any{"name": "all"})),
		"application_credential")
	if !slices.ContainsFunc(list(all, "roles"), func(r map[string]any) bool { return r["id"] == role }) {
		t.Fatalf("roles of a credential naming none: %v", all["roles"])
	}
}
