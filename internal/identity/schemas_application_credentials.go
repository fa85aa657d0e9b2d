package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"

// Application credential request schema, transcribed from
// keystone/application_credential/schema.py (application_credential_create_request_body).
var (
	accessRuleProperties = map[string]any{
		"path":    jsonschema.Schema{"type": "string", "minLength": 0, "maxLength": 225, "pattern": `^/\.*`},
		"service": paramIDString,
		"method":  jsonschema.Schema{"type": "string", "enum": []any{"DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"}},
	}
	appCredCreateRequest = envelope("application_credential", jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id":          jsonschema.Schema{"type": "string"},
			"secret":      jsonschema.Schema{"type": []any{"string", "null"}},
			"name":        paramName,
			"description": jsonschema.Schema{"type": []any{"string", "null"}},
			"expires_at":  jsonschema.Schema{"type": []any{"string", "null"}},
			"project_id":  jsonschema.Schema{"type": "string"},
			"access_rules": jsonschema.Schema{
				"type": "array",
				"items": jsonschema.Schema{
					"type":       "object",
					"properties": withProps(accessRuleProperties, map[string]any{"id": paramIDString}),
				},
			},
			"unrestricted": jsonschema.Schema{"type": []any{"boolean", "null"}},
			"system":       jsonschema.Schema{"type": []any{"string", "null"}},
			"roles": jsonschema.Schema{
				"type": "array",
				"items": jsonschema.Schema{
					"type":                 "object",
					"properties":           map[string]any{"id": paramIDString, "name": paramName},
					"minProperties":        1,
					"maxProperties":        1,
					"additionalProperties": false,
				},
			},
		},
		"additionalProperties": false,
		"required":             []any{"name"},
	}, true)
)
