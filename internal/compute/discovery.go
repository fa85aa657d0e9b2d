package compute

import (
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// microversions is the compute API's range: the highest is the last whose every
// change this service implements (versions for features Nimbus lacks leave the
// API as it is, as docs/compute.md lists).
var microversions = httpapi.Microversions{
	Service:      "compute",
	LegacyHeader: "X-OpenStack-Nova-API-Version",
	Min:          httpapi.Version{Major: 2, Minor: 1},
	Max:          httpapi.Version{Major: 2, Minor: 100},
}

// versionOf is the microversion the request negotiated (the router's
// Negotiate, before policy and schemas).
func versionOf(r *http.Request) httpapi.Version {
	if v := httpapi.VersionOf(r); v != (httpapi.Version{}) {
		return v
	}
	return microversions.Min
}

// echoVersion sets upstream's microversion headers on every answer, errors
// too (nova's wsgi adds them to faults as well); an unacceptable version gets
// none, as the router answers it 406.
func echoVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v, err := microversions.Negotiate(r); err == nil {
			microversions.Echo(w.Header(), v)
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Service) discoveryRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/{$}", Public: true, Handler: s.versions},
		{Method: "GET", Path: "/v2.1", Public: true, Handler: s.version},
		{Method: "GET", Path: "/v2.1/{$}", Public: true, Handler: s.version},
	}
}

func (s *Service) base() string { return strings.TrimSuffix(s.opts.PublicURL, "/") }

func (s *Service) v21Doc() map[string]any {
	return map[string]any{
		"id": "v2.1", "status": "CURRENT", "version": microversions.Max.String(), "min_version": microversions.Min.String(),
		"updated": "2013-07-23T11:33:21Z",
		"links":   []httpapi.Link{{Rel: "self", Href: s.base() + "/v2.1/"}},
	}
}

func (s *Service) versions(r *http.Request) (httpapi.Response, error) {
	return httpapi.OK(map[string]any{"versions": []any{s.v21Doc()}}), nil
}

func (s *Service) version(r *http.Request) (httpapi.Response, error) {
	doc := s.v21Doc()
	doc["links"] = []httpapi.Link{{Rel: "self", Href: s.base() + "/v2.1/"},
		{Rel: "describedby", Type: "text/html", Href: "http://docs.openstack.org/"}}
	doc["media-types"] = []httpapi.MediaType{{Base: "application/json", Type: "application/vnd.openstack.compute+json;version=2.1"}}
	return httpapi.OK(map[string]any{"version": doc}), nil
}
