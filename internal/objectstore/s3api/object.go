package s3api

import (
	"bytes"
	"fmt"
	"io"
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
	resp := s.deleteObjectAndSegments(s.bucket, s.key)
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
// is set), answered with CopyObjectResult (or CopyPartResult). The source is
// read through the proxy and streamed into the destination, rather than
// copied with X-Copy-From, so that a multipart upload's content (not its
// manifest) is copied, and a part may take a range of it
// (x-amz-copy-source-range).
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
	get := http.Header{}
	for k, sw := range map[string]string{"X-Amz-Copy-Source-If-Match": "If-Match",
		"X-Amz-Copy-Source-If-None-Match": "If-None-Match", "X-Amz-Copy-Source-If-Modified-Since": "If-Modified-Since",
		"X-Amz-Copy-Source-If-Unmodified-Since": "If-Unmodified-Since"} {
		if v := s.r.Header.Get(k); v != "" {
			get.Set(sw, v)
		}
	}
	rng := s.r.Header.Get("X-Amz-Copy-Source-Range")
	if rng != "" {
		if !part {
			return errInvalidArgument("x-amz-copy-source-range", rng, "")
		}
		head := s.swift(http.MethodHead, srcBucket, srcKey, nil, nil, nil, 0)
		if err := s.check(head, http.MethodHead, srcBucket, srcKey); err != nil {
			return err
		}
		size, _ := strconv.ParseInt(head.Header.Get("Content-Length"), 10, 64)
		first, last, ok := parseCopyRange(rng)
		if !ok {
			return errInvalidArgument("x-amz-source-range", rng, "The x-amz-copy-source-range value must be of the form "+
				"bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
		}
		if first >= size || last >= size {
			return errInvalidArgument("x-amz-source-range", rng, fmt.Sprintf("Range specified is not valid for source object of size: %d", size))
		}
		get.Set("Range", rng)
	}
	src := s.streamSource(srcBucket, srcKey, get)
	defer src.close()
	if src.err != nil {
		if src.status == http.StatusNotFound && !s.containerExists(srcBucket) {
			return errNoSuchBucket(srcBucket)
		}
		return src.err
	}
	h := http.Header{}
	switch {
	case part:
	case replace:
		var err *s3Error
		if h, err = swiftObjectHeaders(s.r.Header); err != nil {
			return err
		}
		h.Del("Etag")
	default:
		for k, v := range src.header {
			if strings.HasPrefix(k, "X-Object-Meta-") {
				h[k] = v
			}
		}
		for _, k := range []string{"Content-Type", "Content-Encoding", "Content-Disposition", "Content-Language",
			"Cache-Control", "Expires"} {
			if v := src.header.Get(k); v != "" {
				h.Set(k, v)
			}
		}
	}
	length, _ := strconv.ParseInt(src.header.Get("Content-Length"), 10, 64)
	resp := s.swift(http.MethodPut, dstContainer, dstObject, nil, h, src.body, length)
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

// parseCopyRange reads "bytes=first-last", both given.
func parseCopyRange(v string) (int64, int64, bool) {
	spec, ok := strings.CutPrefix(v, "bytes=")
	a, b, ok2 := strings.Cut(spec, "-")
	if !ok || !ok2 {
		return 0, 0, false
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || first < 0 || last < first {
		return 0, 0, false
	}
	return first, last, true
}

// sourceStream is an object read through the proxy, its body streamed
// through a pipe as the destination's PUT reads it.
type sourceStream struct {
	status int
	header http.Header
	body   *io.PipeReader
	err    *s3Error
	done   chan struct{}
}

// close ends the read (a PUT that stopped early leaves the GET blocked on
// the pipe) and waits for it.
func (src *sourceStream) close() {
	if src.body != nil {
		_ = src.body.CloseWithError(errBody)
	}
	<-src.done
}

// streamSource starts a GET of the source and waits for its status.
func (s *s3req) streamSource(bucket, key string, h http.Header) *sourceStream {
	pr, pw := io.Pipe()
	w := &pipeWriter{header: http.Header{}, pw: pw, started: make(chan struct{})}
	src := &sourceStream{body: pr, done: make(chan struct{})}
	req := s.newSwiftRequest(http.MethodGet, bucket, key, nil, h, nil, 0)
	go func() {
		defer close(src.done)
		s.m.next.ServeHTTP(w, req)
		w.start(http.StatusOK)
		if w.failed {
			_ = pw.Close()
			return
		}
		_ = pw.Close()
	}()
	<-w.started
	src.status, src.header = w.status, w.header
	if w.failed {
		// the error body was kept: the proxy has finished answering
		<-src.done
		src.err = s.swiftError(w.status, w.errBody.Bytes(), http.MethodGet, bucket, key)
		if w.status == http.StatusNotModified {
			src.err = errPreconditionFailed()
		}
	}
	return src
}

// pipeWriter hands a successful answer's body to a pipe, and keeps a failed one.
type pipeWriter struct {
	header  http.Header
	pw      *io.PipeWriter
	status  int
	failed  bool
	once    bool
	started chan struct{}
	errBody bytes.Buffer
}

func (p *pipeWriter) Header() http.Header { return p.header }

func (p *pipeWriter) start(code int) {
	if p.once {
		return
	}
	p.once, p.status = true, code
	p.failed = code != http.StatusOK && code != http.StatusPartialContent
	close(p.started)
}

func (p *pipeWriter) WriteHeader(code int) { p.start(code) }

func (p *pipeWriter) Write(b []byte) (int, error) {
	p.start(http.StatusOK)
	if p.failed {
		if p.errBody.Len() < 64<<10 {
			p.errBody.Write(b)
		}
		return len(b), nil
	}
	return p.pw.Write(b)
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
