package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"

// User, group and role schemas, transcribed from keystone/identity/schema.py,
// keystone/assignment/schema.py and the option registries' json_schema
// (keystone/identity/backends/resource_options.py,
// keystone/assignment/role_backends/resource_options.py).
var (
	identityName = jsonschema.Schema{"type": "string", "minLength": 1, "maxLength": 255, "pattern": `[\S]+`}
	// strictNullableBoolean is an option's nullable(old parameter_types.boolean).
	strictNullableBoolean = jsonschema.Schema{"type": []any{"boolean", "null"}, "enum": []any{true, false, nil}}

	userOptions = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"ignore_change_password_upon_first_use": strictNullableBoolean,
			"ignore_password_expiry":                strictNullableBoolean,
			"ignore_lockout_failure_attempts":       strictNullableBoolean,
			"lock_password":                         strictNullableBoolean,
			"ignore_user_inactivity":                strictNullableBoolean,
			"multi_factor_auth_rules": jsonschema.Schema{
				"type": []any{"array", "null"},
				"items": jsonschema.Schema{
					"type": "array", "items": jsonschema.Schema{"type": "string"}, "minItems": 1, "uniqueItems": true,
				},
				"uniqueItems": true,
			},
			"multi_factor_auth_enabled": strictNullableBoolean,
		},
		"additionalProperties": false,
	}
	userFederated = jsonschema.Schema{
		"type": "array",
		"items": jsonschema.Schema{
			"type": "object",
			"properties": map[string]any{
				"idp_id": jsonschema.Schema{"type": "string"},
				"protocols": jsonschema.Schema{
					"type": "array",
					"items": jsonschema.Schema{
						"type": "object",
						"properties": map[string]any{
							"protocol_id": jsonschema.Schema{"type": "string"},
							"unique_id":   jsonschema.Schema{"type": "string"},
						},
						"required": []any{"protocol_id", "unique_id"},
					},
					"minItems": 1,
				},
			},
			"required": []any{"idp_id", "protocols"},
		},
	}
	userProperties = map[string]any{
		"default_project_id": jsonschema.Schema{"type": []any{"string", "null"}},
		"description":        jsonschema.Schema{"type": []any{"string", "null"}},
		"domain_id":          paramDomainID,
		"enabled":            paramPermissiveBoolean,
		"federated":          userFederated,
		"name":               identityName,
		"password":           jsonschema.Schema{"type": []any{"string", "null"}},
		"options":            userOptions,
	}
	userCreateRequest = envelope("user", jsonschema.Schema{
		"type": "object", "properties": userProperties, "required": []any{"name"}, "additionalProperties": true,
	}, true)
	userUpdateRequest = envelope("user", jsonschema.Schema{
		"type": "object", "properties": userProperties, "minProperties": 1, "additionalProperties": true,
	}, true)
	userSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id":                  jsonschema.Schema{"type": "string"},
			"default_project_id":  jsonschema.Schema{"type": []any{"string", "null"}},
			"description":         jsonschema.Schema{"type": []any{"string", "null"}},
			"domain_id":           jsonschema.Schema{"type": "string"},
			"enabled":             jsonschema.Schema{"type": "boolean"},
			"federated":           userFederated,
			"links":               respLinks,
			"name":                jsonschema.Schema{"type": "string"},
			"password_expires_at": jsonschema.Schema{"type": []any{"string", "null"}, "format": "date-time"},
			"options":             userOptions,
		},
		"additionalProperties": true,
		"required":             []any{"id", "domain_id", "enabled", "name"},
	}
	userResponse      = envelope("user", userSchema, true)
	userIndexResponse = collection("users", userSchema)

	groupCreateRequest = envelope("group", jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"domain_id":   paramDomainID,
			"description": jsonschema.Schema{"type": []any{"string", "null"}},
			"name":        identityName,
		},
		"required":             []any{"name"},
		"additionalProperties": true,
	}, true)
	groupUpdateRequest = envelope("group", jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"description": jsonschema.Schema{"type": []any{"string", "null"}},
			"name":        identityName,
		},
		"minProperties":        1,
		"additionalProperties": true,
	}, true)
	groupSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"description": jsonschema.Schema{"type": []any{"string", "null"}},
			"domain_id":   jsonschema.Schema{"type": "string"},
			"id":          jsonschema.Schema{"type": "string"},
			"name":        jsonschema.Schema{"type": "string"},
		},
		"additionalProperties": true,
	}
	groupResponse      = envelope("group", groupSchema, true)
	groupIndexResponse = requireKey(collection("groups", groupSchema), "groups")

	roleOptionsSchema = jsonschema.Schema{
		"type":                 "object",
		"properties":           map[string]any{"immutable": strictNullableBoolean},
		"additionalProperties": false,
	}
	roleProperties = map[string]any{
		"name":        identityName,
		"description": jsonschema.Schema{"type": []any{"string", "null"}},
		"domain_id":   nullable(paramDomainID),
		"options":     roleOptionsSchema,
	}
	roleCreateRequest = envelope("role", jsonschema.Schema{
		"type": "object", "properties": roleProperties, "required": []any{"name"}, "additionalProperties": true,
	}, true)
	roleUpdateRequest = envelope("role", jsonschema.Schema{
		"type": "object", "properties": roleProperties, "minProperties": 1, "additionalProperties": true,
	}, true)
	roleSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id":          jsonschema.Schema{"type": "string"},
			"name":        jsonschema.Schema{"type": "string", "minLength": 1, "maxLength": 255},
			"description": jsonschema.Schema{"type": []any{"string", "null"}},
			"domain_id":   jsonschema.Schema{"type": []any{"string", "null"}},
			"options":     roleOptionsSchema,
			"links":       respResourceLinks,
		},
		"additionalProperties": true,
	}
	roleResponse      = envelope("role", roleSchema, false)
	roleIndexResponse = collection("roles", roleSchema)
)
