package volume

import (
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// TestVolumePersonas holds the volume routes to upstream's current default
// rules for each persona: the project's reader reads, its member writes,
// another project's member finds nothing, and admin_api actions are the
// admin's.
func TestVolumePersonas(t *testing.T) {
	e := newTestEnv(t, nil)
	personas, project := e.identity.Personas("personas")
	token := map[string]string{}
	for _, p := range personas {
		token[p.Name] = p.Token
	}
	id := e.createVolume(token[policytest.Member], map[string]any{"size": 1})
	for _, tc := range []struct {
		persona      string
		method, path string
		body         any
		want         int
	}{
		{policytest.Reader, "GET", "/v3/volumes/" + id, nil, 200},
		{policytest.Reader, "GET", "/v3/volumes", nil, 200},
		{policytest.Reader, "POST", "/v3/volumes", map[string]any{"volume": map[string]any{"size": 1}}, 403},
		{policytest.Reader, "PUT", "/v3/volumes/" + id, map[string]any{"volume": map[string]any{"name": "x"}}, 403},
		{policytest.Reader, "DELETE", "/v3/volumes/" + id, nil, 403},
		{policytest.Reader, "POST", "/v3/volumes/" + id + "/action", action("os-extend", map[string]any{"new_size": 2}), 403},
		{policytest.Reader, "GET", "/v3/os-quota-sets/" + project, nil, 200},
		{policytest.OtherMember, "GET", "/v3/volumes/" + id, nil, 404},
		{policytest.OtherMember, "PUT", "/v3/volumes/" + id, map[string]any{"volume": map[string]any{"name": "x"}}, 404},
		{policytest.OtherMember, "POST", "/v3/volumes/" + id + "/action", action("os-reserve", nil), 404},
		{policytest.OtherMember, "GET", "/v3/os-quota-sets/" + project, nil, 403},
		{policytest.Member, "PUT", "/v3/volumes/" + id, map[string]any{"volume": map[string]any{"name": "x"}}, 200},
		{policytest.Member, "POST", "/v3/volumes/" + id + "/action", action("os-reset_status", map[string]any{"status": "available"}), 403},
		{policytest.Member, "PUT", "/v3/os-quota-sets/" + project, map[string]any{"quota_set": map[string]any{"volumes": 5}}, 403},
		{policytest.Member, "POST", "/v3/types", map[string]any{"volume_type": map[string]any{"name": "t"}}, 403},
		{policytest.Admin, "POST", "/v3/volumes/" + id + "/action", action("os-reset_status", map[string]any{"status": "available"}), 202},
		{policytest.Admin, "PUT", "/v3/os-quota-sets/" + project, map[string]any{"quota_set": map[string]any{"volumes": 5}}, 200},
		{policytest.Member, "DELETE", "/v3/volumes/" + id, nil, 202},
	} {
		status, _, raw, _ := e.Do(tc.method, tc.path, token[tc.persona], tc.body, nil)
		if status != tc.want {
			t.Errorf("%s %s %s: %d, want %d (%s)", tc.persona, tc.method, tc.path, status, tc.want, raw)
		}
	}
}
