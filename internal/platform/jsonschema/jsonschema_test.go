package jsonschema

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func mustSchema(t testing.TB, s string) Schema {
	t.Helper()
	var m Schema
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// A server create body in the shape of Nova's schema (servers.py, 2.1), and the
// messages Python's jsonschema (Draft4Validator) gives for each violation.
const serverSchema = `{
  "type": "object",
  "properties": {
    "server": {
      "type": "object",
      "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "imageRef": {"type": "string", "format": "uuid"},
        "flavorRef": {"type": ["string", "integer"], "minLength": 1},
        "min_count": {"type": ["integer", "string"], "pattern": "^[0-9]*$", "minimum": 1},
        "config_drive": {"type": ["boolean", "string"], "enum": [true, "True", "true", "1", false, "False", "false", "0", ""]},
        "networks": {
          "oneOf": [
            {"type": "array", "items": {"type": "object", "properties": {"uuid": {"type": "string"}}, "additionalProperties": false}},
            {"type": "string", "enum": ["none", "auto"]}
          ]
        },
        "metadata": {"type": "object", "patternProperties": {"^[a-zA-Z0-9-_:. ]{1,255}$": {"type": "string", "maxLength": 255}}, "additionalProperties": false}
      },
      "required": ["name", "flavorRef"],
      "additionalProperties": false
    }
  },
  "required": ["server"],
  "additionalProperties": false
}`

func TestValidateMessages(t *testing.T) {
	RegisterFormat("uuid", func(s string) bool { return len(s) == 36 && strings.Count(s, "-") == 4 })
	schema := mustSchema(t, serverSchema)
	tests := []struct {
		doc, path, msg, keyword string
	}{
		{`{"server": {"name": "a", "flavorRef": "1"}}`, "", "", ""},
		{`{"server": {"name": "a", "flavorRef": 1, "min_count": "3", "config_drive": "True", "networks": "auto"}}`, "", "", ""},
		{`{}`, "", "'server' is a required property", "required"},
		{`{"server": {"flavorRef": "1"}}`, "server", "'name' is a required property", "required"},
		{`{"server": {"name": "", "flavorRef": "1"}}`, "server/name", "'' should be non-empty", "minLength"},
		{`{"server": {"name": "` + strings.Repeat("x", 256) + `", "flavorRef": "1"}}`, "server/name", "'" + strings.Repeat("x", 256) + "' is too long", "maxLength"},
		{`{"server": {"name": 5, "flavorRef": "1"}}`, "server/name", "5 is not of type 'string'", "type"},
		{`{"server": {"name": null, "flavorRef": "1"}}`, "server/name", "None is not of type 'string'", "type"},
		{`{"server": {"name": "a", "flavorRef": 1.5}}`, "server/flavorRef", "1.5 is not of type 'string', 'integer'", "type"},
		{`{"server": {"name": "a", "flavorRef": "1", "min_count": 0}}`, "server/min_count", "0 is less than the minimum of 1", "minimum"},
		{`{"server": {"name": "a", "flavorRef": "1", "min_count": "x"}}`, "server/min_count", "'x' does not match '^[0-9]*$'", "pattern"},
		{`{"server": {"name": "a", "flavorRef": "1", "config_drive": "yes"}}`, "server/config_drive",
			"'yes' is not one of [True, 'True', 'true', '1', False, 'False', 'false', '0', '']", "enum"},
		{`{"server": {"name": "a", "flavorRef": "1", "imageRef": "nope"}}`, "server/imageRef", "'nope' is not a 'uuid'", "format"},
		{`{"server": {"name": "a", "flavorRef": "1", "bogus": 1}}`, "server", "Additional properties are not allowed ('bogus' was unexpected)", "additionalProperties"},
		{`{"server": {"name": "a", "flavorRef": "1", "b": 1, "a": 2}}`, "server", "Additional properties are not allowed ('a', 'b' were unexpected)", "additionalProperties"},
		{`{"server": {"name": "a", "flavorRef": "1", "networks": "some"}}`, "server/networks", "'some' is not valid under any of the given schemas", "oneOf"},
		{`{"server": {"name": "a", "flavorRef": "1", "metadata": {"k": 1}}}`, "server/metadata/k", "1 is not of type 'string'", "type"},
		{`{"server": {"name": "a", "flavorRef": "1", "metadata": {"": "v"}}}`, "server/metadata", "'' do not match any of the regexes: '^[a-zA-Z0-9-_:. ]{1,255}$'", "additionalProperties"},
		{`{"server": {"name": "it's", "flavorRef": "1", "x": 1}}`, "server", "Additional properties are not allowed ('x' was unexpected)", "additionalProperties"},
		{`[]`, "", "[] is not of type 'object'", "type"},
		{`{"server": true}`, "server", "True is not of type 'object'", "type"},
	}
	for _, tt := range tests {
		_, err := ValidateJSON(schema, []byte(tt.doc))
		if tt.msg == "" {
			if err != nil {
				t.Errorf("%s: unexpected %q", tt.doc, err.Message)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: valid, want %q", tt.doc, tt.msg)
			continue
		}
		if err.Message != tt.msg || err.PathString() != tt.path || err.Keyword != tt.keyword {
			t.Errorf("%s:\n got %s: %q (%s)\nwant %s: %q (%s)", tt.doc, err.PathString(), err.Message, err.Keyword, tt.path, tt.msg, tt.keyword)
		}
	}
}

func TestKeywords(t *testing.T) {
	tests := []struct {
		schema, doc string
		valid       bool
	}{
		{`{"type": "integer"}`, `1`, true},
		{`{"type": "integer"}`, `1.0`, false}, // draft 4: a float is not an integer
		{`{"type": "number"}`, `1.5e3`, true},
		{`{"type": "number"}`, `true`, false},
		{`{"type": "boolean"}`, `0`, false},
		{`{"type": "null"}`, `null`, true},
		{`{"enum": [1, "a"]}`, `1.0`, true}, // numbers compare by value
		{`{"enum": [1]}`, `true`, false},
		{`{"maximum": 10, "exclusiveMaximum": true}`, `10`, false},
		{`{"minimum": 10, "exclusiveMinimum": true}`, `10.5`, true},
		{`{"multipleOf": 0.5}`, `2.5`, true},
		{`{"multipleOf": 2}`, `3`, false},
		{`{"maxLength": 3}`, `"ééé"`, true}, // characters, not bytes
		{`{"pattern": "b"}`, `"abc"`, true}, // re.search: anywhere
		{`{"minItems": 1}`, `[]`, false},
		{`{"maxItems": 1}`, `[1, 2]`, false},
		{`{"uniqueItems": true}`, `[1, 1.0]`, false},
		{`{"uniqueItems": true}`, `[{"a": 1}, {"a": 2}]`, true},
		{`{"items": [{"type": "string"}], "additionalItems": false}`, `["a", "b"]`, false},
		{`{"items": [{"type": "string"}]}`, `["a", 2]`, true},
		{`{"minProperties": 1}`, `{}`, false},
		{`{"maxProperties": 1}`, `{"a": 1, "b": 2}`, false},
		{`{"dependencies": {"a": ["b"]}}`, `{"a": 1}`, false},
		{`{"dependencies": {"a": {"required": ["c"]}}}`, `{"a": 1, "c": 2}`, true},
		{`{"anyOf": [{"type": "string"}, {"type": "integer"}]}`, `3`, true},
		{`{"oneOf": [{"type": "integer"}, {"minimum": 0}]}`, `3`, false}, // both
		{`{"allOf": [{"type": "integer"}, {"minimum": 5}]}`, `3`, false},
		{`{"not": {"type": "string"}}`, `"x"`, false},
		{`{"additionalProperties": {"type": "integer"}}`, `{"a": "x"}`, false},
		{`{"format": "unregistered-format"}`, `"anything"`, true},
		{`{"pattern": "(?<=x)y"}`, `"xy"`, false}, // a look-behind Go cannot compile: an error, not a panic
	}
	for _, tt := range tests {
		_, err := ValidateJSON(mustSchema(t, tt.schema), []byte(tt.doc))
		if (err == nil) != tt.valid {
			t.Errorf("%s against %s: error %v, want valid=%v", tt.doc, tt.schema, err, tt.valid)
		}
	}
}

func TestRepr(t *testing.T) {
	tests := []struct {
		doc, want string
	}{
		{`"abc"`, `'abc'`},
		{`"it's"`, `"it's"`},
		{`"it's \"x\""`, `'it\'s "x"'`},
		{`"a\nb\u0001"`, `'a\nb\x01'`},
		{`"é"`, `'é'`},
		{`null`, `None`},
		{`[true, false, 1, 1.5]`, `[True, False, 1, 1.5]`},
		{`{"b": 1, "a": [null]}`, `{'a': [None], 'b': 1}`},
	}
	for _, tt := range tests {
		v, err := Decode([]byte(tt.doc))
		if err != nil {
			t.Fatal(err)
		}
		if got := Repr(v); got != tt.want {
			t.Errorf("Repr(%s) = %s, want %s", tt.doc, got, tt.want)
		}
	}
}

// FuzzValidate: any schema (as JSON) against any document: an answer, never a
// panic; and a document the server schema accepts really has its required keys.
func FuzzValidate(f *testing.F) {
	f.Add(serverSchema, `{"server": {"name": "a", "flavorRef": "1"}}`)
	f.Add(`{"items": [{"type": "string"}], "additionalItems": {"maximum": 3}}`, `["a", 4]`)
	f.Add(`{"patternProperties": {"[": {}}}`, `{"x": 1}`)
	f.Add(`{"minLength": "x", "maxItems": -1, "multipleOf": 0}`, `"abc"`)
	f.Add(`{"oneOf": {}, "not": 1, "type": [1]}`, `null`)
	f.Fuzz(func(t *testing.T, schema, doc string) {
		var s Schema
		if json.Unmarshal([]byte(schema), &s) != nil || !utf8.ValidString(doc) {
			return
		}
		v, err := ValidateJSON(s, []byte(doc))
		if err == nil && schema == serverSchema {
			server, _ := v.(map[string]any)["server"].(map[string]any)
			if _, ok := server["name"]; !ok {
				t.Fatalf("accepted without a name: %s", doc)
			}
		}
	})
}
