package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
)

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	return e
}

func TestNegotiate(t *testing.T) {
	nova := Microversions{Service: "compute", LegacyHeader: "X-OpenStack-Nova-API-Version",
		Min: Version{2, 1}, Max: Version{2, 90}}
	cinder := Microversions{Service: "volume", Min: Version{3, 0}, Max: Version{3, 70}}

	tests := []struct {
		name       string
		m          Microversions
		headers    map[string][]string
		want       Version
		wantStatus int // 0: success
	}{
		{"no header gives min", nova, nil, Version{2, 1}, 0},
		{"latest", nova, map[string][]string{"OpenStack-API-Version": {"compute latest"}}, Version{2, 90}, 0},
		{"LATEST", nova, map[string][]string{"OpenStack-API-Version": {"compute LATEST"}}, Version{2, 90}, 0},
		{"explicit", nova, map[string][]string{"OpenStack-API-Version": {"compute 2.5"}}, Version{2, 5}, 0},
		{"minor above 9", nova, map[string][]string{"OpenStack-API-Version": {"compute 2.10"}}, Version{2, 10}, 0},
		{"min bound", nova, map[string][]string{"OpenStack-API-Version": {"compute 2.1"}}, Version{2, 1}, 0},
		{"max bound", nova, map[string][]string{"OpenStack-API-Version": {"compute 2.90"}}, Version{2, 90}, 0},
		{"service name case", nova, map[string][]string{"OpenStack-API-Version": {"Compute 2.7"}}, Version{2, 7}, 0},
		{"extra spaces", nova, map[string][]string{"OpenStack-API-Version": {"  compute   2.7  "}}, Version{2, 7}, 0},
		{"other service only", nova, map[string][]string{"OpenStack-API-Version": {"volume 3.5"}}, Version{2, 1}, 0},
		{"list of services", nova, map[string][]string{"OpenStack-API-Version": {"volume 3.5, compute 2.42"}}, Version{2, 42}, 0},
		{"repeated headers", nova, map[string][]string{"OpenStack-API-Version": {"volume 3.5", "compute 2.43"}}, Version{2, 43}, 0},
		{"legacy header", nova, map[string][]string{"X-OpenStack-Nova-API-Version": {"2.20"}}, Version{2, 20}, 0},
		{"legacy latest", nova, map[string][]string{"X-OpenStack-Nova-API-Version": {"latest"}}, Version{2, 90}, 0},
		{"new header wins over legacy", nova, map[string][]string{
			"OpenStack-API-Version": {"compute 2.30"}, "X-OpenStack-Nova-API-Version": {"2.20"}}, Version{2, 30}, 0},
		{"legacy ignored without legacy support", cinder, map[string][]string{"X-OpenStack-Nova-API-Version": {"3.9"}}, Version{3, 0}, 0},
		{"cinder", cinder, map[string][]string{"OpenStack-API-Version": {"volume 3.27"}}, Version{3, 27}, 0},

		{"above max", nova, map[string][]string{"OpenStack-API-Version": {"compute 2.91"}}, Version{}, 406},
		{"major above", nova, map[string][]string{"OpenStack-API-Version": {"compute 3.0"}}, Version{}, 406},
		{"below min", nova, map[string][]string{"OpenStack-API-Version": {"compute 2.0"}}, Version{}, 406},
		{"major below", nova, map[string][]string{"OpenStack-API-Version": {"compute 1.99"}}, Version{}, 406},
		{"legacy out of range", nova, map[string][]string{"X-OpenStack-Nova-API-Version": {"2.100"}}, Version{}, 406},

		{"no minor", nova, map[string][]string{"OpenStack-API-Version": {"compute 2"}}, Version{}, 400},
		{"words", nova, map[string][]string{"OpenStack-API-Version": {"compute abc"}}, Version{}, 400},
		{"bad minor", nova, map[string][]string{"OpenStack-API-Version": {"compute 2.x"}}, Version{}, 400},
		{"negative", nova, map[string][]string{"OpenStack-API-Version": {"compute -2.1"}}, Version{}, 400},
		{"three parts", nova, map[string][]string{"OpenStack-API-Version": {"compute 2.1.1"}}, Version{}, 400},
		{"legacy malformed", nova, map[string][]string{"X-OpenStack-Nova-API-Version": {"two"}}, Version{}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			got, err := tc.m.Negotiate(r)
			if tc.wantStatus == 0 {
				if err != nil || got != tc.want {
					t.Fatalf("Negotiate = %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Negotiate = %v, want error %d", got, tc.wantStatus)
			}
			if e := asError(t, err); e.Status != tc.wantStatus {
				t.Fatalf("status %d (%s), want %d", e.Status, e.Message, tc.wantStatus)
			}
		})
	}
}

func TestEcho(t *testing.T) {
	nova := Microversions{Service: "compute", LegacyHeader: "X-OpenStack-Nova-API-Version", Min: Version{2, 1}, Max: Version{2, 90}}
	h := http.Header{}
	nova.Echo(h, Version{2, 53})
	if h.Get("OpenStack-API-Version") != "compute 2.53" || h.Get("X-OpenStack-Nova-API-Version") != "2.53" ||
		h.Get("Vary") != "OpenStack-API-Version, X-OpenStack-Nova-API-Version" {
		t.Fatalf("headers %v", h)
	}
	cinder := Microversions{Service: "volume", Min: Version{3, 0}, Max: Version{3, 70}}
	h = http.Header{}
	cinder.Echo(h, Version{3, 0})
	if h.Get("OpenStack-API-Version") != "volume 3.0" || h.Get("Vary") != "OpenStack-API-Version" || len(h) != 2 {
		t.Fatalf("headers %v", h)
	}
}

func TestVersionOrdering(t *testing.T) {
	for _, tc := range []struct {
		a, b Version
		less bool
	}{
		{Version{2, 1}, Version{2, 10}, true},
		{Version{2, 10}, Version{2, 9}, false},
		{Version{1, 99}, Version{2, 0}, true},
		{Version{2, 0}, Version{2, 0}, false},
	} {
		if tc.a.Less(tc.b) != tc.less || tc.a.AtLeast(tc.b) == tc.less {
			t.Errorf("%v vs %v", tc.a, tc.b)
		}
	}
	if v, err := ParseVersion("2.79"); err != nil || v != (Version{2, 79}) || v.String() != "2.79" {
		t.Errorf("ParseVersion(2.79) = %v, %v", v, err)
	}
}

func TestParsePage(t *testing.T) {
	tests := []struct {
		query    string
		maxLimit int
		want     Page
		status   int
	}{
		{"", 0, Page{}, 0},
		{"limit=5", 0, Page{Limit: 5}, 0},
		{"limit=0", 0, Page{}, 0},
		{"marker=abc", 0, Page{Marker: "abc"}, 0},
		{"limit=2&marker=abc", 0, Page{Limit: 2, Marker: "abc"}, 0},
		{"", 100, Page{Limit: 100}, 0},
		{"limit=0", 100, Page{Limit: 100}, 0},
		{"limit=1000", 100, Page{Limit: 100}, 0},
		{"limit=100", 100, Page{Limit: 100}, 0},
		{"limit=7", 100, Page{Limit: 7}, 0},
		{"limit=-1", 0, Page{}, 400},
		{"limit=abc", 0, Page{}, 400},
		{"limit=1.5", 0, Page{}, 400},
		{"limit=99999999999999999999999", 0, Page{}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v3/users?"+tc.query, nil)
			p, err := ParsePage(r, tc.maxLimit)
			if tc.status != 0 {
				if e := asError(t, err); e.Status != tc.status {
					t.Fatalf("status %d", e.Status)
				}
				return
			}
			if err != nil || p != tc.want {
				t.Fatalf("ParsePage = %+v, %v; want %+v", p, err, tc.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	items := []string{"a", "b", "c", "d", "e"}
	id := func(s string) string { return s }
	tests := []struct {
		page   Page
		want   []string
		more   bool
		status int
	}{
		{Page{}, items, false, 0},
		{Page{Limit: 2}, []string{"a", "b"}, true, 0},
		{Page{Limit: 5}, items, false, 0},
		{Page{Limit: 6}, items, false, 0},
		{Page{Limit: 4}, []string{"a", "b", "c", "d"}, true, 0},
		{Page{Marker: "b"}, []string{"c", "d", "e"}, false, 0},
		{Page{Marker: "b", Limit: 2}, []string{"c", "d"}, true, 0},
		{Page{Marker: "c", Limit: 2}, []string{"d", "e"}, false, 0},
		{Page{Marker: "e", Limit: 2}, []string{}, false, 0},
		{Page{Marker: "zz"}, nil, false, 404},
		{Page{Marker: "zz", Limit: 1}, nil, false, 404},
	}
	for _, tc := range tests {
		got, more, err := Apply(tc.page, items, id)
		if tc.status != 0 {
			if e := asError(t, err); e.Status != tc.status || !strings.Contains(e.Message, tc.page.Marker) {
				t.Errorf("%+v: %d %q", tc.page, e.Status, e.Message)
			}
			continue
		}
		if err != nil || more != tc.more || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("Apply(%+v) = %v, %v, %v; want %v, %v", tc.page, got, more, err, tc.want, tc.more)
		}
	}
	// Walking pages with the last id as marker visits every item once.
	var seen []string
	p := Page{Limit: 2}
	for {
		got, more, err := Apply(p, items, id)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, got...)
		if !more {
			break
		}
		p.Marker = got[len(got)-1]
	}
	if strings.Join(seen, "") != "abcde" {
		t.Fatalf("paged walk saw %v", seen)
	}
}

type decodeTarget struct {
	Name    string            `json:"name"`
	Enabled bool              `json:"enabled"`
	Count   int               `json:"count"`
	Meta    map[string]string `json:"meta"`
	Nested  struct {
		Size  int     `json:"size"`
		Label *string `json:"label"`
	} `json:"nested"`
	Tags []string `json:"tags"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		status   int
		contains []string
	}{
		{"valid", `{"name":"n","enabled":true,"count":3,"meta":{"k":"v"},"nested":{"size":2},"tags":["x"]}`, 0, nil},
		{"unknown fields ignored", `{"other":1}`, 0, nil},
		{"empty", ``, 400, []string{"empty"}},
		{"whitespace", " \n\t", 400, []string{"empty"}},
		{"malformed", `{"name":`, 400, []string{"Malformed"}},
		{"malformed syntax", `{"name" "x"}`, 400, []string{"Malformed JSON", "offset"}},
		{"trailing garbage", `{"name":"x"} extra`, 400, nil},
		{"not json", `name=x`, 400, []string{"Malformed"}},
		{"string for int", `{"count":"three"}`, 400, []string{"'count'", "number", "string"}},
		{"float for int", `{"count":1.5}`, 400, []string{"'count'", "number"}},
		{"string for bool", `{"enabled":"yes"}`, 400, []string{"'enabled'", "boolean"}},
		{"number for string", `{"name":5}`, 400, []string{"'name'", "expected string"}},
		{"array for map", `{"meta":[1]}`, 400, []string{"'meta'", "object"}},
		{"number in map", `{"meta":{"k":1}}`, 400, []string{"meta", "string"}},
		{"nested wrong type", `{"nested":{"size":"big"}}`, 400, []string{"'nested.size'", "number"}},
		{"nested pointer wrong type", `{"nested":{"label":false}}`, 400, []string{"'nested.label'", "string"}},
		{"object for array", `{"tags":{}}`, 400, []string{"'tags'", "array"}},
		{"array at top", `[1,2]`, 400, []string{"object"}},
		{"string at top", `"x"`, 400, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, viaRequest := range []bool{false, true} {
				var dst decodeTarget
				var err error
				if viaRequest {
					err = DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(tc.body)), &dst)
				} else {
					err = DecodeJSONBytes([]byte(tc.body), &dst)
				}
				if tc.status == 0 {
					if err != nil {
						t.Fatalf("err=%v", err)
					}
					continue
				}
				e := asError(t, err)
				if e.Status != tc.status {
					t.Fatalf("status %d, want %d (%s)", e.Status, tc.status, e.Message)
				}
				for _, c := range tc.contains {
					if !strings.Contains(e.Message, c) {
						t.Errorf("message %q does not contain %q", e.Message, c)
					}
				}
			}
		})
	}
	var dst decodeTarget
	if err := DecodeJSONBytes([]byte(`{"name":"n","enabled":true,"count":3,"meta":{"k":"v"},"nested":{"size":2}}`), &dst); err != nil ||
		dst.Name != "n" || !dst.Enabled || dst.Count != 3 || dst.Meta["k"] != "v" || dst.Nested.Size != 2 {
		t.Fatalf("decoded %+v, %v", dst, err)
	}
}

func TestDecodeJSONBodyErrors(t *testing.T) {
	var dst decodeTarget
	// No body at all.
	r := httptest.NewRequest("POST", "/", nil)
	r.Body = nil
	if e := asError(t, DecodeJSON(r, &dst)); e.Status != 400 {
		t.Errorf("nil body: %d", e.Status)
	}
	// Over the MaxBytesReader limit.
	body := `{"name":"` + strings.Repeat("x", 200) + `"}`
	r = httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 100)
	if e := asError(t, DecodeJSON(r, &dst)); e.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d %s", e.Status, e.Message)
	}
	// Exactly at the limit is fine.
	r = httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, int64(len(body)))
	if err := DecodeJSON(r, &dst); err != nil {
		t.Errorf("body at the limit: %v", err)
	}
	// Other read errors are 400.
	r = httptest.NewRequest("POST", "/", nil)
	r.Body = io.NopCloser(iotest.ErrReader(errors.New("connection reset")))
	if e := asError(t, DecodeJSON(r, &dst)); e.Status != 400 {
		t.Errorf("read error: %d", e.Status)
	}
}

func TestValidRequestID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"req-3f2b5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", true},
		{"req-00000000-0000-0000-0000-000000000000", true},
		{NewRequestID(), true},
		{"", false},
		{"req-", false},
		{"3f2b5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", false},
		{"req-3F2B5A4E-1C2D-4E5F-8A9B-0C1D2E3F4A5B", false},
		{"req-3f2b5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5", false},
		{"req-3f2b5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5bb", false},
		{"req-3f2b5a4e1c2d-4e5f-8a9b-0c1d2e3f4a5b0", false},
		{"req-3f2b5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5g", false},
		{"REQ-3f2b5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", false},
		{"req-3f2b5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a\n5", false},
		{"req-3f2b5a4e-1c2d-4e5f-8a9b-0c1d2e3f4aé", false},
		{"req-------------------------------------", false},
		{"xxx-3f2b5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", false},
	} {
		if got := validRequestID(tc.id); got != tc.want {
			t.Errorf("validRequestID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}

var requestIDRE = regexp.MustCompile(`^req-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewRequestID(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		id := NewRequestID()
		if !requestIDRE.MatchString(id) {
			t.Fatalf("NewRequestID() = %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
	}
}

// fakeAuth maps token strings to credentials.
type fakeAuth map[string]*auth.Credentials

func (f fakeAuth) Authenticate(_ context.Context, token string) (*auth.Credentials, error) {
	if c, ok := f[token]; ok {
		return c, nil
	}
	return nil, errors.New("the token is invalid, expired or revoked")
}

type errorBody struct {
	Error struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
		Title   string `json:"title"`
	} `json:"error"`
}

type testServer struct {
	*httptest.Server
	t *testing.T
}

func (s testServer) do(method, path, token string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp, b
}

func (s testServer) expectError(resp *http.Response, b []byte, status int) errorBody {
	s.t.Helper()
	if resp.StatusCode != status {
		s.t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, b)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		s.t.Errorf("Content-Type %q", ct)
	}
	var raw map[string]map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		s.t.Fatalf("error body %s: %v", b, err)
	}
	if len(raw) != 1 || len(raw["error"]) != 3 {
		s.t.Errorf("error body shape %s, want {\"error\":{code,message,title}}", b)
	}
	var eb errorBody
	_ = json.Unmarshal(b, &eb)
	if eb.Error.Code != status || eb.Error.Title != http.StatusText(status) || eb.Error.Message == "" {
		s.t.Errorf("error body %s", b)
	}
	return eb
}

func newTestServer(t *testing.T) (testServer, *prometheus.Registry) {
	t.Helper()
	enf := policy.NewEnforcer()
	if err := enf.Register(map[string]string{
		"thing:get":   "role:admin or role:reader",
		"thing:admin": "role:admin",
		"thing:own":   "user_id:%(target.owner_id)s",
	}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv := NewServer(Options{
		Service:  "test",
		Logger:   slog.New(slog.DiscardHandler),
		Auth:     fakeAuth{"admin-token": {UserID: "admin", Roles: []auth.Role{{ID: "r1", Name: "admin"}}}, "reader-token": {UserID: "u1", Roles: []auth.Role{{ID: "r2", Name: "reader"}}}, "norole-token": {UserID: "u2"}},
		Policy:   enf,
		Registry: reg,
		OnUnauthorized: func(e *Error) {
			if e.Header == nil {
				e.Header = http.Header{}
			}
			e.Header.Set("WWW-Authenticate", `Keystone uri="http://example"`)
		},
		MaxBodyBytes: 1024,
	})
	echoCaller := func(r *http.Request) (Response, error) {
		c := auth.FromContext(r.Context())
		user := ""
		if c != nil {
			user = c.UserID
		}
		return OK(map[string]any{"user": user, "request_id": RequestID(r.Context())}), nil
	}
	srv.Mount([]Route{
		{Method: "GET", Path: "/v3/public", Public: true, Handler: echoCaller},
		{Method: "GET", Path: "/v3/any", Handler: echoCaller},
		{Method: "GET", Path: "/v3/things/{id}", Policy: "thing:get", Handler: func(r *http.Request) (Response, error) {
			return OK(map[string]string{"id": r.PathValue("id")}), nil
		}},
		{Method: "DELETE", Path: "/v3/things/{id}", Policy: "thing:admin", Handler: func(r *http.Request) (Response, error) {
			return NoContent(), nil
		}},
		{Method: "GET", Path: "/v3/owned/{owner}", Policy: "thing:own",
			Target: func(r *http.Request) (map[string]any, error) {
				if r.PathValue("owner") == "missing" {
					return nil, NotFound("Could not find owner.")
				}
				return map[string]any{"target.owner_id": r.PathValue("owner")}, nil
			},
			Handler: echoCaller},
		{Method: "GET", Path: "/v3/unknown-rule", Policy: "no:such:rule", Handler: echoCaller},
		{Method: "GET", Path: "/v3/panic", Public: true, Handler: func(r *http.Request) (Response, error) {
			panic("boom")
		}},
		{Method: "GET", Path: "/v3/fail", Public: true, Handler: func(r *http.Request) (Response, error) {
			return Response{}, errors.New("database password is hunter2")
		}},
		{Method: "GET", Path: "/v3/conflict", Public: true, Handler: func(r *http.Request) (Response, error) {
			return Response{}, Conflict("Duplicate entry %s.", "x")
		}},
		{Method: "GET", Path: "/v3/raw", Public: true, Handler: func(r *http.Request) (Response, error) {
			return Response{Status: 202, Body: []byte("raw bytes")}.WithHeader("X-Extra", "1"), nil
		}},
		{Method: "POST", Path: "/v3/echo", Public: true, Handler: func(r *http.Request) (Response, error) {
			var in map[string]any
			if err := DecodeJSON(r, &in); err != nil {
				return Response{}, err
			}
			return Created(in), nil
		}},
	})
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return testServer{hs, t}, reg
}

func TestServer(t *testing.T) {
	s, reg := newTestServer(t)

	t.Run("public route needs no token", func(t *testing.T) {
		resp, b := s.do("GET", "/v3/public", "", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		var out map[string]string
		if err := json.Unmarshal(b, &out); err != nil || out["user"] != "" {
			t.Fatalf("body %s", b)
		}
		if out["request_id"] != resp.Header.Get("X-Openstack-Request-Id") {
			t.Errorf("handler saw request id %q, header %q", out["request_id"], resp.Header.Get("X-Openstack-Request-Id"))
		}
	})

	t.Run("401 without token", func(t *testing.T) {
		for _, path := range []string{"/v3/any", "/v3/things/1"} {
			resp, b := s.do("GET", path, "", nil)
			eb := s.expectError(resp, b, 401)
			if eb.Error.Title != "Unauthorized" {
				t.Errorf("title %q", eb.Error.Title)
			}
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("OnUnauthorized not applied")
			}
		}
	})

	t.Run("401 with an invalid token", func(t *testing.T) {
		resp, b := s.do("GET", "/v3/things/1", "bogus", nil)
		eb := s.expectError(resp, b, 401)
		if strings.Contains(eb.Error.Message, "revoked") {
			t.Errorf("authenticator's error leaked: %q", eb.Error.Message)
		}
	})

	t.Run("any valid token when no policy", func(t *testing.T) {
		resp, b := s.do("GET", "/v3/any", "norole-token", nil)
		if resp.StatusCode != 200 || !strings.Contains(string(b), `"user":"u2"`) {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})

	t.Run("403 when policy denies", func(t *testing.T) {
		resp, b := s.do("GET", "/v3/things/1", "norole-token", nil)
		eb := s.expectError(resp, b, 403)
		if eb.Error.Title != "Forbidden" || !strings.Contains(eb.Error.Message, "thing:get") {
			t.Errorf("body %s", b)
		}
		resp, b = s.do("DELETE", "/v3/things/1", "reader-token", nil)
		s.expectError(resp, b, 403)
		resp, b = s.do("GET", "/v3/unknown-rule", "admin-token", nil)
		s.expectError(resp, b, 403)
	})

	t.Run("200 when policy allows", func(t *testing.T) {
		for _, tok := range []string{"reader-token", "admin-token"} {
			resp, b := s.do("GET", "/v3/things/42", tok, nil)
			if resp.StatusCode != 200 || string(b) != `{"id":"42"}` {
				t.Fatalf("%s: %d %s", tok, resp.StatusCode, b)
			}
		}
		resp, b := s.do("DELETE", "/v3/things/1", "admin-token", nil)
		if resp.StatusCode != 204 || len(b) != 0 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	})

	t.Run("policy target", func(t *testing.T) {
		resp, b := s.do("GET", "/v3/owned/u1", "reader-token", nil)
		if resp.StatusCode != 200 {
			t.Fatalf("owner: %d %s", resp.StatusCode, b)
		}
		resp, b = s.do("GET", "/v3/owned/u2", "reader-token", nil)
		s.expectError(resp, b, 403)
		resp, b = s.do("GET", "/v3/owned/missing", "reader-token", nil)
		s.expectError(resp, b, 404)
	})

	t.Run("request id generated", func(t *testing.T) {
		ids := map[string]bool{}
		for _, path := range []string{"/v3/public", "/v3/any", "/nope", "/healthcheck", "/v3/panic"} {
			resp, _ := s.do("GET", path, "", nil)
			id := resp.Header.Get("X-Openstack-Request-Id")
			if !requestIDRE.MatchString(id) {
				t.Errorf("%s: request id %q", path, id)
			}
			if ids[id] {
				t.Errorf("%s: request id %q reused", path, id)
			}
			ids[id] = true
		}
	})

	t.Run("caller request id echoed", func(t *testing.T) {
		const id = "req-3f2b5a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
		resp, b := s.do("GET", "/v3/public", "", nil, "X-Openstack-Request-Id", id)
		if got := resp.Header.Get("X-Openstack-Request-Id"); got != id {
			t.Fatalf("request id %q, want %q", got, id)
		}
		if !strings.Contains(string(b), id) {
			t.Errorf("handler did not see the caller's id: %s", b)
		}
		resp, _ = s.do("GET", "/v3/public", "", nil, "X-Openstack-Request-Id", "req-forged log line")
		if got := resp.Header.Get("X-Openstack-Request-Id"); got == "req-forged log line" || !requestIDRE.MatchString(got) {
			t.Fatalf("invalid caller id not replaced: %q", got)
		}
	})

	t.Run("panic gives 500", func(t *testing.T) {
		resp, b := s.do("GET", "/v3/panic", "", nil)
		eb := s.expectError(resp, b, 500)
		if strings.Contains(eb.Error.Message, "boom") {
			t.Errorf("panic value leaked: %s", b)
		}
		// The server keeps serving.
		if resp, _ := s.do("GET", "/healthcheck", "", nil); resp.StatusCode != 200 {
			t.Fatal("server died after a panic")
		}
	})

	t.Run("plain error gives opaque 500", func(t *testing.T) {
		resp, b := s.do("GET", "/v3/fail", "", nil)
		s.expectError(resp, b, 500)
		if strings.Contains(string(b), "hunter2") {
			t.Fatalf("internal error leaked: %s", b)
		}
	})

	t.Run("handler *Error rendered", func(t *testing.T) {
		resp, b := s.do("GET", "/v3/conflict", "", nil)
		eb := s.expectError(resp, b, 409)
		if eb.Error.Message != "Duplicate entry x." {
			t.Errorf("message %q", eb.Error.Message)
		}
	})

	t.Run("raw body and headers", func(t *testing.T) {
		resp, b := s.do("GET", "/v3/raw", "", nil)
		if resp.StatusCode != 202 || string(b) != "raw bytes" || resp.Header.Get("X-Extra") != "1" {
			t.Fatalf("%d %q %v", resp.StatusCode, b, resp.Header)
		}
		resp, b = s.do("HEAD", "/v3/raw", "", nil)
		if resp.StatusCode != 202 || len(b) != 0 {
			t.Fatalf("HEAD: %d %q", resp.StatusCode, b)
		}
	})

	t.Run("body limits", func(t *testing.T) {
		resp, b := s.do("POST", "/v3/echo", "", strings.NewReader(`{"a":"b"}`))
		if resp.StatusCode != 201 || string(b) != `{"a":"b"}` {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		resp, b = s.do("POST", "/v3/echo", "", strings.NewReader(`{"a":`))
		s.expectError(resp, b, 400)
		resp, b = s.do("POST", "/v3/echo", "", strings.NewReader(`{"a":"`+strings.Repeat("x", 2048)+`"}`))
		s.expectError(resp, b, 413)
	})

	t.Run("unknown path gives 404", func(t *testing.T) {
		for _, path := range []string{"/nope", "/v3/things", "/v3/things/1/extra", "/"} {
			resp, b := s.do("GET", path, "admin-token", nil)
			s.expectError(resp, b, 404)
		}
	})

	t.Run("wrong method gives 405 with Allow", func(t *testing.T) {
		resp, b := s.do("DELETE", "/healthcheck", "admin-token", nil)
		s.expectError(resp, b, 405)
		if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") {
			t.Fatalf("Allow = %q", allow)
		}
	})

	t.Run("healthcheck", func(t *testing.T) {
		resp, b := s.do("GET", "/healthcheck", "", nil)
		if resp.StatusCode != 200 || string(b) != "OK" {
			t.Fatalf("%d %q", resp.StatusCode, b)
		}
	})

	t.Run("no metrics on the API port", func(t *testing.T) {
		resp, _ := s.do("GET", "/metrics", "", nil)
		if resp.StatusCode != http.StatusNotFound {
			t.Fatalf("GET /metrics on the API: %d, want 404", resp.StatusCode)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		rec := httptest.NewRecorder()
		MetricsHandler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != 200 {
			t.Fatalf("%d", rec.Code)
		}
		text := rec.Body.String()
		if !strings.Contains(text, "nimbus_http_request_duration_seconds") {
			t.Fatalf("metrics lack the latency histogram:\n%s", text)
		}
		for _, want := range []string{
			`route="GET /v3/things/{id}"`, `code="403"`, `code="500"`, `route="unmatched"`, `service="test"`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

// TestServersShareRegistry checks that two servers on one registry both work (the
// second reuses the histogram the first registered).
func TestServersShareRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	for i := 0; i < 2; i++ {
		srv := NewServer(Options{Service: "same", Logger: slog.New(slog.DiscardHandler), Registry: reg})
		srv.Mount([]Route{{Method: "GET", Path: "/x", Public: true, Handler: func(*http.Request) (Response, error) {
			return OK(map[string]int{"i": 1}), nil
		}}})
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest("GET", "/x", nil))
		if rec.Code != 200 {
			t.Fatalf("server %d: %d", i, rec.Code)
		}
	}
	rec := httptest.NewRecorder()
	MetricsHandler(reg).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !bytes.Contains(rec.Body.Bytes(), []byte(`nimbus_http_request_duration_seconds_count{code="200",method="GET",route="GET /x",service="same"} 2`)) {
		t.Fatalf("metrics:\n%s", rec.Body.String())
	}
}

func TestEnforceWithoutCredentials(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if e := asError(t, Enforce(r, policy.NewEnforcer(), "x", nil)); e.Status != 401 {
		t.Fatalf("status %d", e.Status)
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"name":"n","enabled":true,"count":3,"meta":{"k":"v"},"nested":{"size":2}}`,
		`{"count":"x"}`, `{"nested":{"size":"big"}}`, `[]`, `null`, ``, `{`, `{"meta":{"a":{}}}`,
		`{"count":1e400}`, `{"name":"\ud800"}`, `{"tags":[1]}`, `{"nested":{"label":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var dst decodeTarget
		err := DecodeJSONBytes(b, &dst)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Message == "" {
			t.Fatalf("DecodeJSONBytes(%q) = %v, want nil or a 400 *Error", b, err)
		}
	})
}

// TestSharedUnauthorizedErrorIsNotWritten: a service's shared 401 (identity's one
// answer to every failed login) is answered concurrently; OnUnauthorized adds
// its header to a copy, never to the shared value (run with -race).
func TestSharedUnauthorizedErrorIsNotWritten(t *testing.T) {
	shared := Unauthorized("The request you have made requires authentication.")
	srv := NewServer(Options{Service: "identity", Logger: slog.New(slog.DiscardHandler),
		OnUnauthorized: func(e *Error) {
			if e.Header == nil {
				e.Header = http.Header{}
			}
			e.Header.Set("WWW-Authenticate", `Keystone uri="http://example"`)
		}})
	srv.Mount([]Route{{Method: "POST", Path: "/login", Public: true, Handler: func(*http.Request) (Response, error) {
		return Response{}, shared
	}}})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	done := make(chan string, 8)
	for range cap(done) {
		go func() {
			resp, err := http.Post(ts.URL+"/login", "application/json", nil)
			if err != nil {
				done <- err.Error()
				return
			}
			resp.Body.Close()
			done <- resp.Header.Get("WWW-Authenticate")
		}()
	}
	for range cap(done) {
		if got := <-done; got != `Keystone uri="http://example"` {
			t.Errorf("WWW-Authenticate %q", got)
		}
	}
	if shared.Header != nil {
		t.Fatalf("the shared error was written to: %v", shared.Header)
	}
}
