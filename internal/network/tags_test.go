package network

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestTags drives the tag API on every taggable collection the same way.
func TestTags(t *testing.T) {
	e := newTestEnv(t, nil)
	extID, netID, subID, routerID := e.routedNetwork()
	port := e.Create(e.DemoToken, "ports", "port", map[string]any{"network_id": netID})
	sg := e.Create(e.DemoToken, "security-groups", "security_group", map[string]any{"name": "web"})
	fip := e.Create(e.DemoToken, "floatingips", "floatingip", map[string]any{"floating_network_id": extID})
	otherToken, _ := e.NewProjectUser("other")

	for _, res := range []struct{ collection, member, id string }{
		{"networks", "network", netID},
		{"subnets", "subnet", subID},
		{"ports", "port", port["id"].(string)},
		{"routers", "router", routerID},
		{"security-groups", "security_group", sg["id"].(string)},
		{"floatingips", "floatingip", fip["id"].(string)},
	} {
		t.Run(res.collection, func(t *testing.T) {
			base := "/v2.0/" + res.collection + "/" + res.id
			tags := base + "/tags"
			show := func() map[string]any { return e.Must(200, "GET", base, e.DemoToken, nil)[res.member].(map[string]any) }
			tagsOf := func() []string {
				var out []string
				for _, v := range e.Must(200, "GET", tags, e.DemoToken, nil)["tags"].([]any) {
					out = append(out, v.(string))
				}
				return out
			}
			before := show()["revision_number"].(float64)

			e.expectError(400, "InvalidInput", "Invalid input for operation: Duplicate items in the list: 'red'.", "PUT", tags, e.DemoToken,
				map[string]any{"tags": []any{"red", "blue", "red"}})
			got := e.Must(200, "PUT", tags, e.DemoToken, map[string]any{"tags": []any{"red", "blue"}})["tags"].([]any)
			if len(got) != 2 {
				t.Fatalf("replace answered %v", got)
			}
			if l := tagsOf(); !slices.Equal(l, []string{"red", "blue"}) {
				t.Fatalf("tags %v", l)
			}
			e.Must(204, "GET", tags+"/red", e.DemoToken, nil)
			e.Fail(404, "TagNotFound", "GET", tags+"/green", e.DemoToken, nil)
			e.Must(201, "PUT", tags+"/green", e.DemoToken, nil)
			e.Must(201, "PUT", tags+"/green", e.DemoToken, nil) // twice: still one
			shown := show()
			if l := shown["tags"].([]any); len(l) != 3 || l[2] != "green" {
				t.Fatalf("resource tags %v", l)
			}
			if shown["revision_number"].(float64) <= before {
				t.Fatalf("revision %v not above %v", shown["revision_number"], before)
			}
			if l := e.Must(200, "GET", "/v2.0/"+res.collection+"?tags=green,red", e.DemoToken, nil)[strings.ReplaceAll(res.collection, "-", "_")].([]any); len(l) != 1 {
				t.Fatalf("tag filter found %v", l)
			}
			e.Must(204, "DELETE", tags+"/red", e.DemoToken, nil)
			e.Fail(404, "TagNotFound", "DELETE", tags+"/red", e.DemoToken, nil)
			e.Must(204, "DELETE", tags, e.DemoToken, nil)
			if l := tagsOf(); len(l) != 0 {
				t.Fatalf("tags after delete all %v", l)
			}

			for _, bad := range []struct {
				method, path string
				body         any
				status       int
			}{
				{"PUT", tags, map[string]any{"tags": "red"}, 400},
				{"PUT", tags, map[string]any{"tags": []any{1}}, 400},
				{"PUT", tags, map[string]any{}, 400},
				{"PUT", tags, []any{"red"}, 400},
				{"PUT", tags, map[string]any{"tags": []any{strings.Repeat("x", 256)}}, 400},
				{"PUT", tags + "/" + strings.Repeat("x", 256), nil, 400},
			} {
				if status, _, data := e.Do(bad.method, bad.path, e.DemoToken, bad.body); status != bad.status {
					t.Fatalf("%s %s %v: %d %s", bad.method, bad.path, bad.body, status, data)
				}
			}
			// Another project sees nothing.
			e.Fail(404, "", "GET", tags, otherToken, nil)
			e.Fail(404, "", "PUT", tags+"/mine", otherToken, nil)
			e.Fail(404, "", "DELETE", tags, otherToken, nil)
			e.Fail(404, "", "GET", "/v2.0/"+res.collection+"/nope/tags", e.DemoToken, nil)
		})
	}
}

// TestTagsNeedUpdateRights: a project may read the tags of a shared network but
// not change them.
func TestTagsNeedUpdateRights(t *testing.T) {
	e := newTestEnv(t, nil)
	shared := e.Create(e.AdminToken, "networks", "network", map[string]any{"name": "shared", "shared": true})
	tags := "/v2.0/networks/" + shared["id"].(string) + "/tags"
	e.Must(201, "PUT", tags+"/infra", e.AdminToken, nil)
	if got := e.Must(200, "GET", tags, e.DemoToken, nil)["tags"].([]any); len(got) != 1 {
		t.Fatalf("shared network tags %v", got)
	}
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "PUT", tags+"/mine", e.DemoToken, nil)
	e.Fail(http.StatusForbidden, "PolicyNotAuthorized", "DELETE", tags, e.DemoToken, nil)
}
