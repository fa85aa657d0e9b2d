package network

import (
	"fmt"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// errorBody renders Neutron's error document:
// {"NeutronError": {"type": "NetworkNotFound", "message": "...", "detail": ""}}.
func errorBody(e *httpapi.Error) any {
	kind := e.Kind
	if kind == "" {
		kind = defaultKinds[e.Status]
	}
	return map[string]any{"NeutronError": map[string]any{"type": kind, "message": e.Message, "detail": ""}}
}

// defaultKinds are the types of errors raised without a specific one (policy,
// authentication, routing), as upstream names them.
var defaultKinds = map[int]string{
	http.StatusBadRequest:            "BadRequest",
	http.StatusUnauthorized:          "Unauthorized",
	http.StatusForbidden:             "PolicyNotAuthorized",
	http.StatusNotFound:              "HTTPNotFound",
	http.StatusMethodNotAllowed:      "HTTPMethodNotAllowed",
	http.StatusConflict:              "Conflict",
	http.StatusRequestEntityTooLarge: "RequestEntityTooLarge",
	http.StatusInternalServerError:   "InternalServerError",
}

// neutronError is an error of one of upstream's types.
func neutronError(status int, kind, format string, args ...any) *httpapi.Error {
	return &httpapi.Error{Status: status, Kind: kind, Message: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *httpapi.Error {
	return neutronError(http.StatusBadRequest, "HTTPBadRequest", format, args...)
}

// invalidInput is upstream's InvalidInput: "Invalid input for operation: %(error_message)s."
// (the period is the template's, also after a message that has one).
func invalidInput(format string, args ...any) *httpapi.Error {
	return neutronError(http.StatusBadRequest, "InvalidInput", "Invalid input for operation: "+format+".", args...)
}

func notFound(kind, what, id string) *httpapi.Error {
	return neutronError(http.StatusNotFound, kind, "%s %s could not be found.", what, id)
}

func conflict(kind, format string, args ...any) *httpapi.Error {
	return neutronError(http.StatusConflict, kind, format, args...)
}
