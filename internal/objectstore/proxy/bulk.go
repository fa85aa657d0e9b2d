package proxy

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/storage"
	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Bulk delete, as upstream's bulk middleware: POST or DELETE on the account
// with ?bulk-delete and a body of URL-quoted /container[/object] lines, one
// each. Every line is deleted as its own request with the caller's rights
// (objects first, then containers), and the answer is 200 with a summary
// whose Response Status tells the outcome.

// maxDeletesPerRequest and maxFailedDeletes are upstream's defaults.
const (
	maxDeletesPerRequest = 10000
	maxFailedDeletes     = 1000
)

func isBulkDelete(r *http.Request, req *request) bool {
	return req.container == "" && (r.Method == http.MethodPost || r.Method == http.MethodDelete) &&
		r.URL.Query().Has("bulk-delete")
}

func (p *Proxy) bulkDelete(req *request) {
	r := req.r
	if r.ContentLength < 0 && !strings.EqualFold(strings.Join(r.TransferEncoding, ","), "chunked") {
		swob.Error(req.w, http.StatusLengthRequired)
		return
	}
	format := bestMatchFormat(r.Header.Get("Accept"))
	var names []string
	sc := bufio.NewScanner(io.LimitReader(r.Body, 64<<20))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if name, err := url.PathUnescape(line); err == nil {
			line = name
		}
		if line == "" {
			continue
		}
		names = append(names, line)
		if len(names) > maxDeletesPerRequest {
			swob.Text(req.w, http.StatusRequestEntityTooLarge, fmt.Sprintf("Maximum Bulk Deletes: %d per request", maxDeletesPerRequest))
			return
		}
	}
	if sc.Err() != nil {
		swob.Text(req.w, http.StatusBadRequest, "Invalid File Name")
		return
	}
	summary := map[string]any{"Response Status": "200 OK", "Response Body": "", "Number Deleted": 0, "Number Not Found": 0}
	deleted, notFound := 0, 0
	failed := [][]string{}
	isObject := func(n string) bool { return strings.Contains(strings.Trim(n, "/"), "/") }
	var ordered []string
	for _, objects := range []bool{true, false} {
		for _, n := range names {
			if isObject(n) == objects {
				ordered = append(ordered, n)
			}
		}
	}
	for _, name := range ordered {
		if len(failed) >= maxFailedDeletes {
			summary["Response Body"] = "Max delete failures exceeded"
			break
		}
		target := "/" + req.version + "/" + req.account + "/" + strings.TrimLeft(name, "/")
		sub := r.Clone(r.Context())
		sub.Method = http.MethodDelete
		sub.URL = &url.URL{Path: target}
		sub.RequestURI = sub.URL.EscapedPath()
		sub.Body, sub.ContentLength = http.NoBody, 0
		sub.TransferEncoding = nil
		rec := httptest.NewRecorder()
		p.dispatch(rec, sub, req.transID)
		switch {
		case rec.Code/100 == 2:
			deleted++
		case rec.Code == http.StatusNotFound:
			notFound++
		default:
			failed = append(failed, []string{quote(name, "/"), fmt.Sprintf("%d %s", rec.Code, swob.Title(rec.Code))})
		}
	}
	summary["Number Deleted"], summary["Number Not Found"] = deleted, notFound
	switch {
	case len(failed) > 0:
		summary["Response Status"] = "400 Bad Request"
	case deleted == 0 && notFound == 0:
		summary["Response Status"] = "400 Bad Request"
		summary["Response Body"] = "Invalid bulk delete."
	}
	writeBulkSummary(req.w, format, summary, failed)
}

// bestMatchFormat is the bulk middleware's choice of answer format.
func bestMatchFormat(accept string) string {
	if accept == "" {
		return "text/plain"
	}
	r := &http.Request{Header: http.Header{"Accept": {accept}}, URL: &url.URL{}}
	switch f := storage.ListingFormat(r); f {
	case "":
		return "text/plain"
	default:
		return f
	}
}

// writeBulkSummary is upstream's get_response_body.
func writeBulkSummary(w http.ResponseWriter, format string, summary map[string]any, failed [][]string) {
	switch format {
	case "application/json":
		summary["Errors"] = failed
		data, _ := json.Marshal(summary)
		swob.Write(w, http.StatusOK, "application/json", string(data))
	case "application/xml", "text/xml":
		var sb strings.Builder
		sb.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<delete>\n")
		keys := sortedKeys(summary)
		for _, k := range keys {
			tag := strings.ToLower(strings.ReplaceAll(k, " ", "_"))
			fmt.Fprintf(&sb, "<%s>%v</%s>\n", tag, summary[k], tag)
		}
		sb.WriteString("<errors>\n")
		for _, f := range failed {
			fmt.Fprintf(&sb, "<object><name>%s</name><status>%s</status></object>\n", f[0], f[1])
		}
		sb.WriteString("</errors>\n</delete>\n")
		swob.Write(w, http.StatusOK, format, sb.String())
	default:
		var sb strings.Builder
		for _, k := range sortedKeys(summary) {
			fmt.Fprintf(&sb, "%s: %v\n", k, summary[k])
		}
		sb.WriteString("Errors:\n")
		for _, f := range failed {
			fmt.Fprintf(&sb, "%s, %s\n", f[0], f[1])
		}
		swob.Write(w, http.StatusOK, "text/plain", sb.String())
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
