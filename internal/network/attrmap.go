package network

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// attribute is one entry of a resource's attribute map, as neutron-lib's
// RESOURCE_ATTRIBUTE_MAP declares it: whether a create (post) or an update (put)
// may set it, whether a create must (required: no default), the converter run
// first (convert_to) and the validator run on what it returns. Converters fail
// with upstream's InvalidInput; a validator returns upstream's reason, which the
// API wraps as neutron's controller does ("Invalid input for <attr>. Reason: ...").
type attribute struct {
	name      string
	post, put bool
	required  bool
	convert   func(v any) (any, error)
	validate  func(v any) string
	// check is a validator upstream lets raise its own exceptions as well as
	// return a reason (allowed address pairs), or one that converts nested
	// values (external_gateway_info's enable_snat).
	check func(v any) (string, error)
}

// attributeMap is a resource's attributes in upstream's order (validation stops at
// the first failure, so the order decides which error a bad body gets).
type attributeMap []attribute

// Neutron's field sizes (neutron_lib/db/constants.py).
const (
	nameFieldSize            = 255
	descriptionFieldSize     = 255
	longDescriptionFieldSize = 1024
	projectIDFieldSize       = 255
)

// The attributes every standard-attribute resource shares.
func standardAttributes(descriptionSize int) attributeMap {
	return attributeMap{
		{name: "description", post: true, put: true, validate: validString(descriptionSize)},
		{name: "project_id", post: true, validate: validString(projectIDFieldSize)},
		{name: "tenant_id", post: true, validate: validString(projectIDFieldSize)},
	}
}

// readOnly are attributes of the map no request sets (allow_post and allow_put
// False): naming one is "not allowed in POST" or "Cannot update read-only
// attribute", not an unrecognized attribute.
func readOnly(names ...string) attributeMap {
	out := make(attributeMap, 0, len(names))
	for _, n := range names {
		out = append(out, attribute{name: n})
	}
	return out
}

// tagsOnCreate is the tags attribute the tagging extension gives the taggable
// resources but ports (neutron/extensions/tagging.py's TAG_ATTRIBUTE_MAP):
// shown, never set by a create or an update ("Attribute 'tags' not allowed in
// POST"); the tag routes set them. Ports take tags on create
// (TAG_ATTRIBUTE_MAP_PORTS, in portAttributeMap).
var tagsOnCreate = attribute{name: "tags"}

// parseBody decodes {"<member>": {...}} and checks it against the attribute map as
// neutron's controller does (neutron/api/v2/base.py prepare_request_body): unknown
// attributes, attributes a create or an update may not set, required ones missing,
// then each value converted and validated. It returns the converted attributes.
func parseBody(r *http.Request, member string, attrs attributeMap, creating bool) (map[string]any, error) {
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return nil, badRequest("%s", err.Error())
	}
	raw, ok := body[member]
	if !ok {
		return nil, badRequest("Unable to find '%s' in request body", member)
	}
	var values map[string]any
	if err := json.Unmarshal(raw, &values); err != nil || values == nil {
		return nil, badRequest("Invalid format for %s: the body must be an object", member)
	}
	return attrs.check(values, creating)
}

// check is parseBody's work on decoded values.
func (attrs attributeMap) check(values map[string]any, creating bool) (map[string]any, error) {
	var unknown []string
	for k := range values {
		if !slices.ContainsFunc(attrs, func(a attribute) bool { return a.name == k }) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return nil, badRequest("Unrecognized attribute(s) '%s'", strings.Join(unknown, ", "))
	}
	for _, a := range attrs {
		_, set := values[a.name]
		switch {
		case creating && set && !a.post:
			return nil, badRequest("Attribute '%s' not allowed in POST", a.name)
		case creating && !set && a.required:
			return nil, badRequest("Failed to parse request. Required attribute '%s' not specified", a.name)
		case !creating && set && !a.put:
			return nil, badRequest("Cannot update read-only attribute %s", a.name)
		}
	}
	out := make(map[string]any, len(values))
	for _, a := range attrs {
		v, set := values[a.name]
		if !set {
			continue
		}
		if a.convert != nil {
			var err error
			if v, err = a.convert(v); err != nil {
				return nil, err
			}
		}
		reason := ""
		if a.validate != nil {
			reason = a.validate(v)
		}
		if a.check != nil && reason == "" {
			var err error
			if reason, err = a.check(v); err != nil {
				return nil, err
			}
		}
		if reason != "" {
			return nil, badRequest("Invalid input for %s. Reason: %s.", a.name, reason)
		}
		out[a.name] = v
	}
	return out, nil
}

// pyStr is a value as Python's "%s" prints it in upstream's messages.
func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		// Bodies decode numbers as float64; Python's JSON reads 167772161 as an
		// int, printed whole (Repr's shortest float form would say 1.67772161e+08).
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return strconv.FormatInt(int64(x), 10)
		}
	}
	return jsonschema.Repr(v)
}

// Converters (neutron_lib/api/converters.py).

// toBoolean is convert_to_boolean: oslo's bool_from_string(strict=True).
func toBoolean(v any) (any, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case float64:
		if b == 1 || b == 0 {
			return b == 1, nil
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "1", "t", "true", "on", "y", "yes":
			return true, nil
		case "0", "f", "false", "off", "n", "no":
			return false, nil
		}
	}
	return nil, invalidInput("'%s' cannot be converted to boolean", pyStr(v))
}

// toInt is convert_to_int: Python's int() of a number or a numeric string.
func toInt(v any) (any, error) {
	switch n := v.(type) {
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int(n), nil
		}
		return int(math.Trunc(n)), nil // int(2.5) is 2
	case bool:
		if n {
			return 1, nil
		}
		return 0, nil
	case string:
		if i, err := strconv.Atoi(strings.TrimSpace(n)); err == nil {
			return i, nil
		}
	}
	return nil, invalidInput("'%s' is not an integer", pyStr(v))
}

// toIntOrNone is convert_to_int_if_not_none.
func toIntOrNone(v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	return toInt(v)
}

// noneToEmptyList is convert_none_to_empty_list.
func noneToEmptyList(v any) (any, error) {
	if v == nil {
		return []any{}, nil
	}
	return v, nil
}

// Validators (neutron_lib/api/validators): each returns upstream's reason or "".

func validString(max int) func(any) string {
	return func(v any) string {
		s, ok := v.(string)
		if !ok {
			return fmt.Sprintf("'%s' is not a valid string", pyStr(v))
		}
		if max > 0 && len([]rune(s)) > max {
			return fmt.Sprintf("'%s' exceeds maximum length of %d", s, max)
		}
		return ""
	}
}

func validStringOrNone(max int) func(any) string {
	return func(v any) string {
		if v == nil {
			return ""
		}
		return validString(max)(v)
	}
}

// validNotEmptyString is not_empty_string / not_empty_name_string.
func validNotEmptyString(max int) func(any) string {
	return func(v any) string {
		if msg := validString(max)(v); msg != "" {
			return msg
		}
		if strings.TrimSpace(v.(string)) == "" {
			return fmt.Sprintf("'%s' Blank strings are not permitted", v)
		}
		return ""
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

func validUUID(v any) string {
	if s, ok := v.(string); ok && uuidPattern.MatchString(s) {
		return ""
	}
	return fmt.Sprintf("'%s' is not a valid UUID", pyStr(v))
}

func validUUIDOrNone(v any) string {
	if v == nil {
		return ""
	}
	return validUUID(v)
}

// validValues is type:values. The attribute map passes validate_values no
// valid_values_display, so upstream's message names "valid_values" itself.
func validValues(valid ...any) func(any) string {
	return func(v any) string {
		if slices.Contains(valid, v) {
			return ""
		}
		return fmt.Sprintf("%s is not in valid_values", pyStr(v))
	}
}

func validNonNegative(v any) string {
	n, ok := v.(int)
	if !ok {
		return fmt.Sprintf("'%s' is not an integer", pyStr(v))
	}
	if n < 0 {
		return fmt.Sprintf("'%d' should be non-negative", n)
	}
	return ""
}

// validSubnet is type:subnet: an address with a prefix length. Upstream (netaddr)
// accepts host bits in an IPv4 CIDR ("10.0.0.1/8"); who stores it masks them.
func validSubnet(v any) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprintf("'%s' is not a valid IP subnet", pyStr(v))
	}
	if _, err := netip.ParsePrefix(s); err != nil || strings.TrimSpace(s) != s {
		return fmt.Sprintf("'%s' is not a valid IP subnet", s)
	}
	return ""
}

// validSubnetList is type:subnet_list: a list without duplicates, then each a
// CIDR (neutron-lib's _validate_list_of_items).
func validSubnetList(v any) string {
	list, ok := v.([]any)
	if !ok {
		return fmt.Sprintf("'%s' is not a list", pyStr(v))
	}
	seen := map[string]bool{}
	var dups []string
	for _, e := range list {
		key := pyStr(e)
		if seen[key] && !slices.Contains(dups, key) {
			dups = append(dups, key)
		}
		seen[key] = true
	}
	if len(dups) > 0 {
		return fmt.Sprintf("Duplicate items in the list: '%s'", strings.Join(dups, ", "))
	}
	for _, e := range list {
		if msg := validSubnet(e); msg != "" {
			return msg
		}
	}
	return ""
}

// stringList reads a validated list of strings.
func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
