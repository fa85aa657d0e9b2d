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
	im, err := s.loadVisible(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	var ops []map[string]json.RawMessage
	if err := decodeJSON(r, &ops); err != nil {
		return httpapi.Response{}, err
	}
	for _, raw := range ops {
		var op, path string
		if err := json.Unmarshal(raw["op"], &op); err != nil {
			return httpapi.Response{}, httpapi.BadRequest("Unable to find 'op' in JSON Schema change")
		}
		if err := json.Unmarshal(raw["path"], &path); err != nil {
			return httpapi.Response{}, httpapi.BadRequest("Unable to find 'path' in JSON Schema change")
		}
		attr, ok := strings.CutPrefix(path, "/")
		if !ok || attr == "" || strings.Contains(attr, "/") {
			return httpapi.Response{}, httpapi.BadRequest("Invalid JSON pointer for this resource: '%s'", path)
		}
		attr = strings.NewReplacer("~1", "/", "~0", "~").Replace(attr)
		var value any
		rawValue, hasValue := raw["value"]
		if hasValue {
			if err := json.Unmarshal(rawValue, &value); err != nil {
				return httpapi.Response{}, httpapi.BadRequest("Invalid value in JSON Schema change")
			}
		}
		switch op {
		case "add", "replace":
			if !hasValue {
				return httpapi.Response{}, httpapi.BadRequest("Unable to find 'value' in JSON Schema change")
			}
			if op == "replace" && !isCore(attr) {
				if _, ok := im.Properties[attr]; !ok && !contains(readOnly, attr) && !contains(reserved, attr) {
					return httpapi.Response{}, httpapi.Conflict("Property %s does not exist.", attr)
				}
			}
			if value == nil && !isCore(attr) {
				return httpapi.Response{}, httpapi.BadRequest("Invalid value for '%s': null is not of type 'string'.", attr)
			}
			if err := s.setAttr(r, im, attr, value, false); err != nil {
				return httpapi.Response{}, err
			}
		case "remove":
			if contains(readOnly, attr) || contains(reserved, attr) {
				return httpapi.Response{}, s.setAttr(r, im, attr, nil, false)
			}
			if isCore(attr) {
				return httpapi.Response{}, httpapi.Forbidden("Properties %s must not be removed.", attr)
			}
			if _, ok := im.Properties[attr]; !ok {
				return httpapi.Response{}, httpapi.Conflict("Property %s does not exist.", attr)
			}
			delete(im.Properties, attr)
		default:
			return httpapi.Response{}, httpapi.BadRequest("Invalid operation: `%s`: Unable to find `op` in JSON Schema change. It must be one of the following: add, remove, replace.", op)
		}
	}
	if err := s.saveImage(r.Context(), s.db, im); err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.OK(imageJSON(im)), nil
}

func isCore(attr string) bool {
	return slices.Contains([]string{"name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "tags",
		"disk_format", "container_format", "owner"}, attr)
}
