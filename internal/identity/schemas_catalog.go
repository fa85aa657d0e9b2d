package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"

// Region, service and endpoint schemas, transcribed from keystone/catalog/schema.py.
var (
	paramRegionID    = jsonschema.Schema{"type": []any{"string", "null"}, "minLength": 1, "maxLength": 255}
	regionProperties = map[string]any{
		"description":      nullable(paramDescription255),
		"id":               paramRegionID,
		"parent_region_id": paramRegionID,
	}
	regionSchema = jsonschema.Schema{
		"type":                 "object",
		"properties":           withProps(regionProperties, map[string]any{"links": respResourceLinks}),
		"required":             []any{"id", "parent_region_id", "description", "links"},
		"additionalProperties": true,
	}
	regionResponse      = envelope("region", regionSchema, true)
	regionIndexResponse = requireKey(collection("regions", regionSchema), "regions")
	regionCreateRequest = envelope("region", jsonschema.Schema{
		"type": "object",
		// An empty id is allowed: one is generated.
		"properties":           withProps(regionProperties, map[string]any{"id": withMin(paramRegionID, 0)}),
		"additionalProperties": true,
	}, true)
	regionUpdateRequest = envelope("region", jsonschema.Schema{
		"type": "object", "properties": regionProperties, "minProperties": 1, "additionalProperties": true,
	}, true)

	serviceProperties = map[string]any{
		"enabled": jsonschema.Schema{"type": "boolean"},
		"type":    jsonschema.Schema{"type": "string", "minLength": 1, "maxLength": 255},
		"name":    jsonschema.Schema{"type": "string", "minLength": 1, "maxLength": 255},
	}
	serviceSchema = jsonschema.Schema{
		"type": "object",
		"properties": withProps(serviceProperties, map[string]any{
			"id":    jsonschema.Schema{"type": "string"},
			"name":  jsonschema.Schema{"type": "string", "minLength": 0, "maxLength": 255},
			"links": respResourceLinks,
		}),
		"additionalProperties": true,
	}
	serviceResponse      = envelope("service", serviceSchema, false)
	serviceIndexResponse = collection("services", serviceSchema)
	// Upstream's service bodies leave the envelope's other keys free.
	serviceCreateRequest = jsonschema.Schema{"type": "object", "properties": map[string]any{"service": jsonschema.Schema{
		"type": "object", "properties": serviceProperties, "additionalProperties": true, "required": []any{"type"},
	}}}
	serviceUpdateRequest = jsonschema.Schema{"type": "object", "required": []any{"service"}, "properties": map[string]any{"service": jsonschema.Schema{
		"type": "object", "properties": serviceProperties, "additionalProperties": true, "minProperties": 1,
	}}}

	endpointProperties = map[string]any{
		"enabled":     jsonschema.Schema{"type": "boolean"},
		"interface":   jsonschema.Schema{"type": "string", "enum": []any{"admin", "internal", "public"}},
		"region_id":   jsonschema.Schema{"type": []any{"string", "null"}},
		"region":      jsonschema.Schema{"type": []any{"string", "null"}},
		"service_id":  jsonschema.Schema{"type": "string"},
		"url":         jsonschema.Schema{"type": "string", "minLength": 0, "maxLength": 225, "pattern": "^[a-zA-Z0-9+.-]+:.+"},
		"name":        jsonschema.Schema{"type": "string"},
		"description": jsonschema.Schema{"type": []any{"string", "null"}},
	}
	endpointSchema = jsonschema.Schema{
		"type": "object",
		"properties": withProps(endpointProperties, map[string]any{
			"id": jsonschema.Schema{"type": "string"}, "links": respResourceLinks,
		}),
		"additionalProperties": true,
	}
	endpointResponse      = envelope("endpoint", endpointSchema, false)
	endpointIndexResponse = collection("endpoints", endpointSchema)
	endpointCreateRequest = envelope("endpoint", jsonschema.Schema{
		"type":                 "object",
		"properties":           withProps(endpointProperties, map[string]any{"id": jsonschema.Schema{"type": "string"}}),
		"required":             []any{"interface", "service_id", "url"},
		"additionalProperties": true,
	}, false)
	endpointUpdateRequest = envelope("endpoint", jsonschema.Schema{
		"type": "object", "properties": endpointProperties, "additionalProperties": true, "minProperties": 1,
	}, true)
)

// withMin is s with another minLength.
func withMin(s jsonschema.Schema, min int) jsonschema.Schema {
	out := jsonschema.Schema{}
	for k, v := range s {
		out[k] = v
	}
	out["minLength"] = min
	return out
}

// requireKey is s requiring key, as some of upstream's list bodies do.
func requireKey(s jsonschema.Schema, key string) jsonschema.Schema {
	out := jsonschema.Schema{}
	for k, v := range s {
		out[k] = v
	}
	out["required"] = []any{key}
	return out
}
