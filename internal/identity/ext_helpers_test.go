package identity

import (
	"net/http"
	"testing"
)

// Helpers of the extension API tests (ext_*_test.go).

// extTokenBody validates token and returns its "token" object.
func extTokenBody(e *testEnv, token string) map[string]any {
	e.t.Helper()
	status, out, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", token, nil, map[string]string{"X-Subject-Token": token})
	if status != http.StatusOK {
		e.t.Fatalf("validate token: status %d", status)
	}
	return obj(out, "token")
}

func extUserID(e *testEnv, token string) string {
	return obj(extTokenBody(e, token), "user")["id"].(string)
}

func extProjectID(e *testEnv, token string) string {
	return obj(extTokenBody(e, token), "project")["id"].(string)
}

// extSystemToken is a system-scoped token of the admin user, as the gophercloud
// limit tests use (OS_SYSTEM_SCOPE=all).
func extSystemToken(e *testEnv) string {
	e.t.Helper()
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": "admin", "password": testAdminPassword, "domain": map[string]any{"id": "default"}}}},
		"scope": map[string]any{"system": map[string]any{"all": true}},
	}}
	status, _, hdr := e.Do("POST", "/v3/auth/tokens", "", body)
	if status != http.StatusCreated {
		e.t.Fatalf("system login: status %d", status)
	}
	return hdr.Get("X-Subject-Token")
}

// extCreateProject creates a project in the default domain and returns its id.
func extCreateProject(e *testEnv, name string) string {
	e.t.Helper()
	out := e.Must(http.StatusCreated, "POST", "/v3/projects", e.AdminToken,
		map[string]any{"project": map[string]any{"name": name, "domain_id": "default"}})
	return obj(out, "project")["id"].(string)
}

// extFirstService returns the id of a catalog service, and of one of its endpoints.
func extFirstService(e *testEnv) (serviceID, endpointID string) {
	e.t.Helper()
	eps := list(e.Must(http.StatusOK, "GET", "/v3/endpoints", e.AdminToken, nil), "endpoints")
	if len(eps) == 0 {
		e.t.Fatal("no endpoints in the bootstrap catalog")
	}
	return eps[0]["service_id"].(string), eps[0]["id"].(string)
}

// extStatusCase is one request and the status it must answer.
type extStatusCase struct {
	name   string
	method string
	path   string
	token  string
	body   any
	want   int
}

func extRunStatusCases(t *testing.T, e *testEnv, cases []extStatusCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := e.Do(tt.method, tt.path, tt.token, tt.body)
			if status != tt.want {
				t.Fatalf("%s %s: status %d, want %d; body %v", tt.method, tt.path, status, tt.want, out)
			}
			if tt.want >= 400 && tt.method != "HEAD" {
				if msg, _ := obj(out, "error")["message"].(string); msg == "" {
					t.Fatalf("%s %s: no error message in %v", tt.method, tt.path, out)
				}
			}
		})
	}
}

// extIDs collects the "id" of each object.
func extIDs(objs []map[string]any) []string {
	out := make([]string, 0, len(objs))
	for _, o := range objs {
		id, _ := o["id"].(string)
		out = append(out, id)
	}
	return out
}
