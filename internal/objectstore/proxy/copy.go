package proxy

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Server-side copy, as upstream's copy middleware: COPY with Destination (and
// Destination-Account), or a zero-byte PUT with X-Copy-From (and
// X-Copy-From-Account). The source is read with the caller's rights and
// written to the destination as a PUT would be, its metadata carried over
// unless X-Fresh-Metadata, the request's own metadata winning.

// copyPath is upstream's check_path_header: "<container>/<object>",
// URL-quoted, an optional leading slash.
func copyPath(w http.ResponseWriter, value, header string) (string, string, bool) {
	v, err := url.PathUnescape(value)
	if err != nil {
		v = value
	}
	v = strings.TrimPrefix(v, "/")
	container, object, ok := strings.Cut(v, "/")
	if !ok || container == "" || object == "" || !validName(v) {
		swob.Text(w, http.StatusPreconditionFailed, header+" header must be of the form <container name>/<object name>")
		return "", "", false
	}
	return container, object, true
}

// objectCopyVerb turns COPY into the PUT with X-Copy-From it stands for.
func (p *Proxy) objectCopyVerb(req *request) {
	r := req.r
	dest := r.Header.Get("Destination")
	if dest == "" {
		swob.Text(req.w, http.StatusPreconditionFailed, "Destination header required")
		return
	}
	container, object, ok := copyPath(req.w, dest, "Destination")
	if !ok {
		return
	}
	dst := *req
	dst.r = r.Clone(r.Context())
	dst.r.Method = http.MethodPut
	dst.r.Header.Del("Destination")
	if acct := r.Header.Get("Destination-Account"); acct != "" {
		a, err := url.PathUnescape(acct)
		if err != nil || a == "" || strings.Contains(a, "/") {
			swob.Text(req.w, http.StatusPreconditionFailed, "Account name cannot contain slashes")
			return
		}
		dst.account = a
		dst.r.Header.Set("X-Copy-From-Account", req.account)
		dst.r.Header.Del("Destination-Account")
	}
	dst.container, dst.object = container, object
	dst.r.Header.Set("X-Copy-From", url.PathEscape(req.container)+"/"+escapePath(req.object))
	dst.r.ContentLength = 0
	dst.r.Body = http.NoBody
	// the caller must be able to write the destination; the source's read is
	// checked next
	if !p.authorize(&dst) {
		return
	}
	p.objectCopyFrom(&dst)
}

// objectCopyFrom is a PUT with X-Copy-From: the source object streamed into
// the destination.
func (p *Proxy) objectCopyFrom(dst *request) {
	r := dst.r
	if r.ContentLength > 0 {
		swob.Text(dst.w, http.StatusBadRequest, "Copy requests require a zero byte body")
		return
	}
	srcContainer, srcObject, ok := copyPath(dst.w, r.Header.Get("X-Copy-From"), "X-Copy-From")
	if !ok {
		return
	}
	src := *dst
	src.container, src.object = srcContainer, srcObject
	if acct := r.Header.Get("X-Copy-From-Account"); acct != "" {
		a, err := url.PathUnescape(acct)
		if err != nil || a == "" || strings.Contains(a, "/") {
			swob.Text(dst.w, http.StatusPreconditionFailed, "Account name cannot contain slashes")
			return
		}
		src.account = a
	}
	src.r = r.Clone(r.Context())
	src.r.Method = http.MethodGet
	if !p.authorize(&src) {
		return
	}
	rg := p.objectRing(r.Context(), dst.transID, src.account, src.container)
	h := http.Header{}
	h.Set("X-Trans-Id", dst.transID)
	for _, k := range []string{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"} {
		if v := r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	resp := p.readFirst(r.Context(), rg, rg.Partition(src.account, src.container, src.object), http.MethodGet, src.objectPath(), "", h)
	if resp == nil {
		swob.Error(dst.w, http.StatusServiceUnavailable)
		return
	}
	defer resp.Body.Close()
	resp = p.copySource(dst, &src, resp) // large objects and links, as the copy middleware reads them
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		relay(dst.w, src.r, resp)
		return
	}
	if resp.ContentLength < 0 || resp.ContentLength > MaxFileSize {
		swob.Error(dst.w, http.StatusRequestEntityTooLarge)
		return
	}
	sink := r.Clone(r.Context())
	sink.Header = http.Header{}
	fresh := strings.EqualFold(r.Header.Get("X-Fresh-Metadata"), "true")
	if !fresh {
		for k, v := range resp.Header {
			if strings.HasPrefix(k, "X-Object-Meta-") || k == "Content-Disposition" || k == "Content-Encoding" ||
				k == "X-Delete-At" || k == "Cache-Control" || k == "Content-Language" || k == "Expires" || k == "X-Robots-Tag" {
				sink.Header[k] = v
			}
		}
	}
	for k, v := range r.Header {
		if k != "X-Copy-From" && k != "X-Copy-From-Account" && k != "Content-Length" {
			sink.Header[k] = v
		}
	}
	if sink.Header.Get("Content-Type") == "" {
		sink.Header.Set("Content-Type", resp.Header.Get("Content-Type"))
	}
	sink.Header.Set("ETag", strings.Trim(resp.Header.Get("Etag"), `"`))
	sink.Body = resp.Body
	sink.ContentLength = resp.ContentLength
	wh := dst.w.Header()
	wh.Set("X-Copied-From-Account", url.PathEscape(src.account))
	wh.Set("X-Copied-From", url.PathEscape(src.container)+"/"+escapePath(src.object))
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		wh.Set("X-Copied-From-Last-Modified", lm)
	}
	for k, v := range sink.Header {
		if strings.HasPrefix(k, "X-Object-Meta-") || k == "X-Delete-At" {
			wh[k] = v
		}
	}
	put := *dst
	put.r = sink
	p.objectPut(&put)
}
