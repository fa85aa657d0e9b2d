package proxy

import (
	"crypto/md5"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/storage"
)

// TestExpirerNames checks the queue's names against upstream's
// get_expirer_container (the day's start minus the hash_path's shard of
// 100, ten digits) and build_task_obj / parse_task_obj. hash_path is MD5 of
// "/a/c/o" with an empty prefix and suffix here; the wants were computed
// with upstream's formula in Python.
func TestExpirerNames(t *testing.T) {
	containers := []struct {
		path     string
		deleteAt int64
		want     string
	}{
		{"/AUTH_a/c/o", 1733584000, "1733529565"},
		{"/a/c/o", 86400*3 + 5, "0000259190"},
		{"/AUTH_x/photos/2024/cat.jpg", 1999999999, "1999987127"},
		{"/a/c/o", 50, "0000000000"}, // before the first day: clamped to 0, as normalize_delete_at_timestamp
	}
	for _, tc := range containers {
		if got := expirerContainer(md5.Sum([]byte(tc.path)), tc.deleteAt); got != tc.want {
			t.Errorf("expirer container of %s at %d: %s, want %s", tc.path, tc.deleteAt, got, tc.want)
		}
	}
	tasks := []struct {
		deleteAt int64
		a, c, o  string
		want     string
	}{
		{1733584000, "AUTH_a", "c", "o", "1733584000-AUTH_a/c/o"},
		{5, "AUTH_a", "c", "dir/sub/o", "0000000005-AUTH_a/c/dir/sub/o"},
		{12345678901, "a", "c", "o", "9999999999-a/c/o"},
	}
	for _, tc := range tasks {
		got := storage.TaskObject(tc.deleteAt, tc.a, tc.c, tc.o)
		if got != tc.want {
			t.Errorf("task of %d %s/%s/%s: %s, want %s", tc.deleteAt, tc.a, tc.c, tc.o, got, tc.want)
		}
		at, a, c, o, ok := parseTaskObject(got)
		if !ok || at != min(tc.deleteAt, 9999999999) || a != tc.a || c != tc.c || o != tc.o {
			t.Errorf("parse %s: %d %s %s %s %v", got, at, a, c, o, ok)
		}
	}
	for _, bad := range []string{"", "1733584000", "x-a/c/o", "1733584000-a/c", "1733584000-a//o", "1733584000-/c/o", "-a/c/o"} {
		if _, _, _, _, ok := parseTaskObject(bad); ok {
			t.Errorf("parse %q: ok", bad)
		}
	}
}

// FuzzParseTaskObject: a task name read from a container listing never
// panics and, when accepted, names an object.
func FuzzParseTaskObject(f *testing.F) {
	for _, s := range []string{"1733584000-AUTH_a/c/o", "0000000005-a/c/d/e", "x-a/c/o", "1e10-a/b/c", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		at, a, c, o, ok := parseTaskObject(name)
		if ok && (at < 0 || a == "" || c == "" || o == "") {
			t.Fatalf("%q: %d %q %q %q", name, at, a, c, o)
		}
	})
}
