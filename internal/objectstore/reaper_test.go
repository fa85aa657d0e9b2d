package objectstore

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/swob"
)

// TestObjectStoreAccountReaper: with allow_account_management a reseller
// admin's DELETE marks an account deleted (404 after, its containers still
// on disk); the reaper removes its objects and containers; a second pass
// finds nothing left; the account's database goes with reclaim_age. Without
// it, DELETE is 405, and anyone else's 403.
func TestObjectStoreAccountReaper(t *testing.T) {
	c := startCluster(t)
	c.expect("a-member", "PUT", "/v1/AUTH_a/c", "", 201)
	c.expect("reseller", "DELETE", "/v1/AUTH_a", "", 405)

	dir := t.TempDir()
	a, err := StartAllInOne(Options{Dir: dir, Host: "127.0.0.1", PartPower: 6, Logger: slog.New(slog.DiscardHandler),
		AllowAccountManagement: true, ReclaimAge: time.Hour,
		Auth: tokens{"a-member": creds("a", "member"), "reseller": creds("x", "ResellerAdmin")}})
	if err != nil {
		t.Fatal(err)
	}
	serve(t, a)
	m := &cluster{t: t, url: a.URL, dir: dir, a: a}
	const acct = "/v1/AUTH_a"
	m.expect("a-member", "PUT", acct+"/c1", "", 201)
	m.expect("a-member", "PUT", acct+"/c2", "", 201, "X-Storage-Policy", "reduced-redundancy")
	for _, o := range []string{"c1/x", "c1/y", "c2/z"} {
		m.expect("a-member", "PUT", acct+"/"+o, "data", 201)
	}
	// a versioned container's versions are reaped too (their names are
	// the reserved namespace's, which only the cluster's own listings show)
	m.expect("a-member", "PUT", acct+"/c3", "", 201, "X-Versions-Enabled", "true")
	vid := m.expect("a-member", "PUT", acct+"/c3/v", "data", 201).header.Get("X-Object-Version-Id")
	ts, err := swob.ParseTimestamp(vid)
	if err != nil {
		t.Fatal(err)
	}
	versionName := "\x00v\x00" + swob.Timestamp(999999999999999-int64(ts)).Normal()
	if got := m.replicas(m.objectRing(), "\x00versions\x00c3", versionName); len(got) != 3 {
		t.Fatalf("version replicas %v", got)
	}
	m.expect("a-member", "DELETE", acct, "", 403)
	m.expect("reseller", "DELETE", acct+"?bulk-delete", "", 200) // the bulk middleware's, not the account's
	m.expect("reseller", "DELETE", acct+"?whatever", "", 400)
	m.expect("reseller", "DELETE", acct, "", 204)
	m.expect("reseller", "HEAD", acct, "", 404)
	if got := m.replicas(m.objectRing(), "c1", "x"); len(got) != 3 {
		t.Fatalf("objects gone before the reaper: %v", got)
	}
	st, err := a.ReapAccounts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Accounts != 1 || st.Containers != 4 || st.Failures != 0 {
		t.Fatalf("reaper pass: %+v", st)
	}
	for _, o := range []string{"x", "y"} {
		if got := m.replicas(m.objectRing(), "c1", o); len(got) != 0 {
			t.Fatalf("c1/%s still on %v", o, got)
		}
	}
	if got := m.replicas(m.objectRing(), "\x00versions\x00c3", versionName); len(got) != 0 {
		t.Fatalf("version still on %v", got)
	}
	rr := m.policyFiles(policyByName(t, "reduced-redundancy"), "c2", "z")
	if len(rr) != 0 {
		t.Fatalf("c2/z still on disk: %v", rr)
	}
	for _, cont := range []string{"c1", "c2"} {
		if r := m.do("reseller", "HEAD", acct+"/"+cont, ""); r.status != 404 {
			t.Fatalf("HEAD %s after the reaper: %d", cont, r.status)
		}
	}
	if st, _ := a.ReapAccounts(context.Background()); st.Containers != 0 || st.Failures != 0 {
		t.Fatalf("second pass: %+v", st)
	}
	if !strings.Contains(m.expect("", "GET", "/info", "", 200).body, `"allow_account_management":true`) {
		t.Fatal("/info does not say allow_account_management")
	}
}
