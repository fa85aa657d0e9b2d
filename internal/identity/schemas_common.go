package identity

import (
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Keystone's request parameter types (keystone/common/validation/parameter_types.py)
// and response types (keystone/api/validation/response_types.py), transcribed as
// data: the request and response schemas of the routes are built from them, as
// upstream's keystone/*/schema.py are.
var (
	paramName        = jsonschema.Schema{"type": "string", "minLength": 1, "maxLength": 255, "pattern": `[\S]+`}
	paramIDString    = jsonschema.Schema{"type": "string", "minLength": 1, "maxLength": 64, "pattern": `^[a-zA-Z0-9-]+$`}
	paramDescription = jsonschema.Schema{"type": "string"}
	paramBoolean     = jsonschema.Schema{"type": "boolean", "enum": []any{true, false}}

	respLinks = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"next":     jsonschema.Schema{"type": []any{"string", "null"}, "format": "uri"},
			"previous": jsonschema.Schema{"type": []any{"string", "null"}, "format": "uri"},
			"self":     jsonschema.Schema{"type": "string", "format": "uri"},
		},
		"required":             []any{"self"},
		"additionalProperties": false,
	}
	respResourceLinks = jsonschema.Schema{
		"type":                 "object",
		"properties":           map[string]any{"self": jsonschema.Schema{"type": "string", "format": "uri"}},
		"additionalProperties": false,
	}
	respTruncated = jsonschema.Schema{"type": "boolean"}
)

// withProps returns a copy of an object schema's properties with more added.
func withProps(props map[string]any, more map[string]any) map[string]any {
	out := make(map[string]any, len(props)+len(more))
	for k, v := range props {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

// envelope is {"<key>": item}, nothing else, as Keystone's request and response
// bodies; required names whether the key must be there.
func envelope(key string, item jsonschema.Schema, required bool) jsonschema.Schema {
	s := jsonschema.Schema{
		"type":                 "object",
		"properties":           map[string]any{key: item},
		"additionalProperties": false,
	}
	if required {
		s["required"] = []any{key}
	}
	return s
}

// collection is a list answer: {"<key>": [item...], "links": ..., "truncated": ...}.
func collection(key string, item jsonschema.Schema) jsonschema.Schema {
	return jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			key:         jsonschema.Schema{"type": "array", "items": item},
			"links":     respLinks,
			"truncated": respTruncated,
		},
		"additionalProperties": false,
	}
}

// schemas is a route's one schema (identity has no microversions).
func schemas(request jsonschema.Schema, responses map[int]jsonschema.Schema) []httpapi.Schema {
	return []httpapi.Schema{{Request: request, Responses: responses}}
}

// answers is a route that takes no body upstream validates and answers status
// with body (nil: a status without a body, or one that is not JSON, checked
// alone).
func answering(status int, body jsonschema.Schema) []httpapi.Schema {
	return schemas(nil, map[int]jsonschema.Schema{status: body})
}

// noContent is upstream's answer to deletes, grants and checks: 204, no body.
var noContent = answering(http.StatusNoContent, nil)

// okBody is a read's answer: 200 with body.
func okBody(body jsonschema.Schema) []httpapi.Schema { return answering(http.StatusOK, body) }
