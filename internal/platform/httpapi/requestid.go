package httpapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
)

type requestIDKey struct{}

// NewRequestID returns an id in upstream's form, req-<uuid4>.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("req-%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// validRequestID accepts a caller's id for propagation between services only when it
// has upstream's shape, so logs cannot be forged with arbitrary text.
func validRequestID(id string) bool {
	if len(id) != 40 || !strings.HasPrefix(id, "req-") {
		return false
	}
	for i, c := range id[4:] {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
				return false
			}
		}
	}
	return true
}

func withRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID is the x-openstack-request-id of the request ctx belongs to.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// newRequestID is the id of a request: the caller's x-openstack-request-id when it
// has upstream's shape (propagated between services, as Glance keeps it), else a
// new one.
func (s *Server) newRequestID(r *http.Request) string {
	if id := r.Header.Get("X-Openstack-Request-Id"); validRequestID(id) {
		return id
	}
	return NewRequestID()
}

func (s *Server) setRequestIDHeaders(h http.Header, id string) {
	h.Set("X-Openstack-Request-Id", id)
	for _, name := range s.opts.CompatRequestIDHeaders {
		h.Set(name, id)
	}
}

// Front puts the server's request id on every answer of a handler that wraps
// the server and answers some requests itself (network's bulk creates and
// revision checks), as upstream's request-id middleware sits in front of the
// whole API, and gives it the request's path in the route table's form
// (URLForms): the server then serves the request under the same id.
func (s *Server) Front(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := RequestID(r.Context())
		if id == "" {
			id = s.newRequestID(r)
		}
		s.setRequestIDHeaders(w.Header(), id)
		h.ServeHTTP(w, s.canonical(r.WithContext(withRequestID(r.Context(), id))))
	})
}
