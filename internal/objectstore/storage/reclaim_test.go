package storage

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// TestReclaimTombstone checks upstream's cleanup_ondisk_files rules: a .ts
// goes only when it is the newest state and older than reclaim_age; what it
// hides goes with it; a newer .data keeps everything that counts.
func TestReclaimTombstone(t *testing.T) {
	now := time.Unix(2_000_000_000, 0)
	age := time.Hour
	old := func(d time.Duration) string { return swob.FromTime(now.Add(-d)).Normal() }
	tests := []struct {
		name    string
		files   []string
		removed bool
		left    []string // files left, sorted
	}{
		{"old tombstone alone", []string{old(2*time.Hour) + ".ts"}, true, nil},
		{"young tombstone", []string{old(time.Minute) + ".ts"}, false, []string{old(time.Minute) + ".ts"}},
		{"just under reclaim_age", []string{old(age-time.Second) + ".ts"}, false, []string{old(age-time.Second) + ".ts"}},
		{"old tombstone hides older data", []string{old(3*time.Hour) + ".data", old(2*time.Hour) + ".ts"}, true, nil},
		{"old tombstone and a newer meta", []string{old(2*time.Hour) + ".ts", old(90*time.Minute) + ".meta"}, true, nil},
		{"data newer than an old tombstone", []string{old(3*time.Hour) + ".ts", old(2*time.Hour) + ".data"}, false,
			[]string{old(3*time.Hour) + ".ts", old(2*time.Hour) + ".data"}},
		{"only data", []string{old(3*time.Hour) + ".data"}, false, []string{old(3*time.Hour) + ".data"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "abc", "00000000000000000000000000000abc")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, name := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := reclaimTombstone(dir, age, now); got != tc.removed {
				t.Fatalf("reclaimed %v, want %v", got, tc.removed)
			}
			entries, err := os.ReadDir(dir)
			if len(tc.left) == 0 {
				if !os.IsNotExist(err) {
					t.Fatalf("hash dir still holds %v (%v)", entries, err)
				}
				return
			}
			var left []string
			for _, e := range entries {
				left = append(left, e.Name())
			}
			slices.Sort(left)
			want := slices.Clone(tc.left)
			slices.Sort(want)
			if !slices.Equal(left, want) {
				t.Fatalf("left %v, want %v", left, want)
			}
		})
	}
}

// TestReclaimThroughAuditorAndReplicate is the path an old tombstone takes on
// a node: the auditor invalidates its suffix, the next hash computation
// (a REPLICATE here) removes it; a young one stays.
func TestReclaimThroughAuditorAndReplicate(t *testing.T) {
	n := newNode(t)
	n.s.opts.ReclaimAge = time.Hour
	oldTS := swob.FromTime(time.Now().Add(-2 * time.Hour))
	youngTS := swob.FromTime(time.Now().Add(-time.Minute))
	for i, ts := range []swob.Timestamp{oldTS, youngTS} {
		obj := n.object.URL + "/d1/" + strconv.Itoa(i) + "/AUTH_a/c/o"
		call{method: "PUT", url: obj, body: "x", headers: map[string]string{"X-Timestamp": (ts - 1).Normal(), "Content-Type": "a/b"}, status: 201}.run(t)
		call{method: "DELETE", url: obj, headers: map[string]string{"X-Timestamp": ts.Normal()}, status: 204}.run(t)
		replicateHashes(t, n, "/d1/"+strconv.Itoa(i)) // the cache holds the tombstone's suffix now
	}
	tombs := func(part int) int {
		files, _ := filepath.Glob(filepath.Join(n.s.opts.Devices, "d1", "objects", strconv.Itoa(part), "*", "*", "*.ts"))
		return len(files)
	}
	n.s.AuditObjects(context.Background(), 0)
	if h := replicateHashes(t, n, "/d1/0"); len(h) != 0 || tombs(0) != 0 {
		t.Fatalf("old tombstone not reclaimed: hashes %v, %d .ts left", h, tombs(0))
	}
	if h := replicateHashes(t, n, "/d1/1"); len(h) != 1 || tombs(1) != 1 {
		t.Fatalf("young tombstone reclaimed: hashes %v, %d .ts left", h, tombs(1))
	}
}

// TestReclaimRows checks that deleted rows older than reclaim_age leave the
// container and account databases, and nothing else does.
func TestReclaimRows(t *testing.T) {
	n := newNode(t)
	n.s.opts.ReclaimAge = time.Hour
	oldTS := swob.FromTime(time.Now().Add(-2 * time.Hour))
	youngTS := swob.FromTime(time.Now().Add(-time.Minute))
	acct := n.account.URL + "/d1/0/AUTH_a"
	cont := n.container.URL + "/d1/0/AUTH_a/c"
	call{method: "PUT", url: acct, headers: map[string]string{"X-Timestamp": "1000"}, status: 201}.run(t)
	call{method: "PUT", url: cont, headers: map[string]string{"X-Timestamp": "1000"}, status: 201}.run(t)
	put := map[string]string{"X-Size": "1", "X-Content-Type": "a/b", "X-Etag": "x"}
	for _, name := range []string{"old", "young", "live"} {
		h := map[string]string{"X-Timestamp": "1001"}
		for k, v := range put {
			h[k] = v
		}
		call{method: "PUT", url: cont + "/" + name, headers: h, status: 201}.run(t)
	}
	call{method: "DELETE", url: cont + "/old", headers: map[string]string{"X-Timestamp": oldTS.Normal()}, status: 204}.run(t)
	call{method: "DELETE", url: cont + "/young", headers: map[string]string{"X-Timestamp": youngTS.Normal()}, status: 204}.run(t)
	for _, c := range []struct {
		name string
		ts   swob.Timestamp
	}{{"gone-old", oldTS}, {"gone-young", youngTS}} {
		call{method: "PUT", url: acct + "/" + c.name, headers: map[string]string{"X-Put-Timestamp": "1000", "X-Delete-Timestamp": c.ts.Normal(),
			"X-Object-Count": "0", "X-Bytes-Used": "0", "X-Timestamp": c.ts.Normal()}, status: 201}.run(t)
	}
	dbPath := func(kind string, more ...string) string {
		dir, hash := n.s.hashDir(filepath.Join(n.s.opts.Devices, "d1"), kind, 0, "AUTH_a", more...)
		return filepath.Join(dir, hash+".db")
	}
	for _, tc := range []struct {
		kind, table string
		path        string
		want        []string
	}{
		{"container", "object", dbPath("containers", "c"), []string{"live", "young"}},
		{"account", "container", dbPath("accounts"), []string{"gone-young"}},
	} {
		db, err := n.s.dbs.open(tc.path, map[string]string{"container": containerSchema, "account": accountSchema}[tc.kind], false)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.s.reclaimRows(context.Background(), tc.kind, db); err != nil {
			t.Fatal(err)
		}
		if got := names(t, db, tc.table); !slices.Equal(got, tc.want) {
			t.Fatalf("%s rows after reclaim: %v, want %v", tc.kind, got, tc.want)
		}
	}
}

func names(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM ` + table + ` ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out = append(out, name)
	}
	return out
}
