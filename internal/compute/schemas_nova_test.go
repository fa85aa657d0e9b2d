package compute

import (
	"regexp"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi/httpapitest"
)

// TestNovaSchemas: every upstream schema loads, every pattern in it is one RE2
// compiles (a pattern that does not would refuse every request), every route
// of novaRouteMethods names an upstream method and a route of the table, and
// the ranges split as upstream's declarations do.
func TestNovaSchemas(t *testing.T) {
	novaOnce.Do(loadNova)
	if novaErr != nil {
		t.Fatal(novaErr)
	}
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if k == "pattern" {
					if p, ok := val.(string); ok {
						if _, err := regexp.Compile(p); err != nil {
							t.Errorf("%s: pattern %.60q: %v", where, p, err)
						}
					}
				}
				if k == "patternProperties" {
					for p := range val.(map[string]any) {
						if _, err := regexp.Compile(p); err != nil {
							t.Errorf("%s: patternProperties %.60q: %v", where, p, err)
						}
					}
				}
				if k == "const" || k == "prefixItems" {
					t.Errorf("%s: %s left in draft 4", where, k)
				}
				walk(where, val)
			}
		case []any:
			for _, val := range x {
				walk(where, val)
			}
		}
	}
	for module, schemas := range novaModules {
		for name, s := range schemas {
			walk(module+"."+name, s)
		}
	}
	e := newTestEnv(t, nil)
	routes := map[string]bool{}
	for _, rt := range e.Compute.routes() {
		routes[rt.Method+" "+rt.Path] = true
	}
	for route, method := range novaRouteMethods {
		if !routes[route] {
			t.Errorf("%s: no such route", route)
		}
		if _, err := novaRouteSchemas(method, "request", "response"); err != nil {
			t.Errorf("%s: %v", route, err)
		}
	}
	// hypervisors.detail: five response ranges, each with its schema.
	got, err := novaRouteSchemas("hypervisors.detail", "response")
	if err != nil {
		t.Fatal(err)
	}
	var ranges []string
	for _, sc := range got {
		ranges = append(ranges, sc.Min.String()+"-"+sc.Max.String())
	}
	if strings.Join(ranges, " ") != "2.1-2.27 2.28-2.32 2.33-2.52 2.53-2.87 2.88-0.0" {
		t.Errorf("hypervisors.detail ranges: %v", ranges)
	}
	// keypairs.create: 200 to 2.1, 201 from 2.2.
	kp, _ := novaRouteSchemas("keypairs.create", "response")
	if _, ok := kp[0].Responses[200]; !ok || kp[0].Max != (httpapi.Version{Major: 2, Minor: 1}) {
		t.Errorf("keypairs.create at 2.1: %+v", kp[0])
	}
	if _, ok := kp[1].Responses[201]; !ok {
		t.Errorf("keypairs.create at 2.2: %+v", kp[1])
	}
}

// TestSchemaCoverage: every route the compute API mounts has upstream's
// request schema (a route taking a body) and its response schemas, per
// microversion, after withNovaSchemas.
func TestSchemaCoverage(t *testing.T) {
	e := newTestEnv(t, nil)
	routes, err := withNovaSchemas(e.Compute.routes())
	if err != nil {
		t.Fatal(err)
	}
	httpapitest.CheckSchemaCoverage(t, routes, map[string]string{})
}
