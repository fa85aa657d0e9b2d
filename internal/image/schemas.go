package image

import (
	"embed"
	"fmt"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// schemaFiles are upstream Glance's JSON schemas, as GET /v2/schemas/... serves
// them and as its API validates requests against them: generated from
// openstack/glance's own code by schemas/generate.py (glance/api/v2/schemas.py's
// controller; the image schema with etc/schema-image.json merged in, as
// get_schema does; Apache-2.0, Copyright OpenStack Foundation). The generated
// api-ref samples are older than the code (the image sample's visibility lists
// two values), so the code is the source.
//
//go:embed schemas/*.json
var schemaFiles embed.FS

// loadSchema decodes schemas/<name>.json; a fresh copy each call, so callers may
// change it.
func loadSchema(name string) jsonschema.Schema {
	data, err := schemaFiles.ReadFile("schemas/" + name + ".json")
	if err != nil {
		panic(fmt.Sprintf("image schema %s: %v", name, err))
	}
	doc, err := jsonschema.Decode(data)
	if err != nil {
		panic(fmt.Sprintf("image schema %s: %v", name, err))
	}
	return doc.(map[string]any)
}

var imageSchemaDoc = loadSchema("image")

// served are the documents of GET /v2/schemas/<name>, by name.
var served = []string{"image", "images", "member", "members", "task", "tasks",
	"metadefs/namespace", "metadefs/namespaces", "metadefs/object", "metadefs/objects",
	"metadefs/property", "metadefs/properties", "metadefs/resource_type", "metadefs/resource_types",
	"metadefs/tag", "metadefs/tags"}

// schemaFile is the file of a served schema name.
func schemaFile(name string) string { return strings.ReplaceAll(name, "/", "-") }

// inlineRefs replaces the local references ("$ref": "#/definitions/x") of a
// schema by the definitions they name, for the validator (which does not follow
// references); upstream's metadef schemas use them.
func inlineRefs(node any, definitions map[string]any) any {
	switch x := node.(type) {
	case map[string]any:
		if ref, ok := x["$ref"].(string); ok {
			if def, ok := definitions[strings.TrimPrefix(ref, "#/definitions/")]; ok {
				return inlineRefs(def, definitions)
			}
		}
		out := make(map[string]any, len(x))
		for k, v := range x {
			if k != "definitions" {
				out[k] = inlineRefs(v, definitions)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, v := range x {
			out[i] = inlineRefs(v, definitions)
		}
		return out
	}
	return node
}

// validationSchema is a served schema ready for the validator.
func validationSchema(name string) jsonschema.Schema {
	doc := loadSchema(schemaFile(name))
	defs, _ := doc["definitions"].(map[string]any)
	return inlineRefs(doc, defs).(map[string]any)
}

// validateImageDocument validates (part of) an image against upstream's image
// schema, answering its 400 (glance.schema.Schema.validate raises InvalidObject).
// Upstream's reason is str(ValidationError), the first line of which is the
// message given here.
func validateImageDocument(doc any) error {
	if verr := jsonschema.Validate(imageSchemaDoc, doc); verr != nil {
		return httpapi.BadRequest("Provided object does not match schema 'image': %s", verr.Message)
	}
	return nil
}

// checkWritable refuses what upstream's deserializer refuses whatever the value:
// read-only attributes, reserved ones and the os_glance namespace (403).
func checkWritable(key string) error {
	if contains(readOnly, key) {
		return httpapi.Forbidden("Attribute '%s' is read-only.", key)
	}
	if contains(reserved, key) || strings.HasPrefix(key, reservedNamespace) {
		return httpapi.Forbidden("Attribute '%s' is reserved.", key)
	}
	return nil
}

// reservedNamespace is upstream's GLANCE_RESERVED_NS: properties Glance sets itself.
const reservedNamespace = "os_glance"

// Response schemas of the routes upstream publishes no JSON schema for, written
// from its API reference (api-ref/source/versions/samples/image-versions-response.json,
// api-ref/source/v2/samples/image-info-import-response.json,
// stores-list-response.json, metadef-resource-types-list-response.json) and its
// code (glance/api/versions.py, glance/api/v2/discovery.py,
// glance/api/v2/model/metadef_resource_type.py, _task_format of
// glance/db/sqlalchemy/api.py for an image's tasks).
var (
	str       = jsonschema.Schema{"type": "string"}
	strOrNull = jsonschema.Schema{"type": []any{"string", "null"}}

	versionsResponse = jsonschema.Schema{
		"type": "object", "required": []any{"versions"}, "additionalProperties": false,
		"properties": jsonschema.Schema{"versions": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{
			"type": "object", "required": []any{"id", "status", "links"}, "additionalProperties": false,
			"properties": jsonschema.Schema{
				"id":     jsonschema.Schema{"type": "string", "pattern": `^v2\.[0-9]+$`},
				"status": jsonschema.Schema{"enum": []any{"CURRENT", "SUPPORTED", "EXPERIMENTAL", "DEPRECATED"}},
				"links": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{
					"type": "object", "required": []any{"rel", "href"}, "additionalProperties": false,
					"properties": jsonschema.Schema{"rel": str, "href": str}}},
			}}}},
	}
	importInfoResponse = jsonschema.Schema{
		"type": "object", "required": []any{"import-methods"}, "additionalProperties": false,
		"properties": jsonschema.Schema{"import-methods": jsonschema.Schema{
			"type": "object", "required": []any{"description", "type", "value"}, "additionalProperties": false,
			"properties": jsonschema.Schema{"description": str, "type": jsonschema.Schema{"enum": []any{"array"}},
				"value": jsonschema.Schema{"type": "array", "items": str}}}},
	}
	storesResponse = jsonschema.Schema{
		"type": "object", "required": []any{"stores"}, "additionalProperties": false,
		"properties": jsonschema.Schema{"stores": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{
			"type": "object", "required": []any{"id"}, "additionalProperties": false,
			"properties": jsonschema.Schema{"id": str, "description": str,
				"default": jsonschema.Schema{"enum": []any{"true"}}, "read-only": jsonschema.Schema{"enum": []any{"true"}}}}}},
	}
	resourceTypesResponse = jsonschema.Schema{
		"type": "object", "required": []any{"resource_types"}, "additionalProperties": false,
		"properties": jsonschema.Schema{"resource_types": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{
			"type": "object", "required": []any{"name"}, "additionalProperties": false,
			"properties": jsonschema.Schema{"name": str, "created_at": str, "updated_at": str}}}},
	}
	imageTasksResponse = jsonschema.Schema{
		"type": "object", "required": []any{"tasks"}, "additionalProperties": false,
		"properties": jsonschema.Schema{"tasks": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{
			"type": "object", "additionalProperties": false,
			"required": []any{"id", "type", "status", "owner", "created_at", "updated_at", "image_id", "input", "result", "message"},
			"properties": jsonschema.Schema{
				"id": str, "type": str, "status": jsonschema.Schema{"enum": []any{"pending", "processing", "success", "failure"}},
				"owner": str, "expires_at": strOrNull, "created_at": str, "updated_at": str, "deleted_at": strOrNull,
				"deleted": jsonschema.Schema{"type": "boolean"}, "image_id": str, "request_id": strOrNull, "user_id": strOrNull,
				"input": jsonschema.Schema{"type": []any{"object", "null"}}, "result": jsonschema.Schema{"type": []any{"object", "null"}},
				"message": str,
			}}}},
	}
	// schemaDocument is what GET /v2/schemas/<name> answers: a JSON schema
	// with its name and properties.
	schemaDocument = jsonschema.Schema{
		"type": "object", "required": []any{"name", "properties"},
		"properties": jsonschema.Schema{"name": str, "properties": jsonschema.Schema{"type": "object"}},
	}
)

// noContent is the answer of the routes Glance answers with 204 and no body
// (its serializers' delete, tags update, upload, stage, deactivate and
// reactivate: response.status_int = http.NO_CONTENT).
var noContent = answers(map[int]jsonschema.Schema{http.StatusNoContent: nil})

// answers is a route's response schemas by status.
func answers(byStatus map[int]jsonschema.Schema) []httpapi.Schema {
	return []httpapi.Schema{{Responses: byStatus}}
}
