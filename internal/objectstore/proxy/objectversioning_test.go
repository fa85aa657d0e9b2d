package proxy

import (
	"net/url"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// TestVersionNames: the reserved-namespace names of upstream's
// object_versioning (get_reserved_name, ~Timestamp) and their parsing.
func TestVersionNames(t *testing.T) {
	if got := versionsContainerName("c"); got != "\x00versions\x00c" {
		t.Fatalf("versions container %q", got)
	}
	ts, _ := swob.ParseTimestamp("1596066300.12345")
	name := versionObjectName("a/b", ts)
	// ~Timestamp: 9999999999.99999 - t
	if name != "\x00a/b\x008403933699.87654" {
		t.Fatalf("version object name %q", name)
	}
	if obj, id := parseVersionObjectName(name); obj != "a/b" || id != "1596066300.12345" {
		t.Fatalf("parsed %q %q", obj, id)
	}
	newer, _ := swob.ParseTimestamp("1596066300.12346")
	if versionObjectName("a/b", newer) >= name {
		t.Fatal("a newer version does not list first")
	}
	for _, bad := range []string{"plain", "\x00only", "\x00o\x00x", "\x00o\x00-1", "\x00a\x00b\x00c"} {
		if obj, id := parseVersionObjectName(bad); id != "" || obj != bad {
			t.Errorf("%q parsed as %q %q", bad, obj, id)
		}
	}
}

// TestVersionParams: validate_version and _list_versions' parameters, with
// upstream's refusals.
func TestVersionParams(t *testing.T) {
	for _, tc := range []struct {
		v             string
		allowNull     bool
		isNull, valid bool
	}{
		{"null", true, true, true},
		{"null", false, false, false},
		{"1596066300.12345", false, false, true},
		{"1596066300", true, false, true},
		{"", true, false, false},
		{"-1", true, false, false},
		{"1e5", true, false, false},
		{"99999999999", true, false, false},
		{"abc", true, false, false},
	} {
		_, isNull, ok := parseVersionID(tc.v, tc.allowNull)
		if isNull != tc.isNull || ok != tc.valid {
			t.Errorf("parseVersionID(%q, %v) = %v %v", tc.v, tc.allowNull, isNull, ok)
		}
	}
	for _, tc := range []struct {
		query, marker, msg string
	}{
		{"", "", ""},
		{"version_marker=1", "", "version_marker param requires marker"},
		{"marker=o", "\x00o\x00:", ""},
		{"marker=o&version_marker=null", "\x00o\x00", ""},
		{"marker=o&version_marker=1596066300.12345", "\x00o\x008403933699.87654", ""},
		{"marker=o&version_marker=x", "", "invalid version_marker param"},
	} {
		q, _ := url.ParseQuery(tc.query)
		marker, msg := versionMarkerParams(q)
		if marker != tc.marker || msg != tc.msg {
			t.Errorf("%q: %q %q, want %q %q", tc.query, marker, msg, tc.marker, tc.msg)
		}
	}
}

// FuzzVersionParams: any version-id or versions listing query is a
// version, null or a refusal, never a panic; a version's name parses back.
func FuzzVersionParams(f *testing.F) {
	for _, s := range []string{"null", "1596066300.12345", "1596066300.12345_0000000000000001", "", "x", "9999999999.99999",
		"marker=o&version_marker=null", "versions&marker=%00&version_marker=1"} {
		f.Add(s, "obj")
	}
	f.Fuzz(func(t *testing.T, v, obj string) {
		if q, err := url.ParseQuery(v); err == nil {
			versionMarkerParams(q)
		}
		parseVersionObjectName(v)
		ts, isNull, ok := parseVersionID(v, true)
		if !ok || isNull || strings.ContainsRune(obj, 0) {
			return
		}
		name := versionObjectName(obj, ts)
		if o, id := parseVersionObjectName(name); o != obj || id != ts.Normal() {
			t.Fatalf("%q %q: %q parsed as %q %q", v, obj, name, o, id)
		}
	})
}
