package compute

import (
	"context"
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

type versionKey struct{}

// versionOf is the microversion the request negotiated.
func versionOf(r *http.Request) httpapi.Version {
	if v, ok := r.Context().Value(versionKey{}).(httpapi.Version); ok {
		return v
	}
	return microversions.Min
}

// versioned negotiates the request's microversion (406 out of range) and echoes it.
func (s *Service) versioned(h httpapi.Handler) httpapi.Handler {
	return func(r *http.Request) (httpapi.Response, error) {
		v, err := microversions.Negotiate(r)
		if err != nil {
			return httpapi.Response{}, err
		}
		resp, err := h(r.WithContext(context.WithValue(r.Context(), versionKey{}, v)))
		if err != nil {
			return resp, err
		}
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		microversions.Echo(resp.Header, v)
		return resp, nil
	}
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
