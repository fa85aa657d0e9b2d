package s3api

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// signedRequest is what a request's S3 authentication says, as upstream's
// S3Request and its SigCheckerV2/V4 read it: the access key, the signature,
// and the string the client signed (which identity's s3tokens checks).
type signedRequest struct {
	V4           bool
	Query        bool // presigned (query-string authentication)
	Access       string
	Signature    string
	StringToSign string
	// PayloadHash is SigV4's x-amz-content-sha256 ("" for SigV2).
	PayloadHash string
	// Signed is when the client signed the request.
	Signed time.Time
	// Scope is SigV4's credential scope (date/region/s3/aws4_request), which
	// aws-chunked bodies' chunk signatures sign too.
	Scope string
}

// sigV2SubResources are the query parameters SigV2 signs (upstream's
// ALLOWED_SUB_RESOURCES), sorted.
var sigV2SubResources = []string{
	"acl", "cors", "delete", "lifecycle", "location", "logging", "notification", "object-lock", "partNumber",
	"policy", "publicAccessBlock", "requestPayment", "response-cache-control", "response-content-disposition",
	"response-content-encoding", "response-content-language", "response-content-type", "response-expires",
	"restore", "tagging", "torrent", "uploadId", "uploads", "versionId", "versioning", "versions", "website",
}

// mustBeSigned are the header prefixes SigV4 refuses unsigned.
var mustBeSigned = []string{"x-amz-copy", "x-amz-acl", "x-amz-grant", "x-amz-meta"}

// maxPresignedExpiry is SigV4's X-Amz-Expires limit (a week).
const maxPresignedExpiry = 604800

// isS3Request reports whether r carries S3 authentication: anything else is
// Swift's (upstream's NotS3Request).
func isS3Request(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("X-Amz-Credential") || q.Has("AWSAccessKeyId") || r.Header.Get("Authorization") != ""
}

// authConfig is what the checks need from the middleware's configuration.
type authConfig struct {
	Location  string
	ClockSkew time.Duration
	Now       time.Time
}

// parseAuth reads the request's S3 authentication and builds the string to
// sign, refusing what upstream refuses before asking identity: malformed
// headers, expired or too-skewed requests, a credential scope that is not
// this endpoint's. bucketInHost is the bucket virtual-host addressing named.
func parseAuth(r *http.Request, q url.Values, bucketInHost string, c authConfig) (*signedRequest, *s3Error) {
	v4 := q.Has("X-Amz-Credential") || strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ")
	if v4 {
		return parseV4(r, q, c)
	}
	return parseV2(r, q, bucketInHost, c)
}

// parseV2 is SigV2: header ("AWS access:signature") or query (AWSAccessKeyId,
// Signature, Expires).
func parseV2(r *http.Request, q url.Values, bucketInHost string, c authConfig) (*signedRequest, *s3Error) {
	s := &signedRequest{}
	if q.Has("AWSAccessKeyId") {
		s.Query = true
		expires, err := strconv.ParseFloat(q.Get("Expires"), 64)
		if err != nil || expires != expires {
			return nil, errAccessDenied("")
		}
		if float64(c.Now.Unix()) > expires {
			return nil, errAccessDenied("Request has expired")
		}
		if expires >= 1<<31 {
			return nil, errAccessDenied("Invalid date (should be seconds since epoch): " + q.Get("Expires"))
		}
		s.Access, s.Signature = q.Get("AWSAccessKeyId"), q.Get("Signature")
		if s.Access == "" || s.Signature == "" {
			return nil, errAccessDenied("")
		}
	} else {
		date, amzDate := r.Header.Get("Date"), r.Header.Get("X-Amz-Date")
		if date == "" && amzDate == "" {
			return nil, errAccessDenied("AWS authentication requires a valid Date or x-amz-date header")
		}
		v := amzDate
		if v == "" {
			v = date
		}
		t, ok := parseHTTPDate(v)
		if !ok || t.Unix() < 0 {
			return nil, errAccessDenied("AWS authentication requires a valid Date or x-amz-date header")
		}
		if skewed(t, c) {
			return nil, errRequestTimeTooSkewed()
		}
		s.Signed = t
		authz := r.Header.Get("Authorization")
		rest, ok := strings.CutPrefix(authz, "AWS ")
		i := strings.LastIndexByte(rest, ':')
		if !ok || i < 0 {
			return nil, errAccessDenied("")
		}
		s.Access, s.Signature = rest[:i], rest[i+1:]
	}
	s.StringToSign = stringToSignV2(r, q, bucketInHost, s.Query)
	return s, nil
}

// stringToSignV2 is SigCheckerV2's string to sign.
func stringToSignV2(r *http.Request, q url.Values, bucketInHost string, query bool) string {
	lines := []string{r.Method, headerStrip(r.Header.Get("Content-Md5")), headerStrip(r.Header.Get("Content-Type"))}
	amz := map[string][]string{}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if strings.HasPrefix(lk, "x-amz-") {
			for _, v := range vs {
				amz[lk] = append(amz[lk], strings.TrimSpace(v))
			}
		}
	}
	switch {
	case query:
		lines = append(lines, q.Get("Expires"))
	case len(amz["x-amz-date"]) > 0:
		lines = append(lines, "")
	default:
		lines = append(lines, r.Header.Get("Date"))
	}
	keys := make([]string, 0, len(amz))
	for k := range amz {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		lines = append(lines, k+":"+strings.Join(amz[k], ","))
	}
	path := rawPath(r)
	if bucketInHost != "" {
		path = "/" + bucketInHost + path
	}
	var params []string
	for _, k := range sigV2SubResources {
		if !q.Has(k) {
			continue
		}
		if v := lastValue(q, k); v != "" {
			params = append(params, k+"="+v)
		} else {
			params = append(params, k)
		}
	}
	if len(params) > 0 {
		path += "?" + strings.Join(params, "&")
	}
	lines = append(lines, path)
	return strings.Join(lines, "\n")
}

// parseV4 is SigV4: the Authorization header, or the X-Amz-* query
// parameters of a presigned URL.
func parseV4(r *http.Request, q url.Values, c authConfig) (*signedRequest, *s3Error) {
	s := &signedRequest{V4: true}
	var credential, signedHeaders string
	var scopeMessage func(key, got, want string) string
	if q.Has("X-Amz-Credential") {
		s.Query = true
		if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
			return nil, errInvalidArgument("X-Amz-Algorithm", q.Get("X-Amz-Algorithm"), "")
		}
		t, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
		if err != nil {
			return nil, errAccessDenied("AWS authentication requires a valid Date or x-amz-date header")
		}
		s.Signed = t
		if !q.Has("X-Amz-Expires") {
			return nil, errAccessDenied("")
		}
		expires, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
		switch {
		case err != nil:
			return nil, errAuthorizationQueryParametersError("X-Amz-Expires should be a number")
		case expires < 0:
			return nil, errAuthorizationQueryParametersError("X-Amz-Expires must be non-negative")
		case expires > maxPresignedExpiry:
			return nil, errAuthorizationQueryParametersError("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds")
		}
		if t.Unix()+expires < c.Now.Unix() {
			return nil, errAccessDenied("Request has expired")
		}
		credential, s.Signature = q.Get("X-Amz-Credential"), q.Get("X-Amz-Signature")
		if s.Signature == "" {
			return nil, errAccessDenied("")
		}
		if !q.Has("X-Amz-SignedHeaders") {
			return nil, errAuthorizationHeaderMalformed("")
		}
		signedHeaders = q.Get("X-Amz-SignedHeaders")
		scopeMessage = func(key, got, want string) string {
			switch key {
			case "date":
				return fmt.Sprintf(`Invalid credential date "%s". This date is not the same as X-Amz-Date: "%s".`, got, want)
			case "region":
				return fmt.Sprintf("Error parsing the X-Amz-Credential parameter; the region '%s' is wrong; expecting '%s'", got, want)
			case "service":
				return fmt.Sprintf(`Error parsing the X-Amz-Credential parameter; incorrect service "%s". This endpoint belongs to "%s".`, got, want)
			}
			return fmt.Sprintf(`Error parsing the X-Amz-Credential parameter; incorrect terminal "%s". This endpoint uses "%s".`, got, want)
		}
	} else {
		date, amzDate := r.Header.Get("Date"), r.Header.Get("X-Amz-Date")
		if date == "" && amzDate == "" {
			return nil, errAccessDenied("AWS authentication requires a valid Date or x-amz-date header")
		}
		var t time.Time
		var err error
		if amzDate != "" {
			t, err = time.Parse("20060102T150405Z", amzDate)
		} else if tt, ok := parseHTTPDate(date); ok {
			t = tt
		} else {
			err = fmt.Errorf("bad date")
		}
		if err != nil || t.Unix() < 0 {
			return nil, errAccessDenied("AWS authentication requires a valid Date or x-amz-date header")
		}
		if skewed(t, c) {
			return nil, errRequestTimeTooSkewed()
		}
		s.Signed = t
		authz := r.Header.Get("Authorization")
		credential = field(authz, "Credential=")
		s.Signature = field(authz, "Signature=")
		_, rest, _ := strings.Cut(authz, "SignedHeaders=")
		signedHeaders, _, _ = strings.Cut(rest, ",")
		scopeMessage = func(key, got, want string) string {
			switch key {
			case "date":
				return fmt.Sprintf(`Invalid credential date "%s". This date is not the same as X-Amz-Date: "%s".`, got, want)
			case "region":
				return fmt.Sprintf("The authorization header is malformed; the region '%s' is wrong; expecting '%s'", got, want)
			case "service":
				return fmt.Sprintf(`The authorization header is malformed; incorrect service "%s". This endpoint belongs to "%s".`, got, want)
			}
			return fmt.Sprintf(`The authorization header is malformed; incorrect terminal "%s". This endpoint uses "%s".`, got, want)
		}
	}
	parts := strings.Split(credential, "/")
	if len(parts) != 5 || parts[0] == "" {
		return nil, errAccessDenied("")
	}
	if !s.Query {
		if s.Signature == "" {
			return nil, errAccessDenied("")
		}
		if signedHeaders == "" {
			return nil, errAuthorizationHeaderMalformed("")
		}
	}
	s.Access = parts[0]
	scope := []string{s.Signed.UTC().Format("20060102"), c.Location, "s3", "aws4_request"}
	for i, key := range []string{"date", "region", "service", "terminal"} {
		got := parts[i+1]
		if got == scope[i] {
			continue
		}
		// as upstream, a lower-case region is accepted (the AWS .NET SDK)
		if key == "region" && strings.ToLower(scope[i]) != scope[i] && got == strings.ToLower(scope[i]) {
			scope[i] = got
			continue
		}
		msg := scopeMessage(key, got, scope[i])
		var e *s3Error
		if s.Query {
			e = errAuthorizationQueryParametersError(msg)
		} else {
			e = errAuthorizationHeaderMalformed(msg)
		}
		if key == "region" {
			e.with("Region", scope[i])
		}
		return nil, e
	}

	s.PayloadHash = r.Header.Get("X-Amz-Content-Sha256")
	if s.PayloadHash == "" {
		if !s.Query {
			return nil, errInvalidRequest("Missing required header for this request: x-amz-content-sha256")
		}
	} else if s.PayloadHash != "UNSIGNED-PAYLOAD" && !isStreaming(s.PayloadHash) && !looksLikeSHA256(s.PayloadHash) && !s.Query {
		return nil, errInvalidArgument("x-amz-content-sha256", s.PayloadHash,
			"x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value.")
	}
	canonical, err := canonicalRequestV4(r, q, strings.Split(signedHeaders, ";"))
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(canonical))
	s.Scope = strings.Join(scope, "/")
	s.StringToSign = strings.Join([]string{"AWS4-HMAC-SHA256", s.Signed.UTC().Format("20060102T150405Z"),
		s.Scope, hex.EncodeToString(sum[:])}, "\n")
	return s, nil
}

// canonicalRequestV4 is SigV4's canonical request: method, the decoded path
// encoded again, the sorted query (but the signature), the signed headers
// and the payload hash (UNSIGNED-PAYLOAD when the client sent none).
func canonicalRequestV4(r *http.Request, q url.Values, signed []string) (string, *s3Error) {
	headers := map[string][]string{}
	for k, vs := range r.Header {
		lk := strings.ToLower(strings.TrimSpace(k))
		for _, v := range vs {
			headers[lk] = append(headers[lk], strings.Join(strings.Fields(headerStrip(v)), " "))
		}
	}
	headers["host"] = []string{r.Host}
	if _, ok := headers["content-length"]; !ok && r.ContentLength > 0 {
		headers["content-length"] = []string{strconv.FormatInt(r.ContentLength, 10)}
	}
	for k := range headers {
		for _, p := range mustBeSigned {
			if strings.HasPrefix(k, p) && !slices.Contains(signed, k) {
				return "", errAccessDenied("There were headers present in the request which were not signed").
					with("HeadersNotSigned", k)
			}
		}
	}
	if ua := strings.Join(headers["user-agent"], ","); oldBoto(ua) {
		// Boto before 2.9.3 signs the host without its port
		h, _, _ := strings.Cut(r.Host, ":")
		headers["host"] = []string{h}
	}
	want := map[string]bool{}
	for _, h := range signed {
		want[h] = true
	}
	var names []string
	for k := range headers {
		if want[k] {
			names = append(names, k)
		}
	}
	if len(names) != len(want) {
		return "", errSignatureDoesNotMatch()
	}
	slices.Sort(names)
	var hb strings.Builder
	for _, k := range names {
		hb.WriteString(k + ":" + strings.Join(headers[k], ",") + "\n")
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		if k != "X-Amz-Signature" && k != "Signature" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, uriEncode(k, false)+"="+uriEncode(lastValue(q, k), false))
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = "UNSIGNED-PAYLOAD"
	}
	return strings.Join([]string{r.Method, uriEncode(r.URL.Path, true), strings.Join(pairs, "&"), hb.String(),
		strings.Join(names, ";"), payload}, "\n"), nil
}

// field is the value of "Name=" in an Authorization header, up to a comma.
func field(authz, name string) string {
	_, rest, _ := strings.Cut(authz, name)
	v, _, _ := strings.Cut(rest, ",")
	return v
}

// lastValue is the value Python's dict(parse_qsl(...)) keeps: the last one.
func lastValue(q url.Values, k string) string {
	vs := q[k]
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

func oldBoto(ua string) bool {
	rest, ok := strings.CutPrefix(ua, "Boto/2.")
	return ok && len(rest) >= 3 && rest[0] >= '0' && rest[0] <= '9' && rest[2] >= '0' && rest[2] <= '2'
}

// uriEncode percent-encodes all but RFC 3986's unreserved characters (and
// '/' when keepSlash), upper-case, as Python's quote(safe='-_.~') does.
func uriEncode(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' ||
			c == '~' || keepSlash && c == '/' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// rawPath is the path as the client sent it, still percent-encoded (SigV2
// signs it so).
func rawPath(r *http.Request) string {
	if strings.HasPrefix(r.RequestURI, "/") {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	return r.URL.EscapedPath()
}

// headerStrip removes the control characters and spaces around a value, as
// upstream's _header_strip.
func headerStrip(v string) string {
	return strings.TrimFunc(v, func(r rune) bool { return r <= 0x20 })
}

func skewed(t time.Time, c authConfig) bool {
	d := c.Now.Sub(t)
	if d < 0 {
		d = -d
	}
	return d > c.ClockSkew
}

func isStreaming(v string) bool {
	switch v {
	case "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
		"STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER", "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
		"STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER":
		return true
	}
	return false
}

func looksLikeSHA256(v string) bool {
	if len(v) != 64 {
		return false
	}
	_, err := hex.DecodeString(v)
	return err == nil
}

// parseHTTPDate reads the date forms email.utils.parsedate accepts that
// clients send (RFC 1123, RFC 850, asctime, and RFC 1123 with a numeric zone).
func parseHTTPDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{http.TimeFormat, time.RFC1123, time.RFC1123Z, time.RFC850, time.ANSIC,
		"Mon, 2 Jan 2006 15:04:05 GMT", "Mon, 2 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 GMT"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
