package storage

import (
	"os"
	"path/filepath"
	"testing"
)

// TestObjectTempCommit: an object file written through objectTemp, anonymous
// (O_TMPFILE) or named, lands under its final name in a hash directory made
// for it, with its bytes and metadata, and leaves nothing in the tmp dir.
func TestObjectTempCommit(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(tmpDir string) (*objectTemp, error)
	}{
		{"as the filesystem allows", func(tmpDir string) (*objectTemp, error) { return createObjectTemp(tmpDir, "put-") }},
		{"named", func(tmpDir string) (*objectTemp, error) {
			if err := os.MkdirAll(tmpDir, 0o755); err != nil {
				return nil, err
			}
			f, err := os.CreateTemp(tmpDir, "put-")
			if err != nil {
				return nil, err
			}
			return &objectTemp{File: f, named: f.Name()}, nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := t.TempDir()
			tmpDir := filepath.Join(dev, "tmp")
			hashDir := filepath.Join(dev, "objects", "7", "abc", "0123456789abcdef0123456789abcabc")
			for _, ts := range []string{"1.00000", "1.00000", "2.00000"} { // the same name twice: replaced
				tmp, err := tc.open(tmpDir)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("anonymous (O_TMPFILE): %v", tmp.named == "")
				if _, err := tmp.Write([]byte("bytes of " + ts)); err != nil {
					t.Fatal(err)
				}
				if err := tmp.setMetadata(map[string]string{"X-Timestamp": ts}); err != nil {
					t.Fatal(err)
				}
				if err := tmp.Sync(); err != nil {
					t.Fatal(err)
				}
				if err := tmp.commit(hashDir, ts+".data"); err != nil {
					t.Fatalf("commit %s: %v", ts, err)
				}
				tmp.discard()
				final := filepath.Join(hashDir, ts+".data")
				if data, err := os.ReadFile(final); err != nil || string(data) != "bytes of "+ts {
					t.Fatalf("%s: %q %v", final, data, err)
				}
				if md, err := readMetadata(final); err != nil || md["X-Timestamp"] != ts {
					t.Fatalf("metadata of %s: %v %v", final, md, err)
				}
			}
			if left, _ := os.ReadDir(tmpDir); len(left) != 0 {
				t.Fatalf("left in tmp: %v", left)
			}
		})
	}
}

// TestMkdirCount counts the directories it made: each needs its parent synced.
func TestMkdirCount(t *testing.T) {
	root := t.TempDir()
	for _, tc := range []struct {
		dir  string
		want int
	}{{"a/b/c", 3}, {"a/b/c", 0}, {"a/b/d", 1}, {"a", 0}} {
		if n, err := mkdirCount(filepath.Join(root, tc.dir)); err != nil || n != tc.want {
			t.Fatalf("mkdirCount(%s) = %d, %v; want %d", tc.dir, n, err, tc.want)
		}
	}
}
