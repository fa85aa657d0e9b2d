package metadata

import (
	"errors"
	"fmt"
	"net/http"
)

// apiError is an answer other than 200, as upstream raises webob's exceptions.
type apiError struct {
	status      int
	explanation string // "" is webob's default text for the status
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.status, e.explanation) }

// Upstream's explanations (nova/api/metadata/handler.py, password.py).
const (
	msgUnknownError     = "An unknown error has occurred. Please try your request again."
	msgInvalidSignature = "Invalid proxy request signature."
	msgTooLarge         = "Request is too large."
	msgGetPostOnly      = "GET and POST only are supported."
)

var errNotFound = &apiError{status: http.StatusNotFound}

// webobExplanations are webob's default texts of the statuses answered here.
var webobExplanations = map[int]string{
	http.StatusBadRequest:          "The server could not comply with the request since it is either malformed or otherwise incorrect.",
	http.StatusForbidden:           "Access was denied to this resource.",
	http.StatusNotFound:            "The resource could not be found.",
	http.StatusConflict:            "There was a conflict when trying to complete your request.",
	http.StatusInternalServerError: "The server has either erred or is incapable of performing the requested operation.",
}

// writeError is the one place errors become answers: an *apiError as webob's
// plain-text body (what upstream sends a client without an Accept header, as the
// network service's proxy is), anything else as upstream's 500.
func writeError(w http.ResponseWriter, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = &apiError{status: http.StatusInternalServerError, explanation: msgUnknownError}
	}
	explanation := ae.explanation
	if explanation == "" {
		explanation = webobExplanations[ae.status]
	}
	w.Header().Set("Content-Type", contentText)
	w.WriteHeader(ae.status)
	fmt.Fprintf(w, "%d %s\n\n%s\n\n   ", ae.status, http.StatusText(ae.status), explanation)
}
