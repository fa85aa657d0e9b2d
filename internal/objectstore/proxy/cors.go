package proxy

import (
	"net/http"
	"sort"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// CORS, as upstream's proxy (cors_validation and the controllers' OPTIONS):
// a container's X-Container-Meta-Access-Control-Allow-Origin (origins
// separated by spaces, or "*"), -Max-Age and -Expose-Headers govern
// browsers' cross-origin requests to it and its objects. A preflight OPTIONS
// needs no token and is 401 unless the origin and the requested method are
// allowed; an actual request with an Origin gets Access-Control-Allow-Origin
// and -Expose-Headers on its answer when the origin is allowed
// (strict_cors_mode, upstream's default).

// strictCORSMode is upstream's default strict_cors_mode.
const strictCORSMode = true

// corsInfo is the container's CORS metadata (container_info's "cors").
type corsInfo struct {
	allowOrigin, exposeHeaders, maxAge string
}

func (p *Proxy) corsInfo(req *request) corsInfo {
	info, _ := p.containerInfo(req.r.Context(), req)
	if info == nil {
		return corsInfo{}
	}
	return corsInfo{
		allowOrigin:   info.Get("X-Container-Meta-Access-Control-Allow-Origin"),
		exposeHeaders: info.Get("X-Container-Meta-Access-Control-Expose-Headers"),
		maxAge:        info.Get("X-Container-Meta-Access-Control-Max-Age"),
	}
}

// originAllowed is upstream's is_origin_allowed.
func (c corsInfo) originAllowed(origin string) bool {
	for _, o := range strings.Fields(c.allowOrigin) {
		if o == origin || o == "*" {
			return true
		}
	}
	return false
}

// allowedMethods are the controller's public methods, as OPTIONS answers them.
func allowedMethods(req *request) []string {
	if req.container == "" {
		return []string{"GET", "HEAD", "OPTIONS", "POST"}
	}
	return []string{"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"}
}

// cors handles what CORS changes about a request: it answers an OPTIONS
// (and reports true), or wraps req.w so a cross-origin answer carries the
// Access-Control headers.
func (p *Proxy) cors(req *request) bool {
	r := req.r
	if r.Method == http.MethodOptions {
		p.options(req)
		return true
	}
	origin := r.Header.Get("Origin")
	if origin == "" || req.container == "" {
		return false
	}
	info := p.corsInfo(req)
	if strictCORSMode && !info.originAllowed(origin) {
		return false
	}
	req.w = &corsWriter{ResponseWriter: req.w, origin: origin, info: info}
	return false
}

// options is the controllers' OPTIONS: the allowed methods, and for a CORS
// preflight the Access-Control headers or 401.
func (p *Proxy) options(req *request) {
	methods := allowedMethods(req)
	h := req.w.Header()
	h.Set("Allow", strings.Join(methods, ", "))
	origin := req.r.Header.Get("Origin")
	if origin == "" || req.container == "" {
		swob.Write(req.w, http.StatusOK, "text/html; charset=UTF-8", "")
		return
	}
	info := p.corsInfo(req)
	if !info.originAllowed(origin) || !containsString(methods, req.r.Header.Get("Access-Control-Request-Method")) {
		swob.Error(req.w, http.StatusUnauthorized)
		return
	}
	var vary []string
	if strings.TrimSpace(info.allowOrigin) == "*" {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
		vary = append(vary, "Origin")
	}
	if info.maxAge != "" {
		h.Set("Access-Control-Max-Age", info.maxAge)
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(methods, ", "))
	if requested := listFromCSV(req.r.Header.Get("Access-Control-Request-Headers")); len(requested) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(requested, ", "))
		vary = append(vary, "Access-Control-Request-Headers")
	}
	if len(vary) > 0 {
		h.Set("Vary", strings.Join(vary, ", "))
	}
	swob.Write(req.w, http.StatusOK, "text/html; charset=UTF-8", "")
}

// listFromCSV is upstream's list_from_csv, without duplicates.
func listFromCSV(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" && !containsString(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// corsSimpleHeaders are what cors_validation always exposes.
var corsSimpleHeaders = []string{"cache-control", "content-language", "content-type", "expires", "last-modified",
	"pragma", "etag", "x-timestamp", "x-trans-id", "x-openstack-request-id"}

// corsWriter adds cors_validation's headers to an answer before it is sent.
type corsWriter struct {
	http.ResponseWriter
	origin string
	info   corsInfo
	done   bool
}

func (c *corsWriter) WriteHeader(status int) {
	if !c.done {
		c.done = true
		h := c.Header()
		if h.Get("Access-Control-Expose-Headers") == "" {
			expose := map[string]bool{}
			for _, k := range corsSimpleHeaders {
				expose[k] = true
			}
			for k := range h {
				if strings.HasPrefix(k, "X-Container-Meta") || strings.HasPrefix(k, "X-Object-Meta") {
					expose[strings.ToLower(k)] = true
				}
			}
			for _, k := range strings.Split(c.info.exposeHeaders, " ") {
				if k = strings.TrimSpace(k); k != "" {
					expose[strings.ToLower(k)] = true
				}
			}
			list := make([]string, 0, len(expose))
			for k := range expose {
				list = append(list, k)
			}
			sort.Strings(list)
			h.Set("Access-Control-Expose-Headers", strings.Join(list, ", "))
		}
		if h.Get("Access-Control-Allow-Origin") == "" {
			if strings.TrimSpace(c.info.allowOrigin) == "*" {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", c.origin)
				if v := h.Get("Vary"); v != "" {
					h.Set("Vary", v+", Origin")
				} else {
					h.Set("Vary", "Origin")
				}
			}
		}
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *corsWriter) Write(b []byte) (int, error) {
	if !c.done {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}

func (c *corsWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
