package identity

import (
	"net/http"
	"testing"
)

func TestDomainLifecycle(t *testing.T) {
	e := newTestEnv(t)
	d := obj(e.Must(http.StatusCreated, "POST", "/v3/domains", e.AdminToken, map[string]any{"domain": map[string]any{
		"name": "acme", "description": "ACME"}}), "domain")
	id := d["id"].(string)
	if d["enabled"] != true || d["name"] != "acme" {
		t.Fatalf("domain: %v", d)
	}
	e.Must(http.StatusConflict, "POST", "/v3/domains", e.AdminToken, map[string]any{"domain": map[string]any{"name": "acme"}})
	e.Must(http.StatusForbidden, "POST", "/v3/domains", e.DemoToken, map[string]any{"domain": map[string]any{"name": "x"}})
	if got := list(e.Must(http.StatusOK, "GET", "/v3/domains?name=acme", e.AdminToken, nil), "domains"); len(got) != 1 {
		t.Fatalf("filter by name: %v", got)
	}
	// A project in the new domain goes with it.
	p := obj(e.Must(http.StatusCreated, "POST", "/v3/projects", e.AdminToken, map[string]any{"project": map[string]any{
		"name": "p", "domain_id": id}}), "project")
	if p["parent_id"] != id {
		t.Fatalf("top-level project's parent is its domain: %v", p)
	}
	e.Must(http.StatusForbidden, "DELETE", "/v3/domains/"+id, e.AdminToken, nil) // still enabled
	e.Must(http.StatusOK, "PATCH", "/v3/domains/"+id, e.AdminToken, map[string]any{"domain": map[string]any{"enabled": false}})
	e.Must(http.StatusNoContent, "DELETE", "/v3/domains/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/domains/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/projects/"+p["id"].(string), e.AdminToken, nil)
}

func TestDomainReaderOfOwnDomain(t *testing.T) {
	e := newTestEnv(t)
	e.Must(http.StatusOK, "GET", "/v3/domains/default", e.DemoToken, nil) // its project's domain
	e.Must(http.StatusForbidden, "GET", "/v3/domains", e.DemoToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/domains/nope", e.AdminToken, nil)
	e.Must(http.StatusBadRequest, "PATCH", "/v3/domains/default", e.AdminToken, map[string]any{"domain": map[string]any{"enabled": 1}})
}
