package network

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/identity"
	"github.com/nimbus-cloud/nimbus/internal/identity/identitytest"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/platform/db/dbtest"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

// testEnv is a bootstrapped identity service and a network service on one database,
// the network API behind an httptest server.
type testEnv struct {
	t           testing.TB
	DB          *db.DB
	identity    *identitytest.Env
	Network     *Service
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
	e := &testEnv{t: t, DB: database}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { e.handler.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	e.URL = ts.URL
	enforcer := policy.NewEnforcer()
	e.identity = identitytest.Start(t, database, dir, policy.NewEnforcer(), identity.CatalogService{Type: "network", Name: "neutron", URL: ts.URL})
	e.AdminToken, e.DemoToken, e.DemoProject = e.identity.AdminToken, e.identity.DemoToken, e.identity.DemoProject
	// Every answer is checked against its response schema: a violation fails the test.
	violations := &violationLog{}
	t.Cleanup(func() {
		if v := violations.String(); v != "" {
			t.Errorf("responses that break their schema (schemas_responses.go):\n%s", v)
		}
	})
	e.opts = Options{DB: database, Logger: slog.New(slog.NewTextHandler(violations, &slog.HandlerOptions{Level: slog.LevelError})),
		Auth: e.identity.Service.Validator(), Policy: enforcer, PublicURL: ts.URL, CheckResponses: true}
	if tune != nil {
		tune(&e.opts)
	}
	svc, err := New(context.Background(), e.opts)
	if err != nil {
		t.Fatal(err)
	}
	e.Network, e.handler = svc, svc.Handler()
	return e
}

// violationLog keeps the log lines of response schema violations.
type violationLog struct {
	mu    sync.Mutex
	lines []string
}

func (v *violationLog) Write(p []byte) (int, error) {
	if strings.Contains(string(p), httpapi.ResponseViolation) {
		v.mu.Lock()
		v.lines = append(v.lines, string(p))
		v.mu.Unlock()
	}
	return len(p), nil
}

func (v *violationLog) String() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return strings.Join(v.lines, "")
}

// NewProjectUser creates a project with a member user and returns its token and project id.
func (e *testEnv) NewProjectUser(name string) (string, string) {
	return e.identity.NewProjectUser(name)
}

// Do sends a JSON request and decodes the JSON answer.
func (e *testEnv) Do(method, path, token string, body any) (int, map[string]any, []byte) {
	e.t.Helper()
	return e.DoWithHeader(method, path, token, body)
}

// DoWithHeader is Do with extra header name/value pairs.
func (e *testEnv) DoWithHeader(method, path, token string, body any, header ...string) (int, map[string]any, []byte) {
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
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return resp.StatusCode, out, data
}

// Must sends a request and fails unless the status is want.
func (e *testEnv) Must(want int, method, path, token string, body any) map[string]any {
	e.t.Helper()
	status, out, data := e.Do(method, path, token, body)
	if status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, status, want, data)
	}
	return out
}

// Fail sends a request that must fail with status and Neutron error type kind.
func (e *testEnv) Fail(status int, kind, method, path, token string, body any) {
	e.t.Helper()
	got, out, data := e.Do(method, path, token, body)
	if got != status {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, got, status, data)
	}
	ne, _ := out["NeutronError"].(map[string]any)
	if ne == nil || (kind != "" && ne["type"] != kind) {
		e.t.Fatalf("%s %s: error body %s, want NeutronError of type %q", method, path, data, kind)
	}
}

// Create posts {member: attrs} to collection and returns the created object.
func (e *testEnv) Create(token, collection, member string, attrs map[string]any) map[string]any {
	e.t.Helper()
	return e.Must(http.StatusCreated, "POST", "/v2.0/"+collection, token, map[string]any{member: attrs})[member].(map[string]any)
}

// NetworkWithSubnet creates a network with a subnet and returns their ids.
func (e *testEnv) NetworkWithSubnet(token, cidr string) (string, string) {
	e.t.Helper()
	n := e.Create(token, "networks", "network", map[string]any{"name": "net-" + cidr})
	s := e.Create(token, "subnets", "subnet", map[string]any{"network_id": n["id"], "ip_version": 4, "cidr": cidr})
	return n["id"].(string), s["id"].(string)
}
