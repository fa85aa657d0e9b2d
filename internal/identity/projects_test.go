package identity

import (
	"net/http"
	"testing"
)

func TestProjectLifecycle(t *testing.T) {
	e := newTestEnv(t)
	out := e.Must(http.StatusCreated, "POST", "/v3/projects", e.AdminToken, map[string]any{"project": map[string]any{
		"name": "p1", "description": "first", "tags": []string{"a", "b"}, "color": "blue"}})
	p := obj(out, "project")
	id := p["id"].(string)
	if p["domain_id"] != "default" || p["parent_id"] != "default" || p["enabled"] != true || p["color"] != "blue" ||
		p["is_domain"] != false || len(p["tags"].([]any)) != 2 {
		t.Fatalf("created project: %v", p)
	}
	if self := obj(p, "links")["self"]; self != e.URL+"/v3/projects/"+id {
		t.Fatalf("links.self = %v", self)
	}
	e.Must(http.StatusConflict, "POST", "/v3/projects", e.AdminToken, map[string]any{"project": map[string]any{"name": "p1"}})
	child := obj(e.Must(http.StatusCreated, "POST", "/v3/projects", e.AdminToken, map[string]any{"project": map[string]any{
		"name": "child", "parent_id": id}}), "project")
	if child["parent_id"] != id || child["domain_id"] != "default" {
		t.Fatalf("child: %v", child)
	}
	tests := []struct {
		query string
		want  int
	}{
		{"?name=p1", 1},
		{"?parent_id=" + id, 1},
		{"?tags=a,b", 1},
		{"?tags=a,c", 0},
		{"?tags-any=c,b", 1},
		{"?not-tags-any=a", 3}, // admin, demo, child
		{"?enabled=false", 0},
		{"?domain_id=nope", 0},
	}
	for _, tt := range tests {
		got := list(e.Must(http.StatusOK, "GET", "/v3/projects"+tt.query, e.AdminToken, nil), "projects")
		if len(got) != tt.want {
			t.Errorf("GET /v3/projects%s: %d projects, want %d", tt.query, len(got), tt.want)
		}
	}
	// Update, tags sub-resource.
	up := obj(e.Must(http.StatusOK, "PATCH", "/v3/projects/"+id, e.AdminToken, map[string]any{"project": map[string]any{
		"description": "changed", "tags": []string{"x"}}}), "project")
	if up["description"] != "changed" || up["name"] != "p1" || up["color"] != "blue" {
		t.Fatalf("updated: %v", up)
	}
	e.Must(http.StatusCreated, "PUT", "/v3/projects/"+id+"/tags/y", e.AdminToken, nil)
	e.Must(http.StatusNoContent, "GET", "/v3/projects/"+id+"/tags/y", e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/projects/"+id+"/tags/zzz", e.AdminToken, nil)
	if tags := e.Must(http.StatusOK, "GET", "/v3/projects/"+id+"/tags", e.AdminToken, nil)["tags"].([]any); len(tags) != 2 {
		t.Fatalf("tags: %v", tags)
	}
	e.Must(http.StatusNoContent, "DELETE", "/v3/projects/"+id+"/tags/y", e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/projects/"+id+"/tags", e.AdminToken, nil)
	// A parent cannot go before its child.
	e.Must(http.StatusForbidden, "DELETE", "/v3/projects/"+id, e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/projects/"+child["id"].(string), e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/projects/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/projects/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v3/projects/"+id, e.AdminToken, nil)
}

func TestProjectBadInput(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name string
		body any
		want int
	}{
		{"not JSON", []byte(`{"project":`), 400},
		{"no envelope", map[string]any{"name": "x"}, 400},
		{"envelope not object", map[string]any{"project": "x"}, 400},
		{"name missing", map[string]any{"project": map[string]any{}}, 400},
		{"name blank", map[string]any{"project": map[string]any{"name": "  "}}, 400},
		{"name wrong type", map[string]any{"project": map[string]any{"name": 3}}, 400},
		{"enabled wrong type", map[string]any{"project": map[string]any{"name": "x", "enabled": 3}}, 400},
		{"enabled not a boolean string", map[string]any{"project": map[string]any{"name": "x", "enabled": "maybe"}}, 400},
		{"tags wrong type", map[string]any{"project": map[string]any{"name": "x", "tags": "a"}}, 400},
		{"tag with slash", map[string]any{"project": map[string]any{"name": "x", "tags": []string{"a/b"}}}, 400},
		{"unknown domain", map[string]any{"project": map[string]any{"name": "x", "domain_id": "nope"}}, 404},
		{"unknown parent", map[string]any{"project": map[string]any{"name": "x", "parent_id": "nope"}}, 404},
		{"huge body", []byte(`{"project":{"name":"` + string(make([]byte, 200*1024)) + `"}}`), 413},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := e.Do("POST", "/v3/projects", e.AdminToken, tt.body)
			if status != tt.want {
				t.Fatalf("status %d, want %d: %v", status, tt.want, out)
			}
			if obj(out, "error")["code"] != float64(tt.want) {
				t.Fatalf("error body: %v", out)
			}
		})
	}
}

func TestProjectPolicy(t *testing.T) {
	e := newTestEnv(t)
	adminProject := list(e.Must(http.StatusOK, "GET", "/v3/projects?name=admin", e.AdminToken, nil), "projects")[0]["id"].(string)
	demoProject := list(e.Must(http.StatusOK, "GET", "/v3/projects?name=demo", e.AdminToken, nil), "projects")[0]["id"].(string)
	e.Must(http.StatusForbidden, "POST", "/v3/projects", e.DemoToken, map[string]any{"project": map[string]any{"name": "mine"}})
	e.Must(http.StatusForbidden, "GET", "/v3/projects", e.DemoToken, nil)
	e.Must(http.StatusForbidden, "GET", "/v3/projects/"+adminProject, e.DemoToken, nil)
	e.Must(http.StatusOK, "GET", "/v3/projects/"+demoProject, e.DemoToken, nil)
	e.Must(http.StatusForbidden, "PATCH", "/v3/projects/"+demoProject, e.DemoToken, map[string]any{"project": map[string]any{"name": "x"}})
	e.Must(http.StatusForbidden, "DELETE", "/v3/projects/"+demoProject, e.DemoToken, nil)
	// Members read their project's tags; writing them takes a domain manager or
	// an admin, as upstream's current defaults (members once could).
	e.Must(http.StatusCreated, "PUT", "/v3/projects/"+demoProject+"/tags/mine", e.AdminToken, nil)
	e.Must(http.StatusOK, "GET", "/v3/projects/"+demoProject+"/tags", e.DemoToken, nil)
	e.Must(http.StatusForbidden, "PUT", "/v3/projects/"+demoProject+"/tags/yours", e.DemoToken, nil)
	e.Must(http.StatusForbidden, "PUT", "/v3/projects/"+adminProject+"/tags/mine", e.DemoToken, nil)
}

func TestDisablingProjectRevokesItsTokens(t *testing.T) {
	e := newTestEnv(t)
	demoProject := list(e.Must(http.StatusOK, "GET", "/v3/projects?name=demo", e.AdminToken, nil), "projects")[0]["id"].(string)
	e.Must(http.StatusOK, "GET", "/v3/auth/projects", e.DemoToken, nil)
	e.Must(http.StatusOK, "PATCH", "/v3/projects/"+demoProject, e.AdminToken, map[string]any{"project": map[string]any{"enabled": false}})
	e.Must(http.StatusUnauthorized, "GET", "/v3/auth/projects", e.DemoToken, nil)
	e.Must(http.StatusUnauthorized, "POST", "/v3/auth/tokens", "", passwordAuth("demo", testDemoPassword,
		map[string]any{"project": map[string]any{"id": demoProject}}))
	e.Must(http.StatusOK, "PATCH", "/v3/projects/"+demoProject, e.AdminToken, map[string]any{"project": map[string]any{"enabled": true}})
	e.Login("demo", testDemoPassword, "demo")
}

func TestProjectInexactFilters(t *testing.T) {
	e := newTestEnv(t)
	for _, name := range []string{"Alpha-one", "alpha-two", "beta"} {
		e.Must(http.StatusCreated, "POST", "/v3/projects", e.AdminToken, map[string]any{"project": map[string]any{"name": name}})
	}
	tests := []struct {
		query string
		want  int
	}{
		{"name__contains=alpha", 1},
		{"name__icontains=alpha", 2},
		{"name__startswith=be", 1},
		{"name__iendswith=ONE", 1},
		{"name__contains=zzz", 0},
	}
	for _, tt := range tests {
		if got := list(e.Must(http.StatusOK, "GET", "/v3/projects?"+tt.query, e.AdminToken, nil), "projects"); len(got) != tt.want {
			t.Errorf("%s: %d projects, want %d", tt.query, len(got), tt.want)
		}
	}
}

// TestProjectActingAsDomain: a project created with is_domain is a domain, and the
// projects API can show, update and (once disabled) delete it, as upstream.
func TestProjectActingAsDomain(t *testing.T) {
	e := newTestEnv(t)
	p := obj(e.Must(http.StatusCreated, "POST", "/v3/projects", e.AdminToken, map[string]any{"project": map[string]any{
		"name": "dom-project", "is_domain": true}}), "project")
	id := p["id"].(string)
	if p["is_domain"] != true || p["domain_id"] != nil {
		t.Fatalf("is_domain: %v", p)
	}
	e.Must(http.StatusOK, "GET", "/v3/domains/"+id, e.AdminToken, nil)
	e.Must(http.StatusOK, "GET", "/v3/projects/"+id, e.AdminToken, nil)
	e.Must(http.StatusForbidden, "DELETE", "/v3/projects/"+id, e.AdminToken, nil) // enabled
	e.Must(http.StatusOK, "PATCH", "/v3/projects/"+id, e.AdminToken, map[string]any{"project": map[string]any{"enabled": false}})
	e.Must(http.StatusNoContent, "DELETE", "/v3/projects/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/domains/"+id, e.AdminToken, nil)
}
