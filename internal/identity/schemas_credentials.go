package identity

import "github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"

// Credential schemas, transcribed from keystone/credential/schema.py, and the
// OS-EC2 credentials' bodies keystone/api/users.py renders
// (_convert_v3_to_ec2_credential), written from the api-ref
// (api-ref/source/v3/ec2-credentials.inc).
var (
	credentialProperties = map[string]any{
		"blob":       jsonschema.Schema{"type": "string"},
		"project_id": jsonschema.Schema{"type": []any{"string", "null"}},
		"type":       jsonschema.Schema{"type": "string"},
		"user_id":    jsonschema.Schema{"type": "string"},
	}
	credentialSchema = jsonschema.Schema{
		"type": "object",
		"properties": withProps(credentialProperties, map[string]any{
			"id": jsonschema.Schema{"type": "string"}, "links": respResourceLinks,
		}),
		"additionalProperties": true,
	}
	credentialResponse      = envelope("credential", credentialSchema, false)
	credentialIndexResponse = collection("credentials", credentialSchema)
	// credentialCreateRequest is create_request_body but for its if/then (an
	// ec2 credential requires project_id), which the method checks with
	// upstream's message.
	credentialCreateRequest = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{"credential": jsonschema.Schema{
			"type":                 "object",
			"properties":           withProps(credentialProperties, map[string]any{"id": jsonschema.Schema{"type": "string"}}),
			"additionalProperties": true,
			"required":             []any{"blob", "type", "user_id"},
		}},
		"required": []any{"credential"},
	}
	credentialUpdateRequest = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{"credential": jsonschema.Schema{
			"type":                 "object",
			"properties":           credentialProperties,
			"additionalProperties": true,
			"minProperties":        1,
		}},
		"required": []any{"credential"},
	}

	// ec2CredentialSchema: _convert_v3_to_ec2_credential's keys and the self
	// link wrap_member adds.
	ec2CredentialSchema = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"access":    jsonschema.Schema{"type": "string"},
			"secret":    jsonschema.Schema{"type": "string"},
			"user_id":   jsonschema.Schema{"type": "string"},
			"tenant_id": jsonschema.Schema{"type": []any{"string", "null"}},
			"trust_id":  jsonschema.Schema{"type": []any{"string", "null"}},
			"links":     respResourceLinks,
		},
		"required":             []any{"access", "secret", "user_id", "tenant_id", "trust_id"},
		"additionalProperties": false,
	}
	ec2CredentialResponse      = envelope("credential", ec2CredentialSchema, true)
	ec2CredentialIndexResponse = collection("credentials", ec2CredentialSchema)
)
