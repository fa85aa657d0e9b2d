package identity

import (
	"net/http"
	"testing"
)

// TestIdentityEnforcesAccessRules: identity is one of the services access rules
// name ("identity"), as keystone's own auth middleware is keystonemiddleware's.
// A token of an application credential with rules calls only what they allow;
// its token validates itself whatever they say.
func TestIdentityEnforcesAccessRules(t *testing.T) {
	e := newTestEnv(t)
	demoID, demoProject := acUserID(e, e.DemoToken), extProjectID(e, e.DemoToken)
	ac := obj(e.Must(http.StatusCreated, "POST", "/v3/users/"+demoID+"/application_credentials", e.DemoToken,
		appCredBody(map[string]any{"name": "project-reader", "access_rules": []any{
			map[string]any{"service": "identity", "method": "GET", "path": "/v3/projects/{project_id}"},
			map[string]any{"service": "image", "method": "GET", "path": "/v2/images"},
		}})), "application_credential")
	status, tok, token := acLogin(e, map[string]any{"id": ac["id"], "secret": ac["secret"]})
	if status != http.StatusCreated {
		t.Fatalf("login: %d", status)
	}
	if rules := list(obj(tok, "application_credential"), "access_rules"); len(rules) != 2 {
		t.Fatalf("token body access rules: %v", tok["application_credential"])
	}
	e.Must(http.StatusOK, "GET", "/v3/projects/"+demoProject, token, nil)
	status, out, hdr := e.DoWithHeaders("GET", "/v3/auth/tokens", token, nil, map[string]string{"X-Subject-Token": token})
	if status != http.StatusOK {
		t.Fatalf("the token validating itself: %d %v", status, out)
	}
	extRunStatusCases(t, e, []extStatusCase{
		{"a path no rule names", "GET", "/v3/auth/catalog", token, nil, 401},
		{"another method", "PATCH", "/v3/projects/" + demoProject, token, map[string]any{"project": map[string]any{"description": "x"}}, 401},
		{"the collection", "GET", "/v3/projects", token, nil, 401},
		{"a credential", "POST", "/v3/credentials", token, credBody(map[string]any{"type": "totp", "blob": "x"}), 401},
	})
	if hdr.Get("WWW-Authenticate") != "" {
		t.Fatal("a 200 carries WWW-Authenticate")
	}
	// A token of the same user without rules is unaffected.
	e.Must(http.StatusOK, "GET", "/v3/auth/catalog", e.DemoToken, nil)
}
