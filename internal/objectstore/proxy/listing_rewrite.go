package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// Container listings in JSON, as upstream's symlink and slo middleware
// rewrite them: a row whose hash carries the parameters the container
// update overrides put there ("<etag>; slo_etag=...; symlink_target=...")
// answers them as keys of their own (slo_etag, quoted; symlink_path,
// symlink_etag, symlink_bytes) and keeps the bare ETag as its hash.

// listingWriter holds a successful JSON listing back so it can be
// rewritten; anything else passes through as written.
type listingWriter struct {
	http.ResponseWriter
	status int
	buf    *bytes.Buffer
	passed bool
	// the container, and whether the listing is of its versions
	container string
	versions  bool
}

func (lw *listingWriter) WriteHeader(status int) {
	if lw.buf != nil || lw.passed {
		return
	}
	if status/100 == 2 && strings.HasPrefix(lw.Header().Get("Content-Type"), "application/json") {
		lw.status, lw.buf = status, &bytes.Buffer{}
		return
	}
	lw.passed = true
	lw.ResponseWriter.WriteHeader(status)
}

func (lw *listingWriter) Write(b []byte) (int, error) {
	if lw.buf == nil && !lw.passed {
		lw.WriteHeader(http.StatusOK)
	}
	if lw.buf != nil {
		return lw.buf.Write(b)
	}
	return lw.ResponseWriter.Write(b)
}

// finish sends a held listing, rewritten.
func (lw *listingWriter) finish(version, account string) {
	if lw.buf == nil {
		return
	}
	body := lw.buf.Bytes()
	if bytes.Contains(body, []byte("slo_etag=")) || bytes.Contains(body, []byte("symlink_target=")) {
		if rewritten, ok := rewriteListingJSON(body, version, account); ok {
			body = rewritten
		}
		body = versionLinkRows(body, version, account, lw.container, lw.versions)
	}
	lw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	lw.ResponseWriter.WriteHeader(lw.status)
	_, _ = lw.ResponseWriter.Write(body)
}

// serveContainerListing is a container GET whose JSON listing is rewritten.
func (p *Proxy) serveContainerListing(req *request) {
	lw := &listingWriter{ResponseWriter: req.w, container: req.container}
	_, lw.versions = req.r.URL.Query()["versions"]
	sub := *req
	sub.w = lw
	p.containerGet(&sub)
	lw.finish(req.version, req.account)
}

// rewriteListingJSON is _extract_symlink_path_json and
// handle_container_listing over every row.
func rewriteListingJSON(body []byte, version, account string) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var rows []map[string]any
	if err := dec.Decode(&rows); err != nil {
		return nil, false
	}
	for _, row := range rows {
		hash, ok := row["hash"].(string)
		if !ok {
			continue
		}
		etag, params := parseHeaderParams(hash)
		rowAccount, target := account, ""
		var rest strings.Builder
		rest.WriteString(etag)
		for _, kv := range params {
			switch kv[0] {
			case "symlink_target":
				target = kv[1]
			case "symlink_target_account":
				rowAccount = kv[1]
			case "symlink_target_etag":
				row["symlink_etag"] = kv[1]
			case "symlink_target_bytes":
				if n, err := strconv.ParseInt(kv[1], 10, 64); err == nil {
					row["symlink_bytes"] = n
				}
			case "slo_etag":
				row["slo_etag"] = `"` + kv[1] + `"`
			default:
				rest.WriteString("; " + kv[0] + "=" + kv[1])
			}
		}
		row["hash"] = rest.String()
		if target != "" {
			row["symlink_path"] = "/" + version + "/" + rowAccount + "/" + target
		}
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(rows); err != nil {
		return nil, false
	}
	return bytes.TrimRight(out.Bytes(), "\n"), true
}

// parseHeaderParams is upstream's parse_header: a value and its
// "; key=value" parameters (keys lower-cased, values unquoted), in order.
func parseHeaderParams(v string) (string, [][2]string) {
	parts := strings.Split(v, ";")
	var params [][2]string
	for _, p := range parts[1:] {
		k, val, ok := strings.Cut(p, "=")
		if !ok {
			continue
		}
		k = strings.ToLower(strings.TrimSpace(k))
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		params = append(params, [2]string{k, val})
	}
	return strings.TrimSpace(parts[0]), params
}

// withListingOverrides is the object server's use of the container update
// overrides, for the updates the proxy sends in a failed replica's stead.
func withListingOverrides(object, update http.Header) http.Header {
	if v := object.Get(sysmetaOverrideSize); v != "" {
		update.Set("X-Size", v)
	}
	if v := object.Get(sysmetaOverrideEtag); v != "" {
		update.Set("X-Etag", v)
	}
	return update
}
