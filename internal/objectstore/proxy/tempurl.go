package proxy

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Temp URLs, as upstream's tempurl middleware: an object request signed with
// a key the account or container owner set (X-Account-Meta-Temp-URL-Key[-2],
// X-Container-Meta-Temp-URL-Key[-2]) is let in without a token until it
// expires: temp_url_sig is the HMAC of "METHOD\nEXPIRES\nPATH" (hex for
// SHA-1, SHA-256 or SHA-512 by its length, or "<algo>:<base64>"),
// temp_url_expires a Unix time or "2006-01-02T15:04:05Z", and with
// temp_url_prefix the path is "prefix:/v1/<a>/<c>/<prefix>".

// tempURLMethods are the methods a temp URL may sign (upstream's default).
var tempURLMethods = []string{"GET", "HEAD", "PUT", "POST", "DELETE"}

// tempURLDigests are upstream's allowed digests (sha1 deprecated there too).
var tempURLDigests = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}

// tempURLKeyHeaders are the metadata holding the keys; only owners see them.
var tempURLKeyHeaders = []string{"X-Account-Meta-Temp-Url-Key", "X-Account-Meta-Temp-Url-Key-2",
	"X-Container-Meta-Temp-Url-Key", "X-Container-Meta-Temp-Url-Key-2"}

// isTempURL reports whether the request carries temp URL parameters.
func isTempURL(r *http.Request) bool {
	q := r.URL.Query()
	return q.Has("temp_url_sig") || q.Has("temp_url_expires")
}

// tempURLInvalid is upstream's _invalid: 401 with its line, none for HEAD.
func tempURLInvalid(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodHead {
		swob.Write(w, http.StatusUnauthorized, "text/html; charset=UTF-8", "")
		return false
	}
	swob.Write(w, http.StatusUnauthorized, "text/plain", "401 Unauthorized: Temp URL invalid\n")
	return false
}

// digestAndAlgorithm is upstream's extract_digest_and_algorithm.
func digestAndAlgorithm(sig string) (string, string, bool) {
	if algo, value, ok := strings.Cut(sig, ":"); ok {
		if (strings.ContainsAny(value, "-_")) && !strings.ContainsAny(value, "+/") {
			value = strings.NewReplacer("-", "+", "_", "/").Replace(value)
		}
		value = strings.TrimRight(value, "=")
		raw, err := base64.RawStdEncoding.DecodeString(value)
		if err != nil {
			return "", "", false
		}
		return algo, hex.EncodeToString(raw), true
	}
	if _, err := hex.DecodeString(sig); err != nil {
		return "", "", false
	}
	algo := map[int]string{40: "sha1", 64: "sha256", 128: "sha512"}[len(sig)]
	return algo, strings.ToLower(sig), algo != ""
}

// tempURLExpires is normalize_temp_url_expires: an integer or ISO 8601 UTC.
func tempURLExpires(v string) (int64, bool) {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, n >= 0
	}
	if t, err := time.Parse("2006-01-02T15:04:05Z", v); err == nil {
		return t.Unix(), true
	}
	return 0, false
}

// authorizeTempURL lets a temp-URL request in, or answers 401.
func (p *Proxy) authorizeTempURL(req *request) bool {
	r := req.r
	q := r.URL.Query()
	sig, expiresRaw := q.Get("temp_url_sig"), q.Get("temp_url_expires")
	if sig == "" || expiresRaw == "" || req.object == "" || !strings.HasPrefix(req.account, ResellerPrefix) {
		return tempURLInvalid(req.w, r)
	}
	expires, ok := tempURLExpires(expiresRaw)
	if !ok || expires < time.Now().Unix() {
		return tempURLInvalid(req.w, r)
	}
	algo, digest, ok := digestAndAlgorithm(sig)
	newHash := tempURLDigests[algo]
	if !ok || newHash == nil {
		return tempURLInvalid(req.w, r)
	}
	allowed := false
	for _, m := range tempURLMethods {
		allowed = allowed || m == r.Method
	}
	if !allowed {
		return tempURLInvalid(req.w, r)
	}
	signedPath := "/v1/" + req.account + "/" + req.container + "/" + req.object
	if q.Has("temp_url_prefix") {
		prefix := q.Get("temp_url_prefix")
		if !strings.HasPrefix(req.object, prefix) {
			return tempURLInvalid(req.w, r)
		}
		signedPath = "prefix:/v1/" + req.account + "/" + req.container + "/" + prefix
	}
	methods := []string{r.Method}
	if r.Method == http.MethodHead {
		methods = []string{"HEAD", "GET", "POST", "PUT"}
	}
	for _, key := range p.tempURLKeys(req) {
		for _, m := range methods {
			mac := hmac.New(newHash, []byte(key))
			mac.Write([]byte(m + "\n" + strconv.FormatInt(expires, 10) + "\n" + signedPath))
			if hmac.Equal([]byte(hex.EncodeToString(mac.Sum(nil))), []byte(digest)) {
				req.tempURLExpires = expires
				return true
			}
		}
	}
	return tempURLInvalid(req.w, r)
}

// tempURLKeys are the account's and the container's keys.
func (p *Proxy) tempURLKeys(req *request) []string {
	var keys []string
	h := http.Header{}
	h.Set("X-Trans-Id", req.transID)
	ctx := req.r.Context()
	accounts, containers := p.opts.Rings.Account, p.opts.Rings.Container
	if resp := p.readFirst(ctx, accounts, accounts.Partition(req.account), http.MethodHead, "/"+req.account, "", h); resp != nil {
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			for _, k := range tempURLKeyHeaders[:2] {
				if v := resp.Header.Get(k); v != "" {
					keys = append(keys, v)
				}
			}
		}
	}
	if resp := p.readFirst(ctx, containers, containers.Partition(req.account, req.container), http.MethodHead,
		"/"+req.account+"/"+req.container, "", h); resp != nil {
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			for _, k := range tempURLKeyHeaders[2:] {
				if v := resp.Header.Get(k); v != "" {
					keys = append(keys, v)
				}
			}
		}
	}
	return keys
}

// tempURLResponseHeaders adjusts a temp-URL GET or HEAD answer as upstream:
// user metadata hidden (but X-Object-Meta-Public-*), a Content-Disposition
// (inline or attachment, with the filename asked for or the object's), and
// Expires at the URL's expiry.
func tempURLResponseHeaders(req *request, h http.Header) {
	for k := range h {
		if strings.HasPrefix(k, "X-Object-Meta-") && !strings.HasPrefix(k, "X-Object-Meta-Public-") {
			h.Del(k)
		}
	}
	q := req.r.URL.Query()
	filename := q.Get("filename")
	var disposition string
	switch {
	case q.Has("inline") && filename != "":
		disposition = dispositionFormat("inline", filename)
	case q.Has("inline"):
		disposition = "inline"
	case filename != "":
		disposition = dispositionFormat("attachment", filename)
	case h.Get("Content-Disposition") != "":
		disposition = h.Get("Content-Disposition")
	default:
		disposition = dispositionFormat("attachment", path.Base(strings.TrimRight(req.r.URL.Path, "/")))
	}
	h.Set("Content-Disposition", strings.ReplaceAll(disposition, "\n", "%0A"))
	h.Set("Expires", time.Unix(req.tempURLExpires, 0).UTC().Format(http.TimeFormat))
}

// dispositionFormat is upstream's disposition_format (RFC 6266, 5987).
func dispositionFormat(kind, filename string) string {
	return kind + `; filename="` + quote(filename, " /") + `"; filename*=UTF-8''` + quote(filename, "/")
}

// quote is Python's urllib.parse.quote with the given safe characters.
func quote(s, safe string) string {
	var sb strings.Builder
	for _, b := range []byte(s) {
		switch {
		case b >= 'a' && b <= 'z', b >= 'A' && b <= 'Z', b >= '0' && b <= '9', strings.IndexByte("_.-~", b) >= 0,
			strings.IndexByte(safe, b) >= 0:
			sb.WriteByte(b)
		default:
			sb.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{b})))
		}
	}
	return sb.String()
}
