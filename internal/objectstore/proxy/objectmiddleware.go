package proxy

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// The object-level middleware of upstream's pipeline (slo, dlo,
// versioned_writes, symlink) and the gatekeeper's sysmeta rule, hooked into
// the proxy's object and container controllers:
//
//   - objectMiddleware runs first for every object request: it drops the
//     system metadata a client sends (only the proxy sets X-Object-Sysmeta-*),
//     hides it from every answer, and takes the requests the middleware own
//     (?multipart-manifest=put|delete, X-Symlink-Target, a POST to a symlink);
//   - objectReadMiddleware sees a GET or HEAD's backend answer: a symlink is
//     followed, an SLO manifest assembled;
//   - archiveCurrentVersion and versionedDelete run inside the PUT and DELETE
//     once the container's info is known (X-Versions-Location,
//     X-History-Location);
//   - containerMiddleware turns the versioning headers into container sysmeta
//     and back.

// internalKey marks the proxy's own subrequests (a version archived or
// restored), which the versioning middleware must not version again.
type internalKey struct{}

func isInternal(r *http.Request) bool { return r.Context().Value(internalKey{}) != nil }

func internalContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, internalKey{}, true)
}

// headerFilter is the gatekeeper's outgoing rule: system metadata never
// reaches a client. intercept, when set, may answer in the response's stead
// once its status and headers are known (a POST that landed on a symlink).
type headerFilter struct {
	http.ResponseWriter
	intercept func(status int, h http.Header) bool
	// keepSysmeta is for middleware in front of the proxy (s3api), which
	// upstream's pipeline puts behind the gatekeeper
	keepSysmeta bool
	wrote       bool
	swallow     bool
}

func (f *headerFilter) WriteHeader(status int) {
	if f.wrote {
		return
	}
	f.wrote = true
	h := f.ResponseWriter.Header()
	if f.intercept != nil && f.intercept(status, h) {
		f.swallow = true
		return
	}
	if !f.keepSysmeta {
		dropClientSysmeta(h)
	}
	f.ResponseWriter.WriteHeader(status)
}

func (f *headerFilter) Write(b []byte) (int, error) {
	if !f.wrote {
		f.WriteHeader(http.StatusOK)
	}
	if f.swallow {
		return len(b), nil
	}
	return f.ResponseWriter.Write(b)
}

func (f *headerFilter) Flush() {
	if fl, ok := f.ResponseWriter.(http.Flusher); ok && !f.swallow {
		fl.Flush()
	}
}

func isSysmetaHeader(k string) bool {
	k = http.CanonicalHeaderKey(k)
	return strings.HasPrefix(k, "X-Object-Sysmeta-") || strings.HasPrefix(k, "X-Container-Sysmeta-") ||
		strings.HasPrefix(k, "X-Object-Transient-Sysmeta-")
}

// dropClientSysmeta is the gatekeeper's rule: no system metadata from a client, none in its answers.
func dropClientSysmeta(h http.Header) {
	for k := range h {
		if isSysmetaHeader(k) {
			delete(h, k)
		}
	}
}

// objectMiddleware runs before the object controller; true when it answered.
func (p *Proxy) objectMiddleware(req *request) bool {
	r := req.r
	inProcess := preauthenticated(r) != nil
	if !inProcess {
		dropClientSysmeta(r.Header)
	}
	filter := &headerFilter{ResponseWriter: req.w, keepSysmeta: inProcess}
	req.w = filter
	q := r.URL.Query()
	if p.objectVersioning(req) {
		return true
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if req.tempURLExpires != 0 {
			// whatever answers (a large object, a link's target), a temp
			// URL's answer hides user metadata, as the tempurl middleware
			// above them all
			filter.intercept = func(status int, h http.Header) bool {
				if status/100 == 2 {
					tempURLResponseHeaders(req, h)
				}
				return false
			}
		}
		return false
	case http.MethodPut:
		if q.Get("multipart-manifest") == "put" {
			p.sloPut(req)
			return true
		}
	case http.MethodDelete:
		if q.Get("multipart-manifest") == "delete" {
			p.sloDelete(req)
			return true
		}
		return false
	}
	if _, ok := r.Header["X-Static-Large-Object"]; ok {
		swob.Write(req.w, http.StatusBadRequest, "text/html; charset=UTF-8",
			"X-Static-Large-Object is a reserved header. To create a static large object add query param multipart-manifest=put.")
		return true
	}
	switch r.Method {
	case http.MethodPut:
		if !validObjectManifest(r.Header) {
			swob.Write(req.w, http.StatusBadRequest, "text/html; charset=UTF-8", "X-Object-Manifest must be in the format container/prefix")
			return true
		}
		if _, ok := r.Header["X-Symlink-Target"]; ok {
			return !p.prepareSymlinkPut(req)
		}
		for _, k := range []string{"X-Symlink-Target-Account", "X-Symlink-Target-Etag", "X-Symlink-Target-Bytes"} {
			r.Header.Del(k)
		}
	case http.MethodPost:
		if _, ok := r.Header["X-Symlink-Target"]; ok {
			swob.Text(req.w, http.StatusBadRequest, "A PUT request is required to set a symlink target")
			return true
		}
		filter.intercept = func(status int, h http.Header) bool {
			return status == http.StatusAccepted && (p.versionedPost(req, filter.ResponseWriter, h) ||
				p.redirectSymlinkPost(req, filter.ResponseWriter, h))
		}
	}
	return false
}

// validObjectManifest is dlo's _validate_x_object_manifest_header: a
// PUT's X-Object-Manifest, when present, is "<container>/<prefix>".
func validObjectManifest(h http.Header) bool {
	v, ok := h["X-Object-Manifest"]
	if !ok {
		return true
	}
	value := strings.Join(v, ",")
	container, prefix, _ := strings.Cut(value, "/")
	return container != "" && prefix != "" && !strings.ContainsAny(value, "?&") && !strings.HasPrefix(prefix, "/")
}

// objectReadMiddleware sees the backend's answer to a GET or HEAD before the
// proxy relays it; true when it answered.
func (p *Proxy) objectReadMiddleware(req *request, resp *http.Response) bool {
	q := req.r.URL.Query()
	if resp.Header.Get(sysmetaSymlinkTarget) != "" {
		if q.Get("symlink") == "get" {
			symlinkSysmetaToClient(resp.Header)
			return false
		}
		p.serveSymlink(req, resp)
		return true
	}
	return p.serveSLO(req, resp)
}

// objectMiddlewareInfo is what /info advertises of these middleware, with
// upstream's keys and defaults.
func objectMiddlewareInfo() map[string]any {
	return map[string]any{
		"slo": map[string]any{
			"max_manifest_segments": maxManifestSegments,
			"max_manifest_size":     maxManifestSize,
			"yield_frequency":       10,
			"min_segment_size":      1,
			"allow_async_delete":    false,
		},
		"symlink":           map[string]any{"symloop_max": symloopMax, "static_links": true},
		"versioned_writes":  map[string]any{"allowed_flags": []string{"x-versions-location", "x-history-location"}},
		"object_versioning": map[string]any{},
	}
}

// subrequest is a copy of req's HTTP request for another method and path
// (/v1/account/container/object, unescaped) with rawQuery and no body,
// carrying the caller's token.
func subrequest(req *request, method, path, rawQuery string) *http.Request {
	sub := req.r.Clone(req.r.Context())
	sub.Method = method
	sub.URL = &url.URL{Path: path, RawQuery: rawQuery}
	sub.RequestURI = sub.URL.RequestURI()
	sub.Body, sub.ContentLength = http.NoBody, 0
	sub.TransferEncoding = nil
	sub.Header = http.Header{}
	for _, k := range []string{"X-Auth-Token", "X-Storage-Token", "Referer", "User-Agent"} {
		if v := req.r.Header.Get(k); v != "" {
			sub.Header.Set(k, v)
		}
	}
	return sub
}
