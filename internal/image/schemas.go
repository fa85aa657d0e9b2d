package image

import (
	"embed"
	"fmt"
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
