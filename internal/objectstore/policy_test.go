package objectstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

// policyFiles lists the devices holding a .data of AUTH_a/container/object
// in policy p's directories, by p's ring.
func (c *cluster) policyFiles(p ring.Policy, container, object string) []string {
	c.t.Helper()
	suffix, err := ReadHashPathSuffix(c.dir)
	if err != nil {
		c.t.Fatal(err)
	}
	rg, err := ring.Load(filepath.Join(c.dir, "rings", p.RingName()+".ring.gz"), "", suffix)
	if err != nil {
		c.t.Fatal(err)
	}
	part := rg.Partition("AUTH_a", container, object)
	hash := rg.Hash("AUTH_a", container, object)
	hex := fmt.Sprintf("%x", hash[:])
	files, _ := filepath.Glob(filepath.Join(c.dir, "devices", "*", p.DataDir(), fmt.Sprint(part), hex[29:], hex, "*.data"))
	return files
}

// TestObjectStorePolicies: X-Storage-Policy picks a container's policy on
// PUT as upstream's proxy does (name or alias in any case; unknown 400;
// another policy for an existing container 409; a recreated container may
// change it), HEAD shows it, and its objects live in that policy's ring and
// directories: two replicas in objects-1 for reduced-redundancy.
func TestObjectStorePolicies(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	rr, _ := ring.PolicyByIndex(1)
	p0, _ := ring.PolicyByIndex(0)
	steps := []struct {
		method, path string
		headers      []string
		status       int
		body         string
		policy       string // X-Storage-Policy answered, when set
	}{
		{"PUT", acct + "/gold", []string{"X-Storage-Policy", "gold"}, 400, "Invalid X-Storage-Policy 'gold'", ""},
		{"PUT", acct + "/rr", []string{"X-Storage-Policy", "reduced-redundancy"}, 201, "", ""},
		{"HEAD", acct + "/rr", nil, 204, "", "reduced-redundancy"},
		{"PUT", acct + "/rr", []string{"X-Storage-Policy", "REDUCED-REDUNDANCY"}, 202, "", ""},
		{"PUT", acct + "/rr", nil, 202, "", ""},
		{"PUT", acct + "/rr", []string{"X-Storage-Policy", "Policy-0"}, 409, "", ""},
		{"GET", acct + "/rr", nil, 204, "", "reduced-redundancy"},
		{"PUT", acct + "/default", nil, 201, "", ""},
		{"HEAD", acct + "/default", nil, 204, "", "Policy-0"},
		{"PUT", acct + "/default", []string{"X-Storage-Policy", "reduced-redundancy"}, 409, "", ""},
		{"PUT", acct + "/rr/o", nil, 201, "", ""},
		{"PUT", acct + "/default/o", nil, 201, "", ""},
	}
	for _, s := range steps {
		r := c.expect("a-member", s.method, s.path, "body of "+s.path, s.status, s.headers...)
		if s.body != "" && r.body != s.body {
			t.Fatalf("%s %s: body %q, want %q", s.method, s.path, r.body, s.body)
		}
		if s.policy != "" && r.header.Get("X-Storage-Policy") != s.policy {
			t.Fatalf("%s %s: X-Storage-Policy %q, want %q", s.method, s.path, r.header.Get("X-Storage-Policy"), s.policy)
		}
	}
	if got := c.policyFiles(rr, "rr", "o"); len(got) != 2 {
		t.Fatalf("reduced-redundancy object on %d devices, want 2: %v", len(got), got)
	}
	if got := c.policyFiles(p0, "rr", "o"); len(got) != 0 {
		t.Fatalf("reduced-redundancy object also in objects/: %v", got)
	}
	if got := c.policyFiles(p0, "default", "o"); len(got) != 3 {
		t.Fatalf("Policy-0 object on %d devices, want 3", len(got))
	}
	if r := c.expect("a-member", "GET", acct+"/rr/o", "", 200); r.body != "body of "+acct+"/rr/o" {
		t.Fatalf("GET of a reduced-redundancy object: %q", r.body)
	}
	if r := c.expect("a-member", "GET", acct+"/rr", "", 200); r.body != "o\n" {
		t.Fatalf("listing of a reduced-redundancy container: %q", r.body)
	}
	// a copy across policies reads the source from its policy's ring
	c.expect("a-member", "PUT", acct+"/default/copied", "", 201, "X-Copy-From", "rr/o")
	if got := c.policyFiles(p0, "default", "copied"); len(got) != 3 {
		t.Fatalf("copied object on %d devices, want 3", len(got))
	}
	// deleted, a container may come back with another policy
	c.expect("a-member", "DELETE", acct+"/rr/o", "", 204)
	c.expect("a-member", "DELETE", acct+"/rr", "", 204)
	c.expect("a-member", "PUT", acct+"/rr", "", 201, "X-Storage-Policy", "Policy-0")
	if r := c.expect("a-member", "HEAD", acct+"/rr", "", 204); r.header.Get("X-Storage-Policy") != "Policy-0" {
		t.Fatalf("recreated container's policy: %q", r.header.Get("X-Storage-Policy"))
	}

	// /info lists both, with upstream's keys
	r := c.expect("", "GET", "/info", "", 200)
	var info struct {
		Swift struct {
			Policies []map[string]any `json:"policies"`
		} `json:"swift"`
	}
	if err := json.Unmarshal([]byte(r.body), &info); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{{"name": "Policy-0", "aliases": "Policy-0", "default": true},
		{"name": "reduced-redundancy", "aliases": "reduced-redundancy"}}
	if fmt.Sprint(info.Swift.Policies) != fmt.Sprint(want) {
		t.Fatalf("/info policies %v, want %v", info.Swift.Policies, want)
	}
}

// TestObjectStorePolicyReplication: the replicator of the second policy
// restores its replica in objects-1, and Policy-0's pass leaves it alone.
func TestObjectStorePolicyReplication(t *testing.T) {
	c := startCluster(t)
	rr, _ := ring.PolicyByIndex(1)
	c.expect("a-member", "PUT", "/v1/AUTH_a/rr", "", 201, "X-Storage-Policy", rr.Name)
	c.expect("a-member", "PUT", "/v1/AUTH_a/rr/o", "x", 201)
	files := c.policyFiles(rr, "rr", "o")
	if len(files) != 2 {
		t.Fatalf("%d replicas", len(files))
	}
	if err := os.RemoveAll(filepath.Dir(files[0])); err != nil {
		t.Fatal(err)
	}
	c.replicate()
	if got := c.policyFiles(rr, "rr", "o"); len(got) != 1 {
		t.Fatalf("Policy-0's replicator touched objects-1: %d replicas", len(got))
	}
	if _, err := c.a.ReplicatePolicy(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	got := c.policyFiles(rr, "rr", "o")
	slices.Sort(got)
	if len(got) != 2 || !strings.Contains(strings.Join(got, " "), files[0]) {
		t.Fatalf("after the policy's replication pass: %v, want %v", got, files)
	}
}

func policyByName(t *testing.T, name string) ring.Policy {
	t.Helper()
	p, ok := ring.PolicyByName(name)
	if !ok {
		t.Fatalf("no policy %s", name)
	}
	return p
}
