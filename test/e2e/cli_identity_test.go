package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The acceptance walk of a newcomer: the Debian `openstack` CLI, the clouds.yaml that
// `nimbus up` wrote, and every identity command of the issue, asserting on what the
// CLI prints.

// row is one object of `-f json` output (a show, or one line of a list).
type row = map[string]any

// str reads a field of a row as the CLI printed it.
func str(r row, key string) string {
	switch v := r[key].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		return fmt.Sprint(v)
	}
}

// findRow returns the first row whose field key equals value.
func findRow(rows []row, key, value string) (row, bool) {
	for _, r := range rows {
		if str(r, key) == value {
			return r, true
		}
	}
	return nil, false
}

// wantField fails the test unless r[key] == want.
func wantField(t *testing.T, what string, r row, key, want string) {
	t.Helper()
	if got := str(r, key); got != want {
		t.Fatalf("%s: %s = %q, want %q (all: %v)", what, key, got, want, r)
	}
}

// mustFail runs the CLI expecting an error whose output contains want.
func mustFail(t *testing.T, c *Cloud, cloud, want string, args ...string) string {
	t.Helper()
	out, err := c.OpenStack(context.Background(), cloud, args...)
	if err == nil {
		t.Fatalf("openstack %s succeeded, want an error containing %q:\n%s", strings.Join(args, " "), want, out)
	}
	if !strings.Contains(out, want) {
		t.Fatalf("openstack %s: error output lacks %q:\n%s", strings.Join(args, " "), want, out)
	}
	return out
}

// cliConfig is a clouds.yaml of the test's own, for users and credentials the
// bootstrap did not write.
type cliConfig struct {
	path string
}

func newCLIConfig(t *testing.T, yaml string) cliConfig {
	t.Helper()
	p := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return cliConfig{path: p}
}

// run runs the openstack CLI with this clouds.yaml and no OS_* variable of ours.
func (cc cliConfig) run(cloud string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := runOpenStack(ctx, cc.path, cloud, args...)
	if err != nil {
		return out, fmt.Errorf("openstack --os-cloud %s %s: %w: %s", cloud, strings.Join(args, " "), err, out)
	}
	return out, nil
}

func TestCLIIdentityWalkthrough(t *testing.T) {
	c := shared
	const admin = "nimbus-admin"

	// token issue: a Fernet token for admin in project admin.
	var tok row
	OSJSON(t, c, admin, &tok, "token", "issue")
	noteSecret(str(tok, "id"))
	if !strings.HasPrefix(str(tok, "id"), "gAAAAA") || str(tok, "project_id") == "" || str(tok, "user_id") == "" {
		t.Fatalf("token issue: %v", tok)
	}
	if exp, err := time.Parse("2006-01-02T15:04:05-0700", str(tok, "expires")); err != nil || time.Until(exp) < time.Hour {
		t.Fatalf("token issue: expires %q (%v), want about 24h ahead", str(tok, "expires"), err)
	}
	var adminProject, adminUser row
	OSJSON(t, c, admin, &adminProject, "project", "show", "admin")
	OSJSON(t, c, admin, &adminUser, "user", "show", "admin")
	wantField(t, "token issue", tok, "project_id", str(adminProject, "id"))
	wantField(t, "token issue", tok, "user_id", str(adminUser, "id"))

	// catalog, services, endpoints, regions: what the bootstrap registered.
	var catalog []row
	OSJSON(t, c, admin, &catalog, "catalog", "list")
	identity, ok := findRow(catalog, "Type", "identity")
	if !ok || str(identity, "Name") != "keystone" {
		t.Fatalf("catalog list has no keystone identity service: %v", catalog)
	}
	if eps := str(identity, "Endpoints"); !strings.Contains(eps, c.IdentityURL+"/v3") || !strings.Contains(eps, "RegionOne") {
		t.Fatalf("catalog list: identity endpoints %q, want %s/v3 in RegionOne", eps, c.IdentityURL)
	}
	var services []row
	OSJSON(t, c, admin, &services, "service", "list")
	svc, ok := findRow(services, "Type", "identity")
	if !ok || str(svc, "Name") != "keystone" {
		t.Fatalf("service list: %v", services)
	}
	var endpoints []row
	OSJSON(t, c, admin, &endpoints, "endpoint", "list", "--service", "identity")
	interfaces := map[string]string{}
	for _, e := range endpoints {
		wantField(t, "endpoint list", e, "Service Name", "keystone")
		wantField(t, "endpoint list", e, "Region", "RegionOne")
		interfaces[str(e, "Interface")] = str(e, "URL")
	}
	for _, iface := range []string{"public", "internal", "admin"} {
		if interfaces[iface] != c.IdentityURL+"/v3" {
			t.Fatalf("endpoint list: %s endpoint %q, want %s/v3 (all: %v)", iface, interfaces[iface], c.IdentityURL, endpoints)
		}
	}
	var regions []row
	OSJSON(t, c, admin, &regions, "region", "list")
	if _, ok := findRow(regions, "Region", "RegionOne"); !ok {
		t.Fatalf("region list: %v", regions)
	}

	// A domain of the test's own, holding everything else it creates.
	domainName := uniqueName("cli-domain")
	var domain row
	OSJSON(t, c, admin, &domain, "domain", "create", "--description", "made by the CLI test", domainName)
	wantField(t, "domain create", domain, "name", domainName)
	wantField(t, "domain create", domain, "enabled", "true")
	domainID := str(domain, "id")
	t.Cleanup(func() {
		_, _ = c.OpenStack(context.Background(), admin, "domain", "set", "--disable", domainID)
		_, _ = c.OpenStack(context.Background(), admin, "domain", "delete", domainID)
	})
	var domains []row
	OSJSON(t, c, admin, &domains, "domain", "list")
	if d, ok := findRow(domains, "Name", domainName); !ok || str(d, "ID") != domainID {
		t.Fatalf("domain list lacks %s: %v", domainName, domains)
	}
	OS(t, c, admin, "domain", "set", "--description", "renamed by the CLI test", domainName)
	OSJSON(t, c, admin, &domain, "domain", "show", domainName)
	wantField(t, "domain show", domain, "description", "renamed by the CLI test")
	wantField(t, "domain show", domain, "id", domainID)

	// Project in that domain, with a tag.
	projectName := uniqueName("cli-project")
	var project row
	OSJSON(t, c, admin, &project, "project", "create", "--domain", domainName, "--description", "first", "--tag", "e2e", projectName)
	wantField(t, "project create", project, "name", projectName)
	wantField(t, "project create", project, "domain_id", domainID)
	projectID := str(project, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), admin, "project", "delete", projectID) })
	var projects []row
	OSJSON(t, c, admin, &projects, "project", "list", "--domain", domainName)
	if p, ok := findRow(projects, "Name", projectName); !ok || str(p, "ID") != projectID || len(projects) != 1 {
		t.Fatalf("project list --domain %s: %v", domainName, projects)
	}
	OS(t, c, admin, "project", "set", "--domain", domainName, "--description", "second", "--tag", "e2e-set", projectName)
	OSJSON(t, c, admin, &project, "project", "show", "--domain", domainName, projectName)
	wantField(t, "project show", project, "description", "second")
	wantField(t, "project show", project, "id", projectID)
	if tags := str(project, "tags"); !strings.Contains(tags, "e2e-set") {
		t.Fatalf("project show: tags %q, want e2e-set", tags)
	}

	// User in that domain, with the project as default.
	userName := uniqueName("cli-user")
	password := "pw-" + uniqueName("cli")
	noteSecret(password)
	var user row
	OSJSON(t, c, admin, &user, "user", "create", "--domain", domainName, "--project", projectName,
		"--project-domain", domainName, "--password", password, "--email", "first@example.org", userName)
	wantField(t, "user create", user, "name", userName)
	wantField(t, "user create", user, "domain_id", domainID)
	wantField(t, "user create", user, "default_project_id", projectID)
	wantField(t, "user create", user, "enabled", "true")
	if _, leaked := user["password"]; leaked {
		t.Fatalf("user create shows the password: %v", user)
	}
	userID := str(user, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), admin, "user", "delete", userID) })
	var users []row
	OSJSON(t, c, admin, &users, "user", "list", "--domain", domainName)
	if u, ok := findRow(users, "Name", userName); !ok || str(u, "ID") != userID || len(users) != 1 {
		t.Fatalf("user list --domain %s: %v", domainName, users)
	}
	OS(t, c, admin, "user", "set", "--domain", domainName, "--email", "second@example.org", "--description", "set by CLI", userName)
	OSJSON(t, c, admin, &user, "user", "show", "--domain", domainName, userName)
	wantField(t, "user show", user, "email", "second@example.org")
	wantField(t, "user show", user, "description", "set by CLI")
	wantField(t, "user show", user, "id", userID)

	// Group with the user in it.
	groupName := uniqueName("cli-group")
	var group row
	OSJSON(t, c, admin, &group, "group", "create", "--domain", domainName, "--description", "first", groupName)
	wantField(t, "group create", group, "name", groupName)
	wantField(t, "group create", group, "domain_id", domainID)
	groupID := str(group, "id")
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), admin, "group", "delete", groupID) })
	var groups []row
	OSJSON(t, c, admin, &groups, "group", "list", "--domain", domainName)
	if g, ok := findRow(groups, "Name", groupName); !ok || str(g, "ID") != groupID || len(groups) != 1 {
		t.Fatalf("group list --domain %s: %v", domainName, groups)
	}
	OS(t, c, admin, "group", "set", "--domain", domainName, "--description", "second", groupName)
	OSJSON(t, c, admin, &group, "group", "show", "--domain", domainName, groupName)
	wantField(t, "group show", group, "description", "second")
	notIn := fmt.Sprintf("%s not in group %s", userName, groupName)
	in := fmt.Sprintf("%s in group %s", userName, groupName)
	if out := OS(t, c, admin, "group", "contains", "user", "--group-domain", domainName, "--user-domain", domainName, groupName, userName); !strings.Contains(out, notIn) {
		t.Fatalf("group contains user before adding: %q, want %q", out, notIn)
	}
	OS(t, c, admin, "group", "add", "user", "--group-domain", domainName, "--user-domain", domainName, groupName, userName)
	if out := OS(t, c, admin, "group", "contains", "user", "--group-domain", domainName, "--user-domain", domainName, groupName, userName); !strings.Contains(out, in) || strings.Contains(out, "not in group") {
		t.Fatalf("group contains user after adding: %q, want %q", out, in)
	}
	var members []row
	OSJSON(t, c, admin, &members, "user", "list", "--group", groupID)
	if m, ok := findRow(members, "ID", userID); !ok || str(m, "Name") != userName || len(members) != 1 {
		t.Fatalf("user list --group: %v", members)
	}

	// Two roles: one granted to the user directly, one through the group.
	userRole, groupRole := uniqueName("cli-role-user"), uniqueName("cli-role-group")
	roleIDs := map[string]string{}
	for _, name := range []string{userRole, groupRole} {
		var role row
		OSJSON(t, c, admin, &role, "role", "create", "--description", "made by the CLI test", name)
		wantField(t, "role create", role, "name", name)
		id := str(role, "id")
		roleIDs[name] = id
		t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), admin, "role", "delete", id) })
	}
	var roles []row
	OSJSON(t, c, admin, &roles, "role", "list")
	for _, name := range []string{userRole, groupRole, "admin", "member", "reader"} {
		if _, ok := findRow(roles, "Name", name); !ok {
			t.Fatalf("role list lacks %s: %v", name, roles)
		}
	}
	var role row
	OS(t, c, admin, "role", "set", "--description", "set by the CLI test", userRole)
	OSJSON(t, c, admin, &role, "role", "show", userRole)
	wantField(t, "role show", role, "id", roleIDs[userRole])
	wantField(t, "role show", role, "description", "set by the CLI test")

	OS(t, c, admin, "role", "add", "--project", projectName, "--project-domain", domainName,
		"--user", userName, "--user-domain", domainName, userRole)
	OS(t, c, admin, "role", "add", "--domain", domainName, "--user", userName, "--user-domain", domainName, userRole)
	OS(t, c, admin, "role", "add", "--project", projectName, "--project-domain", domainName,
		"--group", groupName, "--group-domain", domainName, groupRole)
	OS(t, c, admin, "role", "add", "--domain", domainName, "--group", groupName, "--group-domain", domainName, groupRole)

	userAt, projectAt, groupAt := userName+"@"+domainName, projectName+"@"+domainName, groupName+"@"+domainName
	type assignment struct{ Role, User, Group, Project, Domain string }
	assignments := func(args ...string) map[assignment]bool {
		t.Helper()
		var rows []row
		OSJSON(t, c, admin, &rows, append([]string{"role", "assignment", "list"}, args...)...)
		got := map[assignment]bool{}
		for _, r := range rows {
			got[assignment{str(r, "Role"), str(r, "User"), str(r, "Group"), str(r, "Project"), str(r, "Domain")}] = true
		}
		return got
	}
	wantAssignments := func(what string, got map[assignment]bool, want ...assignment) {
		t.Helper()
		for _, w := range want {
			if !got[w] {
				t.Errorf("%s lacks %+v; got %+v", what, w, got)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d assignments, want %d: %+v", what, len(got), len(want), got)
		}
	}
	// Direct assignments of the group, with names.
	wantAssignments("role assignment list --names --group", assignments("--names", "--group", groupName, "--group-domain", domainName),
		assignment{Role: groupRole, Group: groupAt, Project: projectAt},
		assignment{Role: groupRole, Group: groupAt, Domain: domainName})
	// Effective assignments of the user: its own and its group's, expanded to the user.
	wantAssignments("role assignment list --names --effective --user", assignments("--names", "--effective", "--user", userName, "--user-domain", domainName),
		assignment{Role: userRole, User: userAt, Project: projectAt},
		assignment{Role: userRole, User: userAt, Domain: domainName},
		assignment{Role: groupRole, User: userAt, Project: projectAt},
		assignment{Role: groupRole, User: userAt, Domain: domainName})
	// Effective assignments on the project, with IDs.
	wantAssignments("role assignment list --effective --project", assignments("--effective", "--project", projectID),
		assignment{Role: roleIDs[userRole], User: userID, Project: projectID},
		assignment{Role: roleIDs[groupRole], User: userID, Project: projectID})
	// Implied roles: admin on project admin is effectively also manager, member
	// and reader (keystone-manage bootstrap's chain).
	wantAssignments("role assignment list --names --effective --user admin --project admin",
		assignments("--names", "--effective", "--user", "admin", "--project", "admin"),
		assignment{Role: "admin", User: "admin@Default", Project: "admin@Default"},
		assignment{Role: "manager", User: "admin@Default", Project: "admin@Default"},
		assignment{Role: "member", User: "admin@Default", Project: "admin@Default"},
		assignment{Role: "reader", User: "admin@Default", Project: "admin@Default"})
	if t.Failed() {
		t.FailNow()
	}

	// The new user logs in with its password, then makes an application credential
	// and logs in with that.
	authURL := c.IdentityURL + "/v3"
	userCfg := newCLIConfig(t, fmt.Sprintf(`clouds:
  e2e-user:
    auth:
      auth_url: %s
      username: %q
      password: %q
      project_name: %q
      user_domain_name: %q
      project_domain_name: %q
    region_name: RegionOne
    identity_api_version: 3
`, authURL, userName, password, projectName, domainName, domainName))
	out, err := userCfg.run("e2e-user", "token", "issue", "-f", "json")
	if err != nil {
		t.Fatal(err)
	}
	var userTok row
	decodeJSON(t, out, &userTok)
	noteSecret(str(userTok, "id"))
	wantField(t, "token issue as the new user", userTok, "user_id", userID)
	wantField(t, "token issue as the new user", userTok, "project_id", projectID)

	credName := uniqueName("cli-appcred")
	out, err = userCfg.run("e2e-user", "application", "credential", "create", "--description", "CLI test", credName, "-f", "json")
	if err != nil {
		t.Fatal(err)
	}
	var cred row
	decodeJSON(t, out, &cred)
	wantField(t, "application credential create", cred, "name", credName)
	wantField(t, "application credential create", cred, "project_id", projectID)
	credID, secret := str(cred, "id"), str(cred, "secret")
	if credID == "" || len(secret) < 16 {
		t.Fatalf("application credential create: %v", cred)
	}
	noteSecret(secret)
	for _, r := range []string{userRole, groupRole} {
		if !strings.Contains(str(cred, "roles"), r) {
			t.Fatalf("application credential create: roles %q lack %s", str(cred, "roles"), r)
		}
	}
	out, err = userCfg.run("e2e-user", "application", "credential", "list", "-f", "json")
	if err != nil {
		t.Fatal(err)
	}
	var creds []row
	decodeJSON(t, out, &creds)
	if cr, ok := findRow(creds, "Name", credName); !ok || str(cr, "ID") != credID {
		t.Fatalf("application credential list: %v", creds)
	}
	out, err = userCfg.run("e2e-user", "application", "credential", "show", credName, "-f", "json")
	if err != nil {
		t.Fatal(err)
	}
	var shown row
	decodeJSON(t, out, &shown)
	wantField(t, "application credential show", shown, "id", credID)
	if _, leaked := shown["secret"]; leaked && str(shown, "secret") != "" && str(shown, "secret") != "None" {
		t.Fatalf("application credential show reveals the secret: %v", shown)
	}

	credCfg := newCLIConfig(t, fmt.Sprintf(`clouds:
  e2e-appcred:
    auth_type: v3applicationcredential
    auth:
      auth_url: %s
      application_credential_id: %q
      application_credential_secret: %q
    region_name: RegionOne
    identity_api_version: 3
`, authURL, credID, secret))
	out, err = credCfg.run("e2e-appcred", "token", "issue", "-f", "json")
	if err != nil {
		t.Fatal(err)
	}
	var credTok row
	decodeJSON(t, out, &credTok)
	noteSecret(str(credTok, "id"))
	wantField(t, "token issue with the application credential", credTok, "user_id", userID)
	wantField(t, "token issue with the application credential", credTok, "project_id", projectID)
	// The application credential's token works for the CLI, e.g. to read its project.
	out, err = credCfg.run("e2e-appcred", "project", "show", projectID, "-f", "json")
	if err != nil {
		t.Fatal(err)
	}
	var credProject row
	decodeJSON(t, out, &credProject)
	wantField(t, "project show with the application credential", credProject, "name", projectName)

	// Deleting the credential ends logins with it.
	if _, err := userCfg.run("e2e-user", "application", "credential", "delete", credName); err != nil {
		t.Fatal(err)
	}
	if out, err := credCfg.run("e2e-appcred", "token", "issue"); err == nil || !strings.Contains(out, "401") {
		t.Fatalf("token issue with a deleted application credential: err=%v, want HTTP 401:\n%s", err, out)
	}

	// Removing roles and membership, then everything the test made.
	OS(t, c, admin, "role", "remove", "--project", projectName, "--project-domain", domainName,
		"--group", groupName, "--group-domain", domainName, groupRole)
	OS(t, c, admin, "role", "remove", "--domain", domainName, "--group", groupName, "--group-domain", domainName, groupRole)
	wantAssignments("role assignment list --names --effective --user after removing the group's roles",
		assignments("--names", "--effective", "--user", userName, "--user-domain", domainName),
		assignment{Role: userRole, User: userAt, Project: projectAt},
		assignment{Role: userRole, User: userAt, Domain: domainName})
	OS(t, c, admin, "group", "remove", "user", "--group-domain", domainName, "--user-domain", domainName, groupName, userName)
	if out := OS(t, c, admin, "group", "contains", "user", "--group-domain", domainName, "--user-domain", domainName, groupName, userName); !strings.Contains(out, notIn) {
		t.Fatalf("group contains user after removing: %q, want %q", out, notIn)
	}
	OS(t, c, admin, "role", "remove", "--project", projectName, "--project-domain", domainName,
		"--user", userName, "--user-domain", domainName, userRole)
	OS(t, c, admin, "role", "remove", "--domain", domainName, "--user", userName, "--user-domain", domainName, userRole)
	if got := assignments("--user", userID); len(got) != 0 {
		t.Fatalf("role assignment list --user after removing every role: %+v", got)
	}

	OS(t, c, admin, "user", "delete", "--domain", domainName, userName)
	mustFail(t, c, admin, "No user with a name or ID of", "user", "show", userID)
	OS(t, c, admin, "group", "delete", "--domain", domainName, groupName)
	mustFail(t, c, admin, "No group with a name or ID of", "group", "show", groupID)
	OS(t, c, admin, "role", "delete", userRole, groupRole)
	mustFail(t, c, admin, "No role with a name or ID of", "role", "show", userRole)
	OS(t, c, admin, "project", "delete", "--domain", domainName, projectName)
	mustFail(t, c, admin, "No project with a name or ID of", "project", "show", projectID)
	// A domain must be disabled before it can be deleted, as upstream.
	mustFail(t, c, admin, "HTTP 403", "domain", "delete", domainName)
	OS(t, c, admin, "domain", "set", "--disable", domainName)
	OS(t, c, admin, "domain", "delete", domainName)
	mustFail(t, c, admin, "No domain with a name or ID of", "domain", "show", domainID)
}
