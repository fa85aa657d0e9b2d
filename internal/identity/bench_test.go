package identity

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// benchEnv is the test environment's service called through its handler without a
// network in between, so the figures are the service's own cost. newTestEnv runs
// bcrypt at cost 4, its minimum.
type benchEnv struct {
	handler http.Handler
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	return &benchEnv{handler: newTestEnv(b).Svc.Handler()}
}

// serve runs one request through the handler and fails unless the status is want.
func (e *benchEnv) serve(b *testing.B, req *http.Request, want int) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	if rec.Code != want {
		b.Fatalf("%s %s: status %d, want %d: %s", req.Method, req.URL, rec.Code, want, rec.Body.Bytes())
	}
	return rec
}

func (e *benchEnv) issue(b *testing.B, body []byte, want int) string {
	req := httptest.NewRequest("POST", "/v3/auth/tokens", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	return e.serve(b, req, want).Header().Get("X-Subject-Token")
}

func mustMarshal(b *testing.B, v any) []byte {
	data, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

var adminScope = map[string]any{"project": map[string]any{"name": "admin", "domain": map[string]any{"id": "default"}}}

// BenchmarkValidateTokenHTTP is GET /v3/auth/tokens through the whole handler: routing,
// authentication of X-Auth-Token, policy, validation of X-Subject-Token and the body.
func BenchmarkValidateTokenHTTP(b *testing.B) {
	e := newBenchEnv(b)
	admin := e.issue(b, mustMarshal(b, passwordAuth("admin", testAdminPassword, adminScope)), http.StatusCreated)
	subject := e.issue(b, mustMarshal(b, passwordAuth("demo", testDemoPassword,
		map[string]any{"project": map[string]any{"name": "demo", "domain": map[string]any{"id": "default"}}})), http.StatusCreated)
	validate := func(b *testing.B, path string) {
		req := httptest.NewRequest("GET", path, nil)
		req.Header.Set("X-Auth-Token", admin)
		req.Header.Set("X-Subject-Token", subject)
		e.serve(b, req, http.StatusOK)
	}
	for _, c := range []struct{ name, path string }{
		{"nocatalog", "/v3/auth/tokens?nocatalog"},
		{"catalog", "/v3/auth/tokens"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				validate(b, c.path)
			}
		})
		b.Run(c.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					validate(b, c.path)
				}
			})
		})
	}
}

// BenchmarkIssueTokenCost4 is a password login with the catalog at bcrypt cost 4 (the
// minimum): with BenchmarkBcryptCost4 subtracted, it is what issuing costs besides
// bcrypt.
func BenchmarkIssueTokenCost4(b *testing.B) {
	e := newBenchEnv(b)
	body := mustMarshal(b, passwordAuth("admin", testAdminPassword, adminScope))
	b.ReportAllocs()
	for b.Loop() {
		e.issue(b, body, http.StatusCreated)
	}
}

// BenchmarkBcryptCost4 is the bcrypt share of BenchmarkIssueTokenCost4.
func BenchmarkBcryptCost4(b *testing.B) {
	hash, err := bcrypt.GenerateFromPassword([]byte(testAdminPassword), bcrypt.MinCost)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !checkHash(hash, testAdminPassword) {
			b.Fatal("hash mismatch")
		}
	}
}

// BenchmarkRescopeToken is a token-method login (no bcrypt) from an unscoped token to
// a project, with the catalog: the issue path alone. parallel runs 4 goroutines per
// core, as `nimbus bench identity` does at concurrency 8 on 2 cores.
func BenchmarkRescopeToken(b *testing.B) {
	e := newBenchEnv(b)
	unscoped := e.issue(b, mustMarshal(b, passwordAuth("admin", testAdminPassword, nil)), http.StatusCreated)
	body := mustMarshal(b, tokenAuth(unscoped, adminScope))
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.issue(b, body, http.StatusCreated)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				e.issue(b, body, http.StatusCreated)
			}
		})
	})
}
