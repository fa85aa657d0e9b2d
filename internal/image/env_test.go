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
	"slices"
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

// testEnv is a bootstrapped identity service and an image service on one database,
// each behind an httptest server.
type testEnv struct {
	t           *testing.T
	DB          *db.DB
	Dir         string
	identity    *identitytest.Env
	Image       *Service
	URL         string
	opts        Options
	handler     http.Handler
	AdminToken  string // admin project, role admin
	DemoToken   string // demo project, role member
	DemoProject string
}

func newTestEnv(t *testing.T, tune func(*Options)) *testEnv {
	t.Helper()
	dir := t.TempDir()
	database := dbtest.Open(t, dir)
	e := &testEnv{t: t, DB: database, Dir: dir}
	imgTS := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.handler.ServeHTTP(w, r)
	}))
	t.Cleanup(imgTS.Close)
	e.URL = imgTS.URL
	enforcer := policy.NewEnforcer()
	e.identity = identitytest.Start(t, database, dir, policy.NewEnforcer(), identity.CatalogService{Type: "image", Name: "glance", URL: imgTS.URL})
	e.AdminToken, e.DemoToken, e.DemoProject = e.identity.AdminToken, e.identity.DemoToken, e.identity.DemoProject
	// every answer is checked against its route's response schema, and a
	// violation fails the test
	violations := &violationLog{}
	t.Cleanup(func() {
		for _, v := range violations.get() {
			t.Errorf("%s", v)
		}
	})
	e.opts = Options{DB: database, Logger: slog.New(violations), Auth: e.identity.Service.Validator(),
		Policy: enforcer, DataDir: dir, PublicURL: imgTS.URL, CheckResponses: true}
	if tune != nil {
		tune(&e.opts)
	}
	e.restart()
	return e
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

// NewProjectUser creates a project with a member user and returns its token and the project id.
func (e *testEnv) NewProjectUser(name string) (string, string) {
	return e.identity.NewProjectUser(name)
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

// violationLog is a slog handler keeping the response schema violations logged.
type violationLog struct {
	mu   sync.Mutex
	seen []string
}

func (v *violationLog) Enabled(context.Context, slog.Level) bool { return true }
func (v *violationLog) WithAttrs([]slog.Attr) slog.Handler       { return v }
func (v *violationLog) WithGroup(string) slog.Handler            { return v }

func (v *violationLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != httpapi.ResponseViolation {
		return nil
	}
	line := r.Message
	r.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	v.mu.Lock()
	v.seen = append(v.seen, line)
	v.mu.Unlock()
	return nil
}

func (v *violationLog) get() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.seen)
}
