package storage

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
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
