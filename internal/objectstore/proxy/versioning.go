package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Object versioning, as upstream's legacy versioned_writes middleware: a
// container's X-Versions-Location (stack mode) or X-History-Location
// (history mode) names the container that keeps its objects' older
// versions, as "<len(name) in 3 hex digits><name>/<timestamp>". Overwriting
// an object first copies the current one there; deleting one in stack mode
// restores the newest archived version in its place (and removes it from
// the archive), in history mode archives the current version and writes a
// delete marker.

const (
	sysmetaVersionsLocation = "X-Container-Sysmeta-Versions-Location"
	sysmetaVersionsMode     = "X-Container-Sysmeta-Versions-Mode"
	deleteMarkerContentType = "application/x-deleted;swift_versions_deleted=1"
)

// versionPrefix is _build_versions_object_prefix.
func versionPrefix(object string) string {
	return fmt.Sprintf("%03x%s/", len(object), object)
}

// containerMiddleware is versioned_writes' container_request: the client's
// versioning headers become container sysmeta, and sysmeta becomes them
// again in answers. True when it answered.
func (p *Proxy) containerMiddleware(req *request) bool {
	r := req.r
	dropClientSysmeta(r.Header)
	req.w = &headerFilter{ResponseWriter: req.w, intercept: func(_ int, h http.Header) bool {
		if loc := h.Get(sysmetaVersionsLocation); loc != "" {
			if h.Get(sysmetaVersionsMode) == "history" {
				h.Set("X-History-Location", loc)
			} else {
				h.Set("X-Versions-Location", loc)
			}
		}
		p.versioningContainerHeaders(req, h)
		return false
	}}
	if r.Method != http.MethodPut && r.Method != http.MethodPost && p.objectVersioningContainer(req) {
		return true
	}
	if r.Method == http.MethodGet {
		p.serveContainerListing(req)
		return true
	}
	if r.Method != http.MethodPut && r.Method != http.MethodPost {
		return false
	}
	status, msg := versioningHeaders(r.Header)
	if status != 0 {
		contentType := "text/plain"
		if status == http.StatusPreconditionFailed {
			contentType = "text/html; charset=UTF-8"
		}
		swob.Write(req.w, status, contentType, msg)
		return true
	}
	return p.objectVersioningContainer(req)
}

// versioningHeaders rewrites a container PUT or POST's X-Versions-Location,
// X-History-Location and X-Remove-*-Location into sysmeta; a refusal's
// status and body otherwise.
func versioningHeaders(h http.Header) (int, string) {
	_, hasVersions := h["X-Versions-Location"]
	_, hasHistory := h["X-History-Location"]
	if hasVersions && hasHistory {
		switch {
		case h.Get("X-History-Location") == "":
			h.Del("X-History-Location")
			hasHistory = false
		case h.Get("X-Versions-Location") != "":
			return http.StatusBadRequest, "Only one of X-Versions-Location or X-History-Location may be specified"
		default:
			h.Del("X-Versions-Location")
			hasVersions = false
		}
	}
	if hasVersions || hasHistory {
		value, mode := h.Get("X-Versions-Location"), "stack"
		if !hasVersions {
			value, mode = h.Get("X-History-Location"), "history"
		}
		if value == "" {
			h.Set("X-Remove-Versions-Location", "x")
		} else {
			if strings.Contains(value, "/") {
				return http.StatusPreconditionFailed, "Container name cannot contain slashes"
			}
			h.Set(sysmetaVersionsLocation, value)
			h.Set(sysmetaVersionsMode, mode)
			h.Del("X-Remove-Versions-Location")
			h.Del("X-Remove-History-Location")
		}
	}
	if h.Get("X-Remove-Versions-Location") != "" || h.Get("X-Remove-History-Location") != "" {
		h.Set(sysmetaVersionsLocation, "")
		h.Set(sysmetaVersionsMode, "")
	}
	h.Del("X-Remove-Versions-Location")
	h.Del("X-Remove-History-Location")
	h.Del("X-Versions-Location")
	h.Del("X-History-Location")
	return 0, ""
}

// versionsContainer is the container info's versions location, "" when the
// container keeps no versions (or the request is the proxy's own).
func versionsContainer(req *request, info http.Header) string {
	loc := info.Get(sysmetaVersionsLocation)
	if loc == "" || isInternal(req.r) {
		return ""
	}
	if v, err := url.PathUnescape(loc); err == nil {
		loc = v
	}
	name, _, _ := strings.Cut(loc, "/")
	return name
}

// versionError is _check_response_error: a client error of a versioning
// step is 412, anything else 503. ok reports success.
func versionError(w http.ResponseWriter, status int) bool {
	if status/100 == 2 {
		return true
	}
	if status/100 == 4 {
		swob.Error(w, http.StatusPreconditionFailed)
	} else {
		swob.Error(w, http.StatusServiceUnavailable)
	}
	return false
}

// archiveCurrentVersion runs before an object PUT: in a versioned container
// the current object is copied to the versions container first. False when
// it answered (an error).
func (p *Proxy) archiveCurrentVersion(req *request, info http.Header) bool {
	if p.objectVersioningWrite(req, info) {
		return false
	}
	versions := versionsContainer(req, info)
	if versions == "" {
		return true
	}
	return p.copyCurrent(req, versions)
}

// copyCurrent is _copy_current: the object's current version, if any,
// copied into versions under its archive name. False when it answered.
func (p *Proxy) copyCurrent(req *request, versions string) bool {
	src := p.readLatest(req, req.container, req.object)
	if src == nil {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return false
	}
	defer src.Body.Close()
	if src.StatusCode == http.StatusNotFound {
		return true
	}
	if !versionError(req.w, src.StatusCode) {
		return false
	}
	if src.ContentLength < 0 || src.ContentLength > MaxFileSize {
		swob.Error(req.w, http.StatusRequestEntityTooLarge)
		return false
	}
	ts, err := swob.ParseTimestamp(src.Header.Get("X-Timestamp"))
	if err != nil {
		t, _ := http.ParseTime(src.Header.Get("Last-Modified"))
		ts = swob.FromTime(t)
	}
	rec := p.putVersion(req, versions, versionPrefix(req.object)+ts.Normal(), src)
	return versionError(req.w, rec.Code)
}

// readLatest is _get_source_object: a raw GET (links not followed, large
// objects not assembled) of the newest replica.
func (p *Proxy) readLatest(req *request, container, object string) *http.Response {
	rg := p.opts.Rings.Object
	h := http.Header{}
	h.Set("X-Trans-Id", req.transID)
	h.Set("X-Newest", "true")
	return p.readFirst(req.r.Context(), rg, rg.Partition(req.account, container, object), http.MethodGet,
		"/"+req.account+"/"+container+"/"+object, "", h)
}

// putVersion is _put_versioned_obj: src's body and headers written to
// container/object as the proxy's own request.
func (p *Proxy) putVersion(req *request, container, object string, src *http.Response) *httptest.ResponseRecorder {
	put := req.r.Clone(internalContext(req.r.Context()))
	put.Method = http.MethodPut
	put.Header = http.Header{}
	for k, v := range src.Header {
		if k == "Content-Type" || k == "Etag" || isObjectMetaHeader(k) || isSysmetaHeader(k) {
			put.Header[k] = v
		}
	}
	put.Header.Set("Etag", strings.Trim(src.Header.Get("Etag"), `"`))
	put.Body, put.ContentLength, put.TransferEncoding = io.NopCloser(src.Body), src.ContentLength, nil
	rec := httptest.NewRecorder()
	sub := *req
	sub.r, sub.w = put, rec
	sub.container, sub.object = container, object
	p.objectPut(&sub)
	return rec
}

// isObjectMetaHeader is what an object keeps besides its data: user
// metadata and the headers objectMetadata passes.
func isObjectMetaHeader(k string) bool {
	switch k {
	case "Content-Disposition", "Content-Encoding", "X-Delete-At", "X-Object-Manifest", "X-Static-Large-Object",
		"Cache-Control", "Content-Language", "Expires", "X-Robots-Tag":
		return true
	}
	return strings.HasPrefix(k, "X-Object-Meta-")
}

// internalDelete deletes container/object as the proxy's own request,
// answering w.
func (p *Proxy) internalDelete(req *request, container, object string, w http.ResponseWriter) {
	del := req.r.Clone(internalContext(req.r.Context()))
	del.Method = http.MethodDelete
	del.Body, del.ContentLength = http.NoBody, 0
	sub := *req
	sub.r, sub.w = del, w
	sub.container, sub.object = container, object
	p.objectDelete(&sub)
}

// versionedDelete runs before an object DELETE in a versioned container;
// true when it answered the request.
func (p *Proxy) versionedDelete(req *request, info http.Header) bool {
	if p.objectVersioningWrite(req, info) {
		return true
	}
	versions := versionsContainer(req, info)
	if versions == "" {
		return false
	}
	if info.Get(sysmetaVersionsMode) == "history" {
		return p.deletePush(req, versions)
	}
	return p.deletePop(req, versions)
}

// deletePush is handle_obj_versions_delete_push (history mode): the current
// version archived and a delete marker written, then the object deleted.
func (p *Proxy) deletePush(req *request, versions string) bool {
	if !p.copyCurrent(req, versions) {
		return true
	}
	marker := req.r.Clone(internalContext(req.r.Context()))
	marker.Method = http.MethodPut
	marker.Header = http.Header{"Content-Type": {deleteMarkerContentType}}
	marker.Body, marker.ContentLength = http.NoBody, 0
	rec := httptest.NewRecorder()
	sub := *req
	sub.r, sub.w = marker, rec
	sub.container, sub.object = versions, versionPrefix(req.object)+swob.Now().Normal()
	p.objectPut(&sub)
	return !versionError(req.w, rec.Code)
}

type versionEntry struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
}

// listVersions lists the object's archived versions, newest first.
func (p *Proxy) listVersions(req *request, versions string) ([]versionEntry, bool) {
	rg := p.opts.Rings.Container
	out, err := listAll(req.r.Context(), p, rg, rg.Partition(req.account, versions), "/"+req.account+"/"+versions,
		url.Values{"prefix": {versionPrefix(req.object)}, "reverse": {"on"}}, http.Header{"X-Trans-Id": {req.transID}},
		func(e versionEntry) string { return e.Name })
	return out, err == nil
}

// deletePop is handle_obj_versions_delete_pop (stack mode): the newest
// archived version replaces the object and leaves the archive; the DELETE
// of the archived copy is the answer. Without archived versions the object
// is deleted as usual (false).
func (p *Proxy) deletePop(req *request, versions string) bool {
	list, ok := p.listVersions(req, versions)
	if !ok {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return true
	}
	for i, prev := range list {
		if prev.ContentType == deleteMarkerContentType {
			// the object was deleted in history mode: restore only if it is
			// still gone
			head := p.readLatest(req, req.container, req.object)
			if head == nil {
				swob.Error(req.w, http.StatusServiceUnavailable)
				return true
			}
			head.Body.Close()
			if head.StatusCode != http.StatusNotFound {
				if !versionError(req.w, head.StatusCode) {
					return true
				}
				return false
			}
			for _, next := range list[i+1:] {
				if next.ContentType == deleteMarkerContentType {
					break
				}
				restored, ok := p.restoreVersion(req, versions, next.Name)
				if !ok {
					return true
				}
				if !restored {
					continue
				}
				rec := httptest.NewRecorder()
				p.internalDelete(req, versions, next.Name, rec)
				if rec.Code != http.StatusNotFound && !versionError(req.w, rec.Code) {
					return true
				}
				break
			}
			p.internalDelete(req, versions, prev.Name, req.w)
			return true
		}
		restored, ok := p.restoreVersion(req, versions, prev.Name)
		if !ok {
			return true
		}
		if !restored {
			continue
		}
		p.internalDelete(req, versions, prev.Name, req.w)
		return true
	}
	return false
}

// restoreVersion is _restore_data: the archived version copied back over
// the object. restored is false when the version is gone; ok false when it
// answered an error.
func (p *Proxy) restoreVersion(req *request, versions, name string) (restored, ok bool) {
	src := p.readLatest(req, versions, name)
	if src == nil {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return false, false
	}
	defer src.Body.Close()
	if src.StatusCode == http.StatusNotFound {
		return false, true
	}
	if !versionError(req.w, src.StatusCode) {
		return false, false
	}
	rec := p.putVersion(req, req.container, req.object, src)
	if !versionError(req.w, rec.Code) {
		return false, false
	}
	return true, true
}
