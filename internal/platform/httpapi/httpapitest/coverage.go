package httpapitest

import (
	"net/http"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// RoutesWithoutSchemas lists the routes of a table that have no schema of a
// kind in any of their versions' Schemas: "POST /v2.1/servers: no request
// schema" for a route that takes a body (POST, PUT, PATCH) without a request
// schema, "GET /v3/users: no response schema" for one without response schemas
// (a route answering without a body still lists its status, mapped to nil).
func RoutesWithoutSchemas(routes []httpapi.Route) []string {
	var out []string
	for _, rt := range routes {
		name := rt.Method + " " + rt.Path
		hasRequest, hasResponse := false, false
		for _, sc := range rt.Schemas {
			hasRequest = hasRequest || sc.Request != nil
			hasResponse = hasResponse || len(sc.Responses) > 0
		}
		switch rt.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			if !hasRequest {
				out = append(out, name+": no request schema")
			}
		}
		if !hasResponse {
			out = append(out, name+": no response schema")
		}
	}
	return out
}

// CheckSchemaCoverage fails the test for each route of a service's table
// without the schemas RoutesWithoutSchemas looks for, unless exceptions names
// it (with the reason: a body upstream does not validate either, say), and for
// each exception that no longer holds, so the list shrinks as schemas land.
func CheckSchemaCoverage(t testing.TB, routes []httpapi.Route, exceptions map[string]string) {
	t.Helper()
	missing := RoutesWithoutSchemas(routes)
	for _, m := range missing {
		if exceptions[m] == "" {
			t.Errorf("%s (add upstream's schema, or list the route with the reason)", m)
		}
	}
	for m := range exceptions {
		if !slices.Contains(missing, m) {
			t.Errorf("%s is listed as an exception but has its schema now (or no such route): take it off the list", m)
		}
	}
}
