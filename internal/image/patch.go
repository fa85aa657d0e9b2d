package image

import (
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

const patchType = "application/openstack-images-v2.1-json-patch"

// patchImage applies Glance's JSON-patch dialect: add/replace/remove on top-level
// attributes and properties (add on an existing property replaces it, as v2.1 does).
func (s *Service) patchImage(r *http.Request) (httpapi.Response, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != patchType && mt != "application/openstack-images-v2.0-json-patch" {
		return httpapi.Response{}, httpapi.Errorf(http.StatusUnsupportedMediaType,
			"Unsupported Content-Type %q; use %s.", r.Header.Get("Content-Type"), patchType)
	}
	var ops []map[string]json.RawMessage
	if err := decodeJSON(r, &ops); err != nil {
		return httpapi.Response{}, err
	}
	changes := make([]patchChange, 0, len(ops))
	for _, raw := range ops {
		c, err := parsePatchOp(raw)
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

// patchChange is one operation of a patch: op on the attribute attr.
type patchChange struct {
	op, attr string
	value    any
	hasValue bool
}

func parsePatchOp(raw map[string]json.RawMessage) (patchChange, error) {
	var c patchChange
	var path string
	if err := json.Unmarshal(raw["op"], &c.op); err != nil {
		return c, httpapi.BadRequest("Unable to find 'op' in JSON Schema change")
	}
	if err := json.Unmarshal(raw["path"], &path); err != nil {
		return c, httpapi.BadRequest("Unable to find 'path' in JSON Schema change")
	}
	attr, ok := strings.CutPrefix(path, "/")
	if !ok || attr == "" || strings.Contains(attr, "/") {
		return c, httpapi.BadRequest("Invalid JSON pointer for this resource: '%s'", path)
	}
	c.attr = strings.NewReplacer("~1", "/", "~0", "~").Replace(attr)
	var rawValue json.RawMessage
	if rawValue, c.hasValue = raw["value"]; c.hasValue {
		if err := json.Unmarshal(rawValue, &c.value); err != nil {
			return c, httpapi.BadRequest("Invalid value in JSON Schema change")
		}
	}
	switch c.op {
	case "add", "replace":
		if !c.hasValue {
			return c, httpapi.BadRequest("Unable to find 'value' in JSON Schema change")
		}
	case "remove":
	default:
		return c, httpapi.BadRequest("Invalid operation: `%s`: Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.", c.op)
	}
	return c, nil
}

// applyPatch applies one operation to im; what it may do depends on im as stored
// (its properties, its status), so it runs inside the transaction that saves.
func (s *Service) applyPatch(r *http.Request, im *imageRow, c patchChange) error {
	attr := c.attr
	switch c.op {
	case "add", "replace":
		if c.op == "replace" && !isCore(attr) {
			if _, ok := im.Properties[attr]; !ok && !contains(readOnly, attr) && !contains(reserved, attr) {
				return httpapi.Conflict("Property %s does not exist.", attr)
			}
		}
		if c.value == nil && !isCore(attr) {
			return httpapi.BadRequest("Invalid value for '%s': null is not of type 'string'.", attr)
		}
		return s.setAttr(r, im, attr, c.value, false)
	default: // remove
		if contains(readOnly, attr) || contains(reserved, attr) {
			return s.setAttr(r, im, attr, nil, false)
		}
		if isCore(attr) {
			return httpapi.Forbidden("Properties %s must not be removed.", attr)
		}
		if _, ok := im.Properties[attr]; !ok {
			return httpapi.Conflict("Property %s does not exist.", attr)
		}
		delete(im.Properties, attr)
		return nil
	}
}

func isCore(attr string) bool {
	return slices.Contains([]string{"name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "tags",
		"disk_format", "container_format", "owner"}, attr)
}
