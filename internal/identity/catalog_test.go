package identity

import (
	"net/http"
	"regexp"
	"testing"
)

func TestRegionLifecycle(t *testing.T) {
	e := newTestEnv(t)
	reg := func(m map[string]any) map[string]any { return map[string]any{"region": m} }
	two := obj(e.Must(http.StatusCreated, "POST", "/v3/regions", e.AdminToken, reg(map[string]any{
		"id": "RegionTwo", "description": "second", "zone": "eu"})), "region")
	if two["id"] != "RegionTwo" || two["description"] != "second" || two["parent_region_id"] != nil || two["zone"] != "eu" {
		t.Fatalf("created region: %v", two)
	}
	if self := obj(two, "links")["self"]; self != e.URL+"/v3/regions/RegionTwo" {
		t.Fatalf("links.self = %v", self)
	}
	child := obj(e.Must(http.StatusCreated, "PUT", "/v3/regions/RegionTwo-a", e.AdminToken, reg(map[string]any{
		"parent_region_id": "RegionTwo"})), "region")
	if child["id"] != "RegionTwo-a" || child["parent_region_id"] != "RegionTwo" || child["description"] != "" {
		t.Fatalf("PUT region: %v", child)
	}
	auto := obj(e.Must(http.StatusCreated, "POST", "/v3/regions", e.AdminToken, reg(map[string]any{})), "region")
	if id, _ := auto["id"].(string); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Fatalf("generated region id %q", id)
	}

	bad := []struct {
		name, method, path string
		body               any
		want               int
	}{
		{"duplicate id", "POST", "/v3/regions", reg(map[string]any{"id": "RegionTwo"}), 409},
		{"duplicate id by PUT", "PUT", "/v3/regions/RegionOne", reg(map[string]any{}), 409},
		{"conflicting ids", "PUT", "/v3/regions/x", reg(map[string]any{"id": "y"}), 400},
		{"unknown parent", "POST", "/v3/regions", reg(map[string]any{"parent_region_id": "nope"}), 404},
		{"description wrong type", "POST", "/v3/regions", reg(map[string]any{"description": 1}), 400},
		{"no envelope", "POST", "/v3/regions", map[string]any{}, 400},
		{"update unknown", "PATCH", "/v3/regions/nope", reg(map[string]any{"description": "x"}), 404},
		{"update empty", "PATCH", "/v3/regions/RegionTwo", reg(map[string]any{}), 400},
		{"update changes id", "PATCH", "/v3/regions/RegionTwo", reg(map[string]any{"id": "other"}), 400},
		{"update to own child: cycle", "PATCH", "/v3/regions/RegionTwo", reg(map[string]any{"parent_region_id": "RegionTwo-a"}), 400},
		{"update to itself: cycle", "PATCH", "/v3/regions/RegionTwo", reg(map[string]any{"parent_region_id": "RegionTwo"}), 400},
		{"update unknown parent", "PATCH", "/v3/regions/RegionTwo", reg(map[string]any{"parent_region_id": "nope"}), 404},
		{"show unknown", "GET", "/v3/regions/nope", nil, 404},
		{"delete unknown", "DELETE", "/v3/regions/nope", nil, 404},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := e.Do(tt.method, tt.path, e.AdminToken, tt.body)
			if status != tt.want || obj(out, "error")["code"] != float64(tt.want) {
				t.Fatalf("status %d, want %d: %v", status, tt.want, out)
			}
		})
	}

	filters := []struct {
		query string
		want  int
	}{
		{"", 4}, // RegionOne (bootstrap), RegionTwo, RegionTwo-a, generated
		{"?parent_region_id=RegionTwo", 1},
		{"?parent_region_id=nope", 0},
	}
	for _, tt := range filters {
		if got := list(e.Must(http.StatusOK, "GET", "/v3/regions"+tt.query, e.AdminToken, nil), "regions"); len(got) != tt.want {
			t.Errorf("GET /v3/regions%s: %d regions, want %d", tt.query, len(got), tt.want)
		}
	}
	up := obj(e.Must(http.StatusOK, "PATCH", "/v3/regions/RegionTwo", e.AdminToken, reg(map[string]any{
		"description": "changed", "id": "RegionTwo"})), "region")
	if up["description"] != "changed" || up["zone"] != "eu" {
		t.Fatalf("updated region: %v", up)
	}
	if got := obj(e.Must(http.StatusOK, "GET", "/v3/regions/RegionTwo", e.AdminToken, nil), "region"); got["description"] != "changed" {
		t.Fatalf("show after update: %v", got)
	}

	// Any token may read regions; only admins write them.
	e.Must(http.StatusOK, "GET", "/v3/regions", e.DemoToken, nil)
	e.Must(http.StatusOK, "GET", "/v3/regions/RegionTwo", e.DemoToken, nil)
	e.Must(http.StatusForbidden, "POST", "/v3/regions", e.DemoToken, reg(map[string]any{"id": "mine"}))
	e.Must(http.StatusForbidden, "PATCH", "/v3/regions/RegionTwo", e.DemoToken, reg(map[string]any{"description": "x"}))
	e.Must(http.StatusForbidden, "DELETE", "/v3/regions/RegionTwo", e.DemoToken, nil)

	// A region whose subtree has endpoints cannot go; otherwise it goes with its children.
	e.Must(http.StatusForbidden, "DELETE", "/v3/regions/RegionOne", e.AdminToken, nil)
	svc := createTestService(e, "compute", "nova")
	ep := obj(e.Must(http.StatusCreated, "POST", "/v3/endpoints", e.AdminToken, map[string]any{"endpoint": map[string]any{
		"service_id": svc, "interface": "public", "url": "http://nova.example", "region_id": "RegionTwo-a"}}), "endpoint")
	e.Must(http.StatusForbidden, "DELETE", "/v3/regions/RegionTwo", e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/endpoints/"+ep["id"].(string), e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v3/regions/RegionTwo", e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/regions/RegionTwo", e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/regions/RegionTwo-a", e.AdminToken, nil)
}

// createTestService creates a catalog service as admin and returns its id.
func createTestService(e *testEnv, typ, name string) string {
	e.t.Helper()
	out := e.Must(http.StatusCreated, "POST", "/v3/services", e.AdminToken, map[string]any{"service": map[string]any{
		"type": typ, "name": name}})
	return obj(out, "service")["id"].(string)
}

func TestServiceLifecycle(t *testing.T) {
	e := newTestEnv(t)
	svc := obj(e.Must(http.StatusCreated, "POST", "/v3/services", e.AdminToken, map[string]any{"service": map[string]any{
		"type": "compute", "name": "nova", "description": "Compute service", "id": "ignored"}}), "service")
	id := svc["id"].(string)
	if id == "ignored" || svc["type"] != "compute" || svc["name"] != "nova" || svc["description"] != "Compute service" ||
		svc["enabled"] != true || obj(svc, "links")["self"] != e.URL+"/v3/services/"+id {
		t.Fatalf("created service: %v", svc)
	}
	bad := []struct {
		name string
		body any
	}{
		{"type missing", map[string]any{"service": map[string]any{"name": "x"}}},
		{"type blank", map[string]any{"service": map[string]any{"type": ""}}},
		{"type wrong type", map[string]any{"service": map[string]any{"type": 3}}},
		{"name blank", map[string]any{"service": map[string]any{"type": "x", "name": ""}}},
		{"enabled wrong type", map[string]any{"service": map[string]any{"type": "x", "enabled": "yes"}}},
		{"no envelope", map[string]any{"type": "x"}},
		{"not JSON", []byte(`{"service":`)},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if status, out, _ := e.Do("POST", "/v3/services", e.AdminToken, tt.body); status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %v", status, out)
			}
		})
	}
	filters := []struct {
		query string
		want  int
	}{
		{"", 2}, // identity (bootstrap) and compute
		{"?type=compute", 1},
		{"?type=identity", 1},
		{"?name=nova", 1},
		{"?name=keystone", 1},
		{"?type=identity&name=nova", 0},
		{"?type=volume", 0},
	}
	for _, tt := range filters {
		if got := list(e.Must(http.StatusOK, "GET", "/v3/services"+tt.query, e.AdminToken, nil), "services"); len(got) != tt.want {
			t.Errorf("GET /v3/services%s: %d services, want %d", tt.query, len(got), tt.want)
		}
	}
	e.Must(http.StatusOK, "GET", "/v3/services/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/services/nope", e.AdminToken, nil)

	up := obj(e.Must(http.StatusOK, "PATCH", "/v3/services/"+id, e.AdminToken, map[string]any{"service": map[string]any{
		"enabled": false, "name": "nova2"}}), "service")
	if up["enabled"] != false || up["name"] != "nova2" || up["type"] != "compute" || up["description"] != "Compute service" {
		t.Fatalf("updated service: %v", up)
	}
	e.Must(http.StatusBadRequest, "PATCH", "/v3/services/"+id, e.AdminToken, map[string]any{"service": map[string]any{}})
	e.Must(http.StatusBadRequest, "PATCH", "/v3/services/"+id, e.AdminToken, map[string]any{"service": map[string]any{"id": "x"}})
	e.Must(http.StatusBadRequest, "PATCH", "/v3/services/"+id, e.AdminToken, map[string]any{"service": map[string]any{"type": ""}})
	e.Must(http.StatusNotFound, "PATCH", "/v3/services/nope", e.AdminToken, map[string]any{"service": map[string]any{"name": "x"}})

	// Members can neither read nor write the service list.
	e.Must(http.StatusForbidden, "POST", "/v3/services", e.DemoToken, map[string]any{"service": map[string]any{"type": "x"}})
	e.Must(http.StatusForbidden, "GET", "/v3/services", e.DemoToken, nil)
	e.Must(http.StatusForbidden, "PATCH", "/v3/services/"+id, e.DemoToken, map[string]any{"service": map[string]any{"name": "x"}})
	e.Must(http.StatusForbidden, "DELETE", "/v3/services/"+id, e.DemoToken, nil)

	// Deleting a service deletes its endpoints.
	ep := obj(e.Must(http.StatusCreated, "POST", "/v3/endpoints", e.AdminToken, map[string]any{"endpoint": map[string]any{
		"service_id": id, "interface": "public", "url": "http://nova.example"}}), "endpoint")
	e.Must(http.StatusNoContent, "DELETE", "/v3/services/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/services/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/endpoints/"+ep["id"].(string), e.AdminToken, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v3/services/"+id, e.AdminToken, nil)
}

func TestEndpointLifecycle(t *testing.T) {
	e := newTestEnv(t)
	svc := createTestService(e, "compute", "nova")
	epBody := func(m map[string]any) map[string]any {
		b := map[string]any{"service_id": svc, "interface": "public", "url": "http://nova.example:8774/v2.1"}
		for k, v := range m {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return map[string]any{"endpoint": b}
	}
	pub := obj(e.Must(http.StatusCreated, "POST", "/v3/endpoints", e.AdminToken, epBody(map[string]any{"region_id": "RegionOne"})), "endpoint")
	id := pub["id"].(string)
	if pub["interface"] != "public" || pub["service_id"] != svc || pub["url"] != "http://nova.example:8774/v2.1" ||
		pub["region_id"] != "RegionOne" || pub["region"] != "RegionOne" || pub["enabled"] != true ||
		obj(pub, "links")["self"] != e.URL+"/v3/endpoints/"+id {
		t.Fatalf("created endpoint: %v", pub)
	}
	// The legacy "region" attribute names the region, which is created if missing.
	legacy := obj(e.Must(http.StatusCreated, "POST", "/v3/endpoints", e.AdminToken, epBody(map[string]any{
		"interface": "internal", "region": "RegionLegacy"})), "endpoint")
	if legacy["region_id"] != "RegionLegacy" || legacy["region"] != "RegionLegacy" {
		t.Fatalf("legacy region: %v", legacy)
	}
	e.Must(http.StatusOK, "GET", "/v3/regions/RegionLegacy", e.AdminToken, nil)
	admin := obj(e.Must(http.StatusCreated, "POST", "/v3/endpoints", e.AdminToken, epBody(map[string]any{
		"interface": "admin", "enabled": false, "url": "http://nova.example/$(project_id)s"})), "endpoint")
	if admin["region_id"] != nil || admin["enabled"] != false {
		t.Fatalf("regionless disabled endpoint: %v", admin)
	}

	bad := []struct {
		name string
		body map[string]any
		want int
	}{
		{"bad interface", epBody(map[string]any{"interface": "private"}), 400},
		{"interface missing", epBody(map[string]any{"interface": nil}), 400},
		{"url missing", epBody(map[string]any{"url": nil}), 400},
		{"service_id missing", epBody(map[string]any{"service_id": nil}), 400},
		{"url not a URL", epBody(map[string]any{"url": "nova.example"}), 400},
		{"url wrong type", epBody(map[string]any{"url": 5}), 400},
		{"unknown substitution", epBody(map[string]any{"url": "http://x/$(password)s"}), 400},
		{"unknown service", epBody(map[string]any{"service_id": "nope"}), 400},
		{"unknown region_id", epBody(map[string]any{"region_id": "nope"}), 400},
		{"enabled wrong type", epBody(map[string]any{"enabled": "yes"}), 400},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			status, out, _ := e.Do("POST", "/v3/endpoints", e.AdminToken, tt.body)
			if status != tt.want || obj(out, "error")["code"] != float64(tt.want) {
				t.Fatalf("status %d, want %d: %v", status, tt.want, out)
			}
		})
	}

	filters := []struct {
		query string
		want  int
	}{
		{"?service_id=" + svc, 3},
		{"?service_id=" + svc + "&interface=public", 1},
		{"?interface=internal&service_id=" + svc, 1},
		{"?region_id=RegionLegacy", 1},
		{"?region_id=RegionOne&service_id=" + svc, 1},
		{"?service_id=nope", 0},
		{"", 6}, // 3 bootstrap identity endpoints
	}
	for _, tt := range filters {
		if got := list(e.Must(http.StatusOK, "GET", "/v3/endpoints"+tt.query, e.AdminToken, nil), "endpoints"); len(got) != tt.want {
			t.Errorf("GET /v3/endpoints%s: %d endpoints, want %d", tt.query, len(got), tt.want)
		}
	}

	up := obj(e.Must(http.StatusOK, "PATCH", "/v3/endpoints/"+id, e.AdminToken, map[string]any{"endpoint": map[string]any{
		"url": "https://nova.example/v2.1", "region_id": nil}}), "endpoint")
	if up["url"] != "https://nova.example/v2.1" || up["region_id"] != nil || up["interface"] != "public" {
		t.Fatalf("updated endpoint: %v", up)
	}
	if got := obj(e.Must(http.StatusOK, "GET", "/v3/endpoints/"+id, e.AdminToken, nil), "endpoint"); got["url"] != "https://nova.example/v2.1" {
		t.Fatalf("show after update: %v", got)
	}
	for _, body := range []map[string]any{
		{"interface": "private"}, {"service_id": "nope"}, {"region_id": "nope"}, {"url": ""}, {}, {"id": "other"},
	} {
		if status, out, _ := e.Do("PATCH", "/v3/endpoints/"+id, e.AdminToken, map[string]any{"endpoint": body}); status != http.StatusBadRequest {
			t.Errorf("PATCH %v: %d, want 400: %v", body, status, out)
		}
	}
	e.Must(http.StatusNotFound, "PATCH", "/v3/endpoints/nope", e.AdminToken, map[string]any{"endpoint": map[string]any{"url": "http://x"}})
	e.Must(http.StatusNotFound, "GET", "/v3/endpoints/nope", e.AdminToken, nil)

	e.Must(http.StatusForbidden, "POST", "/v3/endpoints", e.DemoToken, epBody(nil))
	e.Must(http.StatusForbidden, "GET", "/v3/endpoints", e.DemoToken, nil)
	e.Must(http.StatusForbidden, "DELETE", "/v3/endpoints/"+id, e.DemoToken, nil)

	e.Must(http.StatusNoContent, "DELETE", "/v3/endpoints/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v3/endpoints/"+id, e.AdminToken, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v3/endpoints/"+id, e.AdminToken, nil)
}

// catalogEntry finds a service by type in a token's or /v3/auth/catalog's catalog.
func catalogEntry(catalog []map[string]any, typ string) map[string]any {
	for _, c := range catalog {
		if c["type"] == typ {
			return c
		}
	}
	return nil
}

func TestCatalogFollowsAPIWrites(t *testing.T) {
	e := newTestEnv(t)
	validate := func(token string) map[string]any {
		t.Helper()
		status, out, _ := e.DoWithHeaders("GET", "/v3/auth/tokens", e.AdminToken, nil, map[string]string{"X-Subject-Token": token})
		if status != http.StatusOK {
			t.Fatalf("validate: %d %v", status, out)
		}
		return obj(out, "token")
	}
	demoProject := obj(validate(e.DemoToken), "project")["id"].(string)
	svc := createTestService(e, "compute", "nova")
	e.Must(http.StatusCreated, "POST", "/v3/endpoints", e.AdminToken, map[string]any{"endpoint": map[string]any{
		"service_id": svc, "interface": "public", "region_id": "RegionOne", "url": "http://nova.example/v2.1/$(project_id)s"}})

	check := func(what string, catalog []map[string]any, wantPresent bool) {
		t.Helper()
		entry := catalogEntry(catalog, "compute")
		if !wantPresent {
			if entry != nil {
				t.Fatalf("%s: compute still in catalog: %v", what, catalog)
			}
			return
		}
		if entry == nil || entry["name"] != "nova" || entry["id"] != svc {
			t.Fatalf("%s: compute missing from catalog: %v", what, catalog)
		}
		eps := list(entry, "endpoints")
		if len(eps) != 1 || eps[0]["url"] != "http://nova.example/v2.1/"+demoProject || eps[0]["interface"] != "public" ||
			eps[0]["region_id"] != "RegionOne" {
			t.Fatalf("%s: compute endpoints: %v", what, eps)
		}
	}
	fresh := e.Login("demo", testDemoPassword, "demo")
	check("new token", list(validate(fresh), "catalog"), true)
	check("token issued before the write", list(validate(e.DemoToken), "catalog"), true)
	check("/v3/auth/catalog", list(e.Must(http.StatusOK, "GET", "/v3/auth/catalog", fresh, nil), "catalog"), true)

	// A disabled service leaves the catalog; a deleted one too.
	e.Must(http.StatusOK, "PATCH", "/v3/services/"+svc, e.AdminToken, map[string]any{"service": map[string]any{"enabled": false}})
	check("disabled service", list(e.Must(http.StatusOK, "GET", "/v3/auth/catalog", fresh, nil), "catalog"), false)
	e.Must(http.StatusOK, "PATCH", "/v3/services/"+svc, e.AdminToken, map[string]any{"service": map[string]any{"enabled": true}})
	check("re-enabled service", list(e.Must(http.StatusOK, "GET", "/v3/auth/catalog", fresh, nil), "catalog"), true)
	e.Must(http.StatusNoContent, "DELETE", "/v3/services/"+svc, e.AdminToken, nil)
	check("deleted service", list(validate(fresh), "catalog"), false)
}
