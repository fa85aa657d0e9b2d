// Package swob holds what Swift's proxy and storage servers share on the wire:
// upstream's status texts and HTML error bodies (swift/common/swob.py), its
// X-Timestamp format, and the conditional and Range handling swob gives every
// object response.
package swob

import (
	"fmt"
	"net/http"
	"strconv"
)

// reasons are swob's RESPONSE_REASONS: the title and explanation of a status.
var reasons = map[int][2]string{
	200: {"OK", ""},
	201: {"Created", ""},
	202: {"Accepted", "The request is accepted for processing."},
	204: {"No Content", ""},
	206: {"Partial Content", ""},
	304: {"Not Modified", ""},
	400: {"Bad Request", "The server could not comply with the request since it is either malformed or otherwise incorrect."},
	401: {"Unauthorized", "This server could not verify that you are authorized to access the document you requested."},
	403: {"Forbidden", "Access was denied to this resource."},
	404: {"Not Found", "The resource could not be found."},
	405: {"Method Not Allowed", "The method is not allowed for this resource."},
	408: {"Request Timeout", "The server has waited too long for the request to be sent by the client."},
	409: {"Conflict", "There was a conflict when trying to complete your request."},
	411: {"Length Required", "Content-Length header required."},
	412: {"Precondition Failed", "A precondition for this request was not met."},
	413: {"Request Entity Too Large", "The body of your request was too large for this server."},
	414: {"Request URI Too Long", "The request URI was too long for this server."},
	416: {"Requested Range Not Satisfiable", "The Range requested is not available."},
	422: {"Unprocessable Entity", "Unable to process the contained instructions"},
	499: {"Client Disconnect", "The client was disconnected during request."},
	500: {"Internal Error", "The server has either erred or is incapable of performing the requested operation."},
	501: {"Not Implemented", "The requested method is not implemented by this server."},
	503: {"Service Unavailable", "The server is currently unavailable. Please try again at a later time."},
	504: {"Gateway Timeout", "A timeout has occurred speaking to a backend server."},
	507: {"Insufficient Storage", "There was not enough space to save the resource. Drive: %s"},
}

// Title is the status's reason phrase as Swift words it ("Internal Error").
func Title(status int) string {
	if r, ok := reasons[status]; ok {
		return r[0]
	}
	return http.StatusText(status)
}

// DefaultBody is swob's body for a response created without one: the status's
// title and explanation in a line of HTML, or nothing for statuses without an
// explanation (201, 204, ...).
func DefaultBody(status int) string {
	r, ok := reasons[status]
	if !ok || r[1] == "" {
		return ""
	}
	return fmt.Sprintf("<html><h1>%s</h1><p>%s</p></html>", r[0], r[1])
}

// Error writes status with swob's default body, as text/html like upstream.
func Error(w http.ResponseWriter, status int) {
	Write(w, status, "text/html; charset=UTF-8", DefaultBody(status))
}

// Text writes status with a plain-text body, as the constraint checks answer
// ("Metadata name too long: ...").
func Text(w http.ResponseWriter, status int, body string) {
	Write(w, status, "text/plain", body)
}

// Write sends status with body and the headers swob always sets.
func Write(w http.ResponseWriter, status int, contentType, body string) {
	h := w.Header()
	if body != "" || h.Get("Content-Type") == "" {
		h.Set("Content-Type", contentType)
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if body != "" {
		_, _ = w.Write([]byte(body))
	}
}
