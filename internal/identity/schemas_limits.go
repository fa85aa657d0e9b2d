package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"

// Limit and registered limit schemas, transcribed from keystone/limit/schema.py.
var (
	limitInteger     = jsonschema.Schema{"type": "integer", "minimum": -1, "maximum": 0x7FFFFFFF}
	limitServiceID   = jsonschema.Schema{"type": "string", "format": "uuid"}
	limitDescription = nullable(paramDescription255)

	registeredLimitProperties = map[string]any{
		"service_id":    limitServiceID,
		"region_id":     paramRegionID,
		"resource_name": paramName,
		"default_limit": limitInteger,
		"description":   limitDescription,
	}
	registeredLimitSchema = jsonschema.Schema{
		"type": "object",
		"properties": withProps(registeredLimitProperties, map[string]any{
			"id": jsonschema.Schema{"type": "string", "format": "uuid"}, "links": respResourceLinks,
		}),
		"additionalProperties": false,
	}
	registeredLimitResponse      = envelope("registered_limit", registeredLimitSchema, false)
	registeredLimitIndexResponse = collection("registered_limits", registeredLimitSchema)
	registeredLimitCreateRequest = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{"registered_limits": jsonschema.Schema{
			"type": "array",
			"items": jsonschema.Schema{
				"type":                 "object",
				"properties":           registeredLimitProperties,
				"additionalProperties": false,
				"required":             []any{"service_id", "resource_name", "default_limit"},
			},
			"minItems": 1,
		}},
		"required":             []any{"registered_limits"},
		"additionalProperties": false,
	}
	registeredLimitCreateResponse = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"registered_limits": jsonschema.Schema{"type": "array", "items": registeredLimitSchema},
			"truncated":         respTruncated,
		},
		"additionalProperties": false,
	}
	registeredLimitUpdateRequest = envelope("registered_limit", jsonschema.Schema{
		"type":                 "object",
		"properties":           registeredLimitProperties,
		"additionalProperties": false,
	}, true)

	limitProperties = map[string]any{
		"resource_name":  paramName,
		"region_id":      paramRegionID,
		"service_id":     limitServiceID,
		"resource_limit": limitInteger,
		"description":    limitDescription,
	}
	limitSchema = jsonschema.Schema{
		"type": "object",
		"properties": withProps(limitProperties, map[string]any{
			"id":         jsonschema.Schema{"type": "string", "format": "uuid"},
			"project_id": nullable(paramIDString),
			"domain_id":  nullable(paramDomainID),
			"links":      respResourceLinks,
		}),
		"additionalProperties": false,
	}
	limitResponse      = envelope("limit", limitSchema, false)
	limitIndexResponse = collection("limits", limitSchema)
	limitCreateRequest = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{"limits": jsonschema.Schema{
			"type": "array",
			"items": jsonschema.Schema{
				"type": "object",
				"properties": withProps(limitProperties, map[string]any{
					"project_id": nullable(paramIDString),
					"domain_id":  nullable(paramDomainID),
				}),
				"required": []any{"service_id", "resource_name", "resource_limit"},
				// One of domain_id and project_id, never both.
				"oneOf": []any{
					jsonschema.Schema{"required": []any{"service_id", "resource_name", "resource_limit", "domain_id"}},
					jsonschema.Schema{"required": []any{"service_id", "resource_name", "resource_limit", "project_id"}},
				},
				"additionalProperties": false,
			},
			"minItems": 1,
		}},
		"required":             []any{"limits"},
		"additionalProperties": false,
	}
	limitCreateResponse = jsonschema.Schema{
		"type":                 "object",
		"properties":           map[string]any{"limits": jsonschema.Schema{"type": "array", "items": limitSchema}},
		"additionalProperties": false,
	}
	limitUpdateRequest = envelope("limit", jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"resource_limit": limitInteger,
			"description":    limitDescription,
		},
		"additionalProperties": false,
	}, true)
	limitModelResponse = envelope("model", jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"description": jsonschema.Schema{"type": "string"},
			"name":        paramName,
		},
		"additionalProperties": false,
	}, false)
)
