package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"

// Token, auth/* and version discovery schemas. The request is
// keystone/auth/schema.py's token_issue (which keystone/api/auth.py applies to
// the body's auth); the responses are written from the api-ref
// (api-ref/source/v3/authenticate-v3.inc and its samples) and the keys
// keystone/common/render_token.py renders.
var (
	idOrName = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id":   jsonschema.Schema{"type": "string"},
			"name": jsonschema.Schema{"type": "string"},
		},
	}
	tokenIssueSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"identity": jsonschema.Schema{
				"type": "object",
				"properties": map[string]any{
					"methods": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "string"}},
					"password": jsonschema.Schema{
						"type": "object",
						"properties": map[string]any{
							"user": jsonschema.Schema{
								"type": "object",
								"properties": map[string]any{
									"id":       jsonschema.Schema{"type": "string"},
									"name":     jsonschema.Schema{"type": "string"},
									"password": jsonschema.Schema{"type": "string"},
									"domain":   idOrName,
								},
							},
						},
					},
					"token": jsonschema.Schema{
						"type":       "object",
						"properties": map[string]any{"id": jsonschema.Schema{"type": "string"}},
						"required":   []any{"id"},
					},
				},
				"required": []any{"methods"},
			},
			// An object, or the string "unscoped" (older keystoneauth sends
			// {"unscoped": {}}, so the type is not only a string).
			"scope": jsonschema.Schema{
				"type": []any{"object", "string"},
				"properties": map[string]any{
					"project": jsonschema.Schema{
						"type": "object",
						"properties": map[string]any{
							"name": jsonschema.Schema{"type": "string"}, "id": jsonschema.Schema{"type": "string"}, "domain": idOrName,
						},
					},
					"domain": idOrName,
					"OS-TRUST:trust": jsonschema.Schema{
						"type": "object", "properties": map[string]any{"id": jsonschema.Schema{"type": "string"}},
					},
					"system": jsonschema.Schema{
						"type": "object", "properties": map[string]any{"all": paramBoolean},
					},
				},
			},
		},
		"required": []any{"identity"},
	}
	// tokenIssueRequest: the body's auth is token_issue; upstream reads no
	// other key.
	tokenIssueRequest = jsonschema.Schema{
		"type":       "object",
		"properties": map[string]any{"auth": tokenIssueSchema},
	}

	nameAndID = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id":   jsonschema.Schema{"type": "string"},
			"name": jsonschema.Schema{"type": "string"},
		},
		"required":             []any{"id", "name"},
		"additionalProperties": false,
	}
	catalogEndpoint = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id":        jsonschema.Schema{"type": "string"},
			"interface": jsonschema.Schema{"type": "string", "enum": []any{"admin", "internal", "public"}},
			"region":    jsonschema.Schema{"type": []any{"string", "null"}},
			"region_id": jsonschema.Schema{"type": []any{"string", "null"}},
			"url":       jsonschema.Schema{"type": "string"},
		},
		"required":             []any{"id", "interface", "url"},
		"additionalProperties": false,
	}
	// catalogSchema is get_v3_catalog's list: each service with its endpoints.
	catalogSchema = jsonschema.Schema{
		"type": "array",
		"items": jsonschema.Schema{
			"type": "object",
			"properties": map[string]any{
				"endpoints": jsonschema.Schema{"type": "array", "items": catalogEndpoint},
				"id":        jsonschema.Schema{"type": "string"},
				"type":      jsonschema.Schema{"type": "string"},
				"name":      jsonschema.Schema{"type": "string"},
			},
			"required":             []any{"endpoints", "id", "type"},
			"additionalProperties": false,
		},
	}
	tokenRole = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id":        jsonschema.Schema{"type": "string"},
			"name":      jsonschema.Schema{"type": "string"},
			"domain_id": jsonschema.Schema{"type": []any{"string", "null"}},
		},
		"required":             []any{"id", "name"},
		"additionalProperties": false,
	}
	tokenSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"methods":    jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "string"}},
			"audit_ids":  jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "string"}},
			"expires_at": jsonschema.Schema{"type": "string", "format": "date-time"},
			"issued_at":  jsonschema.Schema{"type": "string", "format": "date-time"},
			"user": jsonschema.Schema{
				"type": "object",
				"properties": map[string]any{
					"id":                  jsonschema.Schema{"type": "string"},
					"name":                jsonschema.Schema{"type": "string"},
					"domain":              nameAndID,
					"password_expires_at": jsonschema.Schema{"type": []any{"string", "null"}},
					"OS-FEDERATION":       jsonschema.Schema{"type": "object"},
				},
				"required":             []any{"id", "name", "domain"},
				"additionalProperties": false,
			},
			"project": jsonschema.Schema{
				"type": "object",
				"properties": map[string]any{
					"id": jsonschema.Schema{"type": "string"}, "name": jsonschema.Schema{"type": "string"}, "domain": nameAndID,
				},
				"required":             []any{"id", "name", "domain"},
				"additionalProperties": false,
			},
			"domain":           nameAndID,
			"system":           jsonschema.Schema{"type": "object", "properties": map[string]any{"all": jsonschema.Schema{"enum": []any{true}}}, "required": []any{"all"}},
			"is_domain":        jsonschema.Schema{"type": "boolean"},
			"is_admin_project": jsonschema.Schema{"type": "boolean"},
			"roles":            jsonschema.Schema{"type": "array", "items": tokenRole},
			"catalog":          catalogSchema,
			"OS-TRUST:trust": jsonschema.Schema{
				"type": "object",
				"properties": map[string]any{
					"id":            jsonschema.Schema{"type": "string"},
					"trustor_user":  jsonschema.Schema{"type": "object", "properties": map[string]any{"id": jsonschema.Schema{"type": "string"}}},
					"trustee_user":  jsonschema.Schema{"type": "object", "properties": map[string]any{"id": jsonschema.Schema{"type": "string"}}},
					"impersonation": jsonschema.Schema{"type": "boolean"},
				},
				"required":             []any{"id", "trustor_user", "trustee_user", "impersonation"},
				"additionalProperties": false,
			},
			"OS-OAUTH1": jsonschema.Schema{
				"type": "object",
				"properties": map[string]any{
					"access_token_id": jsonschema.Schema{"type": "string"},
					"consumer_id":     jsonschema.Schema{"type": "string"},
				},
				"additionalProperties": false,
			},
			"application_credential": jsonschema.Schema{
				"type": "object",
				"properties": map[string]any{
					"id":           jsonschema.Schema{"type": "string"},
					"name":         jsonschema.Schema{"type": "string"},
					"restricted":   jsonschema.Schema{"type": "boolean"},
					"access_rules": jsonschema.Schema{"type": "array"},
				},
				"required":             []any{"id", "name", "restricted"},
				"additionalProperties": false,
			},
			"service_providers": jsonschema.Schema{"type": "array"},
			"oauth2_credential": jsonschema.Schema{"type": "object"},
		},
		"required":             []any{"methods", "audit_ids", "expires_at", "issued_at", "user"},
		"additionalProperties": false,
	}
	tokenResponse = envelope("token", tokenSchema, true)

	authCatalogResponse = jsonschema.Schema{
		"type":                 "object",
		"properties":           map[string]any{"catalog": catalogSchema, "links": respLinks},
		"required":             []any{"catalog", "links"},
		"additionalProperties": false,
	}
	authSystemResponse = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"system": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{
				"type": "object", "properties": map[string]any{"all": jsonschema.Schema{"enum": []any{true}}},
				"required": []any{"all"}, "additionalProperties": false,
			}},
			"links": respLinks,
		},
		"required":             []any{"system", "links"},
		"additionalProperties": false,
	}

	// versionSchema is a version of keystone/api/discovery.py's documents.
	versionSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id":      jsonschema.Schema{"type": "string"},
			"status":  jsonschema.Schema{"type": "string", "enum": []any{"stable", "deprecated", "experimental"}},
			"updated": jsonschema.Schema{"type": "string", "format": "date-time"},
			"links": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{
				"type": "object",
				"properties": map[string]any{
					"rel": jsonschema.Schema{"type": "string"}, "href": jsonschema.Schema{"type": "string"},
					"type": jsonschema.Schema{"type": "string"},
				},
				"required": []any{"rel", "href"},
			}},
			"media-types": jsonschema.Schema{"type": "array", "items": jsonschema.Schema{
				"type": "object",
				"properties": map[string]any{
					"base": jsonschema.Schema{"type": "string"}, "type": jsonschema.Schema{"type": "string"},
				},
				"required": []any{"base", "type"},
			}},
		},
		"required":             []any{"id", "status", "updated", "links", "media-types"},
		"additionalProperties": false,
	}
	versionResponse  = envelope("version", versionSchema, true)
	versionsResponse = envelope("versions", jsonschema.Schema{
		"type":                 "object",
		"properties":           map[string]any{"values": jsonschema.Schema{"type": "array", "items": versionSchema}},
		"required":             []any{"values"},
		"additionalProperties": false,
	}, true)
)
