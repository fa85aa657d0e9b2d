package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"

// Grant, role assignment, implied role, project tag and password change
// schemas, transcribed from keystone/assignment/schema.py,
// keystone/resource/schema.py (grants_get_response_body, tags_*),
// keystone/api/validation/response_types.py (tags) and
// keystone/identity/schema.py (password_change).
var (
	// grantsResponse is grants_get_response_body: the roles of a grant list,
	// closed (role_schema with additionalProperties false).
	grantsResponse = collection("roles", closed(roleSchema))

	embeddedDomain = jsonschema.Schema{
		"type":                 "object",
		"properties":           map[string]any{"id": jsonschema.Schema{"type": "string"}, "name": jsonschema.Schema{"type": "string"}},
		"required":             []any{"id"},
		"additionalProperties": false,
	}
	embeddedProject = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id": jsonschema.Schema{"type": "string"}, "name": jsonschema.Schema{"type": "string"}, "domain": embeddedDomain,
		},
		"required":             []any{"id"},
		"additionalProperties": false,
	}
	// embeddedActor is the user or group of an assignment.
	embeddedActor = embeddedProject
	// roleAssignmentSchema is role_assignment_schema ("const" written as a
	// one-value enum).
	roleAssignmentSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"links": jsonschema.Schema{
				"type": "object",
				"properties": map[string]any{
					"assignment": jsonschema.Schema{"type": "string", "format": "uri"},
					"membership": jsonschema.Schema{"type": "string", "format": "uri"},
					"prior_role": jsonschema.Schema{"type": "string", "format": "uri"},
				},
				"required":             []any{"assignment"},
				"additionalProperties": false,
			},
			"role": jsonschema.Schema{
				"type": "object",
				"properties": map[string]any{
					"id":     jsonschema.Schema{"type": "string"},
					"name":   jsonschema.Schema{"type": "string", "minLength": 1, "maxLength": 255},
					"domain": embeddedDomain,
				},
				"required":             []any{"id"},
				"additionalProperties": false,
			},
			"scope": jsonschema.Schema{
				"properties": map[string]any{
					"project":                 embeddedProject,
					"domain":                  embeddedDomain,
					"OS-INHERIT:inherited_to": jsonschema.Schema{"enum": []any{"projects"}},
					"system": jsonschema.Schema{
						"type":       "object",
						"properties": map[string]any{"all": jsonschema.Schema{"enum": []any{true}}},
						"required":   []any{"all"},
					},
				},
				"oneOf": []any{
					jsonschema.Schema{"required": []any{"project"}},
					jsonschema.Schema{"required": []any{"domain"}},
					jsonschema.Schema{"required": []any{"system"}},
				},
				"additionalProperties": false,
			},
			"user":  embeddedActor,
			"group": embeddedActor,
		},
		"required":             []any{"role", "links", "scope"},
		"oneOf":                []any{jsonschema.Schema{"required": []any{"user"}}, jsonschema.Schema{"required": []any{"group"}}},
		"additionalProperties": false,
	}
	roleAssignmentIndexResponse = collection("role_assignments", roleAssignmentSchema)

	// impliedRoleSchema is prior_role_schema and implied_role_schema.
	impliedRoleSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"id":    jsonschema.Schema{"type": "string"},
			"name":  jsonschema.Schema{"type": "string", "minLength": 1, "maxLength": 255},
			"links": respResourceLinks,
		},
		"additionalProperties": false,
	}
	impliedRoleResponse = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"role_inference": jsonschema.Schema{
				"type":                 "object",
				"properties":           map[string]any{"prior_role": impliedRoleSchema, "implies": impliedRoleSchema},
				"additionalProperties": false,
			},
			"links": respLinks,
		},
		"additionalProperties": false,
	}
	roleInferenceSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"prior_role": impliedRoleSchema,
			"implies":    jsonschema.Schema{"type": "array", "items": impliedRoleSchema},
		},
		"additionalProperties": false,
	}
	roleInferenceResponse = jsonschema.Schema{
		"type":                 "object",
		"properties":           map[string]any{"role_inference": roleInferenceSchema, "links": respLinks},
		"additionalProperties": false,
	}
	roleInferenceIndexResponse = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"role_inferences": jsonschema.Schema{"type": "array", "items": roleInferenceSchema},
			"links":           respLinks,
		},
		"additionalProperties": false,
	}

	// tagsResponse is response_types.tags.
	tagsResponse = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"tags":  jsonschema.Schema{"type": "array", "items": jsonschema.Schema{"type": "string"}},
			"links": respLinks,
		},
		"additionalProperties": false,
	}
	// tagsUpdateRequest is tags_update_request_body with the list's own limits
	// (project_tags_update) the method then checks.
	tagsUpdateRequest = jsonschema.Schema{
		"type":                 "object",
		"properties":           map[string]any{"tags": projectTags},
		"additionalProperties": false,
	}

	// passwordChangeRequest is password_change on the body's user (upstream
	// reads a missing one as {}, which the method refuses for its missing
	// fields, and ignores the body's other keys).
	passwordChangeRequest = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{"user": jsonschema.Schema{
			"type": "object",
			"properties": map[string]any{
				"original_password": jsonschema.Schema{"type": "string"},
				"password":          jsonschema.Schema{"type": "string"},
			},
			"required":             []any{"original_password", "password"},
			"additionalProperties": false,
		}},
	}
)

// closed is an object schema that allows no other properties.
func closed(s jsonschema.Schema) jsonschema.Schema {
	out := jsonschema.Schema{}
	for k, v := range s {
		out[k] = v
	}
	out["additionalProperties"] = false
	return out
}
