package identity

import (
	"net/http"
	"strings"
	"testing"
)

// TestPolicyTargetsOfMissingResources: where upstream's target builder loads
// what the path names and lets a NotFound through (EC2 credentials, grants,
// system grants, implied roles), a missing resource answers 404 before the
// policy, to any caller; where upstream defers the existence check (credentials,
// users, OS-INHERIT grants, a revoke's missing user), the policy answers first.
func TestPolicyTargetsOfMissingResources(t *testing.T) {
	e := newTestEnv(t)
	_, tok, _ := e.DoWithHeaders("GET", "/v3/auth/tokens?nocatalog", e.AdminToken, nil, map[string]string{"X-Subject-Token": e.DemoToken})
	token := tok["token"].(map[string]any)
	userID := token["user"].(map[string]any)["id"].(string)
	projectID := token["project"].(map[string]any)["id"].(string)
	roles := e.Must(200, "GET", "/v3/roles?name=member", e.AdminToken, nil)["roles"].([]any)
	member := roles[0].(map[string]any)["id"].(string)

	// an EC2 credential the demo user created, then deleted
	ec2 := e.Must(201, "POST", "/v3/users/"+userID+"/credentials/OS-EC2", e.DemoToken,
		map[string]any{"tenant_id": projectID})["credential"].(map[string]any)
	access := ec2["access"].(string)
	e.Must(200, "GET", "/v3/users/"+userID+"/credentials/OS-EC2/"+access, e.DemoToken, nil)
	e.Must(204, "DELETE", "/v3/users/"+userID+"/credentials/OS-EC2/"+access, e.DemoToken, nil)

	const missing = "0000000000000000000000000000beef"
	tests := []struct {
		name, method, path string
		status             int
		message            string
	}{
		{"deleted EC2 credential", "GET", "/v3/users/" + userID + "/credentials/OS-EC2/" + access, 404, "Could not find credential: " + ec2AccessHash(access)},
		{"deleted EC2 credential, delete", "DELETE", "/v3/users/" + userID + "/credentials/OS-EC2/" + access, 404, "Could not find credential"},
		{"grant of a missing role", "PUT", "/v3/projects/" + projectID + "/users/" + userID + "/roles/" + missing, 404, "Could not find role: " + missing},
		{"grant to a missing user", "PUT", "/v3/projects/" + projectID + "/users/" + missing + "/roles/" + member, 404, "Could not find user: " + missing},
		{"grant on a missing project", "GET", "/v3/projects/" + missing + "/users/" + userID + "/roles/" + member, 404, "Could not find project: " + missing},
		{"grants on a missing project", "GET", "/v3/projects/" + missing + "/users/" + userID + "/roles", 404, "Could not find project: " + missing},
		{"grant on a missing domain", "PUT", "/v3/domains/" + missing + "/groups/" + missing + "/roles/" + member, 404, "Could not find domain: " + missing},
		{"system grant of a missing role", "PUT", "/v3/system/users/" + userID + "/roles/" + missing, 404, "Could not find role: " + missing},
		{"system grants of a missing group", "GET", "/v3/system/groups/" + missing + "/roles", 404, "Could not find group: " + missing},
		{"implied roles of a missing role", "GET", "/v3/roles/" + missing + "/implies", 404, "Could not find role: " + missing},
		{"a missing implied role", "PUT", "/v3/roles/" + member + "/implies/" + missing, 404, "Could not find role: " + missing},
		// upstream defers these to the policy
		{"revoke from a missing user", "DELETE", "/v3/projects/" + projectID + "/users/" + missing + "/roles/" + member, 403, ""},
		{"inherited grant of a missing role", "PUT", "/v3/OS-INHERIT/projects/" + projectID + "/users/" + userID + "/roles/" + missing + "/inherited_to_projects", 403, ""},
		{"missing credential", "GET", "/v3/credentials/" + missing, 403, ""},
		{"missing user", "GET", "/v3/users/" + missing, 403, ""},
	}
	for _, tc := range tests {
		status, out, _ := e.Do(tc.method, tc.path, e.DemoToken, nil)
		msg, _ := out["error"].(map[string]any)["message"].(string)
		if status != tc.status || !strings.Contains(msg, tc.message) {
			t.Errorf("%s: %s %s as a member: %d %q, want %d %q", tc.name, tc.method, tc.path, status, msg, tc.status, tc.message)
		}
	}
	// the admin learns the same
	if status, _, _ := e.Do("GET", "/v3/users/"+userID+"/credentials/OS-EC2/"+access, e.AdminToken, nil); status != http.StatusNotFound {
		t.Errorf("deleted EC2 credential as admin: %d", status)
	}
}
