package objectstore

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestObjectStoreStaticLargeObject: a manifest PUT validated as upstream's
// slo middleware validates it, the large object read whole, by ranges and
// conditionally, the manifest itself, nested manifests, and the delete of
// segments then manifest.
func TestObjectStoreStaticLargeObject(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	c.expect("a-member", "PUT", acct+"/segs", "", 201)
	parts := map[string]string{"s1": "hello", "s2": " world", "s3": "!"}
	for name, body := range parts {
		c.expect("a-member", "PUT", acct+"/segs/"+name, body, 201)
	}
	manifest := fmt.Sprintf(`[{"path": "/segs/s1", "etag": %q, "size_bytes": 5}, {"path": "segs/s2", "etag": null},
		{"path": "/segs/s3", "size_bytes": "1"}]`, md5hex("hello"))
	sloEtag := md5hex(md5hex("hello") + md5hex(" world") + md5hex("!"))
	r := c.expect("a-member", "PUT", acct+"/c/big?multipart-manifest=put", manifest, 201, "Content-Type", "text/plain")
	if r.header.Get("Etag") != `"`+sloEtag+`"` {
		t.Fatalf("manifest PUT Etag %q, want the large object's", r.header.Get("Etag"))
	}
	r = c.expect("a-member", "GET", acct+"/c/big", "", 200)
	if r.body != "hello world!" || r.header.Get("Etag") != `"`+sloEtag+`"` || r.header.Get("X-Static-Large-Object") != "True" ||
		r.header.Get("Content-Type") != "text/plain" || r.header.Get("X-Manifest-Etag") == "" {
		t.Fatalf("SLO GET: %q %v", r.body, r.header)
	}
	for k := range r.header {
		if strings.Contains(k, "Sysmeta") {
			t.Fatalf("sysmeta reached the client: %v", r.header)
		}
	}
	r = c.expect("a-member", "HEAD", acct+"/c/big", "", 200)
	if r.header.Get("Content-Length") != "12" || r.header.Get("Etag") != `"`+sloEtag+`"` {
		t.Fatalf("SLO HEAD: %v", r.header)
	}
	for rng, want := range map[string]string{"bytes=3-7": "lo wo", "bytes=-3": "ld!", "bytes=5-": " world!", "bytes=11-11": "!"} {
		if r := c.expect("a-member", "GET", acct+"/c/big", "", 206, "Range", rng); r.body != want {
			t.Errorf("SLO %s: %q, want %q", rng, r.body, want)
		}
	}
	r = c.expect("a-member", "GET", acct+"/c/big", "", 206, "Range", "bytes=0-1,10-11")
	if !strings.HasPrefix(r.header.Get("Content-Type"), "multipart/byteranges;boundary=") ||
		!strings.Contains(r.body, "Content-Range: bytes 0-1/12\r\n\r\nhe\r\n") || !strings.Contains(r.body, "Content-Range: bytes 10-11/12\r\n\r\nd!\r\n") {
		t.Fatalf("SLO multi-range: %v %q", r.header, r.body)
	}
	c.expect("a-member", "GET", acct+"/c/big", "", 416, "Range", "bytes=12-")
	c.expect("a-member", "GET", acct+"/c/big", "", 304, "If-None-Match", `"`+sloEtag+`"`)
	c.expect("a-member", "GET", acct+"/c/big", "", 412, "If-Match", `"nope"`)
	c.expect("a-member", "GET", acct+"/c/big", "", 200, "If-Match", `"`+sloEtag+`"`)

	// ?part-number reads one segment
	r = c.expect("a-member", "GET", acct+"/c/big?part-number=2", "", 206)
	if r.body != " world" || r.header.Get("Content-Range") != "bytes 5-10/12" || r.header.Get("X-Parts-Count") != "3" {
		t.Fatalf("part 2: %q %v", r.body, r.header)
	}
	if r := c.expect("a-member", "HEAD", acct+"/c/big?part-number=1", "", 206); r.header.Get("Content-Length") != "5" {
		t.Fatalf("HEAD of part 1: %v", r.header)
	}
	if r := c.expect("a-member", "GET", acct+"/c/big?part-number=4", "", 416); r.body != "The requested part number is not satisfiable" ||
		r.header.Get("Content-Range") != "bytes */12" {
		t.Fatalf("part 4 of 3: %q %v", r.body, r.header)
	}
	if r := c.expect("a-member", "GET", acct+"/c/big?part-number=0", "", 400); r.body != "Part number must be an integer greater than 0" {
		t.Fatalf("part 0: %q", r.body)
	}
	c.expect("a-member", "GET", acct+"/c/big?part-number=1", "", 400, "Range", "bytes=0-1")
	c.expect("a-member", "GET", acct+"/segs/s1?part-number=9", "", 200) // not an SLO: ignored

	// the manifest as stored and as a client would PUT it
	r = c.expect("a-member", "GET", acct+"/c/big?multipart-manifest=get", "", 200)
	var stored []map[string]any
	if err := json.Unmarshal([]byte(r.body), &stored); err != nil || len(stored) != 3 || stored[1]["name"] != "/segs/s2" ||
		stored[0]["hash"] != md5hex("hello") || r.header.Get("Content-Type") != "application/json; charset=utf-8" {
		t.Fatalf("manifest: %v %q %v", err, r.body, r.header)
	}
	r = c.expect("a-member", "GET", acct+"/c/big?multipart-manifest=get&format=raw", "", 200)
	wantRaw := fmt.Sprintf(`[{"etag": %q, "path": "/segs/s1", "size_bytes": 5}, {"etag": %q, "path": "/segs/s2", "size_bytes": 6}, {"etag": %q, "path": "/segs/s3", "size_bytes": 1}]`,
		md5hex("hello"), md5hex(" world"), md5hex("!"))
	if r.body != wantRaw || r.header.Get("Etag") != md5hex(wantRaw) || r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("raw manifest: %q %v", r.body, r.header)
	}

	// the listing records the large object's size and ETag
	r = c.expect("a-member", "GET", acct+"/c?format=json", "", 200)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.body), &rows); err != nil || len(rows) != 1 || rows[0]["bytes"] != float64(12) ||
		rows[0]["slo_etag"] != `"`+sloEtag+`"` || strings.Contains(rows[0]["hash"].(string), ";") {
		t.Fatalf("listing of an SLO: %v %s", err, r.body)
	}
	if r := c.expect("a-member", "HEAD", acct+"/c", "", 204); r.header.Get("X-Container-Bytes-Used") != "12" {
		t.Fatalf("bytes used by an SLO: %v", r.header)
	}

	// a ranged segment, inline data, and a nested manifest
	inline := base64.StdEncoding.EncodeToString([]byte("XY"))
	c.expect("a-member", "PUT", acct+"/c/mixed?multipart-manifest=put",
		`[{"path": "/segs/s2", "range": "1-3"}, {"data": "`+inline+`"}, {"path": "/c/big"}]`, 201)
	if r := c.expect("a-member", "GET", acct+"/c/mixed", "", 200); r.body != "worXYhello world!" {
		t.Fatalf("mixed SLO: %q", r.body)
	}
	if r := c.expect("a-member", "GET", acct+"/c/mixed", "", 206, "Range", "bytes=4-6"); r.body != "Yhe" {
		t.Fatalf("mixed SLO range: %q", r.body)
	}
	r = c.expect("a-member", "GET", acct+"/c/mixed?multipart-manifest=get", "", 200)
	if !strings.Contains(r.body, `"range": "1-3"`) || !strings.Contains(r.body, `"sub_slo": true`) {
		t.Fatalf("mixed manifest: %q", r.body)
	}

	// a copy is of the large object's bytes; of the manifest with ?multipart-manifest=get
	c.expect("a-member", "PUT", acct+"/c/copied", "", 201, "X-Copy-From", "c/big")
	r = c.expect("a-member", "GET", acct+"/c/copied", "", 200)
	if r.body != "hello world!" || r.header.Get("X-Static-Large-Object") != "" || r.header.Get("Etag") != md5hex("hello world!") {
		t.Fatalf("copy of an SLO: %q %v", r.body, r.header)
	}
	c.expect("a-member", "PUT", acct+"/c/manifest-copy?multipart-manifest=get", "", 201, "X-Copy-From", "c/big")
	r = c.expect("a-member", "GET", acct+"/c/manifest-copy", "", 200)
	if r.body != "hello world!" || r.header.Get("X-Static-Large-Object") != "True" || r.header.Get("Etag") != `"`+sloEtag+`"` {
		t.Fatalf("copy of an SLO manifest: %q %v", r.body, r.header)
	}
	c.expect("a-member", "DELETE", acct+"/c/manifest-copy", "", 204)

	// a temp URL reads the large object and hides its user metadata
	c.expect("a-member", "POST", acct, "", 204, "X-Account-Meta-Temp-URL-Key", "secret")
	c.expect("a-member", "POST", acct+"/c/big", "", 202, "X-Object-Meta-Private", "x")
	r = c.expect("", "GET", tempURL("secret", "GET", acct+"/c/big", time.Now().Add(time.Hour).Unix()), "", 200)
	if r.body != "hello world!" || r.header.Get("X-Object-Meta-Private") != "" || r.header.Get("Content-Disposition") == "" {
		t.Fatalf("temp URL GET of an SLO: %q %v", r.body, r.header)
	}

	// a static link to the SLO lists its slo_etag
	manifestEtag := c.expect("a-member", "HEAD", acct+"/c/big", "", 200).header.Get("X-Manifest-Etag")
	c.expect("a-member", "PUT", acct+"/c/slo-link", "", 201, "X-Symlink-Target", "c/big", "X-Symlink-Target-Etag", manifestEtag)
	r = c.expect("a-member", "GET", acct+"/c?format=json&prefix=slo-link", "", 200)
	rows = nil
	if err := json.Unmarshal([]byte(r.body), &rows); err != nil || len(rows) != 1 || rows[0]["slo_etag"] != `"`+sloEtag+`"` ||
		rows[0]["symlink_path"] != "/v1/AUTH_a/c/big" || rows[0]["symlink_bytes"] != float64(12) {
		t.Fatalf("listing of a static link to an SLO: %v %s", err, r.body)
	}
	if r := c.expect("a-member", "GET", acct+"/c/slo-link", "", 200); r.body != "hello world!" {
		t.Fatalf("static link to an SLO: %q", r.body)
	}
	c.expect("a-member", "DELETE", acct+"/c/slo-link", "", 204)

	// a sub-manifest is read only when a range reaches it
	c.expect("a-member", "PUT", acct+"/c/sub?multipart-manifest=put", `[{"path": "/segs/s3"}]`, 201)
	c.expect("a-member", "PUT", acct+"/c/lazy?multipart-manifest=put", `[{"path": "/segs/s1"}, {"path": "/c/sub"}]`, 201)
	c.expect("a-member", "DELETE", acct+"/c/sub", "", 204)
	if r := c.expect("a-member", "GET", acct+"/c/lazy", "", 206, "Range", "bytes=0-4"); r.body != "hello" {
		t.Fatalf("range before a missing sub-manifest: %q", r.body)
	}
	c.expect("a-member", "GET", acct+"/c/lazy", "", 409, "Range", "bytes=5-")
	c.expect("a-member", "DELETE", acct+"/c/lazy", "", 204)

	// another project's segments are read with the caller's rights
	c.expect("a-member", "POST", acct+"/c", "", 204, "X-Container-Read", "b:*")
	c.expect("b-member", "GET", acct+"/c/big", "", 409)
	c.expect("b-member", "HEAD", acct+"/c/big", "", 200)

	// a missing segment: 409 before the first byte
	c.expect("a-member", "PUT", acct+"/segs/gone", "abc", 201)
	c.expect("a-member", "PUT", acct+"/c/broken?multipart-manifest=put", `[{"path": "/segs/gone"}, {"path": "/segs/s1"}]`, 201)
	c.expect("a-member", "DELETE", acct+"/segs/gone", "", 204)
	c.expect("a-member", "GET", acct+"/c/broken", "", 409)

	// delete: segments, then the manifest
	r = c.expect("a-member", "DELETE", acct+"/c/big?multipart-manifest=delete", "", 200, "Accept", "application/json")
	var summary map[string]any
	if err := json.Unmarshal([]byte(r.body), &summary); err != nil || summary["Number Deleted"] != float64(4) ||
		summary["Response Status"] != "200 OK" {
		t.Fatalf("SLO delete: %v %q", err, r.body)
	}
	c.expect("a-member", "GET", acct+"/c/big", "", 404)
	c.expect("a-member", "GET", acct+"/segs/s1", "", 404)
	c.expect("a-member", "PUT", acct+"/segs/plain", "x", 201)
	r = c.expect("a-member", "DELETE", acct+"/segs/plain?multipart-manifest=delete", "", 200)
	if !strings.Contains(r.body, "Response Status: 400 Bad Request\n") {
		t.Fatalf("delete of a plain object as a manifest: %q", r.body)
	}
}

// TestObjectStoreSLOBadManifests: each refusal with upstream's status and body.
func TestObjectStoreSLOBadManifests(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	c.expect("a-member", "PUT", acct+"/c/s1", "hello", 201)
	c.expect("a-member", "PUT", acct+"/c/s2", "world", 201)
	var tooMany []string
	for range 1001 {
		tooMany = append(tooMany, `{"path": "/c/s1"}`)
	}
	for _, tc := range []struct {
		name, manifest string
		headers        []string
		status         int
		body           string
	}{
		{"not JSON", `[{"path"`, nil, 400, "Manifest must be valid JSON.\n"},
		{"not a list", `{"path": "/c/s1"}`, nil, 400, "Manifest must be a list.\n"},
		{"missing segment", `[{"path": "/c/nope"}, {"path": "/c/s1"}]`, nil, 400, "Errors:\n/c/nope, 404 Not Found\n"},
		{"etag and size mismatch", `[{"path": "/c/s1", "etag": "abc", "size_bytes": 4}, {"path": "/c/s2"}]`, nil, 400,
			"Errors:\n/c/s1, Size Mismatch\n/c/s1, Etag Mismatch\n"},
		{"not an object path", `[{"path": "c"}]`, nil, 400,
			"Index 0: path does not refer to an object. Path must be of the form /container/object.\n"},
		{"extraneous keys", `[{"path": "/c/s1", "zz": 1, "aa": 2}]`, nil, 400, "Index 0: extraneous keys \"aa\", \"zz\"\n"},
		{"no path", `[{"etag": "x"}, 7]`, nil, 400,
			"Index 0: expected keys to include one of 'data' or 'path'\nIndex 1: not a JSON object\n"},
		{"too small", `[{"path": "/c/s1", "size_bytes": 0}, {"path": "/c/s2"}]`, nil, 400,
			"Index 0: too small; each segment must be at least 1 byte.\n"},
		{"itself", `[{"path": "/c/m"}]`, nil, 400, "Index 0: manifest must not include itself as a segment\n"},
		{"bad range", `[{"path": "/c/s1", "range": "x-y"}]`, nil, 400, "Index 0: invalid range\n"},
		{"two ranges", `[{"path": "/c/s1", "range": "0-1,3-4"}]`, nil, 400, "Index 0: multiple ranges (only one allowed)\n"},
		{"unsatisfiable", `[{"path": "/c/s1", "range": "9-", "size_bytes": 5}]`, nil, 400, "Index 0: unsatisfiable range\n"},
		{"unsatisfiable at HEAD", `[{"path": "/c/s1", "range": "9-"}]`, nil, 400, "Errors:\n/c/s1, Unsatisfiable Range\n"},
		{"bad data", `[{"data": "!!"}, {"path": "/c/s1"}]`, nil, 400, "Index 0: data must be valid base64\n"},
		{"only data", `[{"data": "eHk="}]`, nil, 400, "Inline data segments require at least one object-backed segment.\n"},
		{"bad size", `[{"path": "/c/s1", "size_bytes": "five"}]`, nil, 400, "Index 0: invalid size_bytes\n"},
		{"path not a string", `[{"path": 5}]`, nil, 400, "Index 0: \"path\" must be a string\n"},
		{"too many", "[" + strings.Join(tooMany, ",") + "]", nil, 413, "Number of object-backed segments must be <= 1000"},
		{"client etag", `[{"path": "/c/s1"}]`, []string{"Etag", "abc"}, 422, ""},
		{"copy", `[{"path": "/c/s1"}]`, []string{"X-Copy-From", "c/s1"}, 405, "Multipart Manifest PUTs cannot be COPY requests"},
		{"json errors", `[{"path": "/c/nope"}]`, []string{"Accept", "application/json"}, 400, `{"Errors":[["/c/nope","404 Not Found"]]}`},
	} {
		r := c.do("a-member", "PUT", acct+"/c/m?multipart-manifest=put", tc.manifest, tc.headers...)
		if r.status != tc.status || (tc.body != "" && r.body != tc.body) {
			t.Errorf("%s: %d %q, want %d %q", tc.name, r.status, r.body, tc.status, tc.body)
		}
	}
	// heartbeat=on: 202 at once, the outcome in the body
	r := c.expect("a-member", "PUT", acct+"/c/m?multipart-manifest=put&heartbeat=on", `[{"path": "/c/nope"}]`, 202)
	if r.body != " \r\n\r\nResponse Body: Bad Request\nThe server could not comply with the request since it is either malformed or otherwise incorrect.\n"+
		"Response Status: 400 Bad Request\nErrors:\n/c/nope, 404 Not Found\n" {
		t.Fatalf("heartbeat refusal: %q", r.body)
	}
	r = c.expect("a-member", "PUT", acct+"/c/hb?multipart-manifest=put&heartbeat=on", `[{"path": "/c/s1"}]`, 202, "Accept", "application/json")
	var hb map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(r.body)), &hb); err != nil || hb["Response Status"] != "201 Created" ||
		hb["Etag"] != `"`+md5hex(md5hex("hello"))+`"` || hb["Last Modified"] == "" {
		t.Fatalf("heartbeat success: %v %q", err, r.body)
	}
	c.expect("a-member", "GET", acct+"/c/hb", "", 200)
	r = c.expect("a-member", "PUT", acct+"/c/m", "x", 400, "X-Static-Large-Object", "True")
	if !strings.HasPrefix(r.body, "X-Static-Large-Object is a reserved header") {
		t.Fatalf("reserved header: %q", r.body)
	}
	c.expect("a-member", "GET", acct+"/c/m", "", 404)
	// the last segment may be empty
	c.expect("a-member", "PUT", acct+"/c/empty", "", 201)
	c.expect("a-member", "PUT", acct+"/c/m?multipart-manifest=put", `[{"path": "/c/s1"}, {"path": "/c/empty"}]`, 201)
	// nested manifests are followed to upstream's depth of 10
	c.expect("a-member", "PUT", acct+"/c/n0?multipart-manifest=put", `[{"path": "/c/s1"}]`, 201)
	for i := 1; i <= 10; i++ {
		c.expect("a-member", "PUT", fmt.Sprintf("%s/c/n%d?multipart-manifest=put", acct, i), fmt.Sprintf(`[{"path": "/c/n%d"}]`, i-1), 201)
	}
	if r := c.expect("a-member", "GET", acct+"/c/n9", "", 200); r.body != "hello" {
		t.Fatalf("nine levels: %q", r.body)
	}
	c.expect("a-member", "GET", acct+"/c/n10", "", 409)
	// /info advertises slo with upstream's keys
	r = c.expect("", "GET", "/info", "", 200)
	var info map[string]map[string]any
	if err := json.Unmarshal([]byte(r.body), &info); err != nil || info["slo"]["max_manifest_segments"] != float64(1000) ||
		info["slo"]["min_segment_size"] != float64(1) || info["symlink"]["symloop_max"] != float64(2) ||
		info["versioned_writes"] == nil {
		t.Fatalf("/info: %v %s", err, r.body)
	}
}

// TestObjectStoreDLOMultiRange: several ranges of a dynamic large object
// answer multipart/byteranges across its segments.
func TestObjectStoreDLOMultiRange(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	for i, part := range []string{"abc", "def", "ghi"} {
		c.expect("a-member", "PUT", fmt.Sprintf("%s/c/seg/%02d", acct, i), part, 201)
	}
	c.expect("a-member", "PUT", acct+"/c/dlo", "", 201, "X-Object-Manifest", "c/seg/")
	for _, bad := range []string{"c", "c/", "/c/p", "c//p", "c/p?x", "c/p&y"} {
		r := c.expect("a-member", "PUT", acct+"/c/bad-dlo", "", 400, "X-Object-Manifest", bad)
		if r.body != "X-Object-Manifest must be in the format container/prefix" {
			t.Fatalf("X-Object-Manifest %q: %q", bad, r.body)
		}
	}
	r := c.expect("a-member", "GET", acct+"/c/dlo", "", 206, "Range", "bytes=1-4,-2")
	if !strings.Contains(r.body, "Content-Range: bytes 1-4/9\r\n\r\nbcde\r\n") || !strings.Contains(r.body, "Content-Range: bytes 7-8/9\r\n\r\nhi\r\n") {
		t.Fatalf("DLO multi-range: %q", r.body)
	}
	if r := c.expect("a-member", "GET", acct+"/c/dlo", "", 206, "Range", "bytes=2-6"); r.body != "cdefg" {
		t.Fatalf("DLO range: %q", r.body)
	}
}

// TestObjectStoreSymlinks: dynamic and static links, ?symlink=get, loops,
// POST to a link, and the caller's rights on the target.
func TestObjectStoreSymlinks(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	c.expect("a-member", "PUT", acct+"/c/target", "the target", 201, "Content-Type", "text/plain")
	c.expect("a-member", "PUT", acct+"/c/link", "", 201, "X-Symlink-Target", "c/target")
	r := c.expect("a-member", "GET", acct+"/c/link", "", 200)
	if r.body != "the target" || r.header.Get("Content-Location") != "/v1/AUTH_a/c/target" {
		t.Fatalf("link GET: %q %v", r.body, r.header)
	}
	r = c.expect("a-member", "HEAD", acct+"/c/link?symlink=get", "", 200)
	if r.header.Get("X-Symlink-Target") != "c/target" || r.header.Get("Content-Type") != "application/symlink" ||
		r.header.Get("Content-Length") != "0" {
		t.Fatalf("link itself: %v", r.header)
	}
	if r := c.expect("a-member", "GET", acct+"/c/link", "", 206, "Range", "bytes=4-9"); r.body != "target" {
		t.Fatalf("link range: %q", r.body)
	}
	// a POST lands on the link and is redirected (not followed here)
	post, _ := http.NewRequest("POST", c.url+acct+"/c/link", nil)
	post.Header.Set("X-Auth-Token", "a-member")
	post.Header.Set("X-Object-Meta-Color", "blue")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := noFollow.Do(post)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 307 || res.Header.Get("Location") != "/v1/AUTH_a/c/target" {
		t.Fatalf("POST to a link: %d %v", res.StatusCode, res.Header)
	}
	if r := c.expect("a-member", "HEAD", acct+"/c/link?symlink=get", "", 200); r.header.Get("X-Object-Meta-Color") != "blue" {
		t.Fatalf("POST to a link not applied to it: %v", r.header)
	}
	for _, tc := range []struct {
		headers []string
		body    string
		status  int
		want    string
	}{
		{[]string{"X-Symlink-Target", "c/target"}, "data", 400, "Symlink requests require a zero byte body"},
		{[]string{"X-Symlink-Target", "/c/target"}, "", 412, "X-Symlink-Target header must be of the form <container name>/<object name>"},
		{[]string{"X-Symlink-Target", "nocontainer"}, "", 412, "X-Symlink-Target header must be of the form <container name>/<object name>"},
		{[]string{"X-Symlink-Target", "c/bad"}, "", 400, "Symlink cannot target itself"},
		{[]string{"X-Symlink-Target", "c/target", "X-Symlink-Target-Account", "a/b"}, "", 412, "Account name cannot contain slashes"},
		{[]string{"X-Symlink-Target", "c/target", "X-Symlink-Target-Account", ""}, "", 412, "Account name cannot be empty"},
		{[]string{"X-Symlink-Target", "c/target", "X-Symlink-Target-Etag", "x;y"}, "", 400, "Bad X-Symlink-Target-Etag format"},
		{[]string{"X-Symlink-Target", "c/target", "X-Symlink-Target-Etag", "abc"}, "", 409,
			fmt.Sprintf("Object Etag '%s' does not match X-Symlink-Target-Etag header 'abc'", md5hex("the target"))},
		{[]string{"X-Symlink-Target", "c/nothing", "X-Symlink-Target-Etag", "abc"}, "", 409, "X-Symlink-Target does not exist"},
	} {
		r := c.do("a-member", "PUT", acct+"/c/bad", tc.body, tc.headers...)
		if r.status != tc.status || r.body != tc.want {
			t.Errorf("PUT %v: %d %q, want %d %q", tc.headers, r.status, r.body, tc.status, tc.want)
		}
	}
	c.expect("a-member", "POST", acct+"/c/target", "", 400, "X-Symlink-Target", "c/x")
	// a copy of a link is of its target; with ?symlink=get, of the link
	c.expect("a-member", "COPY", acct+"/c/link", "", 201, "Destination", "c/link-copy")
	if r := c.expect("a-member", "HEAD", acct+"/c/link-copy?symlink=get", "", 200); r.header.Get("X-Symlink-Target") != "" ||
		r.header.Get("Content-Length") != "10" {
		t.Fatalf("copy of a link: %v", r.header)
	}
	c.expect("a-member", "COPY", acct+"/c/link?symlink=get", "", 201, "Destination", "c/link-copy")
	if r := c.expect("a-member", "HEAD", acct+"/c/link-copy?symlink=get", "", 200); r.header.Get("X-Symlink-Target") != "c/target" {
		t.Fatalf("copy of a link itself: %v", r.header)
	}
	// a static link follows its target's ETag
	c.expect("a-member", "PUT", acct+"/c/static", "", 201, "X-Symlink-Target", "c/target", "X-Symlink-Target-Etag", md5hex("the target"))
	c.expect("a-member", "GET", acct+"/c/static", "", 200)
	r = c.expect("a-member", "HEAD", acct+"/c/static?symlink=get", "", 200)
	if r.header.Get("X-Symlink-Target-Bytes") != "10" || r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("static link: %v", r.header)
	}
	c.expect("a-member", "PUT", acct+"/c/target", "changed", 201)
	r = c.expect("a-member", "GET", acct+"/c/static", "", 409)
	if !strings.HasPrefix(r.body, "Object Etag ") || r.header.Get("Content-Location") != "/v1/AUTH_a/c/target" {
		t.Fatalf("static link to a changed target: %q %v", r.body, r.header)
	}
	// listings say which rows are links
	r = c.expect("a-member", "GET", acct+"/c?format=json&prefix=static", "", 200)
	var rows []map[string]any
	if err := json.Unmarshal([]byte(r.body), &rows); err != nil || len(rows) != 1 || rows[0]["symlink_path"] != "/v1/AUTH_a/c/target" ||
		rows[0]["symlink_etag"] != md5hex("the target") || rows[0]["symlink_bytes"] != float64(10) ||
		rows[0]["hash"] != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Fatalf("listing of a link: %v %s", err, r.body)
	}

	// two links followed, a third is a loop
	c.expect("a-member", "PUT", acct+"/c/l1", "", 201, "X-Symlink-Target", "c/l2")
	c.expect("a-member", "PUT", acct+"/c/l2", "", 201, "X-Symlink-Target", "c/l3")
	c.expect("a-member", "PUT", acct+"/c/l3", "", 201, "X-Symlink-Target", "c/target")
	if r := c.expect("a-member", "GET", acct+"/c/l2", "", 200); r.body != "changed" {
		t.Fatalf("two links: %q", r.body)
	}
	r = c.expect("a-member", "GET", acct+"/c/l1", "", 409)
	if r.body != "Too many levels of symbolic links, maximum allowed is 2" {
		t.Fatalf("loop: %q", r.body)
	}
	// a dangling link
	c.expect("a-member", "PUT", acct+"/c/dangling", "", 201, "X-Symlink-Target", "c/nothing")
	r = c.expect("a-member", "GET", acct+"/c/dangling", "", 404)
	if r.header.Get("Content-Location") != "/v1/AUTH_a/c/nothing" {
		t.Fatalf("dangling: %v", r.header)
	}
	// another project's link to a's object: read with b's rights
	c.expect("b-member", "PUT", "/v1/AUTH_b/c", "", 201)
	c.expect("b-member", "PUT", "/v1/AUTH_b/c/peek", "", 201, "X-Symlink-Target", "c/target", "X-Symlink-Target-Account", "AUTH_a")
	c.expect("b-member", "GET", "/v1/AUTH_b/c/peek", "", 403)
	// a client cannot set sysmeta itself
	c.expect("a-member", "PUT", acct+"/c/plain", "x", 201, "X-Object-Sysmeta-Symlink-Target", "c/target")
	if r := c.expect("a-member", "GET", acct+"/c/plain", "", 200); r.body != "x" {
		t.Fatalf("client sysmeta honoured: %q", r.body)
	}
}

// TestObjectStoreVersionedWrites: stack mode restores the previous version
// on DELETE; history mode archives it and leaves a delete marker.
func TestObjectStoreVersionedWrites(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/archive", "", 201)
	c.expect("a-member", "PUT", acct+"/c", "", 201, "X-Versions-Location", "archive")
	if r := c.expect("a-member", "HEAD", acct+"/c", "", 204); r.header.Get("X-Versions-Location") != "archive" {
		t.Fatalf("container HEAD: %v", r.header)
	}
	for _, v := range []string{"v1", "v2", "v3"} {
		c.expect("a-member", "PUT", acct+"/c/o", v, 201)
	}
	r := c.expect("a-member", "GET", acct+"/archive?format=json", "", 200)
	var listing []map[string]any
	if err := json.Unmarshal([]byte(r.body), &listing); err != nil || len(listing) != 2 ||
		!strings.HasPrefix(listing[0]["name"].(string), "001o/") {
		t.Fatalf("archive: %v %s", err, r.body)
	}
	for _, want := range []string{"v2", "v1"} {
		c.expect("a-member", "DELETE", acct+"/c/o", "", 204)
		if r := c.expect("a-member", "GET", acct+"/c/o", "", 200); r.body != want {
			t.Fatalf("after DELETE: %q, want %q", r.body, want)
		}
	}
	c.expect("a-member", "DELETE", acct+"/c/o", "", 204)
	c.expect("a-member", "GET", acct+"/c/o", "", 404)
	if r := c.expect("a-member", "GET", acct+"/archive", "", 204); r.body != "" {
		t.Fatalf("archive after the pops: %q", r.body)
	}

	// history mode
	c.expect("a-member", "PUT", acct+"/h", "", 201, "X-History-Location", "archive")
	if r := c.expect("a-member", "HEAD", acct+"/h", "", 204); r.header.Get("X-History-Location") != "archive" ||
		r.header.Get("X-Versions-Location") != "" {
		t.Fatalf("history container: %v", r.header)
	}
	c.expect("a-member", "PUT", acct+"/h/o", "v1", 201)
	c.expect("a-member", "PUT", acct+"/h/o", "v2", 201)
	c.expect("a-member", "DELETE", acct+"/h/o", "", 204)
	c.expect("a-member", "GET", acct+"/h/o", "", 404)
	r = c.expect("a-member", "GET", acct+"/archive?format=json", "", 200)
	listing = nil
	if err := json.Unmarshal([]byte(r.body), &listing); err != nil || len(listing) != 3 ||
		listing[2]["content_type"] != "application/x-deleted;swift_versions_deleted=1" {
		t.Fatalf("history archive: %v %s", err, r.body)
	}
	// stack mode over a delete marker restores what preceded it
	c.expect("a-member", "POST", acct+"/h", "", 204, "X-Versions-Location", "archive")
	c.expect("a-member", "DELETE", acct+"/h/o", "", 204)
	if r := c.expect("a-member", "GET", acct+"/h/o", "", 200); r.body != "v2" {
		t.Fatalf("restored over a marker: %q", r.body)
	}

	// the headers' rules
	r = c.expect("a-member", "POST", acct+"/c", "", 400, "X-Versions-Location", "a", "X-History-Location", "b")
	if r.body != "Only one of X-Versions-Location or X-History-Location may be specified" {
		t.Fatalf("both: %q", r.body)
	}
	c.expect("a-member", "POST", acct+"/c", "", 412, "X-Versions-Location", "a/b")
	c.expect("a-member", "POST", acct+"/c", "", 204, "X-Remove-Versions-Location", "x")
	if r := c.expect("a-member", "HEAD", acct+"/c", "", 204); r.header.Get("X-Versions-Location") != "" {
		t.Fatalf("removed: %v", r.header)
	}
	c.expect("a-member", "PUT", acct+"/c/o", "w1", 201)
	c.expect("a-member", "PUT", acct+"/c/o", "w2", 201)
	if r := c.expect("a-member", "GET", acct+"/archive", "", 200); strings.Count(r.body, "\n") != 1 {
		t.Fatalf("versioning off still archived: %q", r.body)
	}
}
