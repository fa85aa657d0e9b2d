package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
	"github.com/nimbus-cloud/nimbus/internal/platform/db/dbtest"
	"github.com/nimbus-cloud/nimbus/internal/platform/fernet"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// testEnv is a bootstrapped identity service behind an httptest server. Tests run on
// SQLite by default and on PostgreSQL when NIMBUS_TEST_DATABASE_URL is set.
type testEnv struct {
	t          testing.TB
	Svc        *Service
	Server     *httptest.Server
	URL        string
	AdminToken string   // project-scoped to admin, role admin
	DemoToken  string   // project-scoped to demo, role member
	second     *Service // a second instance on the same database (addInstance)
}

const (
	testAdminPassword = "admin-secret"
	testDemoPassword  = "demo-secret"
)

func newTestEnv(t testing.TB) *testEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	database := dbtest.Open(t, dir)
	keys, err := fernet.OpenRepository(filepath.Join(dir, "fernet-keys"), 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().Identity
	cfg.BcryptCost = 4 // keep tests fast; the cost itself is bcrypt's business
	svc, err := New(ctx, Options{
		DB: database, Config: cfg, Logger: slog.New(violationHandler{t: t}),
		Keys: keys, Revoked: auth.NewRevocationList(), Policy: policy.NewEnforcer(), CheckResponses: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil) // its URL must be known before the handler is built
	t.Cleanup(ts.Close)
	svc.publicURL = "http://" + ts.Listener.Addr().String()
	ts.Config.Handler = svc.Handler()
	ts.Start()
	if err := svc.Bootstrap(ctx, BootstrapOptions{Region: "RegionOne", AdminPassword: testAdminPassword,
		DemoPassword: testDemoPassword, Services: []CatalogService{{Type: "identity", Name: "keystone", URL: ts.URL + "/v3"}}}); err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, Svc: svc, Server: ts, URL: ts.URL}
	e.AdminToken = e.Login("admin", testAdminPassword, "admin")
	e.DemoToken = e.Login("demo", testDemoPassword, "demo")
	return e
}

// violationHandler fails the test on every response that breaks its route's
// response schema (the server checks them all: CheckResponses), so each schema a
// route declares is proven by the tests that call it; other logs are dropped.
type violationHandler struct {
	t     testing.TB
	attrs []slog.Attr
}

func (h violationHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h violationHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message != httpapi.ResponseViolation {
		return nil
	}
	var b strings.Builder
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.t.Errorf("%s:%s", r.Message, b.String())
	return nil
}

func (h violationHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return violationHandler{t: h.t, attrs: append(slices.Clone(h.attrs), attrs...)}
}

func (h violationHandler) WithGroup(string) slog.Handler { return h }

// Login issues a project-scoped password token for a user of the Default domain.
func (e *testEnv) Login(user, password, project string) string {
	e.t.Helper()
	body := map[string]any{"auth": map[string]any{
		"identity": map[string]any{"methods": []string{"password"}, "password": map[string]any{
			"user": map[string]any{"name": user, "password": password, "domain": map[string]any{"id": "default"}}}},
		"scope": map[string]any{"project": map[string]any{"name": project, "domain": map[string]any{"id": "default"}}},
	}}
	status, _, hdr := e.Do("POST", "/v3/auth/tokens", "", body)
	if status != http.StatusCreated {
		e.t.Fatalf("login %s: status %d", user, status)
	}
	return hdr.Get("X-Subject-Token")
}

// Do sends a request; body may be nil, a []byte (sent raw) or any JSON-encodable value.
// It returns the status, the decoded JSON body (nil when empty) and the headers.
func (e *testEnv) Do(method, path, token string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	return e.DoWithHeaders(method, path, token, body, nil)
}

func (e *testEnv) DoWithHeaders(method, path, token string, body any, headers map[string]string) (int, map[string]any, http.Header) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &out); err != nil {
			e.t.Fatalf("%s %s: non-JSON body %q", method, path, data)
		}
	}
	return resp.StatusCode, out, resp.Header
}

// Must sends a request and fails the test unless the status is want.
func (e *testEnv) Must(want int, method, path, token string, body any) map[string]any {
	e.t.Helper()
	status, out, _ := e.Do(method, path, token, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %v", method, path, status, want, out)
	}
	return out
}

// obj digs a nested object out of a decoded body: obj(body, "user") = body["user"].
func obj(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

// list digs a list of objects out of a decoded body.
func list(m map[string]any, key string) []map[string]any {
	raw, _ := m[key].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, x := range raw {
		if o, ok := x.(map[string]any); ok {
			out = append(out, o)
		}
	}
	return out
}
