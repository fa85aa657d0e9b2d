package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"

// Trust schemas, transcribed from keystone/trust/schema.py.
var (
	trustProperties = map[string]any{
		"trustor_user_id":      jsonschema.Schema{"type": "string"},
		"trustee_user_id":      jsonschema.Schema{"type": "string"},
		"impersonation":        jsonschema.Schema{"type": "boolean"},
		"project_id":           jsonschema.Schema{"type": []any{"string", "null"}},
		"remaining_uses":       jsonschema.Schema{"type": []any{"integer", "null"}, "minimum": 1},
		"expires_at":           jsonschema.Schema{"type": []any{"null", "string"}},
		"allow_redelegation":   jsonschema.Schema{"type": []any{"boolean", "null"}},
		"redelegation_count":   jsonschema.Schema{"type": []any{"integer", "null"}, "minimum": 0},
		"redelegated_trust_id": jsonschema.Schema{"type": []any{"string", "null"}},
	}
	trustRoleItems = jsonschema.Schema{
		"type": "array",
		"items": jsonschema.Schema{
			"type": "object",
			"properties": map[string]any{
				"description": nullable(paramDescription255),
				"domain_id":   nullable(paramDomainID),
				"id":          paramIDString,
				"name":        paramName,
				"options":     roleOptionsSchema,
				"links":       respLinks,
			},
			"additionalProperties": false,
		},
	}
	trustSchema = jsonschema.Schema{
		"type": "object",
		"properties": withProps(trustProperties, map[string]any{
			"deleted_at":  jsonschema.Schema{"type": []any{"string", "null"}},
			"id":          jsonschema.Schema{"type": "string"},
			"links":       respLinks,
			"roles":       trustRoleItems,
			"roles_links": respLinks,
		}),
		"additionalProperties": true,
	}
	trustResponse      = envelope("trust", trustSchema, false)
	trustIndexResponse = collection("trusts", trustSchema)
	trustCreateRequest = envelope("trust", jsonschema.Schema{
		"type": "object",
		"properties": withProps(trustProperties, map[string]any{
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
		}),
		"required":             []any{"trustor_user_id", "trustee_user_id", "impersonation"},
		"additionalProperties": true,
	}, true)
)

// A trust's roles (keystone/api/trusts.py): the list with the trust's
// roles_links, and one role wrapped as a member.
var (
	trustRoleIndexResponse = jsonschema.Schema{
		"type":                 "object",
		"properties":           map[string]any{"roles": trustRoleItems, "links": respLinks},
		"required":             []any{"roles", "links"},
		"additionalProperties": false,
	}
	trustRoleResponse = envelope("role", trustRoleItems["items"].(jsonschema.Schema), true)
)
