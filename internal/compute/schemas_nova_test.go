package compute

import (
	"regexp"
	"slices"
	"strconv"
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

// TestNovaActionSchemas: a server action route's schemas hold each action
// served at the version, with the statuses the actions answer there.
func TestNovaActionSchemas(t *testing.T) {
	schemas, err := novaActionSchemas(novaActionRoutes["POST /v2.1/servers/{id}/action"])
	if err != nil {
		t.Fatal(err)
	}
	at := func(v httpapi.Version) httpapi.Schema {
		for _, sc := range schemas {
			if !v.Less(sc.Min) && (sc.Max == httpapi.Version{} || !sc.Max.Less(v)) {
				return sc
			}
		}
		t.Fatalf("no schema at %s", v)
		return httpapi.Schema{}
	}
	for _, tc := range []struct {
		version         httpapi.Version
		statuses        string
		present, absent string
	}{
		// os-getConsoleOutput, rescue, os-getVNCConsole 200; confirmResize 204;
		// the rest 202.
		{httpapi.Version{Major: 2, Minor: 1}, "200, 202, 204", "addFloatingIp", ""},
		{httpapi.Version{Major: 2, Minor: 6}, "200, 202, 204", "addFloatingIp", "os-getVNCConsole"},
		{httpapi.Version{Major: 2, Minor: 44}, "200, 202, 204", "reboot", "addFloatingIp"},
	} {
		sc := at(tc.version)
		var statuses []string
		for st := range sc.Responses {
			statuses = append(statuses, strconv.Itoa(st))
		}
		slices.Sort(statuses)
		if got := strings.Join(statuses, ", "); got != tc.statuses {
			t.Errorf("%s: statuses %s, want %s", tc.version, got, tc.statuses)
		}
		props := sc.Request["properties"].(map[string]any)
		if _, ok := props[tc.present]; !ok {
			t.Errorf("%s: no %s", tc.version, tc.present)
		}
		if _, ok := props[tc.absent]; ok && tc.absent != "" {
			t.Errorf("%s: %s served", tc.version, tc.absent)
		}
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
