package image

import (
	"net/http"
	"strings"
	"testing"
)

// TestPatchMediaTypes holds PATCH against upstream's deserializer and controller
// (glance/api/v2/images.py): the original media type (operations keyed by their
// op, add on an existing attribute a conflict) beside v2.1, each refusal with
// upstream's status and message.
func TestPatchMediaTypes(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.Create(e.DemoToken, map[string]any{"name": "p", "disk_format": "raw", "container_format": "bare", "k1": "v1"})
	patch := func(mediaType, body string) (int, map[string]any) {
		t.Helper()
		status, out, _, _ := e.Do("PATCH", "/v2/images/"+id, e.DemoToken, strings.NewReader(body),
			map[string]string{"Content-Type": mediaType})
		return status, out
	}

	// the original form works as upstream's clients of old send it
	status, out := patch(patchTypeV20, `[{"replace": "/name", "value": "old-style"}, {"add": "/k2", "value": "v2"},
		{"replace": "/k1", "value": "v1b"}, {"remove": "/k2"}, {"replace": "/min_ram", "value": 512}]`)
	if status != http.StatusOK || out["name"] != "old-style" || out["k1"] != "v1b" || out["k2"] != nil || out["min_ram"] != float64(512) {
		t.Fatalf("v2.0 patch: %d %v", status, out)
	}
	// v2.1's add replaces what is there; v2.0's is a conflict
	status, out = patch(patchType, `[{"op": "add", "path": "/name", "value": "added"}]`)
	if status != http.StatusOK || out["name"] != "added" {
		t.Fatalf("v2.1 add on an existing attribute: %d %v", status, out)
	}
	// a media type parameter does not change the type
	if status, _ = patch(patchTypeV20+"; charset=UTF-8", `[]`); status != http.StatusOK {
		t.Fatalf("v2.0 patch with a charset: %d", status)
	}

	for _, tc := range []struct {
		name, mediaType, body string
		status                int
		message               string
	}{
		{"v2.0 add existing attribute", patchTypeV20, `[{"add": "/name", "value": "x"}]`, 409, "Property name already present."},
		{"v2.0 add existing property", patchTypeV20, `[{"add": "/k1", "value": "x"}]`, 409, "Property k1 already present."},
		{"v2.0 two ops", patchTypeV20, `[{"add": "/a", "replace": "/b", "value": "x"}]`, 400,
			`Operation objects must contain only one member named "add", "remove", or "replace".`},
		{"v2.0 no op", patchTypeV20, `[{"op": "add", "path": "/a", "value": "x"}]`, 400,
			`Operation objects must contain exactly one member named "add", "remove", or "replace".`},
		{"v2.0 no value", patchTypeV20, `[{"replace": "/name"}]`, 400, `Operation "replace" requires a member named "value".`},
		{"v2.1 no op", patchType, `[{"path": "/name", "value": "x"}]`, 400,
			"Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace."},
		{"v2.1 bad op", patchType, `[{"op": "move", "path": "/name", "value": "x"}]`, 400,
			"Invalid operation: `move`. It must be one of the following: add, remove, replace."},
		{"v2.1 no path", patchType, `[{"op": "add", "value": "x"}]`, 400, "Unable to find 'path' in JSON Schema change"},
		{"v2.1 no value", patchType, `[{"op": "add", "path": "/name"}]`, 400, `Operation "add" requires a member named "value".`},
		{"not a list", patchType, `{"op": "add"}`, 400, "Request body must be a JSON array of operation objects."},
		{"not objects", patchType, `["add"]`, 400, "Operations must be JSON objects."},
		{"relative pointer", patchType, `[{"op": "add", "path": "name", "value": "x"}]`, 400, "Pointer `name` does not start with \"/\"."},
		{"adjacent slashes", patchType, `[{"op": "add", "path": "/a//b", "value": "x"}]`, 400, "Pointer `/a//b` contains adjacent \"/\"."},
		{"trailing slash", patchType, `[{"op": "add", "path": "/a/", "value": "x"}]`, 400, "Pointer `/a/` end with \"/\"."},
		{"bad escape", patchType, `[{"op": "add", "path": "/a~2", "value": "x"}]`, 400,
			"Pointer `/a~2` contains \"~\" not part of a recognized escape sequence."},
		{"deep path", patchType, `[{"op": "add", "path": "/a/b", "value": "x"}]`, 400, "Invalid JSON pointer for this resource: '/a/b'"},
		{"read-only", patchType, `[{"op": "replace", "path": "/status", "value": "active"}]`, 403, "Attribute 'status' is read-only."},
		{"read-only remove", patchType, `[{"op": "remove", "path": "/checksum"}]`, 403, "Attribute 'checksum' is read-only."},
		{"reserved", patchType, `[{"op": "add", "path": "/deleted", "value": "x"}]`, 403, "Attribute 'deleted' is reserved."},
		{"reserved namespace", patchType, `[{"op": "add", "path": "/os_glance_x", "value": "x"}]`, 403, "Attribute 'os_glance_x' is reserved."},
		{"schema: enum", patchType, `[{"op": "replace", "path": "/disk_format", "value": "floppy"}]`, 400,
			"Provided object does not match schema 'image': 'floppy' is not one of [None, 'ami', 'ari', 'aki', 'vhd', 'vhdx', 'vmdk', 'raw', 'qcow2', 'vdi', 'iso', 'ploop']"},
		{"schema: property type", patchType, `[{"op": "add", "path": "/k3", "value": 3}]`, 400,
			"Provided object does not match schema 'image': 3 is not of type 'string'"},
		{"schema: null property", patchType, `[{"op": "add", "path": "/k3", "value": null}]`, 400,
			"Provided object does not match schema 'image': None is not of type 'string'"},
		{"schema: integer", patchType, `[{"op": "replace", "path": "/min_disk", "value": "1"}]`, 400,
			"Provided object does not match schema 'image': '1' is not of type 'integer'"},
		{"schema: kernel_id pattern", patchType, `[{"op": "add", "path": "/kernel_id", "value": "k"}]`, 400,
			"Provided object does not match schema 'image': 'k' does not match '^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$'"},
		{"negative min_disk", patchType, `[{"op": "replace", "path": "/min_disk", "value": -1}]`, 400,
			"Invalid value '-1' for parameter 'min_disk': Cannot be a negative value"},
		{"owner by a non-admin", patchType, `[{"op": "replace", "path": "/owner", "value": "x"}]`, 403, "Owner can't be updated by non admin."},
		{"replace missing property", patchType, `[{"op": "replace", "path": "/nope", "value": "x"}]`, 409, "Property nope does not exist."},
		{"remove missing property", patchType, `[{"op": "remove", "path": "/nope"}]`, 409, "Property nope does not exist."},
		{"remove core attribute", patchType, `[{"op": "remove", "path": "/name"}]`, 403, "Property name may not be removed."},
		{"json", "application/json", `[]`, 415,
			"Image PATCH expects Content-Type one of: application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := patch(tc.mediaType, tc.body)
			if status != tc.status || out["message"] != tc.message {
				t.Fatalf("got %d %q, want %d %q", status, out["message"], tc.status, tc.message)
			}
		})
	}
	// nothing of the refused patches was applied
	if out := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil); out["name"] != "added" || out["k3"] != nil {
		t.Fatalf("after refused patches: %v", out)
	}
	_, _, _, h := e.Do("PATCH", "/v2/images/"+id, e.DemoToken, strings.NewReader(`[]`), map[string]string{"Content-Type": "application/json"})
	if got := h.Get("Accept-Patch"); got != patchTypeV20+", "+patchType {
		t.Fatalf("415 Accept-Patch: %q", got)
	}
}
