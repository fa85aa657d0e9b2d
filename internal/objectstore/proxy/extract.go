package proxy

import (
	"archive/tar"
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Bulk upload, as upstream's bulk middleware's extract-archive: a PUT of a
// tar (or tar.gz, tar.bz2) archive to /v1/<account>[/<container>[/<prefix>]]
// with ?extract-archive=tar|tar.gz|tar.bz2 makes each regular file of the
// archive the object <container>/<name> (under the path's container and
// prefix, when given), creating containers as needed, each as its own
// request with the caller's token. Member names only ever name objects: no
// file is written on the proxy's host. The answer is 200 at once, its body
// (after whitespace sent every 10 s while the work goes on) the summary:
// Number Files Created, Response Status, Response Body and Errors.

// Upstream's bulk defaults.
const (
	maxContainersPerExtraction = 10000
	maxFailedExtractions       = 1000
	extractYieldFrequency      = 10 * time.Second
)

// maxBulkPathLength is upstream's max_path_length for names in answers.
const maxBulkPathLength = MaxObjectNameLength + MaxContainerNameLength + 2

// extractArchive serves a PUT with ?extract-archive and reports true, or
// false for any other request.
func (p *Proxy) extractArchive(req *request) bool {
	r := req.r
	if r.Method != http.MethodPut || !r.URL.Query().Has("extract-archive") {
		return false
	}
	compression, ok := map[string]string{"tar": "", "tar.gz": "gz", "tar.bz2": "bz2"}[strings.Trim(strings.ToLower(r.URL.Query().Get("extract-archive")), ".")]
	if !ok {
		swob.Write(req.w, http.StatusBadRequest, "text/html; charset=UTF-8", "Unsupported archive format")
		return true
	}
	format := bestMatchFormat(r.Header.Get("Accept"))
	req.w.Header().Set("Content-Type", format)
	req.w.WriteHeader(http.StatusOK)
	ex := &extraction{p: p, req: req, lastYield: time.Now(), toYield: " "}
	if strings.HasSuffix(format, "/xml") {
		ex.toYield = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"
	}
	summary, failed := ex.run(compression)
	_, _ = io.WriteString(req.w, ex.separator+extractSummary(format, summary, failed))
	return true
}

// extraction is one archive being extracted.
type extraction struct {
	p                  *Proxy
	req                *request
	lastYield          time.Time
	toYield, separator string
}

// heartbeat sends whitespace every yield_frequency, so clients and
// balancers keep the connection while a large archive is extracted.
func (ex *extraction) heartbeat() {
	if time.Since(ex.lastYield) < extractYieldFrequency {
		return
	}
	ex.lastYield = time.Now()
	_, _ = io.WriteString(ex.req.w, ex.toYield)
	if f, ok := ex.req.w.(http.Flusher); ok {
		f.Flush()
	}
	ex.toYield, ex.separator = " ", "\r\n\r\n"
}

// bulkSummary is the answer's fields, in upstream's order.
type bulkSummary struct {
	status, body string
	created      int
}

func statusLine(code int) string { return fmt.Sprintf("%d %s", code, swob.Title(code)) }

// tarError is Python tarfile's message for what Go's readers report.
func tarError(err error) string {
	var bz bzip2.StructuralError
	switch {
	case errors.Is(err, gzip.ErrHeader):
		return "not a gzip file"
	case errors.As(err, &bz):
		return "not a bzip2 file"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of data"
	case errors.Is(err, tar.ErrHeader):
		return "invalid header"
	}
	return err.Error()
}

// run is handle_extract_iter's work: the summary and the failures.
func (ex *extraction) run(compression string) (bulkSummary, [][2]string) {
	req, r := ex.req, ex.req.r
	s := bulkSummary{status: statusLine(http.StatusCreated)}
	var failed [][2]string
	if r.ContentLength < 0 && !strings.EqualFold(strings.Join(r.TransferEncoding, ","), "chunked") {
		return bulkSummary{status: statusLine(http.StatusLengthRequired), body: swob.DefaultBody(http.StatusLengthRequired)}, nil
	}
	base := req.container
	if req.object != "" {
		base += "/" + req.object
	}
	base = strings.TrimRight(base, "/")
	var body io.Reader = bufio.NewReaderSize(r.Body, 64<<10)
	switch compression {
	case "gz":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return bulkSummary{status: statusLine(http.StatusBadRequest), body: "Invalid Tar File: " + tarError(err)}, nil
		}
		defer zr.Close()
		body = zr
	case "bz2":
		body = bzip2.NewReader(body)
	}
	tr := tar.NewReader(body)
	failedType := http.StatusBadRequest
	containersCreated := 0
	accessed := map[string]bool{}
	quoteName := func(name string) string {
		if len(name) > maxBulkPathLength {
			name = name[:maxBulkPathLength]
		}
		return quote(name, "/")
	}
	for first := true; ; first = false {
		ex.heartbeat()
		if len(failed) >= maxFailedExtractions {
			break
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			if first {
				s.status, s.body = statusLine(http.StatusBadRequest), "Invalid Tar File: empty file"
				return s, failed
			}
			break
		}
		if err != nil {
			return bulkSummary{status: statusLine(http.StatusBadRequest), body: "Invalid Tar File: " + tarError(err), created: s.created}, failed
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeCont, tar.TypeGNUSparse:
		default:
			continue
		}
		name, ok := archiveObjectName(base, hdr.Name)
		if !ok {
			continue // a file at the archive's top level names no container
		}
		destination := "/" + req.version + "/" + req.account + "/" + name
		container, _, _ := strings.Cut(name, "/")
		if !validName(destination) {
			failed = append(failed, [2]string{quoteName(name), statusLine(http.StatusPreconditionFailed)})
			continue
		}
		if hdr.Size > MaxFileSize {
			failed = append(failed, [2]string{quoteName(name), statusLine(http.StatusRequestEntityTooLarge)})
			continue
		}
		var containerFailure *[2]string
		if !accessed[container] {
			containerPath := "/" + req.version + "/" + req.account + "/" + container
			created, status := ex.createContainer(containerPath)
			switch {
			case status == http.StatusUnauthorized:
				return bulkSummary{status: statusLine(http.StatusUnauthorized), body: swob.DefaultBody(http.StatusUnauthorized),
					created: s.created}, failed
			case status != 0:
				// the object PUT may still succeed if an ACL allows it
				containerFailure = &[2]string{quoteName(containerPath), statusLine(status)}
			case created:
				containersCreated++
				if containersCreated > maxContainersPerExtraction {
					return bulkSummary{status: statusLine(http.StatusBadRequest), created: s.created,
						body: fmt.Sprintf("More than %d containers to create from tar.", maxContainersPerExtraction)}, failed
				}
			}
		}
		h := http.Header{}
		for k, v := range r.Header {
			if k == "X-Auth-Token" || k == "X-Delete-At" || k == "X-Delete-After" || strings.HasPrefix(k, "X-Object-Meta-") {
				h[k] = v
			}
		}
		for k, v := range hdr.PAXRecords {
			if name := paxKeyToHeader(k); name != "" {
				h.Set(name, v)
			}
		}
		status := ex.subRequest(http.MethodPut, destination, h, tr, hdr.Size)
		accessed[container] = true
		if success(status) {
			s.created++
			continue
		}
		if containerFailure != nil {
			failed = append(failed, *containerFailure)
		}
		if status == http.StatusUnauthorized {
			failed = append(failed, [2]string{quoteName(name), statusLine(http.StatusUnauthorized)})
			return bulkSummary{status: statusLine(http.StatusUnauthorized), body: swob.DefaultBody(http.StatusUnauthorized),
				created: s.created}, failed
		}
		if status/100 == 5 {
			failedType = http.StatusBadGateway
		}
		failed = append(failed, [2]string{quoteName(name), statusLine(status)})
	}
	switch {
	case len(failed) > 0:
		s.status = statusLine(failedType)
	case s.created == 0:
		s.status, s.body = statusLine(http.StatusBadRequest), "Invalid Tar File: No Valid Files"
	}
	return s, failed
}

// archiveObjectName is the "<container>/<object>" a member of the archive
// becomes under base, as upstream names it: "./" and leading slashes
// dropped; false for a file at the top level. The name is only ever an
// object's name, never a path on this host.
func archiveObjectName(base, member string) (string, bool) {
	name := strings.TrimPrefix(member, "./")
	name = strings.TrimLeft(name, "/")
	if base != "" {
		name = base + "/" + name
	}
	return name, strings.Contains(name, "/")
}

// paxKeyToHeader is upstream's pax_key_to_swift_header: the extended
// attributes tar keeps become the object's content type and metadata.
func paxKeyToHeader(key string) string {
	switch {
	case key == "SCHILY.xattr.user.mime_type" || key == "LIBARCHIVE.xattr.user.mime_type":
		return "Content-Type"
	case strings.HasPrefix(key, "SCHILY.xattr.user.meta."):
		return "X-Object-Meta-" + key[len("SCHILY.xattr.user.meta."):]
	case strings.HasPrefix(key, "LIBARCHIVE.xattr.user.meta."):
		return "X-Object-Meta-" + key[len("LIBARCHIVE.xattr.user.meta."):]
	}
	return ""
}

// createContainer is create_container: HEAD, then PUT when it is missing;
// it reports whether it made it, or the status that failed (0 for none).
func (ex *extraction) createContainer(path string) (bool, int) {
	h := http.Header{}
	if v := ex.req.r.Header.Get("X-Auth-Token"); v != "" {
		h.Set("X-Auth-Token", v)
	}
	status := ex.subRequest(http.MethodHead, path, h, nil, 0)
	if success(status) {
		return false, 0
	}
	if status == http.StatusNotFound {
		if status = ex.subRequest(http.MethodPut, path, h, nil, 0); success(status) {
			return true, 0
		}
	}
	return false, status
}

// subRequest runs one request of the extraction through the proxy.
func (ex *extraction) subRequest(method, path string, h http.Header, body io.Reader, length int64) int {
	r := ex.req.r
	sub := r.Clone(r.Context())
	sub.Method = method
	sub.URL = &url.URL{Path: path}
	sub.RequestURI = sub.URL.EscapedPath()
	sub.Header = h
	sub.Body, sub.ContentLength, sub.TransferEncoding = http.NoBody, 0, nil
	if body != nil {
		sub.Body, sub.ContentLength = io.NopCloser(io.LimitReader(body, length)), length
	}
	rec := httptest.NewRecorder()
	ex.p.dispatch(rec, sub, ex.req.transID)
	return rec.Code
}

// extractSummary is upstream's get_heartbeat_response_body for "extract".
func extractSummary(format string, s bulkSummary, failed [][2]string) string {
	fields := map[string]any{"Response Status": s.status, "Response Body": s.body, "Number Files Created": s.created}
	switch {
	case format == "application/json":
		// json.dumps keeps the dict's order and its ", " and ": " separators
		var sb strings.Builder
		fmt.Fprintf(&sb, `{"Response Status": %s, "Response Body": %s, "Number Files Created": %d, "Errors": [`,
			jsonASCII(s.status), jsonASCII(s.body), s.created)
		for i, f := range failed {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "[%s, %s]", jsonASCII(f[0]), jsonASCII(f[1]))
		}
		sb.WriteString("]}")
		return sb.String()
	case strings.HasSuffix(format, "/xml"):
		var sb strings.Builder
		sb.WriteString("<extract>\n")
		keys := make([]string, 0, len(fields))
		for k := range fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			tag := strings.ToLower(strings.ReplaceAll(k, " ", "_"))
			fmt.Fprintf(&sb, "<%s>%s</%s>\n", tag, xmlEscape(fmt.Sprint(fields[k])), tag)
		}
		sb.WriteString("<errors>\n")
		for _, f := range failed {
			fmt.Fprintf(&sb, "<object><name>%s</name><status>%s</status></object>\n", xmlEscape(f[0]), xmlEscape(f[1]))
		}
		sb.WriteString("</errors>\n</extract>\n")
		return sb.String()
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "Number Files Created: %d\nResponse Body: %s\nResponse Status: %s\nErrors:\n", s.created, s.body, s.status)
	for _, f := range failed {
		fmt.Fprintf(&sb, "%s, %s\n", f[0], f[1])
	}
	return sb.String()
}

// xmlEscape is xml.sax.saxutils.escape: &, < and >.
func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
