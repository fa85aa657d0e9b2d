package image

import (
	"context"
	"io/fs"
	"net/http"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/conctest"
)

// TestStandardMetadefs: the namespaces upstream ships are there after start, a
// second start adds nothing and keeps an operator's change, and a project's
// reader lists the public ones with their resource types, as Horizon does.
func TestStandardMetadefs(t *testing.T) {
	e := newTestEnv(t, nil)
	files, _ := fs.Glob(standardMetadefs, "metadefs/*.json")
	namespaces := e.Must(http.StatusOK, "GET", "/v2/metadefs/namespaces?limit=1000", e.AdminToken, nil)["namespaces"].([]any)
	if len(files) != 33 || len(namespaces) != len(files) {
		t.Fatalf("admin lists %d namespaces of %d files, want upstream's 33", len(namespaces), len(files))
	}
	// two of upstream's files name no visibility: only admins see them, as
	// upstream (where it stays NULL, not public)
	public := e.Must(http.StatusOK, "GET", "/v2/metadefs/namespaces?limit=1000", e.DemoToken, nil)["namespaces"].([]any)
	if len(public) != 31 {
		t.Fatalf("a member lists %d namespaces, want the 31 public ones", len(public))
	}
	// every shipped namespace, its properties, objects, tags and resource types
	// answer in upstream's response schemas (the test fails on a violation)
	for _, item := range namespaces {
		path := "/v2/metadefs/namespaces/" + item.(map[string]any)["namespace"].(string)
		e.Must(http.StatusOK, "GET", path, e.AdminToken, nil)
		for _, sub := range []string{"/properties", "/objects", "/tags", "/resource_types"} {
			e.Must(http.StatusOK, "GET", path+sub, e.AdminToken, nil)
		}
		for _, o := range e.Must(http.StatusOK, "GET", path+"/objects", e.AdminToken, nil)["objects"].([]any) {
			e.Must(http.StatusOK, "GET", path+"/objects/"+o.(map[string]any)["name"].(string), e.AdminToken, nil)
		}
		for name := range e.Must(http.StatusOK, "GET", path+"/properties", e.AdminToken, nil)["properties"].(map[string]any) {
			e.Must(http.StatusOK, "GET", path+"/properties/"+name, e.AdminToken, nil)
		}
	}
	watchdog := e.Must(http.StatusOK, "GET", "/v2/metadefs/namespaces/OS::Compute::Watchdog", e.DemoToken, nil)
	if watchdog["protected"] != true || watchdog["visibility"] != "public" || watchdog["owner"] != "admin" {
		t.Fatalf("watchdog namespace: %v", watchdog)
	}
	if _, ok := watchdog["properties"].(map[string]any)["watchdog_action"]; !ok {
		t.Fatalf("watchdog namespace lacks watchdog_action: %v", watchdog["properties"])
	}
	// as an image property, with its prefix
	img := e.Must(http.StatusOK, "GET", "/v2/metadefs/namespaces/OS::Compute::Watchdog?resource_type=OS::Glance::Image", e.DemoToken, nil)
	if _, ok := img["properties"].(map[string]any)["hw_watchdog_action"]; !ok {
		t.Fatalf("?resource_type=OS::Glance::Image: %v", img["properties"])
	}
	prop := e.Must(http.StatusOK, "GET", "/v2/metadefs/namespaces/OS::Compute::Watchdog/properties/hw:watchdog_action?resource_type=OS::Nova::Flavor", e.DemoToken, nil)
	if prop["name"] != "watchdog_action" || prop["type"] != "string" {
		t.Fatalf("prefixed property: %v", prop)
	}
	flavor := e.Must(http.StatusOK, "GET", "/v2/metadefs/namespaces?resource_types=OS::Nova::Flavor&limit=1000", e.DemoToken, nil)
	if n := len(flavor["namespaces"].([]any)); n == 0 || n >= len(namespaces) {
		t.Fatalf("flavor namespaces: %d of %d", n, len(namespaces))
	}
	types := e.Must(http.StatusOK, "GET", "/v2/metadefs/resource_types", e.DemoToken, nil)["resource_types"].([]any)
	if len(types) < 5 {
		t.Fatalf("resource types: %v", types)
	}
	// a standard namespace is protected
	e.Must(http.StatusForbidden, "DELETE", "/v2/metadefs/namespaces/OS::Compute::Watchdog", e.AdminToken, nil)
	// an operator's change survives a restart, and nothing is added twice
	e.Must(http.StatusOK, "PUT", "/v2/metadefs/namespaces/OS::Compute::Watchdog", e.AdminToken, map[string]any{
		"namespace": "OS::Compute::Watchdog", "display_name": "Changed", "visibility": "public", "protected": true, "owner": "admin"})
	e.restart()
	if err := e.Image.loadStandardMetadefs(context.Background()); err != nil {
		t.Fatal(err)
	}
	again := e.Must(http.StatusOK, "GET", "/v2/metadefs/namespaces?limit=1000", e.AdminToken, nil)["namespaces"].([]any)
	if len(again) != len(namespaces) {
		t.Fatalf("after restarts: %d namespaces, want %d", len(again), len(namespaces))
	}
	if got := e.Must(http.StatusOK, "GET", "/v2/metadefs/namespaces/OS::Compute::Watchdog", e.DemoToken, nil)["display_name"]; got != "Changed" {
		t.Fatalf("display_name after restart: %v", got)
	}

	// processes starting at once on one database load each namespace once
	if _, err := e.DB.ExecContext(context.Background(), `DELETE FROM metadef_namespaces`); err != nil {
		t.Fatal(err)
	}
	for _, err := range conctest.Burst(4, func(int) error { return e.Image.loadStandardMetadefs(context.Background()) }) {
		if err != nil {
			t.Fatalf("concurrent load: %v", err)
		}
	}
	if n := len(e.Must(http.StatusOK, "GET", "/v2/metadefs/namespaces?limit=1000", e.AdminToken, nil)["namespaces"].([]any)); n != len(files) {
		t.Fatalf("after concurrent loads: %d namespaces, want %d", n, len(files))
	}
}

// TestMetadefNamespaces: create with contents, visibility (another project's
// private namespace is a 404), update, paging, and upstream's refusals.
func TestMetadefNamespaces(t *testing.T) {
	e := newTestEnv(t, nil)
	otherToken, _ := e.NewProjectUser("md-other")
	const path = "/v2/metadefs/namespaces/OS::Test::Mine"
	created := e.Must(http.StatusCreated, "POST", "/v2/metadefs/namespaces", e.AdminToken, map[string]any{
		"namespace": "OS::Test::Mine", "display_name": "Mine", "owner": e.DemoProject,
		"resource_type_associations": []any{map[string]any{"name": "OS::Glance::Image", "prefix": "mine_"}},
		"properties":                 map[string]any{"speed": map[string]any{"title": "Speed", "type": "integer", "minimum": 1}},
		"objects":                    []any{map[string]any{"name": "Thing", "required": []any{"speed"}, "properties": map[string]any{"speed": map[string]any{"title": "Speed", "type": "integer"}}}},
		"tags":                       []any{map[string]any{"name": "fast"}},
	})
	if created["visibility"] != "private" || created["protected"] != false || created["self"] != path || created["schema"] != "/v2/schemas/metadefs/namespace" {
		t.Fatalf("created: %v", created)
	}
	shown := e.Must(http.StatusOK, "GET", path+"?resource_type=OS::Glance::Image", e.DemoToken, nil)
	obj := shown["objects"].([]any)[0].(map[string]any)
	if _, ok := shown["properties"].(map[string]any)["mine_speed"]; !ok || obj["required"].([]any)[0] != "mine_speed" || len(shown["tags"].([]any)) != 1 {
		t.Fatalf("shown: %v", shown)
	}
	// another project's private namespace does not exist for it; its owner's
	// member reads but does not write
	e.Must(http.StatusNotFound, "GET", path, otherToken, nil)
	e.Must(http.StatusNotFound, "GET", path+"/objects", otherToken, nil)
	e.Must(http.StatusForbidden, "DELETE", path, e.DemoToken, nil)
	e.Must(http.StatusForbidden, "POST", "/v2/metadefs/namespaces", e.DemoToken, map[string]any{"namespace": "x"})
	for _, ns := range e.Must(http.StatusOK, "GET", "/v2/metadefs/namespaces?visibility=private", otherToken, nil)["namespaces"].([]any) {
		t.Fatalf("another project lists %v", ns)
	}

	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		message            string
	}{
		{"duplicate namespace", "POST", "/v2/metadefs/namespaces", map[string]any{"namespace": "OS::Test::Mine"}, 409,
			"The metadata definition namespace=OS::Test::Mine already exists."},
		{"no namespace", "POST", "/v2/metadefs/namespaces", map[string]any{"display_name": "x"}, 400,
			"Provided object does not match schema 'namespace': 'namespace' is a required property"},
		{"namespace too long", "POST", "/v2/metadefs/namespaces", map[string]any{"namespace": strings.Repeat("n", 81)}, 400,
			"Provided object does not match schema 'namespace': '" + strings.Repeat("n", 81) + "' is too long"},
		{"bad visibility", "POST", "/v2/metadefs/namespaces", map[string]any{"namespace": "v", "visibility": "shared"}, 400,
			"Provided object does not match schema 'namespace': 'shared' is not one of ['public', 'private']"},
		{"unknown attribute", "POST", "/v2/metadefs/namespaces", map[string]any{"namespace": "v", "color": "red"}, 400,
			"Provided object does not match schema 'namespace': Additional properties are not allowed ('color' was unexpected)"},
		{"not an object", "POST", "/v2/metadefs/namespaces", []any{"x"}, 400,
			"Provided object does not match schema 'namespace': ['x'] is not of type 'object'"},
		{"read-only", "POST", "/v2/metadefs/namespaces", map[string]any{"namespace": "v", "created_at": "now"}, 403,
			"Attribute 'created_at' is read-only."},
		{"property without title", "POST", path + "/properties", map[string]any{"name": "p", "type": "string"}, 400,
			"Provided object does not match schema 'property': 'title' is a required property"},
		{"property of an unknown type", "POST", path + "/properties", map[string]any{"name": "p", "title": "P", "type": "text"}, 400,
			"Provided object does not match schema 'property': 'text' is not one of ['array', 'boolean', 'integer', 'number', 'object', 'string', None]"},
		{"duplicate property", "POST", path + "/properties", map[string]any{"name": "speed", "title": "S", "type": "integer"}, 409,
			"A metadata definition property with name=speed already exists in namespace=OS::Test::Mine."},
		{"duplicate object", "POST", path + "/objects", map[string]any{"name": "Thing"}, 409,
			"A metadata definition object with name=Thing already exists in namespace=OS::Test::Mine."},
		{"tag in another case", "POST", path + "/tags/FAST", nil, 409,
			"A metadata tag with name=FAST already exists in namespace=OS::Test::Mine. (Please note that metadata tag names are case insensitive)."},
		{"missing object", "GET", path + "/objects/nope", nil, 404,
			"The metadata definition object with name=nope was not found in namespace=OS::Test::Mine."},
		{"missing tag", "DELETE", path + "/tags/nope", nil, 404,
			"The metadata definition tag with name=nope was not found in namespace=OS::Test::Mine."},
		{"duplicate association", "POST", path + "/resource_types", map[string]any{"name": "OS::Glance::Image"}, 409,
			"The metadata definition resource-type association of resource-type=OS::Glance::Image to namespace=OS::Test::Mine already exists."},
		{"missing namespace", "GET", "/v2/metadefs/namespaces/OS::Nope", nil, 404, "Namespace OS::Nope not found"},
		{"bad sort direction", "GET", "/v2/metadefs/namespaces?sort_dir=up", nil, 400, "Invalid sort direction: up"},
		{"bad list visibility", "GET", "/v2/metadefs/namespaces?visibility=shared", nil, 400, "Invalid visibility value: shared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out, _, _ := e.Do(tc.method, tc.path, e.AdminToken, tc.body, nil)
			if status != tc.status || out["message"] != tc.message {
				t.Fatalf("got %d %q, want %d %q", status, out["message"], tc.status, tc.message)
			}
		})
	}

	// contents: update, tags replaced or appended, delete
	e.Must(http.StatusOK, "PUT", path+"/objects/Thing", e.AdminToken, map[string]any{"name": "Thing", "description": "d"})
	e.Must(http.StatusCreated, "POST", path+"/tags", e.AdminToken, map[string]any{"tags": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}})
	status, _, _, _ := e.Do("POST", path+"/tags", e.AdminToken, map[string]any{"tags": []any{map[string]any{"name": "c"}}},
		map[string]string{"X-Openstack-Append": "true"})
	if tags := e.Must(http.StatusOK, "GET", path+"/tags", e.AdminToken, nil)["tags"].([]any); status != 201 || len(tags) != 3 {
		t.Fatalf("tags after replace and append (%d): %v", status, tags)
	}
	e.Must(http.StatusOK, "PUT", path+"/properties/speed", e.AdminToken, map[string]any{"name": "velocity", "title": "V", "type": "number"})
	e.Must(http.StatusOK, "GET", path+"/properties/velocity", e.DemoToken, nil)
	e.Must(http.StatusNoContent, "DELETE", path+"/resource_types/OS::Glance::Image", e.AdminToken, nil)
	renamed := e.Must(http.StatusOK, "PUT", path, e.AdminToken, map[string]any{"namespace": "OS::Test::Renamed", "visibility": "public"})
	if renamed["owner"] != e.identity.AdminProject || renamed["visibility"] != "public" {
		t.Fatalf("renamed (an owner left out becomes the caller's project, as upstream): %v", renamed)
	}
	e.Must(http.StatusOK, "GET", "/v2/metadefs/namespaces/OS::Test::Renamed/objects/Thing", otherToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v2/metadefs/namespaces/OS::Test::Renamed/objects", e.AdminToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v2/metadefs/namespaces/OS::Test::Renamed", e.AdminToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v2/metadefs/namespaces/OS::Test::Renamed", e.AdminToken, nil)

	// paging: limit, marker and the next link
	page := e.Must(http.StatusOK, "GET", "/v2/metadefs/namespaces?limit=2&sort_key=namespace&sort_dir=asc", e.DemoToken, nil)
	next, _ := page["next"].(string)
	if len(page["namespaces"].([]any)) != 2 || !strings.Contains(next, "marker=") {
		t.Fatalf("first page: %v", page)
	}
	second := e.Must(http.StatusOK, "GET", next, e.DemoToken, nil)
	if first := second["namespaces"].([]any)[0].(map[string]any)["namespace"]; first == page["namespaces"].([]any)[1].(map[string]any)["namespace"] {
		t.Fatalf("second page repeats the marker: %v", first)
	}
}
