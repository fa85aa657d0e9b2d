package identity

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// OAuth 1.0a request signing (RFC 5849) as OS-OAUTH1 uses it: the protocol
// parameters travel in an "Authorization: OAuth ..." header and the request is
// signed with HMAC-SHA1 or PLAINTEXT, keyed by the consumer secret and (once there
// is one) the request or access token secret.

// oauth1TimestampWindow is how far oauth_timestamp may be from the server clock
// (oauthlib's default, which upstream uses); nonces are remembered that long.
const oauth1TimestampWindow = 10 * time.Minute

// oauth1Request is a parsed OAuth-signed request.
type oauth1Request struct {
	oauth     map[string]string // oauth_* parameters of the Authorization header
	params    [][2]string       // every signed parameter: header (less signature, realm), query, form
	signature string
	method    string
	urls      []string // base string URIs the client may have signed
}

func (o *oauth1Request) get(name string) string { return o.oauth[name] }

// parseOAuth1Request reads the OAuth parameters of r. baseURL is the public URL of
// identity, under which the client may have addressed the request instead of the
// Host it reached (behind a proxy).
func parseOAuth1Request(r *http.Request, publicURL string) (*oauth1Request, error) {
	h := r.Header.Get("Authorization")
	if len(h) < 6 || !strings.EqualFold(h[:6], "OAuth ") {
		return nil, httpapi.BadRequest("Expecting to find OAuth parameters in the Authorization header.")
	}
	o := &oauth1Request{oauth: map[string]string{}, method: strings.ToUpper(r.Method)}
	for _, part := range strings.Split(h[6:], ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
			return nil, httpapi.BadRequest("Malformed OAuth Authorization header.")
		}
		name, err1 := url.PathUnescape(strings.TrimSpace(k))
		value, err2 := url.PathUnescape(v[1 : len(v)-1])
		if err1 != nil || err2 != nil {
			return nil, httpapi.BadRequest("Malformed OAuth Authorization header.")
		}
		if name == "realm" {
			continue
		}
		if _, dup := o.oauth[name]; dup {
			return nil, httpapi.BadRequest("Duplicate OAuth parameter %s.", name)
		}
		o.oauth[name] = value
		if name == "oauth_signature" {
			o.signature = value
			continue
		}
		o.params = append(o.params, [2]string{name, value})
	}
	for _, name := range []string{"oauth_consumer_key", "oauth_signature_method", "oauth_signature"} {
		if o.oauth[name] == "" {
			return nil, httpapi.BadRequest("Expecting to find %s in the OAuth Authorization header.", name)
		}
	}
	if v, ok := o.oauth["oauth_version"]; ok && v != "1.0" {
		return nil, httpapi.BadRequest("Unsupported oauth_version %s.", v)
	}
	for k, vs := range r.URL.Query() {
		for _, v := range vs {
			o.params = append(o.params, [2]string{k, v})
		}
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" && r.Body != nil {
		if err := r.ParseForm(); err != nil {
			return nil, httpapi.BadRequest("Malformed form body.")
		}
		for k, vs := range r.PostForm {
			for _, v := range vs {
				o.params = append(o.params, [2]string{k, v})
			}
		}
	}

	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p // only changes what the client must have signed
	}
	path := r.URL.EscapedPath()
	o.urls = append(o.urls, oauth1BaseURI(scheme+"://"+r.Host+path))
	if publicURL != "" {
		if u := oauth1BaseURI(strings.TrimSuffix(publicURL, "/") + path); u != o.urls[0] {
			o.urls = append(o.urls, u)
		}
	}
	return o, nil
}

// oauth1BaseURI normalizes a request URI as RFC 5849 3.4.1.2: lowercase scheme and
// host, no default port, no query or fragment.
func oauth1BaseURI(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	scheme, host := strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	if p := u.Port(); (scheme == "http" && p == "80") || (scheme == "https" && p == "443") {
		host = strings.TrimSuffix(host, ":"+p)
	}
	return scheme + "://" + host + u.EscapedPath()
}

// oauth1Encode is RFC 5849 3.6 percent-encoding: everything but unreserved.
func oauth1Encode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// baseString is the signature base string (RFC 5849 3.4.1) for one base URI.
func (o *oauth1Request) baseString(baseURI string) string {
	enc := make([]string, len(o.params))
	for i, p := range o.params {
		enc[i] = oauth1Encode(p[0]) + "=" + oauth1Encode(p[1])
	}
	// Sorting "name=value" strings sorts by name, then value: '=' sorts below every
	// character an encoded name or value may hold.
	sort.Strings(enc)
	return o.method + "&" + oauth1Encode(baseURI) + "&" + oauth1Encode(strings.Join(enc, "&"))
}

// verify checks the signature against the consumer and token secrets (tokenSecret
// is "" when there is no token yet) and the timestamp and nonce.
func (o *oauth1Request) verify(consumerSecret, tokenSecret string, now time.Time) error {
	key := oauth1Encode(consumerSecret) + "&" + oauth1Encode(tokenSecret)
	ok := false
	switch o.get("oauth_signature_method") {
	case "HMAC-SHA1":
		if err := o.checkFreshness(now); err != nil {
			return err
		}
		got, err := base64.StdEncoding.DecodeString(o.signature)
		if err != nil {
			return errOAuth1Signature
		}
		for _, u := range o.urls {
			m := hmac.New(sha1.New, []byte(key))
			m.Write([]byte(o.baseString(u)))
			if hmac.Equal(m.Sum(nil), got) {
				ok = true
			}
		}
	case "PLAINTEXT":
		// The signature is the key itself (RFC 5849 3.4.4); timestamp and nonce
		// are optional but checked when sent.
		if _, has := o.oauth["oauth_timestamp"]; has {
			if err := o.checkFreshness(now); err != nil {
				return err
			}
		}
		ok = subtle.ConstantTimeCompare([]byte(o.signature), []byte(key)) == 1
	default:
		return httpapi.BadRequest("Unsupported oauth_signature_method %s.", o.get("oauth_signature_method"))
	}
	if !ok {
		return errOAuth1Signature
	}
	if nonce := o.get("oauth_nonce"); nonce != "" {
		if !oauth1Nonces.remember(o.get("oauth_consumer_key")+"\x00"+o.get("oauth_token")+"\x00"+
			o.get("oauth_timestamp")+"\x00"+nonce, now) {
			return httpapi.Unauthorized("The OAuth nonce was already used.")
		}
	}
	return nil
}

var errOAuth1Signature = httpapi.Unauthorized("Invalid signature.")

func (o *oauth1Request) checkFreshness(now time.Time) error {
	ts, err := strconv.ParseInt(o.get("oauth_timestamp"), 10, 64)
	if err != nil || o.get("oauth_nonce") == "" {
		return httpapi.BadRequest("Expecting to find oauth_timestamp and oauth_nonce in the OAuth Authorization header.")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > oauth1TimestampWindow || d < -oauth1TimestampWindow {
		return httpapi.Unauthorized("The OAuth timestamp is outside the accepted window.")
	}
	return nil
}

// nonceCache remembers the nonces of verified requests for the timestamp window,
// so a captured request cannot be replayed while its timestamp is acceptable.
type nonceCache struct {
	mu   sync.Mutex
	seen map[string]time.Time // key -> when it may be forgotten
}

var oauth1Nonces = &nonceCache{seen: map[string]time.Time{}}

// remember records key, reporting false when it was already recorded.
func (c *nonceCache) remember(key string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until, ok := c.seen[key]; ok && now.Before(until) {
		return false
	}
	if len(c.seen) >= 4096 {
		for k, until := range c.seen {
			if !now.Before(until) {
				delete(c.seen, k)
			}
		}
	}
	c.seen[key] = now.Add(2 * oauth1TimestampWindow)
	return true
}
