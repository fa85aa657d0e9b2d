package proxy

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
)

// TestParseSLOManifest: parse_and_validate_input's answers, byte for byte.
func TestParseSLOManifest(t *testing.T) {
	for _, tc := range []struct {
		name, manifest string
		status         int
		body           string
		segments       int
	}{
		{"valid", `[{"path": "/c/a", "etag": "x", "size_bytes": 3}, {"path": "c/b", "range": "1-2"}, {"data": "eHk="}]`, 0, "", 3},
		{"size as a string", `[{"path": "/c/a", "size_bytes": " 12 "}]`, 0, "", 1},
		{"null etag and size", `[{"path": "/c/a", "etag": null, "size_bytes": null}]`, 0, "", 1},
		{"empty list", `[]`, 0, "", 0},
		{"the last may be empty", `[{"path": "/c/a"}, {"path": "/c/b", "size_bytes": 0}]`, 0, "", 2},
		{"not JSON", `[`, 400, "Manifest must be valid JSON.\n", 0},
		{"trailing garbage", `[] []`, 400, "Manifest must be valid JSON.\n", 0},
		{"an object", `{}`, 400, "Manifest must be a list.\n", 0},
		{"not an object", `[1, "x"]`, 400, "Index 0: not a JSON object\nIndex 1: not a JSON object\n", 0},
		{"no path", `[{}]`, 400, "Index 0: expected keys to include one of 'data' or 'path'\n", 0},
		{"extraneous", `[{"path": "/c/a", "b": 1, "a\u00e9": 2}]`, 400, "Index 0: extraneous keys \"a\\u00e9\", \"b\"\n", 0},
		{"data with path", `[{"data": "eHk=", "path": "/c/a"}]`, 400, "Index 0: extraneous keys \"path\"\n", 0},
		{"path type", `[{"path": []}]`, 400, "Index 0: \"path\" must be a string\n", 0},
		{"etag type", `[{"path": "/c/a", "etag": 5}]`, 400, "Index 0: \"etag\" must be a string or null (if provided)\n", 0},
		{"no object", `[{"path": "/c/"}]`, 400, "Index 0: path does not refer to an object. Path must be of the form /container/object.\n", 0},
		{"bad size", `[{"path": "/c/a", "size_bytes": "1.5"}]`, 400, "Index 0: invalid size_bytes\n", 0},
		{"size list", `[{"path": "/c/a", "size_bytes": [1]}]`, 400, "Index 0: invalid size_bytes\n", 0},
		{"too small", `[{"path": "/c/a", "size_bytes": 0}, {"path": "/c/b"}]`, 400, "Index 0: too small; each segment must be at least 1 byte.\n", 0},
		{"itself", `[{"path": "//mc/mo"}]`, 400, "Index 0: manifest must not include itself as a segment\n", 0},
		{"bad range", `[{"path": "/c/a", "range": "5-1"}]`, 400, "Index 0: invalid range\n", 0},
		{"range type", `[{"path": "/c/a", "range": 5}]`, 400, "Index 0: invalid range\n", 0},
		{"empty range ignored", `[{"path": "/c/a", "range": ""}]`, 0, "", 1},
		{"multiple ranges", `[{"path": "/c/a", "range": "1-2,4-5"}]`, 400, "Index 0: multiple ranges (only one allowed)\n", 0},
		{"unsatisfiable", `[{"path": "/c/a", "size_bytes": 2, "range": "2-"}]`, 400, "Index 0: unsatisfiable range\n", 0},
		{"bad base64", `[{"data": "e"}, {"path": "/c/a"}]`, 400, "Index 0: data must be valid base64\n", 0},
		{"empty data", `[{"data": ""}, {"path": "/c/a"}]`, 400, "Index 0: too small; each segment must be at least 1 byte.\n", 0},
		{"only data", `[{"data": "eHk="}]`, 400, "Inline data segments require at least one object-backed segment.\n", 0},
		{"several errors", `[{"path": "x"}, {"path": "/c/a"}, {"data": 1}]`, 400,
			"Index 0: path does not refer to an object. Path must be of the form /container/object.\nIndex 2: data must be valid base64\n", 0},
	} {
		segs, err := parseSLOManifest([]byte(tc.manifest), "mc", "mo")
		switch {
		case tc.status == 0 && err != nil:
			t.Errorf("%s: refused %d %q", tc.name, err.status, err.body)
		case tc.status == 0 && len(segs) != tc.segments:
			t.Errorf("%s: %d segments, want %d", tc.name, len(segs), tc.segments)
		case tc.status != 0 && (err == nil || err.status != tc.status || err.body != tc.body):
			t.Errorf("%s: %+v, want %d %q", tc.name, err, tc.status, tc.body)
		}
	}
}

// TestSLOEtagAndManifest: the large object's ETag and the stored and raw
// manifests as upstream writes them.
func TestSLOEtagAndManifest(t *testing.T) {
	segs := []sloSegment{
		{Name: "/c/a", Bytes: 3, Hash: "h1", ContentType: "text/plain", LastModified: "2026-01-02T03:04:05.000000"},
		{Name: "/c/\u00e9", Bytes: 9, Hash: "h2", ContentType: "x", LastModified: "t", Range: "1-2", SubSLO: true},
		{Data: "eHk="},
	}
	stored := `[{"name": "/c/a", "bytes": 3, "hash": "h1", "content_type": "text/plain", "last_modified": "2026-01-02T03:04:05.000000"}, ` +
		`{"name": "/c/\u00e9", "bytes": 9, "hash": "h2", "content_type": "x", "last_modified": "t", "range": "1-2", "sub_slo": true}, {"data": "eHk="}]`
	if got := string(encodeManifest(segs)); got != stored {
		t.Errorf("stored manifest:\n%s\nwant\n%s", got, stored)
	}
	raw := `[{"etag": "h1", "path": "/c/a", "size_bytes": 3}, {"etag": "h2", "path": "/c/\u00e9", "range": "1-2", "size_bytes": 9}, {"data": "eHk="}]`
	if got := string(rawManifest(segs)); got != raw {
		t.Errorf("raw manifest:\n%s\nwant\n%s", got, raw)
	}
	// md5("h1" + "h2:1-2;" + md5("xy"))
	if got := sloEtagOf(segs); got != md5hexString("h1h2:1-2;"+md5hexString("xy")) {
		t.Errorf("slo etag %s", got)
	}
	if got := pyJSONString("a\"\\\n\x01\u007f\U0001F600"); got != `"a\"\\\n\u0001\u007f\ud83d\ude00"` {
		t.Errorf("pyJSONString: %s", got)
	}
}

// TestSlicePieces: a nested manifest's range cut out of its pieces.
func TestSlicePieces(t *testing.T) {
	pieces := []segmentPiece{
		{object: "a", first: 0, last: 4},
		{data: []byte("xyz"), inline: true},
		{object: "b", first: 10, last: 19},
	}
	for _, tc := range []struct {
		first, last int64
		want        string
	}{
		{0, 17, "a[0-4] xyz b[10-19]"},
		{3, 6, "a[3-4] xy"},
		{6, 9, "yz b[10-11]"},
		{8, 8, "b[10-10]"},
		{12, 40, "b[14-19]"},
	} {
		var got []string
		for _, pc := range slicePieces(pieces, tc.first, tc.last) {
			if pc.inline {
				got = append(got, string(pc.data))
			} else {
				got = append(got, pc.object+"["+itoa(int(pc.first))+"-"+itoa(int(pc.last))+"]")
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("slice %d-%d: %v, want %s", tc.first, tc.last, got, tc.want)
		}
	}
}

// TestSegmentReaderInline: the reader over inline pieces, read at any
// offset and across pieces.
func TestSegmentReaderInline(t *testing.T) {
	sr := newSegmentReader(nil, nil, []segmentPiece{
		{data: []byte("hello "), inline: true}, {data: nil, inline: true}, {data: []byte("world"), inline: true},
	})
	if sr.length != 11 {
		t.Fatalf("length %d", sr.length)
	}
	buf := make([]byte, 5)
	for off, want := range map[int64]string{0: "hello", 4: "o wor", 6: "world"} {
		n, err := sr.ReadAt(buf, off)
		if err != nil || string(buf[:n]) != want {
			t.Errorf("ReadAt %d: %q %v, want %q", off, buf[:n], err, want)
		}
	}
	if n, err := sr.ReadAt(buf, 9); n != 2 || err == nil {
		t.Errorf("ReadAt past the end: %d %v", n, err)
	}
}

// TestFirstByteServed: where a GET's body starts, as swob picks ranges.
func TestFirstByteServed(t *testing.T) {
	for _, tc := range []struct {
		rng    string
		length int64
		first  int64
		ok     bool
	}{
		{"", 10, 0, true}, {"", 0, 0, false}, {"bytes=3-", 10, 3, true}, {"bytes=-4", 10, 6, true},
		{"bytes=-40", 10, 0, true}, {"bytes=20-,5-6", 10, 5, true}, {"bytes=20-", 10, 0, false}, {"junk", 10, 0, true},
		{"bytes=-0", 10, 0, false},
	} {
		first, ok := firstByteServed(tc.rng, tc.length)
		if first != tc.first || ok != tc.ok {
			t.Errorf("%q of %d: %d %v, want %d %v", tc.rng, tc.length, first, ok, tc.first, tc.ok)
		}
	}
}

// TestSymlinkTarget: X-Symlink-Target and -Account as upstream checks them.
func TestSymlinkTarget(t *testing.T) {
	const form = "X-Symlink-Target header must be of the form <container name>/<object name>"
	const html = "text/html; charset=UTF-8"
	for _, tc := range []struct {
		target, account   string
		hasAccount        bool
		wantAccount, c, o string
		contentType, body string
	}{
		{"c/o", "", false, "", "c", "o", "", ""},
		{"c/dir/o%20x", "AUTH_b", true, "AUTH_b", "c", "dir/o x", "", ""},
		{"/c/o", "", false, "", "", "", "text/plain", form},
		{"%2Fc/o", "", false, "", "", "", "text/plain", form},
		{"c", "", false, "", "", "", html, form},
		{"c/", "", false, "", "", "", html, form},
		{"c/o", "a/b", true, "", "", "", html, "Account name cannot contain slashes"},
		{"c/o", "", true, "", "", "", html, "Account name cannot be empty"},
		{"c/o\x00", "", false, "", "", "", html, form},
	} {
		a, c, o, refusal := symlinkTarget(tc.target, tc.account, tc.hasAccount)
		if tc.body == "" {
			if refusal != nil || a != tc.wantAccount || c != tc.c || o != tc.o {
				t.Errorf("%q %q: %q %q %q %+v", tc.target, tc.account, a, c, o, refusal)
			}
			continue
		}
		if refusal == nil || refusal.status != 412 || refusal.contentType != tc.contentType || refusal.body != tc.body {
			t.Errorf("%q %q: %+v, want 412 %s %q", tc.target, tc.account, refusal, tc.contentType, tc.body)
		}
	}
}

// TestVersioningHeaders: container_request's rewriting of the client's
// versioning headers into sysmeta.
func TestVersioningHeaders(t *testing.T) {
	for _, tc := range []struct {
		in        map[string]string
		status    int
		loc, mode string
		removes   bool
	}{
		{map[string]string{"X-Versions-Location": "arch"}, 0, "arch", "stack", false},
		{map[string]string{"X-History-Location": "arch"}, 0, "arch", "history", false},
		{map[string]string{"X-Versions-Location": "a", "X-History-Location": "b"}, 400, "", "", false},
		{map[string]string{"X-Versions-Location": "a", "X-History-Location": ""}, 0, "a", "stack", false},
		{map[string]string{"X-Versions-Location": "", "X-History-Location": "b"}, 0, "b", "history", false},
		{map[string]string{"X-Versions-Location": "a/b"}, 412, "", "", false},
		{map[string]string{"X-Versions-Location": ""}, 0, "", "", true},
		{map[string]string{"X-Remove-History-Location": "x"}, 0, "", "", true},
		{map[string]string{"X-Versions-Location": "a", "X-Remove-Versions-Location": "x"}, 0, "a", "stack", false},
		{map[string]string{}, 0, "", "", false},
	} {
		h := http.Header{}
		for k, v := range tc.in {
			h.Set(k, v)
		}
		status, _ := versioningHeaders(h)
		_, hasLoc := h[sysmetaVersionsLocation]
		if status != tc.status || (status == 0 && (h.Get(sysmetaVersionsLocation) != tc.loc || h.Get(sysmetaVersionsMode) != tc.mode ||
			(tc.removes != (hasLoc && tc.loc == "")))) {
			t.Errorf("%v: %d %v", tc.in, status, h)
		}
	}
	if got := versionPrefix("photo.jpg"); got != "009photo.jpg/" {
		t.Errorf("versionPrefix: %s", got)
	}
}

// FuzzSLOManifest: no manifest makes the parser panic, and what it accepts
// stores and reads back.
func FuzzSLOManifest(f *testing.F) {
	for _, s := range []string{`[{"path": "/c/a", "etag": "x", "size_bytes": 3}]`, `[{"data": "eHk="}, {"path": "c/b", "range": "-2"}]`,
		`[{"path": "/c/a", "size_bytes": "1_0"}]`, `{}`, `[`, `[{"path": "/c/a", "size_bytes": 1e300}]`, `[{"data": "e-_="}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		segs, err := parseSLOManifest(body, "mc", "mo")
		if err != nil {
			if err.status != 400 || err.body == "" {
				t.Fatalf("refusal %+v", err)
			}
			return
		}
		stored := make([]sloSegment, 0, len(segs))
		for _, s := range segs {
			if s.inline {
				stored = append(stored, sloSegment{Data: "eHk="})
				continue
			}
			stored = append(stored, sloSegment{Name: "/" + strings.TrimLeft(s.path, "/"), Bytes: s.size, Hash: s.etag, Range: s.rangeText})
		}
		back, ok := decodeManifest(bytes.NewReader(encodeManifest(stored)))
		if !ok || len(back) != len(stored) {
			t.Fatalf("stored manifest does not read back: %s", encodeManifest(stored))
		}
		for i := range back {
			if back[i].Name != stored[i].Name || back[i].Hash != stored[i].Hash {
				t.Fatalf("segment %d: %+v, want %+v", i, back[i], stored[i])
			}
		}
	})
}

// FuzzSymlinkTarget: any X-Symlink-Target and -Account is accepted as a
// container and object (and account) without slashes where names cannot
// have them, or refused with 412; never a panic.
func FuzzSymlinkTarget(f *testing.F) {
	for _, s := range [][2]string{{"c/o", ""}, {"/c/o", ""}, {"c/o/p%2F", "AUTH_x"}, {"%zz/o", "%2F"}, {"c/\xff", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, target, account string) {
		a, c, o, refusal := symlinkTarget(target, account, account != "")
		if refusal != nil {
			if refusal.status != 412 || refusal.body == "" {
				t.Fatalf("refusal %+v", refusal)
			}
			return
		}
		if c == "" || o == "" || strings.Contains(c, "/") || strings.Contains(a, "/") || !validName(c+"/"+o) {
			t.Fatalf("accepted %q %q as %q %q %q", target, account, a, c, o)
		}
	})
}

func md5hexString(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestRewriteListingJSON: the listing rows of a large object and of links,
// as upstream's slo and symlink middleware answer them.
func TestRewriteListingJSON(t *testing.T) {
	in := `[{"name": "big", "hash": "abc; slo_etag=def", "bytes": 12},
		{"name": "link", "hash": "d41d8cd98f00b204e9800998ecf8427e; symlink_target=c/o; symlink_target_account=AUTH_b; symlink_target_etag=e1; symlink_target_bytes=7"},
		{"name": "other", "hash": "x; foo=\"bar\""}, {"subdir": "d/"}]`
	out, ok := rewriteListingJSON([]byte(in), "v1", "AUTH_a")
	if !ok {
		t.Fatal("not rewritten")
	}
	want := `[{"bytes":12,"hash":"abc","name":"big","slo_etag":"\"def\""},` +
		`{"hash":"d41d8cd98f00b204e9800998ecf8427e","name":"link","symlink_bytes":7,"symlink_etag":"e1","symlink_path":"/v1/AUTH_b/c/o"},` +
		`{"hash":"x; foo=bar","name":"other"},{"subdir":"d/"}]`
	if string(out) != want {
		t.Errorf("rewritten:\n%s\nwant\n%s", out, want)
	}
	if _, ok := rewriteListingJSON([]byte(`{"not": "a list"}`), "v1", "a"); ok {
		t.Error("a non-list listing rewritten")
	}
}

// TestWithListingOverrides: the proxy's own container update for a failed
// replica records what the object server would.
func TestWithListingOverrides(t *testing.T) {
	object := http.Header{sysmetaOverrideSize: {"12"}, sysmetaOverrideEtag: {"m; slo_etag=s"}}
	got := withListingOverrides(object, http.Header{"X-Size": {"400"}, "X-Etag": {"m"}, "X-Content-Type": {"t"}})
	if got.Get("X-Size") != "12" || got.Get("X-Etag") != "m; slo_etag=s" || got.Get("X-Content-Type") != "t" {
		t.Errorf("overrides: %v", got)
	}
	if got := withListingOverrides(http.Header{}, http.Header{"X-Size": {"4"}}); got.Get("X-Size") != "4" {
		t.Errorf("no overrides: %v", got)
	}
}
