package storage

import "net/http"

// listingOverrides applies upstream's container update overrides: an
// object's X-Object-Sysmeta-Container-Update-Override-Size and -Etag (set
// by the proxy's slo and symlink middleware) are what its container listing
// records instead of its own size and ETag (a large object's total size,
// "<etag>; slo_etag=..." or "; symlink_target=...").
func listingOverrides(get func(string) string, update http.Header) http.Header {
	if v := get("X-Object-Sysmeta-Container-Update-Override-Size"); v != "" {
		update.Set("X-Size", v)
	}
	if v := get("X-Object-Sysmeta-Container-Update-Override-Etag"); v != "" {
		update.Set("X-Etag", v)
	}
	return update
}
