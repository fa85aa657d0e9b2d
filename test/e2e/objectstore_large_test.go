package e2e

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestObjectStoreLargeObjectsCLI drives large objects, symlinks and
// versioning with the real swift and openstack CLIs: a ~5 MiB file uploaded
// in 1 MiB segments as a dynamic and as a static large object, downloaded
// byte for byte, its manifest headers shown, read by a range across a
// segment boundary with plain HTTP, deleted with its segments; a symlink
// downloaded; a versioned container restoring the previous version on
// delete (stack mode) and keeping a delete marker (history mode).
func TestObjectStoreLargeObjectsCLI(t *testing.T) {
	t.Parallel()
	c := shared
	dir := t.TempDir()
	data := make([]byte, 5<<20+123)
	_, _ = rand.Read(data)
	sum := md5.Sum(data)
	etag := hex.EncodeToString(sum[:])
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	ct := uniqueName("large")
	archive := ct + "-archive"
	history := ct + "-history"
	swift(t, c, dir, "post", ct)
	t.Cleanup(func() {
		for _, name := range []string{ct, history} {
			_, _ = runSwift(c, dir, "post", name, "-H", "X-Remove-Versions-Location: x")
		}
		for _, name := range []string{ct, ct + "_segments", archive, history} {
			_, _ = runSwift(c, dir, "delete", name)
		}
	})

	// a dynamic large object
	swift(t, c, dir, "upload", "--segment-size", "1048576", ct, "big.bin")
	if segs := swift(t, c, dir, "list", ct+"_segments", "--prefix", "big.bin/"); strings.Count(segs, "\n") != 6 {
		t.Fatalf("segments of a 5 MiB upload in 1 MiB segments:\n%s", segs)
	}
	if stat := swift(t, c, dir, "stat", ct, "big.bin"); !strings.Contains(stat, "Manifest: "+ct+"_segments/big.bin/") ||
		!strings.Contains(stat, fmt.Sprintf("Content Length: %d", len(data))) {
		t.Fatalf("swift stat of the DLO:\n%s", stat)
	}
	downloadEquals(t, c, dir, ct, "big.bin", data)

	// a static large object
	swift(t, c, dir, "upload", "--use-slo", "--segment-size", "1048576", "--object-name", "slo.bin", ct, "big.bin")
	stat := swift(t, c, dir, "stat", ct, "slo.bin")
	if !strings.Contains(stat, "Static-Large-Object: True") || !strings.Contains(stat, fmt.Sprintf("Content Length: %d", len(data))) {
		t.Fatalf("swift stat of the SLO:\n%s", stat)
	}
	downloadEquals(t, c, dir, ct, "slo.bin", data)
	// the listing records the large object's size
	long := swift(t, c, dir, "list", "--long", ct)
	found := false
	for _, line := range strings.Split(long, "\n") {
		found = found || (strings.HasSuffix(line, " slo.bin") && strings.Contains(line, fmt.Sprint(len(data))))
	}
	if !found {
		t.Fatalf("swift list --long: no slo.bin row with the SLO's size:\n%s", long)
	}
	if caps := swift(t, c, dir, "capabilities"); !strings.Contains(caps, "slo") || !strings.Contains(caps, "symlink") ||
		!strings.Contains(caps, "versioned_writes") {
		t.Fatalf("swift capabilities:\n%s", caps)
	}
	var shown row
	OSJSON(t, c, "nimbus-demo", &shown, "object", "show", ct, "slo.bin")
	wantField(t, "object show", shown, "content-length", fmt.Sprint(len(data)))
	if str(shown, "etag") == "" || str(shown, "etag") == etag {
		t.Fatalf("object show of the SLO: the etag is the segments' (not the data's MD5): %v", shown)
	}

	// plain HTTP: one range across the first segment boundary, and two
	token, objectURL := "", storageURL(t, c, dir).String()+"/"+ct+"/slo.bin"
	for _, line := range strings.Split(swift(t, c, dir, "auth"), "\n") {
		if v, ok := strings.CutPrefix(line, "export OS_AUTH_TOKEN="); ok {
			token = strings.Trim(v, `'"`)
		}
	}
	status, header, body := tokenGet(t, objectURL, token, "bytes=1048570-1048585")
	if status != http.StatusPartialContent || !bytes.Equal(body, data[1048570:1048586]) ||
		header.Get("Content-Range") != fmt.Sprintf("bytes 1048570-1048585/%d", len(data)) {
		t.Fatalf("ranged GET over a segment boundary: %d %v (%d bytes)", status, header, len(body))
	}
	status, header, body = tokenGet(t, objectURL, token, "bytes=0-3,3145726-3145729")
	if status != http.StatusPartialContent || !strings.HasPrefix(header.Get("Content-Type"), "multipart/byteranges") ||
		!bytes.Contains(body, data[3145726:3145730]) || !bytes.Contains(body, []byte(fmt.Sprintf("Content-Range: bytes 0-3/%d", len(data)))) {
		t.Fatalf("multi-range GET: %d %v", status, header)
	}

	// swift delete removes the segments too
	swift(t, c, dir, "delete", ct, "slo.bin")
	swift(t, c, dir, "delete", ct, "big.bin")
	if segs := swift(t, c, dir, "list", ct+"_segments"); segs != "" {
		t.Fatalf("segments left after swift delete:\n%s", segs)
	}

	// a symlink, downloaded as its target
	writeFile(t, dir, "small.txt", "the target\n")
	writeFile(t, dir, "link.txt", "")
	swift(t, c, dir, "upload", ct, "small.txt")
	swift(t, c, dir, "upload", ct, "link.txt", "-H", "X-Symlink-Target: "+ct+"/small.txt")
	if got := swift(t, c, dir, "download", ct, "link.txt", "-o", "-"); got != "the target\n" {
		t.Fatalf("swift download of a symlink: %q", got)
	}

	// versioning, stack mode: DELETE restores the previous version
	swift(t, c, dir, "post", archive)
	swift(t, c, dir, "post", ct, "-H", "X-Versions-Location: "+archive)
	if stat := swift(t, c, dir, "stat", ct); !strings.Contains(stat, "Versions-Location: "+archive) {
		t.Fatalf("swift stat of a versioned container:\n%s", stat)
	}
	for _, v := range []string{"one\n", "two\n"} {
		writeFile(t, dir, "v.txt", v)
		swift(t, c, dir, "upload", ct, "v.txt")
	}
	if got := swift(t, c, dir, "download", ct, "v.txt", "-o", "-"); got != "two\n" {
		t.Fatalf("the current version: %q", got)
	}
	if got := swift(t, c, dir, "list", archive); !strings.HasPrefix(got, "005v.txt/") || strings.Count(got, "\n") != 1 {
		t.Fatalf("the archive:\n%s", got)
	}
	swift(t, c, dir, "delete", ct, "v.txt")
	if got := swift(t, c, dir, "download", ct, "v.txt", "-o", "-"); got != "one\n" {
		t.Fatalf("after swift delete, the previous version: %q", got)
	}

	// history mode: DELETE archives the object and leaves a marker
	swift(t, c, dir, "post", history, "-H", "X-History-Location: "+archive)
	for _, v := range []string{"h1\n", "h2\n"} {
		writeFile(t, dir, "h.txt", v)
		swift(t, c, dir, "upload", history, "h.txt")
	}
	swift(t, c, dir, "delete", history, "h.txt")
	if out, err := runSwift(c, dir, "download", history, "h.txt", "-o", "-"); err == nil {
		t.Fatalf("a deleted object in history mode still downloads: %q", out)
	}
	if got := swift(t, c, dir, "list", archive, "--prefix", "005h.txt/"); strings.Count(got, "\n") != 3 {
		t.Fatalf("history archive (two versions and a delete marker):\n%s", got)
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// downloadEquals downloads an object with swift and compares its bytes.
func downloadEquals(t *testing.T, c *Cloud, dir, container, object string, want []byte) {
	t.Helper()
	out := filepath.Join(dir, "download.out")
	swift(t, c, dir, "download", container, object, "-o", out)
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("swift download %s/%s: %d bytes (err %v), want %d", container, object, len(got), err, len(want))
	}
	_ = os.Remove(out)
}

// tokenGet is a GET with a token and a Range header.
func tokenGet(t *testing.T, url, token, rangeHeader string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("Range", rangeHeader)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, body
}
