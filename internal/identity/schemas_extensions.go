package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"

// Policy blob and OAuth1 schemas. The requests are keystone/policy/schema.py's
// and keystone/oauth1/schema.py's (which upstream applies, with lazy_validate,
// to the body's policy, consumer and roles); the responses are written from the
// api-ref (api-ref/source/v3/policies.inc, v3-ext/oauth.inc) and the keys
// keystone/api/os_oauth1.py and users.py (_format_token_entity) render.
var (
	policyProperties = map[string]any{
		"blob": jsonschema.Schema{"type": "string"},
		"type": jsonschema.Schema{"type": "string", "maxLength": 255},
	}
	policyCreateRequest = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{"policy": jsonschema.Schema{
			"type": "object", "properties": policyProperties, "required": []any{"blob", "type"}, "additionalProperties": true,
		}},
	}
	policyUpdateRequest = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{"policy": jsonschema.Schema{
			"type": "object", "properties": policyProperties, "minProperties": 1, "additionalProperties": true,
		}},
	}
	policySchema = jsonschema.Schema{
		"type": "object",
		"properties": withProps(policyProperties, map[string]any{
			"id": jsonschema.Schema{"type": "string"}, "links": respResourceLinks,
		}),
		"required":             []any{"id", "blob", "type", "links"},
		"additionalProperties": true, // upstream keeps and shows a policy's other attributes
	}
	policyResponse      = envelope("policy", policySchema, true)
	policyIndexResponse = collection("policies", policySchema)

	consumerDescription   = jsonschema.Schema{"type": []any{"string", "null"}, "maxLength": 255}
	consumerCreateRequest = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{"consumer": jsonschema.Schema{
			"type": "object", "properties": map[string]any{"description": consumerDescription}, "additionalProperties": true,
		}},
	}
	consumerUpdateRequest = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{"consumer": jsonschema.Schema{
			"type":                 "object",
			"properties":           map[string]any{"description": consumerDescription},
			"not":                  jsonschema.Schema{"required": []any{"secret"}},
			"minProperties":        1,
			"additionalProperties": true,
		}},
	}
	consumerProperties = map[string]any{
		"id":          jsonschema.Schema{"type": "string"},
		"description": jsonschema.Schema{"type": []any{"string", "null"}},
		"links":       respResourceLinks,
	}
	consumerSchema = jsonschema.Schema{
		"type": "object", "properties": consumerProperties, "required": []any{"id", "links"}, "additionalProperties": true,
	}
	consumerResponse       = envelope("consumer", consumerSchema, true)
	consumerIndexResponse  = collection("consumers", consumerSchema)
	consumerCreateResponse = envelope("consumer", jsonschema.Schema{
		"type":                 "object",
		"properties":           withProps(consumerProperties, map[string]any{"secret": jsonschema.Schema{"type": "string"}}),
		"required":             []any{"id", "secret", "links"},
		"additionalProperties": true,
	}, true)
	// authorizeRequest is {"roles": request_token_authorize}.
	authorizeRequest = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{"roles": jsonschema.Schema{
			"type": "array",
			"items": jsonschema.Schema{
				"type":                 "object",
				"properties":           map[string]any{"id": paramIDString, "name": paramName},
				"minProperties":        1,
				"maxProperties":        1,
				"additionalProperties": false,
			},
		}},
	}
	authorizeResponse = envelope("token", jsonschema.Schema{
		"type":                 "object",
		"properties":           map[string]any{"oauth_verifier": jsonschema.Schema{"type": "string"}},
		"required":             []any{"oauth_verifier"},
		"additionalProperties": false,
	}, true)
	accessTokenSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id":                  jsonschema.Schema{"type": "string"},
			"consumer_id":         jsonschema.Schema{"type": "string"},
			"project_id":          jsonschema.Schema{"type": "string"},
			"authorizing_user_id": jsonschema.Schema{"type": "string"},
			"expires_at":          jsonschema.Schema{"type": []any{"string", "null"}},
			"links": jsonschema.Schema{
				"type": "object",
				"properties": map[string]any{
					"self":  jsonschema.Schema{"type": "string", "format": "uri"},
					"roles": jsonschema.Schema{"type": "string", "format": "uri"},
				},
				"additionalProperties": false,
			},
		},
		"required":             []any{"id", "consumer_id", "project_id", "authorizing_user_id", "links"},
		"additionalProperties": false,
	}
	accessTokenResponse      = envelope("access_token", accessTokenSchema, true)
	accessTokenIndexResponse = collection("access_tokens", accessTokenSchema)
	// accessTokenRoleSchema is _format_role_entity: a role (with the other
	// attributes it was given) without its description.
	accessTokenRoleSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id":        jsonschema.Schema{"type": "string"},
			"name":      jsonschema.Schema{"type": "string"},
			"domain_id": jsonschema.Schema{"type": []any{"string", "null"}},
			"options":   roleOptionsSchema,
			"links":     respResourceLinks,
		},
		"required":             []any{"id", "name"},
		"not":                  jsonschema.Schema{"required": []any{"description"}},
		"additionalProperties": true,
	}
	accessTokenRoleResponse      = envelope("role", accessTokenRoleSchema, true)
	accessTokenRoleIndexResponse = collection("roles", accessTokenRoleSchema)
)
