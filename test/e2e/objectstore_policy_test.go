package e2e

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// TestObjectStorePolicyCLI: with the swift CLI, a container made with
// X-Storage-Policy: reduced-redundancy shows it in swift stat, and an object
// uploaded into it keeps exactly two copies on disk, in the policy's own
// directories; asking for another policy on it is 409, as upstream.
func TestObjectStorePolicyCLI(t *testing.T) {
	t.Parallel()
	c := shared
	dir := t.TempDir()
	container := uniqueName("reduced")
	swift(t, c, dir, "post", "-H", "X-Storage-Policy: reduced-redundancy", container)
	t.Cleanup(func() { _, _ = runSwift(c, dir, "delete", container) })
	if out := swift(t, c, dir, "stat", container); !strings.Contains(out, "reduced-redundancy") {
		t.Fatalf("swift stat does not show the policy:\n%s", out)
	}
	in := filepath.Join(dir, "two.txt")
	if err := os.WriteFile(in, []byte("two copies"), 0o600); err != nil {
		t.Fatal(err)
	}
	swift(t, c, dir, "upload", "--object-name", "two", container, in)
	if out := swift(t, c, dir, "download", container, "two", "-o", "-"); out != "two copies" {
		t.Fatalf("download: %q", out)
	}

	u := storageURL(t, c, dir)
	account := u.Path[strings.LastIndex(u.Path, "/")+1:]
	suffix, err := os.ReadFile(filepath.Join(c.Dir, "objectstore", "hash_path_suffix"))
	if err != nil {
		t.Fatal(err)
	}
	count := func(p ring.Policy) int {
		rg, err := ring.Load(filepath.Join(c.Dir, "objectstore", "rings", p.RingName()+".ring.gz"), "", strings.TrimSpace(string(suffix)))
		if err != nil {
			t.Fatal(err)
		}
		sum := rg.Hash(account, container, "two")
		hash := hex.EncodeToString(sum[:])
		files, _ := filepath.Glob(filepath.Join(c.Dir, "objectstore", "devices", "*", p.DataDir(),
			fmt.Sprint(rg.Partition(account, container, "two")), hash[29:], hash, "*.data"))
		return len(files)
	}
	rr, _ := ring.PolicyByName("reduced-redundancy")
	p0, _ := ring.PolicyByName("Policy-0")
	if n := count(rr); n != 2 {
		t.Fatalf("%d copies in %s, want 2", n, rr.DataDir())
	}
	if n := count(p0); n != 0 {
		t.Fatalf("%d copies in %s, want none", n, p0.DataDir())
	}

	token := ""
	for _, line := range strings.Split(swift(t, c, dir, "auth"), "\n") {
		if v, ok := strings.CutPrefix(line, "export OS_AUTH_TOKEN="); ok {
			token = strings.Trim(v, `'"`)
		}
	}
	req, _ := http.NewRequestWithContext(context.Background(), "PUT", u.String()+"/"+container, nil)
	req.Header.Set("X-Auth-Token", token)
	req.Header.Set("X-Storage-Policy", "Policy-0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Fatalf("PUT with another policy: %d, want 409", resp.StatusCode)
	}
}
