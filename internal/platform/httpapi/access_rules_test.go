package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// TestAccessRulesEnforced drives a server as keystonemiddleware's tests drive
// auth_token: an application credential's access rules let its token make only
// the requests they name on this service type; a valid service token in
// X-Service-Token lifts them; an invalid one fails any request.
func TestAccessRulesEnforced(t *testing.T) {
	member := []auth.Role{{ID: "m", Name: "member"}}
	tokens := fakeAuth{
		"plain":   {UserID: "u", Roles: member},
		"appcred": {UserID: "u", Roles: member, AppCredID: "ac"}, // no rules: unrestricted in what it calls
		"restrict": {UserID: "u", Roles: member, AppCredID: "ac2", AccessRules: []auth.AccessRule{
			{Service: "image", Method: "GET", Path: "/v2/images"},
			{Service: "image", Method: "GET", Path: "/v2/images/{image_id}/file"},
			{Service: "compute", Method: "POST", Path: "/v2.1/servers"},
			{Service: "identity", Method: "GET", Path: "/v3/projects/*"},
		}},
		"service":        {UserID: "nova", Roles: []auth.Role{{ID: "s", Name: "service"}}},
		"cloud-admin":    {UserID: "admin", Roles: []auth.Role{{ID: "a", Name: "admin"}}},
		"not-a-service":  {UserID: "other", Roles: member},
		"restricted-svc": {UserID: "nova", Roles: []auth.Role{{ID: "s", Name: "service"}}, AccessRules: []auth.AccessRule{{Service: "image", Method: "GET", Path: "/"}}},
	}
	ok := func(r *http.Request) (Response, error) { return NoContent(), nil }
	serve := func(service string, routes ...Route) testServer {
		srv := NewServer(Options{Service: service, Logger: slog.New(slog.DiscardHandler), Auth: tokens})
		srv.Mount(routes)
		ts := httptest.NewServer(srv)
		t.Cleanup(ts.Close)
		return testServer{ts, t}
	}
	image := serve("image",
		Route{Method: "GET", Path: "/v2/images", Handler: ok},
		Route{Method: "GET", Path: "/v2/images/{id}", Handler: ok},
		Route{Method: "GET", Path: "/v2/images/{id}/file", Handler: ok},
		Route{Method: "DELETE", Path: "/v2/images/{id}", Handler: ok},
		Route{Method: "GET", Path: "/v2/schemas/image", Public: true, Handler: ok})
	compute := serve("compute", Route{Method: "POST", Path: "/v2.1/servers", Handler: ok},
		Route{Method: "GET", Path: "/v2.1/servers", Handler: ok})
	identity := serve("identity", Route{Method: "GET", Path: "/v3/auth/tokens", Handler: ok},
		Route{Method: "HEAD", Path: "/v3/auth/tokens", Handler: ok},
		Route{Method: "GET", Path: "/v3/projects/{id}", Handler: ok},
		Route{Method: "GET", Path: "/v3/projects", Handler: ok})

	tests := []struct {
		name         string
		srv          testServer
		method, path string
		token        string
		serviceToken string
		want         int
	}{
		{"rule for the list", image, "GET", "/v2/images", "restrict", "", 204},
		{"template for one segment", image, "GET", "/v2/images/abc/file", "restrict", "", 204},
		{"a path no rule names", image, "GET", "/v2/images/abc", "restrict", "", 401},
		{"a method no rule names", image, "DELETE", "/v2/images/abc", "restrict", "", 401},
		{"another service's rule", compute, "GET", "/v2.1/servers", "restrict", "", 401},
		{"compute's rule on compute", compute, "POST", "/v2.1/servers", "restrict", "", 204},
		{"identity rule", identity, "GET", "/v3/projects/p1", "restrict", "", 204},
		{"identity outside the rule", identity, "GET", "/v3/projects", "restrict", "", 401},
		{"a token validates itself", identity, "GET", "/v3/auth/tokens", "restrict", "", 204},
		{"but HEAD is not exempt", identity, "HEAD", "/v3/auth/tokens", "restrict", "", 401},
		{"public routes take no token", image, "GET", "/v2/schemas/image", "restrict", "", 204},
		{"tokens without rules", image, "DELETE", "/v2/images/abc", "plain", "", 204},
		{"app cred without rules", image, "DELETE", "/v2/images/abc", "appcred", "", 204},
		{"a service acting for the user", image, "GET", "/v2/images/abc", "restrict", "service", 204},
		{"the cloud admin as a service", image, "GET", "/v2/images/abc", "restrict", "cloud-admin", 204},
		{"a user's token is no service token", image, "GET", "/v2/images/abc", "restrict", "not-a-service", 401},
		{"nor a restricted one", image, "GET", "/v2/images/abc", "restrict", "restricted-svc", 401},
		{"nor one that is its own", image, "GET", "/v2/images/abc", "restrict", "restrict", 401},
		{"an invalid service token fails the request", image, "GET", "/v2/images", "plain", "bogus", 401},
		{"a user's token as a service token fails it too", image, "GET", "/v2/images", "plain", "not-a-service", 401},
		{"a service token with a plain user", image, "DELETE", "/v2/images/abc", "plain", "service", 204},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.serviceToken != "" {
				hdr = []string{"X-Service-Token", tt.serviceToken}
			}
			resp, b := tt.srv.do(tt.method, tt.path, tt.token, nil, hdr...)
			if tt.want == 401 && tt.method != "HEAD" {
				tt.srv.expectError(resp, b, 401)
				return
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, b)
			}
		})
	}
}
