package objectstore

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

type versionRow struct {
	Name        string `json:"name"`
	VersionID   string `json:"version_id"`
	IsLatest    bool   `json:"is_latest"`
	Bytes       int64  `json:"bytes"`
	Hash        string `json:"hash"`
	ContentType string `json:"content_type"`
	Subdir      string `json:"subdir"`
}

func (c *cluster) versions(path string) []versionRow {
	c.t.Helper()
	r := c.expect("a-member", "GET", path, "", 200)
	var rows []versionRow
	if err := json.Unmarshal([]byte(r.body), &rows); err != nil {
		c.t.Fatalf("%s: %v %q", path, err, r.body)
	}
	return rows
}

// TestObjectVersioning is upstream's object_versioning (X-Versions-Enabled)
// over its statuses and bodies: enabling and disabling, writes keeping
// versions, ?versions listings, version-id reads and deletes, delete
// markers, the hidden container and the reserved namespace.
func TestObjectVersioning(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201, "X-Versions-Enabled", "true")
	if r := c.expect("a-member", "HEAD", acct+"/c", "", 204); r.header.Get("X-Versions-Enabled") != "True" {
		t.Fatalf("enabled container headers %v", r.header)
	}
	// the versions container is hidden from the account's listing
	if r := c.expect("a-member", "GET", acct, "", 200); r.body != "c\n" {
		t.Fatalf("account listing %q", r.body)
	}

	v1 := c.expect("a-member", "PUT", acct+"/c/o", "one", 201, "Content-Type", "text/plain").header
	id1 := v1.Get("X-Object-Version-Id")
	if id1 == "" || v1.Get("Etag") != "f97c5d29941bfb1b2fdab0874906ab82" {
		t.Fatalf("first PUT headers %v", v1)
	}
	v2 := c.expect("a-member", "PUT", acct+"/c/o", "two", 201).header
	id2 := v2.Get("X-Object-Version-Id")
	if id2 == "" || id2 == id1 {
		t.Fatalf("second version id %q (first %q)", id2, id1)
	}
	r := c.expect("a-member", "GET", acct+"/c/o", "", 200)
	if r.body != "two" || r.header.Get("X-Object-Version-Id") != id2 {
		t.Fatalf("GET: %q %v", r.body, r.header)
	}
	if r := c.expect("a-member", "GET", acct+"/c/o?version-id="+id1, "", 200); r.body != "one" ||
		r.header.Get("X-Object-Version-Id") != id1 || r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("GET ?version-id: %q %v", r.body, r.header)
	}
	c.expect("a-member", "HEAD", acct+"/c/o?version-id="+id2, "", 200)
	// the listing shows the current object with its data's size and ETag
	var listing []map[string]any
	if r := c.expect("a-member", "GET", acct+"/c?format=json", "", 200); json.Unmarshal([]byte(r.body), &listing) != nil ||
		len(listing) != 1 || listing[0]["bytes"] != 3.0 || listing[0]["hash"] != "b8a9f715dbb64fd5c56e7783c6820a61" ||
		listing[0]["version_symlink"] != true || listing[0]["symlink_path"] != acct+"/c/o?version-id="+id2 {
		t.Fatalf("listing %q", r.body)
	}
	if r := c.expect("a-member", "HEAD", acct+"/c", "", 204); r.header.Get("X-Container-Bytes-Used") != "6" {
		t.Fatalf("bytes used with the versions' %v", r.header)
	}
	rows := c.versions(acct + "/c?versions")
	if len(rows) != 2 || rows[0].VersionID != id2 || !rows[0].IsLatest || rows[1].VersionID != id1 || rows[1].IsLatest ||
		rows[0].Name != "o" || rows[1].Bytes != 3 {
		t.Fatalf("versions listing %+v", rows)
	}

	// a DELETE writes a delete marker
	d := c.expect("a-member", "DELETE", acct+"/c/o", "", 204)
	marker := d.header.Get("X-Object-Version-Id")
	if marker == "" {
		t.Fatalf("DELETE headers %v", d.header)
	}
	c.expect("a-member", "GET", acct+"/c/o", "", 404)
	if r := c.expect("a-member", "GET", acct+"/c/o?version-id="+marker, "", 404); r.header.Get("Content-Type") != "application/x-deleted;swift_versions_deleted=1" {
		t.Fatalf("delete marker read %v", r.header)
	}
	rows = c.versions(acct + "/c?versions&format=json")
	if len(rows) != 3 || rows[0].VersionID != marker || !rows[0].IsLatest || rows[1].IsLatest ||
		rows[0].ContentType != "application/x-deleted;swift_versions_deleted=1" {
		t.Fatalf("versions listing after delete %+v", rows)
	}
	// PUT ?version-id restores a version
	if r := c.expect("a-member", "PUT", acct+"/c/o?version-id="+id1, "", 201); r.header.Get("X-Object-Version-Id") != id1 {
		t.Fatalf("restore headers %v", r.header)
	}
	if r := c.expect("a-member", "GET", acct+"/c/o", "", 200); r.body != "one" {
		t.Fatalf("restored %q", r.body)
	}
	c.expect("a-member", "DELETE", acct+"/c/o?version-id="+marker, "", 204)

	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{"GET", "/c/o?version-id=bogus", "", 400, "Invalid version parameter"},
		{"POST", "/c/o?version-id=" + id1, "", 400, "POST to a specific version is not allowed"},
		{"PUT", "/c/o?version-id=null", "", 400, "Invalid version parameter"},
		{"PUT", "/c/o?version-id=" + id1, "data", 400, "PUT version-id requests require a zero byte body"},
		{"PUT", "/c/o?version-id=1.00000", "", 404, "The specified version does not exist"},
		{"GET", "/c?versions&version_marker=1", "", 400, "version_marker param requires marker"},
		{"GET", "/c?versions&marker=o&version_marker=x", "", 400, "invalid version_marker param"},
		{"GET", "/c?versions&delimiter=1", "", 400, "invalid delimiter param"},
		{"PUT", "/" + url.PathEscape("\x00versions\x00c"), "", 412, "Invalid UTF8 or contains NULL"},
		{"GET", "/" + url.PathEscape("\x00versions\x00c"), "", 412, "Invalid UTF8 or contains NULL"},
		{"PUT", "/c/" + url.PathEscape("\x00o\x00x"), "x", 412, "Invalid UTF8 or contains NULL"},
		{"DELETE", "/c", "", 409, "Delete all versions before deleting container."},
	} {
		if r := c.expect("a-member", tc.method, acct+tc.path, tc.body, tc.status); !strings.Contains(r.body, tc.want) {
			t.Errorf("%s %s: %q, want %q", tc.method, tc.path, r.body, tc.want)
		}
	}
	c.expect("a-member", "GET", "/v1/AUTH_a/plain/o?version-id="+id1, "", 400)
	// bad input is a client error, never a 500
	for _, path := range []string{"/c/o?version-id=%00", "/c/o?version-id=%ff", "/c/o?version-id=1e3",
		"/c/o?version-id=9999999999.99999", "/c?versions&marker=%ff", "/c?versions&limit=abc", "/c?versions&limit=-1",
		"/c?versions&limit=100000", "/c?versions&prefix=%ff", "/nope?versions", "/nope/o?version-id=1"} {
		for _, method := range []string{"GET", "HEAD", "DELETE", "PUT", "POST"} {
			if r := c.do("a-member", method, acct+path, ""); r.status >= 500 {
				t.Errorf("%s %s: %d %q", method, path, r.status, r.body)
			}
		}
	}

	// legacy versioning and object versioning exclude each other
	c.expect("a-member", "PUT", acct+"/legacy", "", 201, "X-Versions-Location", "archive")
	if r := c.expect("a-member", "POST", acct+"/legacy", "", 400, "X-Versions-Enabled", "true"); !strings.Contains(r.body,
		"Cannot enable object versioning on a container that is already using the legacy versioned writes feature.") {
		t.Fatalf("legacy conflict %q", r.body)
	}

	// disabled: versions stay readable and deletable; then the container goes
	c.expect("a-member", "POST", acct+"/c", "", 204, "X-Versions-Enabled", "false")
	if r := c.expect("a-member", "HEAD", acct+"/c", "", 204); r.header.Get("X-Versions-Enabled") != "False" {
		t.Fatalf("disabled container headers %v", r.header)
	}
	d = c.expect("a-member", "DELETE", acct+"/c/o?version-id="+id2, "", 204)
	if d.header.Get("X-Object-Current-Version-Id") != id1 {
		t.Fatalf("delete of an old version: %v", d.header)
	}
	d = c.expect("a-member", "DELETE", acct+"/c/o?version-id="+id1, "", 204)
	if d.header.Get("X-Object-Current-Version-Id") != "null" {
		t.Fatalf("delete of the current version: %v", d.header)
	}
	c.expect("a-member", "GET", acct+"/c/o", "", 404)
	c.expect("a-member", "DELETE", acct+"/c", "", 204)
	if r := c.do("a-member", "GET", acct+"?format=json", ""); strings.Contains(r.body, "versions") {
		t.Fatalf("account listing after delete %q", r.body)
	}
	if r := c.expect("", "GET", "/info", "", 200); !strings.Contains(r.body, `"object_versioning":{}`) {
		t.Fatalf("/info %q", r.body)
	}
}

// TestObjectVersioningWrites: an object written before versioning was
// enabled becomes a null version kept as its own, a POST to a link updates
// the version, and copies into an enabled container are versions too.
func TestObjectVersioningWrites(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	c.expect("a-member", "PUT", acct+"/c/old", "before", 201)
	c.expect("a-member", "PUT", acct+"/c/moved", "elsewhere", 201)
	rows := c.versions(acct + "/c?versions")
	if len(rows) != 2 || rows[0].VersionID != "null" || !rows[0].IsLatest {
		t.Fatalf("unversioned container's versions %+v", rows)
	}
	if r := c.expect("a-member", "GET", acct+"/c/old?version-id=null", "", 200); r.body != "before" ||
		r.header.Get("X-Object-Version-Id") != "null" {
		t.Fatalf("null version %q %v", r.body, r.header)
	}
	c.expect("a-member", "POST", acct+"/c", "", 204, "X-Versions-Enabled", "yes")
	c.expect("a-member", "PUT", acct+"/c/old", "after", 201)
	rows = c.versions(acct + "/c?versions&prefix=old")
	if len(rows) != 2 || !rows[0].IsLatest || rows[1].IsLatest || rows[1].Bytes != 6 {
		t.Fatalf("versions after the first versioned write %+v", rows)
	}
	c.expect("a-member", "GET", acct+"/c/old?version-id=null", "", 404)
	if r := c.expect("a-member", "GET", acct+"/c/old?version-id="+rows[1].VersionID, "", 200); r.body != "before" {
		t.Fatalf("the archived unversioned object %q", r.body)
	}

	c.expect("a-member", "POST", acct+"/c/old", "", 202, "X-Object-Meta-Color", "blue")
	if r := c.expect("a-member", "HEAD", acct+"/c/old?version-id="+rows[0].VersionID, "", 200); r.header.Get("X-Object-Meta-Color") != "blue" {
		t.Fatalf("POST to a link: %v", r.header)
	}
	if r := c.expect("a-member", "GET", acct+"/c/old", "", 200); r.header.Get("X-Object-Meta-Color") != "blue" || r.body != "after" {
		t.Fatalf("GET after POST: %q %v", r.body, r.header)
	}

	c.expect("a-member", "PUT", acct+"/c/copy", "", 201, "X-Copy-From", "c/old")
	if r := c.expect("a-member", "GET", acct+"/c/copy", "", 200); r.body != "after" || r.header.Get("X-Object-Version-Id") == "" {
		t.Fatalf("copy into a versioned container %q %v", r.body, r.header)
	}
	// versions of one name, paged with marker and version_marker
	c.expect("a-member", "PUT", acct+"/c/old", "third", 201)
	all := c.versions(acct + "/c?versions&prefix=old")
	if len(all) != 3 {
		t.Fatalf("three versions %+v", all)
	}
	page := c.versions(acct + "/c?versions&prefix=old&marker=old&version_marker=" + all[0].VersionID)
	if len(page) != 2 || page[0].VersionID != all[1].VersionID {
		t.Fatalf("page after the newest %+v", page)
	}
	if page := c.versions(acct + "/c?versions&prefix=old&limit=1"); len(page) != 1 || page[0].VersionID != all[0].VersionID {
		t.Fatalf("limit 1 %+v", page)
	}
	if page := c.versions(acct + "/c?versions&delimiter=/&prefix=o"); len(page) != 3 {
		t.Fatalf("delimited %+v", page)
	}
	// others than the owner: a reader granted by ACL
	c.expect("a-member", "POST", acct+"/c", "", 204, "X-Container-Read", "b:*")
	c.expect("b-member", "GET", acct+"/c?versions", "", 200)
	if r := c.expect("b-member", "GET", acct+"/c/old", "", 200); r.body != "third" {
		t.Fatalf("ACL reader: %q", r.body)
	}
	// but a version itself is its owner's only, as upstream's
	c.expect("b-member", "GET", acct+"/c/old?version-id="+all[0].VersionID, "", 403)
	c.expect("b-member", "DELETE", acct+"/c/old?version-id="+all[0].VersionID, "", 403)
	c.expect("b-member", "GET", acct+"/c/old?version-id=null", "", 404)
}
