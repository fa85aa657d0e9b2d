package identity

import (
	"net/http"
	"strings"
	"testing"
)

// TestTokenIssueSchema: keystone/auth/schema.py's token_issue on the body's
// auth — the legacy forms keystoneauth still sends accepted, the wrong types
// refused with 400.
func TestTokenIssueSchema(t *testing.T) {
	e := newTestEnv(t)
	password := func(scope any) map[string]any {
		a := map[string]any{"identity": map[string]any{"methods": []any{"password"}, "password": map[string]any{
			"user": map[string]any{"name": "admin", "password": testAdminPassword, "domain": map[string]any{"name": "Default"}}}}}
		if scope != nil {
			a["scope"] = scope
		}
		return map[string]any{"auth": a}
	}
	runSchemaCases(t, e, []schemaCase{
		{"unscoped", "POST", "/v3/auth/tokens", password(nil), 201, ""},
		{"explicitly unscoped, a string", "POST", "/v3/auth/tokens", password("unscoped"), 201, ""},
		{"project by name in a domain", "POST", "/v3/auth/tokens", password(map[string]any{
			"project": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}}}), 201, ""},
		{"system, all a boolean", "POST", "/v3/auth/tokens", password(map[string]any{"system": map[string]any{"all": true}}), 201, ""},
		{"methods not a list", "POST", "/v3/auth/tokens", map[string]any{"auth": map[string]any{
			"identity": map[string]any{"methods": "password"}}}, 400,
			"Invalid input for field 'identity/methods': 'password' is not of type 'array'"},
		{"no methods", "POST", "/v3/auth/tokens", map[string]any{"auth": map[string]any{"identity": map[string]any{}}}, 400,
			"Invalid input for field 'identity': 'methods' is a required property"},
		{"no identity", "POST", "/v3/auth/tokens", map[string]any{"auth": map[string]any{}}, 400,
			"'identity' is a required property"},
		{"scope a number", "POST", "/v3/auth/tokens", password(3), 400,
			"Invalid input for field 'scope': 3 is not of type 'object', 'string'"},
		{"system all a string", "POST", "/v3/auth/tokens", password(map[string]any{"system": map[string]any{"all": "yes"}}), 400, ""},
		{"a password a number", "POST", "/v3/auth/tokens", map[string]any{"auth": map[string]any{"identity": map[string]any{
			"methods": []any{"password"}, "password": map[string]any{"user": map[string]any{"id": "x", "password": 1}}}}}, 400,
			"Invalid input for field 'identity/password/user/password': 1 is not of type 'string'"},
		{"a token without its id", "POST", "/v3/auth/tokens", map[string]any{"auth": map[string]any{"identity": map[string]any{
			"methods": []any{"token"}, "token": map[string]any{}}}}, 400,
			"Invalid input for field 'identity/token': 'id' is a required property"},
	})
}

// TestCredentialAndPolicySchemas: keystone/credential/schema.py and
// keystone/policy/schema.py's request bodies, keystone/oauth1/schema.py's
// consumers and authorization, identity/schema.py's password change and
// resource/schema.py's tags.
func TestCredentialAndPolicySchemas(t *testing.T) {
	e := newTestEnv(t)
	adminID := acUserID(e, e.AdminToken)
	project := obj(acTokenBody(e, e.AdminToken), "project")["id"].(string)
	cred := func(m map[string]any) map[string]any { return map[string]any{"credential": m} }
	credID := obj(e.Must(http.StatusCreated, "POST", "/v3/credentials", e.AdminToken,
		cred(map[string]any{"type": "cert", "blob": "x", "user_id": adminID})), "credential")["id"].(string)
	policy := func(m map[string]any) map[string]any { return map[string]any{"policy": m} }
	policyID := obj(e.Must(http.StatusCreated, "POST", "/v3/policies", e.AdminToken,
		policy(map[string]any{"type": "application/json", "blob": "{}"})), "policy")["id"].(string)
	consumer := func(m map[string]any) map[string]any { return map[string]any{"consumer": m} }
	consumerID := obj(e.Must(http.StatusCreated, "POST", "/v3/OS-OAUTH1/consumers", e.AdminToken, consumer(map[string]any{})), "consumer")["id"].(string)
	runSchemaCases(t, e, []schemaCase{
		// Credentials: blob, type and user_id required; other attributes kept.
		{"credential with extras", "POST", "/v3/credentials", cred(map[string]any{"type": "totp", "blob": "x", "user_id": adminID, "label": "phone"}), 201, ""},
		{"credential project null", "POST", "/v3/credentials", cred(map[string]any{"type": "cert", "blob": "y", "user_id": adminID, "project_id": nil}), 201, ""},
		{"credential without user_id", "POST", "/v3/credentials", cred(map[string]any{"type": "totp", "blob": "x"}), 400,
			"Invalid input for field/attribute credential. Value: {'blob': 'x', 'type': 'totp'}. 'user_id' is a required property"},
		{"credential blob an object", "POST", "/v3/credentials", cred(map[string]any{"type": "totp", "blob": map[string]any{}, "user_id": adminID}), 400,
			"Invalid input for field/attribute blob. Value: {}. {} is not of type 'string'"},
		{"no credential", "POST", "/v3/credentials", map[string]any{}, 400, "'credential' is a required property"},
		{"credential update empty", "PATCH", "/v3/credentials/" + credID, cred(map[string]any{}), 400,
			"Invalid input for field/attribute credential. Value: {}. {} should be non-empty"},
		{"credential update type a number", "PATCH", "/v3/credentials/" + credID, cred(map[string]any{"type": 1}), 400, ""},
		{"credential update blob", "PATCH", "/v3/credentials/" + credID, cred(map[string]any{"blob": "z"}), 200, ""},

		// Policies: blob and type required, type at most 255 characters.
		{"policy with extras", "POST", "/v3/policies", policy(map[string]any{"type": "t", "blob": "b", "endpoint_id": "e"}), 201, ""},
		{"policy without blob", "POST", "/v3/policies", policy(map[string]any{"type": "t"}), 400,
			"'blob' is a required property"},
		{"policy type of 256", "POST", "/v3/policies", policy(map[string]any{"type": strings.Repeat("t", 256), "blob": "b"}), 400, ""},
		{"policy update empty", "PATCH", "/v3/policies/" + policyID, policy(map[string]any{}), 400, ""},
		{"policy update blob", "PATCH", "/v3/policies/" + policyID, policy(map[string]any{"blob": "c"}), 200, ""},

		// OAuth1 consumers: a nullable description; the secret is not updatable.
		{"consumer description null", "POST", "/v3/OS-OAUTH1/consumers", consumer(map[string]any{"description": nil}), 201, ""},
		{"consumer description a number", "POST", "/v3/OS-OAUTH1/consumers", consumer(map[string]any{"description": 1}), 400, ""},
		{"consumer secret updated", "PATCH", "/v3/OS-OAUTH1/consumers/" + consumerID, consumer(map[string]any{"secret": "s"}), 400, ""},
		{"consumer update empty", "PATCH", "/v3/OS-OAUTH1/consumers/" + consumerID, consumer(map[string]any{}), 400, ""},
		{"consumer update description", "PATCH", "/v3/OS-OAUTH1/consumers/" + consumerID, consumer(map[string]any{"description": "d"}), 200, ""},
		{"authorize roles by id and name", "PUT", "/v3/OS-OAUTH1/authorize/x", map[string]any{"roles": []any{map[string]any{"id": "a", "name": "b"}}}, 400,
			"Invalid input for field '0': {'id': 'a', 'name': 'b'} has too many properties"},

		// Project tags: at most 80, no commas or slashes.
		{"tags replaced", "PUT", "/v3/projects/" + project + "/tags", map[string]any{"tags": []any{"a", "b"}}, 200, ""},
		{"a tag with a slash", "PUT", "/v3/projects/" + project + "/tags", map[string]any{"tags": []any{"a/b"}}, 400, ""},
		{"81 tags", "PUT", "/v3/projects/" + project + "/tags", map[string]any{"tags": manyTags(81)}, 400, ""},
		{"tags and more", "PUT", "/v3/projects/" + project + "/tags", map[string]any{"tags": []any{}, "x": 1}, 400,
			"Additional properties are not allowed ('x' was unexpected)"},

		// Password change: both passwords, nothing else.
		{"password change without the original", "POST", "/v3/users/" + adminID + "/password",
			map[string]any{"user": map[string]any{"password": "new"}}, 400,
			"'original_password' is a required property"},
		{"password change with more", "POST", "/v3/users/" + adminID + "/password",
			map[string]any{"user": map[string]any{"password": "new", "original_password": "old", "x": 1}}, 400, ""},
	})
}

// TestLimitSchemas: keystone/limit/schema.py's request bodies.
func TestLimitSchemas(t *testing.T) {
	e := newTestEnv(t)
	serviceID, _ := extFirstService(e)
	project := obj(acTokenBody(e, e.AdminToken), "project")["id"].(string)
	reg := func(m map[string]any) map[string]any { return map[string]any{"registered_limits": []any{m}} }
	lim := func(m map[string]any) map[string]any { return map[string]any{"limits": []any{m}} }
	e.Must(http.StatusCreated, "POST", "/v3/registered_limits", e.AdminToken,
		reg(map[string]any{"service_id": serviceID, "resource_name": "cores", "default_limit": 10}))
	// one without project limits, which may change
	freeID := list(e.Must(http.StatusCreated, "POST", "/v3/registered_limits", e.AdminToken,
		reg(map[string]any{"service_id": serviceID, "resource_name": "instances", "default_limit": 10})), "registered_limits")[0]["id"].(string)
	limID := list(e.Must(http.StatusCreated, "POST", "/v3/limits", e.AdminToken,
		lim(map[string]any{"service_id": serviceID, "resource_name": "cores", "resource_limit": 5, "project_id": project})), "limits")[0]["id"].(string)
	runSchemaCases(t, e, []schemaCase{
		{"registered limit -1 (unlimited)", "POST", "/v3/registered_limits", reg(map[string]any{"service_id": serviceID, "resource_name": "ram", "default_limit": -1, "description": nil}), 201, ""},
		{"registered limit -2", "POST", "/v3/registered_limits", reg(map[string]any{"service_id": serviceID, "resource_name": "disk", "default_limit": -2}), 400,
			"Invalid input for field/attribute default_limit. Value: -2. -2 is less than the minimum of -1"},
		{"registered limit over INT", "POST", "/v3/registered_limits", reg(map[string]any{"service_id": serviceID, "resource_name": "disk", "default_limit": 2147483648}), 400, ""},
		{"registered limit without a name", "POST", "/v3/registered_limits", reg(map[string]any{"service_id": serviceID, "default_limit": 1}), 400,
			"Invalid input for field/attribute 0. Value: {'default_limit': 1, 'service_id': '" + serviceID + "'}. 'resource_name' is a required property"},
		{"no registered limits", "POST", "/v3/registered_limits", map[string]any{"registered_limits": []any{}}, 400,
			"Invalid input for field/attribute registered_limits. Value: []. [] should be non-empty"},
		{"registered limit with more", "POST", "/v3/registered_limits", reg(map[string]any{"service_id": serviceID, "resource_name": "x", "default_limit": 1, "y": 1}), 400, ""},
		{"registered limit update", "PATCH", "/v3/registered_limits/" + freeID, map[string]any{"registered_limit": map[string]any{"default_limit": 20}}, 200, ""},
		{"registered limit update a string", "PATCH", "/v3/registered_limits/" + freeID, map[string]any{"registered_limit": map[string]any{"default_limit": "20"}}, 400, ""},

		{"limit for a project and a domain", "POST", "/v3/limits", lim(map[string]any{"service_id": serviceID, "resource_name": "cores",
			"resource_limit": 1, "project_id": project, "domain_id": "default"}), 400, ""},
		{"limit for neither", "POST", "/v3/limits", lim(map[string]any{"service_id": serviceID, "resource_name": "cores", "resource_limit": 1}), 400, ""},
		{"limit update", "PATCH", "/v3/limits/" + limID, map[string]any{"limit": map[string]any{"resource_limit": 6, "description": "d"}}, 200, ""},
		{"limit update its project", "PATCH", "/v3/limits/" + limID, map[string]any{"limit": map[string]any{"project_id": project}}, 400,
			"Invalid input for field/attribute limit. Value: {'project_id': '" + project + "'}. Additional properties are not allowed ('project_id' was unexpected)"},
	})
}

// TestImpliedRolesShowNoDescription: implied-role answers hold a role's id,
// name and link only (keystone/api/_shared/implied_roles.py), whatever the
// role's description; the response check fails the test otherwise.
func TestImpliedRolesShowNoDescription(t *testing.T) {
	e := newTestEnv(t)
	role := func(name string) string {
		return obj(e.Must(http.StatusCreated, "POST", "/v3/roles", e.AdminToken,
			map[string]any{"role": map[string]any{"name": name, "description": "described"}}), "role")["id"].(string)
	}
	prior, implied := role("prior-described"), role("implied-described")
	path := "/v3/roles/" + prior + "/implies/" + implied
	created := obj(e.Must(http.StatusCreated, "PUT", path, e.AdminToken, nil), "role_inference")
	if _, ok := obj(created, "implies")["description"]; ok {
		t.Fatalf("implied role with its description: %v", created)
	}
	e.Must(http.StatusOK, "GET", path, e.AdminToken, nil)
	e.Must(http.StatusNoContent, "HEAD", path, e.AdminToken, nil)
	e.Must(http.StatusOK, "GET", "/v3/roles/"+prior+"/implies", e.AdminToken, nil)
	e.Must(http.StatusOK, "GET", "/v3/role_inferences", e.AdminToken, nil)
}

// TestLazyValidationAfterPolicy: the bodies Keystone checks with lazy_validate
// are checked after the policy: a member creating a policy blob or a consumer
// with a bad body is refused 403, as upstream, not 400.
func TestLazyValidationAfterPolicy(t *testing.T) {
	e := newTestEnv(t)
	for _, path := range []string{"/v3/policies", "/v3/OS-OAUTH1/consumers"} {
		body := map[string]any{"policy": map[string]any{"type": 1}, "consumer": map[string]any{"description": 1}}
		if status, out, _ := e.Do("POST", path, e.DemoToken, body); status != http.StatusForbidden {
			t.Errorf("POST %s as a member with a bad body: %d %v, want 403", path, status, out)
		}
		if status, out, _ := e.Do("POST", path, e.AdminToken, body); status != http.StatusBadRequest {
			t.Errorf("POST %s as admin with a bad body: %d %v, want 400", path, status, out)
		}
	}
}
