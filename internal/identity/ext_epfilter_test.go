package identity

import (
	"context"
	"net/http"
	"testing"
)

func TestExtEndpointFilter(t *testing.T) {
	e := newTestEnv(t)
	_, endpointID := extFirstService(e)
	projectID := extCreateProject(e, "filtered")
	pe := "/v3/OS-EP-FILTER/projects/" + projectID + "/endpoints/" + endpointID

	// As gophercloud's TestProjectEndpoints.
	e.Must(http.StatusNoContent, "PUT", pe, e.AdminToken, nil)
	eps := list(e.Must(http.StatusOK, "GET", "/v3/OS-EP-FILTER/projects/"+projectID+"/endpoints", e.AdminToken, nil), "endpoints")
	if len(eps) != 1 || eps[0]["id"] != endpointID || eps[0]["url"] == nil || eps[0]["interface"] == nil {
		t.Fatalf("project endpoints: %v", eps)
	}
	ps := list(e.Must(http.StatusOK, "GET", "/v3/OS-EP-FILTER/endpoints/"+endpointID+"/projects", e.AdminToken, nil), "projects")
	if len(ps) != 1 || ps[0]["id"] != projectID || ps[0]["name"] != "filtered" {
		t.Fatalf("endpoint projects: %v", ps)
	}
	e.Must(http.StatusNoContent, "GET", pe, e.AdminToken, nil)
	if status, _, _ := e.Do("HEAD", pe, e.AdminToken, nil); status != http.StatusNoContent {
		t.Fatalf("HEAD: %d", status)
	}
	filter, has, err := e.Svc.projectEndpointFilter(context.Background(), projectID)
	if err != nil || !has || !filter[endpointID] || len(filter) != 1 {
		t.Fatalf("filter: %v %v %v", filter, has, err)
	}
	if _, has, _ := e.Svc.projectEndpointFilter(context.Background(), extProjectID(e, e.DemoToken)); has {
		t.Fatal("demo project has a filter")
	}

	extRunStatusCases(t, e, []extStatusCase{
		{"duplicate", "PUT", pe, e.AdminToken, nil, 409},
		{"unknown endpoint", "PUT", "/v3/OS-EP-FILTER/projects/" + projectID + "/endpoints/nope", e.AdminToken, nil, 404},
		{"unknown project", "PUT", "/v3/OS-EP-FILTER/projects/nope/endpoints/" + endpointID, e.AdminToken, nil, 404},
		{"check unknown project", "GET", "/v3/OS-EP-FILTER/projects/nope/endpoints/" + endpointID, e.AdminToken, nil, 404},
		{"list unknown project", "GET", "/v3/OS-EP-FILTER/projects/nope/endpoints", e.AdminToken, nil, 404},
		{"list unknown endpoint", "GET", "/v3/OS-EP-FILTER/endpoints/nope/projects", e.AdminToken, nil, 404},
		{"demo adds", "PUT", pe, e.DemoToken, nil, 403},
		{"demo checks", "GET", pe, e.DemoToken, nil, 403},
		{"demo lists", "GET", "/v3/OS-EP-FILTER/projects/" + projectID + "/endpoints", e.DemoToken, nil, 403},
		{"demo lists projects", "GET", "/v3/OS-EP-FILTER/endpoints/" + endpointID + "/projects", e.DemoToken, nil, 403},
		{"demo removes", "DELETE", pe, e.DemoToken, nil, 403},
	})

	e.Must(http.StatusNoContent, "DELETE", pe, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", pe, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "DELETE", pe, e.AdminToken, nil)
	if n := len(list(e.Must(http.StatusOK, "GET", "/v3/OS-EP-FILTER/projects/"+projectID+"/endpoints", e.AdminToken, nil), "endpoints")); n != 0 {
		t.Fatalf("after removal: %d endpoints", n)
	}

	// Associations go with their project or endpoint.
	e.Must(http.StatusNoContent, "PUT", pe, e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/projects/"+projectID, e.AdminToken, nil)
	if n := len(list(e.Must(http.StatusOK, "GET", "/v3/OS-EP-FILTER/endpoints/"+endpointID+"/projects", e.AdminToken, nil), "projects")); n != 0 {
		t.Fatalf("after project deletion: %d projects", n)
	}
}
