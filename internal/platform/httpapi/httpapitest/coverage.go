package httpapitest

import (
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// RoutesWithoutSchemas lists the routes of a table that have no schema of a
// kind in any of their versions' Schemas: "POST /v2.1/servers: no request schema" for a route that
// takes a body (POST, PUT, PATCH) without a request schema, "GET /v3/users: no
// response schema" for one without a response schema. A service's test can
// hold its table to it, with the exceptions upstream has (bodies upstream does
// not validate, answers without a body) listed beside:
//
//	for _, missing := range httpapitest.RoutesWithoutSchemas(s.routes()) {
//		if !exceptions[missing] {
//			t.Error(missing)
//		}
//	}
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
