package swob

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ByteRange is one range of a Range header as swob keeps it: Start or End may
// be -1 for "absent" (bytes=-N is the last N bytes, bytes=N- from N to the end).
type ByteRange struct{ Start, End int64 }

// swob's limits against ranges used for denial of service (RFC 7233 §6.1):
// more than maxRanges ranges, more than maxRangeOverlaps overlapping pairs,
// or maxNonAscendingRanges ranges out of order are refused (416).
const (
	maxRanges             = 50
	maxRangeOverlaps      = 2
	maxNonAscendingRanges = 8
)

var errBadRange = errors.New("invalid Range header")

// ParseRange reads a Range header as swob's Range class does; an error means
// the header is ignored and the whole object served.
func ParseRange(h string) ([]ByteRange, error) {
	h = strings.ReplaceAll(h, " ", "")
	if len(h) < 6 || !strings.EqualFold(h[:6], "bytes=") {
		return nil, errBadRange
	}
	var out []ByteRange
	for _, spec := range strings.Split(h[6:], ",") {
		start, end, ok := strings.Cut(spec, "-")
		if !ok {
			return nil, errBadRange
		}
		r := ByteRange{Start: -1, End: -1}
		var err error
		if start != "" {
			if r.Start, err = strconv.ParseInt(start, 10, 64); err != nil || r.Start < 0 {
				return nil, errBadRange
			}
		}
		if end != "" {
			if r.End, err = strconv.ParseInt(end, 10, 64); err != nil || r.End < 0 {
				return nil, errBadRange
			}
			if r.Start >= 0 && r.End < r.Start {
				return nil, errBadRange
			}
		}
		if r.Start < 0 && r.End < 0 {
			return nil, errBadRange
		}
		out = append(out, r)
	}
	return out, nil
}

// span is a satisfiable range as [from, to).
type span struct{ from, to int64 }

// forLength is swob's ranges_for_length: the satisfiable spans of ranges on
// an entity of length bytes; none means 416.
func forLength(ranges []ByteRange, length int64) []span {
	var out []span
	for _, r := range ranges {
		switch {
		case r.Start < 0:
			if r.End == 0 {
				continue
			}
			out = append(out, span{max(length-r.End, 0), length})
		case r.End < 0:
			if r.Start < length {
				out = append(out, span{r.Start, length})
			}
		case r.Start < length:
			out = append(out, span{r.Start, min(r.End+1, length)})
		}
	}
	if len(out) > maxRanges {
		return nil
	}
	overlaps := 0
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			a, b := out[i], out[j]
			if (a.from < b.from && b.from < a.to) || (a.from < b.to && b.to < a.to) ||
				(b.from < a.from && a.from < b.to) || (b.from < a.to && a.to < b.to) {
				overlaps++
				if overlaps > maxRangeOverlaps {
					return nil
				}
			}
		}
	}
	for i := 1; i < len(out); i++ {
		if (out[i-1].from > out[i].from || (out[i-1].from == out[i].from && out[i-1].to > out[i].to)) &&
			len(out) >= maxNonAscendingRanges {
			return nil
		}
	}
	return out
}

// Entity is a stored body with what conditional requests compare.
type Entity struct {
	ETag         string // without quotes
	LastModified time.Time
	Length       int64
	ContentType  string
	Body         io.ReaderAt
}

// etagMatches reports whether etag is in a list of If-Match/If-None-Match
// values ("*" matches any existing entity).
func etagMatches(list, etag string) bool {
	for _, v := range strings.Split(list, ",") {
		v = strings.TrimSpace(v)
		v = strings.TrimPrefix(v, "W/")
		if v == "*" || strings.Trim(v, `"`) == etag {
			return true
		}
	}
	return false
}

func parseHTTPDate(s string) (time.Time, bool) {
	t, err := http.ParseTime(s)
	return t, err == nil
}

// Precondition is swob's conditional_response check of a GET or HEAD: 412 when
// If-Match or If-Unmodified-Since fails, 304 when If-None-Match or
// If-Modified-Since says the client's copy is current; 0 to serve.
func Precondition(r *http.Request, e Entity) int {
	lm := e.LastModified.Truncate(time.Second)
	if e.LastModified.After(lm) {
		lm = lm.Add(time.Second) // Last-Modified is rounded up, as upstream
	}
	if v := r.Header.Get("If-Match"); v != "" && !etagMatches(v, e.ETag) {
		return http.StatusPreconditionFailed
	}
	if v := r.Header.Get("If-None-Match"); v != "" && etagMatches(v, e.ETag) {
		return http.StatusNotModified
	}
	if v := r.Header.Get("If-Modified-Since"); v != "" {
		if t, ok := parseHTTPDate(v); ok && !lm.After(t) {
			return http.StatusNotModified
		}
	}
	if v := r.Header.Get("If-Unmodified-Since"); v != "" {
		if t, ok := parseHTTPDate(v); ok && lm.After(t) {
			return http.StatusPreconditionFailed
		}
	}
	return 0
}

// Serve answers a GET or HEAD of e with its conditional and Range handling;
// w's headers (metadata, timestamps) are set by the caller.
func Serve(w http.ResponseWriter, r *http.Request, e Entity) {
	h := w.Header()
	h.Set("ETag", `"`+e.ETag+`"`)
	h.Set("Accept-Ranges", "bytes")
	if status := Precondition(r, e); status != 0 {
		if status == http.StatusNotModified {
			h.Del("Content-Type")
			h.Set("Content-Length", "0")
			w.WriteHeader(status)
			return
		}
		Error(w, status)
		return
	}
	h.Set("Content-Type", e.ContentType)
	var spans []span
	ranged := false
	if v := r.Header.Get("Range"); v != "" {
		if ranges, err := ParseRange(v); err == nil {
			ranged = true
			spans = forLength(ranges, e.Length)
		}
	}
	switch {
	// a suffix range of an empty object: upstream serves the whole (empty)
	// object, as Apache and nginx do
	case !ranged || (len(spans) > 0 && e.Length == 0):
		h.Set("Content-Length", strconv.FormatInt(e.Length, 10))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = io.Copy(w, io.NewSectionReader(e.Body, 0, e.Length))
		}
	case len(spans) == 0:
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", e.Length))
		Error(w, http.StatusRequestedRangeNotSatisfiable)
	case len(spans) == 1:
		s := spans[0]
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", s.from, s.to-1, e.Length))
		h.Set("Content-Length", strconv.FormatInt(s.to-s.from, 10))
		w.WriteHeader(http.StatusPartialContent)
		if r.Method != http.MethodHead {
			_, _ = io.Copy(w, io.NewSectionReader(e.Body, s.from, s.to-s.from))
		}
	default:
		var b [16]byte
		_, _ = rand.Read(b[:])
		boundary := hex.EncodeToString(b[:])
		var parts []string
		length := int64(len("--" + boundary + "--"))
		for _, s := range spans {
			head := fmt.Sprintf("--%s\r\nContent-Type: %s\r\nContent-Range: bytes %d-%d/%d\r\n\r\n", boundary, e.ContentType, s.from, s.to-1, e.Length)
			parts = append(parts, head)
			length += int64(len(head)) + (s.to - s.from) + 2
		}
		h.Set("Content-Type", "multipart/byteranges;boundary="+boundary)
		h.Set("Content-Length", strconv.FormatInt(length, 10))
		w.WriteHeader(http.StatusPartialContent)
		if r.Method == http.MethodHead {
			return
		}
		for i, s := range spans {
			_, _ = io.WriteString(w, parts[i])
			if _, err := io.Copy(w, io.NewSectionReader(e.Body, s.from, s.to-s.from)); err != nil {
				return
			}
			_, _ = io.WriteString(w, "\r\n")
		}
		_, _ = io.WriteString(w, "--"+boundary+"--")
	}
}
