package proxy

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Static web, as upstream's staticweb middleware: anonymous GETs and HEADs
// (or any with X-Web-Mode: true) of a container whose metadata says so are
// served as a web site. X-Container-Meta-Web-Index names the index object
// of the container and of each "directory"; -Web-Listings: true lists a
// directory without an index as HTML (-Web-Listings-CSS styles it,
// -Web-Listings-Label titles it); -Web-Error: error.html serves
// "<status>error.html" for an error; -Web-Directory-Type marks directory
// objects (application/directory by default). Reads go through the proxy as
// the caller, so the container's read ACL (.r:*, and .rlistings for
// listings) decides as for any other anonymous read.

// staticWebSkip marks a request staticweb made itself.
type staticWebSkip struct{}

// staticWebConfig is the container's web metadata (_get_container_info).
type staticWebConfig struct {
	index, errorPage, listings, listingsLabel, listingsCSS, dirType string
	readACL                                                         string
}

func (p *Proxy) staticWebConfig(req *request) staticWebConfig {
	info, _ := p.containerInfo(req.r.Context(), req)
	if info == nil {
		return staticWebConfig{}
	}
	get := func(k string) string { return strings.TrimSpace(info.Get("X-Container-Meta-Web-" + k)) }
	return staticWebConfig{index: get("Index"), errorPage: get("Error"), listings: get("Listings"),
		listingsLabel: get("Listings-Label"), listingsCSS: get("Listings-Css"), dirType: get("Directory-Type"),
		readACL: info.Get("X-Container-Read")}
}

// staticWeb serves req as a web site when it is one; it reports whether it
// answered.
func (p *Proxy) staticWeb(req *request) bool {
	r := req.r
	// S3 requests arrive authenticated without a token: not anonymous readers
	if r.Context().Value(staticWebSkip{}) != nil || preauthenticated(r) != nil || req.container == "" ||
		(r.Method != http.MethodGet && r.Method != http.MethodHead) {
		return false
	}
	webMode := configTrue(r.Header.Get("X-Web-Mode"))
	if !webMode && (r.Header.Get("X-Auth-Token") != "" || r.Header.Get("X-Storage-Token") != "" || isTempURL(r)) {
		return false
	}
	if req.object != "" {
		p.staticWebObject(req)
		return true
	}
	return p.staticWebContainer(req, webMode)
}

func configTrue(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "t", "y":
		return true
	}
	return false
}

// subRequest runs a request of staticweb's own through the proxy, as the
// caller, into w.
func (p *Proxy) subRequest(req *request, w http.ResponseWriter, method, path, rawQuery string) {
	ctx := context.WithValue(req.r.Context(), staticWebSkip{}, true)
	sub := req.r.Clone(ctx)
	sub.Method = method
	sub.URL = &url.URL{Path: path, RawQuery: rawQuery}
	sub.RequestURI = sub.URL.RequestURI()
	sub.Body, sub.ContentLength = http.NoBody, 0
	p.dispatch(w, sub, req.transID)
}

// peekWriter passes an answer through to the client when keep approves its
// status and headers, and otherwise keeps it (its body bounded) for the
// caller to decide.
type peekWriter struct {
	w      http.ResponseWriter
	keep   func(status int, h http.Header) bool
	header http.Header
	status int
	passed bool
	body   strings.Builder
}

func newPeekWriter(w http.ResponseWriter, keep func(int, http.Header) bool) *peekWriter {
	return &peekWriter{w: w, keep: keep, header: http.Header{}}
}

func (pw *peekWriter) Header() http.Header { return pw.header }

func (pw *peekWriter) WriteHeader(status int) {
	if pw.status != 0 {
		return
	}
	pw.status = status
	if pw.keep(status, pw.header) {
		pw.passed = true
		for k, v := range pw.header {
			pw.w.Header()[k] = v
		}
		pw.w.WriteHeader(status)
	}
}

func (pw *peekWriter) Write(b []byte) (int, error) {
	if pw.status == 0 {
		pw.WriteHeader(http.StatusOK)
	}
	if pw.passed {
		return pw.w.Write(b)
	}
	if pw.body.Len() < 1<<20 {
		pw.body.Write(b)
	}
	return len(b), nil
}

func (pw *peekWriter) Flush() {
	if f, ok := pw.w.(http.Flusher); ok && pw.passed {
		f.Flush()
	}
}

// replay sends what the peekWriter kept.
func (pw *peekWriter) replay(req *request) {
	for k, v := range pw.header {
		req.w.Header()[k] = v
	}
	req.w.WriteHeader(pw.status)
	if req.r.Method != http.MethodHead {
		_, _ = req.w.Write([]byte(pw.body.String()))
	}
}

func success(status int) bool  { return status/100 == 2 }
func redirect(status int) bool { return status/100 == 3 }

// errorResponse is _error_response: the container's "<status><error>" page
// with the error's status when there is one, else the error itself.
func (p *Proxy) errorResponse(req *request, cfg staticWebConfig, status int, h http.Header, body string) {
	if cfg.errorPage != "" {
		rec := httptest.NewRecorder()
		p.subRequest(req, rec, http.MethodGet, "/"+req.version+"/"+req.account+"/"+req.container+"/"+
			strconv.Itoa(status)+cfg.errorPage, "")
		if success(rec.Code) {
			for k, v := range rec.Header() {
				req.w.Header()[k] = v
			}
			req.w.WriteHeader(status)
			if req.r.Method != http.MethodHead {
				_, _ = req.w.Write(rec.Body.Bytes())
			}
			return
		}
	}
	for k, v := range h {
		req.w.Header()[k] = v
	}
	req.w.WriteHeader(status)
	if req.r.Method != http.MethodHead {
		_, _ = req.w.Write([]byte(body))
	}
}

// errorStatus answers status with swob's default body through errorResponse.
func (p *Proxy) errorStatus(req *request, cfg staticWebConfig, status int) {
	h := http.Header{"Content-Type": {"text/html; charset=UTF-8"}}
	body := swob.DefaultBody(status)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	p.errorResponse(req, cfg, status, h, body)
}

func (p *Proxy) redirectWithSlash(req *request) {
	scheme := "http"
	if req.r.TLS != nil {
		scheme = "https"
	}
	req.w.Header().Set("Location", scheme+"://"+req.r.Host+(&url.URL{Path: req.r.URL.Path + "/"}).EscapedPath())
	swob.Error(req.w, http.StatusMovedPermanently)
}

// staticWebContainer is handle_container; false passes the request on.
func (p *Proxy) staticWebContainer(req *request, webMode bool) bool {
	cfg := p.staticWebConfig(req)
	rec := httptest.NewRecorder()
	sub := *req
	sub.w = rec
	if !p.authorize(&sub) {
		p.errorResponse(req, cfg, rec.Code, rec.Header(), rec.Body.String())
		return true
	}
	if cfg.listings == "" && cfg.index == "" {
		if webMode {
			swob.Error(req.w, http.StatusNotFound)
			return true
		}
		return false
	}
	if !strings.HasSuffix(req.r.URL.Path, "/") {
		p.redirectWithSlash(req)
		return true
	}
	if cfg.index == "" {
		p.staticWebListing(req, cfg, "")
		return true
	}
	pw := newPeekWriter(req.w, func(status int, _ http.Header) bool { return success(status) || redirect(status) })
	p.subRequest(req, pw, req.r.Method, req.r.URL.Path+cfg.index, "")
	switch {
	case pw.passed:
	case pw.status == http.StatusNotFound:
		p.staticWebListing(req, cfg, "")
	default:
		p.errorResponse(req, cfg, pw.status, pw.header, pw.body.String())
	}
	return true
}

// staticWebObject is handle_object.
func (p *Proxy) staticWebObject(req *request) {
	cfg := p.staticWebConfig(req)
	dirType := cfg.dirType
	if dirType == "" {
		dirType = "application/directory"
	}
	pw := newPeekWriter(req.w, func(status int, h http.Header) bool {
		if !success(status) && !redirect(status) {
			return false
		}
		length, _ := strconv.ParseInt(h.Get("Content-Length"), 10, 64)
		return h.Get("Content-Type") != dirType || length > 1
	})
	p.subRequest(req, pw, req.r.Method, req.r.URL.Path, req.r.URL.RawQuery)
	if pw.passed {
		return
	}
	status := pw.status
	if success(status) || redirect(status) {
		status = http.StatusNotFound // a directory marker
	} else if status != http.StatusNotFound || (cfg.listings == "" && cfg.index == "") {
		pw.replay(req)
		return
	}
	if cfg.index != "" {
		path := req.r.URL.Path
		if !strings.HasSuffix(path, "/") {
			path += "/"
		}
		slash := strings.HasSuffix(req.r.URL.Path, "/")
		ipw := newPeekWriter(req.w, func(status int, _ http.Header) bool { return slash && (success(status) || redirect(status)) })
		p.subRequest(req, ipw, req.r.Method, path+cfg.index, "")
		if ipw.passed {
			return
		}
		if success(ipw.status) || redirect(ipw.status) {
			p.redirectWithSlash(req)
			return
		}
		status = ipw.status
	}
	if status != http.StatusNotFound {
		return
	}
	if !strings.HasSuffix(req.r.URL.Path, "/") {
		rec := httptest.NewRecorder()
		q := url.Values{"limit": {"1"}, "delimiter": {"/"}, "prefix": {req.object + "/"}, "format": {"json"}}
		p.subRequest(req, rec, http.MethodGet, "/"+req.version+"/"+req.account+"/"+req.container, q.Encode())
		var listing []json.RawMessage
		if !success(rec.Code) || json.Unmarshal(rec.Body.Bytes(), &listing) != nil || len(listing) == 0 {
			p.errorStatus(req, cfg, http.StatusNotFound)
			return
		}
		p.redirectWithSlash(req)
		return
	}
	p.staticWebListing(req, cfg, req.object)
}

// listingItem is one row of a JSON container listing.
type listingItem struct {
	Subdir       *string `json:"subdir"`
	Name         *string `json:"name"`
	Bytes        int64   `json:"bytes"`
	ContentType  string  `json:"content_type"`
	LastModified string  `json:"last_modified"`
}

// staticWebListing is _listing: the HTML listing of the directory prefix.
func (p *Proxy) staticWebListing(req *request, cfg staticWebConfig, prefix string) {
	label := req.r.URL.Path
	if cfg.listingsLabel != "" {
		groups := strings.Split(req.r.URL.Path, "/")
		rest := ""
		if len(groups) > 4 {
			rest = strings.Join(groups[4:], "/")
		}
		label = cfg.listingsLabel + "/" + rest
	}
	if !configTrue(cfg.listings) {
		body := "<!DOCTYPE html>\n<html>\n<head>\n<title>Listing of " + html.EscapeString(label) + "</title>\n"
		if cfg.listingsCSS != "" {
			body += `  <link rel="stylesheet" type="text/css" href="` + buildCSSPath(cfg.listingsCSS, prefix) + "\" />\n"
		} else {
			body += "  <style type=\"text/css\">\n   h1 {font-size: 1em; font-weight: bold;}\n   p {font-size: 2}\n  </style>\n"
		}
		body += "</head>\n<body>  <h1>Web Listing Disabled</h1>   <p>The owner of this web site has disabled web listing." +
			"   <p>If you are the owner of this web site, you can enable   web listing by setting X-Container-Meta-Web-Listings.</p>"
		if cfg.index != "" {
			body += "<h1>Index File Not Found</h1> <p>The owner of this web site has set  <b>X-Container-Meta-Web-Index: " +
				cfg.index + "</b>.  However, this file is not found.</p>"
		}
		body += " </body>\n</html>\n"
		h := http.Header{"Content-Type": {"text/html; charset=UTF-8"}, "Content-Length": {strconv.Itoa(len(body))}}
		p.errorResponse(req, cfg, http.StatusNotFound, h, body)
		return
	}
	q := url.Values{"delimiter": {"/"}, "format": {"json"}}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	rec := httptest.NewRecorder()
	p.subRequest(req, rec, http.MethodGet, "/"+req.version+"/"+req.account+"/"+req.container, q.Encode())
	if !success(rec.Code) {
		p.errorResponse(req, cfg, rec.Code, rec.Header(), rec.Body.String())
		return
	}
	var listing []listingItem
	if rec.Code != http.StatusNoContent && json.Unmarshal(rec.Body.Bytes(), &listing) != nil {
		p.errorStatus(req, cfg, http.StatusServiceUnavailable)
		return
	}
	if prefix != "" && len(listing) == 0 {
		p.errorStatus(req, cfg, http.StatusNotFound)
		return
	}
	var sb strings.Builder
	sb.WriteString("<!DOCTYPE html>\n<html>\n <head>\n  <title>Listing of " + html.EscapeString(label) + "</title>\n")
	if cfg.listingsCSS != "" {
		sb.WriteString(`  <link rel="stylesheet" type="text/css" href="` + buildCSSPath(cfg.listingsCSS, prefix) + "\" />\n")
	} else {
		sb.WriteString("  <style type=\"text/css\">\n   h1 {font-size: 1em; font-weight: bold;}\n" +
			"   th {text-align: left; padding: 0px 1em 0px 1em;}\n   td {padding: 0px 1em 0px 1em;}\n" +
			"   a {text-decoration: none;}\n  </style>\n")
	}
	sb.WriteString(" </head>\n <body>\n  <h1 id=\"title\">Listing of " + html.EscapeString(label) + "</h1>\n" +
		"  <table id=\"listing\">\n   <tr id=\"heading\">\n    <th class=\"colname\">Name</th>\n" +
		"    <th class=\"colsize\">Size</th>\n    <th class=\"coldate\">Date</th>\n   </tr>\n")
	if prefix != "" {
		sb.WriteString("   <tr id=\"parent\" class=\"item\">\n    <td class=\"colname\"><a href=\"../\">../</a></td>\n" +
			"    <td class=\"colsize\">&nbsp;</td>\n    <td class=\"coldate\">&nbsp;</td>\n   </tr>\n")
	}
	for _, item := range listing {
		if item.Subdir == nil {
			continue
		}
		subdir := strings.TrimPrefix(*item.Subdir, prefix)
		fmt.Fprintf(&sb, "   <tr class=\"item subdir\">\n    <td class=\"colname\"><a href=\"./%s\">%s</a></td>\n"+
			"    <td class=\"colsize\">&nbsp;</td>\n    <td class=\"coldate\">&nbsp;</td>\n   </tr>\n",
			strings.ReplaceAll(quote(subdir, "/"), ".", "%2E"), html.EscapeString(subdir))
	}
	for _, item := range listing {
		if item.Name == nil {
			continue
		}
		name := strings.TrimPrefix(*item.Name, prefix)
		var types []string
		for _, t := range strings.Split(item.ContentType, "/") {
			types = append(types, "type-"+html.EscapeString(strings.ToLower(t)))
		}
		modified, _, _ := strings.Cut(html.EscapeString(item.LastModified), ".")
		fmt.Fprintf(&sb, "   <tr class=\"item %s\">\n    <td class=\"colname\"><a href=\"./%s\">%s</a></td>\n"+
			"    <td class=\"colsize\">%s</td>\n    <td class=\"coldate\">%s</td>\n   </tr>\n",
			strings.Join(types, " "), strings.ReplaceAll(quote(name, "/"), ".", "%2E"), html.EscapeString(name),
			humanReadable(item.Bytes), strings.ReplaceAll(modified, "T", " "))
	}
	sb.WriteString("  </table>\n </body>\n</html>\n")
	if req.r.Method == http.MethodHead {
		req.w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		req.w.Header().Set("Content-Length", strconv.Itoa(sb.Len()))
		req.w.WriteHeader(http.StatusOK)
		return
	}
	swob.Write(req.w, http.StatusOK, "text/html; charset=UTF-8", sb.String())
}

// buildCSSPath is _build_css_path: relative to the listed directory unless
// absolute.
func buildCSSPath(css, prefix string) string {
	if strings.HasPrefix(css, "/") || strings.HasPrefix(css, "http://") || strings.HasPrefix(css, "https://") {
		return quote(css, ":/")
	}
	return strings.Repeat("../", strings.Count(prefix, "/")) + quote(css, "/")
}

// humanReadable is upstream's human_readable (1048576 is "1Mi").
func humanReadable(n int64) string {
	value := float64(n)
	suffixes := "KMGTPEZY"
	index := -1
	for value >= 1024 && index+1 < len(suffixes) {
		index++
		value = math.RoundToEven(value / 1024)
	}
	if index == -1 {
		return strconv.FormatInt(int64(value), 10)
	}
	return fmt.Sprintf("%d%ci", int64(math.RoundToEven(value)), suffixes[index])
}
