package compute

import (
	"net/http"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// since reports whether the request negotiated compute 2.minor or newer: every
// servers change after 2.1 is gated on it, so a 2.1 client sees today's shapes.
func since(r *http.Request, minor int) bool {
	return versionOf(r).AtLeast(httpapi.Version{Major: 2, Minor: minor})
}

// versionNotFound is upstream's answer for a method its microversion lacks
// (VersionNotFoundForAPIMethod): 404, as if the route did not exist.
func versionNotFound() error {
	return notFound("The resource could not be found.")
}
