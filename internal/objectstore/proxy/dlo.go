package proxy

import (
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Dynamic large objects, as upstream's dlo middleware: a GET or HEAD of an
// object whose X-Object-Manifest is "<container>/<prefix>" answers the
// concatenation of the objects under that prefix, in name order (unless
// ?multipart-manifest=get asks for the manifest itself). Its ETag is the
// quoted MD5 of the segments' ETags, its length their sum; a single Range is
// served from the segments it covers. Segments are read with the caller's
// rights.

type dloSegment struct {
	Name  string `json:"name"`
	Bytes int64  `json:"bytes"`
	Hash  string `json:"hash"`
	Last  string `json:"last_modified"`
}

// serveDLO answers a manifest's GET or HEAD; false when resp is no manifest.
func (p *Proxy) serveDLO(req *request, resp *http.Response) bool {
	manifest := resp.Header.Get("X-Object-Manifest")
	if manifest == "" || req.r.URL.Query().Get("multipart-manifest") == "get" {
		return false
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusPartialContent, http.StatusRequestedRangeNotSatisfiable,
		http.StatusNotModified, http.StatusPreconditionFailed:
	default:
		return false
	}
	value, err := url.PathUnescape(manifest)
	if err != nil {
		value = manifest
	}
	container, prefix, ok := strings.Cut(strings.TrimPrefix(value, "/"), "/")
	if !ok || container == "" {
		swob.Text(req.w, http.StatusBadRequest, "X-Object-Manifest must be in the format container/prefix")
		return true
	}
	// the caller must be able to read the segments' container
	seg := *req
	seg.container, seg.object = container, prefix+"x"
	seg.r = req.r.Clone(req.r.Context())
	seg.r.Method = http.MethodGet
	rec := httptest.NewRecorder()
	seg.w = rec
	if !p.authorize(&seg) { // answers into the recorder
		swob.Error(req.w, rec.Code)
		return true
	}
	segments, err := p.listSegments(req, container, prefix)
	if err != nil {
		swob.Error(req.w, http.StatusServiceUnavailable)
		return true
	}
	sum := md5.New()
	var last time.Time
	for _, s := range segments {
		sum.Write([]byte(s.Hash))
		if t, err := time.Parse("2006-01-02T15:04:05.000000", s.Last); err == nil && t.After(last) {
			last = t
		}
	}
	etag := hex.EncodeToString(sum.Sum(nil))
	h := req.w.Header()
	copyHeaders(h, resp.Header)
	h.Del("Content-Range")
	h.Set("X-Object-Manifest", manifest)
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil && lm.After(last) {
		last = lm
	}
	if !last.IsZero() {
		h.Set("Last-Modified", last.UTC().Format(http.TimeFormat))
	}
	// conditionals, a Range or several (multipart/byteranges) over the
	// segments, as swob answers them for a plain object
	pieces := make([]segmentPiece, 0, len(segments))
	for _, s := range segments {
		pieces = append(pieces, segmentPiece{container: container, object: s.Name, first: 0, last: s.Bytes - 1, size: s.Bytes})
	}
	p.serveSegments(req, pieces, etag, last, resp.Header.Get("Content-Type"))
	return true
}

// listSegments lists every object under prefix in container, in name order.
func (p *Proxy) listSegments(req *request, container, prefix string) ([]dloSegment, error) {
	rg := p.opts.Rings.Container
	return listAll(req.r.Context(), p, rg, rg.Partition(req.account, container), "/"+req.account+"/"+container,
		url.Values{"prefix": {prefix}}, http.Header{"X-Trans-Id": {req.transID}}, func(s dloSegment) string { return s.Name })
}
