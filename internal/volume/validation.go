package volume

import (
	"strings"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// invalidRequest is Cinder's 400 for a body its schema refuses
// (cinder/api/validation/validators.py): "Invalid input for field/attribute
// <last path element>. Value: <value>. <jsonschema's message>".
func invalidRequest(e *jsonschema.Error) *httpapi.Error {
	if e.Keyword == "json" {
		return badRequest("Malformed request body")
	}
	if len(e.Path) == 0 {
		return badRequest("%s", e.Message)
	}
	return badRequest("Invalid input for field/attribute %v. Value: %s. %s", e.Path[len(e.Path)-1], pyStr(e.Value), e.Message)
}

// pyStr is a JSON value as Python's str() renders it.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return jsonschema.Repr(v)
}

func init() {
	// uuidutils.is_uuid_like, as compute registers it (the same checker)
	jsonschema.RegisterFormat("uuid", func(s string) bool {
		u, err := uuid.Parse(s)
		if err != nil {
			return false
		}
		strip := strings.NewReplacer("urn:", "", "uuid:", "", "{", "", "}", "", "-", "")
		return strings.ReplaceAll(u.String(), "-", "") == strip.Replace(strings.ToLower(s))
	})
	// Cinder's name and description formats: at most 255 (description
	// 64 KiB) characters once surrounding whitespace is removed.
	maxLen := func(n int) jsonschema.FormatChecker {
		return func(s string) bool { return len([]rune(strings.TrimSpace(s))) <= n }
	}
	jsonschema.RegisterFormat("name_non_mandatory_remove_white_spaces", maxLen(255))
	jsonschema.RegisterFormat("description_non_mandatory_remove_white_spaces", maxLen(65535))
}

// Upstream's parameter types (cinder/api/validation/parameter_types.py).
var (
	schemaExtraSpecs = jsonschema.Schema{
		"type":                 "object",
		"patternProperties":    map[string]any{"^[a-zA-Z0-9-_:. /]{1,255}$": map[string]any{"type": "string", "maxLength": 255}},
		"additionalProperties": false,
	}
	schemaMetadataAllowsNull = jsonschema.Schema{
		"type":                 []any{"object", "null"},
		"patternProperties":    map[string]any{"^[a-zA-Z0-9-_:. /]{1,255}$": map[string]any{"type": "string", "maxLength": 255}},
		"additionalProperties": false,
	}
	schemaOptionalUUID = jsonschema.Schema{"oneOf": []any{map[string]any{"type": "null"},
		map[string]any{"type": "string", "format": "uuid"}}}
	schemaVolumeSizeAllowsNull = jsonschema.Schema{"type": []any{"integer", "string", "null"}, "pattern": "^[0-9]+$",
		"minimum": 1, "maximum": 0x7FFFFFFF}
	schemaVolumeSize = jsonschema.Schema{"type": []any{"integer", "string"}, "pattern": "^[0-9]+$",
		"minimum": 1, "maximum": 0x7FFFFFFF}
	schemaName        = jsonschema.Schema{"type": []any{"string", "null"}, "format": "name_non_mandatory_remove_white_spaces"}
	schemaDescription = jsonschema.Schema{"type": []any{"string", "null"}, "format": "description_non_mandatory_remove_white_spaces"}
	schemaBoolean     = jsonschema.Schema{"type": []any{"boolean", "string"}, "enum": []any{true, "True", "TRUE", "true", "1", "ON", "On", "on",
		"YES", "Yes", "yes", "y", "t", false, "False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no", "n", "f"}}
)

// volumeCreateSchema is schemas/volumes.py create at a version: group_id from
// 3.13, backup_id from 3.47, no other keys from 3.53.
func volumeCreateSchema(minor int) jsonschema.Schema {
	props := map[string]any{
		"name": schemaName, "description": schemaDescription, "display_name": schemaName,
		"display_description": schemaDescription,
		"volume_type":         map[string]any{"type": []any{"string", "null"}, "minLength": 0, "maxLength": 255},
		"metadata":            schemaMetadataAllowsNull, "snapshot_id": schemaOptionalUUID,
		"source_volid": schemaOptionalUUID, "consistencygroup_id": schemaOptionalUUID,
		"size":              schemaVolumeSizeAllowsNull,
		"availability_zone": map[string]any{"type": []any{"string", "null"}, "minLength": 1, "maxLength": 255},
		"multiattach":       map[string]any{"oneOf": []any{map[string]any{"type": "null"}, schemaBoolean}},
		"image_id":          map[string]any{"type": []any{"string", "null"}, "minLength": 0, "maxLength": 255},
		"imageRef":          map[string]any{"type": []any{"string", "null"}, "minLength": 0, "maxLength": 255},
	}
	if minor >= 13 {
		props["group_id"] = map[string]any{"type": []any{"string", "null"}, "minLength": 0, "maxLength": 255}
	}
	if minor >= 47 {
		props["backup_id"] = schemaOptionalUUID
	}
	vol := map[string]any{"type": "object", "properties": props, "additionalProperties": minor < 53}
	return jsonschema.Schema{"type": "object", "properties": map[string]any{
		"volume":                     vol,
		"OS-SCH-HNT:scheduler_hints": map[string]any{"type": []any{"object", "null"}},
	}, "required": []any{"volume"}, "additionalProperties": false}
}

// volumeUpdateSchema is schemas/volumes.py update (update_v353 from 3.53).
func volumeUpdateSchema(minor int) jsonschema.Schema {
	vol := map[string]any{"type": "object", "properties": map[string]any{
		"name": schemaName, "description": schemaDescription, "display_name": schemaName,
		"display_description": schemaDescription, "metadata": schemaExtraSpecs,
	}, "additionalProperties": false}
	if minor >= 53 {
		vol["anyOf"] = []any{map[string]any{"required": []any{"name"}}, map[string]any{"required": []any{"description"}},
			map[string]any{"required": []any{"display_name"}}, map[string]any{"required": []any{"display_description"}},
			map[string]any{"required": []any{"metadata"}}}
	}
	return jsonschema.Schema{"type": "object", "properties": map[string]any{"volume": vol},
		"required": []any{"volume"}, "additionalProperties": false}
}

// versioned builds a route's request schemas for the version ranges where
// the schema changes.
func versioned(build func(minor int) jsonschema.Schema, changes ...int) []httpapi.Schema {
	bounds := append([]int{0}, changes...)
	var out []httpapi.Schema
	for i, lo := range bounds {
		sc := httpapi.Schema{Min: httpapi.Version{Major: 3, Minor: lo}, Request: build(lo)}
		if i+1 < len(bounds) {
			sc.Max = httpapi.Version{Major: 3, Minor: bounds[i+1] - 1}
		}
		out = append(out, sc)
	}
	return out
}
