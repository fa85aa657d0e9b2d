package identity

import (
	"net/http"
	"slices"
	"testing"
)

func regLimits(items ...map[string]any) map[string]any {
	l := make([]any, len(items))
	for i, x := range items {
		l[i] = x
	}
	return map[string]any{"registered_limits": l}
}

func limitsBody(items ...map[string]any) map[string]any {
	l := make([]any, len(items))
	for i, x := range items {
		l[i] = x
	}
	return map[string]any{"limits": l}
}

func TestExtLimitModel(t *testing.T) {
	e := newTestEnv(t)
	m := obj(e.Must(http.StatusOK, "GET", "/v3/limits/model", e.DemoToken, nil), "model")
	if m["name"] != "flat" || m["description"] == "" {
		t.Fatalf("model: %v", m)
	}
}

func TestExtRegisteredLimitLifecycle(t *testing.T) {
	e := newTestEnv(t)
	sys := extSystemToken(e)
	serviceID, _ := extFirstService(e)

	// As gophercloud's TestRegisteredLimitsCRUD, with a system-scoped token.
	created := list(e.Must(http.StatusCreated, "POST", "/v3/registered_limits", sys, regLimits(
		map[string]any{"service_id": serviceID, "resource_name": "cores", "default_limit": 20,
			"description": "cores", "region_id": "RegionOne"},
		map[string]any{"service_id": serviceID, "resource_name": "ram", "default_limit": 0},
	)), "registered_limits")
	if len(created) != 2 {
		t.Fatalf("created: %v", created)
	}
	cores, ram := created[0], created[1]
	coresID := cores["id"].(string)
	if cores["service_id"] != serviceID || cores["region_id"] != "RegionOne" || cores["resource_name"] != "cores" ||
		cores["default_limit"] != float64(20) || cores["description"] != "cores" ||
		obj(cores, "links")["self"] != e.URL+"/v3/registered_limits/"+coresID {
		t.Fatalf("cores: %v", cores)
	}
	if ram["default_limit"] != float64(0) || ram["region_id"] != nil || ram["description"] != nil {
		t.Fatalf("ram: %v", ram)
	}

	// Anyone may read registered limits.
	got := obj(e.Must(http.StatusOK, "GET", "/v3/registered_limits/"+coresID, e.DemoToken, nil), "registered_limit")
	if got["resource_name"] != "cores" {
		t.Fatalf("get: %v", got)
	}
	filters := []struct {
		query string
		want  int
	}{
		{"", 2},
		{"?service_id=" + serviceID, 2},
		{"?region_id=RegionOne", 1},
		{"?resource_name=ram", 1},
		{"?resource_name=nothing", 0},
		{"?resource_name__startswith=c", 1},
	}
	for _, f := range filters {
		if n := len(list(e.Must(http.StatusOK, "GET", "/v3/registered_limits"+f.query, e.DemoToken, nil), "registered_limits")); n != f.want {
			t.Errorf("list %q: %d, want %d", f.query, n, f.want)
		}
	}

	upd := obj(e.Must(http.StatusOK, "PATCH", "/v3/registered_limits/"+coresID, e.AdminToken, map[string]any{
		"registered_limit": map[string]any{"description": "more cores", "default_limit": 1000, "service_id": serviceID,
			"resource_name": "vcpus"}}), "registered_limit")
	if upd["description"] != "more cores" || upd["default_limit"] != float64(1000) || upd["resource_name"] != "vcpus" ||
		upd["region_id"] != "RegionOne" {
		t.Fatalf("updated: %v", upd)
	}
	// Clearing the region: the same resource without a region already exists? No: ram is
	// the only region-less one, so this succeeds.
	upd = obj(e.Must(http.StatusOK, "PATCH", "/v3/registered_limits/"+coresID, e.AdminToken, map[string]any{
		"registered_limit": map[string]any{"region_id": nil}}), "registered_limit")
	if upd["region_id"] != nil {
		t.Fatalf("region cleared: %v", upd)
	}

	extRunStatusCases(t, e, []extStatusCase{
		{"duplicate", "POST", "/v3/registered_limits", sys, regLimits(
			map[string]any{"service_id": serviceID, "resource_name": "ram", "default_limit": 1}), 409},
		{"duplicate within the batch", "POST", "/v3/registered_limits", sys, regLimits(
			map[string]any{"service_id": serviceID, "resource_name": "disk", "default_limit": 1},
			map[string]any{"service_id": serviceID, "resource_name": "disk", "default_limit": 2}), 409},
		{"update into a duplicate", "PATCH", "/v3/registered_limits/" + coresID, sys,
			map[string]any{"registered_limit": map[string]any{"resource_name": "ram"}}, 409},
		{"unknown service", "POST", "/v3/registered_limits", sys, regLimits(
			map[string]any{"service_id": "nope", "resource_name": "x", "default_limit": 1}), 400},
		{"unknown region", "POST", "/v3/registered_limits", sys, regLimits(
			map[string]any{"service_id": serviceID, "region_id": "Nowhere", "resource_name": "x", "default_limit": 1}), 400},
		{"missing default_limit", "POST", "/v3/registered_limits", sys, regLimits(
			map[string]any{"service_id": serviceID, "resource_name": "x"}), 400},
		{"default_limit not an integer", "POST", "/v3/registered_limits", sys, regLimits(
			map[string]any{"service_id": serviceID, "resource_name": "x", "default_limit": 1.5}), 400},
		{"default_limit a string", "POST", "/v3/registered_limits", sys, regLimits(
			map[string]any{"service_id": serviceID, "resource_name": "x", "default_limit": "1"}), 400},
		{"default_limit below -1", "POST", "/v3/registered_limits", sys, regLimits(
			map[string]any{"service_id": serviceID, "resource_name": "x", "default_limit": -2}), 400},
		{"default_limit too big", "POST", "/v3/registered_limits", sys, regLimits(
			map[string]any{"service_id": serviceID, "resource_name": "x", "default_limit": 1 << 31}), 400},
		{"unknown attribute", "POST", "/v3/registered_limits", sys, regLimits(
			map[string]any{"service_id": serviceID, "resource_name": "x", "default_limit": 1, "color": "red"}), 400},
		{"empty resource name", "POST", "/v3/registered_limits", sys, regLimits(
			map[string]any{"service_id": serviceID, "resource_name": " ", "default_limit": 1}), 400},
		{"empty list", "POST", "/v3/registered_limits", sys, regLimits(), 400},
		{"not a list", "POST", "/v3/registered_limits", sys, map[string]any{"registered_limits": map[string]any{}}, 400},
		{"list of strings", "POST", "/v3/registered_limits", sys, map[string]any{"registered_limits": []any{"x"}}, 400},
		{"update unknown attribute", "PATCH", "/v3/registered_limits/" + coresID, sys,
			map[string]any{"registered_limit": map[string]any{"color": "red"}}, 400},
		{"update missing", "PATCH", "/v3/registered_limits/nope", sys,
			map[string]any{"registered_limit": map[string]any{"default_limit": 1}}, 404},
		{"get missing", "GET", "/v3/registered_limits/nope", e.DemoToken, nil, 404},
		{"delete missing", "DELETE", "/v3/registered_limits/nope", sys, nil, 404},
		{"demo create", "POST", "/v3/registered_limits", e.DemoToken, regLimits(
			map[string]any{"service_id": serviceID, "resource_name": "x", "default_limit": 1}), 403},
		{"demo update", "PATCH", "/v3/registered_limits/" + coresID, e.DemoToken,
			map[string]any{"registered_limit": map[string]any{"default_limit": 1}}, 403},
		{"demo delete", "DELETE", "/v3/registered_limits/" + coresID, e.DemoToken, nil, 403},
	})
	// A failed batch stores nothing.
	if n := len(list(e.Must(http.StatusOK, "GET", "/v3/registered_limits", sys, nil), "registered_limits")); n != 2 {
		t.Fatalf("after failed creates: %d registered limits", n)
	}

	e.Must(http.StatusNoContent, "DELETE", "/v3/registered_limits/"+coresID, sys, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/registered_limits/"+coresID, sys, nil)
}

func TestExtLimitLifecycle(t *testing.T) {
	e := newTestEnv(t)
	sys := extSystemToken(e)
	serviceID, _ := extFirstService(e)
	projectID := extCreateProject(e, "limited")
	demoProject := extProjectID(e, e.DemoToken)

	reg := list(e.Must(http.StatusCreated, "POST", "/v3/registered_limits", sys, regLimits(
		map[string]any{"service_id": serviceID, "resource_name": "cores", "default_limit": 10, "region_id": "RegionOne"},
		map[string]any{"service_id": serviceID, "resource_name": "ram", "default_limit": 100},
	)), "registered_limits")
	regID := reg[0]["id"].(string)

	// As gophercloud's TestLimitsCRUD.
	created := list(e.Must(http.StatusCreated, "POST", "/v3/limits", sys, limitsBody(
		map[string]any{"service_id": serviceID, "project_id": projectID, "resource_name": "cores",
			"resource_limit": 42, "description": "override", "region_id": "RegionOne"},
		map[string]any{"service_id": serviceID, "project_id": demoProject, "resource_name": "ram", "resource_limit": 5},
		map[string]any{"service_id": serviceID, "domain_id": "default", "resource_name": "ram", "resource_limit": 500},
	)), "limits")
	if len(created) != 3 {
		t.Fatalf("created: %v", created)
	}
	l := created[0]
	limitID := l["id"].(string)
	if l["service_id"] != serviceID || l["project_id"] != projectID || l["domain_id"] != nil || l["resource_name"] != "cores" ||
		l["resource_limit"] != float64(42) || l["description"] != "override" || l["region_id"] != "RegionOne" ||
		obj(l, "links")["self"] != e.URL+"/v3/limits/"+limitID {
		t.Fatalf("limit: %v", l)
	}
	if d := created[2]; d["domain_id"] != "default" || d["project_id"] != nil {
		t.Fatalf("domain limit: %v", d)
	}
	got := obj(e.Must(http.StatusOK, "GET", "/v3/limits/"+limitID, sys, nil), "limit")
	for k, v := range l {
		if k != "links" && got[k] != v {
			t.Fatalf("get: %v, created %v", got, l)
		}
	}

	// A caller sees the limits of its scope: all for admins, its project's for others.
	lists := []struct {
		name  string
		token string
		query string
		want  int
	}{
		{"system", sys, "", 3},
		{"admin", e.AdminToken, "", 3},
		{"demo", e.DemoToken, "", 1},
		{"by project", sys, "?project_id=" + projectID, 1},
		{"by domain", sys, "?domain_id=default", 1},
		{"by resource", sys, "?resource_name=ram", 2},
		{"by region", sys, "?region_id=RegionOne", 1},
		{"by service", sys, "?service_id=" + serviceID, 3},
	}
	for _, tt := range lists {
		if n := len(list(e.Must(http.StatusOK, "GET", "/v3/limits"+tt.query, tt.token, nil), "limits")); n != tt.want {
			t.Errorf("list %s: %d, want %d", tt.name, n, tt.want)
		}
	}
	demoLimit := created[1]["id"].(string)
	e.Must(http.StatusOK, "GET", "/v3/limits/"+demoLimit, e.DemoToken, nil)

	upd := obj(e.Must(http.StatusOK, "PATCH", "/v3/limits/"+limitID, sys, map[string]any{"limit": map[string]any{
		"description": "changed", "resource_limit": 7}}), "limit")
	if upd["description"] != "changed" || upd["resource_limit"] != float64(7) || upd["resource_name"] != "cores" {
		t.Fatalf("updated: %v", upd)
	}

	extRunStatusCases(t, e, []extStatusCase{
		{"duplicate", "POST", "/v3/limits", sys, limitsBody(map[string]any{"service_id": serviceID, "project_id": projectID,
			"resource_name": "cores", "region_id": "RegionOne", "resource_limit": 1}), 409},
		{"no registered limit", "POST", "/v3/limits", sys, limitsBody(map[string]any{"service_id": serviceID,
			"project_id": projectID, "resource_name": "disk", "resource_limit": 1}), 403},
		{"registered limit in another region", "POST", "/v3/limits", sys, limitsBody(map[string]any{"service_id": serviceID,
			"project_id": projectID, "resource_name": "cores", "resource_limit": 1}), 403},
		{"neither project nor domain", "POST", "/v3/limits", sys, limitsBody(map[string]any{"service_id": serviceID,
			"resource_name": "ram", "resource_limit": 1}), 400},
		{"both project and domain", "POST", "/v3/limits", sys, limitsBody(map[string]any{"service_id": serviceID,
			"project_id": projectID, "domain_id": "default", "resource_name": "ram", "resource_limit": 1}), 400},
		{"unknown project", "POST", "/v3/limits", sys, limitsBody(map[string]any{"service_id": serviceID,
			"project_id": "nope", "resource_name": "ram", "resource_limit": 1}), 400},
		{"unknown domain", "POST", "/v3/limits", sys, limitsBody(map[string]any{"service_id": serviceID,
			"domain_id": "nope", "resource_name": "ram", "resource_limit": 1}), 400},
		{"unknown service", "POST", "/v3/limits", sys, limitsBody(map[string]any{"service_id": "nope",
			"project_id": projectID, "resource_name": "ram", "resource_limit": 1}), 400},
		{"resource_limit not an integer", "POST", "/v3/limits", sys, limitsBody(map[string]any{"service_id": serviceID,
			"project_id": projectID, "resource_name": "ram", "resource_limit": "1"}), 400},
		{"missing resource_limit", "POST", "/v3/limits", sys, limitsBody(map[string]any{"service_id": serviceID,
			"project_id": projectID, "resource_name": "ram"}), 400},
		{"no list", "POST", "/v3/limits", sys, map[string]any{}, 400},
		{"update resource_name", "PATCH", "/v3/limits/" + limitID, sys,
			map[string]any{"limit": map[string]any{"resource_name": "ram"}}, 400},
		{"update resource_limit bad", "PATCH", "/v3/limits/" + limitID, sys,
			map[string]any{"limit": map[string]any{"resource_limit": true}}, 400},
		{"update missing", "PATCH", "/v3/limits/nope", sys, map[string]any{"limit": map[string]any{"resource_limit": 1}}, 404},
		{"get missing", "GET", "/v3/limits/nope", sys, nil, 404},
		{"delete missing", "DELETE", "/v3/limits/nope", sys, nil, 404},
		{"demo gets another project's limit", "GET", "/v3/limits/" + limitID, e.DemoToken, nil, 403},
		{"demo create", "POST", "/v3/limits", e.DemoToken, limitsBody(map[string]any{"service_id": serviceID,
			"project_id": demoProject, "resource_name": "cores", "region_id": "RegionOne", "resource_limit": 1}), 403},
		{"demo update", "PATCH", "/v3/limits/" + demoLimit, e.DemoToken, map[string]any{"limit": map[string]any{"resource_limit": 1}}, 403},
		{"demo delete", "DELETE", "/v3/limits/" + demoLimit, e.DemoToken, nil, 403},
		// A registered limit with limits can be neither changed nor deleted (403).
		{"delete referenced registered limit", "DELETE", "/v3/registered_limits/" + regID, sys, nil, 403},
		{"update referenced registered limit", "PATCH", "/v3/registered_limits/" + regID, sys,
			map[string]any{"registered_limit": map[string]any{"default_limit": 1}}, 403},
	})

	e.Must(http.StatusNoContent, "DELETE", "/v3/limits/"+limitID, sys, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/limits/"+limitID, sys, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/registered_limits/"+regID, sys, nil)

	// Limits go with their project.
	e.Must(http.StatusNoContent, "DELETE", "/v3/projects/"+demoProject, e.AdminToken, nil)
	ids := extIDs(list(e.Must(http.StatusOK, "GET", "/v3/limits", sys, nil), "limits"))
	if slices.Contains(ids, demoLimit) || len(ids) != 1 {
		t.Fatalf("limits after the project's deletion: %v", ids)
	}
}
