package storage

import "net/http"

// Container update overrides, as upstream's object server honours them: an
// object written with X-Object-Sysmeta-Container-Update-Override-Size or
// -Etag is listed in its container with those instead of its own (a large
// object's manifest is listed with the size and ETag of what it joins).
const (
	overrideSize = "X-Object-Sysmeta-Container-Update-Override-Size"
	overrideEtag = "X-Object-Sysmeta-Container-Update-Override-Etag"
)

// withOverrides applies the request's overrides to a container update.
func withOverrides(req, update http.Header) http.Header {
	if v := req.Get(overrideSize); v != "" {
		update.Set("X-Size", v)
	}
	if v := req.Get(overrideEtag); v != "" {
		update.Set("X-Etag", v)
	}
	return update
}
