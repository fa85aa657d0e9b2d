package storage

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// twoNodeRing is a ring of two replicas, d1 on a and d1 on b.
func twoNodeRing(t *testing.T, a, b *node) *ring.Ring {
	t.Helper()
	bld, err := ring.NewBuilder(4, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []*node{a, b} {
		port := n.object.Listener.Addr().(*net.TCPAddr).Port
		if _, err := bld.AddDevice(ring.Device{Region: 1, Zone: i + 1, IP: "127.0.0.1", Port: port, Name: "d1", Weight: 100}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bld.Rebalance(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "object.ring.gz")
	if err := bld.WriteRing(path); err != nil {
		t.Fatal(err)
	}
	rg, err := ring.Load(path, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	return rg
}

// TestReplicateObjects: one pass from a brings b up to date, whatever b held,
// and never makes b older.
func TestReplicateObjects(t *testing.T) {
	a, b := newNode(t), newNode(t)
	// the tombstones here are of 1970: older than any reclaim_age but this
	a.s.opts.ReclaimAge, b.s.opts.ReclaimAge = 100*365*24*time.Hour, 100*365*24*time.Hour
	rg := twoNodeRing(t, a, b)
	url := func(n *node, name string) string {
		return fmt.Sprintf("%s/d1/%d/AUTH_a/c/%s", n.object.URL, rg.Partition("AUTH_a", "c", name), name)
	}
	put := func(n *node, name, ts, body string, meta ...string) {
		h := map[string]string{"X-Timestamp": ts, "Content-Type": "text/plain"}
		for i := 0; i+1 < len(meta); i += 2 {
			h[meta[i]] = meta[i+1]
		}
		call{method: "PUT", url: url(n, name), body: body, headers: h, status: 201}.run(t)
	}
	post := func(n *node, name, ts string) {
		call{method: "POST", url: url(n, name), headers: map[string]string{"X-Timestamp": ts, "X-Object-Meta-Posted": ts}, status: 202}.run(t)
	}
	del := func(n *node, name, ts string) {
		req, _ := http.NewRequest("DELETE", url(n, name), nil)
		req.Header.Set("X-Timestamp", ts)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	cases := []struct {
		name   string
		setup  func(name string)
		status int    // b's GET after the pass
		body   string // and its body
		ts     string // X-Timestamp, or X-Backend-Timestamp of a 404
		meta   string // X-Object-Meta-Posted
	}{
		{"missing on b", func(o string) { put(a, o, "1000", "from a", "X-Object-Meta-Color", "red") }, 200, "from a", "0000001000.00000", ""},
		{"older on b", func(o string) { put(b, o, "1000", "old"); put(a, o, "2000", "new") }, 200, "new", "0000002000.00000", ""},
		{"newer on b", func(o string) { put(a, o, "1000", "old"); put(b, o, "2000", "newer") }, 200, "newer", "0000002000.00000", ""},
		{"deleted on a", func(o string) { put(b, o, "1000", "gone"); put(a, o, "1000", "gone"); del(a, o, "2000") }, 404, "", "0000002000.00000", ""},
		{"deleted on b later", func(o string) { put(a, o, "1000", "x"); del(b, o, "3000") }, 404, "", "0000003000.00000", ""},
		{"metadata only", func(o string) { put(a, o, "1000", "same"); put(b, o, "1000", "same"); post(a, o, "1500") }, 200, "same", "0000001500.00000", "1500"},
		{"data and metadata", func(o string) { put(a, o, "1000", "both"); post(a, o, "1600") }, 200, "both", "0000001600.00000", "1600"},
		{"meta after b's tombstone", func(o string) { put(a, o, "1000", "x"); post(a, o, "3000"); del(b, o, "2000") }, 404, "", "0000002000.00000", ""},
	}
	for i, tc := range cases {
		tc.setup(fmt.Sprintf("o%d", i))
	}
	aPort := a.object.Listener.Addr().(*net.TCPAddr).Port
	st := a.s.ReplicateObjects(context.Background(), rg, ListensAt("127.0.0.1", aPort))
	if st.Failures != 0 {
		t.Fatalf("pass: %+v", st)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := map[string]string{}
			if tc.status == 200 {
				want["X-Timestamp"] = tc.ts
				want["X-Object-Meta-Posted"] = tc.meta
			} else {
				want["X-Backend-Timestamp"] = tc.ts
			}
			call{method: "GET", url: url(b, fmt.Sprintf("o%d", i)), status: tc.status, wantBody: tc.body, want: want}.run(t)
		})
	}
	// in sync now: a second pass sends nothing
	if st := a.s.ReplicateObjects(context.Background(), rg, ListensAt("127.0.0.1", aPort)); st.Sent != 0 || st.Failures != 0 {
		t.Fatalf("second pass: %+v", st)
	}
	// a corrupt replica is refused by the receiver's ETag check, not spread
	put(a, "bad", "5000", "good bytes")
	files, _ := filepath.Glob(filepath.Join(a.s.opts.Devices, "d1", "objects", "*", "*", "*", "0000005000.00000.data"))
	flipBytes(t, files[0])
	if st := a.s.ReplicateObjects(context.Background(), rg, ListensAt("127.0.0.1", aPort)); st.Failures != 1 {
		t.Fatalf("pass with a corrupt replica: %+v", st)
	}
	call{method: "GET", url: url(b, "bad"), status: 404}.run(t)
}
