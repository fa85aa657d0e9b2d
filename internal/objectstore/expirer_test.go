package objectstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// TestObjectStoreExpirer: objects with X-Delete-After and X-Delete-At are
// queued in .expiring_objects; until the expirer runs they stay listed and
// on disk; a pass (as at a time they are due) deletes the due ones
// (tombstones dated at their expiry, the listing updated) and drops their
// tasks; an object whose X-Delete-At a POST removed stays, and its stale
// task goes too; one not due stays queued.
func TestObjectStoreExpirer(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	// the pass runs as at an hour from now: nothing waits for the clock
	deleteAt := time.Now().Unix() + 600
	c.expect("a-member", "PUT", acct+"/c/after", "x", 201, "X-Delete-After", "60")
	c.expect("a-member", "PUT", acct+"/c/at", "x", 201, "X-Delete-At", fmt.Sprint(deleteAt))
	c.expect("a-member", "PUT", acct+"/c/kept", "x", 201, "X-Delete-At", fmt.Sprint(deleteAt))
	c.expect("a-member", "POST", acct+"/c/kept", "", 202) // no X-Delete-At: it no longer expires
	c.expect("a-member", "PUT", acct+"/c/later", "x", 201, "X-Delete-After", "86400")
	c.expect("a-member", "PUT", acct+"/c/copy", "", 201, "X-Copy-From", "c/later", "X-Delete-At", fmt.Sprint(deleteAt))
	queued := func() int {
		n := 0
		r := c.expect("reseller", "GET", "/v1/.expiring_objects", "", 200)
		for _, tc := range strings.Fields(r.body) {
			r := c.do("reseller", "GET", "/v1/.expiring_objects/"+tc, "")
			n += len(strings.Fields(r.body))
		}
		return n
	}
	if n := queued(); n != 5 {
		t.Fatalf("%d tasks queued, want 5", n)
	}
	if r := c.expect("a-member", "GET", acct+"/c", "", 200); r.body != "after\nat\ncopy\nkept\nlater\n" {
		t.Fatalf("listing before the expirer: %q", r.body)
	}
	rg := c.objectRing()
	if got := c.replicas(rg, "c", "at"); len(got) != 3 {
		t.Fatalf("expired object on %d devices before the expirer, want 3", len(got))
	}
	inAnHour := time.Now().Add(time.Hour)
	st := c.a.Proxy.ExpireObjectsAt(context.Background(), inAnHour, nil)
	if st.Expired != 4 || st.Failed != 0 {
		t.Fatalf("expirer pass: %+v, want 4 tasks done (3 expired, 1 stale)", st)
	}
	if r := c.expect("a-member", "GET", acct+"/c", "", 200); r.body != "kept\nlater\n" {
		t.Fatalf("listing after the expirer: %q", r.body)
	}
	for _, name := range []string{"after", "at", "copy"} {
		if got := c.replicas(rg, "c", name); len(got) != 0 {
			t.Fatalf("%s still on disk on %v", name, got)
		}
		if got := c.files(rg, "c", name, ".ts"); len(got) != 3 {
			t.Fatalf("%s: %d tombstones, want 3", name, len(got))
		}
	}
	if tomb := c.tombstoneNames(rg, "c", "at"); len(tomb) > 0 {
		if want := fmt.Sprintf("%010d.00000.ts", deleteAt); tomb[0] != want {
			t.Fatalf("tombstone %s, want one dated at the expiry, %s", tomb[0], want)
		}
	}
	c.expect("a-member", "GET", acct+"/c/kept", "", 200)
	if n := queued(); n != 1 {
		t.Fatalf("%d tasks left, want 1 (later's)", n)
	}
	if st := c.a.Proxy.ExpireObjectsAt(context.Background(), inAnHour, nil); st.Expired != 0 || st.Failed != 0 {
		t.Fatalf("second pass: %+v, want nothing to do", st)
	}
}

// tombstoneNames lists the .ts file names of AUTH_a/container/object.
func (c *cluster) tombstoneNames(rg *ring.Ring, container, object string) []string {
	c.t.Helper()
	part := rg.Partition("AUTH_a", container, object)
	hash := rg.Hash("AUTH_a", container, object)
	hex := fmt.Sprintf("%x", hash[:])
	files, _ := filepath.Glob(filepath.Join(c.dir, "devices", "*", "objects", fmt.Sprint(part), hex[29:], hex, "*.ts"))
	var out []string
	for _, f := range files {
		out = append(out, filepath.Base(f))
	}
	return out
}
