package s3api

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"strings"
)

// listingETag is upstream's ListingEtagMiddleware, which s3api puts between
// itself and the rest of the pipeline: in a container's JSON listing, a
// multipart upload's row has the "; s3_etag=<S3 ETag>" its manifest put in
// the row's hash moved to a key of its own (quoted, as upstream), for Swift
// clients and for s3api's own bucket listings alike.
type listingETag struct {
	next http.Handler
}

func (l listingETag) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !isContainerPath(r.URL.Path) {
		l.next.ServeHTTP(w, r)
		return
	}
	lw := &jsonListingWriter{ResponseWriter: w}
	l.next.ServeHTTP(lw, r)
	lw.finish()
}

// jsonListingWriter holds a 200 JSON answer until it is complete and
// passes any other straight through (a static web page, an error).
type jsonListingWriter struct {
	http.ResponseWriter
	status int
	held   *bytes.Buffer
}

func (lw *jsonListingWriter) WriteHeader(code int) {
	if lw.status != 0 {
		return
	}
	lw.status = code
	ct, _, _ := mime.ParseMediaType(lw.Header().Get("Content-Type"))
	if code == http.StatusOK && ct == "application/json" {
		lw.held = &bytes.Buffer{}
		return
	}
	lw.ResponseWriter.WriteHeader(code)
}

func (lw *jsonListingWriter) Write(b []byte) (int, error) {
	if lw.status == 0 {
		lw.WriteHeader(http.StatusOK)
	}
	if lw.held != nil {
		return lw.held.Write(b)
	}
	return lw.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (lw *jsonListingWriter) Unwrap() http.ResponseWriter { return lw.ResponseWriter }

// finish sends a held listing, rewritten.
func (lw *jsonListingWriter) finish() {
	if lw.held == nil {
		return
	}
	body := lw.held.Bytes()
	if bytes.Contains(body, []byte("s3_etag=")) {
		if rewritten, ok := moveS3ETags(body); ok {
			body = rewritten
		}
	}
	lw.Header().Set("Content-Length", strconv.Itoa(len(body)))
	lw.ResponseWriter.WriteHeader(lw.status)
	_, _ = lw.ResponseWriter.Write(body)
}

// isContainerPath is a path naming /<version>/<account>/<container>.
func isContainerPath(p string) bool {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	return len(parts) == 3 && strings.HasPrefix(parts[0], "v") && parts[1] != "" && parts[2] != ""
}

// moveS3ETags rewrites a JSON listing's rows as upstream's
// ListingEtagMiddleware does; false leaves the listing as it was.
func moveS3ETags(body []byte) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var rows []map[string]any
	if dec.Decode(&rows) != nil {
		return nil, false
	}
	for _, row := range rows {
		hash, ok := row["hash"].(string)
		if !ok {
			continue
		}
		parts := strings.Split(hash, ";")
		rest := []string{strings.TrimSpace(parts[0])}
		for _, p := range parts[1:] {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(k, "s3_etag") {
				row["s3_etag"] = `"` + strings.Trim(v, `"`) + `"`
				continue
			}
			rest = append(rest, strings.TrimSpace(p))
		}
		row["hash"] = strings.Join(rest, "; ")
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if enc.Encode(rows) != nil {
		return nil, false
	}
	return bytes.TrimRight(out.Bytes(), "\n"), true
}
