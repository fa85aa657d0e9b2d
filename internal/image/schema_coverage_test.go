package image

import (
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi/httpapitest"
)

// TestSchemaCoverage holds every route the image API mounts to having its
// response schemas (with Glance's statuses) and, where it takes a body, a
// request schema, but for the bodies Glance validates without one at the
// route: its deserializers check them in code, some against the served schemas
// after checks of their own (403 for read-only attributes, 400 for a body that
// is not an object), so the handlers do the same in that order
// (request_validation_test.go holds the messages).
func TestSchemaCoverage(t *testing.T) {
	deserializer := func(file string) string { return "Glance validates in its deserializer: " + file }
	exceptions := map[string]string{
		"POST /v2/images: no request schema":                                        deserializer("glance/api/v2/images.py RequestDeserializer.create"),
		"PATCH /v2/images/{image_id}: no request schema":                            deserializer("glance/api/v2/images.py RequestDeserializer.update (JSON-patch)"),
		"POST /v2/images/{image_id}/import: no request schema":                      deserializer("glance/api/v2/images.py _validate_import_body"),
		"POST /v2/images/{image_id}/members: no request schema":                     deserializer("glance/api/v2/image_members.py RequestDeserializer.create"),
		"PUT /v2/images/{image_id}/members/{member_id}: no request schema":          deserializer("glance/api/v2/image_members.py RequestDeserializer.update"),
		"POST /v2/tasks: no request schema":                                         deserializer("glance/api/v2/tasks.py RequestDeserializer.create"),
		"POST /v2/metadefs/namespaces: no request schema":                           deserializer("glance/api/v2/metadef_namespaces.py RequestDeserializer.create"),
		"PUT /v2/metadefs/namespaces/{namespace}: no request schema":                deserializer("glance/api/v2/metadef_namespaces.py RequestDeserializer.update"),
		"POST /v2/metadefs/namespaces/{namespace}/objects: no request schema":       deserializer("glance/api/v2/metadef_objects.py RequestDeserializer.create"),
		"PUT /v2/metadefs/namespaces/{namespace}/objects/{name}: no request schema": deserializer("glance/api/v2/metadef_objects.py RequestDeserializer.update"),
		"POST /v2/metadefs/namespaces/{namespace}/properties: no request schema":    deserializer("glance/api/v2/metadef_properties.py RequestDeserializer.create"),
		"PUT /v2/metadefs/namespaces/{namespace}/properties/{name}: no request schema": deserializer(
			"glance/api/v2/metadef_properties.py RequestDeserializer.update"),
		"POST /v2/metadefs/namespaces/{namespace}/tags: no request schema":           deserializer("glance/api/v2/metadef_tags.py RequestDeserializer.create_tags"),
		"PUT /v2/metadefs/namespaces/{namespace}/tags/{name}: no request schema":     deserializer("glance/api/v2/metadef_tags.py RequestDeserializer.update"),
		"POST /v2/metadefs/namespaces/{namespace}/resource_types: no request schema": deserializer("glance/api/v2/metadef_resource_types.py RequestDeserializer.create"),

		"PUT /v2/images/{image_id}/tags/{tag}: no request schema":                 "Glance reads no body: the tag is the path's (glance/api/v2/image_tags.py update)",
		"POST /v2/metadefs/namespaces/{namespace}/tags/{name}: no request schema": "Glance reads no body: the tag is the path's (glance/api/v2/metadef_tags.py create)",
		"POST /v2/images/{image_id}/actions/deactivate: no request schema":        "Glance reads no body (glance/api/v2/image_actions.py deactivate)",
		"POST /v2/images/{image_id}/actions/reactivate: no request schema":        "Glance reads no body (glance/api/v2/image_actions.py reactivate)",
		"PUT /v2/images/{image_id}/file: no request schema":                       "the body is the image's data (glance/api/v2/image_data.py upload)",
		"PUT /v2/images/{image_id}/stage: no request schema":                      "the body is the image's data (glance/api/v2/image_data.py stage)",
	}
	httpapitest.CheckSchemaCoverage(t, (&Service{}).routes(), exceptions)
}
