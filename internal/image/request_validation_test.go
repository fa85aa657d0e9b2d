package image

import (
	"net/http"
	"strings"
	"testing"
)

// TestRequestValidation holds every create and update body of the image API
// against upstream's deserializers (glance/api/v2/images.py, image_members.py,
// tasks.py): upstream's permissive inputs accepted, its invalid ones refused
// with its status and message.
func TestRequestValidation(t *testing.T) {
	e := newTestEnv(t, nil)
	shared := e.Create(e.DemoToken, map[string]any{"name": "s", "visibility": "shared"})
	queued := e.Create(e.DemoToken, map[string]any{"name": "q", "disk_format": "raw", "container_format": "bare"})
	const uuid = "1f0c7a3e-6b1e-4c55-9a77-1e4a0d9f7e10"
	const schemaErr = "Provided object does not match schema 'image': "
	for _, tc := range []struct {
		name, method, path, token, body string
		status                          int
		message                         string
	}{
		// POST /v2/images: accepted as upstream accepts them
		{"create empty", "POST", "/v2/images", "", `{}`, 201, ""},
		{"create null name and formats", "POST", "/v2/images", "", `{"name": null, "disk_format": null, "container_format": null}`, 201, ""},
		{"create with id, kernel and ramdisk", "POST", "/v2/images", "", `{"id": "` + strings.ToUpper("2f0c7a3e-6b1e-4c55-9a77-1e4a0d9f7e10") + `", "kernel_id": "` + uuid + `", "ramdisk_id": null}`, 201, ""},
		{"create with description and os_distro", "POST", "/v2/images", "", `{"description": "d", "os_distro": "debian", "hw_disk_bus": "virtio", "min_ram": 0, "tags": []}`, 201, ""},
		// refused as upstream refuses them
		{"create self", "POST", "/v2/images", "", `{"self": "x"}`, 403, "Attribute 'self' is read-only."},
		{"create stores", "POST", "/v2/images", "", `{"stores": "file"}`, 403, "Attribute 'stores' is read-only."},
		{"create status", "POST", "/v2/images", "", `{"status": "active"}`, 403, "Attribute 'status' is read-only."},
		{"create reserved", "POST", "/v2/images", "", `{"deleted": "x"}`, 403, "Attribute 'deleted' is reserved."},
		{"create reserved namespace", "POST", "/v2/images", "", `{"os_glance_importing_to_stores": "x"}`, 403, "Attribute 'os_glance_importing_to_stores' is reserved."},
		{"create long property name", "POST", "/v2/images", "", `{"` + strings.Repeat("k", 256) + `": "v"}`, 400, "Custom property should not be greater than 255 characters."},
		{"create bad id", "POST", "/v2/images", "", `{"id": "nope"}`, 400, schemaErr + "'nope' does not match '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$'"},
		{"create bad disk format", "POST", "/v2/images", "", `{"disk_format": "floppy"}`, 400, schemaErr + "'floppy' is not one of [None, 'ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop']"},
		{"create bad visibility", "POST", "/v2/images", "", `{"visibility": "everyone"}`, 400, schemaErr + "'everyone' is not one of ['community', 'public', 'private', 'shared']"},
		{"create protected string", "POST", "/v2/images", "", `{"protected": "true"}`, 400, schemaErr + "'true' is not of type 'boolean'"},
		{"create min_ram float", "POST", "/v2/images", "", `{"min_ram": 1.5}`, 400, schemaErr + "1.5 is not of type 'integer'"},
		{"create negative min_ram", "POST", "/v2/images", "", `{"min_ram": -1}`, 400, "Invalid value '-1' for parameter 'min_ram': Cannot be a negative value"},
		{"create long name", "POST", "/v2/images", "", `{"name": "` + strings.Repeat("n", 256) + `"}`, 400, schemaErr + "'" + strings.Repeat("n", 256) + "' is too long"},
		{"create long tag", "POST", "/v2/images", "", `{"tags": ["` + strings.Repeat("t", 256) + `"]}`, 400, schemaErr + "'" + strings.Repeat("t", 256) + "' is too long"},
		{"create number property", "POST", "/v2/images", "", `{"foo": 3}`, 400, schemaErr + "3 is not of type 'string'"},
		{"create bad cinder policy", "POST", "/v2/images", "", `{"cinder_encryption_key_deletion_policy": "never"}`, 400, schemaErr + "'never' is not one of ['on_image_deletion', 'do_not_delete']"},
		{"create not an object", "POST", "/v2/images", "", `[]`, 400, schemaErr + "[] is not of type 'object'"},

		// members
		{"member added", "POST", "/v2/images/" + shared + "/members", "", `{"member": "` + uuid + `"}`, 200, ""},
		{"member missing", "POST", "/v2/images/" + shared + "/members", "", `{}`, 400, "Member to be added not specified"},
		{"member empty", "POST", "/v2/images/" + shared + "/members", "", `{"member": ""}`, 400, "Member can't be empty"},
		{"member not an object", "POST", "/v2/images/" + shared + "/members", "", `["x"]`, 400, `Expected a member in the form: {"member": "image_id"}`},
		{"member status missing", "PUT", "/v2/images/" + shared + "/members/" + uuid, "admin", `{}`, 400, "Status not specified"},
		{"member status bad", "PUT", "/v2/images/" + shared + "/members/" + uuid, "admin", `{"status": "maybe"}`, 400, `Incorrect request: Status must be "pending", "accepted" or "rejected".`},
		{"member status accepted", "PUT", "/v2/images/" + shared + "/members/" + uuid, "admin", `{"status": "accepted"}`, 200, ""},

		// tasks (admin's API)
		{"task without input", "POST", "/v2/tasks", "admin", `{"type": "import"}`, 400, "Task 'input' is required"},
		{"task without type", "POST", "/v2/tasks", "admin", `{"input": {}}`, 400, "Task 'type' is required"},
		{"task of an unknown type", "POST", "/v2/tasks", "admin", `{"type": "copy", "input": {}}`, 400, "Provided object does not match schema 'task': 'copy' is not one of ['import', 'api_image_import', 'location_import']"},
		{"task with an extra attribute", "POST", "/v2/tasks", "admin", `{"type": "import", "input": {}, "x": 1}`, 400, "Provided object does not match schema 'task': Additional properties are not allowed ('x' was unexpected)"},

		{"task list of a bad status", "GET", "/v2/tasks?status=done", "admin", ``, 400, "Invalid status value: done"},
		{"task list of a bad type", "GET", "/v2/tasks?type=copy", "admin", ``, 400, "Invalid type value: copy"},
		{"task list with a bad marker", "GET", "/v2/tasks?marker=x", "admin", ``, 400, "Invalid marker format"},
		{"task list with a bad limit", "GET", "/v2/tasks?limit=x", "admin", ``, 400, "limit param must be an integer"},
		{"task list with a bad sort direction", "GET", "/v2/tasks?sort_dir=up", "admin", ``, 400, "Invalid sort direction: up"},

		// import
		{"import without method", "POST", "/v2/images/" + queued + "/import", "", `{}`, 400, "Import request requires a 'method' field."},
		{"import without name", "POST", "/v2/images/" + queued + "/import", "", `{"method": {}}`, 400, "Import request requires a 'name' field."},
		{"import of an unknown method", "POST", "/v2/images/" + queued + "/import", "", `{"method": {"name": "copy-image"}}`, 400, "Unknown import method name 'copy-image'."},
		{"import with a bad all_stores", "POST", "/v2/images/" + queued + "/import", "", `{"method": {"name": "glance-direct"}, "all_stores": "yes"}`, 400, "'all_stores' must be boolean value only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := e.DemoToken
			if tc.token == "admin" {
				token = e.AdminToken
			}
			status, out, raw, _ := e.Do(tc.method, tc.path, token, strings.NewReader(tc.body), map[string]string{"Content-Type": "application/json"})
			if status != tc.status || tc.message != "" && out["message"] != tc.message {
				t.Fatalf("got %d %q (%s), want %d %q", status, out["message"], raw, tc.status, tc.message)
			}
		})
	}
	// nothing refused was created
	if n := len(e.Must(http.StatusOK, "GET", "/v2/images?limit=100", e.DemoToken, nil)["images"].([]any)); n != 6 {
		t.Fatalf("%d images, want the 2 made first and the 4 accepted creates", n)
	}
}
