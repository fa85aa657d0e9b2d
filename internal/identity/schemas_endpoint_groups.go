package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"

// Endpoint group schemas, transcribed from keystone/catalog/schema.py
// (_endpoint_group_properties, endpoint_group_schema and the request and
// response bodies of the /OS-EP-FILTER/endpoint_groups API).
var (
	endpointGroupProperties = map[string]any{
		"description": jsonschema.Schema{"type": []any{"string", "null"}},
		"filters": jsonschema.Schema{
			"type": "object",
			"properties": map[string]any{
				"interface":  jsonschema.Schema{"type": "string", "enum": []any{"admin", "internal", "public"}},
				"service_id": jsonschema.Schema{"type": "string"},
				"region_id":  jsonschema.Schema{"type": []any{"string", "null"}},
				"enabled":    jsonschema.Schema{"type": "boolean"},
			},
		},
		"name": paramName,
	}
	endpointGroupSchema = jsonschema.Schema{
		"type": "object",
		"properties": withProps(endpointGroupProperties, map[string]any{
			"id":    jsonschema.Schema{"type": "string"},
			"links": respResourceLinks,
		}),
		"additionalProperties": false,
	}
	endpointGroupCreateRequest = envelope("endpoint_group", jsonschema.Schema{
		"type":                 "object",
		"properties":           endpointGroupProperties,
		"required":             []any{"name", "filters"},
		"additionalProperties": false,
	}, false)
	endpointGroupUpdateRequest = envelope("endpoint_group", jsonschema.Schema{
		"type":                 "object",
		"properties":           endpointGroupProperties,
		"minProperties":        1,
		"additionalProperties": false,
	}, true)
	endpointGroupResponse      = envelope("endpoint_group", endpointGroupSchema, false)
	endpointGroupIndexResponse = collection("endpoint_groups", endpointGroupSchema)

	// The association's body (keystone/api/os_ep_filter.py's
	// EPFilterGroupsProjectsResource): the ids and a self link.
	projectEndpointGroupResponse = envelope("project_endpoint_group", jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"endpoint_group_id": jsonschema.Schema{"type": "string"},
			"project_id":        jsonschema.Schema{"type": "string"},
			"links":             respResourceLinks,
		},
		"required":             []any{"endpoint_group_id", "project_id", "links"},
		"additionalProperties": false,
	}, true)
)
