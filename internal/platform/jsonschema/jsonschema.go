// Package jsonschema validates JSON documents against JSON Schema (draft 4, the
// dialect upstream's services write their request schemas in: Nova's
// nova/api/openstack/compute/schemas, Keystone's keystone/*/schema.py, Glance's
// image schema) and reports the first error as Python's jsonschema does, so a
// service can answer with upstream's message. Schemas are plain data
// (map[string]any, as decoded from JSON), so they sit beside the routes, one per
// API version and microversion, and read like upstream's.
//
// Regular expressions are Go's (RE2): upstream patterns that need look-around are
// written as named formats instead (Formats), with the same meaning.
package jsonschema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// Schema is a JSON Schema document: a map decoded from JSON or written as a Go
// literal with the same shape.
type Schema = map[string]any

// Error is a document's first violation of its schema.
type Error struct {
	// Path is the location of the offending value (object keys and array
	// indexes), as jsonschema's error.path.
	Path []any
	// Value is the offending value.
	Value any
	// Message is jsonschema's message: "'name' is a required property",
	// "Additional properties are not allowed ('x' was unexpected)", ...
	Message string
	// Keyword is the schema keyword that failed (type, required, maxLength, ...).
	Keyword string
}

func (e *Error) Error() string { return e.Message }

// PathString joins Path with "/", as Nova names the field in "Invalid input for
// field/attribute %(path)s".
func (e *Error) PathString() string {
	parts := make([]string, len(e.Path))
	for i, p := range e.Path {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, "/")
}

// Decode reads a JSON document for validation: numbers stay json.Number, so that
// 1 (an integer) and 1.0 (a number) are told apart as draft 4 does.
func Decode(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("unexpected data after the JSON document")
	}
	return v, nil
}

// FormatChecker checks a string against a named format.
type FormatChecker func(string) bool

var (
	formatsMu sync.RWMutex
	formats   = map[string]FormatChecker{}
)

// RegisterFormat adds (or replaces) a named format: upstream's format checkers
// (Nova's "uuid", "cidr", "name", ...). A format nobody registered accepts
// everything, as jsonschema's does.
func RegisterFormat(name string, check FormatChecker) {
	formatsMu.Lock()
	defer formatsMu.Unlock()
	formats[name] = check
}

func format(name string) FormatChecker {
	formatsMu.RLock()
	defer formatsMu.RUnlock()
	return formats[name]
}

var (
	patternsMu sync.Mutex
	patterns   = map[string]*regexp.Regexp{}
)

// pattern compiles (once) a schema's regular expression; like Python's re.search it
// matches anywhere unless anchored.
func pattern(expr string) (*regexp.Regexp, error) {
	patternsMu.Lock()
	defer patternsMu.Unlock()
	if re, ok := patterns[expr]; ok {
		return re, nil
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, err
	}
	patterns[expr] = re
	return re, nil
}

// Validate checks doc (as Decode returns it, or any value of JSON's types) against
// schema and returns the first error, or nil. A schema that is itself malformed
// (a bad pattern, a keyword of the wrong type) is an error too, never a panic.
func Validate(schema Schema, doc any) *Error {
	return validate(schema, doc, nil)
}

// ValidateJSON decodes data and validates it; a document that is not JSON is an
// error whose Keyword is "json".
func ValidateJSON(schema Schema, data []byte) (any, *Error) {
	doc, err := Decode(data)
	if err != nil {
		return nil, &Error{Message: "Malformed JSON: " + err.Error(), Keyword: "json"}
	}
	return doc, Validate(schema, doc)
}

func fail(path []any, value any, keyword, format string, args ...any) *Error {
	return &Error{Path: append([]any(nil), path...), Value: value, Keyword: keyword, Message: fmt.Sprintf(format, args...)}
}

func validate(s Schema, v any, path []any) *Error {
	// draft 4 evaluates every keyword; jsonschema reports them in the schema's
	// order, which Go maps do not keep: the order below is its iteration order for
	// the schemas upstream writes (type first, then the keyword's own checks).
	if t, ok := s["type"]; ok {
		if !typeMatches(t, v) {
			return fail(path, v, "type", "%s is not of type %s", Repr(v), typeList(t))
		}
	}
	if e, ok := s["enum"].([]any); ok {
		found := false
		for _, x := range e {
			if equal(x, v) {
				found = true
				break
			}
		}
		if !found {
			return fail(path, v, "enum", "%s is not one of %s", Repr(v), Repr(e))
		}
	}
	for _, kw := range []string{"allOf", "anyOf", "oneOf", "not"} {
		if err := combinator(s, kw, v, path); err != nil {
			return err
		}
	}
	switch x := v.(type) {
	case string:
		return validateString(s, x, path)
	case json.Number, float64, int, int64:
		return validateNumber(s, v, path)
	case []any:
		return validateArray(s, x, path)
	case map[string]any:
		return validateObject(s, x, path)
	}
	return nil
}

func combinator(s Schema, kw string, v any, path []any) *Error {
	raw, ok := s[kw]
	if !ok {
		return nil
	}
	if kw == "not" {
		sub, ok := raw.(map[string]any)
		if !ok {
			return fail(path, v, kw, "schema keyword 'not' is not a schema")
		}
		if validate(sub, v, path) == nil {
			return fail(path, v, kw, "%s is not allowed for %s", Repr(sub), Repr(v))
		}
		return nil
	}
	subs, ok := raw.([]any)
	if !ok {
		return fail(path, v, kw, "schema keyword '%s' is not a list", kw)
	}
	passed := 0
	var first *Error
	for _, x := range subs {
		sub, ok := x.(map[string]any)
		if !ok {
			return fail(path, v, kw, "schema keyword '%s' holds a non-schema", kw)
		}
		err := validate(sub, v, path)
		if err == nil {
			passed++
		} else if first == nil {
			first = err
		}
		if kw == "allOf" && err != nil {
			return err
		}
	}
	switch {
	case kw == "anyOf" && passed == 0:
		return fail(path, v, kw, "%s is not valid under any of the given schemas", Repr(v))
	case kw == "oneOf" && passed == 0:
		return fail(path, v, kw, "%s is not valid under any of the given schemas", Repr(v))
	case kw == "oneOf" && passed > 1:
		return fail(path, v, kw, "%s is valid under each of %s", Repr(v), Repr(subs))
	}
	return nil
}

func validateString(s Schema, v string, path []any) *Error {
	n := utf8.RuneCountInString(v)
	if m, ok := intKeyword(s, "minLength"); ok && n < m {
		if m == 1 {
			return fail(path, v, "minLength", "%s should be non-empty", Repr(v))
		}
		return fail(path, v, "minLength", "%s is too short", Repr(v))
	}
	if m, ok := intKeyword(s, "maxLength"); ok && n > m {
		return fail(path, v, "maxLength", "%s is too long", Repr(v))
	}
	if p, ok := s["pattern"].(string); ok {
		re, err := pattern(p)
		if err != nil {
			return fail(path, v, "pattern", "schema pattern %q does not compile: %v", p, err)
		}
		if !re.MatchString(v) {
			return fail(path, v, "pattern", "%s does not match %s", Repr(v), Repr(p))
		}
	}
	if f, ok := s["format"].(string); ok {
		if check := format(f); check != nil && !check(v) {
			return fail(path, v, "format", "%s is not a '%s'", Repr(v), f)
		}
	}
	return nil
}

func validateNumber(s Schema, v any, path []any) *Error {
	x, ok := toRat(v)
	if !ok {
		return nil
	}
	if m, ok := s["minimum"]; ok {
		if lim, ok := toRat(m); ok {
			excl, _ := s["exclusiveMinimum"].(bool)
			if c := x.Cmp(lim); c < 0 || excl && c == 0 {
				if excl {
					return fail(path, v, "minimum", "%s is less than or equal to the minimum of %s", Repr(v), Repr(m))
				}
				return fail(path, v, "minimum", "%s is less than the minimum of %s", Repr(v), Repr(m))
			}
		}
	}
	if m, ok := s["maximum"]; ok {
		if lim, ok := toRat(m); ok {
			excl, _ := s["exclusiveMaximum"].(bool)
			if c := x.Cmp(lim); c > 0 || excl && c == 0 {
				if excl {
					return fail(path, v, "maximum", "%s is greater than or equal to the maximum of %s", Repr(v), Repr(m))
				}
				return fail(path, v, "maximum", "%s is greater than the maximum of %s", Repr(v), Repr(m))
			}
		}
	}
	if m, ok := s["multipleOf"]; ok {
		if d, ok := toRat(m); ok && d.Sign() != 0 {
			if q := new(big.Rat).Quo(x, d); !q.IsInt() {
				return fail(path, v, "multipleOf", "%s is not a multiple of %s", Repr(v), Repr(m))
			}
		}
	}
	return nil
}

func validateArray(s Schema, v []any, path []any) *Error {
	if m, ok := intKeyword(s, "minItems"); ok && len(v) < m {
		if m == 1 {
			return fail(path, v, "minItems", "%s should be non-empty", Repr(v))
		}
		return fail(path, v, "minItems", "%s is too short", Repr(v))
	}
	if m, ok := intKeyword(s, "maxItems"); ok && len(v) > m {
		return fail(path, v, "maxItems", "%s is too long", Repr(v))
	}
	if u, _ := s["uniqueItems"].(bool); u {
		for i := range v {
			for j := i + 1; j < len(v); j++ {
				if equal(v[i], v[j]) {
					return fail(path, v, "uniqueItems", "%s has non-unique elements", Repr(v))
				}
			}
		}
	}
	switch items := s["items"].(type) {
	case map[string]any:
		for i, x := range v {
			if err := validate(items, x, append(path, i)); err != nil {
				return err
			}
		}
	case []any: // a tuple
		for i, x := range v {
			if i < len(items) {
				sub, ok := items[i].(map[string]any)
				if !ok {
					continue
				}
				if err := validate(sub, x, append(path, i)); err != nil {
					return err
				}
				continue
			}
			switch extra := s["additionalItems"].(type) {
			case bool:
				if !extra {
					return fail(path, v, "additionalItems", "Additional items are not allowed (%s was unexpected)", Repr(x))
				}
			case map[string]any:
				if err := validate(extra, x, append(path, i)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func validateObject(s Schema, v map[string]any, path []any) *Error {
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			name, _ := r.(string)
			if _, present := v[name]; !present {
				return fail(path, v, "required", "%s is a required property", Repr(name))
			}
		}
	}
	if m, ok := intKeyword(s, "minProperties"); ok && len(v) < m {
		if m == 1 {
			return fail(path, v, "minProperties", "%s should be non-empty", Repr(v))
		}
		return fail(path, v, "minProperties", "%s does not have enough properties", Repr(v))
	}
	if m, ok := intKeyword(s, "maxProperties"); ok && len(v) > m {
		return fail(path, v, "maxProperties", "%s has too many properties", Repr(v))
	}
	if deps, ok := s["dependencies"].(map[string]any); ok {
		for _, name := range sortedKeys(deps) {
			if _, present := v[name]; !present {
				continue
			}
			switch d := deps[name].(type) {
			case []any:
				for _, r := range d {
					other, _ := r.(string)
					if _, ok := v[other]; !ok {
						return fail(path, v, "dependencies", "%s is a dependency of %s", Repr(other), Repr(name))
					}
				}
			case map[string]any:
				if err := validate(d, v, path); err != nil {
					return err
				}
			}
		}
	}
	props, _ := s["properties"].(map[string]any)
	patternProps, _ := s["patternProperties"].(map[string]any)
	var extras []string
	for _, key := range sortedKeys(v) {
		val := v[key]
		matched := false
		if sub, ok := props[key].(map[string]any); ok {
			matched = true
			if err := validate(sub, val, append(path, key)); err != nil {
				return err
			}
		}
		for _, expr := range sortedKeys(patternProps) {
			re, err := pattern(expr)
			if err != nil {
				return fail(path, v, "patternProperties", "schema pattern %q does not compile: %v", expr, err)
			}
			if !re.MatchString(key) {
				continue
			}
			matched = true
			if sub, ok := patternProps[expr].(map[string]any); ok {
				if err := validate(sub, val, append(path, key)); err != nil {
					return err
				}
			}
		}
		if matched {
			continue
		}
		switch extra := s["additionalProperties"].(type) {
		case bool:
			if !extra {
				extras = append(extras, key)
			}
		case map[string]any:
			if err := validate(extra, val, append(path, key)); err != nil {
				return err
			}
		}
	}
	if len(extras) > 0 {
		quoted := make([]string, len(extras))
		for i, e := range extras {
			quoted[i] = Repr(e)
		}
		verb := "was"
		if len(extras) > 1 {
			verb = "were"
		}
		if len(patternProps) > 0 {
			return fail(path, v, "additionalProperties", "%s do not match any of the regexes: %s",
				strings.Join(quoted, ", "), joinRepr(sortedKeys(patternProps)))
		}
		return fail(path, v, "additionalProperties", "Additional properties are not allowed (%s %s unexpected)",
			strings.Join(quoted, ", "), verb)
	}
	return nil
}

func joinRepr(ss []string) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = Repr(s)
	}
	return strings.Join(out, ", ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func intKeyword(s Schema, kw string) (int, bool) {
	r, ok := toRat(s[kw])
	if !ok || !r.IsInt() || !r.Num().IsInt64() {
		return 0, false
	}
	return int(r.Num().Int64()), true
}

// typeMatches is draft 4's type check: "integer" is a number without a fraction
// or exponent as written (Python's int), "number" any number, never a boolean.
func typeMatches(t any, v any) bool {
	switch t := t.(type) {
	case string:
		return isType(t, v)
	case []any:
		for _, x := range t {
			if name, ok := x.(string); ok && isType(name, v) {
				return true
			}
		}
		return false
	}
	return true
}

func isType(name string, v any) bool {
	switch name {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	case "array":
		_, ok := v.([]any)
		return ok
	case "number":
		_, ok := toRat(v)
		return ok
	case "integer":
		switch x := v.(type) {
		case int, int64:
			return true
		case json.Number:
			return !strings.ContainsAny(string(x), ".eE")
		case float64:
			return false
		}
		return false
	case "any":
		return true
	}
	return false
}

// typeList is jsonschema's "'string', 'integer'": each type's repr, joined.
func typeList(t any) string {
	list, ok := t.([]any)
	if !ok {
		return Repr(t)
	}
	parts := make([]string, len(list))
	for i, x := range list {
		parts[i] = Repr(x)
	}
	return strings.Join(parts, ", ")
}

func toRat(v any) (*big.Rat, bool) {
	switch x := v.(type) {
	case json.Number:
		r, ok := new(big.Rat).SetString(string(x))
		return r, ok
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(x) == nil {
			return nil, false
		}
		return r, true
	case int:
		return new(big.Rat).SetInt64(int64(x)), true
	case int64:
		return new(big.Rat).SetInt64(x), true
	}
	return nil, false
}

// equal is JSON equality, numbers by value (1 == 1.0), as jsonschema's enum and
// uniqueItems compare. Like Python, True equals 1 nowhere here: booleans are not
// numbers in JSON.
func equal(a, b any) bool {
	if ra, ok := toRat(a); ok {
		rb, ok := toRat(b)
		return ok && ra.Cmp(rb) == 0
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}
