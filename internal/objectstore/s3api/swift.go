package s3api

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// swiftResp is a Swift answer read whole (listings, HEADs, small bodies).
type swiftResp struct {
	Status int
	Header http.Header
	Body   []byte
}

// swiftPath is the Swift path of a container or object of the caller's account.
func (s *s3req) swiftPath(container, object string) string {
	p := "/v1/" + s.account
	if container != "" {
		p += "/" + container
		if object != "" {
			p += "/" + object
		}
	}
	return p
}

// newSwiftRequest builds an in-process Swift request, carrying the caller's
// credentials (set on s.r's context by serve).
func (s *s3req) newSwiftRequest(method, container, object string, query url.Values, h http.Header, body io.Reader, length int64) *http.Request {
	if body == nil {
		body = http.NoBody
	}
	req, _ := http.NewRequestWithContext(s.r.Context(), method, "/", body)
	req.URL = &url.URL{Path: s.swiftPath(container, object)}
	if query != nil {
		req.URL.RawQuery = query.Encode()
	}
	req.RequestURI = ""
	req.Host = s.r.Host
	req.ContentLength = length
	if h != nil {
		req.Header = h
	}
	req.RemoteAddr = s.r.RemoteAddr
	return req
}

// swift runs a Swift request and reads its answer whole.
func (s *s3req) swift(method, container, object string, query url.Values, h http.Header, body io.Reader, length int64) *swiftResp {
	rec := &bufferWriter{header: http.Header{}}
	s.m.next.ServeHTTP(rec, s.newSwiftRequest(method, container, object, query, h, body, length))
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	return &swiftResp{Status: rec.status, Header: rec.header, Body: rec.body.Bytes()}
}

// bufferWriter records a Swift answer.
type bufferWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferWriter) Header() http.Header { return b.header }
func (b *bufferWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// successCodes are the statuses upstream's _swift_success_codes takes as success.
func successCodes(method, container, object string) []int {
	switch {
	case container == "":
		return []int{http.StatusOK}
	case object == "":
		switch method {
		case http.MethodHead, http.MethodPost, http.MethodDelete:
			return []int{http.StatusNoContent}
		case http.MethodGet:
			return []int{http.StatusOK, http.StatusNoContent}
		case http.MethodPut:
			return []int{http.StatusCreated}
		}
	default:
		switch method {
		case http.MethodHead, http.MethodGet:
			return []int{http.StatusOK, http.StatusPartialContent, http.StatusNotModified}
		case http.MethodPut:
			return []int{http.StatusCreated, http.StatusAccepted}
		case http.MethodPost:
			return []int{http.StatusAccepted}
		case http.MethodDelete:
			return []int{http.StatusOK, http.StatusNoContent}
		}
	}
	return nil
}

// check turns a Swift answer that is not a success into upstream's S3 error
// (S3Request._get_response and _swift_error_codes); nil for a success.
func (s *s3req) check(resp *swiftResp, method, container, object string) *s3Error {
	for _, c := range successCodes(method, container, object) {
		if resp.Status == c {
			return nil
		}
	}
	return s.swiftError(resp.Status, resp.Body, method, container, object)
}

func (s *s3req) swiftError(status int, body []byte, method, container, object string) *s3Error {
	if s.hashErr != nil {
		return s.hashErr
	}
	switch {
	case container == "":
	case object == "":
		switch {
		case status == http.StatusNotFound && method != http.MethodPut:
			return errNoSuchBucket(container)
		case status == http.StatusAccepted && method == http.MethodPut:
			// without s3_acl there is no owner to compare: the bucket is the caller's
			return errBucketAlreadyOwnedByYou(container)
		case status == http.StatusConflict && method == http.MethodDelete:
			return errBucketNotEmpty()
		}
	default:
		switch {
		case status == http.StatusNotFound && method == http.MethodDelete:
			return errNoSuchKey(object)
		case status == http.StatusNotFound && method == http.MethodPut:
			return errNoSuchBucket(container)
		case status == http.StatusNotFound:
			if strings.HasSuffix(container, multiuploadSuffix) || s.containerExists(container) {
				return errNoSuchKey(object)
			}
			return errNoSuchBucket(container)
		case status == http.StatusPreconditionFailed && method != http.MethodDelete:
			return errPreconditionFailed()
		case method == http.MethodPut && status == http.StatusUnprocessableEntity:
			return errBadDigest()
		case method == http.MethodPut && status == http.StatusRequestEntityTooLarge:
			if bytes.Contains(body, []byte("quota")) {
				return newError(http.StatusBadRequest, "EntityTooLarge", string(body))
			}
			return errEntityTooLarge()
		case method == http.MethodPut && status == http.StatusLengthRequired:
			return errMissingContentLength()
		case method == http.MethodPut && (status == http.StatusRequestTimeout || status == 499):
			return newError(http.StatusBadRequest, "RequestTimeout",
				"Your socket connection to the server was not read from or written to within the timeout period.")
		}
	}
	switch status {
	case http.StatusBadRequest:
		msg := string(body)
		if strings.Contains(msg, "X-Delete-At") {
			return errInvalidArgument("X-Delete-At", s.r.Header.Get("X-Delete-At"), msg)
		}
		if strings.Contains(msg, "X-Delete-After") {
			return errInvalidArgument("X-Delete-After", s.r.Header.Get("X-Delete-After"), msg)
		}
		return errInvalidRequest(msg)
	case http.StatusUnauthorized:
		return signatureMismatch(s.sig)
	case http.StatusForbidden:
		return errAccessDenied("")
	case http.StatusRequestedRangeNotSatisfiable:
		return errInvalidRange()
	case http.StatusServiceUnavailable:
		return errServiceUnavailable()
	case http.StatusConflict:
		if method == http.MethodGet {
			return newError(http.StatusConflict, "BrokenMPU", "Multipart upload has broken segment data.")
		}
		return errServiceUnavailable()
	}
	s.m.log.Warn("s3api: unexpected status from the proxy", "status", status, "method", method,
		"container", container, "object", object)
	return errInternal()
}

// containerExists HEADs a container of the caller's account.
func (s *s3req) containerExists(container string) bool {
	resp := s.swift(http.MethodHead, container, "", nil, nil, nil, 0)
	return resp.Status >= 200 && resp.Status < 300
}

// wrapBody checks the body against what the client signed: a SigV4
// x-amz-content-sha256 is verified as the body streams (a mismatch fails the
// write, as upstream's HashingInput); aws-chunked bodies signed chunk by
// chunk need the secret, which s3tokens does not give, so they are refused
// as upstream refuses them without a secret cache.
func (s *s3req) wrapBody() *s3Error {
	if s.r.Header.Get("Content-Length") != "" && s.r.ContentLength < 0 {
		return errInvalidArgument("Content-Length", s.r.Header.Get("Content-Length"), "")
	}
	if s.r.Method != http.MethodPut && s.r.Method != http.MethodPost {
		return nil
	}
	payload := s.r.Header.Get("X-Amz-Content-Sha256")
	if !isStreaming(payload) && s.r.Method == http.MethodPut {
		name, value, trailer, err := checksumHeaders(s.r.Header)
		if err != nil {
			return err
		}
		if trailer != "" {
			return newError(http.StatusBadRequest, "MalformedTrailerError",
				"The request contained trailing data that was not well-formed or did not conform to our published schema.")
		}
		if name != "" && s.r.ContentLength >= 0 {
			s.r.Body = &checksumBody{s: s, body: s.r.Body, name: name, h: checksumHashers[name](), left: s.r.ContentLength,
				value: func() string { return value }}
		}
	}
	switch {
	case payload == "" || payload == "UNSIGNED-PAYLOAD":
	case isStreaming(payload):
		if !s.sig.V4 || s.sig.Query {
			return errXAmzContentSHA256Mismatch(payload, "")
		}
		if payload == "STREAMING-UNSIGNED-PAYLOAD-TRAILER" {
			return s.wrapStreaming("")
		}
		if strings.Contains(payload, "ECDSA") {
			return errNotImplemented("Don't know how to validate " + payload + " streams")
		}
		// chunk signatures need the secret, which s3tokens does not give:
		// read it as upstream's s3token does with its secret cache
		reader, ok := s.m.opts.Identity.(SecretReader)
		if !ok || payload != "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" {
			return errNotImplemented("Transferring payloads in multiple chunks using aws-chunked is not supported.")
		}
		secret, err := reader.Secret(s.r.Context(), s.creds.UserID, s.sig.Access)
		if err != nil {
			s.m.log.Warn("s3api: cannot read the credential's secret", "err", err)
			return errNotImplemented("Transferring payloads in multiple chunks using aws-chunked is not supported.")
		}
		return s.wrapStreaming(secret)
	case s.r.ContentLength >= 0:
		want := strings.ToLower(payload)
		if s.r.ContentLength == 0 {
			if sum := sha256.Sum256(nil); hex.EncodeToString(sum[:]) != want {
				return errXAmzContentSHA256Mismatch(payload, hex.EncodeToString(sum[:]))
			}
			return nil
		}
		s.r.Body = &hashingBody{s: s, body: s.r.Body, want: want, client: payload, left: s.r.ContentLength}
	}
	return nil
}

// errBodyHash ends a body whose SHA-256 is not the one the client signed.
var errBodyHash = errors.New("s3api: body does not match x-amz-content-sha256")

// hashingBody verifies a body's SHA-256 as it is read: the read that ends it
// fails when the hash differs, so the proxy never completes the write.
type hashingBody struct {
	s            *s3req
	body         io.ReadCloser
	want, client string
	left         int64
	h            interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func (b *hashingBody) Read(p []byte) (int, error) {
	if b.h == nil {
		b.h = sha256.New()
	}
	n, err := b.body.Read(p)
	b.h.Write(p[:n])
	b.left -= int64(n)
	if b.left <= 0 || err == io.EOF {
		if got := hex.EncodeToString(b.h.Sum(nil)); got != b.want {
			b.s.hashErr = errXAmzContentSHA256Mismatch(b.client, got)
			return 0, errBodyHash
		}
	}
	return n, err
}

func (b *hashingBody) Close() error { return b.body.Close() }

// contentMD5ETag is the hex ETag a Content-MD5 header stands for, which the
// object servers check (a mismatch is 422, BadDigest).
func contentMD5ETag(v string) (string, *s3Error) {
	v = headerStrip(v)
	if v == "" {
		return "", nil
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) != 16 {
		return "", errInvalidDigest(v)
	}
	return hex.EncodeToString(raw), nil
}
