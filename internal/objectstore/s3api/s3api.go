// Package s3api is Swift's s3api middleware: the S3 REST API in front of the
// object-store proxy, on the same port. A request signed for S3 (an
// Authorization header "AWS ..." or "AWS4-HMAC-SHA256 ...", or a presigned
// URL's query) is checked as upstream's s3token has keystone check it
// (identity's POST /v3/s3tokens), then carried out as Swift requests made
// in-process to the proxy with the credentials identity answered, so
// keystoneauth's rules (a project's roles own its AUTH_<project> account,
// container ACLs) decide as for Swift clients. Buckets are containers of the
// caller's project's account, objects are objects; multipart uploads keep
// their parts in "<bucket>+segments", as upstream. Every other request goes
// to the proxy untouched. Errors are upstream's XML documents with its
// statuses (s3response.py); nothing is kept here between requests.
package s3api

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/proxy"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
)

// Options configure the middleware; zero values are upstream's defaults.
type Options struct {
	// Identity checks signatures (required).
	Identity Identity
	// Location is the region SigV4 signatures must name and
	// GetBucketLocation answers (upstream's location, us-east-1).
	Location string
	// StorageDomains enable virtual-host-style addressing: a Host of
	// "<bucket>.<domain>" names the bucket (upstream's storage_domain).
	StorageDomains []string
	// ClockSkew is how far a signed request's date may be from now (15 min).
	ClockSkew time.Duration
	Logger    *slog.Logger
	// Now is the clock (tests).
	Now func() time.Time
}

// Upstream's limits (s3api.py's defaults), advertised in /info.
const (
	maxBucketListing      = 1000
	maxPartsListing       = 1000
	maxUploadPartNum      = 1000
	maxMultiDeleteObjects = 1000
	minSegmentSize        = 5242880
	// maxXMLBody bounds the XML bodies read (Complete, multi-delete, ACL,
	// location): upstream's MAX_COMPLETE_UPLOAD_BODY_SIZE.
	maxXMLBody = 2048 * 1024
	// multiuploadSuffix names the container of a bucket's upload parts.
	multiuploadSuffix = "+segments"
)

// Middleware is the S3 API in front of a proxy handler.
type Middleware struct {
	opts Options
	next http.Handler
	log  *slog.Logger
}

// New returns the middleware serving S3 requests and passing the others to next.
func New(o Options, next http.Handler) *Middleware {
	if o.Location == "" {
		o.Location = "us-east-1"
	}
	if o.ClockSkew <= 0 {
		o.ClockSkew = 15 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	// Swift clients' listings and s3api's own go through the listing ETag
	// rewrite, as upstream's pipeline has it below s3api
	return &Middleware{opts: o, next: listingETag{next: next}, log: o.Logger}
}

// Info is what /info says of the middleware, upstream's "s3api" keys.
func Info() map[string]any {
	return map[string]any{
		"max_bucket_listing":       maxBucketListing,
		"max_parts_listing":        maxPartsListing,
		"max_upload_part_num":      maxUploadPartNum,
		"max_multi_delete_objects": maxMultiDeleteObjects,
		"allow_multipart_uploads":  true,
		"min_segment_size":         minSegmentSize,
		"s3_acl":                   false,
	}
}

// s3req is one S3 request being served.
type s3req struct {
	m       *Middleware
	w       http.ResponseWriter
	r       *http.Request
	id      string
	q       url.Values
	bucket  string
	key     string
	account string
	creds   *auth.Credentials
	sig     *signedRequest
	// hashErr is set when the body did not match x-amz-content-sha256.
	hashErr *s3Error
}

func (m *Middleware) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthcheck" || !isS3Request(r) {
		m.next.ServeHTTP(w, r)
		return
	}
	id := newTransID()
	h := w.Header()
	h.Set("X-Amz-Request-Id", id)
	h.Set("X-Amz-Id-2", id)
	h.Set("X-Trans-Id", id)
	h.Set("X-Openstack-Request-Id", id)
	rw := &trackingWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			m.log.Error("s3api panic", "method", r.Method, "path", r.URL.EscapedPath(), "panic", v)
			if !rw.wrote {
				writeError(rw, r, id, errInternal())
			}
		}
	}()
	if err := m.serve(rw, r, id); err != nil {
		if rw.wrote {
			return // the body was under way: nothing more can be said
		}
		writeError(rw, r, id, err)
	}
}

// serve authenticates the request and runs its operation; an error it
// returns is answered as upstream's error XML.
func (m *Middleware) serve(w http.ResponseWriter, r *http.Request, id string) *s3Error {
	q := r.URL.Query()
	bucketInHost := m.bucketInHost(r.Host)
	bucket, key, err := parsePath(r.URL.Path, bucketInHost)
	if err != nil {
		return err
	}
	sig, err := parseAuth(r, q, bucketInHost, authConfig{Location: m.opts.Location, ClockSkew: m.opts.ClockSkew, Now: m.opts.Now()})
	if err != nil {
		return err
	}
	if err := validateHeaders(r); err != nil {
		return err
	}
	creds, cerr := m.opts.Identity.CheckSignature(r.Context(), sig.Access, sig.StringToSign, sig.Signature)
	if errors.Is(cerr, ErrSignature) {
		return signatureMismatch(sig)
	}
	if cerr != nil {
		m.log.Warn("s3api: identity unavailable", "err", cerr)
		return errServiceUnavailable()
	}
	s := &s3req{m: m, w: w, r: r, id: id, q: q, bucket: bucket, key: key, creds: creds, sig: sig,
		account: proxy.ResellerPrefix + creds.ProjectID}
	s.r = r.WithContext(proxy.WithCredentials(r.Context(), creds))
	if err := s.wrapBody(); err != nil {
		return err
	}
	return s.route()
}

// signatureMismatch is SignatureDoesNotMatch with what upstream adds to it.
func signatureMismatch(sig *signedRequest) *s3Error {
	e := errSignatureDoesNotMatch().with("AWSAccessKeyId", sig.Access).with("StringToSign", sig.StringToSign).
		with("SignatureProvided", sig.Signature)
	hexBytes := make([]string, len(sig.StringToSign))
	for i := range len(sig.StringToSign) {
		hexBytes[i] = fmt.Sprintf("%02x", sig.StringToSign[i])
	}
	return e.with("StringToSignBytes", strings.Join(hexBytes, " "))
}

// route picks the operation as upstream's S3Request.controller does.
func (s *s3req) route() *s3Error {
	for _, p := range []string{"notification", "policy", "publicAccessBlock", "requestPayment", "torrent", "website",
		"cors", "restore"} {
		if s.q.Has(p) {
			return errNotImplemented("")
		}
	}
	method := s.r.Method
	switch {
	case s.bucket == "":
		if method != http.MethodGet {
			return errMethodNotAllowed(method, "SERVICE")
		}
		return s.listBuckets()
	case s.q.Has("acl"):
		return s.acl()
	case s.q.Has("delete"):
		if method != http.MethodPost || s.key != "" {
			return errMethodNotAllowed(method, "BUCKET")
		}
		return s.multiDelete()
	case s.q.Has("location"):
		if method != http.MethodGet || s.key != "" {
			return errMethodNotAllowed(method, "BUCKET")
		}
		return s.location()
	case s.q.Has("logging"):
		return s.logging()
	case s.q.Has("partNumber") && method == http.MethodPut:
		return s.uploadPart()
	case s.q.Has("uploadId") && !s.q.Has("partNumber"):
		return s.upload()
	case s.q.Has("uploads"):
		return s.uploads()
	case s.q.Has("versioning"):
		return s.versioning()
	case s.q.Has("tagging"):
		return s.tagging()
	case s.q.Has("object-lock"):
		return s.objectLock()
	case s.key != "":
		return s.object()
	}
	return s.bucketOp()
}

// bucketInHost is the bucket a virtual-host-style Host names, as upstream's
// parse_host: "<bucket>.<storage domain>[:port]".
func (m *Middleware) bucketInHost(host string) string {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for _, d := range m.opts.StorageDomains {
		d = strings.TrimPrefix(d, ".")
		if b, ok := strings.CutSuffix(host, "."+d); ok && b != "" {
			return b
		}
	}
	return ""
}

// SplitDomains reads a comma-separated storage_domain setting (upstream's
// list_from_csv).
func SplitDomains(v string) []string {
	var out []string
	for _, d := range strings.Split(v, ",") {
		if d = strings.TrimSpace(d); d != "" {
			out = append(out, d)
		}
	}
	return out
}

// parsePath is upstream's parse_path: the bucket and key a (decoded) path
// names, the bucket from the host when virtual-host-style.
func parsePath(path, bucketInHost string) (string, string, *s3Error) {
	if !strings.HasPrefix(path, "/") {
		return "", "", errInvalidURI(path)
	}
	var bucket, key string
	if bucketInHost != "" {
		bucket, key = bucketInHost, path[1:]
	} else {
		bucket, key, _ = strings.Cut(path[1:], "/")
	}
	if bucket != "" && !validBucketName(bucket) {
		return "", "", errInvalidBucketName(bucket)
	}
	if strings.ContainsRune(key, 0) || strings.ContainsRune(bucket, 0) {
		return "", "", errInvalidURI(path)
	}
	return bucket, key, nil
}

var ipv4Name = regexp.MustCompile(`^(([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])$`)

// validBucketName is upstream's validate_bucket_name with
// dns_compliant_bucket_names (its default).
func validBucketName(name string) bool {
	alnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' }
	if len(name) < 3 || len(name) > 63 || !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return false
	}
	if strings.Contains(name, ".-") || strings.Contains(name, "-.") || strings.Contains(name, "..") || ipv4Name.MatchString(name) {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

var base64Value = regexp.MustCompile(`^[A-Za-z0-9+/]+={0,2}$`)

// validateHeaders is S3Request._validate_headers: what upstream refuses
// before any work.
func validateHeaders(r *http.Request) *s3Error {
	h := r.Header
	if r.Method == http.MethodPut && (h.Get("If-Match") != "" || h.Get("If-Modified-Since") != "" ||
		h.Get("If-Unmodified-Since") != "" || h.Get("If-None-Match") != "" && h.Get("If-None-Match") != "*") {
		return errNotImplemented("Conditional object PUTs are not supported.")
	}
	if v := h.Get("X-Amz-Copy-Source"); v != "" {
		src, _ := url.PathUnescape(strings.SplitN(v, "?", 2)[0])
		b, k, ok := strings.Cut(strings.TrimPrefix(src, "/"), "/")
		if !ok || b == "" || k == "" {
			return errInvalidArgument("x-amz-copy-source", v,
				"Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
		}
	}
	if v, ok := h["X-Amz-Metadata-Directive"]; ok && v[0] != "COPY" && v[0] != "REPLACE" {
		return errInvalidArgument("x-amz-metadata-directive", v[0], "Unknown metadata directive.")
	}
	if v, ok := h["X-Amz-Storage-Class"]; ok && v[0] != "STANDARD" {
		return errInvalidStorageClass()
	}
	if h.Get("X-Amz-Mfa") != "" {
		return errNotImplemented("MFA Delete is not supported.")
	}
	if v, ok := h["X-Amz-Server-Side-Encryption"]; ok {
		if v[0] != "aws:kms" && v[0] != "AES256" {
			return errInvalidArgument("x-amz-server-side-encryption", v[0], "The encryption method specified is not supported")
		}
		return errNotImplemented("Server-side encryption is not supported.")
	}
	if h.Get("X-Amz-Website-Redirect-Location") != "" {
		return errNotImplemented("Website redirection is not supported.")
	}
	if v := headerStrip(h.Get("Content-Md5")); v != "" && !base64Value.MatchString(v) {
		return errInvalidDigest(v)
	}
	return nil
}

func newTransID() string {
	var b [11]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("tx%s-%010x", hex.EncodeToString(b[:]), time.Now().Unix())
}

// trackingWriter notes whether the answer has begun.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

func (t *trackingWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
