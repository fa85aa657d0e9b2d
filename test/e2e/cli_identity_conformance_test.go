package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Identity features of issue 18 through the real `openstack` CLI: endpoint
// groups, trust-scoped tokens (--os-trust-id) and upstream's name limits.

func TestCLIEndpointGroups(t *testing.T) {
	c := shared
	const admin = "nimbus-admin"
	var services []row
	OSJSON(t, c, admin, &services, "service", "list")
	identity, ok := findRow(services, "Type", "identity")
	if !ok {
		t.Fatalf("no identity service: %v", services)
	}
	filters := filepath.Join(t.TempDir(), "filters.json")
	if err := os.WriteFile(filters, []byte(fmt.Sprintf(`{"service_id": %q, "interface": "public"}`, str(identity, "ID"))), 0o600); err != nil {
		t.Fatal(err)
	}
	name := uniqueName("e2e-group")
	var group row
	OSJSON(t, c, admin, &group, "endpoint", "group", "create", "--description", "identity, publicly", name, filters)
	id := str(group, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(nil, admin, "endpoint", "group", "delete", id) })
	wantField(t, "endpoint group create", group, "name", name)
	if !strings.Contains(str(group, "filters"), "public") {
		t.Fatalf("endpoint group create: filters %v", group)
	}
	OS(t, c, admin, "endpoint", "group", "set", "--name", name+"-renamed", id)
	OSJSON(t, c, admin, &group, "endpoint", "group", "show", id)
	wantField(t, "endpoint group show", group, "name", name+"-renamed")

	project := uniqueName("e2e-grouped")
	OS(t, c, admin, "project", "create", project)
	t.Cleanup(func() { _, _ = c.OpenStack(nil, admin, "project", "delete", project) })
	OS(t, c, admin, "endpoint", "group", "add", "project", id, project)
	var groups []row
	OSJSON(t, c, admin, &groups, "endpoint", "group", "list", "--project", project)
	if _, ok := findRow(groups, "ID", id); !ok || len(groups) != 1 {
		t.Fatalf("endpoint group list --project: %v", groups)
	}
	var projects []row
	OSJSON(t, c, admin, &projects, "endpoint", "group", "list", "--endpointgroup", id)
	if _, ok := findRow(projects, "Name", project); !ok {
		t.Fatalf("endpoint group list --endpointgroup: %v", projects)
	}
	// The project's endpoints are those of its group: identity's public one.
	var endpoints []row
	OSJSON(t, c, admin, &endpoints, "endpoint", "list", "--project", project)
	if len(endpoints) != 1 || str(endpoints[0], "Interface") != "public" || str(endpoints[0], "Service Type") != "identity" {
		t.Fatalf("endpoint list --project: %v", endpoints)
	}
	OS(t, c, admin, "endpoint", "group", "remove", "project", id, project)
	OSJSON(t, c, admin, &groups, "endpoint", "group", "list", "--project", project)
	if len(groups) != 0 {
		t.Fatalf("endpoint group list --project after removal: %v", groups)
	}
	OS(t, c, admin, "endpoint", "group", "delete", id)
	mustFail(t, c, admin, "No endpointgroup with a name or ID", "endpoint", "group", "show", id)
}

func TestCLITrustToken(t *testing.T) {
	c := shared
	const admin = "nimbus-admin"
	var trust row
	OSJSON(t, c, admin, &trust, "trust", "create", "--project", "admin", "--role", "reader", "--impersonate", "admin", "demo")
	trustID := str(trust, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(nil, admin, "trust", "delete", trustID) })

	// The trustee (demo) logs in with the trust: a token of the trustor (admin,
	// impersonated) on the trust's project, with the delegated role only.
	cfg := newCLIConfig(t, fmt.Sprintf(`clouds:
  e2e-trustee:
    auth:
      auth_url: %s
      username: demo
      password: %q
      user_domain_name: Default
    region_name: RegionOne
    identity_api_version: 3
`, c.IdentityURL+"/v3", c.Secret("demo")))
	out, err := cfg.run("e2e-trustee", "--os-trust-id", trustID, "token", "issue", "-f", "json")
	if err != nil {
		t.Fatal(err)
	}
	var tok row
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatalf("token issue: %v\n%s", err, out)
	}
	noteSecret(str(tok, "id"))
	var adminUser, adminProject row
	OSJSON(t, c, admin, &adminUser, "user", "show", "admin")
	OSJSON(t, c, admin, &adminProject, "project", "show", "admin")
	wantField(t, "trust token", tok, "user_id", str(adminUser, "id"))
	wantField(t, "trust token", tok, "project_id", str(adminProject, "id"))

	// Deleting the trust revokes the token.
	OS(t, c, admin, "trust", "delete", trustID)
	mustFail(t, c, admin, "404", "token", "revoke", str(tok, "id"))
	if _, err := cfg.run("e2e-trustee", "--os-trust-id", trustID, "token", "issue"); err == nil {
		t.Fatal("token issue with a deleted trust succeeded")
	}
}

// TestCLIIdentityNameLimits: as upstream's schemas, a domain or project name
// over 64 characters is refused (400), not stored.
func TestCLIIdentityNameLimits(t *testing.T) {
	c := shared
	const admin = "nimbus-admin"
	long := strings.Repeat("n", 65)
	mustFail(t, c, admin, "HTTP 400", "domain", "create", long)
	mustFail(t, c, admin, "HTTP 400", "project", "create", long)
	OS(t, c, admin, "project", "create", "--or-show", strings.Repeat("n", 64))
	t.Cleanup(func() { _, _ = c.OpenStack(nil, admin, "project", "delete", strings.Repeat("n", 64)) })
}
