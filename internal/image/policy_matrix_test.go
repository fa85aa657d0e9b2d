package image

import (
	"net/http"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/policy/policytest"
)

// TestPolicyMatrix holds every route of the image API against upstream Glance's
// default policies (testdata/upstream-policies.yaml, transcribed from
// glance/policies): for each of the six personas, the real request is allowed
// exactly when upstream's rules, with their scope types, allow it for the
// target Glance builds (the image's owner as project_id and owner, its
// visibility, and member_id: the caller's project when the image is shared and
// the caller is not its owner).
func TestPolicyMatrix(t *testing.T) {
	e := newTestEnv(t, nil)
	upstream, err := policytest.LoadUpstream("testdata/upstream-policies.yaml")
	if err != nil {
		t.Fatal(err)
	}
	personas, owner := e.identity.Personas("imgmatrix")
	byName := map[string]policytest.Persona{}
	for _, p := range personas {
		byName[p.Name] = p
	}
	ownerToken := byName[policytest.Member].Token
	otherProject, _ := byName[policytest.OtherMember].Creds["project_id"].(string)

	status := func(method, path, token string, body any, headers map[string]string) int {
		t.Helper()
		code, _, _, _ := e.Do(method, path, token, body, headers)
		return code
	}
	allowed := func(method, path string, body any) func(*testing.T, policytest.Persona) bool {
		return func(t *testing.T, p policytest.Persona) bool {
			return policytest.Allowed(status(method, path, p.Token, body, nil))
		}
	}
	// fresh makes a private image of the owning project, with data when active.
	fresh := func(visibility string, active bool) string {
		t.Helper()
		id := e.Create(ownerToken, map[string]any{"name": "m", "disk_format": "raw", "container_format": "bare",
			"visibility": visibility})
		if active {
			e.Must(http.StatusNoContent, "PUT", "/v2/images/"+id+"/file", ownerToken, []byte("image data"))
		}
		return id
	}
	private := fresh("private", true)
	shared := fresh("shared", true)
	e.Must(http.StatusOK, "POST", "/v2/images/"+shared+"/members", ownerToken, map[string]any{"member": otherProject})

	// imageTarget is Glance's ImageTarget of an image of the owning project as p
	// sees it (glance/db ImageRepo._format_image_from_db sets member).
	imageTarget := func(visibility string, p policytest.Persona) map[string]any {
		target := map[string]any{"project_id": owner, "owner": owner, "visibility": visibility, "member_id": nil}
		if project, _ := p.Creds["project_id"].(string); visibility == "shared" && project != owner && project != "" {
			target["member_id"] = project
		}
		return target
	}
	// ruled is the expectation of rules all evaluated against target(p).
	ruled := func(target func(policytest.Persona) map[string]any, rules ...string) func(policytest.Persona) bool {
		return func(p policytest.Persona) bool {
			for _, rule := range rules {
				if !upstream.Allowed(rule, target(p), p.Creds) {
					return false
				}
			}
			return true
		}
	}
	onImage := func(visibility string) func(policytest.Persona) map[string]any {
		return func(p policytest.Persona) map[string]any { return imageTarget(visibility, p) }
	}
	// own is the target of a request about no image yet: the caller's project
	// (glance's ImageAPIPolicy with a dict of proposed properties).
	own := func(p policytest.Persona) map[string]any {
		project := p.Creds["project_id"]
		if project == "" {
			project = nil
		}
		return map[string]any{"project_id": project, "owner": project, "visibility": "private"}
	}
	none := func(policytest.Persona) map[string]any { return map[string]any{} }
	patch := map[string]string{"Content-Type": patchType}

	cases := []policytest.Case{
		{Route: "GET /v2/info/stores", Do: allowed("GET", "/v2/info/stores", nil)},
		{Route: "GET /v2/info/import", Do: allowed("GET", "/v2/info/import", nil)},

		{Route: "GET /v2/images", Rules: []string{"get_images"}, Expect: ruled(own, "get_images"),
			Do: allowed("GET", "/v2/images", nil)},
		{Route: "POST /v2/images", Rules: []string{"add_image"}, Expect: ruled(own, "add_image"),
			Do: allowed("POST", "/v2/images", map[string]any{"name": "new", "visibility": "private"})},
		{Route: "GET /v2/images/{image_id}", Rules: []string{"get_image"}, Expect: ruled(onImage("private"), "get_image"),
			Do: allowed("GET", "/v2/images/"+private, nil)},
		{Route: "PATCH /v2/images/{image_id}", Rules: []string{"modify_image"}, Expect: ruled(onImage("private"), "modify_image"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return policytest.Allowed(status("PATCH", "/v2/images/"+private, p.Token,
					[]byte(`[{"op": "replace", "path": "/name", "value": "renamed"}]`), patch))
			}},
		{Route: "DELETE /v2/images/{image_id}", Rules: []string{"delete_image"}, Expect: ruled(onImage("private"), "delete_image"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return policytest.Allowed(status("DELETE", "/v2/images/"+fresh("private", false), p.Token, nil, nil))
			}},
		{Route: "PUT /v2/images/{image_id}/tags/{tag}", Rules: []string{"modify_image"}, Expect: ruled(onImage("private"), "modify_image"),
			Do: allowed("PUT", "/v2/images/"+private+"/tags/t", nil)},
		{Route: "DELETE /v2/images/{image_id}/tags/{tag}", Rules: []string{"modify_image"}, Expect: ruled(onImage("private"), "modify_image"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				e.Must(http.StatusNoContent, "PUT", "/v2/images/"+private+"/tags/gone", ownerToken, nil)
				return policytest.Allowed(status("DELETE", "/v2/images/"+private+"/tags/gone", p.Token, nil, nil))
			}},
		{Route: "POST /v2/images/{image_id}/actions/deactivate", Rules: []string{"deactivate"}, Expect: ruled(onImage("private"), "deactivate"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return policytest.Allowed(status("POST", "/v2/images/"+fresh("private", true)+"/actions/deactivate", p.Token, nil, nil))
			}},
		{Route: "POST /v2/images/{image_id}/actions/reactivate", Rules: []string{"reactivate"}, Expect: ruled(onImage("private"), "reactivate"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				id := fresh("private", true)
				e.Must(http.StatusNoContent, "POST", "/v2/images/"+id+"/actions/deactivate", ownerToken, nil)
				return policytest.Allowed(status("POST", "/v2/images/"+id+"/actions/reactivate", p.Token, nil, nil))
			}},

		{Route: "PUT /v2/images/{image_id}/file", Rules: []string{"upload_image"}, Expect: ruled(onImage("private"), "upload_image"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return policytest.Allowed(status("PUT", "/v2/images/"+fresh("private", false)+"/file", p.Token, []byte("data"), nil))
			}},
		{Route: "GET /v2/images/{image_id}/file", Rules: []string{"download_image"}, Expect: ruled(onImage("private"), "download_image"),
			Do: allowed("GET", "/v2/images/"+private+"/file", nil)},
		// upstream checks modify_image on stage and on import (image_data.py
		// stage, images.py import_image); there is no rule of their own
		{Route: "PUT /v2/images/{image_id}/stage", Rules: []string{"modify_image"}, Expect: ruled(onImage("private"), "modify_image"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return policytest.Allowed(status("PUT", "/v2/images/"+fresh("private", false)+"/stage", p.Token, []byte("data"), nil))
			}},
		{Route: "POST /v2/images/{image_id}/import", Rules: []string{"modify_image"}, Expect: ruled(onImage("private"), "modify_image"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				id := fresh("private", false)
				e.Must(http.StatusNoContent, "PUT", "/v2/images/"+id+"/stage", ownerToken, []byte("staged"))
				return policytest.Allowed(status("POST", "/v2/images/"+id+"/import", p.Token,
					map[string]any{"method": map[string]any{"name": "glance-direct"}}, nil))
			}},

		{Route: "GET /v2/images/{image_id}/tasks", Rules: []string{"get_image"}, Expect: ruled(onImage("private"), "get_image"),
			Do: allowed("GET", "/v2/images/"+private+"/tasks", nil)},
		{Route: "GET /v2/images/{image_id}/members", Rules: []string{"get_members"}, Expect: ruled(onImage("shared"), "get_image", "get_members"),
			Do: allowed("GET", "/v2/images/"+shared+"/members", nil)},
		{Route: "POST /v2/images/{image_id}/members", Rules: []string{"add_member"}, Expect: ruled(onImage("shared"), "get_image", "add_member"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return policytest.Allowed(status("POST", "/v2/images/"+shared+"/members", p.Token,
					map[string]any{"member": newID()}, nil))
			}},
		{Route: "GET /v2/images/{image_id}/members/{member_id}", Rules: []string{"get_member"}, Expect: ruled(onImage("shared"), "get_image", "get_member"),
			Do: allowed("GET", "/v2/images/"+shared+"/members/"+otherProject, nil)},
		{Route: "PUT /v2/images/{image_id}/members/{member_id}", Rules: []string{"modify_member"}, Expect: ruled(onImage("shared"), "get_image", "modify_member"),
			Do: allowed("PUT", "/v2/images/"+shared+"/members/"+otherProject, map[string]any{"status": "accepted"})},
		{Route: "DELETE /v2/images/{image_id}/members/{member_id}", Rules: []string{"delete_member"}, Expect: ruled(onImage("shared"), "get_image", "delete_member"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				id := fresh("shared", false)
				e.Must(http.StatusOK, "POST", "/v2/images/"+id+"/members", ownerToken, map[string]any{"member": otherProject})
				return policytest.Allowed(status("DELETE", "/v2/images/"+id+"/members/"+otherProject, p.Token, nil, nil))
			}},

		// the tasks API: tasks_api_access guards every route, the per-action
		// rule is checked too (glance/api/v2/tasks.py and the task repo proxy)
		{Route: "GET /v2/tasks", Rules: []string{"tasks_api_access", "get_tasks"}, Expect: ruled(none, "tasks_api_access", "get_tasks"),
			Do: allowed("GET", "/v2/tasks", nil)},
		{Route: "POST /v2/tasks", Rules: []string{"tasks_api_access", "add_task"}, Expect: ruled(none, "tasks_api_access", "add_task"),
			Do: allowed("POST", "/v2/tasks", map[string]any{"type": "import", "input": map[string]any{
				"import_from": "http://example.invalid/x.img", "import_from_format": "raw"}})},
		{Route: "GET /v2/tasks/{task_id}", Rules: []string{"tasks_api_access", "get_task"}, Expect: ruled(none, "tasks_api_access", "get_task"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				task := e.Must(http.StatusCreated, "POST", "/v2/tasks", byName[policytest.Admin].Token, map[string]any{"type": "import",
					"input": map[string]any{"import_from": "http://example.invalid/x.img", "import_from_format": "raw"}})
				return policytest.Allowed(status("GET", "/v2/tasks/"+task["id"].(string), p.Token, nil, nil))
			}},
	}
	cases = append(cases, metadefCases(e, byName, owner, status, allowed, ruled, own)...)
	for _, name := range served {
		cases = append(cases, policytest.Case{Route: "GET /v2/schemas/" + name, Do: allowed("GET", "/v2/schemas/"+name, nil)})
	}
	policytest.Matrix{Upstream: upstream, Personas: personas, Routes: e.Image.routes()}.Check(t, cases)
}

// metadefCases are the metadef routes' cases: a private namespace of the owning
// project (made by admin), with an object, a property, a tag and a resource type
// association; deletes work on fresh ones.
func metadefCases(e *testEnv, byName map[string]policytest.Persona, owner string,
	status func(method, path, token string, body any, headers map[string]string) int,
	allowed func(method, path string, body any) func(*testing.T, policytest.Persona) bool,
	ruled func(target func(policytest.Persona) map[string]any, rules ...string) func(policytest.Persona) bool,
	own func(policytest.Persona) map[string]any) []policytest.Case {
	admin := byName[policytest.Admin].Token
	fresh := func() string {
		name := "OS::Matrix::" + newID()
		e.Must(http.StatusCreated, "POST", "/v2/metadefs/namespaces", admin, map[string]any{"namespace": name, "owner": owner,
			"visibility": "private", "objects": []any{map[string]any{"name": "o"}},
			"properties":                 map[string]any{"p": map[string]any{"title": "P", "type": "string"}},
			"tags":                       []any{map[string]any{"name": "t"}},
			"resource_type_associations": []any{map[string]any{"name": "OS::Glance::Image", "prefix": "p_"}}})
		return "/v2/metadefs/namespaces/" + name
	}
	ns := fresh()
	onNamespace := func(policytest.Persona) map[string]any {
		return map[string]any{"project_id": owner, "visibility": "private"}
	}
	// reads, and writes refused before they touch anything, share ns; a write
	// that succeeds gets its own namespace
	write := func(method, suffix string, body any) func(*testing.T, policytest.Persona) bool {
		return func(t *testing.T, p policytest.Persona) bool {
			return policytest.Allowed(status(method, fresh()+suffix, p.Token, body, nil))
		}
	}
	const root = "/v2/metadefs/namespaces/{namespace}"
	reads := []string{"get_metadef_namespace"}
	return []policytest.Case{
		{Route: "GET /v2/metadefs/namespaces", Rules: []string{"get_metadef_namespaces", "list_metadef_resource_types"},
			Expect: ruled(own, "get_metadef_namespaces", "list_metadef_resource_types"), Do: allowed("GET", "/v2/metadefs/namespaces", nil)},
		{Route: "POST /v2/metadefs/namespaces", Rules: []string{"add_metadef_namespace"}, Expect: ruled(own, "add_metadef_namespace"),
			Do: func(t *testing.T, p policytest.Persona) bool {
				return policytest.Allowed(status("POST", "/v2/metadefs/namespaces", p.Token, map[string]any{"namespace": "OS::New::" + newID()}, nil))
			}},
		{Route: "GET " + root, Rules: []string{"get_metadef_namespace"},
			Expect: ruled(onNamespace, "get_metadef_namespace", "list_metadef_resource_types", "get_metadef_objects", "get_metadef_properties", "get_metadef_tags"),
			Do:     allowed("GET", ns, nil)},
		{Route: "PUT " + root, Rules: []string{"modify_metadef_namespace"}, Expect: ruled(onNamespace, append(reads, "modify_metadef_namespace")...),
			Do: func(t *testing.T, p policytest.Persona) bool {
				path := fresh()
				return policytest.Allowed(status("PUT", path, p.Token, map[string]any{"namespace": path[len("/v2/metadefs/namespaces/"):], "visibility": "private", "owner": owner}, nil))
			}},
		{Route: "DELETE " + root, Rules: []string{"delete_metadef_namespace"}, Expect: ruled(onNamespace, append(reads, "delete_metadef_namespace")...),
			Do: write("DELETE", "", nil)},

		{Route: "GET " + root + "/objects", Rules: []string{"get_metadef_objects"}, Expect: ruled(onNamespace, append(reads, "get_metadef_objects")...),
			Do: allowed("GET", ns+"/objects", nil)},
		{Route: "POST " + root + "/objects", Rules: []string{"add_metadef_object"}, Expect: ruled(onNamespace, append(reads, "add_metadef_object")...),
			Do: write("POST", "/objects", map[string]any{"name": "o2"})},
		{Route: "DELETE " + root + "/objects", Rules: []string{"delete_metadef_namespace"}, Expect: ruled(onNamespace, append(reads, "delete_metadef_namespace")...),
			Do: write("DELETE", "/objects", nil)},
		{Route: "GET " + root + "/objects/{name}", Rules: []string{"get_metadef_object"}, Expect: ruled(onNamespace, append(reads, "get_metadef_object")...),
			Do: allowed("GET", ns+"/objects/o", nil)},
		{Route: "PUT " + root + "/objects/{name}", Rules: []string{"modify_metadef_object"}, Expect: ruled(onNamespace, append(reads, "modify_metadef_object")...),
			Do: write("PUT", "/objects/o", map[string]any{"name": "o"})},
		{Route: "DELETE " + root + "/objects/{name}", Rules: []string{"delete_metadef_object"}, Expect: ruled(onNamespace, append(reads, "delete_metadef_object")...),
			Do: write("DELETE", "/objects/o", nil)},

		{Route: "GET " + root + "/properties", Rules: []string{"get_metadef_properties"}, Expect: ruled(onNamespace, append(reads, "get_metadef_properties")...),
			Do: allowed("GET", ns+"/properties", nil)},
		{Route: "POST " + root + "/properties", Rules: []string{"add_metadef_property"}, Expect: ruled(onNamespace, append(reads, "add_metadef_property")...),
			Do: write("POST", "/properties", map[string]any{"name": "p2", "title": "P2", "type": "string"})},
		{Route: "DELETE " + root + "/properties", Rules: []string{"delete_metadef_namespace"}, Expect: ruled(onNamespace, append(reads, "delete_metadef_namespace")...),
			Do: write("DELETE", "/properties", nil)},
		{Route: "GET " + root + "/properties/{name}", Rules: []string{"get_metadef_property"}, Expect: ruled(onNamespace, append(reads, "get_metadef_property")...),
			Do: allowed("GET", ns+"/properties/p", nil)},
		{Route: "PUT " + root + "/properties/{name}", Rules: []string{"modify_metadef_property"}, Expect: ruled(onNamespace, append(reads, "modify_metadef_property")...),
			Do: write("PUT", "/properties/p", map[string]any{"name": "p", "title": "P", "type": "integer"})},
		{Route: "DELETE " + root + "/properties/{name}", Rules: []string{"remove_metadef_property"}, Expect: ruled(onNamespace, append(reads, "remove_metadef_property")...),
			Do: write("DELETE", "/properties/p", nil)},

		{Route: "GET " + root + "/tags", Rules: []string{"get_metadef_tags"}, Expect: ruled(onNamespace, append(reads, "get_metadef_tags")...),
			Do: allowed("GET", ns+"/tags", nil)},
		{Route: "POST " + root + "/tags", Rules: []string{"add_metadef_tags"}, Expect: ruled(onNamespace, append(reads, "add_metadef_tags")...),
			Do: write("POST", "/tags", map[string]any{"tags": []any{map[string]any{"name": "t2"}}})},
		{Route: "DELETE " + root + "/tags", Rules: []string{"delete_metadef_tags"}, Expect: ruled(onNamespace, append(reads, "delete_metadef_tags", "delete_metadef_namespace")...),
			Do: write("DELETE", "/tags", nil)},
		{Route: "GET " + root + "/tags/{name}", Rules: []string{"get_metadef_tag"}, Expect: ruled(onNamespace, append(reads, "get_metadef_tag")...),
			Do: allowed("GET", ns+"/tags/t", nil)},
		{Route: "POST " + root + "/tags/{name}", Rules: []string{"add_metadef_tag"}, Expect: ruled(onNamespace, append(reads, "add_metadef_tag")...),
			Do: write("POST", "/tags/t3", nil)},
		{Route: "PUT " + root + "/tags/{name}", Rules: []string{"modify_metadef_tag"}, Expect: ruled(onNamespace, append(reads, "modify_metadef_tag")...),
			Do: write("PUT", "/tags/t", map[string]any{"name": "t4"})},
		{Route: "DELETE " + root + "/tags/{name}", Rules: []string{"delete_metadef_tag"}, Expect: ruled(onNamespace, append(reads, "delete_metadef_tag")...),
			Do: write("DELETE", "/tags/t", nil)},

		{Route: "GET /v2/metadefs/resource_types", Rules: []string{"list_metadef_resource_types"}, Expect: ruled(own, "list_metadef_resource_types"),
			Do: allowed("GET", "/v2/metadefs/resource_types", nil)},
		{Route: "GET " + root + "/resource_types", Rules: []string{"list_metadef_resource_types"}, Expect: ruled(onNamespace, append(reads, "list_metadef_resource_types")...),
			Do: allowed("GET", ns+"/resource_types", nil)},
		{Route: "POST " + root + "/resource_types", Rules: []string{"add_metadef_resource_type_association"},
			Expect: ruled(onNamespace, append(reads, "add_metadef_resource_type_association")...),
			Do:     write("POST", "/resource_types", map[string]any{"name": "OS::Nova::Flavor", "prefix": "p:"})},
		{Route: "DELETE " + root + "/resource_types/{name}", Rules: []string{"remove_metadef_resource_type_association"},
			Expect: ruled(onNamespace, append(reads, "remove_metadef_resource_type_association")...),
			Do:     write("DELETE", "/resource_types/OS::Glance::Image", nil)},
	}
}
