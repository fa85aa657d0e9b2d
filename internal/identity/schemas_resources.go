package identity

import (
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Domain and project schemas, transcribed from keystone/resource/schema.py (the
// *_request_body and *_response_body schemas keystone/api/domains.py and
// projects.py validate with) and the parameter types they use.
var (
	// paramPermissiveBoolean is keystone/api/validation/parameter_types.py's
	// boolean: JSON booleans, null, and the strings oslo's bool_from_string reads.
	paramPermissiveBoolean = jsonschema.Schema{
		"type": []any{"boolean", "string", "null"},
		"enum": []any{true, "True", "TRUE", "true", false, "False", "FALSE", "false", "",
			"1", "0", "y", "Y", "n", "N", "on", "ON", "off", "OFF", "yes", "no"},
	}
	// paramDescription255 is the new parameter_types.description.
	paramDescription255 = jsonschema.Schema{"type": "string", "maxLength": 255}
	paramDomainID       = jsonschema.Schema{"type": "string", "minLength": 1, "maxLength": 64, "pattern": `^[a-zA-Z0-9-]+$`}

	resourceName = jsonschema.Schema{"type": "string", "minLength": 1, "maxLength": 64, "pattern": `[\S]+`}
	projectTag   = jsonschema.Schema{"type": "string", "minLength": 1, "maxLength": 255, "pattern": `^[^,/]*$`}
	projectTags  = jsonschema.Schema{"type": "array", "items": projectTag, "maxItems": 80, "uniqueItems": true}
	// projectOptions is PROJECT_OPTIONS_REGISTRY.json_schema: immutable, a
	// nullable strict boolean.
	projectOptions = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"immutable": jsonschema.Schema{"type": []any{"boolean", "null"}, "enum": []any{true, false, nil}},
		},
		"additionalProperties": false,
	}

	projectProperties = map[string]any{
		"description": nullable(paramDescription),
		"domain_id":   nullable(paramIDString),
		"enabled":     paramPermissiveBoolean,
		"is_domain":   paramPermissiveBoolean,
		"parent_id":   nullable(paramIDString),
		"name":        resourceName,
		"tags":        projectTags,
		"options":     projectOptions,
	}
	projectCreateRequest = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"project": jsonschema.Schema{"type": "object", "properties": projectProperties, "required": []any{"name"}},
		},
		"additionalProperties": false,
	}
	projectUpdateRequest = jsonschema.Schema{
		"type": "object",
		"properties": map[string]any{
			"project": jsonschema.Schema{"type": "object", "properties": map[string]any{
				"description": nullable(paramDescription),
				"enabled":     paramPermissiveBoolean,
				"name":        resourceName,
				"options":     projectOptions,
				"tags":        projectTags,
			}},
		},
		"additionalProperties": false,
	}
	projectSchema = jsonschema.Schema{
		"type": "object",
		"properties": withProps(projectProperties, map[string]any{
			"id": jsonschema.Schema{"type": "string"}, "links": respResourceLinks,
		}),
		"additionalProperties": true,
	}
	projectResponse      = envelope("project", projectSchema, false)
	projectIndexResponse = collection("projects", projectSchema)

	domainProperties = map[string]any{
		"description": nullable(paramDescription255),
		"enabled":     paramPermissiveBoolean,
		"name":        resourceName,
		"options":     projectOptions,
		"tags":        projectTags,
	}
	domainCreateRequest = envelope("domain", jsonschema.Schema{
		"type":       "object",
		"properties": withProps(domainProperties, map[string]any{"explicit_domain_id": paramDomainID}),
		"required":   []any{"name"},
	}, true)
	domainUpdateRequest = envelope("domain", jsonschema.Schema{
		"type":          "object",
		"properties":    domainProperties,
		"minProperties": 1,
	}, true)
	// domainSchema is upstream's domain_schema, but open: Nimbus keeps, as
	// Keystone's backend does, the extra attributes a domain was given and shows
	// them (upstream's schema, checked only in its tests, lists none).
	domainSchema = jsonschema.Schema{
		"type": "object",
		"properties": withProps(domainProperties, map[string]any{
			"id": jsonschema.Schema{"type": "string"}, "links": respResourceLinks,
		}),
		"required":             []any{"id", "name", "enabled", "links"},
		"additionalProperties": true,
	}
	domainResponse      = envelope("domain", domainSchema, true)
	domainIndexResponse = collection("domains", domainSchema)
)

// nullable is keystone's validation.nullable: null becomes one of the types (and
// of the enum, when there is one).
func nullable(s jsonschema.Schema) jsonschema.Schema {
	out := jsonschema.Schema{}
	for k, v := range s {
		out[k] = v
	}
	switch t := s["type"].(type) {
	case string:
		out["type"] = []any{t, "null"}
	case []any:
		out["type"] = append(append([]any{}, t...), "null")
	}
	if enum, ok := s["enum"].([]any); ok {
		out["enum"] = append(append([]any{}, enum...), nil)
	}
	return out
}

// permissiveBool reads a value paramPermissiveBoolean allowed as oslo's
// bool_from_string does (strings other than its true ones are false, as is null).
func permissiveBool(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		switch strings.ToLower(b) {
		case "1", "t", "true", "on", "y", "yes":
			return true
		}
	}
	return false
}

// Domain configuration bodies (keystone/api/domains.py's DomainConfig*
// resources, api-ref/source/v3/domains-config-v3.inc): {"config": ...}, the
// groups and their options at the config's root, the options of a group below
// it. Upstream's request bodies have no schema: domain_config_api checks the
// groups and options it allows.
var (
	domainConfigResponse     = envelope("config", jsonschema.Schema{"type": "object"}, true)
	domainConfigRootResponse = envelope("config", jsonschema.Schema{
		"type":                 "object",
		"additionalProperties": jsonschema.Schema{"type": "object"},
	}, true)
)
