package image

import (
	"fmt"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

func (s *Service) discoveryRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/{$}", Public: true, Handler: s.versions},
		{Method: "GET", Path: "/versions", Public: true, Handler: s.versionsOK},
		{Method: "GET", Path: "/v2/schemas/image", Handler: static(imageSchema())},
		{Method: "GET", Path: "/v2/schemas/images", Handler: static(imagesSchema())},
		{Method: "GET", Path: "/v2/schemas/member", Handler: static(memberSchema())},
		{Method: "GET", Path: "/v2/schemas/members", Handler: static(membersSchema())},
		{Method: "GET", Path: "/v2/schemas/task", Handler: static(taskSchema())},
		{Method: "GET", Path: "/v2/schemas/tasks", Handler: static(tasksSchema())},
		{Method: "GET", Path: "/v2/info/stores", Handler: static(map[string]any{
			"stores": []any{map[string]any{"id": "file", "default": true, "description": "Filesystem store"}}})},
		{Method: "GET", Path: "/v2/info/import", Handler: static(map[string]any{"import-methods": map[string]any{
			"description": "Import methods available.", "type": "array", "value": importMethods}})},
	}
}

// importMethods are the import methods Nimbus offers (upstream's default
// enabled_import_methods): GET /v2/info/import lists them, and so does the
// OpenStack-image-import-methods header of each image created.
var importMethods = []string{"glance-direct", "web-download"}

func static(body any) httpapi.Handler {
	return func(*http.Request) (httpapi.Response, error) { return httpapi.OK(body), nil }
}

// versionList is upstream's list: v2.0 to v2.16, the newest CURRENT.
func versionList(r *http.Request) map[string]any {
	base := "http://" + r.Host
	var out []any
	for minor := 16; minor >= 0; minor-- {
		status := "SUPPORTED"
		if minor == 16 {
			status = "CURRENT"
		}
		out = append(out, map[string]any{"id": fmt.Sprintf("v2.%d", minor), "status": status,
			"links": []any{map[string]any{"rel": "self", "href": base + "/v2/"}}})
	}
	return map[string]any{"versions": out}
}

// versions answers GET / with 300 Multiple Choices, as upstream.
func (s *Service) versions(r *http.Request) (httpapi.Response, error) {
	return httpapi.JSON(http.StatusMultipleChoices, versionList(r)), nil
}

func (s *Service) versionsOK(r *http.Request) (httpapi.Response, error) {
	return httpapi.OK(versionList(r)), nil
}

func strOrNull(desc string, extra map[string]any) map[string]any {
	m := map[string]any{"type": []any{"null", "string"}, "readOnly": true, "description": desc}
	for k, v := range extra {
		m[k] = v
	}
	return m
}

func imageSchema() map[string]any {
	ro := func(typ any, desc string) map[string]any {
		return map[string]any{"type": typ, "readOnly": true, "description": desc}
	}
	return map[string]any{
		"name":                 "image",
		"additionalProperties": map[string]any{"type": "string"},
		"links": []any{
			map[string]any{"href": "{self}", "rel": "self"},
			map[string]any{"href": "{file}", "rel": "enclosure"},
			map[string]any{"href": "{schema}", "rel": "describedby"},
		},
		"properties": map[string]any{
			"id": map[string]any{"type": "string", "description": "An identifier for the image",
				"pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
			"name": map[string]any{"type": []any{"null", "string"}, "maxLength": 255, "description": "Descriptive name for the image"},
			"status": map[string]any{"type": "string", "readOnly": true, "description": "Status of the image",
				"enum": []string{"queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete", "deactivated"}},
			"visibility": map[string]any{"type": "string", "description": "Scope of image accessibility",
				"enum": []string{"community", "public", "private", "shared"}},
			"protected":     map[string]any{"type": "boolean", "description": "If true, image will not be deletable."},
			"os_hidden":     map[string]any{"type": "boolean", "description": "If true, image will not appear in default image list response."},
			"checksum":      strOrNull("md5 hash of image contents.", map[string]any{"maxLength": 32}),
			"os_hash_algo":  strOrNull("Algorithm to calculate the os_hash_value", map[string]any{"maxLength": 64}),
			"os_hash_value": strOrNull("Hexdigest of the image contents using the algorithm specified by the os_hash_algo", map[string]any{"maxLength": 128}),
			"owner":         map[string]any{"type": []any{"null", "string"}, "maxLength": 255, "description": "Owner of the image"},
			"size":          ro([]any{"null", "integer"}, "Size of image file in bytes"),
			"virtual_size":  ro([]any{"null", "integer"}, "Virtual size of image in bytes"),
			"container_format": map[string]any{"type": []any{"null", "string"}, "description": "Format of the container",
				"enum": append([]any{nil}, toAny(containerFormats)...)},
			"disk_format": map[string]any{"type": []any{"null", "string"}, "description": "Format of the disk",
				"enum": append([]any{nil}, toAny(diskFormats)...)},
			"created_at": ro("string", "Date and time of image registration"),
			"updated_at": ro("string", "Date and time of the last image modification"),
			"tags": map[string]any{"type": "array", "description": "List of strings related to the image",
				"items": map[string]any{"type": "string", "maxLength": 255}},
			"direct_url": ro("string", "URL to access the image file kept in external store"),
			"min_ram":    map[string]any{"type": "integer", "description": "Amount of ram (in MB) required to boot image."},
			"min_disk":   map[string]any{"type": "integer", "description": "Amount of disk space (in GB) required to boot image."},
			"self":       ro("string", "An image self url"),
			"file":       ro("string", "An image file url"),
			"stores":     ro("string", "Store in which image data resides."),
			"schema":     ro("string", "An image schema url"),
			"locations": map[string]any{"type": "array", "description": "A set of URLs to access the image file kept in external store",
				"items": map[string]any{"type": "object", "required": []string{"url", "metadata"},
					"properties": map[string]any{"url": map[string]any{"type": "string", "maxLength": 255},
						"metadata": map[string]any{"type": "object"}}}},
			"kernel_id": map[string]any{"type": []any{"null", "string"}, "is_base": false,
				"description": "ID of image stored in Glance that should be used as the kernel when booting an AMI-style image."},
			"ramdisk_id": map[string]any{"type": []any{"null", "string"}, "is_base": false,
				"description": "ID of image stored in Glance that should be used as the ramdisk when booting an AMI-style image."},
			"instance_uuid": map[string]any{"type": "string", "is_base": false,
				"description": "Metadata which can be used to record which instance this image is associated with. (Informational only, does not create an instance snapshot.)"},
			"architecture": map[string]any{"type": "string", "is_base": false,
				"description": "Operating system architecture as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"},
			"os_distro": map[string]any{"type": "string", "is_base": false,
				"description": "Common name of operating system distribution as specified in https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html"},
			"os_version": map[string]any{"type": "string", "is_base": false,
				"description": "Operating system version as specified by the distributor."},
		},
	}
}

func toAny(list []string) []any {
	out := make([]any, len(list))
	for i, v := range list {
		out[i] = v
	}
	return out
}

func imagesSchema() map[string]any {
	return map[string]any{
		"name":       "images",
		"properties": map[string]any{"images": map[string]any{"type": "array", "items": imageSchema()}, "schema": map[string]any{"type": "string"}, "first": map[string]any{"type": "string"}, "next": map[string]any{"type": "string"}},
		"links": []any{
			map[string]any{"href": "{first}", "rel": "first"},
			map[string]any{"href": "{next}", "rel": "next"},
			map[string]any{"href": "{schema}", "rel": "describedby"},
		},
	}
}

func memberSchema() map[string]any {
	return map[string]any{
		"name": "member",
		"properties": map[string]any{
			"created_at": map[string]any{"type": "string", "description": "Date and time of image member creation"},
			"image_id": map[string]any{"type": "string", "description": "An identifier for the image",
				"pattern": "^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$"},
			"member_id":  map[string]any{"type": "string", "description": "An identifier for the image member (tenantId)"},
			"schema":     map[string]any{"type": "string", "readOnly": true},
			"status":     map[string]any{"type": "string", "description": "The status of this image member", "enum": []string{"pending", "accepted", "rejected"}},
			"updated_at": map[string]any{"type": "string", "description": "Date and time of last modification of image member"},
		},
	}
}

func membersSchema() map[string]any {
	return map[string]any{
		"name":       "members",
		"properties": map[string]any{"members": map[string]any{"type": "array", "items": memberSchema()}, "schema": map[string]any{"type": "string"}},
		"links":      []any{map[string]any{"href": "{schema}", "rel": "describedby"}},
	}
}

func taskSchema() map[string]any {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	return map[string]any{
		"name": "task",
		"properties": map[string]any{
			"id":         str("An identifier for the task"),
			"type":       map[string]any{"type": "string", "description": "The type of task represented by this content", "enum": []string{"import", "api_image_import", "location_import"}},
			"status":     map[string]any{"type": "string", "description": "The current status of this task", "enum": []string{"pending", "processing", "success", "failure"}},
			"input":      map[string]any{"type": []string{"null", "object"}, "description": "The parameters required by task, JSON blob"},
			"result":     map[string]any{"type": []string{"null", "object"}, "description": "The result of current task, JSON blob"},
			"owner":      str("An identifier for the owner of this task"),
			"message":    str("Human-readable informative message only included when appropriate (usually on failure)"),
			"expires_at": map[string]any{"type": []string{"null", "string"}, "description": "Datetime when this resource would be subject to removal"},
			"created_at": str("Datetime when this resource was created"),
			"updated_at": str("Datetime when this resource was updated"),
			"self":       map[string]any{"type": "string", "readOnly": true},
			"schema":     map[string]any{"type": "string", "readOnly": true},
		},
	}
}

func tasksSchema() map[string]any {
	return map[string]any{
		"name": "tasks",
		"properties": map[string]any{"tasks": map[string]any{"type": "array", "items": taskSchema()},
			"schema": map[string]any{"type": "string"}, "first": map[string]any{"type": "string"}, "next": map[string]any{"type": "string"}},
		"links": []any{map[string]any{"href": "{first}", "rel": "first"}, map[string]any{"href": "{next}", "rel": "next"},
			map[string]any{"href": "{schema}", "rel": "describedby"}},
	}
}
