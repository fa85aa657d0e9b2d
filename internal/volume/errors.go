package volume

import (
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// faultNames are Cinder's fault wrappers by status (cinder/api/openstack/wsgi.py
// Fault): {"itemNotFound": {"code": 404, "message": ...}}; any other status is
// a "computeFault", as upstream's.
var faultNames = map[int]string{
	http.StatusBadRequest:            "badRequest",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "itemNotFound",
	http.StatusMethodNotAllowed:      "badMethod",
	http.StatusConflict:              "conflictingRequest",
	http.StatusRequestEntityTooLarge: "overLimit",
	http.StatusUnsupportedMediaType:  "badMediaType",
	http.StatusNotImplemented:        "notImplemented",
	http.StatusServiceUnavailable:    "serviceUnavailable",
}

func errorBody(e *httpapi.Error) any {
	kind := faultNames[e.Status]
	if kind == "" {
		kind = "computeFault"
	}
	return map[string]any{kind: map[string]any{"code": e.Status, "message": e.Message}}
}

func notFound(format string, args ...any) *httpapi.Error {
	return httpapi.Errorf(http.StatusNotFound, format, args...)
}

func badRequest(format string, args ...any) *httpapi.Error {
	return httpapi.Errorf(http.StatusBadRequest, format, args...)
}

func conflict(format string, args ...any) *httpapi.Error {
	return httpapi.Errorf(http.StatusConflict, format, args...)
}

// overQuota is upstream's 413 (VolumeLimitExceeded and friends answer
// HTTPRequestEntityTooLarge through the fault wrapper).
func overQuota(format string, args ...any) *httpapi.Error {
	return httpapi.Errorf(http.StatusRequestEntityTooLarge, format, args...)
}

// policyError is Cinder's 403 (PolicyNotAuthorized).
func policyError(rule string) *httpapi.Error {
	return httpapi.Errorf(http.StatusForbidden, "Policy doesn't allow %s to be performed.", rule)
}

// enforce checks rule for the request with Cinder's 403. The credentials are
// cinder's RequestContext's: is_admin is the context_is_admin rule's answer
// (role:admin), and is_admin_project is keystonemiddleware's default, True,
// for tokens that do not say (identity here configures no admin project).
func (s *Service) enforce(r *http.Request, rule string, target map[string]any) error {
	c := auth.FromContext(r.Context())
	if c == nil {
		return httpapi.Unauthorized("The request you have made requires authentication.")
	}
	creds := c.PolicyCredentials()
	creds["is_admin"] = isAdmin(r)
	creds["is_admin_project"] = true
	if !s.policy.Allowed(rule, target, creds) {
		return policyError(rule)
	}
	return nil
}

// allowed reports whether rule passes, for the views that show a key only to
// some callers (os-vol-host-attr:host to admins).
func (s *Service) allowed(r *http.Request, rule string, target map[string]any) bool {
	return s.enforce(r, rule, target) == nil
}

func httpErrorf(status int, format string, args ...any) *httpapi.Error {
	return httpapi.Errorf(status, format, args...)
}
