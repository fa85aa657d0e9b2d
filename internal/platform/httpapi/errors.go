package httpapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
)

// Error is a failure with the HTTP status it maps to. Services render it into their
// upstream error body (Keystone's {"error":...}, Nova's {"itemNotFound":...}, ...).
type Error struct {
	Status  int
	Message string
	// Kind is a service-specific error type, e.g. Neutron's "NetworkNotFound".
	Kind string
	// Header carries extra response headers such as WWW-Authenticate.
	Header http.Header
	cause  error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%d %s: %v", e.Status, e.Message, e.cause)
	}
	return fmt.Sprintf("%d %s", e.Status, e.Message)
}

func (e *Error) Unwrap() error { return e.cause }

// APIError is what a bus call's other end learns of the error (bus.RemoteError).
func (e *Error) APIError() (status int, kind, message string) { return e.Status, e.Kind, e.Message }

// IsStatus reports whether err is, or wraps, an *Error with status.
func IsStatus(err error, status int) bool {
	var he *Error
	return errors.As(err, &he) && he.Status == status
}

// FromRemote gives back the *Error a bus call's handler returned (as a
// bus.RemoteError), so that callers see a remote 404 as a 404; other errors are
// returned as they are.
func FromRemote(err error) error {
	var re *bus.RemoteError
	if errors.As(err, &re) && re.Status != 0 {
		return &Error{Status: re.Status, Kind: re.Kind, Message: re.Message, cause: err}
	}
	return err
}

// Title is the HTTP reason phrase upstream services put in error bodies.
func (e *Error) Title() string { return http.StatusText(e.Status) }

// Errorf builds an Error with a formatted message.
func Errorf(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

func BadRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, format, args...)
}

func Unauthorized(format string, args ...any) *Error {
	return Errorf(http.StatusUnauthorized, format, args...)
}

func Forbidden(format string, args ...any) *Error {
	return Errorf(http.StatusForbidden, format, args...)
}

func NotFound(format string, args ...any) *Error {
	return Errorf(http.StatusNotFound, format, args...)
}

func Conflict(format string, args ...any) *Error {
	return Errorf(http.StatusConflict, format, args...)
}

func TooLarge(format string, args ...any) *Error {
	return Errorf(http.StatusRequestEntityTooLarge, format, args...)
}

// AsError maps any error to an *Error; unknown errors become a 500 whose cause is
// logged but never shown to the client.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError,
		Message: "An unexpected error prevented the server from fulfilling your request.", cause: err}
}
