package identity

import (
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// apiVersion is the Keystone API version Nimbus implements.
const apiVersion = "v3.14"

func (s *Service) discoveryRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/{$}", Public: true, Handler: s.versions,
			Schemas: answering(http.StatusMultipleChoices, versionsResponse)},
		{Method: "GET", Path: "/v3", Public: true, Handler: s.version, Schemas: okBody(versionResponse)},
		{Method: "GET", Path: "/v3/{$}", Public: true, Handler: s.version, Schemas: okBody(versionResponse)},
	}
}

func (s *Service) versionDoc() httpapi.VersionDoc {
	return httpapi.VersionDoc{
		ID: apiVersion, Status: "stable", Updated: "2020-04-07T00:00:00Z",
		Links: []httpapi.Link{{Rel: "self", Href: s.publicURL + "/v3/"}},
		MediaTypes: []httpapi.MediaType{{Base: "application/json",
			Type: "application/vnd.openstack.identity-v3+json"}},
	}
}

// versions answers GET / with 300 Multiple Choices, as upstream.
func (s *Service) versions(*http.Request) (httpapi.Response, error) {
	return httpapi.JSON(http.StatusMultipleChoices,
		map[string]any{"versions": map[string]any{"values": []httpapi.VersionDoc{s.versionDoc()}}}), nil
}

func (s *Service) version(*http.Request) (httpapi.Response, error) {
	return httpapi.OK(map[string]any{"version": s.versionDoc()}), nil
}
