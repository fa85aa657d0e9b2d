package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestURLForms: each service's server routes the forms of a path its upstream
// router accepts as the canonical path, and refuses the others as upstream does.
func TestURLForms(t *testing.T) {
	const project = "0123456789abcdef0123456789abcdef"
	echo := func(r *http.Request) (Response, error) {
		return OK(map[string]any{"pattern": r.Pattern, "id": r.PathValue("id")}), nil
	}
	newServer := func(service string) *Server {
		srv := NewServer(Options{Service: service, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Registry: prometheus.NewRegistry(),
			Auth:     fakeAuth{"scoped": {UserID: "u", ProjectID: project}, "system": {UserID: "u", System: true}}})
		srv.Mount([]Route{
			{Method: "GET", Path: "/{$}", Public: true, Handler: echo},
			{Method: "GET", Path: "/versions", Public: true, Handler: echo},
			{Method: "GET", Path: "/v/things", Handler: echo},
			{Method: "POST", Path: "/v/things", Handler: echo},
			{Method: "GET", Path: "/v/things/{id}", Handler: echo},
			{Method: "GET", Path: "/v/dir/{$}", Handler: echo},
			{Method: "GET", Path: "/v2/images", Handler: echo},
			{Method: "GET", Path: "/v2.1/servers/{id}", Handler: echo},
			{Method: "GET", Path: "/v2.1/{$}", Public: true, Handler: echo},
		})
		return srv
	}
	servers := map[string]*Server{}
	for _, name := range []string{"identity", "network", "compute", "image"} {
		servers[name] = newServer(name)
	}
	tests := []struct {
		service, method, path, token string
		status                       int
		pattern, id                  string // the route that answered and its {id}
		message                      string
	}{
		// Keystone strips every trailing slash
		{"identity", "GET", "/v/things/", "scoped", 200, "GET /v/things", "", ""},
		{"identity", "GET", "/v/things//", "scoped", 200, "GET /v/things", "", ""},
		{"identity", "POST", "/v/things/", "scoped", 200, "POST /v/things", "", ""},
		{"identity", "GET", "/v/things/t1/", "scoped", 200, "GET /v/things/{id}", "t1", ""},
		{"identity", "GET", "/v/dir/", "scoped", 200, "GET /v/dir/{$}", "", ""},
		{"identity", "GET", "/", "", 200, "GET /{$}", "", ""},
		{"identity", "DELETE", "/v/things/", "scoped", 405, "", "", ""},
		{"identity", "GET", "/v/things.json", "scoped", 404, "", "", ""},
		// Neutron: a trailing slash, and .json
		{"network", "GET", "/v/things/", "scoped", 200, "GET /v/things", "", ""},
		{"network", "GET", "/v/things.json", "scoped", 200, "GET /v/things", "", ""},
		{"network", "GET", "/v/things.json/", "scoped", 200, "GET /v/things", "", ""},
		{"network", "GET", "/v/things/t1.json", "scoped", 200, "GET /v/things/{id}", "t1", ""},
		{"network", "GET", "/v/things/t1/", "scoped", 200, "GET /v/things/{id}", "t1", ""},
		{"network", "GET", "/v/things.xml", "scoped", 404, "", "", ""},
		// Nova: exact paths, and a project id after /v2.1 that must be the token's
		{"compute", "GET", "/v2.1/servers/s1", "scoped", 200, "GET /v2.1/servers/{id}", "s1", ""},
		{"compute", "GET", "/v2.1/servers/s1/", "scoped", 404, "", "", ""},
		{"compute", "GET", "/v2.1/" + project + "/servers/s1", "scoped", 200, "GET /v2.1/servers/{id}", "s1", ""},
		{"compute", "GET", "/v2.1/0123-abcd/servers/s1", "scoped", 400, "", "",
			"Malformed request URL: URL's project_id '0123-abcd' doesn't match Context's project_id '" + project + "'"},
		{"compute", "GET", "/v2.1/" + project + "/servers/s1", "system", 400, "", "",
			"Malformed request URL: URL's project_id '" + project + "' doesn't match Context's project_id 'None'"},
		{"compute", "GET", "/v2.1/" + project + "/servers/s1", "", 401, "", "", ""},
		{"compute", "GET", "/v2.1/servers.json", "scoped", 404, "", "", ""},
		{"compute", "GET", "/v2.1/" + project + "/", "", 200, "GET /v2.1/{$}", "", ""},
		// Glance: the URL's version is v2, any other first segment the versions
		{"image", "GET", "/v2/images", "scoped", 200, "GET /v2/images", "", ""},
		{"image", "GET", "/v2.1/images", "scoped", 200, "GET /v2/images", "", ""},
		{"image", "GET", "/v2.17/images", "scoped", 200, "GET /v2/images", "", ""},
		{"image", "GET", "/v2/images/", "scoped", 404, "", "", ""},
		{"image", "GET", "/v3/images", "", 200, "GET /{$}", "", ""},
		{"image", "GET", "/images", "", 200, "GET /{$}", "", ""},
		{"image", "GET", "/versions", "", 200, "GET /versions", "", ""},
		{"image", "GET", "/versions/", "", 200, "GET /versions", "", ""},
	}
	for _, tc := range tests {
		req := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.token != "" {
			req.Header.Set("X-Auth-Token", tc.token)
		}
		rec := httptest.NewRecorder()
		servers[tc.service].ServeHTTP(rec, req)
		body := rec.Body.String()
		if rec.Code != tc.status || tc.pattern != "" && !strings.Contains(body, `"pattern":"`+tc.pattern+`"`) ||
			tc.id != "" && !strings.Contains(body, `"id":"`+tc.id+`"`) || !strings.Contains(body, tc.message) {
			t.Errorf("%s %s %s: %d %s; want %d from %q (id %q) %q", tc.service, tc.method, tc.path, rec.Code, body,
				tc.status, tc.pattern, tc.id, tc.message)
		}
	}
}
