package s3api

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Object headers S3 and Swift share, passed through both ways (upstream's
// S3Response.from_swift_resp list).
var passedHeaders = []string{"Content-Length", "Content-Type", "Content-Range", "Content-Encoding",
	"Content-Disposition", "Content-Language", "Etag", "Last-Modified", "X-Robots-Tag", "Cache-Control", "Expires"}

// sysmetaETag keeps a multipart upload's S3 ETag on its manifest, as
// upstream's X-Object-Sysmeta-S3api-Etag; sysmetaUploadID its upload id.
const (
	sysmetaETag     = "X-Object-Sysmeta-S3api-Etag"
	sysmetaUploadID = "X-Object-Sysmeta-S3api-Upload-Id"
)

// s3Headers turns a Swift object answer's headers into S3's: user metadata
// as x-amz-meta-*, a quoted ETag (a multipart upload's own), the shared
// headers as they are.
func s3Headers(dst, src http.Header) {
	for k, v := range src {
		if name, ok := strings.CutPrefix(k, "X-Object-Meta-"); ok {
			dst["X-Amz-Meta-"+name] = v
		}
	}
	for _, k := range passedHeaders {
		if v := src.Values(k); len(v) > 0 {
			dst[k] = v
		}
	}
	if etag := src.Get("Etag"); etag != "" {
		dst.Set("Etag", `"`+strings.Trim(etag, `"`)+`"`)
	}
	if etag := src.Get(sysmetaETag); etag != "" {
		dst.Set("Etag", `"`+etag+`"`)
	}
}

// swiftObjectHeaders is what an S3 PUT sends Swift: content headers, user
// metadata (x-amz-meta-* as X-Object-Meta-*; upstream writes an underscore
// as "=5F" because WSGI cannot carry it, HTTP header names can), and
// Content-MD5 as the ETag the object servers check.
func swiftObjectHeaders(src http.Header) (http.Header, *s3Error) {
	h := http.Header{}
	for k, v := range src {
		lk := strings.ToLower(k)
		if name, ok := strings.CutPrefix(lk, "x-amz-meta-"); ok {
			if strings.ContainsAny(name, " \"),/;<=>?@[\\]{}") {
				continue // AWS ignores these
			}
			h[http.CanonicalHeaderKey("X-Object-Meta-"+name)] = v
		}
	}
	for _, k := range []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language",
		"Cache-Control", "Expires"} {
		if v := src.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	if v := src.Get("If-None-Match"); v == "*" {
		h.Set("If-None-Match", v)
	}
	if v := src.Get("Content-Md5"); v != "" {
		etag, err := contentMD5ETag(v)
		if err != nil {
			return nil, err
		}
		h.Set("Etag", etag)
	}
	return h, nil
}

// object is the object controller.
func (s *s3req) object() *s3Error {
	switch s.r.Method {
	case http.MethodGet, http.MethodHead:
		return s.getObject()
	case http.MethodPut:
		if s.r.Header.Get("X-Amz-Copy-Source") != "" {
			return s.copyObject("", "")
		}
		return s.putObject()
	case http.MethodDelete:
		return s.deleteObject()
	}
	return errMethodNotAllowed(s.r.Method, "OBJECT")
}

// getObject is GET and HEAD Object: Range and the conditional headers go to
// Swift; the body streams to the client; response-* parameters override
// the answer's headers.
func (s *s3req) getObject() *s3Error {
	h := http.Header{}
	for _, k := range []string{"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		if v := s.r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	method := s.r.Method
	if status := s.multipartConditionals(h); status != 0 {
		if status == http.StatusNotModified {
			s.w.WriteHeader(status)
			return nil
		}
		return errPreconditionFailed()
	}
	req := s.newSwiftRequest(method, s.bucket, s.key, nil, h, nil, 0)
	ow := &objectWriter{s: s, method: method}
	s.m.next.ServeHTTP(ow, req)
	if ow.status == 0 {
		ow.status = http.StatusOK
		ow.WriteHeader(http.StatusOK)
	}
	if ow.passed {
		return nil
	}
	return s.swiftError(ow.status, ow.errBody.Bytes(), method, s.bucket, s.key)
}

// responseOverrides are GET Object's response-* parameters.
var responseOverrides = map[string]string{
	"response-content-type": "Content-Type", "response-content-language": "Content-Language",
	"response-expires": "Expires", "response-cache-control": "Cache-Control",
	"response-content-disposition": "Content-Disposition", "response-content-encoding": "Content-Encoding",
}

// objectWriter streams a successful Swift object answer to the client with
// S3's headers, and keeps a failed one to be answered as an S3 error.
type objectWriter struct {
	s       *s3req
	method  string
	header  http.Header
	status  int
	passed  bool
	errBody bytes.Buffer
}

func (o *objectWriter) Header() http.Header {
	if o.header == nil {
		o.header = http.Header{}
	}
	return o.header
}

func (o *objectWriter) WriteHeader(code int) {
	if o.status != 0 && o.passed || o.status != 0 && code != o.status {
		return
	}
	o.status = code
	for _, c := range successCodes(o.method, o.s.bucket, o.s.key) {
		if c == code {
			o.passed = true
		}
	}
	if !o.passed {
		return
	}
	dst := o.s.w.Header()
	s3Headers(dst, o.Header())
	if v := o.Header().Get("Accept-Ranges"); v != "" {
		dst.Set("Accept-Ranges", v)
	}
	if o.method == http.MethodGet {
		for p, k := range responseOverrides {
			if o.s.q.Has(p) {
				dst.Set(k, lastValue(o.s.q, p))
			}
		}
	}
	o.s.w.WriteHeader(code)
}

func (o *objectWriter) Write(b []byte) (int, error) {
	if o.status == 0 {
		o.WriteHeader(http.StatusOK)
	}
	if !o.passed {
		if o.errBody.Len() < 64<<10 {
			o.errBody.Write(b)
		}
		return len(b), nil
	}
	return o.s.w.Write(b)
}

func (o *objectWriter) Flush() {
	if f, ok := o.s.w.(http.Flusher); ok && o.passed {
		f.Flush()
	}
}

// putObject is PUT Object: the body streams into Swift.
func (s *s3req) putObject() *s3Error {
	if s.r.ContentLength < 0 {
		return errMissingContentLength()
	}
	h, err := swiftObjectHeaders(s.r.Header)
	if err != nil {
		return err
	}
	resp := s.swift(http.MethodPut, s.bucket, s.key, nil, h, s.r.Body, s.r.ContentLength)
	if err := s.check(resp, http.MethodPut, s.bucket, s.key); err != nil {
		return err
	}
	s.w.Header().Set("Etag", `"`+strings.Trim(resp.Header.Get("Etag"), `"`)+`"`)
	s.w.Header().Set("Content-Length", "0")
	s.w.WriteHeader(http.StatusOK)
	return nil
}

// deleteObject is DELETE Object: a multipart upload's parts go with it; a
// key that is not there is a success (204), a bucket that is not, NoSuchBucket.
func (s *s3req) deleteObject() *s3Error {
	s.deleteUploadSegments(s.bucket, s.key)
	resp := s.swift(http.MethodDelete, s.bucket, s.key, nil, nil, nil, 0)
	if resp.Status == http.StatusNotFound {
		if !s.containerExists(s.bucket) {
			return errNoSuchBucket(s.bucket)
		}
		s.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err := s.check(resp, http.MethodDelete, s.bucket, s.key); err != nil {
		return err
	}
	s.w.WriteHeader(http.StatusNoContent)
	return nil
}

// copySource reads x-amz-copy-source: "[/]bucket/key[?versionId=...]", URL-quoted.
func copySource(v string) (string, string) {
	path, _, _ := strings.Cut(v, "?")
	if p, err := url.PathUnescape(path); err == nil {
		path = p
	}
	b, k, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return b, k
}

// copyObject is PUT Object - Copy (and UploadPart - Copy when dstContainer
// is set): a Swift PUT with X-Copy-From, answered with CopyObjectResult (or
// CopyPartResult).
func (s *s3req) copyObject(dstContainer, dstObject string) *s3Error {
	srcBucket, srcKey := copySource(s.r.Header.Get("X-Amz-Copy-Source"))
	part := dstContainer != ""
	if !part {
		dstContainer, dstObject = s.bucket, s.key
	}
	replace := s.r.Header.Get("X-Amz-Metadata-Directive") == "REPLACE"
	if !part && srcBucket == s.bucket && srcKey == s.key && !replace {
		return errInvalidRequest("This copy request is illegal because it is trying to copy an object to itself " +
			"without changing the object's metadata, storage class, website redirect location or encryption attributes.")
	}
	if s.r.Header.Get("X-Amz-Copy-Source-Range") != "" {
		return errNotImplemented("")
	}
	var h http.Header
	if replace && !part {
		var err *s3Error
		if h, err = swiftObjectHeaders(s.r.Header); err != nil {
			return err
		}
		h.Set("X-Fresh-Metadata", "True")
	} else {
		h = http.Header{}
	}
	h.Set("X-Copy-From", "/"+srcBucket+"/"+url.PathEscape(srcKey))
	for k, sw := range map[string]string{"X-Amz-Copy-Source-If-Match": "If-Match",
		"X-Amz-Copy-Source-If-None-Match": "If-None-Match", "X-Amz-Copy-Source-If-Modified-Since": "If-Modified-Since",
		"X-Amz-Copy-Source-If-Unmodified-Since": "If-Unmodified-Since"} {
		if v := s.r.Header.Get(k); v != "" {
			h.Set(sw, v)
		}
	}
	resp := s.swift(http.MethodPut, dstContainer, dstObject, nil, h, nil, 0)
	if resp.Status == http.StatusNotFound {
		// the source or the destination's bucket is missing: say which
		if !s.containerExists(dstContainer) {
			return errNoSuchBucket(dstContainer)
		}
		if !s.containerExists(srcBucket) {
			return errNoSuchBucket(srcBucket)
		}
		return errNoSuchKey(srcKey)
	}
	if resp.Status == http.StatusPreconditionFailed {
		return errPreconditionFailed()
	}
	if err := s.check(resp, http.MethodPut, dstContainer, dstObject); err != nil {
		return err
	}
	lastModified := time.Now().UTC()
	if t, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		lastModified = t
	}
	root := "CopyObjectResult"
	if part {
		root = "CopyPartResult"
	}
	d := newDoc(root, true)
	d.elem("LastModified", lastModified.UTC().Format("2006-01-02T15:04:05")+".000Z")
	d.elem("ETag", `"`+strings.Trim(resp.Header.Get("Etag"), `"`)+`"`)
	return s.writeXML(http.StatusOK, d.end(root))
}

func itoa(n int) string { return strconv.Itoa(n) }

// multipartConditionals answers If-Match and If-None-Match against a
// multipart upload's S3 ETag (the proxy knows only its manifest's), as
// upstream's s3api has them compared with its s3 etag: it removes them from h
// and returns 412 or 304 when they fail, 0 when the request goes on. Newer
// S3 clients send If-Match with each ranged GET of a multipart download.
func (s *s3req) multipartConditionals(h http.Header) int {
	ifMatch, ifNoneMatch := h.Get("If-Match"), h.Get("If-None-Match")
	if ifMatch == "" && ifNoneMatch == "" {
		return 0
	}
	head := s.swift(http.MethodHead, s.bucket, s.key, url.Values{"multipart-manifest": {"get"}}, nil, nil, 0)
	etag := head.Header.Get(sysmetaETag)
	if head.Status != http.StatusOK || etag == "" {
		return 0 // not a multipart upload: Swift compares its own ETag
	}
	h.Del("If-Match")
	h.Del("If-None-Match")
	if ifMatch != "" && !etagListMatches(ifMatch, etag) {
		return http.StatusPreconditionFailed
	}
	if ifNoneMatch != "" && etagListMatches(ifNoneMatch, etag) {
		return http.StatusNotModified
	}
	return 0
}

// etagListMatches reports whether an If-Match/If-None-Match list names etag.
func etagListMatches(list, etag string) bool {
	for _, e := range strings.Split(list, ",") {
		e = strings.Trim(strings.TrimPrefix(strings.TrimSpace(e), "W/"), `"`)
		if e == "*" || e == etag {
			return true
		}
	}
	return false
}
