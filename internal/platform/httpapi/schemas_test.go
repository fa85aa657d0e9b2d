package httpapi

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

func TestRouteSchemas(t *testing.T) {
	enf := policy.NewEnforcer()
	if err := enf.Register(map[string]string{"thing:create": "role:admin"}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	microversions := Microversions{Service: "thing", Min: Version{2, 1}, Max: Version{2, 5}}
	newServer := func(beforePolicy bool) *Server {
		srv := NewServer(Options{
			Service: "thing", Logger: slog.New(slog.NewTextHandler(&logs, nil)), Registry: prometheus.NewRegistry(),
			Auth:   fakeAuth{"admin": {UserID: "a", Roles: []auth.Role{{Name: "admin"}}}, "reader": {UserID: "r", Roles: []auth.Role{{Name: "reader"}}}},
			Policy: enf, Negotiate: microversions.Negotiate, ValidateBeforePolicy: beforePolicy, CheckResponses: true,
			InvalidRequest: func(e *jsonschema.Error) *Error {
				return BadRequest("Invalid input for field/attribute %s. %s", e.PathString(), e.Message)
			},
		})
		srv.Mount([]Route{{Method: "POST", Path: "/things", Policy: "thing:create",
			Schemas: []Schema{
				{Max: Version{2, 2}, Request: jsonschema.Schema{"type": "object", "required": []any{"name"},
					"properties": map[string]any{"name": map[string]any{"type": "string"}}, "additionalProperties": false},
					Responses: map[int]jsonschema.Schema{200: {"type": "object", "required": []any{"id"}}}},
				{Min: Version{2, 3}, Request: jsonschema.Schema{"type": "object", "required": []any{"name", "size"}},
					Responses: map[int]jsonschema.Schema{200: {"type": "object", "required": []any{"id", "size"}}}},
			},
			Handler: func(r *http.Request) (Response, error) {
				// the body is still there for the handler, and the version known
				var body map[string]any
				if err := DecodeJSON(r, &body); err != nil {
					return Response{}, err
				}
				return OK(map[string]any{"id": "x", "name": body["name"], "version": VersionOf(r).String()}), nil
			}}})
		return srv
	}
	do := func(srv *Server, token, version, body string) (int, string) {
		req := httptest.NewRequest("POST", "/things", strings.NewReader(body))
		req.Header.Set("X-Auth-Token", token)
		req.Header.Set("Content-Type", "application/json")
		if version != "" {
			req.Header.Set("OpenStack-API-Version", "thing "+version)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	after, before := newServer(false), newServer(true)
	tests := []struct {
		name                 string
		srv                  *Server
		token, version, body string
		status               int
		contains             string
	}{
		{"valid", after, "admin", "", `{"name": "a"}`, 200, `"version":"2.1"`},
		{"unknown key", after, "admin", "2.2", `{"name": "a", "x": 1}`, 400, "Additional properties are not allowed ('x' was unexpected)"},
		{"wrong type names the field", after, "admin", "", `{"name": 1}`, 400, "field/attribute name. 1 is not of type 'string'"},
		{"no body", after, "admin", "", ``, 400, "None is not of type 'object'"},
		{"malformed", after, "admin", "", `{"name":`, 400, "Malformed request body"},
		{"the next version's schema", after, "admin", "2.3", `{"name": "a"}`, 400, "'size' is a required property"},
		{"out of range", after, "admin", "2.9", `{"name": "a"}`, 406, "not supported"},
		{"policy before schema", after, "reader", "", `{"x": 1}`, 403, ""},
		{"schema before policy", before, "reader", "", `{"x": 1}`, 400, "'name' is a required property"},
		{"policy still holds", before, "reader", "", `{"name": "a"}`, 403, ""},
	}
	for _, tt := range tests {
		code, body := do(tt.srv, tt.token, tt.version, tt.body)
		if code != tt.status || !strings.Contains(body, tt.contains) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, code, body, tt.status, tt.contains)
		}
	}
	if strings.Contains(logs.String(), ResponseViolation) {
		t.Fatalf("a response that matches its schema was reported:\n%s", logs.String())
	}
	// at 2.3 the response lacks "size": reported, the answer unchanged
	if code, _ := do(after, "admin", "2.3", `{"name": "a", "size": 1}`); code != 200 {
		t.Fatalf("status %d", code)
	}
	if !strings.Contains(logs.String(), ResponseViolation) || !strings.Contains(logs.String(), "'size' is a required property") {
		t.Fatalf("the violation was not logged:\n%s", logs.String())
	}
}

// TestRawJSONResponsesChecked: a body the handler rendered ahead ([]byte with a
// JSON content type, as identity's cached token bodies) is checked as a value
// body is; other raw bodies (image data) are not.
func TestRawJSONResponsesChecked(t *testing.T) {
	var logs bytes.Buffer
	srv := NewServer(Options{Service: "thing", Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Registry: prometheus.NewRegistry(), CheckResponses: true})
	needsID := map[int]jsonschema.Schema{200: {"type": "object", "required": []any{"id"}}}
	srv.Mount([]Route{
		{Method: "GET", Path: "/rendered", Public: true, Schemas: []Schema{{Responses: needsID}},
			Handler: func(r *http.Request) (Response, error) {
				return Response{Body: []byte(`{"name": "x"}`)}.WithHeader("Content-Type", "application/json; charset=UTF-8"), nil
			}},
		{Method: "GET", Path: "/data", Public: true, Schemas: []Schema{{Responses: needsID}},
			Handler: func(r *http.Request) (Response, error) {
				return Response{Body: []byte(`{"name": "x"}`)}.WithHeader("Content-Type", "application/octet-stream"), nil
			}},
	})
	for _, path := range []string{"/data", "/rendered"} {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != 200 || rec.Body.String() != `{"name": "x"}` {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body.String())
		}
		if got := strings.Count(logs.String(), ResponseViolation); got != map[string]int{"/data": 0, "/rendered": 1}[path] {
			t.Fatalf("%s: %d violations logged:\n%s", path, got, logs.String())
		}
	}
	if !strings.Contains(logs.String(), `route="GET /rendered"`) || !strings.Contains(logs.String(), "'id' is a required property") {
		t.Fatalf("the violation does not name route and message:\n%s", logs.String())
	}
}

// TestResponseStatusesChecked: a success status the route's schemas do not list
// is a violation (a key pair created with 200 where upstream answers 201), a
// status mapped to no schema is checked alone, and errors are never checked.
func TestResponseStatusesChecked(t *testing.T) {
	answer := func(status int, body any) Route {
		return Route{Method: "POST", Path: "/" + strconv.Itoa(status), Public: true,
			Schemas: []Schema{{Responses: map[int]jsonschema.Schema{201: {"type": "object"}, 204: nil}}},
			Handler: func(r *http.Request) (Response, error) {
				if status >= 400 {
					return Response{}, &Error{Status: status, Message: "no"}
				}
				return Response{Status: status, Body: body}, nil
			}}
	}
	tests := []struct {
		route      Route
		violations int
	}{
		{answer(201, map[string]any{"id": "x"}), 0},
		{answer(204, nil), 0},
		{answer(200, map[string]any{"id": "x"}), 1},
		{answer(202, nil), 1},
		{answer(409, nil), 0},
	}
	for _, tt := range tests {
		var logs bytes.Buffer
		srv := NewServer(Options{Service: "thing", Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			Registry: prometheus.NewRegistry(), CheckResponses: true})
		srv.Mount([]Route{tt.route})
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("POST", tt.route.Path, nil))
		if got := strings.Count(logs.String(), ResponseViolation); got != tt.violations {
			t.Errorf("%s answering %d: %d violations, want %d:\n%s", tt.route.Path, rec.Code, got, tt.violations, logs.String())
		}
		if tt.violations > 0 && !strings.Contains(logs.String(), "is not one upstream answers (201, 204)") {
			t.Errorf("%s: the violation does not name upstream's statuses:\n%s", tt.route.Path, logs.String())
		}
	}
}

// TestLateValidation: a route that validates after its policy (Keystone's
// lazy_validate) answers a caller the policy refuses 403 whatever the body, and
// renders its own message, on a server that validates before the policy.
func TestLateValidation(t *testing.T) {
	enf := policy.NewEnforcer()
	if err := enf.Register(map[string]string{"thing:create": "role:admin"}); err != nil {
		t.Fatal(err)
	}
	srv := NewServer(Options{Service: "thing", Logger: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		Auth:   fakeAuth{"admin": {UserID: "a", Roles: []auth.Role{{Name: "admin"}}}, "reader": {UserID: "r", Roles: []auth.Role{{Name: "reader"}}}},
		Policy: enf, ValidateBeforePolicy: true,
		InvalidRequest: func(e *jsonschema.Error) *Error { return BadRequest("early: %s", e.Message) }})
	schema := []Schema{{Request: jsonschema.Schema{"type": "object", "required": []any{"name"}}}}
	ok := func(r *http.Request) (Response, error) { return OK(map[string]any{}), nil }
	srv.Mount([]Route{
		{Method: "POST", Path: "/early", Policy: "thing:create", Schemas: schema, Handler: ok},
		{Method: "POST", Path: "/late", Policy: "thing:create", Schemas: schema, Handler: ok,
			LateValidation: func(e *jsonschema.Error) *Error { return BadRequest("late: %s", e.Message) }},
	})
	tests := []struct {
		path, token string
		status      int
		contains    string
	}{
		{"/early", "reader", 400, "early: 'name' is a required property"},
		{"/late", "reader", 403, ""},
		{"/late", "admin", 400, "late: 'name' is a required property"},
	}
	for _, tt := range tests {
		req := httptest.NewRequest("POST", tt.path, strings.NewReader(`{}`))
		req.Header.Set("X-Auth-Token", tt.token)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.contains) {
			t.Errorf("%s as %s: %d %s, want %d with %q", tt.path, tt.token, rec.Code, rec.Body.String(), tt.status, tt.contains)
		}
	}
}
