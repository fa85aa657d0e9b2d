package compute

import (
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// errorKinds are Nova's fault wrappers by status: {"itemNotFound": {"code": 404,
// "message": ...}}.
var errorKinds = map[int]string{
	http.StatusBadRequest:            "badRequest",
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "itemNotFound",
	http.StatusMethodNotAllowed:      "badMethod",
	http.StatusNotAcceptable:         "notAcceptable",
	http.StatusConflict:              "conflictingRequest",
	http.StatusRequestEntityTooLarge: "overLimit",
	http.StatusUnsupportedMediaType:  "badMediaType",
	http.StatusNotImplemented:        "notImplemented",
	http.StatusServiceUnavailable:    "serviceUnavailable",
}

func errorBody(e *httpapi.Error) any {
	kind := e.Kind
	if kind == "" {
		kind = errorKinds[e.Status]
	}
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

func forbidden(format string, args ...any) *httpapi.Error {
	return httpapi.Errorf(http.StatusForbidden, format, args...)
}

// policyError is Nova's 403 for a policy rule that does not allow the call.
func policyError(rule string) *httpapi.Error {
	return forbidden("Policy doesn't allow %s to be performed.", rule)
}

// enforce checks rule for the request with Nova's 403.
func (s *Service) enforce(r *http.Request, rule string, target map[string]any) error {
	if err := httpapi.Enforce(r, s.policy, rule, target); err != nil {
		if httpapi.IsStatus(err, http.StatusForbidden) {
			return policyError(rule)
		}
		return err
	}
	return nil
}
