package swob

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzRange holds Serve to answering any Range header with a valid status and
// exactly the bytes the ranges name, never a panic.
func FuzzRange(f *testing.F) {
	for _, s := range []string{"bytes=0-1", "bytes=-5", "bytes=3-", "bytes=0-0,2-3,-1", "bytes=9-2", "bytes=a-",
		"bytes=-0", "bytes=99999999999999999999-", "BYTES = 1 - 2", "bytes=,", "bytes=0-1," + strings.Repeat("1-1,", 60)} {
		f.Add(s, 10)
	}
	f.Fuzz(func(t *testing.T, header string, length int) {
		if length < 0 || length > 1<<16 {
			return
		}
		body := strings.Repeat("x", length)
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Range", header)
		w := httptest.NewRecorder()
		Serve(w, r, Entity{ETag: "e", Length: int64(length), ContentType: "a/b", Body: strings.NewReader(body), LastModified: time.Unix(1, 0)})
		switch w.Code {
		case 200:
			if w.Body.Len() != length {
				t.Fatalf("200 with %d bytes of %d", w.Body.Len(), length)
			}
		case 206, 416:
		default:
			t.Fatalf("Range %q: status %d", header, w.Code)
		}
		if ranges, err := ParseRange(header); err == nil {
			for _, s := range forLength(ranges, int64(length)) {
				if s.from < 0 || s.to > int64(length) || s.from > s.to || (s.from == s.to && length > 0) {
					t.Fatalf("Range %q: span %v of %d", header, s, length)
				}
			}
		}
	})
}

// FuzzTimestamp: any X-Timestamp parses to a value whose normal form parses
// back to it, or is refused.
func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{"1733584000.12345", "0", "1e3", "12_ab", "-1", "9999999999.99999", " 1.5 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ts, err := ParseTimestamp(s)
		if err != nil {
			return
		}
		back, err := ParseTimestamp(ts.Normal())
		if err != nil || back != ts {
			t.Fatalf("%q → %s → %v (%v)", s, ts.Normal(), back, err)
		}
	})
}
