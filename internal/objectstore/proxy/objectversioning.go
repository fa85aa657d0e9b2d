package proxy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Object versioning, as upstream's object_versioning middleware
// (X-Versions-Enabled): a versioned container's objects keep their data in
// the hidden container "\x00versions\x00<container>" as
// "\x00<object>\x00<inverted timestamp>" (newest first in a listing), and
// the container holds a static symlink to the current version. The
// version id is the write's timestamp. Reserved names (the "\x00" prefix)
// are the proxy's own: dispatch refuses them from clients (412, as
// upstream's check_utf8 without X-Backend-Allow-Reserved-Names).

const (
	sysmetaVersionsEnabled   = "X-Container-Sysmeta-Versions-Enabled"
	sysmetaVersionsCont      = "X-Container-Sysmeta-Versions-Container"
	sysmetaVersionsSymlink   = "X-Object-Sysmeta-Versions-Symlink"
	clientVersionsEnabled    = "X-Versions-Enabled"
	reservedPrefix           = "\x00"
	maxRawTimestamp          = 999999999999999 // 9999999999.99999 in 1e-5 units
	objectVersioningDeleteCT = "application/x-deleted;swift_versions_deleted=1"
)

// reservedName is get_reserved_name.
func reservedName(parts ...string) string {
	return reservedPrefix + strings.Join(parts, reservedPrefix)
}

// splitReservedName is split_reserved_name.
func splitReservedName(name string) ([]string, bool) {
	if !strings.HasPrefix(name, reservedPrefix) {
		return nil, false
	}
	return strings.Split(name[1:], reservedPrefix), true
}

// versionsContainerName is build_versions_container_name.
func versionsContainerName(container string) string { return reservedName("versions", container) }

// invert is ~Timestamp.
func invert(t swob.Timestamp) swob.Timestamp { return swob.Timestamp(maxRawTimestamp - int64(t)) }

// versionObjectName is build_versions_object_name; versionID must parse.
func versionObjectName(object string, versionID swob.Timestamp) string {
	return reservedName(object, invert(versionID).Normal())
}

// parseVersionObjectName is parse_versions_object_name: the user's object
// name and the version id ("" when name is no version's).
func parseVersionObjectName(name string) (string, string) {
	parts, ok := splitReservedName(name)
	if !ok || len(parts) != 2 {
		return name, ""
	}
	inv, err := swob.ParseTimestamp(parts[1])
	if err != nil || int64(inv) > maxRawTimestamp {
		return name, ""
	}
	return parts[0], invert(inv).Normal()
}

// parseVersionID is validate_version: "null" (when allowed) or a timestamp.
func parseVersionID(v string, allowNull bool) (swob.Timestamp, bool, bool) {
	if v == "null" && allowNull {
		return 0, true, true
	}
	t, err := swob.ParseTimestamp(v)
	if err != nil {
		return 0, false, false
	}
	return t, false, true
}

func trueValue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "t", "y":
		return true
	}
	return false
}

func badRequest(w http.ResponseWriter, msg string) {
	swob.Write(w, http.StatusBadRequest, "text/html; charset=UTF-8", msg)
}

// versioningContainerHeaders adds X-Versions-Enabled to a container's
// answer, from its sysmeta, and counts its versions' bytes in
// X-Container-Bytes-Used.
func (p *Proxy) versioningContainerHeaders(req *request, h http.Header) {
	if v, ok := h[sysmetaVersionsEnabled]; ok && len(v) > 0 {
		h.Set(clientVersionsEnabled, v[0])
	}
	versions := versionsOf(h)
	used, err := strconv.ParseInt(h.Get("X-Container-Bytes-Used"), 10, 64)
	if versions == "" || err != nil {
		return
	}
	sub := *req
	sub.container = versions
	if info, _ := p.containerInfo(req.r.Context(), &sub); info != nil {
		if n, err := strconv.ParseInt(info.Get("X-Container-Bytes-Used"), 10, 64); err == nil {
			h.Set("X-Container-Bytes-Used", strconv.FormatInt(used+n, 10))
		}
	}
}

// objectVersioningContainer is ContainerContext: enable_versioning on a PUT
// or POST with X-Versions-Enabled, the versions container's removal on a
// DELETE, ?versions listings. True when it answered.
func (p *Proxy) objectVersioningContainer(req *request) bool {
	r := req.r
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		if _, ok := r.Header[clientVersionsEnabled]; ok {
			return p.enableVersioning(req)
		}
	case http.MethodDelete:
		return p.deleteVersionsContainer(req)
	case http.MethodGet:
		if _, ok := r.URL.Query()["versions"]; ok {
			p.listVersionsJSON(req)
			return true
		}
	}
	return false
}

func (p *Proxy) enableVersioning(req *request) bool {
	r := req.r
	info, answered := p.containerInfo(r.Context(), req)
	if !answered {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return true
	}
	if info != nil && info.Get(sysmetaVersionsLocation) != "" || r.Header.Get(sysmetaVersionsLocation) != "" {
		badRequest(req.w, "Cannot enable object versioning on a container that is already using the legacy versioned writes feature.")
		return true
	}
	enabled := trueValue(r.Header.Get(clientVersionsEnabled))
	r.Header.Del(clientVersionsEnabled)
	// stored as upstream stores a Python bool, answered back as such
	r.Header.Set(sysmetaVersionsEnabled, map[bool]string{true: "True", false: "False"}[enabled])
	if !enabled {
		return false
	}
	sub := *req
	sub.container = versionsContainerName(req.container)
	sub.r = req.r.Clone(internalContext(r.Context()))
	sub.r.Method = http.MethodPut
	sub.r.Body, sub.r.ContentLength = http.NoBody, 0
	sub.r.Header = http.Header{}
	if info != nil {
		sub.r.Header.Set("X-Storage-Policy", policyName(info))
	} else if v := r.Header.Get("X-Storage-Policy"); v != "" && r.Method == http.MethodPut {
		sub.r.Header.Set("X-Storage-Policy", v)
	}
	rec := httptest.NewRecorder()
	sub.w = rec
	p.containerPut(&sub)
	if rec.Code/100 != 2 && rec.Code != http.StatusConflict {
		swob.Text(req.w, http.StatusInternalServerError, "Error enabling object versioning")
		return true
	}
	r.Header.Set(sysmetaVersionsCont, quote(sub.container, "/"))
	return false
}

// deleteVersionsContainer is ContainerContext.handle_delete: the versions
// container goes first, and only when it is empty (409 otherwise).
func (p *Proxy) deleteVersionsContainer(req *request) bool {
	info, _ := p.containerInfo(req.r.Context(), req)
	if info == nil || info.Get(sysmetaVersionsCont) == "" {
		return false
	}
	versions, err := url.PathUnescape(info.Get(sysmetaVersionsCont))
	if err != nil {
		return false
	}
	sub := *req
	sub.container = versions
	vinfo, answered := p.containerInfo(req.r.Context(), &sub)
	switch {
	case vinfo != nil:
		if n, _ := strconv.ParseInt(vinfo.Get("X-Container-Object-Count"), 10, 64); n > 0 {
			swob.Write(req.w, http.StatusConflict, "text/html; charset=UTF-8", "Delete all versions before deleting container.")
			return true
		}
	case !answered:
		swob.Text(req.w, http.StatusInternalServerError, "Error deleting versioned container")
		return true
	}
	rec := httptest.NewRecorder()
	sub.w = rec
	p.containerDelete(&sub)
	if rec.Code/100 != 2 && rec.Code != http.StatusNotFound {
		swob.Text(req.w, http.StatusInternalServerError, "Error deleting versioned container")
		return true
	}
	return false
}

// objectVersioning is ObjectContext.handle_request for what comes before
// the other object middleware: a request with ?version-id, and the
// version headers of a GET or HEAD. True when it answered.
func (p *Proxy) objectVersioning(req *request) bool {
	if isInternal(req.r) {
		return false
	}
	r := req.r
	q := r.URL.Query()
	if v := q.Get("version-id"); v != "" {
		info, answered := p.containerInfo(r.Context(), req)
		if !answered {
			swob.Error(req.w, http.StatusServiceUnavailable)
			return true
		}
		return p.withVersionID(req, versionsOf(info), v)
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		p.versionHeadersOnRead(req, versionsContainerName(req.container))
	}
	return false
}

// versionsOf is the container's versions container, "" when it has none.
func versionsOf(info http.Header) string {
	if info == nil {
		return ""
	}
	v, err := url.PathUnescape(info.Get(sysmetaVersionsCont))
	if err != nil {
		return ""
	}
	v, _, _ = strings.Cut(v, "/")
	return v
}

// objectVersioningWrite is handle_put and handle_delete, run by the PUT
// and DELETE once the container's info is known; true when it answered.
func (p *Proxy) objectVersioningWrite(req *request, info http.Header) bool {
	versions := versionsOf(info)
	if versions == "" || isInternal(req.r) || !trueValue(info.Get(sysmetaVersionsEnabled)) {
		return false
	}
	if req.r.Method == http.MethodDelete {
		return p.versionedMarkerDelete(req, versions)
	}
	return p.versionedPut(req, versions)
}

// versionedPost is handle_post: a POST that landed on a link to a version
// is applied to the version. True when it answered w.
func (p *Proxy) versionedPost(req *request, w http.ResponseWriter, h http.Header) bool {
	if h.Get(sysmetaVersionsSymlink) != "true" {
		return false
	}
	target, err := url.PathUnescape(h.Get(sysmetaSymlinkTarget))
	versions := versionsContainerName(req.container)
	if err != nil || !strings.HasPrefix(target, versions+"/") {
		return false
	}
	post := req.r.Clone(internalContext(req.r.Context()))
	post.Header = req.r.Header.Clone()
	post.Header.Del("X-Delete-At")
	post.Header.Del("X-Delete-After")
	rec := httptest.NewRecorder()
	sub := *req
	sub.r, sub.w = post, rec
	sub.container, sub.object = versions, target[len(versions)+1:]
	p.objectPost(&sub)
	for k := range h {
		delete(h, k)
	}
	copyRecorded(w, rec)
	return true
}

// withVersionID is handle_request_with_version_id.
func (p *Proxy) withVersionID(req *request, versions, v string) bool {
	r := req.r
	if r.Method == http.MethodPost {
		badRequest(req.w, "POST to a specific version is not allowed")
		return true
	}
	if versions == "" && v != "null" {
		badRequest(req.w, "version-aware operations require that the container is versioned")
		return true
	}
	allowNull := r.Method != http.MethodPut
	ts, isNull, ok := parseVersionID(v, allowNull)
	if !ok {
		badRequest(req.w, "Invalid version parameter")
		return true
	}
	if !isNull && (r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodDelete) &&
		!req.owner && req.tempURLExpires == 0 {
		// the version itself is read or deleted in the versions container,
		// which no container ACL grants
		swob.Error(req.w, http.StatusForbidden)
		return true
	}
	switch r.Method {
	case http.MethodOptions:
		return false
	case http.MethodDelete:
		if isNull {
			return false
		}
		p.deleteVersion(req, versions, ts)
		return true
	case http.MethodPut:
		p.putVersionLatest(req, versions, ts)
		return true
	case http.MethodGet, http.MethodHead:
		if isNull {
			inner := req.w
			req.w = &headerFilter{ResponseWriter: inner, keepSysmeta: true, intercept: func(status int, h http.Header) bool {
				if status/100 != 2 {
					return false
				}
				if loc := h.Get("Content-Location"); strings.Contains(loc, reservedName("versions", "")) ||
					strings.Contains(loc, "%00versions%00") {
					for k := range h {
						delete(h, k)
					}
					swob.Error(inner, http.StatusNotFound)
					return true
				}
				h.Set("X-Object-Version-Id", "null")
				return false
			}}
			return false
		}
		sub := *req
		sub.container, sub.object = versions, versionObjectName(req.object, ts)
		id := ts.Normal()
		outer := req.w
		sub.w = &headerFilter{ResponseWriter: outer, keepSysmeta: true, intercept: func(status int, h http.Header) bool {
			ct := h.Get("Content-Type")
			if ct == objectVersioningDeleteCT {
				for k := range h {
					delete(h, k)
				}
				h.Set("X-Object-Version-Id", id)
				swob.Write(outer, http.StatusNotFound, objectVersioningDeleteCT, "")
				return true
			}
			if status/100 == 2 {
				h.Set("X-Object-Version-Id", id)
			}
			return false
		}}
		p.objectGet(&sub)
		return true
	}
	return false
}

// linkTarget is the primary's raw object: gone (404), or its versions
// symlink's target ("" when not one). ok false when it answered an error.
func (p *Proxy) linkTarget(req *request) (gone bool, target string, ok bool) {
	resp := p.readLatest(req, req.container, req.object)
	if resp == nil {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return false, "", false
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return true, "", true
	}
	if !versionError(req.w, resp.StatusCode) {
		return false, "", false
	}
	if resp.Header.Get(sysmetaVersionsSymlink) == "true" {
		t, err := url.PathUnescape(resp.Header.Get(sysmetaSymlinkTarget))
		if err == nil {
			target = t
		}
	}
	return false, target, true
}

// deleteVersion is handle_delete_with_version_id.
func (p *Proxy) deleteVersion(req *request, versions string, ts swob.Timestamp) {
	gone, target, ok := p.linkTarget(req)
	if !ok {
		return
	}
	vname := versionObjectName(req.object, ts)
	current := "null"
	if !gone && target != "" && target != versions+"/"+vname {
		_, obj, _ := strings.Cut(target, "/")
		_, current = parseVersionObjectName(obj)
	} else if !gone && target != "" {
		rec := httptest.NewRecorder()
		p.internalDelete(req, req.container, req.object, rec)
		if rec.Code != http.StatusNotFound && !versionError(req.w, rec.Code) {
			return
		}
	}
	req.w.Header().Set("X-Object-Version-Id", ts.Normal())
	req.w.Header().Set("X-Object-Current-Version-Id", current)
	p.internalDelete(req, versions, vname, req.w)
}

// putVersionLatest is handle_put_with_version_id: the named version made
// the current one.
func (p *Proxy) putVersionLatest(req *request, versions string, ts swob.Timestamp) {
	r := req.r
	if r.ContentLength < 0 {
		var one [1]byte
		if n, _ := io.ReadFull(r.Body, one[:]); n > 0 {
			swob.Text(req.w, http.StatusBadRequest, "PUT version-id requests require a zero byte body")
			return
		}
	} else if r.ContentLength != 0 {
		swob.Text(req.w, http.StatusBadRequest, "PUT version-id requests require a zero byte body")
		return
	}
	vname := versionObjectName(req.object, ts)
	head := p.readLatest(req, versions, vname)
	if head == nil {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return
	}
	head.Body.Close()
	if head.StatusCode == http.StatusNotFound {
		sub := *req
		sub.container = versions
		if info, _ := p.containerInfo(r.Context(), &sub); info != nil {
			swob.Text(req.w, http.StatusNotFound, "The specified version does not exist")
		} else {
			swob.Text(req.w, http.StatusInternalServerError, "The versions container does not exist. You may want to re-enable object versioning.")
		}
		return
	}
	if !versionError(req.w, head.StatusCode) {
		return
	}
	etag := strings.Trim(head.Header.Get("Etag"), `"`)
	size := head.Header.Get(sysmetaSLOSize)
	if size == "" {
		size = head.Header.Get("Content-Length")
	}
	ct := head.Header.Get("Content-Type")
	p.putVersionLink(req, versions, vname, etag, size, ct)
}

// putVersionLink is _put_symlink_to_version: the primary's object becomes
// a static link to versions/vname, answered with the version's ETag and id.
func (p *Proxy) putVersionLink(req *request, versions, vname, etag, size, contentType string) {
	r := req.r
	h := r.Header
	for _, k := range []string{"Etag", "X-If-Delete-At", "X-Symlink-Target-Account", "X-Object-Manifest",
		"X-Static-Large-Object", sysmetaSLOEtag, sysmetaSLOSize, "X-Symlink-Target", "X-Symlink-Target-Etag",
		"X-Symlink-Target-Bytes", "X-Copy-From", "Transfer-Encoding"} {
		h.Del(k)
	}
	h.Set("Content-Type", contentType)
	target := quote(versions+"/"+vname, "/")
	h.Set(sysmetaSymlinkTarget, target)
	h.Set(sysmetaSymlinkTargetEtag, etag)
	h.Set(sysmetaSymlinkTargetBytes, size)
	h.Set(sysmetaVersionsSymlink, "true")
	h.Set(sysmetaOverrideEtag, md5OfEmpty+"; symlink_target="+target+"; symlink_target_etag="+etag+"; symlink_target_bytes="+size)
	r.Body, r.ContentLength, r.TransferEncoding = http.NoBody, 0, nil
	_, id := parseVersionObjectName(vname)
	sub := *req
	sub.r = r.Clone(internalContext(r.Context()))
	sub.w = &headerFilter{ResponseWriter: req.w, keepSysmeta: true, intercept: func(status int, hh http.Header) bool {
		if status/100 == 2 {
			hh.Set("Etag", etag)
			hh.Set("X-Object-Version-Id", id)
		}
		return false
	}}
	p.objectPut(&sub)
}

// countingReader counts what a client's body gave (ByteCountingReader).
type countingReader struct {
	io.ReadCloser
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.n += int64(n)
	return n, err
}

// versionedPut is handle_put: an object written before versioning was
// enabled is archived first, the client's data goes to the versions
// container, and a link to it to the container.
func (p *Proxy) versionedPut(req *request, versions string) bool {
	r := req.r
	if !p.copyCurrentUnlinked(req, versions) {
		return true
	}
	ts := swob.Now()
	vname := versionObjectName(req.object, ts)
	put := r.Clone(internalContext(r.Context()))
	put.Header = r.Header.Clone()
	put.Header.Del("X-Delete-At")
	put.Header.Del("X-Delete-After")
	counter := &countingReader{ReadCloser: r.Body}
	put.Body = counter
	rec := httptest.NewRecorder()
	sub := *req
	sub.r, sub.w = put, rec
	sub.container, sub.object = versions, vname
	p.objectPut(&sub)
	if rec.Code == http.StatusNotFound {
		swob.Text(req.w, http.StatusInternalServerError, "The versions container does not exist. You may want to re-enable object versioning.")
		return true
	}
	if rec.Code/100 != 2 {
		copyRecorded(req.w, rec)
		return true
	}
	size := strconv.FormatInt(counter.n, 10)
	if v := put.Header.Get(sysmetaSLOSize); v != "" {
		size = v
	}
	ct := put.Header.Get("Content-Type")
	if ct == "" {
		ct = guessType(req.object)
	}
	ct, _, _ = strings.Cut(ct, ";")
	p.putVersionLink(req, versions, vname, strings.Trim(rec.Header().Get("Etag"), `"`), size, strings.TrimSpace(ct))
	return true
}

// copyCurrentUnlinked is _copy_current: the current object, when it is no
// link to a version (written before versioning was enabled), copied into
// the versions container. False when it answered.
func (p *Proxy) copyCurrentUnlinked(req *request, versions string) bool {
	src := p.readLatest(req, req.container, req.object)
	if src == nil {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return false
	}
	defer src.Body.Close()
	if src.StatusCode == http.StatusNotFound || (src.StatusCode/100 == 2 && src.Header.Get(sysmetaVersionsSymlink) == "true") {
		return true
	}
	if !versionError(req.w, src.StatusCode) {
		return false
	}
	ts, err := swob.ParseTimestamp(src.Header.Get("X-Timestamp"))
	if err != nil {
		t, _ := http.ParseTime(src.Header.Get("Last-Modified"))
		ts = swob.FromTime(t)
	}
	rec := p.putVersion(req, versions, versionObjectName(req.object, ts), src)
	if rec.Code == http.StatusNotFound {
		swob.Text(req.w, http.StatusInternalServerError, "The versions container does not exist. You may want to re-enable object versioning.")
		return false
	}
	return versionError(req.w, rec.Code)
}

// versionedMarkerDelete is handle_delete: a delete marker in the versions
// container, then the object's link deleted.
func (p *Proxy) versionedMarkerDelete(req *request, versions string) bool {
	if !p.copyCurrentUnlinked(req, versions) {
		return true
	}
	ts := swob.Now()
	marker := req.r.Clone(internalContext(req.r.Context()))
	marker.Method = http.MethodPut
	marker.Header = http.Header{"Content-Type": {objectVersioningDeleteCT}}
	marker.Body, marker.ContentLength = http.NoBody, 0
	rec := httptest.NewRecorder()
	sub := *req
	sub.r, sub.w = marker, rec
	sub.container, sub.object = versions, versionObjectName(req.object, ts)
	p.objectPut(&sub)
	if !versionError(req.w, rec.Code) {
		return true
	}
	id := ts.Normal()
	del := *req
	del.w = &headerFilter{ResponseWriter: req.w, keepSysmeta: true, intercept: func(status int, h http.Header) bool {
		if status/100 == 2 || status == http.StatusNotFound {
			h.Set("X-Object-Version-Id", id)
		}
		return false
	}}
	p.objectWrite(&del, http.MethodDelete, nil)
	return true
}

// versionHeadersOnRead is handle_get_head_options: X-Object-Version-Id
// ("null" for an object that is no link to a version), and the link's
// Content-Location and X-Symlink-Target as the version's URL.
func (p *Proxy) versionHeadersOnRead(req *request, versions string) {
	prefix := "/" + req.version + "/" + req.account + "/" + versions + "/"
	req.w = &headerFilter{ResponseWriter: req.w, keepSysmeta: true, intercept: func(_ int, h http.Header) bool {
		if loc, err := url.PathUnescape(h.Get("Content-Location")); err == nil && strings.HasPrefix(loc, prefix) {
			if _, id := parseVersionObjectName(loc[len(prefix):]); id != "" {
				h.Set("X-Object-Version-Id", id)
				h.Set("Content-Location", quote("/"+req.version+"/"+req.account+"/"+req.container+"/"+req.object, "/")+"?version-id="+id)
			}
		}
		if t, err := url.PathUnescape(h.Get("X-Symlink-Target")); err == nil && strings.HasPrefix(t, versions+"/") {
			if _, id := parseVersionObjectName(t[len(versions)+1:]); id != "" {
				h.Set("X-Object-Version-Id", id)
				h.Set("X-Symlink-Target", quote(req.container+"/"+req.object, "/")+"?version-id="+id)
			}
		}
		return false
	}}
}

// versionMarkerParams is _list_versions' marker rule: the versions
// container's marker for the client's marker and version_marker.
func versionMarkerParams(q url.Values) (string, string) {
	marker, hasMarker := q["marker"]
	vm, hasVM := q["version_marker"]
	if !hasMarker {
		if hasVM {
			return "", "version_marker param requires marker"
		}
		return "", ""
	}
	m := ""
	if len(marker) > 0 {
		m = marker[0]
	}
	if !hasVM {
		return reservedName(m, "") + ":", ""
	}
	v := ""
	if len(vm) > 0 {
		v = vm[0]
	}
	if v == "null" {
		return reservedName(m, ""), ""
	}
	ts, err := swob.ParseTimestamp(v)
	if err != nil {
		return "", "invalid version_marker param"
	}
	return versionObjectName(m, ts), ""
}

// listVersionsJSON is _list_versions: the container's current objects and
// every version of the versions container, with version_id and is_latest,
// as JSON.
func (p *Proxy) listVersionsJSON(req *request) {
	r := req.r
	q := r.URL.Query()
	vmarker, msg := versionMarkerParams(q)
	if msg != "" {
		badRequest(req.w, msg)
		return
	}
	if strings.ContainsAny(q.Get("delimiter"), "0123456789."+reservedPrefix) {
		badRequest(req.w, "invalid delimiter param")
		return
	}
	limit := ListingLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			swob.Text(req.w, http.StatusPreconditionFailed, "Value of limit must be a positive integer")
			return
		}
		if n > ListingLimit {
			swob.Text(req.w, http.StatusPreconditionFailed, "Maximum limit is "+strconv.Itoa(ListingLimit))
			return
		}
		limit = n
	}
	// the container's own listing, as JSON
	pq := url.Values{}
	for k, v := range q {
		if k != "version_marker" && k != "format" {
			pq[k] = v
		}
	}
	pq.Set("format", "json")
	sub := *req
	sub.r = r.Clone(r.Context())
	sub.r.URL = &url.URL{Path: r.URL.Path, RawQuery: pq.Encode()}
	sub.r.Header.Del("Accept")
	rec := httptest.NewRecorder()
	sub.w = &headerFilter{ResponseWriter: rec, keepSysmeta: true}
	p.serveContainerListing(&sub)
	if rec.Code/100 != 2 || r.Method == http.MethodHead {
		copyRecorded(req.w, rec)
		return
	}
	var primary []map[string]any
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.UseNumber()
	if err := dec.Decode(&primary); err != nil {
		copyRecorded(req.w, rec)
		return
	}
	versions := versionsContainerName(req.container)
	if v, err := url.PathUnescape(rec.Header().Get(sysmetaVersionsCont)); err == nil && v != "" {
		versions = v
	}
	linkPrefix := "/" + req.version + "/" + req.account + "/" + versions + "/"
	var out []map[string]any
	subdirs := map[string]bool{}
	current := map[string]map[string]any{} // link path -> the container's row
	latest := map[string]bool{}
	for _, row := range primary {
		name, ok := row["name"].(string)
		if !ok {
			if s, ok := row["subdir"].(string); ok {
				subdirs[s] = true
			}
			continue
		}
		if sp, ok := row["symlink_path"].(string); ok && row["version_symlink"] == true {
			if path, err := url.PathUnescape(sp); err == nil && strings.HasPrefix(path, linkPrefix) {
				current[path] = row
				continue
			}
		}
		row["version_id"], row["is_latest"] = "null", true
		latest[name] = true
		out = append(out, row)
	}
	vq := url.Values{"format": {"json"}, "limit": {strconv.Itoa(limit)}}
	if _, ok := q["prefix"]; ok {
		vq.Set("prefix", reservedName(q.Get("prefix")))
	}
	if vmarker != "" {
		vq.Set("marker", vmarker)
	}
	for _, k := range []string{"delimiter", "reverse"} {
		if _, ok := q[k]; ok {
			vq.Set(k, q.Get(k))
		}
	}
	rg := p.opts.Rings.Container
	resp := p.readFirst(r.Context(), rg, rg.Partition(req.account, versions), http.MethodGet,
		"/"+req.account+"/"+versions, vq.Encode(), http.Header{"X-Trans-Id": {req.transID}, "X-Backend-Allow-Reserved-Names": {"true"}})
	if resp == nil {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return
	}
	defer resp.Body.Close()
	var vrows []map[string]any
	switch {
	case resp.StatusCode == http.StatusNotFound:
	case resp.StatusCode/100 == 2:
		d := json.NewDecoder(resp.Body)
		d.UseNumber()
		if err := d.Decode(&vrows); err != nil {
			vrows = nil
		}
	default:
		swob.Error(req.w, resp.StatusCode)
		return
	}
	for _, row := range vrows {
		vname, ok := row["name"].(string)
		if !ok {
			if s, ok := row["subdir"].(string); ok {
				if parts, ok := splitReservedName(s); ok && len(parts) > 0 {
					subdirs[parts[0]] = true
				}
			}
			continue
		}
		name, id := parseVersionObjectName(vname)
		if id == "" {
			continue
		}
		path := linkPrefix + vname
		isLatest := false
		if _, ok := current[path]; ok {
			isLatest = true
			delete(current, path)
			latest[name] = true
		} else if row["content_type"] == objectVersioningDeleteCT && !latest[name] {
			isLatest = true
			latest[name] = true
		}
		row["name"], row["version_id"], row["is_latest"] = name, id, isLatest
		out = append(out, row)
	}
	// links whose version is not (or not yet) in the versions listing
	var broken []map[string]any
	for path, row := range current {
		name, id := parseVersionObjectName(path[len(linkPrefix):])
		if id == "" {
			continue
		}
		isLatest := !latest[name]
		latest[name] = true
		broken = append(broken, map[string]any{"name": name, "is_latest": isLatest, "version_id": id,
			"content_type": row["content_type"], "bytes": row["bytes"], "hash": row["hash"],
			"last_modified": row["last_modified"]})
	}
	sort.Slice(broken, func(i, j int) bool { return broken[i]["name"].(string) < broken[j]["name"].(string) })
	out = append(out, broken...)
	for s := range subdirs {
		out = append(out, map[string]any{"subdir": s})
	}
	key := func(m map[string]any) string {
		if s, ok := m["subdir"].(string); ok {
			return s
		}
		s, _ := m["name"].(string)
		return s
	}
	reverse := trueValue(q.Get("reverse"))
	sort.SliceStable(out, func(i, j int) bool {
		if reverse {
			return key(out[i]) > key(out[j])
		}
		return key(out[i]) < key(out[j])
	})
	if len(out) > limit {
		out = out[:limit]
	}
	if out == nil {
		out = []map[string]any{}
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out)
	for k, v := range rec.Header() {
		if k != "Content-Length" {
			req.w.Header()[k] = v
		}
	}
	swob.Write(req.w, rec.Code, "application/json; charset=utf-8", strings.TrimRight(body.String(), "\n"))
}

// versionLinkRows is ContainerContext.handle_request's listing rewrite: a
// row that links to a version of the container lists the version's size
// and ETag, "version_symlink": true, and (but in a ?versions listing) the
// version's URL as its symlink_path.
func versionLinkRows(body []byte, version, account, container string, versions bool) []byte {
	prefix := "/" + version + "/" + account + "/" + versionsContainerName(container) + "/"
	if !bytes.Contains(body, []byte("versions")) {
		return body
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var rows []map[string]any
	if err := dec.Decode(&rows); err != nil {
		return body
	}
	changed := false
	for _, row := range rows {
		sp, ok := row["symlink_path"].(string)
		etag, okEtag := row["symlink_etag"].(string)
		size, okSize := row["symlink_bytes"]
		if !ok || !okEtag || !okSize {
			continue
		}
		path, err := url.PathUnescape(sp)
		if err != nil || !strings.HasPrefix(path, prefix) {
			continue
		}
		hash, _ := row["hash"].(string)
		_, params := parseHeaderParams(hash)
		for _, kv := range params {
			etag += "; " + kv[0] + "=" + kv[1]
		}
		delete(row, "symlink_bytes")
		delete(row, "symlink_etag")
		row["bytes"], row["hash"], row["version_symlink"] = size, etag, true
		if obj, id := parseVersionObjectName(path[len(prefix):]); id != "" && !versions {
			row["symlink_path"] = quote("/"+version+"/"+account+"/"+container+"/"+obj, "/") + "?version-id=" + id
		}
		changed = true
	}
	if !changed {
		return body
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rows); err != nil {
		return body
	}
	return bytes.TrimRight(out.Bytes(), "\n")
}
