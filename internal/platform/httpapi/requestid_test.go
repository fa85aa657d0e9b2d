package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRequestIDHeaders: every answer carries the request id under
// x-openstack-request-id and each compat header (Nova's x-compute-request-id),
// one id for all: successes, errors, unmatched paths and methods; and a
// wrapper in Front of the server answers under the id the server serves with.
func TestRequestIDHeaders(t *testing.T) {
	srv := NewServer(Options{Service: "compute", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Registry: prometheus.NewRegistry(), CompatRequestIDHeaders: []string{"X-Compute-Request-Id"}})
	srv.Mount([]Route{
		{Method: "GET", Path: "/ok", Public: true, Handler: func(r *http.Request) (Response, error) {
			return OK(map[string]any{"id": RequestID(r.Context())}), nil
		}},
		{Method: "GET", Path: "/fails", Public: true, Handler: func(r *http.Request) (Response, error) {
			return Response{}, Conflict("no")
		}},
		{Method: "GET", Path: "/token", Handler: func(r *http.Request) (Response, error) { return NoContent(), nil }},
	})
	var seen string
	front := srv.Front(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/wrapper" { // answered by the wrapper itself
			w.WriteHeader(http.StatusCreated)
			return
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r) // as network's bulk create serves each item
		seen = rec.Header().Get("X-Openstack-Request-Id")
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
	}))
	for _, tc := range []struct {
		h            http.Handler
		method, path string
		status       int
	}{
		{srv, "GET", "/ok", 200},
		{srv, "GET", "/fails", 409},
		{srv, "GET", "/token", 401},
		{srv, "GET", "/nowhere", 404},
		{srv, "DELETE", "/ok", 405},
		{srv, "GET", "/healthcheck", 200},
		{front, "GET", "/wrapper", 201},
		{front, "GET", "/ok", 200},
	} {
		rec := httptest.NewRecorder()
		tc.h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		id := rec.Header().Get("X-Openstack-Request-Id")
		if rec.Code != tc.status || !requestIDRE.MatchString(id) || rec.Header().Get("X-Compute-Request-Id") != id {
			t.Errorf("%s %s: %d, x-openstack-request-id %q, x-compute-request-id %q; want %d and one id",
				tc.method, tc.path, rec.Code, id, rec.Header().Get("X-Compute-Request-Id"), tc.status)
		}
	}
	rec := httptest.NewRecorder()
	front.ServeHTTP(rec, httptest.NewRequest("GET", "/ok", nil))
	if got := rec.Header().Get("X-Openstack-Request-Id"); seen != got {
		t.Errorf("the server behind Front answered under %q, the wrapper under %q", seen, got)
	}
}
