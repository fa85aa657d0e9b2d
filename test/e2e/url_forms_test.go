package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var requestIDPattern = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestURLFormsAndRequestIDs: each service of a real cloud, over HTTP, accepts
// the forms of a URL its upstream router accepts (and refuses the ones it
// refuses), answers a policy check on a missing resource with 404, and sends
// upstream's request-id headers on every answer, errors and unmatched paths
// included (compute also x-compute-request-id, the same id).
func TestURLFormsAndRequestIDs(t *testing.T) {
	c := shared
	e := c.Endpoints
	admin, _ := login(t, c, "admin", c.Secret("admin"), "admin")
	demo, info := login(t, c, "demo", c.Secret("demo"), "demo")
	user, project := info.Token.User.ID, info.Token.Project.ID

	// a network created and deleted through Neutron's .json and trailing-slash forms
	var created struct{ Network struct{ ID string } }
	must(t, http.StatusCreated, &created, "POST", e["network"]+"/v2.0/networks.json", demo,
		map[string]any{"network": map[string]any{"name": uniqueName("url-forms")}})
	network := created.Network.ID
	const missing = "6f1ed0a2-7c41-4d7b-9a51-0d3c2a9e8b10"

	tests := []struct {
		service, method, path, token string
		status                       int
		contains                     string // in the body
	}{
		// Keystone strips trailing slashes (url_normalize.py)
		{"identity", "GET", "/v3/projects", admin, 200, `"projects"`},
		{"identity", "GET", "/v3/projects/", admin, 200, `"projects"`},
		{"identity", "GET", "/v3/OS-TRUST/trusts/?trustor_user_id=" + user, demo, 200, `"trusts"`},
		{"identity", "GET", "/v3/auth/projects/", demo, 200, `"projects"`},
		{"identity", "GET", "/v3/users/" + user + "/", demo, 200, `"user"`},
		{"identity", "GET", "/v3/nowhere", demo, 404, `"error"`},
		{"identity", "GET", "/v3/users/" + user + "/credentials/OS-EC2/" + missing, demo, 404, "Could not find credential"},
		{"identity", "DELETE", "/v3/OS-TRUST/trusts/" + missing, demo, 404, "Could not find trust"},
		// Neutron's Pecan: a trailing slash, and .json
		{"network", "GET", "/v2.0/networks/", demo, 200, network},
		{"network", "GET", "/v2.0/networks.json", demo, 200, network},
		{"network", "GET", "/v2.0/networks/" + network + ".json", demo, 200, `"network"`},
		{"network", "GET", "/v2.0/networks/" + network + "/", demo, 200, `"network"`},
		{"network", "GET", "/v2.0/nowhere", demo, 404, ""},
		{"network", "GET", "/v2.0/networks/" + missing, demo, 404, "NetworkNotFound"},
		{"network", "DELETE", "/v2.0/routers/" + missing, demo, 404, "RouterNotFound"},
		// Nova: exact paths, a project id after /v2.1 that is the token's
		{"compute", "GET", "/v2.1/flavors", demo, 200, `"flavors"`},
		{"compute", "GET", "/v2.1/" + project + "/flavors", demo, 200, `"flavors"`},
		{"compute", "GET", "/v2.1/" + strings.Repeat("a", 32) + "/flavors", demo, 400,
			"Malformed request URL: URL's project_id '" + strings.Repeat("a", 32) + "' doesn't match Context's project_id '" + project + "'"},
		{"compute", "GET", "/v2.1/flavors/", demo, 404, ""},
		{"compute", "GET", "/v2.1/servers/" + missing, demo, 404, `"itemNotFound"`},
		{"compute", "DELETE", "/v2.1/servers/" + missing, demo, 404, `"itemNotFound"`},
		{"compute", "DELETE", "/v2.1/os-server-groups/" + missing, demo, 404, `"itemNotFound"`},
		{"compute", "GET", "/v2.1/nowhere", demo, 404, ""},
		// Glance: the URL's version is v2, exact paths, other first segments the versions
		{"image", "GET", "/v2/images", demo, 200, `"images"`},
		{"image", "GET", "/v2.1/images", demo, 200, `"images"`},
		{"image", "GET", "/v2/images/", demo, 404, ""},
		{"image", "GET", "/v3/images", demo, 300, `"versions"`},
		{"image", "GET", "/v2/images/" + missing, demo, 404, ""},
		{"image", "DELETE", "/v2/images/" + missing, demo, 404, ""},
	}
	for _, tc := range tests {
		r := request(t, tc.method, e[tc.service]+tc.path, tc.token, nil)
		if r.Status != tc.status || !strings.Contains(string(r.Body), tc.contains) {
			t.Errorf("%s %s %s: %v, want %d with %q", tc.service, tc.method, tc.path, r, tc.status, tc.contains)
		}
		id := r.Header.Get("X-Openstack-Request-Id")
		if !requestIDPattern.MatchString(id) {
			t.Errorf("%s %s %s: x-openstack-request-id %q", tc.service, tc.method, tc.path, id)
		}
		if compute := r.Header.Get("X-Compute-Request-Id"); (tc.service == "compute") != (compute != "") ||
			tc.service == "compute" && compute != id {
			t.Errorf("%s %s %s: x-compute-request-id %q beside x-openstack-request-id %q", tc.service, tc.method, tc.path, compute, id)
		}
	}
	r := request(t, "DELETE", e["network"]+"/v2.0/networks/"+network+"/", demo, nil)
	if r.Status != http.StatusNoContent || !requestIDPattern.MatchString(r.Header.Get("X-Openstack-Request-Id")) {
		t.Errorf("delete the network with a trailing slash: %v, request id %q", r, r.Header.Get("X-Openstack-Request-Id"))
	}
}
