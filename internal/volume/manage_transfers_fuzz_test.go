package volume

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
)

// FuzzManageAndTransferBodies: whatever an admin puts in a volume or snapshot
// manage body (its reference goes to the backend) or a member in a transfer
// create or accept body or a manageable-volumes query, the answer is never a
// 5xx, and the
// manager's passes over what the bodies made never touch a file outside the
// backends' pools.
func FuzzManageAndTransferBodies(f *testing.F) {
	e := newTestEnv(f, nil)
	out := e.Must(http.StatusAccepted, "POST", "/v3/volumes", e.DemoToken, map[string]any{"volume": map[string]any{"size": 1}})
	vol := out["volume"].(map[string]any)["id"].(string)
	e.settle()
	host := "node1@alpha#alpha"
	outside := filepath.Join(e.Dir, "volume-00000000-0000-0000-0000-000000000000")
	if err := os.WriteFile(outside, []byte("not the pool's"), 0o600); err != nil {
		f.Fatal(err)
	}
	fuzzSeeds(f, vol,
		`{"volume": {"host": "node1@alpha#alpha", "ref": {"source-name": "volume-{vol}"}}}`,
		`{"volume": {"host": "node1@alpha", "ref": {"source-name": "../volume-00000000-0000-0000-0000-000000000000"}, "bootable": "yes"}}`,
		`{"volume": {"host": "node1@alpha#alpha", "ref": {"source-id": "../../x"}, "volume_type": "nope", "metadata": null}}`,
		`{"volume": {"cluster": "c", "ref": "a string", "name": "  n  "}}`,
		`{"transfer": {"volume_id": "{vol}", "name": "t", "no_snapshots": "true"}}`,
		`{"snapshot": {"volume_id": "{vol}", "ref": {"source-name": "../snapshot-x"}, "metadata": {"a": "b"}}}`,
		`{"transfer": {"volume_id": "nope"}}`, `{"accept": {"auth_key": 12345}}`, `{"accept": {"auth_key": null}}`,
		`null`, `[]`, `{`, `{"volume": []}`,
	)
	f.Add([]byte("sort=size:desc,reference&limit=1&offset=2&marker=%7B%22source-name%22%3A%22x%22%7D"))
	f.Add([]byte("\x01"))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{"/v3/manageable_volumes", "/v3/os-volume-manage", "/v3/manageable_snapshots"} {
			// 503 is upstream's answer for a host or cluster without a service up
			if status := fuzzSend(t, "POST", e.URL+path, e.AdminToken, body); status >= 500 && status != http.StatusServiceUnavailable {
				t.Fatalf("POST %s: %d", path, status)
			}
		}
		for _, path := range []string{"/v3/volume-transfers", "/v3/os-volume-transfer/00000000-0000-0000-0000-000000000001/accept"} {
			if status := fuzzSend(t, "POST", e.URL+path, e.DemoToken, body); status >= 500 {
				t.Fatalf("POST %s: %d", path, status)
			}
		}
		// the query as a client sends it: parsed, then encoded (a raw control
		// character is no URL a client can send)
		if query, err := url.ParseQuery(string(body)); err == nil {
			query.Set("host", host)
			if status := fuzzSend(t, "GET", e.URL+"/v3/manageable_volumes/detail?"+query.Encode(), e.AdminToken, nil); status >= 500 {
				t.Fatalf("listing with %q: %d", query, status)
			}
		}
		if err := e.Manager.Pass(t.Context()); err != nil {
			t.Logf("manager pass: %v", err)
		}
		if data, err := os.ReadFile(outside); err != nil || string(data) != "not the pool's" {
			t.Fatalf("a file outside the pools changed: %q %v", data, err)
		}
	})
}
