package identity

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Upstream sentinels.
const (
	rootDomainID  = "<<keystone.domain.root>>" // domain_id of every domain row
	nullDomainID  = "<<null>>"                 // domain_id of global roles
	defaultDomain = "default"
	systemTarget  = "system"
)

// newID returns a Keystone-style id: a uuid4 as 32 hex digits.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// timeFormat is Keystone's: microseconds and a Z.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// parseTime accepts the ISO 8601 forms clients send for expires_at.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999Z", "2006-01-02T15:04:05.999999",
		"2006-01-02T15:04:05", "2006-01-02T15:04:05Z0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid time %q", s)
}

func notFound(kind, id string) error {
	return httpapi.NotFound("Could not find %s: %s.", kind, id)
}

func conflict(kind, field, value string) error {
	return httpapi.Conflict("Conflict occurred attempting to store %s - Duplicate entry found with %s %s.", kind, field, value)
}

func invalid(format string, args ...any) error {
	return httpapi.BadRequest("Invalid input for field '%s'", fmt.Sprintf(format, args...))
}

// selfURL builds the links.self of a resource.
func (s *Service) selfURL(path string) string { return s.publicURL + path }

func (s *Service) links(path string) map[string]any {
	return map[string]any{"self": s.selfURL(path)}
}

// collectionLinks is the links object of a list answer.
func (s *Service) collectionLinks(r *http.Request) map[string]any {
	return map[string]any{"self": s.selfURL(r.URL.Path), "previous": nil, "next": nil}
}

// decodeEnvelope reads {"<key>": {...}} into a generic map, rejecting a missing or
// non-object envelope with 400.
func decodeEnvelope(r *http.Request, key string) (map[string]any, error) {
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	raw, ok := body[key]
	if !ok {
		return nil, httpapi.BadRequest("'%s' is a required property", key)
	}
	var obj map[string]any
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, httpapi.BadRequest("Invalid input for field '%s': expected an object.", key)
	}
	return obj, nil
}

// normalizeBooleans turns the values Keystone's permissive boolean parameter type
// allowed (paramPermissiveBoolean, which the route's schema checked) into JSON
// booleans, as bool_from_string reads them; null is as if not given. A null
// description is the empty one.
func normalizeBooleans(obj map[string]any, names ...string) {
	if d, has := obj["description"]; has && d == nil {
		obj["description"] = "" // nullable in the schemas; stored as upstream's default
	}
	for _, name := range names {
		switch v := obj[name].(type) {
		case string:
			obj[name] = permissiveBool(v)
		case nil:
			delete(obj, name)
		}
	}
}

// fields reads typed attributes out of a decoded request object with upstream's
// schema errors, collecting unknown attributes as "extra" as Keystone does.
type fields struct {
	m   map[string]any
	err error
}

func (f *fields) fail(name, want string) {
	if f.err == nil {
		f.err = httpapi.BadRequest("Invalid input for field '%s': expected %s.", name, want)
	}
}

// String returns the string attribute name; present reports whether it was given.
func (f *fields) String(name string, maxLen int) (v string, present bool) {
	raw, ok := f.m[name]
	if !ok {
		return "", false
	}
	delete(f.m, name)
	s, isStr := raw.(string)
	if !isStr {
		f.fail(name, "a string")
		return "", true
	}
	if maxLen > 0 && len(s) > maxLen {
		f.fail(name, fmt.Sprintf("at most %d characters", maxLen))
	}
	return s, true
}

// NullableString accepts a string or null.
func (f *fields) NullableString(name string) (v *string, present bool) {
	raw, ok := f.m[name]
	if !ok {
		return nil, false
	}
	delete(f.m, name)
	if raw == nil {
		return nil, true
	}
	s, isStr := raw.(string)
	if !isStr {
		f.fail(name, "a string or null")
		return nil, true
	}
	return &s, true
}

// Name is a required non-blank string when required, trimmed-length checked.
func (f *fields) Name(name string, required bool) (string, bool) {
	v, present := f.String(name, 255)
	if f.err == nil && ((required && !present) || (present && strings.TrimSpace(v) == "")) {
		if !present {
			f.err = httpapi.BadRequest("'%s' is a required property", name)
		} else {
			f.fail(name, "a non-empty string")
		}
	}
	return v, present
}

func (f *fields) Bool(name string) (v bool, present bool) {
	raw, ok := f.m[name]
	if !ok {
		return false, false
	}
	delete(f.m, name)
	b, isBool := raw.(bool)
	if !isBool {
		f.fail(name, "a boolean")
	}
	return b, true
}

func (f *fields) Object(name string) (map[string]any, bool) {
	raw, ok := f.m[name]
	if !ok {
		return nil, false
	}
	delete(f.m, name)
	if raw == nil {
		return nil, true
	}
	o, isObj := raw.(map[string]any)
	if !isObj {
		f.fail(name, "an object")
	}
	return o, true
}

func (f *fields) StringList(name string) ([]string, bool) {
	raw, ok := f.m[name]
	if !ok {
		return nil, false
	}
	delete(f.m, name)
	list, isList := raw.([]any)
	if !isList {
		f.fail(name, "an array of strings")
		return nil, true
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, isStr := x.(string)
		if !isStr {
			f.fail(name, "an array of strings")
			return nil, true
		}
		out = append(out, s)
	}
	return out, true
}

// Drop removes read-only attributes clients echo back (id, links).
func (f *fields) Drop(names ...string) {
	for _, n := range names {
		delete(f.m, n)
	}
}

// Extra returns the remaining attributes, which Keystone stores and returns verbatim.
func (f *fields) Extra() map[string]any { return f.m }

func marshalJSON(v any) string {
	if v == nil {
		return "{}"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func unmarshalObject(s string) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal([]byte(s), &m)
	if m == nil { // "null"
		m = map[string]any{}
	}
	return m
}

// mergeExtra copies the stored extra attributes under the fixed ones of a rendering.
func mergeExtra(dst map[string]any, extra string) map[string]any {
	for k, v := range unmarshalObject(extra) {
		if _, fixed := dst[k]; !fixed {
			dst[k] = v
		}
	}
	return dst
}

// extraMerged adds more to the stored extra attributes, replacing those it repeats.
func extraMerged(extra string, more map[string]any) string {
	m := unmarshalObject(extra)
	for k, v := range more {
		m[k] = v
	}
	return marshalJSON(m)
}

// queryBool parses a boolean query filter the way Keystone does ("0", "false" → false).
func queryBool(v string) bool {
	switch strings.ToLower(v) {
	case "0", "false", "no", "off", "":
		return false
	}
	return true
}

// pathParam returns a path segment, unescaped.
func pathParam(r *http.Request, name string) string {
	v := r.PathValue(name)
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// requireSameID refuses an "id" in an update body that is not the resource's own.
func (f *fields) requireSameID(id, kind string) {
	v, present := f.String("id", 0)
	if present && f.err == nil && v != id {
		f.err = httpapi.BadRequest("Cannot change %s ID", kind)
	}
}

// requireSameDomain refuses moving a user or group to another domain.
func (f *fields) requireSameDomain(domainID string) {
	v, present := f.NullableString("domain_id")
	if present && f.err == nil && (v == nil || *v != domainID) {
		f.err = httpapi.BadRequest("Cannot change Domain ID")
	}
}

// requireSomeProperty answers 400 for an empty update object (upstream's schema has
// minProperties: 1).
func requireSomeProperty(obj map[string]any, key string) error {
	if len(obj) == 0 {
		return httpapi.BadRequest("Invalid input for field '%s': {} does not have enough properties.", key)
	}
	return nil
}
