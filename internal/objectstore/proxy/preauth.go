package proxy

import (
	"context"
	"net/http"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// Middleware in front of the proxy (s3api, after s3token) authenticates
// requests itself and hands the proxy Swift requests made in-process. As
// upstream's s3token fills the environ keystoneauth reads, WithCredentials
// puts the caller's credentials in the request's context: nothing a client
// sends can set it. Such requests may also set the system metadata upstream's
// gatekeeper keeps from clients (X-Object-Sysmeta-*).

type preauthKey struct{}

// WithCredentials marks ctx's requests as made, authenticated, for creds.
func WithCredentials(ctx context.Context, creds *auth.Credentials) context.Context {
	return context.WithValue(ctx, preauthKey{}, creds)
}

// preauthenticated is the credentials WithCredentials set, or nil.
func preauthenticated(r *http.Request) *auth.Credentials {
	c, _ := r.Context().Value(preauthKey{}).(*auth.Credentials)
	return c
}

// trustedSysmeta adds to meta the X-Object-Sysmeta-* headers of an in-process
// request (a client's are never kept).
func trustedSysmeta(r *http.Request, meta http.Header) {
	if preauthenticated(r) == nil {
		return
	}
	for k, v := range r.Header {
		if strings.HasPrefix(k, "X-Object-Sysmeta-") {
			meta[k] = v
		}
	}
}
