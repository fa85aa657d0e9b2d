package compute

import (
	"context"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// TestDomainAndSystemTokensAreRefused (issue 16, finding 11): Nova's rules are
// project-scoped (scope_types ['project'], enforced), so a domain- or
// system-scoped token, which names no project, is refused with 403 wherever
// upstream's rules say so, instead of creating servers, key pairs and groups
// of the empty project and seeing those of every other such token.
func TestDomainAndSystemTokensAreRefused(t *testing.T) {
	e := newTestEnv(t, nil)
	e.host("h1", 8, 8192, 100)
	personas, _ := e.identity.Personas("scoped")
	for _, p := range personas {
		if p.Name != policytest.DomainAdmin && p.Name != policytest.SystemAdmin {
			continue
		}
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/v2.1/servers", serverBody(nil)},
			{"GET", "/v2.1/servers", nil},
			{"GET", "/v2.1/servers/detail", nil},
			{"POST", "/v2.1/os-keypairs", map[string]any{"keypair": map[string]any{"name": "k-" + p.Name}}},
			{"GET", "/v2.1/os-keypairs", nil},
			{"POST", "/v2.1/os-server-groups", map[string]any{"server_group": map[string]any{"name": "g", "policies": []string{"affinity"}}}},
			{"GET", "/v2.1/os-server-groups", nil},
			{"GET", "/v2.1/limits", nil},
			{"GET", "/v2.1/os-availability-zone", nil},
			{"GET", "/v2.1/os-quota-sets/" + e.DemoProject + "/defaults", nil},
			{"GET", "/v2.1/os-hypervisors", nil},
			{"GET", "/v2.1/os-services", nil},
			{"GET", "/v2.1/os-simple-tenant-usage", nil},
		} {
			status, _, raw := e.Do(c.method, c.path, p.Token, c.body)
			if status != 403 {
				t.Errorf("%s: %s %s: status %d, want 403: %s", p.Name, c.method, c.path, status, raw)
			}
		}
	}
	e.conduct()
	var empty int
	if err := e.Compute.db.QueryRowContext(context.Background(),
		`SELECT (SELECT COUNT(*) FROM instances WHERE project_id = '') + (SELECT COUNT(*) FROM server_groups WHERE project_id = '')`).Scan(&empty); err != nil {
		t.Fatal(err)
	}
	if empty != 0 {
		t.Errorf("%d servers or server groups of the empty project were stored", empty)
	}
}
