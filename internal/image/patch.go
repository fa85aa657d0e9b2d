package image

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

// Glance's two JSON-patch media types (glance/api/v2/images.py
// RequestDeserializer.update): the original one, whose operations name their op
// as the key ({"replace": "/name", "value": ...}, JSON Schema draft 4's form), and
// v2.1's RFC 6902 form ({"op": "replace", "path": "/name", "value": ...}).
const (
	patchType    = "application/openstack-images-v2.1-json-patch"
	patchTypeV20 = "application/openstack-images-v2.0-json-patch"
)

// patchOps are the operations upstream supports, in its order (its messages list them so).
var patchOps = []string{"add", "remove", "replace"}

// patchImage applies Glance's JSON-patch dialect: add/replace/remove on top-level
// attributes and properties. Every operation is parsed and validated first, as
// upstream's deserializer does, then all are applied in one transaction.
func (s *Service) patchImage(r *http.Request) (httpapi.Response, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != patchType && mt != patchTypeV20 {
		err := httpapi.Errorf(http.StatusUnsupportedMediaType,
			"Image PATCH expects Content-Type one of: %s, %s", patchTypeV20, patchType)
		err.Header = http.Header{"Accept-Patch": {patchTypeV20 + ", " + patchType}}
		return httpapi.Response{}, err
	}
	doc, err := decodeDocument(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	ops, ok := doc.([]any)
	if !ok {
		return httpapi.Response{}, httpapi.BadRequest("Request body must be a JSON array of operation objects.")
	}
	changes := make([]patchChange, 0, len(ops))
	for _, op := range ops {
		raw, ok := op.(map[string]any)
		if !ok {
			return httpapi.Response{}, httpapi.BadRequest("Operations must be JSON objects.")
		}
		c, err := parsePatchOp(raw, mt == patchTypeV20)
		if err != nil {
			return httpapi.Response{}, err
		}
		changes = append(changes, c)
	}
	im, err := s.changeImage(r.Context(), r.PathValue("image_id"), func(im *imageRow) error {
		for _, c := range changes {
			if err := s.applyPatch(r, im, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(imageJSON(im)), nil
}

// decodeDocument reads a JSON request body as jsonschema.Decode does (numbers
// stay json.Number, so integers are told from numbers as upstream's schemas do).
func decodeDocument(r *http.Request) (any, error) {
	var raw json.RawMessage
	if err := decodeJSON(r, &raw); err != nil {
		return nil, err
	}
	doc, err := jsonschema.Decode(raw)
	if err != nil {
		return nil, httpapi.BadRequest("Malformed JSON in request body.")
	}
	return doc, nil
}

// patchChange is one operation of a patch: op on the attribute attr; draft4 is
// the original media type's (add on an existing attribute is then a conflict).
type patchChange struct {
	op, attr string
	value    any
	draft4   bool
}

func parsePatchOp(raw map[string]any, draft4 bool) (patchChange, error) {
	c := patchChange{draft4: draft4}
	var pathValue any
	if draft4 {
		for _, op := range patchOps {
			if _, ok := raw[op]; ok {
				if c.op != "" {
					return c, httpapi.BadRequest(`Operation objects must contain only one member named "add", "remove", or "replace".`)
				}
				c.op, pathValue = op, raw[op]
			}
		}
		if c.op == "" {
			return c, httpapi.BadRequest(`Operation objects must contain exactly one member named "add", "remove", or "replace".`)
		}
	} else {
		op, ok := raw["op"]
		if !ok || op == nil {
			return c, httpapi.BadRequest("Unable to find `op` in JSON Schema change. It must be one of the following: %s.",
				strings.Join(patchOps, ", "))
		}
		if c.op, _ = op.(string); !slices.Contains(patchOps, c.op) {
			return c, httpapi.BadRequest("Invalid operation: `%s`. It must be one of the following: %s.",
				pyStr(op), strings.Join(patchOps, ", "))
		}
		if pathValue, ok = raw["path"]; !ok {
			return c, httpapi.BadRequest("Unable to find 'path' in JSON Schema change")
		}
	}
	pointer, ok := pathValue.(string)
	if !ok {
		return c, httpapi.BadRequest("Pointer `%s` does not start with \"/\".", pyStr(pathValue))
	}
	path, err := decodePointer(pointer)
	if err != nil {
		return c, err
	}
	// only locations have deeper paths upstream, and Nimbus has no locations
	if len(path) != 1 {
		return c, httpapi.BadRequest("Invalid JSON pointer for this resource: '/%s'", strings.Join(path, "/"))
	}
	c.attr = path[0]
	if c.op != "remove" {
		if c.value, ok = raw["value"]; !ok {
			return c, httpapi.BadRequest(`Operation "%s" requires a member named "value".`, c.op)
		}
	}
	return c, validateChange(c)
}

var (
	adjacentSlashes = regexp.MustCompile(`/\s*?/`)
	badEscape       = regexp.MustCompile(`~[^01]`)
)

// decodePointer is upstream's _decode_json_pointer: the limited JSON pointers
// Glance accepts, each part unescaped and stripped of white space.
func decodePointer(pointer string) ([]string, error) {
	switch {
	case !strings.HasPrefix(pointer, "/"):
		return nil, httpapi.BadRequest("Pointer `%s` does not start with \"/\".", pointer)
	case adjacentSlashes.MatchString(pointer[1:]):
		return nil, httpapi.BadRequest("Pointer `%s` contains adjacent \"/\".", pointer)
	case len(pointer) > 1 && strings.HasSuffix(pointer, "/"):
		return nil, httpapi.BadRequest("Pointer `%s` end with \"/\".", pointer)
	case strings.TrimSpace(pointer[1:]) == "/":
		return nil, httpapi.BadRequest("Pointer `%s` does not contains valid token.", pointer)
	case badEscape.MatchString(pointer) || strings.HasSuffix(pointer, "~"):
		return nil, httpapi.BadRequest("Pointer `%s` contains \"~\" not part of a recognized escape sequence.", pointer)
	}
	var parts []string
	for _, part := range strings.Split(strings.TrimLeft(pointer, "/"), "/") {
		parts = append(parts, strings.TrimSpace(strings.NewReplacer("~1", "/", "~0", "~").Replace(part)))
	}
	return parts, nil
}

// validateChange is upstream's _validate_change: read-only and reserved
// attributes are refused (403) whatever the operation, and a value must fit the
// image schema (400).
func validateChange(c patchChange) error {
	if err := checkWritable(c.attr); err != nil {
		return err
	}
	if c.op == "remove" {
		return nil
	}
	return validateImageDocument(map[string]any{c.attr: c.value})
}

// applyPatch applies one operation to im; what it may do depends on im as stored
// (its properties, its status), so it runs inside the transaction that saves
// (upstream's ImagesController _do_add, _do_replace, _do_remove).
func (s *Service) applyPatch(r *http.Request, im *imageRow, c patchChange) error {
	attr := c.attr
	_, isProperty := im.Properties[attr]
	switch c.op {
	case "replace":
		if attr == "owner" && !s.caller(r).admin {
			return httpapi.Forbidden("Owner can't be updated by non admin.")
		}
		if !isCore(attr) && !isProperty {
			return httpapi.Conflict("Property %s does not exist.", attr)
		}
		return s.setAttr(r, im, attr, plainJSON(c.value), false)
	case "add":
		if c.draft4 && (isCore(attr) || isProperty) {
			return httpapi.Conflict("Property %s already present.", attr)
		}
		return s.setAttr(r, im, attr, plainJSON(c.value), false)
	default: // remove
		if isCore(attr) {
			return httpapi.Forbidden("Property %s may not be removed.", attr)
		}
		if !isProperty {
			return httpapi.Conflict("Property %s does not exist.", attr)
		}
		delete(im.Properties, attr)
		return nil
	}
}

// isCore reports whether attr is an attribute of upstream's Image domain object
// (hasattr(image, attr)), as opposed to a free-form property.
func isCore(attr string) bool {
	return slices.Contains([]string{"name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "tags",
		"disk_format", "container_format", "owner", "id", "status", "size", "virtual_size", "checksum",
		"os_hash_algo", "os_hash_value", "created_at", "updated_at", "locations"}, attr)
}

// plainJSON turns the json.Numbers of a decoded document into float64, the
// representation setAttr reads.
func plainJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return x.String()
		}
		return f
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plainJSON(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = plainJSON(e)
		}
		return out
	}
	return v
}

// pyStr renders a JSON value as Python's str() would in upstream's messages.
func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if v == nil {
		return "None"
	}
	return fmt.Sprint(jsonschema.Repr(v))
}
