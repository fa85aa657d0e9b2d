package image

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/identity"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// testEnv is a bootstrapped identity service and an image service on one SQLite
// database, each behind an httptest server.
type testEnv struct {
	t           *testing.T
	DB          *db.DB
	Dir         string
	Identity    *identity.Service
	IdentityURL string
	Image       *Service
	URL         string
	opts        Options
	handler     http.Handler
	AdminToken  string // admin project, role admin
	DemoToken   string // demo project, role member
	DemoProject string
	AdminProj   string
}

func newTestEnv(t *testing.T, tune func(*Options)) *testEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	database, err := db.Open(ctx, testDatabaseURL(t), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = database.Close() })
	keys, err := fernet.OpenRepository(filepath.Join(dir, "fernet-keys"), 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().Identity
	cfg.BcryptCost = 4
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	enforcer := policy.NewEnforcer()
	idSvc, err := identity.New(ctx, identity.Options{DB: database, Config: cfg, Logger: log, Keys: keys,
		Revoked: auth.NewRevocationList(), Policy: enforcer})
	if err != nil {
		t.Fatal(err)
	}
	idTS := httptest.NewServer(idSvc.Handler())
	t.Cleanup(idTS.Close)
	e := &testEnv{t: t, DB: database, Dir: dir, Identity: idSvc, IdentityURL: idTS.URL}
	imgTS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.handler.ServeHTTP(w, r)
	}))
	t.Cleanup(imgTS.Close)
	e.URL = imgTS.URL
	if err := idSvc.Bootstrap(ctx, identity.BootstrapOptions{Region: "RegionOne", AdminPassword: "admin-secret",
		DemoPassword: "demo-secret", Services: []identity.CatalogService{
			{Type: "identity", Name: "keystone", URL: idTS.URL + "/v3"},
			{Type: "image", Name: "glance", URL: imgTS.URL}}}); err != nil {
		t.Fatal(err)
	}
	e.opts = Options{DB: database, Logger: log, Auth: idSvc.Validator(), Policy: enforcer, DataDir: dir, PublicURL: imgTS.URL}
	if tune != nil {
		tune(&e.opts)
	}
	e.restart()
	e.AdminToken, e.AdminProj = e.Login("admin", "admin-secret", "admin")
	e.DemoToken, e.DemoProject = e.Login("demo", "demo-secret", "demo")
	return e
}

// testDatabaseURL is SQLite in the test's dir by default. With NIMBUS_TEST_DATABASE_URL
// set, each test gets a PostgreSQL schema of its own (dropped afterwards), so it never
// meets other packages' tests resetting the public schema of the same database.
func testDatabaseURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("NIMBUS_TEST_DATABASE_URL")
	if url == "" {
		return ""
	}
	ctx := context.Background()
	admin, err := db.Open(ctx, url, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	schema := "image_test_" + strings.ReplaceAll(newID(), "-", "")
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = admin.ExecContext(context.Background(), `DROP SCHEMA `+schema+` CASCADE`)
		_ = admin.Close()
	})
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	return url + sep + "search_path=" + schema
}

// restart builds a new image service on the same database and data dir, as a
// process restart would.
func (e *testEnv) restart() {
	e.t.Helper()
	svc, err := New(context.Background(), e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.Image, e.handler = svc, svc.Handler()
}

// Login issues a project-scoped token and returns it with the project id.
func (e *testEnv) Login(user, password, project string) (string, string) {
	e.t.Helper()
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "password": password, "domain": map[string]any{"id": "default"}}}},
		"scope": map[string]any{"project": map[string]any{"name": project, "domain": map[string]any{"id": "default"}}},
	}}
	resp := e.raw(e.IdentityURL, "POST", "/v3/auth/tokens", "", body, nil)
	defer resp.Body.Close()
	var out struct {
		Token struct {
			Project struct{ ID string } `json:"project"`
		} `json:"token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated {
		e.t.Fatalf("login %s: status %d", user, resp.StatusCode)
	}
	return resp.Header.Get("X-Subject-Token"), out.Token.Project.ID
}

// NewProjectUser creates a project and a member user in it through the identity API
// and returns the user's token and the project id.
func (e *testEnv) NewProjectUser(name string) (string, string) {
	e.t.Helper()
	var p, u, roles map[string]any
	e.identityJSON(http.StatusCreated, "POST", "/v3/projects", map[string]any{"project": map[string]any{"name": name, "domain_id": "default"}}, &p)
	pid := p["project"].(map[string]any)["id"].(string)
	e.identityJSON(http.StatusCreated, "POST", "/v3/users", map[string]any{"user": map[string]any{"name": name, "password": name + "-pw", "domain_id": "default"}}, &u)
	uid := u["user"].(map[string]any)["id"].(string)
	e.identityJSON(http.StatusOK, "GET", "/v3/roles?name=member", nil, &roles)
	rid := roles["roles"].([]any)[0].(map[string]any)["id"].(string)
	e.identityJSON(http.StatusNoContent, "PUT", "/v3/projects/"+pid+"/users/"+uid+"/roles/"+rid, nil, nil)
	tok, _ := e.Login(name, name+"-pw", name)
	return tok, pid
}

func (e *testEnv) identityJSON(want int, method, path string, body, out any) {
	e.t.Helper()
	resp := e.raw(e.IdentityURL, method, path, e.AdminToken, body, nil)
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
}

// raw sends a request; body may be nil, []byte, an io.Reader or a JSON value.
func (e *testEnv) raw(base, method, path, token string, body any, headers map[string]string) *http.Response {
	e.t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ctype = bytes.NewReader(b), "application/octet-stream"
	case io.Reader:
		rd, ctype = b, "application/octet-stream"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// Do sends a request to the image API and decodes a JSON answer.
func (e *testEnv) Do(method, path, token string, body any, headers map[string]string) (int, map[string]any, []byte, http.Header) {
	e.t.Helper()
	resp := e.raw(e.URL, method, path, token, body, headers)
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out, data, resp.Header
}

// Must sends a request and fails unless the status is want.
func (e *testEnv) Must(want int, method, path, token string, body any) map[string]any {
	e.t.Helper()
	status, out, data, _ := e.Do(method, path, token, body, nil)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, data)
	}
	return out
}

// Patch sends a Glance JSON patch.
func (e *testEnv) Patch(want int, id, token string, ops ...map[string]any) map[string]any {
	e.t.Helper()
	data, _ := json.Marshal(ops)
	status, out, body, _ := e.Do("PATCH", "/v2/images/"+id, token, bytes.NewReader(data),
		map[string]string{"Content-Type": patchType})
	if status != want {
		e.t.Fatalf("PATCH %s %v: status %d, want %d; body %s", id, ops, status, want, body)
	}
	return out
}

// Create creates an image and returns its id.
func (e *testEnv) Create(token string, body map[string]any) string {
	e.t.Helper()
	return e.Must(http.StatusCreated, "POST", "/v2/images", token, body)["id"].(string)
}

func ids(body map[string]any) []string {
	var out []string
	for _, im := range body["images"].([]any) {
		out = append(out, im.(map[string]any)["id"].(string))
	}
	return out
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
