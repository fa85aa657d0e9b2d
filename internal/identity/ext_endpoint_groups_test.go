package identity

import (
	"net/http"
	"slices"
	"testing"
)

func endpointGroupBodyOf(m map[string]any) map[string]any { return map[string]any{"endpoint_group": m} }

// catalogEndpointIDs lists the endpoint ids of a catalog, and the service types
// it lists.
func catalogEndpointIDs(catalog []map[string]any) (ids, types []string) {
	for _, svc := range catalog {
		types = append(types, svc["type"].(string))
		for _, ep := range list(svc, "endpoints") {
			ids = append(ids, ep["id"].(string))
		}
	}
	return ids, types
}

func TestEndpointGroups(t *testing.T) {
	e := newTestEnv(t)
	serviceID, _ := extFirstService(e)
	var wantIDs []string
	for _, ep := range list(e.Must(http.StatusOK, "GET", "/v3/endpoints?service_id="+serviceID, e.AdminToken, nil), "endpoints") {
		if ep["interface"] == "public" {
			wantIDs = append(wantIDs, ep["id"].(string))
		}
	}
	if len(wantIDs) == 0 {
		t.Fatal("no public endpoint of the first service")
	}
	groups := "/v3/OS-EP-FILTER/endpoint_groups"

	g := obj(e.Must(http.StatusCreated, "POST", groups, e.AdminToken, endpointGroupBodyOf(map[string]any{
		"name": "public-first", "filters": map[string]any{"service_id": serviceID, "interface": "public"}})), "endpoint_group")
	id := g["id"].(string)
	if g["name"] != "public-first" || g["description"] != nil || obj(g, "filters")["interface"] != "public" ||
		obj(g, "links")["self"] != e.URL+groups+"/"+id {
		t.Fatalf("created: %v", g)
	}
	if got := list(e.Must(http.StatusOK, "GET", groups+"?name=public-first", e.AdminToken, nil), "endpoint_groups"); len(got) != 1 {
		t.Fatalf("list by name: %v", got)
	}
	if got := list(e.Must(http.StatusOK, "GET", groups+"?name=other", e.AdminToken, nil), "endpoint_groups"); len(got) != 0 {
		t.Fatalf("list by other name: %v", got)
	}
	upd := obj(e.Must(http.StatusOK, "PATCH", groups+"/"+id, e.AdminToken, endpointGroupBodyOf(map[string]any{
		"description": "the first service, publicly"})), "endpoint_group")
	if upd["description"] != "the first service, publicly" || upd["name"] != "public-first" {
		t.Fatalf("updated: %v", upd)
	}
	eps := list(e.Must(http.StatusOK, "GET", groups+"/"+id+"/endpoints", e.AdminToken, nil), "endpoints")
	if got := extIDs(eps); !slices.Equal(got, wantIDs) {
		t.Fatalf("group endpoints %v, want %v", got, wantIDs)
	}

	// Associated with a project, the group filters the project's catalog.
	projectID := extCreateProject(e, "grouped")
	user := obj(e.Must(http.StatusCreated, "POST", "/v3/users", e.AdminToken, map[string]any{"user": map[string]any{
		"name": "grouped-user", "password": "grouped-secret", "domain_id": "default"}}), "user")["id"].(string)
	e.Must(http.StatusNoContent, "PUT", "/v3/projects/"+projectID+"/users/"+user+"/roles/"+extRoleID(t, e, "member"), e.AdminToken, nil)
	inProject := groups + "/" + id + "/projects/" + projectID
	e.Must(http.StatusNotFound, "GET", inProject, e.AdminToken, nil)
	e.Must(http.StatusNoContent, "PUT", inProject, e.AdminToken, nil)
	e.Must(http.StatusConflict, "PUT", inProject, e.AdminToken, nil)
	assoc := obj(e.Must(http.StatusOK, "GET", inProject, e.AdminToken, nil), "project_endpoint_group")
	if assoc["endpoint_group_id"] != id || assoc["project_id"] != projectID {
		t.Fatalf("association: %v", assoc)
	}
	if ps := list(e.Must(http.StatusOK, "GET", groups+"/"+id+"/projects", e.AdminToken, nil), "projects"); len(ps) != 1 || ps[0]["id"] != projectID {
		t.Fatalf("group projects: %v", ps)
	}
	if gs := list(e.Must(http.StatusOK, "GET", "/v3/OS-EP-FILTER/projects/"+projectID+"/endpoint_groups", e.AdminToken, nil), "endpoint_groups"); len(gs) != 1 || gs[0]["id"] != id {
		t.Fatalf("project groups: %v", gs)
	}
	if got := extIDs(list(e.Must(http.StatusOK, "GET", "/v3/OS-EP-FILTER/projects/"+projectID+"/endpoints", e.AdminToken, nil), "endpoints")); !slices.Equal(got, wantIDs) {
		t.Fatalf("project endpoints %v, want %v", got, wantIDs)
	}
	token := e.Login("grouped-user", "grouped-secret", "grouped")
	ids, types := catalogEndpointIDs(list(acTokenBody(e, token), "catalog"))
	if !slices.Equal(ids, wantIDs) || len(types) != 1 {
		t.Fatalf("filtered catalog: endpoints %v (want %v), services %v", ids, wantIDs, types)
	}
	// Another project's catalog is whole.
	if ids, _ := catalogEndpointIDs(list(acTokenBody(e, e.DemoToken), "catalog")); len(ids) <= len(wantIDs) {
		t.Fatalf("unfiltered catalog: %v", ids)
	}

	extRunStatusCases(t, e, []extStatusCase{
		{"no filters", "POST", groups, e.AdminToken, endpointGroupBodyOf(map[string]any{"name": "x", "filters": map[string]any{}}), 400},
		{"filter on enabled", "POST", groups, e.AdminToken, endpointGroupBodyOf(map[string]any{"name": "x", "filters": map[string]any{"enabled": true}}), 400},
		{"bad interface", "POST", groups, e.AdminToken, endpointGroupBodyOf(map[string]any{"name": "x", "filters": map[string]any{"interface": "private"}}), 400},
		{"no name", "POST", groups, e.AdminToken, endpointGroupBodyOf(map[string]any{"filters": map[string]any{"interface": "public"}}), 400},
		{"unknown attribute", "POST", groups, e.AdminToken, endpointGroupBodyOf(map[string]any{"name": "x", "filters": map[string]any{"interface": "public"}, "color": "red"}), 400},
		{"empty update", "PATCH", groups + "/" + id, e.AdminToken, endpointGroupBodyOf(map[string]any{}), 400},
		{"unknown group", "GET", groups + "/nope", e.AdminToken, nil, 404},
		{"unknown group's projects", "PUT", groups + "/nope/projects/" + projectID, e.AdminToken, nil, 404},
		{"unknown project", "PUT", groups + "/" + id + "/projects/nope", e.AdminToken, nil, 404},
		{"member creates", "POST", groups, e.DemoToken, endpointGroupBodyOf(map[string]any{"name": "x", "filters": map[string]any{"interface": "public"}}), 403},
		{"member lists", "GET", groups, e.DemoToken, nil, 403},
	})
	status, out, _ := e.Do("POST", groups, e.AdminToken, endpointGroupBodyOf(map[string]any{"name": "x", "filters": map[string]any{"interface": "private"}}))
	if msg := obj(out, "error")["message"]; status != 400 || msg != "Invalid input for field/attribute interface. Value: private. 'private' is not one of ['admin', 'internal', 'public']" {
		t.Fatalf("bad interface: %d %v", status, msg)
	}

	// Removed from the project, the catalog is whole again; deleted, the group
	// leaves its associations.
	e.Must(http.StatusNoContent, "DELETE", inProject, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "DELETE", inProject, e.AdminToken, nil)
	if ids, _ := catalogEndpointIDs(list(acTokenBody(e, token), "catalog")); len(ids) <= len(wantIDs) {
		t.Fatalf("catalog after removal: %v", ids)
	}
	e.Must(http.StatusNoContent, "PUT", inProject, e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", groups+"/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "DELETE", groups+"/"+id, e.AdminToken, nil)
	if gs := list(e.Must(http.StatusOK, "GET", "/v3/OS-EP-FILTER/projects/"+projectID+"/endpoint_groups", e.AdminToken, nil), "endpoint_groups"); len(gs) != 0 {
		t.Fatalf("project groups after delete: %v", gs)
	}
}
