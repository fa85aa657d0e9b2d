package image

import (
	"fmt"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
	"github.com/nimbus-cloud/nimbus/internal/platform/jsonschema"
)

func (s *Service) discoveryRoutes() []httpapi.Route {
	routes := []httpapi.Route{
		{Method: "GET", Path: "/{$}", Public: true, Handler: s.versions,
			Schemas: answers(map[int]jsonschema.Schema{http.StatusMultipleChoices: versionsResponse})},
		{Method: "GET", Path: "/versions", Public: true, Handler: s.versionsOK,
			Schemas: answers(map[int]jsonschema.Schema{http.StatusOK: versionsResponse})},
		// upstream's default is the string "true" (glance/api/v2/discovery.py)
		{Method: "GET", Path: "/v2/info/stores", Handler: static(map[string]any{
			"stores": []any{map[string]any{"id": storeID(s.store), "default": "true", "description": storeDescription(s.store)}}}),
			Schemas: answers(map[int]jsonschema.Schema{http.StatusOK: storesResponse})},
		{Method: "GET", Path: "/v2/info/import", Handler: static(map[string]any{"import-methods": map[string]any{
			"description": "Import methods available.", "type": "array", "value": importMethods}}),
			Schemas: answers(map[int]jsonschema.Schema{http.StatusOK: importInfoResponse})},
	}
	for _, name := range served {
		routes = append(routes, httpapi.Route{Method: "GET", Path: "/v2/schemas/" + name,
			Handler: static(loadSchema(schemaFile(name))), Schemas: answers(map[int]jsonschema.Schema{http.StatusOK: schemaDocument})})
	}
	return routes
}

// importMethods are the import methods Nimbus offers (upstream's default
// enabled_import_methods): GET /v2/info/import lists them, and so does the
// OpenStack-image-import-methods header of each image created.
var importMethods = []string{"glance-direct", "web-download"}

func static(body any) httpapi.Handler {
	return func(*http.Request) (httpapi.Response, error) { return httpapi.OK(body), nil }
}

// versionList is upstream's list: v2.0 to v2.16, the newest CURRENT.
func versionList(r *http.Request) map[string]any {
	base := "http://" + r.Host
	var out []any
	for minor := 16; minor >= 0; minor-- {
		status := "SUPPORTED"
		if minor == 16 {
			status = "CURRENT"
		}
		out = append(out, map[string]any{"id": fmt.Sprintf("v2.%d", minor), "status": status,
			"links": []any{map[string]any{"rel": "self", "href": base + "/v2/"}}})
	}
	return map[string]any{"versions": out}
}

// versions answers GET / with 300 Multiple Choices, as upstream.
func (s *Service) versions(r *http.Request) (httpapi.Response, error) {
	return httpapi.JSON(http.StatusMultipleChoices, versionList(r)), nil
}

func (s *Service) versionsOK(r *http.Request) (httpapi.Response, error) {
	return httpapi.OK(versionList(r)), nil
}
