package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"

// Federation mapping bodies, written from the api-ref
// (api-ref/source/v3-ext/federation/mapping/*.inc): the mapping's id, rules,
// schema_version and self link. Upstream validates a request's rules with
// keystone/federation/utils.py's validate_mapping_structure (its versioned
// MAPPING_SCHEMA), which decodeMapping reproduces with upstream's messages.
var (
	mappingSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id":             jsonschema.Schema{"type": "string"},
			"rules":          jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "object"}},
			"schema_version": jsonschema.Schema{"type": "string"},
			"links":          respResourceLinks,
		},
		"required":             []any{"id", "rules", "links"},
		"additionalProperties": false,
	}
	mappingResponse      = envelope("mapping", mappingSchema, true)
	mappingIndexResponse = collection("mappings", mappingSchema)
)
