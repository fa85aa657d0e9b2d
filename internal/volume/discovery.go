package volume

import (
	"context"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// microversions is the block storage API's range. 3.70 is the newest whose
// every change the service implements or, for features Nimbus lacks
// (groups, replication, re-image, encryption), leaves the API as it was
// (docs/volume.md); 3.71 (os-extend_volume_completion) is a Nova-to-Cinder
// call Nimbus does not need.
var microversions = httpapi.Microversions{
	Service: "volume",
	Min:     httpapi.Version{Major: 3, Minor: 0},
	Max:     httpapi.Version{Major: 3, Minor: 70},
}

// versionsUpdated is upstream's api_version_request.UPDATED.
const versionsUpdated = "2023-08-31T00:00:00Z"

// negotiate is cinder/api/openstack/wsgi.py's set_api_version_request with its
// messages, and then, as wsgi.Resource does before any controller runs, the
// check that a project id in the URL is the token's.
func negotiate(r *http.Request) (httpapi.Version, error) {
	v, err := negotiateVersion(r)
	if err != nil {
		return v, err
	}
	if urlProject, _ := r.Context().Value(urlProjectKey{}).(string); urlProject != "" {
		if creds := auth.FromContext(r.Context()); creds != nil && creds.ProjectID != urlProject {
			return v, badRequest("Malformed request url")
		}
	}
	return v, nil
}

func negotiateVersion(r *http.Request) (httpapi.Version, error) {
	values := r.Header.Values("OpenStack-API-Version")
	if len(values) == 0 {
		return microversions.Min, nil
	}
	want := ""
	for _, part := range strings.Split(strings.Join(values, ","), ",") {
		if strings.Contains(part, "volume") {
			fields := strings.Fields(part)
			if len(fields) != 2 {
				return httpapi.Version{}, badRequest("API Version String %s is of invalid format. "+
					"Must be of format MajorNum.MinorNum.", strings.TrimSpace(part))
			}
			want = fields[1]
			break
		}
	}
	if want == "" {
		return httpapi.Version{}, notFound("API version None is not supported on this method.")
	}
	if strings.EqualFold(want, "latest") {
		return microversions.Max, nil
	}
	v, err := httpapi.ParseVersion(want)
	if err != nil || strings.TrimSpace(want) != want {
		return httpapi.Version{}, badRequest("API Version String %s is of invalid format. "+
			"Must be of format MajorNum.MinorNum.", want)
	}
	if v.Less(microversions.Min) || microversions.Max.Less(v) {
		return httpapi.Version{}, httpapi.Errorf(http.StatusNotAcceptable,
			"Version %s is not supported by the API. Minimum is %s and maximum is %s.",
			v, microversions.Min, microversions.Max)
	}
	return v, nil
}

// versionOf is the microversion the request negotiated.
func versionOf(r *http.Request) httpapi.Version {
	if v := httpapi.VersionOf(r); v != (httpapi.Version{}) {
		return v
	}
	return microversions.Min
}

// since reports whether the request negotiated volume 3.minor or newer.
func since(r *http.Request, minor int) bool {
	return versionOf(r).AtLeast(httpapi.Version{Major: 3, Minor: minor})
}

// versionNotFound is upstream's answer for a method its microversion lacks
// (VersionNotFoundForAPIMethod).
func versionNotFound(r *http.Request) error {
	return notFound("API version %s is not supported on this method.", versionOf(r))
}

// echoVersion sets upstream's microversion headers on every answer but the
// version documents' (cinder's wsgi adds them to faults as well).
func echoVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v, err := negotiateVersion(r); err == nil && strings.HasPrefix(r.URL.Path, "/v3/") {
			w.Header().Set("OpenStack-API-Version", "volume "+v.String())
			w.Header().Set("Vary", "OpenStack-API-Version")
		}
		next.ServeHTTP(w, r)
	})
}

type urlProjectKey struct{}

// stripProjectID routes /v3/{project_id}/... as /v3/..., as upstream's
// ProjectMapper connects every route both with and without the project
// (project_id_regex [0-9a-f\-]+; 3.67 made it optional for clients): the
// project is kept for negotiate to check against the token's.
func stripProjectID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest, ok := strings.CutPrefix(r.URL.Path, "/v3/")
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		seg, tail, _ := strings.Cut(rest, "/")
		if !isProjectIDSegment(seg) {
			next.ServeHTTP(w, r)
			return
		}
		out := r.Clone(context.WithValue(r.Context(), urlProjectKey{}, seg))
		u := *r.URL
		u.Path, u.RawPath = "/v3/"+tail, ""
		out.URL = &u
		next.ServeHTTP(w, out)
	})
}

func isProjectIDSegment(seg string) bool {
	if seg == "" {
		return false
	}
	for _, c := range seg {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == '-') {
			return false
		}
	}
	return true
}

// urlProject is the project id the request's URL named ("" without one): the
// links of the views carry it as the request did (common.ViewBuilder).
func urlProject(r *http.Request) string {
	p, _ := r.Context().Value(urlProjectKey{}).(string)
	return p
}

func (s *Service) discoveryRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "GET", Path: "/{$}", Public: true, Handler: s.versions},
		{Method: "GET", Path: "/v3", Public: true, Handler: s.v3Redirect},
		{Method: "GET", Path: "/v3/{$}", Public: true, Handler: s.v3Versions},
	}
}

func (s *Service) versionDocs() map[string]any {
	return map[string]any{"versions": []any{map[string]any{
		"id": "v3.0", "status": "CURRENT", "updated": versionsUpdated,
		"version": microversions.Max.String(), "min_version": microversions.Min.String(),
		"links": []httpapi.Link{
			{Rel: "describedby", Type: "text/html", Href: "https://docs.openstack.org/"},
			{Rel: "self", Href: s.base() + "/v3/"},
		},
		"media-types": []httpapi.MediaType{{Base: "application/json",
			Type: "application/vnd.openstack.volume+json;version=3"}},
	}}}
}

// versions is GET /: every version, 300 Multiple Choices as upstream.
func (s *Service) versions(r *http.Request) (httpapi.Response, error) {
	return httpapi.JSON(http.StatusMultipleChoices, s.versionDocs()), nil
}

// v3Versions is GET /v3/: the same list, 200 (VersionsController.index).
func (s *Service) v3Versions(r *http.Request) (httpapi.Response, error) {
	return httpapi.OK(s.versionDocs()), nil
}

// v3Redirect is upstream's mapper.redirect("", "/"): /v3 to /v3/.
func (s *Service) v3Redirect(r *http.Request) (httpapi.Response, error) {
	return httpapi.Response{Status: http.StatusFound}.WithHeader("Location", s.base()+"/v3/"), nil
}
