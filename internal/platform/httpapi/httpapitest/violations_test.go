package httpapitest

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// recordingT is a testing.TB whose failures are recorded instead of failing the
// test, and whose cleanups run when the test says so.
type recordingT struct {
	testing.TB
	mu       sync.Mutex
	errors   []string
	cleanups []func()
}

func (r *recordingT) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingT) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *recordingT) finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

// thingServer answers GET /things/{id} at microversions 2.1-2.3: the body the
// schema requires has "size" from 2.3, which the handler forgets.
func thingServer(logger *slog.Logger) http.Handler {
	mv := httpapi.Microversions{Service: "thing", Min: httpapi.Version{Major: 2, Minor: 1}, Max: httpapi.Version{Major: 2, Minor: 3}}
	srv := httpapi.NewServer(httpapi.Options{Service: "thing", Logger: logger, Registry: prometheus.NewRegistry(),
		Negotiate: mv.Negotiate, CheckResponses: true})
	thing := func(required ...any) jsonschema.Schema {
		return jsonschema.Schema{"type": "object", "required": []any{"thing"}, "properties": map[string]any{
			"thing": map[string]any{"type": "object", "required": required}}}
	}
	srv.Mount([]httpapi.Route{{Method: "GET", Path: "/things/{id}", Public: true,
		Schemas: []httpapi.Schema{
			{Max: httpapi.Version{Major: 2, Minor: 2}, Responses: map[int]jsonschema.Schema{200: thing("id")}},
			{Min: httpapi.Version{Major: 2, Minor: 3}, Responses: map[int]jsonschema.Schema{200: thing("id", "size")}},
		},
		Handler: func(r *http.Request) (httpapi.Response, error) {
			return httpapi.OK(map[string]any{"thing": map[string]any{"id": r.PathValue("id")}}), nil
		}}})
	return srv
}

func get(h http.Handler, version string) int {
	req := httptest.NewRequest("GET", "/things/t1", nil)
	req.Header.Set("OpenStack-API-Version", "thing "+version)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code
}

// TestFailOnViolations: a service's test server with FailOnViolations fails its
// test on a response that breaks its schema, naming route, version, field and
// message; a conforming response fails nothing, and every record still reaches
// the next handler.
func TestFailOnViolations(t *testing.T) {
	rt := &recordingT{TB: t}
	var logs bytes.Buffer
	h := thingServer(FailOnViolations(rt, slog.NewTextHandler(&logs, nil)))
	if code := get(h, "2.2"); code != 200 || len(rt.errors) != 0 {
		t.Fatalf("a conforming answer: %d, failures %q", code, rt.errors)
	}
	if code := get(h, "2.3"); code != 200 {
		t.Fatalf("the check changed the answer: %d", code)
	}
	if len(rt.errors) != 1 {
		t.Fatalf("failures %q, want one", rt.errors)
	}
	for _, want := range []string{"GET /things/{id}", "version 2.3", "thing", "'size' is a required property"} {
		if !strings.Contains(rt.errors[0], want) {
			t.Errorf("failure %q does not say %q", rt.errors[0], want)
		}
	}
	if !strings.Contains(logs.String(), httpapi.ResponseViolation) || !strings.Contains(logs.String(), "msg=request") {
		t.Errorf("records did not reach the next handler:\n%s", logs.String())
	}
	// once the test is over, a late violation cannot fail it (t.Errorf would panic)
	rt.finish()
	get(h, "2.3")
	if len(rt.errors) != 1 {
		t.Errorf("a violation after the test's end was reported: %q", rt.errors)
	}
}

// TestScanViolations: the violations a server logged are read back from its
// log, in nimbus up's text and JSON formats, with their route, version, status,
// field and message; other records and foreign lines are skipped.
func TestScanViolations(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var logs bytes.Buffer
			var h slog.Handler = slog.NewTextHandler(&logs, nil)
			if format == "json" {
				h = slog.NewJSONHandler(&logs, nil)
			}
			srv := thingServer(slog.New(h))
			get(srv, "2.1")
			logs.WriteString("dnsmasq: a line that mentions response schema violation but is no record\n")
			get(srv, "2.3")
			get(srv, "2.3")
			found, err := ScanViolations(&logs)
			if err != nil {
				t.Fatal(err)
			}
			if len(found) != 2 {
				t.Fatalf("found %d violations, want 2: %v\n%s", len(found), found, logs.String())
			}
			v := found[0]
			want := Violation{Service: "thing", Route: "GET /things/{id}", Version: "2.3", Status: "200",
				Field: "thing", Message: "'size' is a required property", RequestID: v.RequestID}
			if v != want || !strings.HasPrefix(v.RequestID, "req-") {
				t.Errorf("violation %+v, want %+v", v, want)
			}
			if s := v.String(); !strings.Contains(s, "GET /things/{id} at version 2.3") || !strings.Contains(s, "'size'") {
				t.Errorf("String() = %q", s)
			}
		})
	}
}

// TestScanUnchecked: a success answered by a route without a response schema
// for its version and status is logged once, and read back; a checked one and an
// error are not.
func TestScanUnchecked(t *testing.T) {
	var logs bytes.Buffer
	srv := thingServer(slog.New(slog.NewTextHandler(&logs, nil)))
	get(srv, "2.1") // checked
	bare := httpapi.NewServer(httpapi.Options{Service: "bare", Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Registry: prometheus.NewRegistry(), CheckResponses: true})
	bare.Mount([]httpapi.Route{
		{Method: "GET", Path: "/things/{id}", Public: true, Handler: func(r *http.Request) (httpapi.Response, error) {
			return httpapi.OK(map[string]any{}), nil
		}},
		{Method: "GET", Path: "/fails", Public: true, Handler: func(r *http.Request) (httpapi.Response, error) {
			return httpapi.Response{}, httpapi.NotFound("no")
		}},
	})
	for range 3 {
		get(bare, "")
		rec := httptest.NewRecorder()
		bare.ServeHTTP(rec, httptest.NewRequest("GET", "/fails", nil))
	}
	found, err := ScanUnchecked(&logs)
	if err != nil {
		t.Fatal(err)
	}
	want := []Unchecked{{Service: "bare", Route: "GET /things/{id}", Version: "0.0", Status: "200"}}
	if len(found) != 1 || found[0] != want[0] || found[0].String() != "bare GET /things/{id} answering 200" {
		t.Fatalf("unchecked %+v, want %+v", found, want)
	}
}

// TestScanViolationsNone: a log without violations yields none.
func TestScanViolationsNone(t *testing.T) {
	found, err := ScanViolations(strings.NewReader(`time=2026-01-01T00:00:00Z level=INFO msg=request service=identity status=200` + "\n"))
	if err != nil || len(found) != 0 {
		t.Fatalf("%v %v", found, err)
	}
}

// TestRoutesWithoutSchemas: a route taking a body without a request schema, and
// a route without a response schema, are listed; a route with both is not.
func TestRoutesWithoutSchemas(t *testing.T) {
	obj := jsonschema.Schema{"type": "object"}
	got := RoutesWithoutSchemas([]httpapi.Route{
		{Method: "POST", Path: "/full", Schemas: []httpapi.Schema{{Request: obj, Responses: map[int]jsonschema.Schema{201: obj}}}},
		{Method: "PUT", Path: "/bare"},
		{Method: "GET", Path: "/read", Schemas: []httpapi.Schema{{Responses: map[int]jsonschema.Schema{200: obj}}}},
		{Method: "GET", Path: "/unread"},
	})
	want := []string{"PUT /bare: no request schema", "PUT /bare: no response schema", "GET /unread: no response schema"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%q, want %q", got, want)
	}
}
