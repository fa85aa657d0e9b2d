package storage

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// replicateHashes asks n's object server for a partition's suffix hashes.
func replicateHashes(t *testing.T, n *node, path string) map[string]string {
	t.Helper()
	req, _ := http.NewRequest("REPLICATE", n.object.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("REPLICATE %s: %d %s", path, resp.StatusCode, body)
	}
	hashes := map[string]string{}
	if err := json.Unmarshal(body, &hashes); err != nil {
		t.Fatal(err)
	}
	return hashes
}

func TestSuffixHashes(t *testing.T) {
	n := newNode(t)
	obj := n.object.URL + "/d1/3/AUTH_a/c/o"
	call{method: "PUT", url: obj, body: "x", headers: map[string]string{"X-Timestamp": "1000", "Content-Type": "a/b"}, status: 201}.run(t)
	first := replicateHashes(t, n, "/d1/3")
	if len(first) != 1 {
		t.Fatalf("hashes %v, want one suffix", first)
	}
	partDir := filepath.Join(n.s.opts.Devices, "d1", "objects", "3")
	if _, err := os.Stat(filepath.Join(partDir, hashesFile)); err != nil {
		t.Fatal("no hashes cache after REPLICATE")
	}
	// the cache answers as long as nothing is written
	if again := replicateHashes(t, n, "/d1/3"); again[suffixOf(first)] != first[suffixOf(first)] {
		t.Fatalf("hashes changed without a write: %v, %v", first, again)
	}
	// a write invalidates its suffix; the next REPLICATE recomputes it
	call{method: "POST", url: obj, headers: map[string]string{"X-Timestamp": "1001"}, status: 202}.run(t)
	if inv, err := os.ReadFile(filepath.Join(partDir, hashesInvalidFile)); err != nil || string(inv) != suffixOf(first)+"\n" {
		t.Fatalf("hashes.invalid %q %v", inv, err)
	}
	second := replicateHashes(t, n, "/d1/3")
	if second[suffixOf(first)] == first[suffixOf(first)] {
		t.Fatal("a POST did not change its suffix's hash")
	}
	// a change behind the cache's back shows when the suffix is named
	hashDirs, _ := filepath.Glob(filepath.Join(partDir, "*", "*"))
	if err := os.WriteFile(filepath.Join(hashDirs[0], "0000002000.00000.ts"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if cached := replicateHashes(t, n, "/d1/3"); cached[suffixOf(first)] != second[suffixOf(first)] {
		t.Fatal("the cache was not used")
	}
	if named := replicateHashes(t, n, "/d1/3/"+suffixOf(first)+"-fff"); named[suffixOf(first)] == second[suffixOf(first)] {
		t.Fatal("a named suffix was not recomputed")
	}
	// a removed cache is rebuilt from the disk; an empty partition has no hashes
	if got := replicateHashes(t, n, "/d1/9"); len(got) != 0 {
		t.Fatalf("empty partition: %v", got)
	}
	for _, bad := range []struct {
		path   string
		status int
	}{{"/d1/x", 400}, {"/d1/-1", 400}, {"/nodev/3", 507}, {"/d1", 400}, {"/d1/3/a/b", 400}, {"/../3", 400}} {
		req, _ := http.NewRequest("REPLICATE", n.object.URL+bad.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != bad.status {
			t.Errorf("REPLICATE %s: %d, want %d", bad.path, resp.StatusCode, bad.status)
		}
	}
}

func suffixOf(hashes map[string]string) string {
	for s := range hashes {
		return s
	}
	return ""
}

// flipBytes inverts a file's first byte.
func flipBytes(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[0] ^= 0xff
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// flipByte corrupts one byte of every .data under dir.
func flipByte(t *testing.T, dir string, at int64) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "objects", "*", "*", "*", "*.data"))
	if len(files) == 0 {
		t.Fatal("no .data to corrupt")
	}
	for _, f := range files {
		fd, err := os.OpenFile(f, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		b := []byte{0}
		if _, err := fd.ReadAt(b, at); err != nil {
			t.Fatal(err)
		}
		b[0] ^= 0xff
		if _, err := fd.WriteAt(b, at); err != nil {
			t.Fatal(err)
		}
		fd.Close()
	}
}

func quarantined(t *testing.T, dev string) int {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(dev, "quarantined", "objects", "*"))
	return len(dirs)
}

// TestCorruptObjectGet: a corrupt small object is never served (404, so the
// proxy reads another replica); a corrupt large one is cut short before its
// last bytes; both are quarantined and their suffix invalidated.
func TestCorruptObjectGet(t *testing.T) {
	n := newNode(t)
	dev := filepath.Join(n.s.opts.Devices, "d1")
	small := n.object.URL + "/d1/3/AUTH_a/c/small"
	call{method: "PUT", url: small, body: "hello world", headers: map[string]string{"X-Timestamp": "1000", "Content-Type": "a/b"}, status: 201}.run(t)
	replicateHashes(t, n, "/d1/3")
	flipByte(t, dev, 4)
	// a Range is served unchecked, as upstream
	call{method: "GET", url: small, headers: map[string]string{"Range": "bytes=0-1"}, status: 206, wantBody: "he"}.run(t)
	call{method: "GET", url: small, status: 404}.run(t)
	if quarantined(t, dev) != 1 {
		t.Fatal("the corrupt object was not quarantined")
	}
	if got := replicateHashes(t, n, "/d1/3"); len(got) != 0 {
		t.Fatalf("hashes after quarantine %v, want none", got)
	}
	call{method: "GET", url: small, status: 404}.run(t)

	large := n.object.URL + "/d1/4/AUTH_a/c/large"
	body := strings.Repeat("0123456789abcdef", (verifyBeforeSendLimit+1<<20)/16)
	call{method: "PUT", url: large, body: body, headers: map[string]string{"X-Timestamp": "1000", "Content-Type": "a/b"}, status: 201}.run(t)
	if got := (call{method: "GET", url: large, status: 200}).run(t); got.ContentLength != int64(len(body)) {
		t.Fatal("the intact large object was not served")
	}
	flipByte(t, dev, 100)
	resp, err := http.Get(large)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil || len(got) >= len(body) {
		t.Fatalf("a corrupt large object was served whole (%d bytes, %v)", len(got), err)
	}
	if quarantined(t, dev) != 2 {
		t.Fatal("the corrupt large object was not quarantined")
	}
}

func TestAuditor(t *testing.T) {
	n := newNode(t)
	dev := filepath.Join(n.s.opts.Devices, "d1")
	for i, name := range []string{"a", "b", "c"} {
		call{method: "PUT", url: n.object.URL + "/d1/" + strconv.Itoa(i) + "/AUTH_a/c/" + name, body: "content " + name,
			headers: map[string]string{"X-Timestamp": "1000", "Content-Type": "a/b"}, status: 201}.run(t)
	}
	if st := n.s.AuditObjects(context.Background(), 0); st.Checked != 3 || st.Quarantined != 0 {
		t.Fatalf("clean pass: %+v", st)
	}
	files, _ := filepath.Glob(filepath.Join(dev, "objects", "1", "*", "*", "*.data"))
	if err := os.WriteFile(files[0], []byte("content X"), 0o644); err != nil { // same length, other bytes
		t.Fatal(err)
	}
	files, _ = filepath.Glob(filepath.Join(dev, "objects", "2", "*", "*", "*.data"))
	if err := os.Truncate(files[0], 3); err != nil {
		t.Fatal(err)
	}
	if st := n.s.AuditObjects(context.Background(), 0); st.Checked != 3 || st.Quarantined != 2 {
		t.Fatalf("pass over two corrupt objects: %+v", st)
	}
	if quarantined(t, dev) != 2 {
		t.Fatal("not in quarantined/objects")
	}
	call{method: "GET", url: n.object.URL + "/d1/0/AUTH_a/c/a", status: 200, wantBody: "content a"}.run(t)
	call{method: "GET", url: n.object.URL + "/d1/1/AUTH_a/c/b", status: 404}.run(t)
}
