package volume

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
	"time"

	"github.com/nimbus-cloud/nimbus/internal/identity"
	"github.com/nimbus-cloud/nimbus/internal/identity/identitytest"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/db/dbtest"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend/fake"
)

// testEnv is a bootstrapped identity and a volume service on one database,
// with a volume manager over fake backends on host "node1"; the tests run the
// manager's passes themselves (settle), so nothing waits on a clock.
type testEnv struct {
	t           testing.TB
	DB          *db.DB
	Dir         string
	identity    *identitytest.Env
	Service     *Service
	Manager     *Manager
	Backends    map[string]*fake.Backend
	URL         string
	opts        Options
	handler     http.Handler
	AdminToken  string // admin project, role admin
	DemoToken   string // demo project, role member
	DemoProject string
}

func newTestEnv(t testing.TB, tune func(*Options)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	database := dbtest.Open(t, dir)
	e := &testEnv{t: t, DB: database, Dir: dir, Backends: map[string]*fake.Backend{}}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.handler.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	e.URL = ts.URL
	e.identity = identitytest.Start(t, database, dir, policy.NewEnforcer(),
		identity.CatalogService{Type: "block-storage", Name: "cinder", URL: ts.URL + "/v3/%(project_id)s"})
	e.AdminToken, e.DemoToken, e.DemoProject = e.identity.AdminToken, e.identity.DemoToken, e.identity.DemoProject
	var backends []backend.Backend
	for _, name := range []string{"alpha", "beta"} {
		b, err := fake.New(name, filepath.Join(dir, "pool-"+name), 50)
		if err != nil {
			t.Fatal(err)
		}
		e.Backends[name] = b
		backends = append(backends, b)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.Manager = NewManager(ManagerOptions{DB: database, Logger: quiet, Host: "node1", Backends: backends,
		ScratchDir: filepath.Join(dir, "scratch")})
	e.opts = Options{DB: database, Logger: quiet, Auth: e.identity.Service.Validator(), Policy: policy.NewEnforcer(),
		PublicURL: ts.URL, Connections: e.Manager}
	if tune != nil {
		tune(&e.opts)
	}
	e.restart()
	e.settle()
	return e
}

// restart builds a new service on the same database, as a process restart would.
func (e *testEnv) restart() {
	e.t.Helper()
	svc, err := New(context.Background(), e.opts)
	if err != nil {
		e.t.Fatal(err)
	}
	e.Service, e.handler = svc, svc.Handler()
}

// settle runs manager passes until a pass leaves nothing in flight: one pass
// finishes every step the fake backend can take.
func (e *testEnv) settle() {
	e.t.Helper()
	if err := e.Manager.Pass(context.Background()); err != nil {
		e.t.Logf("manager pass: %v", err)
	}
}

// NewProjectUser creates a project with a member user and returns its token and the project id.
func (e *testEnv) NewProjectUser(name string) (string, string) {
	return e.identity.NewProjectUser(name)
}

// Do sends a request to the volume API and decodes a JSON answer.
func (e *testEnv) Do(method, path, token string, body any, headers map[string]string) (int, map[string]any, []byte, http.Header) {
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
	client := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out, data, resp.Header
}

// Must sends a request and fails unless the status is want.
func (e *testEnv) Must(want int, method, path, token string, body any) map[string]any {
	e.t.Helper()
	return e.MustV(want, "", method, path, token, body)
}

// MustV is Must at microversion version ("" for none).
func (e *testEnv) MustV(want int, version, method, path, token string, body any) map[string]any {
	e.t.Helper()
	var h map[string]string
	if version != "" {
		h = map[string]string{"OpenStack-API-Version": "volume " + version}
	}
	status, out, data, _ := e.Do(method, path, token, body, h)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, data)
	}
	return out
}

// fault is the message of a Cinder fault body ({"badRequest": {"message": ...}})
// and its wrapper's name.
func fault(body map[string]any) (kind, message string) {
	for k, v := range body {
		if m, ok := v.(map[string]any); ok {
			msg, _ := m["message"].(string)
			return k, msg
		}
	}
	return "", ""
}
