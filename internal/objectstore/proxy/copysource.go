package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The source of a server-side copy is read as upstream's copy middleware
// reads it, through the slo, dlo and symlink middleware below it: a large
// object or a link is copied as the bytes a GET of it answers, a new plain
// object. With ?multipart-manifest=get (a manifest) or ?symlink=get (a link)
// the stored object itself is copied, and stays a large object or a link.

// copySource is the source answer objectCopyFrom writes to its destination
// dst; raw is the source's backend answer. The caller closes what it
// returns (raw's body is closed with it or by the caller).
func (p *Proxy) copySource(dst, src *request, raw *http.Response) *http.Response {
	isSLO := configTrue(raw.Header.Get("X-Static-Large-Object"))
	isDLO := raw.Header.Get("X-Object-Manifest") != ""
	isLink := raw.Header.Get(sysmetaSymlinkTarget) != ""
	if !isSLO && !isDLO && !isLink {
		return raw
	}
	q := src.r.URL.Query()
	if (q.Get("multipart-manifest") == "get" && (isSLO || isDLO)) || (q.Get("symlink") == "get" && isLink) {
		// the stored object, with what makes it a manifest or a link
		for k, v := range raw.Header {
			if isSysmetaHeader(k) || k == "X-Static-Large-Object" || k == "X-Object-Manifest" {
				dst.r.Header[k] = v
			}
		}
		return raw
	}
	pr, pw := io.Pipe()
	out := &pipeResponse{header: http.Header{}, pw: pw, ready: make(chan int, 1)}
	sub := *src
	sub.w = out
	go func() {
		defer raw.Body.Close()
		defer func() {
			// outside the request's goroutine, so its recover is not ours
			if v := recover(); v != nil {
				p.log.Error("object-store copy source panic", "panic", v)
				out.WriteHeader(http.StatusInternalServerError)
				_ = pw.CloseWithError(fmt.Errorf("copy source failed"))
			}
		}()
		if !p.objectReadMiddleware(&sub, raw) && !p.serveDLO(&sub, raw) {
			relay(out, sub.r, raw)
		}
		out.WriteHeader(http.StatusOK) // no-op when answered
		_ = pw.Close()
	}()
	status := <-out.ready
	resp := &http.Response{StatusCode: status, Header: out.snapshot, Body: pr, ContentLength: -1}
	if n, err := strconv.ParseInt(out.snapshot.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = n
	}
	if isSLO || isDLO {
		// a large object's ETag is not its content's MD5: the copy gets its own
		resp.Header.Del("Etag")
	}
	return resp
}

// pipeResponse is a ResponseWriter whose body goes into a pipe and whose
// status and headers are handed over once written.
type pipeResponse struct {
	header   http.Header
	snapshot http.Header
	pw       *io.PipeWriter
	ready    chan int
	wrote    bool
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.snapshot = http.Header{}
	for k, v := range w.header {
		if !isSysmetaHeader(k) && !strings.EqualFold(k, "X-Static-Large-Object") {
			w.snapshot[k] = v
		}
	}
	w.ready <- status
}

func (w *pipeResponse) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.pw.Write(b)
}
