package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"

// Application credential and access rule schemas, transcribed from
// keystone/application_credential/schema.py.
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

	accessRuleSchema = jsonschema.Schema{
		"type": "object",
		"properties": withProps(accessRuleProperties, map[string]any{
			"id": jsonschema.Schema{"type": "string"}, "links": respResourceLinks,
		}),
		"additionalProperties": false,
	}
	accessRuleResponse      = envelope("access_rule", accessRuleSchema, false)
	accessRuleIndexResponse = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"access_rules": jsonschema.Schema{"type": "array", "items": accessRuleSchema},
			"links":        respLinks,
		},
		"additionalProperties": false,
	}

	appCredProperties = map[string]any{
		"id":          jsonschema.Schema{"type": "string"},
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
				"type": "object",
				"properties": map[string]any{
					"id":          paramIDString,
					"name":        paramName,
					"domain_id":   jsonschema.Schema{"type": []any{"string", "null"}},
					"description": jsonschema.Schema{"type": []any{"string", "null"}},
					"options":     jsonschema.Schema{"type": []any{"object", "null"}},
				},
				"additionalProperties": false,
			},
		},
		"links": respResourceLinks,
	}
	appCredSchema = jsonschema.Schema{
		"type": "object", "properties": appCredProperties, "additionalProperties": false,
	}
	appCredResponse      = envelope("application_credential", appCredSchema, false)
	appCredIndexResponse = collection("application_credentials", appCredSchema)
	// appCredCreateResponse is the one answer that shows the secret.
	appCredCreateResponse = envelope("application_credential", jsonschema.Schema{
		"type":                 "object",
		"properties":           withProps(appCredProperties, map[string]any{"secret": jsonschema.Schema{"type": "string"}}),
		"additionalProperties": false,
	}, false)
)
