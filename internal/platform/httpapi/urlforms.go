package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// URLForms are the forms of a path that a service's upstream router accepts
// beside the canonical one its route table lists. The server brings a request
// to the canonical form before routing it, so that no route lists two.
type URLForms struct {
	// TrailingSlashes routes a path ending in slashes as the path without them,
	// when the path as written matches no route.
	TrailingSlashes bool
	// JSONSuffix routes a path ending in ".json" (before any trailing slash) as
	// the path without it.
	JSONSuffix bool
	// Versions maps the first segment of a path naming a version of the API to
	// the canonical segment the routes use ("v2.1" -> "v2").
	Versions map[string]string
	// UnknownVersion, with Versions, is the path a request is routed to when its
	// first segment names no version (nor "versions", which routes to /versions,
	// or "healthcheck").
	UnknownVersion string
	// ProjectIDAfter is the prefix ("/v2.1") after which a segment of a project
	// id's shape ([0-9a-f-]+) may come, as older clients' endpoints hold the
	// project: the segment is dropped for routing, and must be the project the
	// token is scoped to.
	ProjectIDAfter string
}

// upstreamURLForms are, per service type, the forms upstream's routers accept:
//
//   - identity: keystone/server/flask/request_processing/middleware/url_normalize.py
//     strips every trailing slash before Flask routes the request
//     (/v3/projects/ and /v3/OS-TRUST/trusts/ are /v3/projects and /v3/OS-TRUST/trusts).
//   - network: neutron/pecan_wsgi/app.py makes its Pecan app with
//     force_canonical=False (a trailing slash routes to the collection's or the
//     item's index, the same handlers) and guess_content_type_from_ext=True
//     (/v2.0/ports.json and /v2.0/ports/ID.json are /v2.0/ports and /v2.0/ports/ID).
//   - compute: routes' Mapper without minimization matches a path exactly (no
//     trailing slash: nova/api/openstack/compute/routes.py), and
//     nova/api/openstack/__init__.py's ProjectMapper connects every route also
//     under /{project_id:[0-9a-f-]+}, which nova/api/openstack/wsgi.py then checks
//     against the token's project (400 "Malformed request URL: ...").
//   - image: routes' Mapper matches exactly (glance/api/v2/router.py), after
//     glance/api/middleware/version_negotiation.py turned the URL's version
//     (/v2.0 ... /v2.17) into /v2, and answered any other first segment with the
//     versions document (300).
var upstreamURLForms = map[string]URLForms{
	"identity": {TrailingSlashes: true},
	"network":  {TrailingSlashes: true, JSONSuffix: true},
	"compute":  {ProjectIDAfter: "/v2.1"},
	"image":    {Versions: glanceURLVersions(), UnknownVersion: "/"},
}

// glanceURLVersions are the URL versions Glance's negotiation accepts, each
// served by its v2 API: v2 and v2.0 to v2.17 (upstream enables some minor
// versions only with a cache or several stores; Nimbus's versions document
// lists v2.0 to v2.16 and all route to /v2 alike).
func glanceURLVersions() map[string]string {
	versions := map[string]string{"v2": "v2"}
	for minor := 0; minor <= 17; minor++ {
		versions[fmt.Sprintf("v2.%d", minor)] = "v2"
	}
	return versions
}

type pathProjectKey struct{}

// canonical is r with its path in the route table's form, or r itself.
func (s *Server) canonical(r *http.Request) *http.Request {
	f := s.forms
	path := r.URL.Path
	if f.Versions != nil {
		rest := strings.TrimPrefix(path, "/")
		first, tail, hasTail := strings.Cut(rest, "/")
		switch canonical, ok := f.Versions[first]; {
		case first == "versions": // Glance answers the versions for anything under it
			path = "/versions"
		case first == "healthcheck":
		case ok:
			path = "/" + canonical
			if hasTail {
				path += "/" + tail
			}
		case f.UnknownVersion != "":
			path = f.UnknownVersion
		}
	}
	var projectID string
	if f.ProjectIDAfter != "" {
		if rest, ok := strings.CutPrefix(path, f.ProjectIDAfter+"/"); ok {
			if seg, tail, ok := strings.Cut(rest, "/"); ok && isProjectIDSegment(seg) {
				projectID, path = seg, f.ProjectIDAfter+"/"+tail
			}
		}
	}
	if f.JSONSuffix {
		trimmed := strings.TrimRight(path, "/")
		if base, ok := strings.CutSuffix(trimmed, ".json"); ok && base != "" {
			path = base + path[len(trimmed):]
		}
	}
	if f.TrailingSlashes && len(path) > 1 && strings.HasSuffix(path, "/") && !s.matches(r, path) {
		path = strings.TrimRight(path, "/")
		if path == "" {
			path = "/"
		}
	}
	if path == r.URL.Path && projectID == "" {
		return r
	}
	out := r.Clone(r.Context())
	u := *r.URL
	u.Path, u.RawPath = path, ""
	if r.URL.RawPath != "" {
		// keep escapes such as %2F in what remains: re-escape from the new path
		u.RawPath = (&url.URL{Path: path}).EscapedPath()
	}
	out.URL = &u
	if projectID != "" {
		out = out.WithContext(context.WithValue(out.Context(), pathProjectKey{}, projectID))
	}
	return out
}

// matches reports whether a route takes r's method on path.
func (s *Server) matches(r *http.Request, path string) bool {
	probe := *r
	u := *r.URL
	u.Path, u.RawPath = path, ""
	probe.URL = &u
	_, pattern := s.mux.Handler(&probe)
	return pattern != ""
}

// isProjectIDSegment is Nova's ProjectMapper's project_id token, [0-9a-f-]+.
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

// checkPathProject refuses a request whose URL names another project than the
// token's, as Nova's wsgi.Resource does before the controller (its schema and
// policy) runs.
func checkPathProject(r *http.Request, tokenProject string) error {
	urlProject, _ := r.Context().Value(pathProjectKey{}).(string)
	if urlProject == "" || urlProject == tokenProject {
		return nil
	}
	if tokenProject == "" {
		tokenProject = "None" // Python's rendering of an unscoped context's project
	}
	return BadRequest("Malformed request URL: URL's project_id '%s' doesn't match Context's project_id '%s'",
		urlProject, tokenProject)
}
