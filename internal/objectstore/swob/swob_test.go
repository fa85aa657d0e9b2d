package swob

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestTimestamp(t *testing.T) {
	for _, tc := range []struct {
		in, normal string
		ok         bool
	}{
		{"1733584000.12345", "1733584000.12345", true},
		{"1733584000", "1733584000.00000", true},
		{"1733584000.123456", "1733584000.12346", true},
		{"0000001234.5_0000000000000001", "0000001234.50000", true},
		{"-1", "", false},
		{"1e9", "", false},
		{"nan", "", false},
		{"", "", false},
		{"12_zz", "", false},
	} {
		ts, err := ParseTimestamp(tc.in)
		if (err == nil) != tc.ok || (tc.ok && ts.Normal() != tc.normal) {
			t.Errorf("ParseTimestamp(%q) = %v (%s), %v", tc.in, ts, ts.Normal(), err)
		}
	}
	if got := Timestamp(100_000*1733584000 + 1).LastModified(); got != "Sat, 07 Dec 2024 15:06:41 GMT" {
		t.Errorf("LastModified rounds up: %s", got)
	}
}

func TestRange(t *testing.T) {
	body := strings.NewReader("0123456789")
	e := Entity{ETag: "abc", Length: 10, ContentType: "text/plain", Body: body, LastModified: time.Unix(1000, 0)}
	for _, tc := range []struct {
		rng, body, contentRange string
		status                  int
	}{
		{"", "0123456789", "", 200},
		{"bytes=2-4", "234", "bytes 2-4/10", 206},
		{"bytes=-3", "789", "bytes 7-9/10", 206},
		{"bytes=7-", "789", "bytes 7-9/10", 206},
		{"bytes=5-100", "56789", "bytes 5-9/10", 206},
		{"bytes=-100", "0123456789", "bytes 0-9/10", 206},
		{"bytes=10-", "", "bytes */10", 416},
		{"bytes=-0", "", "bytes */10", 416},
		{"bytes=4-2", "0123456789", "", 200}, // invalid: ignored, as swob
		{"items=1-2", "0123456789", "", 200},
		{"bytes=a-b", "0123456789", "", 200},
		{"bytes=-", "0123456789", "", 200},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.rng != "" {
			r.Header.Set("Range", tc.rng)
		}
		w := httptest.NewRecorder()
		Serve(w, r, e)
		got := w.Body.String()
		if tc.status == 416 {
			got = ""
		}
		if w.Code != tc.status || got != tc.body || w.Header().Get("Content-Range") != tc.contentRange {
			t.Errorf("Range %q: %d %q %q", tc.rng, w.Code, w.Body.String(), w.Header().Get("Content-Range"))
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Range", "bytes=0-1,8-")
	w := httptest.NewRecorder()
	Serve(w, r, e)
	if w.Code != 206 || !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/byteranges;boundary=") ||
		!strings.Contains(w.Body.String(), "Content-Range: bytes 8-9/10\r\n\r\n89\r\n") ||
		w.Header().Get("Content-Length") != strconv.Itoa(w.Body.Len()) {
		t.Errorf("multi-range: %d %q %q", w.Code, w.Header(), w.Body.String())
	}
}

func TestPreconditions(t *testing.T) {
	e := Entity{ETag: "abc", Length: 1, ContentType: "x", Body: strings.NewReader("x"), LastModified: time.Unix(1000, 500)}
	lm := time.Unix(1001, 0).UTC().Format(http.TimeFormat)
	earlier := time.Unix(999, 0).UTC().Format(http.TimeFormat)
	for _, tc := range []struct {
		header, value string
		status        int
	}{
		{"If-Match", `"abc"`, 0},
		{"If-Match", "*", 0},
		{"If-Match", `"xyz"`, 412},
		{"If-None-Match", `"abc"`, 304},
		{"If-None-Match", `"xyz", "abc"`, 304},
		{"If-None-Match", "xyz", 0},
		{"If-Modified-Since", lm, 304},
		{"If-Modified-Since", earlier, 0},
		{"If-Modified-Since", "garbage", 0},
		{"If-Unmodified-Since", earlier, 412},
		{"If-Unmodified-Since", lm, 0},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set(tc.header, tc.value)
		if got := Precondition(r, e); got != tc.status {
			t.Errorf("%s: %s → %d, want %d", tc.header, tc.value, got, tc.status)
		}
	}
}

func TestDefaultBody(t *testing.T) {
	if got := DefaultBody(404); got != "<html><h1>Not Found</h1><p>The resource could not be found.</p></html>" {
		t.Error(got)
	}
	if DefaultBody(204) != "" || DefaultBody(201) != "" {
		t.Error("204 and 201 have no body")
	}
}
