package identity

import (
	"net/http"
	"strings"
	"testing"
)

// schemaCase is one request body against a route with a request schema: the
// status it must answer and, for a refusal, Keystone's exact message.
type schemaCase struct {
	name    string
	method  string
	path    string
	body    any
	want    int
	message string
}

func runSchemaCases(t *testing.T, e *testEnv, cases []schemaCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := e.Do(tt.method, tt.path, e.AdminToken, tt.body)
			if status != tt.want {
				t.Fatalf("%s %s: status %d, want %d: %v", tt.method, tt.path, status, tt.want, out)
			}
			if msg := obj(out, "error")["message"]; tt.message != "" && msg != tt.message {
				t.Fatalf("message %q, want %q", msg, tt.message)
			}
		})
	}
}

// TestDomainAndProjectSchemas: keystone/resource/schema.py's request bodies —
// upstream's permissive forms accepted, its invalid ones refused with its 400.
func TestDomainAndProjectSchemas(t *testing.T) {
	e := newTestEnv(t)
	n := 0
	name := func(length int) string {
		n++
		s := strings.Repeat("x", length)
		return s[:length-3] + strings.Repeat(string(rune('a'+n%26)), 3)
	}
	dom := func(m map[string]any) map[string]any { return map[string]any{"domain": m} }
	proj := func(m map[string]any) map[string]any { return map[string]any{"project": m} }
	project := obj(e.Must(http.StatusCreated, "POST", "/v3/projects", e.AdminToken, proj(map[string]any{"name": "schema-target"})), "project")["id"].(string)
	domain := obj(e.Must(http.StatusCreated, "POST", "/v3/domains", e.AdminToken, dom(map[string]any{"name": "schema-target"})), "domain")["id"].(string)
	runSchemaCases(t, e, []schemaCase{
		// Names: 1 to 64 characters, not only blanks.
		{"domain name of 64", "POST", "/v3/domains", dom(map[string]any{"name": name(64)}), 201, ""},
		{"domain name of 65", "POST", "/v3/domains", dom(map[string]any{"name": strings.Repeat("d", 65)}), 400,
			"Invalid input for field/attribute name. Value: " + strings.Repeat("d", 65) + ". '" + strings.Repeat("d", 65) + "' is too long"},
		{"project name of 64", "POST", "/v3/projects", proj(map[string]any{"name": name(64)}), 201, ""},
		{"project name of 65", "POST", "/v3/projects", proj(map[string]any{"name": strings.Repeat("p", 65)}), 400,
			"Invalid input for field/attribute name. Value: " + strings.Repeat("p", 65) + ". '" + strings.Repeat("p", 65) + "' is too long"},
		{"empty name", "POST", "/v3/projects", proj(map[string]any{"name": ""}), 400,
			"Invalid input for field/attribute name. Value: . '' should be non-empty"},
		{"name a number", "POST", "/v3/domains", dom(map[string]any{"name": 3}), 400,
			"Invalid input for field/attribute name. Value: 3. 3 is not of type 'string'"},
		{"domain without a name", "POST", "/v3/domains", dom(map[string]any{}), 400, "Invalid input for field/attribute domain. Value: {}. 'name' is a required property"},
		{"no domain", "POST", "/v3/domains", map[string]any{"name": "x"}, 400, "'domain' is a required property"},
		{"project update renamed over 64", "PATCH", "/v3/projects/" + project, proj(map[string]any{"name": strings.Repeat("q", 65)}), 400, ""},
		{"domain update renamed over 64", "PATCH", "/v3/domains/" + domain, dom(map[string]any{"name": strings.Repeat("q", 65)}), 400, ""},
		{"domain update of nothing", "PATCH", "/v3/domains/" + domain, dom(map[string]any{}), 400, "Invalid input for field/attribute domain. Value: {}. {} should be non-empty"},

		// Booleans: JSON's, and the strings oslo reads.
		{"enabled \"false\"", "POST", "/v3/projects", proj(map[string]any{"name": name(10), "enabled": "false"}), 201, ""},
		{"enabled \"yes\"", "POST", "/v3/domains", dom(map[string]any{"name": name(10), "enabled": "yes"}), 201, ""},
		{"enabled \"0\"", "PATCH", "/v3/projects/" + project, proj(map[string]any{"enabled": "0"}), 200, ""},
		{"enabled \"On\"", "POST", "/v3/projects", proj(map[string]any{"name": name(10), "enabled": "On"}), 400,
			"Invalid input for field/attribute enabled. Value: On. 'On' is not one of [True, 'True', 'TRUE', 'true', False, 'False', 'FALSE', 'false', '', '1', '0', 'y', 'Y', 'n', 'N', 'on', 'ON', 'off', 'OFF', 'yes', 'no']"},
		{"enabled a number", "POST", "/v3/domains", dom(map[string]any{"name": name(10), "enabled": 1}), 400, ""},

		// Descriptions: a domain's up to 255; a project's any length; both nullable.
		{"domain description of 256", "POST", "/v3/domains", dom(map[string]any{"name": name(10), "description": strings.Repeat("d", 256)}), 400, ""},
		{"project description of 1000", "POST", "/v3/projects", proj(map[string]any{"name": name(10), "description": strings.Repeat("d", 1000)}), 201, ""},
		{"null description", "POST", "/v3/projects", proj(map[string]any{"name": name(10), "description": nil}), 201, ""},

		// Ids, tags and options.
		{"domain_id with a slash", "POST", "/v3/projects", proj(map[string]any{"name": name(10), "domain_id": "a/b"}), 400,
			"Invalid input for field/attribute domain_id. Value: a/b. 'a/b' does not match '^[a-zA-Z0-9-]+$'"},
		{"81 tags", "POST", "/v3/projects", proj(map[string]any{"name": name(10), "tags": manyTags(81)}), 400, ""},
		{"duplicate tags", "POST", "/v3/projects", proj(map[string]any{"name": name(10), "tags": []string{"a", "a"}}), 400, ""},
		{"unknown option", "POST", "/v3/projects", proj(map[string]any{"name": name(10), "options": map[string]any{"color": "red"}}), 400, ""},
		{"immutable option", "POST", "/v3/projects", proj(map[string]any{"name": name(10), "options": map[string]any{"immutable": false}}), 201, ""},
		{"extra attribute kept", "POST", "/v3/projects", proj(map[string]any{"name": name(10), "color": "red"}), 201, ""},
	})
	// Validation comes before policy, as upstream's decorator: a member's
	// invalid body is a 400, not a 403.
	if status, _, _ := e.Do("POST", "/v3/domains", e.DemoToken, dom(map[string]any{"name": strings.Repeat("d", 65)})); status != http.StatusBadRequest {
		t.Fatalf("member's invalid domain: %d, want 400", status)
	}
	// Nothing over-long was stored.
	for _, path := range []string{"/v3/domains?name=" + strings.Repeat("d", 65), "/v3/projects?name=" + strings.Repeat("p", 65)} {
		if got := e.Must(http.StatusOK, "GET", path, e.AdminToken, nil); len(list(got, "domains"))+len(list(got, "projects")) != 0 {
			t.Fatalf("%s: %v", path, got)
		}
	}
	// "false" is false.
	got := e.Must(http.StatusOK, "GET", "/v3/projects/"+project, e.AdminToken, nil)
	if obj(got, "project")["enabled"] != false {
		t.Fatalf("enabled \"0\": %v", got)
	}
}

func manyTags(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "t" + strings.Repeat("x", i)
	}
	return out
}

// TestCatalogSchemas: keystone/catalog/schema.py's request bodies.
func TestCatalogSchemas(t *testing.T) {
	e := newTestEnv(t)
	serviceID, endpointID := extFirstService(e)
	region := func(m map[string]any) map[string]any { return map[string]any{"region": m} }
	service := func(m map[string]any) map[string]any { return map[string]any{"service": m} }
	endpoint := func(m map[string]any) map[string]any { return map[string]any{"endpoint": m} }
	runSchemaCases(t, e, []schemaCase{
		{"region with an empty id", "POST", "/v3/regions", region(map[string]any{"id": ""}), 201, ""},
		{"region with extra attributes", "POST", "/v3/regions", region(map[string]any{"color": "red"}), 201, ""},
		{"region description of 256", "POST", "/v3/regions", region(map[string]any{"description": strings.Repeat("r", 256)}), 400, ""},
		{"region id of 256", "PUT", "/v3/regions/" + strings.Repeat("r", 10), region(map[string]any{"id": strings.Repeat("r", 256)}), 400, ""},
		{"region update of nothing", "PATCH", "/v3/regions/RegionOne", region(map[string]any{}), 400,
			"Invalid input for field/attribute region. Value: {}. {} should be non-empty"},
		{"service without a type", "POST", "/v3/services", service(map[string]any{"name": "x"}), 400,
			"Invalid input for field/attribute service. Value: {'name': 'x'}. 'type' is a required property"},
		{"service enabled a string", "POST", "/v3/services", service(map[string]any{"type": "x", "enabled": "true"}), 400,
			"Invalid input for field/attribute enabled. Value: true. 'true' is not of type 'boolean'"},
		{"service name of 256", "PATCH", "/v3/services/" + serviceID, service(map[string]any{"name": strings.Repeat("s", 256)}), 400, ""},
		{"endpoint url of 226", "POST", "/v3/endpoints", endpoint(map[string]any{"interface": "public", "service_id": serviceID,
			"url": "http://" + strings.Repeat("u", 219)}), 400, ""},
		{"endpoint url without a scheme", "PATCH", "/v3/endpoints/" + endpointID, endpoint(map[string]any{"url": "nowhere"}), 400,
			"Invalid input for field/attribute url. Value: nowhere. 'nowhere' does not match '^[a-zA-Z0-9+.-]+:.+'"},
		{"endpoint interface unknown", "POST", "/v3/endpoints", endpoint(map[string]any{"interface": "private", "service_id": serviceID,
			"url": "http://x"}), 400, "Invalid input for field/attribute interface. Value: private. 'private' is not one of ['admin', 'internal', 'public']"},
		{"endpoint without a url", "POST", "/v3/endpoints", endpoint(map[string]any{"interface": "public", "service_id": serviceID}), 400, ""},
	})
}

// TestUserGroupRoleSchemas: keystone/identity/schema.py's and
// keystone/assignment/schema.py's request bodies.
func TestUserGroupRoleSchemas(t *testing.T) {
	e := newTestEnv(t)
	user := func(m map[string]any) map[string]any { return map[string]any{"user": m} }
	group := func(m map[string]any) map[string]any { return map[string]any{"group": m} }
	role := func(m map[string]any) map[string]any { return map[string]any{"role": m} }
	demo := extUserID(e, e.DemoToken)
	runSchemaCases(t, e, []schemaCase{
		{"user enabled \"yes\"", "POST", "/v3/users", user(map[string]any{"name": "u-yes", "enabled": "yes"}), 201, ""},
		{"user name of 255", "POST", "/v3/users", user(map[string]any{"name": strings.Repeat("u", 255)}), 201, ""},
		{"user name of 256", "POST", "/v3/users", user(map[string]any{"name": strings.Repeat("u", 256)}), 400, ""},
		{"user null domain_id", "POST", "/v3/users", user(map[string]any{"name": "u-null", "domain_id": nil}), 400,
			"Invalid input for field/attribute domain_id. Value: None. None is not of type 'string'"},
		{"user unknown option", "POST", "/v3/users", user(map[string]any{"name": "u-opt", "options": map[string]any{"color": true}}), 400,
			"Invalid input for field/attribute options. Value: {'color': True}. Additional properties are not allowed ('color' was unexpected)"},
		{"user option a string", "PATCH", "/v3/users/" + demo, user(map[string]any{"options": map[string]any{"lock_password": "yes"}}), 400, ""},
		{"user null password", "PATCH", "/v3/users/" + demo, user(map[string]any{"password": nil, "description": "d"}), 200, ""},
		{"user update of nothing", "PATCH", "/v3/users/" + demo, user(map[string]any{}), 400, ""},
		{"group name of 256", "POST", "/v3/groups", group(map[string]any{"name": strings.Repeat("g", 256)}), 400, ""},
		{"group null description", "POST", "/v3/groups", group(map[string]any{"name": "g-null", "description": nil}), 201, ""},
		{"group without a name", "POST", "/v3/groups", group(map[string]any{"description": "x"}), 400, ""},
		{"role name blank", "POST", "/v3/roles", role(map[string]any{"name": "   "}), 400,
			`Invalid input for field/attribute name. Value:    . '   ' does not match '[\\S]+'`}, // Python's repr of the pattern
		{"role immutable option", "POST", "/v3/roles", role(map[string]any{"name": "r-imm", "options": map[string]any{"immutable": false}}), 201, ""},
		{"role domain_id null", "POST", "/v3/roles", role(map[string]any{"name": "r-null", "domain_id": nil}), 201, ""},
		{"no role", "POST", "/v3/roles", map[string]any{}, 400, "'role' is a required property"},
	})
}

// TestTrustSchemas: keystone/trust/schema.py's trust_create_request_body.
func TestTrustSchemas(t *testing.T) {
	e := newTestEnv(t)
	admin, demo, project := extUserID(e, e.AdminToken), extUserID(e, e.DemoToken), extProjectID(e, e.AdminToken)
	trust := func(m map[string]any) map[string]any {
		body := map[string]any{"trustor_user_id": admin, "trustee_user_id": demo, "impersonation": false,
			"project_id": project, "roles": []any{map[string]any{"name": "reader"}}}
		for k, v := range m {
			body[k] = v
		}
		return map[string]any{"trust": body}
	}
	runSchemaCases(t, e, []schemaCase{
		{"a valid trust", "POST", "/v3/OS-TRUST/trusts", trust(nil), 201, ""},
		{"remaining_uses 0", "POST", "/v3/OS-TRUST/trusts", trust(map[string]any{"remaining_uses": 0}), 400,
			"Invalid input for field/attribute remaining_uses. Value: 0. 0 is less than the minimum of 1"},
		{"impersonation a string", "POST", "/v3/OS-TRUST/trusts", trust(map[string]any{"impersonation": "true"}), 400,
			"Invalid input for field/attribute impersonation. Value: true. 'true' is not of type 'boolean'"},
		{"a role with id and name", "POST", "/v3/OS-TRUST/trusts", trust(map[string]any{"roles": []any{map[string]any{"id": "x", "name": "reader"}}}), 400, ""},
		{"a role with another key", "POST", "/v3/OS-TRUST/trusts", trust(map[string]any{"roles": []any{map[string]any{"domain": "x"}}}), 400, ""},
		{"no impersonation", "POST", "/v3/OS-TRUST/trusts", map[string]any{"trust": map[string]any{"trustor_user_id": admin, "trustee_user_id": demo}}, 400, ""},
		{"extra attributes", "POST", "/v3/OS-TRUST/trusts", trust(map[string]any{"note": "kept out"}), 201, ""},
		{"null redelegation_count", "POST", "/v3/OS-TRUST/trusts", trust(map[string]any{"redelegation_count": nil, "allow_redelegation": nil}), 201, ""},
	})
}

// TestApplicationCredentialSchemas: keystone/application_credential/schema.py's
// application_credential_create_request_body.
func TestApplicationCredentialSchemas(t *testing.T) {
	e := newTestEnv(t)
	base := "/v3/users/" + extUserID(e, e.AdminToken) + "/application_credentials"
	ac := func(m map[string]any) map[string]any { return map[string]any{"application_credential": m} }
	runSchemaCases(t, e, []schemaCase{
		{"a valid credential", "POST", base, ac(map[string]any{"name": "ac-ok", "roles": []any{map[string]any{"name": "reader"}},
			"access_rules": []any{map[string]any{"service": "compute", "method": "GET", "path": "/v2.1/servers"}}}), 201, ""},
		{"null secret and description", "POST", base, ac(map[string]any{"name": "ac-null", "secret": nil, "description": nil, "unrestricted": nil}), 201, ""},
		{"no name", "POST", base, ac(map[string]any{"description": "x"}), 400,
			"Invalid input for field/attribute application_credential. Value: {'description': 'x'}. 'name' is a required property"},
		{"an unknown attribute", "POST", base, ac(map[string]any{"name": "ac-x", "color": "red"}), 400, ""},
		{"a role with id and name", "POST", base, ac(map[string]any{"name": "ac-r", "roles": []any{map[string]any{"id": "a", "name": "reader"}}}), 400, ""},
		{"an access rule's method", "POST", base, ac(map[string]any{"name": "ac-m", "access_rules": []any{map[string]any{"service": "compute", "method": "GOT", "path": "/"}}}), 400,
			"Invalid input for field/attribute method. Value: GOT. 'GOT' is not one of ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT']"},
		{"unrestricted a string", "POST", base, ac(map[string]any{"name": "ac-u", "unrestricted": "true"}), 400, ""},
	})
}
