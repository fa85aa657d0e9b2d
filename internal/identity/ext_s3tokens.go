package identity

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// Signature logins (POST /v3/s3tokens and POST /v3/ec2tokens): a service that
// received a request signed with an EC2 credential's secret (Swift's s3api, an EC2
// API) asks identity to check the signature; identity answers with a token of the
// credential's user on the credential's project, as upstream's
// keystone/api/s3tokens.py, ec2tokens.py and _shared/EC2_S3_Resource.py. As
// upstream now (bug 2119646), only a service or an admin may ask: the caller is
// the front end that received the signed request, and a signed request (a
// presigned URL) must not be turned into a token by whoever holds a copy. Every
// failure past the request's shape is the same 401, so that callers learn
// nothing about which access keys exist.

func (s *Service) signatureTokenRoutes() []httpapi.Route {
	return []httpapi.Route{
		{Method: "POST", Path: "/v3/s3tokens", Policy: "identity:s3tokens_validate", Handler: s.s3Tokens, Schemas: okBody(tokenResponse)},
		{Method: "POST", Path: "/v3/ec2tokens", Policy: "identity:ec2tokens_validate", Handler: s.ec2Tokens, Schemas: okBody(tokenResponse)},
	}
}

// ec2AuthTTL is how old a signed request's timestamp may be (upstream's
// [credential] auth_ttl default).
const ec2AuthTTL = 15 * time.Minute

// signedRequest is the "credentials" object of both APIs. s3tokens sends access,
// token (the base64 of the string the client signed) and signature; ec2tokens sends
// the parts of the signed request instead of the string to sign.
type signedRequest struct {
	Access, Signature, Token   string
	Host, Verb, Path, BodyHash string
	HasToken, HasBodyHash      bool
	Params, Headers            map[string]string
	hasAccess                  bool
}

// parseSignedRequest reads {"credentials": {...}} (or upstream's legacy envelopes
// "credential" and "ec2Credentials"); a body that is not such an object is 400.
func parseSignedRequest(r *http.Request) (*signedRequest, error) {
	var body map[string]json.RawMessage
	if err := httpapi.DecodeJSON(r, &body); err != nil {
		return nil, err
	}
	var raw json.RawMessage
	for _, k := range []string{"credentials", "credential", "ec2Credentials"} {
		if v, ok := body[k]; ok && string(bytes.TrimSpace(v)) != "null" {
			raw = v
			break
		}
	}
	if raw == nil {
		return nil, httpapi.BadRequest("'credentials' is a required property")
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, httpapi.BadRequest("Invalid input for field 'credentials': expected an object.")
	}
	req := &signedRequest{}
	for k, v := range m {
		var dst *string
		switch k {
		case "access":
			dst, req.hasAccess = &req.Access, true
		case "signature":
			dst = &req.Signature
		case "token":
			dst, req.HasToken = &req.Token, v != nil
		case "host":
			dst = &req.Host
		case "verb":
			dst = &req.Verb
		case "path":
			dst = &req.Path
		case "body_hash":
			dst, req.HasBodyHash = &req.BodyHash, v != nil
		case "params", "headers":
			sm, err := stringMap(k, v)
			if err != nil {
				return nil, err
			}
			if k == "params" {
				req.Params = sm
			} else {
				req.Headers = sm
			}
			continue
		default:
			continue // upstream ignores what it does not use
		}
		switch v := v.(type) {
		case nil:
		case string:
			*dst = v
		default:
			return nil, httpapi.BadRequest("Invalid input for field '%s': expected a string.", k)
		}
	}
	if req.Params == nil {
		req.Params = map[string]string{}
	}
	if req.Headers == nil {
		req.Headers = map[string]string{}
	}
	return req, nil
}

// stringMap reads params or headers: an object whose values are rendered as
// keystoneclient's str() renders them.
func stringMap(name string, v any) (map[string]string, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, httpapi.BadRequest("Invalid input for field '%s': expected an object.", name)
	}
	out := make(map[string]string, len(m))
	for k, x := range m {
		switch x := x.(type) {
		case string:
			out[k] = x
		case float64:
			out[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			out[k] = map[bool]string{true: "True", false: "False"}[x]
		case nil:
			out[k] = "None"
		default:
			return nil, httpapi.BadRequest("Invalid input for field '%s': values must be strings.", name)
		}
	}
	return out, nil
}

// s3Tokens validates an S3 signature (v1 HMAC-SHA1, or v4 for the s3, iam and sts
// services) and answers 200 with the token body, without a token id, as upstream.
func (s *Service) s3Tokens(r *http.Request) (httpapi.Response, error) {
	req, err := parseSignedRequest(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	t, err := s.signatureLogin(r.Context(), req, s3SignatureValid)
	if err != nil {
		return httpapi.Response{}, err
	}
	body, err := s.renderToken(r.Context(), t, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusOK, Body: body}.WithHeader("Content-Type", "application/json"), nil
}

// ec2Tokens validates an EC2 signature (v2 or v4) and issues a token: 200 with the
// body and the token in X-Subject-Token, as upstream.
func (s *Service) ec2Tokens(r *http.Request) (httpapi.Response, error) {
	req, err := parseSignedRequest(r)
	if err != nil {
		return httpapi.Response{}, err
	}
	t, err := s.signatureLogin(r.Context(), req, ec2SignatureValid)
	if err != nil {
		return httpapi.Response{}, err
	}
	token, err := s.codec.Seal(t)
	if err != nil {
		return httpapi.Response{}, err
	}
	body, err := s.renderToken(r.Context(), t, false)
	if err != nil {
		return httpapi.Response{}, err
	}
	return httpapi.Response{Status: http.StatusOK, Body: body}.
		WithHeader("X-Subject-Token", token).WithHeader("Content-Type", "application/json"), nil
}

// ec2LoginBlob is what a signature login reads from an ec2 credential's blob.
type ec2LoginBlob struct {
	Secret        string  `json:"secret"`
	TrustID       *string `json:"trust_id"`
	AppCredID     *string `json:"app_cred_id"`
	AccessTokenID *string `json:"access_token_id"`
}

// signatureLogin finds the ec2 credential of the access key, checks the signature
// with its secret, and builds a token of its user on its project with the method
// "ec2credential". A key pair made with a delegation logs in as that delegation
// again, and fails once it is gone (CVE-2020-12689): one bound to an application
// credential gives that credential's roles (and access rules), one bound to an
// OAuth1 access token the roles it delegates; one bound to a trust is refused,
// since Nimbus issues no trust-scoped tokens.
func (s *Service) signatureLogin(ctx context.Context, req *signedRequest, valid func(secret string, req *signedRequest) bool) (*auth.Token, error) {
	if !req.hasAccess || req.Access == "" {
		return nil, errAuthFailed
	}
	issuedAt := s.now() // before anything the token carries is read (authResult.issuedAt)
	c, err := s.getEC2Credential(ctx, req.Access)
	if err != nil {
		return nil, err
	}
	var blob ec2LoginBlob
	if c == nil || json.Unmarshal([]byte(c.Blob), &blob) != nil || blob.Secret == "" {
		valid("not a secret", req) // as long as a real check, so that time tells nothing
		return nil, errAuthFailed
	}
	if !valid(blob.Secret, req) {
		return nil, errAuthFailed
	}
	if !c.ProjectID.Valid || blob.TrustID != nil && *blob.TrustID != "" {
		return nil, errAuthFailed
	}
	if err := checkSignedTimestamp(req, s.now()); err != nil {
		return nil, err
	}
	user, err := s.getUser(ctx, s.db, c.UserID)
	if err != nil {
		return nil, err
	}
	if err := s.requireUserEnabled(ctx, user); err != nil {
		return nil, err
	}
	p, err := s.lookupScopeProject(ctx, &ref{ID: c.ProjectID.String})
	if err != nil {
		return nil, genericAuthFailure(err)
	}
	res := authResult{userID: user.ID, methods: []string{"ec2credential"}, issuedAt: issuedAt}
	switch {
	case blob.AppCredID != nil && *blob.AppCredID != "":
		ac, err := s.getApplicationCredential(ctx, *blob.AppCredID)
		if err != nil {
			return nil, err
		}
		if ac == nil || ac.UserID != user.ID || ac.ProjectID.String != p.ID ||
			ac.ExpiresAt.Valid && !s.now().Before(time.UnixMicro(ac.ExpiresAt.Int64)) {
			return nil, errAuthFailed
		}
		res.appCred = ac
	case blob.AccessTokenID != nil && *blob.AccessTokenID != "":
		at, err := s.getAccessToken(ctx, *blob.AccessTokenID)
		if httpapi.IsStatus(err, http.StatusNotFound) {
			return nil, errAuthFailed
		}
		if err != nil {
			return nil, err
		}
		if at.AuthorizingUserID != user.ID || at.ProjectID != p.ID || s.now().UnixMicro() >= at.ExpiresAt {
			return nil, errAuthFailed
		}
		res.oauth1 = at
	}
	t, err := s.buildToken(ctx, user, tokenScope{ProjectID: p.ID}, &res)
	if err != nil {
		return nil, genericAuthFailure(err)
	}
	return t, nil
}

// genericAuthFailure replaces the message of a 401 by the generic one.
func genericAuthFailure(err error) error {
	if isAuthFailure(err) {
		return errAuthFailed
	}
	return err
}

// checkSignedTimestamp refuses a signed request older than ec2AuthTTL, reading the
// timestamp as upstream: the v2 Timestamp parameter, else X-Amz-Date (header, then
// parameter); a request without one is not checked.
func checkSignedTimestamp(req *signedRequest, now time.Time) error {
	ts := req.Params["Timestamp"]
	if ts == "" {
		ts, _ = req.header("X-Amz-Date") // as the signature reads it
	}
	if ts == "" {
		ts = req.Params["X-Amz-Date"]
	}
	if ts == "" {
		return nil
	}
	t, err := parseSignedTime(ts)
	if err != nil || now.After(t.Add(ec2AuthTTL)) {
		return errAuthFailed
	}
	return nil
}

// parseSignedTime reads the ISO 8601 forms signers use, extended or basic; a time
// without a zone is UTC.
func parseSignedTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "20060102T150405Z0700",
		"20060102T150405Z", "20060102T150405"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid timestamp %q", s)
}

// signaturesEqual compares in constant time (for a given length).
func signaturesEqual(got, want string) bool {
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func hmacSum(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// awsV4SigningKey derives AWS signature v4's key for a date (YYYYMMDD), region and
// service.
func awsV4SigningKey(secret string, date, region, service []byte) []byte {
	k := hmacSum(sha256.New, []byte("AWS4"+secret), date)
	k = hmacSum(sha256.New, k, region)
	k = hmacSum(sha256.New, k, service)
	return hmacSum(sha256.New, k, []byte("aws4_request"))
}

// S3 (s3tokens).

// decodeS3Token decodes the token as upstream's urlsafe_b64decode: both alphabets,
// characters outside them ignored; missing padding is tolerated.
func decodeS3Token(tok string) ([]byte, error) {
	var b strings.Builder
	for _, c := range tok {
		switch {
		case c == '-':
			b.WriteByte('+')
		case c == '_':
			b.WriteByte('/')
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			b.WriteRune(c)
		}
	}
	return base64.RawStdEncoding.DecodeString(b.String())
}

var s3V4Services = [][]byte{[]byte("s3"), []byte("iam"), []byte("sts")}

// s3SignatureValid checks an s3tokens signature: a string to sign starting with
// "AWS4" is AWS signature v4 (hex), anything else v1 (base64 of HMAC-SHA1).
func s3SignatureValid(secret string, req *signedRequest) bool {
	if !req.HasToken {
		return false
	}
	sts, err := decodeS3Token(req.Token)
	if err != nil {
		return false
	}
	if !bytes.HasPrefix(sts, []byte("AWS4")) {
		want := base64.StdEncoding.EncodeToString(hmacSum(sha1.New, []byte(secret), sts))
		return signaturesEqual(req.Signature, want)
	}
	parts := bytes.Split(sts, []byte("\n"))
	if len(parts) != 4 || string(parts[0]) != "AWS4-HMAC-SHA256" {
		return false
	}
	scope := bytes.Split(parts[2], []byte("/"))
	if len(scope) != 4 || string(scope[3]) != "aws4_request" ||
		!slices.ContainsFunc(s3V4Services, func(s []byte) bool { return bytes.Equal(s, scope[2]) }) {
		return false
	}
	key := awsV4SigningKey(secret, scope[0], scope[1], scope[2])
	return signaturesEqual(req.Signature, hex.EncodeToString(hmacSum(sha256.New, key, sts)))
}

// EC2 (ec2tokens), as keystoneclient's contrib/ec2/utils.py Ec2Signer.

// ec2SignatureValid checks an ec2tokens signature. As upstream, a v2 signature that
// does not match with a host:port is tried again without the port, which some
// clients leave out when signing.
func ec2SignatureValid(secret string, req *signedRequest) bool {
	want, ok := ec2Signature(secret, req)
	if !ok {
		return false
	}
	if signaturesEqual(req.Signature, want) {
		return true
	}
	if hostname, _, found := strings.Cut(req.Host, ":"); found && strings.Count(req.Host, ":") == 1 {
		retry := *req
		retry.Host = hostname
		if want, ok := ec2Signature(secret, &retry); ok {
			return signaturesEqual(req.Signature, want)
		}
	}
	return false
}

// ec2Signature computes the signature the request should carry: v2 when its
// SignatureVersion parameter says 2, v4 when its Authorization header (or its
// X-Amz-Algorithm parameter) says AWS4-HMAC-SHA256. Versions 0 and 1 are refused:
// they sign too little of the request.
func ec2Signature(secret string, req *signedRequest) (string, bool) {
	sv, hasSV := req.Params["SignatureVersion"]
	if hasSV {
		switch v, err := strconv.Atoi(strings.TrimSpace(sv)); {
		case err != nil:
			return "", false
		case v == 2:
			return ec2SignatureV2(secret, req)
		case v == 0 || v == 1:
			return "", false
		}
	}
	if ec2IsV4(req) {
		return ec2SignatureV4(secret, req)
	}
	return "", false
}

// header finds a header by name, exactly first, then ignoring case.
func (req *signedRequest) header(name string) (string, bool) {
	if v, ok := req.Headers[name]; ok {
		return v, true
	}
	for k, v := range req.Headers {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

func ec2IsV4(req *signedRequest) bool {
	if a, ok := req.header("Authorization"); ok {
		return strings.HasPrefix(a, "AWS4-HMAC-SHA256")
	}
	return req.Params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
}

// awsURIEncode percent-encodes all but RFC 3986's unreserved characters, with
// upper-case hex digits, as AWS and Python's quote(safe='-_~') do.
func awsURIEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// ec2CanonicalQuery is the sorted, encoded query string signatures v2 and v4 sign.
func ec2CanonicalQuery(params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	pairs := make([]string, 0, len(keys))
	for _, k := range keys {
		pairs = append(pairs, awsURIEncode(k)+"="+awsURIEncode(params[k]))
	}
	return strings.Join(pairs, "&")
}

// ec2SignatureV2 is AWS signature v2: base64 of the HMAC of "verb\nhost\npath\nquery"
// with the SignatureMethod parameter's hash, HmacSHA256 when none is given (and then
// signed as given, as upstream).
func ec2SignatureV2(secret string, req *signedRequest) (string, bool) {
	params := make(map[string]string, len(req.Params)+1)
	for k, v := range req.Params {
		params[k] = v
	}
	var h func() hash.Hash
	switch params["SignatureMethod"] {
	case "", "HmacSHA256":
		h, params["SignatureMethod"] = sha256.New, "HmacSHA256"
	case "HmacSHA1":
		h = sha1.New
	default:
		return "", false
	}
	sts := req.Verb + "\n" + req.Host + "\n" + req.Path + "\n" + ec2CanonicalQuery(params)
	return base64.StdEncoding.EncodeToString(hmacSum(h, []byte(secret), []byte(sts))), true
}

// oldBoto are boto versions that sign the host header without its port.
var oldBoto = regexp.MustCompile(`^Boto/2\.[0-9]\.[0-2]`)

// ec2SignatureV4 is AWS signature v4 over the request's parts: the credential scope,
// signed headers and date come from the Authorization header, or from the
// X-Amz-Credential, X-Amz-SignedHeaders and X-Amz-Date parameters.
func ec2SignatureV4(secret string, req *signedRequest) (string, bool) {
	authz, hasAuthz := req.header("Authorization")
	param := func(name string) (string, bool) {
		if hasAuthz {
			_, rest, _ := strings.Cut(authz, name+"=")
			v, _, _ := strings.Cut(rest, ",")
			return v, true
		}
		v, ok := req.Params["X-Amz-"+name]
		return v, ok
	}
	date, ok := req.header("X-Amz-Date")
	if !ok {
		date, ok = req.Params["X-Amz-Date"]
	}
	credential, hasCred := param("Credential")
	signed, hasSigned := param("SignedHeaders")
	scope := strings.Split(credential, "/")
	if !ok || len(date) < 8 || !hasCred || !hasSigned || len(scope) < 4 || !req.HasBodyHash {
		return "", false
	}

	lower := make(map[string]string, len(req.Headers))
	for k, v := range req.Headers {
		lower[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	stripPort := oldBoto.MatchString(lower["user-agent"])
	var hdrs []string
	for _, h := range strings.Split(signed, ";") {
		v, ok := lower[h]
		if !ok {
			continue
		}
		if h == "host" && stripPort {
			v, _, _ = strings.Cut(v, ":")
		}
		hdrs = append(hdrs, h+":"+v)
	}
	query := ""
	if strings.ToUpper(req.Verb) != "POST" {
		query = ec2CanonicalQuery(req.Params)
	}
	canonical := strings.Join([]string{strings.ToUpper(req.Verb), req.Path, query,
		strings.Join(hdrs, "\n") + "\n", signed, req.BodyHash}, "\n")
	crHash := sha256.Sum256([]byte(canonical))
	_, credScope, _ := strings.Cut(credential, "/")
	sts := strings.Join([]string{"AWS4-HMAC-SHA256", date, credScope, hex.EncodeToString(crHash[:])}, "\n")
	key := awsV4SigningKey(secret, []byte(date[:8]), []byte(scope[2]), []byte(scope[3]))
	return hex.EncodeToString(hmacSum(sha256.New, key, []byte(sts))), true
}
