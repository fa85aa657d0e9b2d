package proxy

import (
	"fmt"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// Upstream's constraints (swift/common/constraints.py), advertised in /info.
const (
	MaxFileSize            = 5368709122
	MaxMetaNameLength      = 128
	MaxMetaValueLength     = 256
	MaxMetaCount           = 90
	MaxMetaOverallSize     = 4096
	MaxHeaderSize          = 8192
	MaxRequestLine         = 8192
	MaxObjectNameLength    = 1024
	ListingLimit           = 10000
	MaxAccountNameLength   = 256
	MaxContainerNameLength = 256
)

// UpstreamVersion is the Swift release whose API the proxy answers as.
const UpstreamVersion = "2.38.1"

// DefaultPolicy is the one storage policy, upstream's default name.
const DefaultPolicy = "Policy-0"

// validName is upstream's check_utf8: valid UTF-8 without NUL.
func validName(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// checkMetadata is upstream's check_metadata for target "account",
// "container" or "object": every X-<Target>-Meta-* header within the name and
// value limits, the count and overall size within theirs; the 400 body says
// which, as upstream's.
func checkMetadata(w http.ResponseWriter, r *http.Request, target string) bool {
	prefix := "X-" + strings.ToUpper(target[:1]) + target[1:] + "-Meta-"
	count, size := 0, 0
	for key, values := range r.Header {
		for _, value := range values {
			if len(value) > MaxHeaderSize {
				swob.Text(w, http.StatusBadRequest, "Header value too long: "+truncate(key, MaxMetaNameLength))
				return false
			}
			if !strings.HasPrefix(key, prefix) {
				continue
			}
			name := key[len(prefix):]
			if name == "" {
				swob.Text(w, http.StatusBadRequest, "Metadata name cannot be empty")
				return false
			}
			if !utf8.ValidString(name) || !utf8.ValidString(value) {
				swob.Text(w, http.StatusBadRequest, "Metadata must be valid UTF-8")
				return false
			}
			count++
			size += len(name) + len(value)
			if len(name) > MaxMetaNameLength {
				swob.Text(w, http.StatusBadRequest, fmt.Sprintf("Metadata name too long: %s%s", prefix, name))
				return false
			}
			if len(value) > MaxMetaValueLength {
				swob.Text(w, http.StatusBadRequest, fmt.Sprintf("Metadata value longer than %d: %s%s", MaxMetaValueLength, prefix, name))
				return false
			}
			if count > MaxMetaCount {
				swob.Text(w, http.StatusBadRequest, fmt.Sprintf("Too many metadata items; max %d", MaxMetaCount))
				return false
			}
			if size > MaxMetaOverallSize {
				swob.Text(w, http.StatusBadRequest, fmt.Sprintf("Total metadata too large; max %d", MaxMetaOverallSize))
				return false
			}
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// checkObjectCreation is upstream's check_object_creation: the size within
// max_file_size (413), a length or chunked body (411), the name within its
// limit (400), a Content-Type (guessed from the name when absent, as the
// proxy guesses) that is valid.
func checkObjectCreation(w http.ResponseWriter, r *http.Request, object string) bool {
	te := strings.ToLower(strings.Join(r.TransferEncoding, ","))
	if te != "" && te != "chunked" {
		swob.Text(w, http.StatusNotImplemented, "Invalid Transfer-Encoding header value")
		return false
	}
	if v := r.Header.Get("Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 0 {
			swob.Text(w, http.StatusBadRequest, "Invalid Content-Length header value")
			return false
		}
	}
	if r.ContentLength > MaxFileSize {
		swob.Text(w, http.StatusRequestEntityTooLarge, "Your request is too large.")
		return false
	}
	if r.ContentLength < 0 && te != "chunked" {
		swob.Text(w, http.StatusLengthRequired, "Missing Content-Length header.")
		return false
	}
	if len(object) > MaxObjectNameLength {
		swob.Text(w, http.StatusBadRequest, fmt.Sprintf("Object name length of %d longer than %d", len(object), MaxObjectNameLength))
		return false
	}
	ct := r.Header.Get("Content-Type")
	detect := strings.EqualFold(r.Header.Get("X-Detect-Content-Type"), "true")
	if ct == "" || detect {
		ct = guessType(object)
		r.Header.Set("Content-Type", ct)
	}
	if strings.Contains(strings.ToLower(ct), ";swift_bytes=") || strings.Contains(strings.ToLower(ct), "; swift_bytes=") {
		swob.Text(w, http.StatusBadRequest, "Invalid Content-Type")
		return false
	}
	return true
}

// guessType is Python's mimetypes.guess_type as the proxy uses it: the type of
// the name's extension, application/octet-stream when unknown.
func guessType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		if mt, _, err := mime.ParseMediaType(t); err == nil {
			return mt
		}
	}
	return "application/octet-stream"
}
