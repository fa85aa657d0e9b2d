// Package identitytest runs a bootstrapped identity service for the tests of other
// services, which need real tokens, projects and users.
package identitytest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/identity"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// Bootstrap passwords of the admin and demo users.
const (
	AdminPassword = "admin-secret"
	DemoPassword  = "demo-secret"
)

// Env is a running identity service with admin and demo logged in.
type Env struct {
	t            testing.TB
	Service      *identity.Service
	URL          string
	AdminToken   string // admin project, role admin
	AdminProject string
	DemoToken    string // demo project, role member
	DemoProject  string
}

// Start runs identity on d (keys under dir), registering its policies on enforcer,
// and bootstraps it with services in the catalog besides identity itself.
func Start(t testing.TB, d *db.DB, dir string, enforcer *policy.Enforcer, services ...identity.CatalogService) *Env {
	t.Helper()
	ctx := context.Background()
	ts := httptest.NewUnstartedServer(nil) // its URL must be known before identity starts
	t.Cleanup(ts.Close)
	url := "http://" + ts.Listener.Addr().String()
	keys, err := fernet.OpenRepository(filepath.Join(dir, "fernet-keys"), 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().Identity
	cfg.BcryptCost = 4 // keep tests fast; the cost itself is bcrypt's business
	svc, err := identity.New(ctx, identity.Options{DB: d, Config: cfg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Keys: keys,
		Revoked: auth.NewRevocationList(), Policy: enforcer, PublicURL: url})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = svc.Handler()
	ts.Start()
	all := append([]identity.CatalogService{{Type: "identity", Name: "keystone", URL: url + "/v3"}}, services...)
	if err := svc.Bootstrap(ctx, identity.BootstrapOptions{Region: "RegionOne", AdminPassword: AdminPassword,
		DemoPassword: DemoPassword, Services: all}); err != nil {
		t.Fatal(err)
	}
	e := &Env{t: t, Service: svc, URL: url}
	e.AdminToken, e.AdminProject = e.Login("admin", AdminPassword, "admin")
	e.DemoToken, e.DemoProject = e.Login("demo", DemoPassword, "demo")
	return e
}

// Login issues a project-scoped password token of a Default-domain user and returns
// it with the project id.
func (e *Env) Login(user, password, project string) (token, projectID string) {
	e.t.Helper()
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "password": password, "domain": map[string]any{"id": "default"}}}},
		"scope": map[string]any{"project": map[string]any{"name": project, "domain": map[string]any{"id": "default"}}},
	}}
	var out struct {
		Token struct {
			Project struct{ ID string } `json:"project"`
		} `json:"token"`
	}
	hdr := e.call(http.StatusCreated, "POST", "/v3/auth/tokens", "", body, &out)
	return hdr.Get("X-Subject-Token"), out.Token.Project.ID
}

// NewProjectUser creates a project and a user with the member role on it, and
// returns that user's token and the project id.
func (e *Env) NewProjectUser(name string) (token, projectID string) {
	e.t.Helper()
	var p, u, roles struct {
		Project struct{ ID string }   `json:"project"`
		User    struct{ ID string }   `json:"user"`
		Roles   []struct{ ID string } `json:"roles"`
	}
	e.call(http.StatusCreated, "POST", "/v3/projects", e.AdminToken,
		map[string]any{"project": map[string]any{"name": name, "domain_id": "default"}}, &p)
	e.call(http.StatusCreated, "POST", "/v3/users", e.AdminToken,
		map[string]any{"user": map[string]any{"name": name, "password": name + "-pw", "domain_id": "default"}}, &u)
	e.call(http.StatusOK, "GET", "/v3/roles?name=member", e.AdminToken, nil, &roles)
	e.call(http.StatusNoContent, "PUT", "/v3/projects/"+p.Project.ID+"/users/"+u.User.ID+"/roles/"+roles.Roles[0].ID,
		e.AdminToken, nil, nil)
	token, _ = e.Login(name, name+"-pw", name)
	return token, p.Project.ID
}

// call sends a JSON request to identity, fails the test unless the status is want,
// and decodes the answer into out when out is not nil.
func (e *Env) call(want int, method, path, token string, body, out any) http.Header {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		e.t.Fatalf("identity %s %s: %d, want %d: %s", method, path, resp.StatusCode, want, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatal(err)
		}
	}
	return resp.Header
}

// Personas makes the callers a policy matrix tries (policytest's names): an admin,
// a member and a reader of a new project named project, a member of another new
// project, an admin scoped to the Default domain (the owning project's) and the
// bootstrap admin scoped to the system. It returns them with the owning project's
// id.
func (e *Env) Personas(project string) ([]policytest.Persona, string) {
	e.t.Helper()
	var p, other struct {
		Project struct{ ID string } `json:"project"`
	}
	e.call(http.StatusCreated, "POST", "/v3/projects", e.AdminToken,
		map[string]any{"project": map[string]any{"name": project, "domain_id": "default"}}, &p)
	e.call(http.StatusCreated, "POST", "/v3/projects", e.AdminToken,
		map[string]any{"project": map[string]any{"name": project + "-other", "domain_id": "default"}}, &other)
	grant := func(name, role, target string) string {
		var u struct {
			User struct{ ID string } `json:"user"`
		}
		e.call(http.StatusCreated, "POST", "/v3/users", e.AdminToken,
			map[string]any{"user": map[string]any{"name": name, "password": name + "-pw", "domain_id": "default"}}, &u)
		e.call(http.StatusNoContent, "PUT", target+"/users/"+u.User.ID+"/roles/"+e.RoleID(role), e.AdminToken, nil, nil)
		return name
	}
	scopedAs := func(user, password string, scope map[string]any) string {
		body := map[string]any{"auth": map[string]any{
			"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
				"user": map[string]any{"name": user, "password": password, "domain": map[string]any{"id": "default"}}}},
			"scope": scope,
		}}
		return e.call(http.StatusCreated, "POST", "/v3/auth/tokens", "", body, nil).Get("X-Subject-Token")
	}
	scoped := func(user string, scope map[string]any) string { return scopedAs(user, user+"-pw", scope) }
	onProject := func(id string) map[string]any { return map[string]any{"project": map[string]any{"id": id}} }
	tokens := []struct{ name, token string }{
		{policytest.Admin, scoped(grant(project+"-admin", "admin", "/v3/projects/"+p.Project.ID), onProject(p.Project.ID))},
		{policytest.Member, scoped(grant(project+"-member", "member", "/v3/projects/"+p.Project.ID), onProject(p.Project.ID))},
		{policytest.Reader, scoped(grant(project+"-reader", "reader", "/v3/projects/"+p.Project.ID), onProject(p.Project.ID))},
		{policytest.OtherMember, scoped(grant(project+"-othermember", "member", "/v3/projects/"+other.Project.ID), onProject(other.Project.ID))},
		{policytest.DomainAdmin, scoped(grant(project+"-domainadmin", "admin", "/v3/domains/default"),
			map[string]any{"domain": map[string]any{"id": "default"}})},
		{policytest.SystemAdmin, scopedAs("admin", AdminPassword, map[string]any{"system": map[string]any{"all": true}})},
	}
	out := make([]policytest.Persona, 0, len(tokens))
	for _, tk := range tokens {
		creds, err := e.Service.Validator().Authenticate(context.Background(), tk.token)
		if err != nil {
			e.t.Fatalf("persona %s: %v", tk.name, err)
		}
		out = append(out, policytest.Persona{Name: tk.name, Token: tk.token, Creds: creds.PolicyCredentials()})
	}
	return out, p.Project.ID
}

// RoleID is the id of the global role named name.
func (e *Env) RoleID(name string) string {
	e.t.Helper()
	var roles struct {
		Roles []struct{ ID string } `json:"roles"`
	}
	e.call(http.StatusOK, "GET", "/v3/roles?name="+name, e.AdminToken, nil, &roles)
	if len(roles.Roles) != 1 {
		e.t.Fatalf("role %s: %d found", name, len(roles.Roles))
	}
	return roles.Roles[0].ID
}
