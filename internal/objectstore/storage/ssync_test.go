package storage

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
)

func TestMissingCheck(t *testing.T) {
	n := newNode(t)
	put := func(name, ts string) {
		call{method: "PUT", url: n.object.URL + "/d1/3/AUTH_a/c/" + name, body: "x",
			headers: map[string]string{"X-Timestamp": ts, "Content-Type": "a/b"}, status: 201}.run(t)
	}
	hash := func(name string) string {
		h := ring.HashPath("", "test", "AUTH_a", "c", name)
		return fmt.Sprintf("%x", h[:])
	}
	put("same", "1000")
	put("older", "1000")
	put("newer", "3000")
	call{method: "POST", url: n.object.URL + "/d1/3/AUTH_a/c/same", headers: map[string]string{"X-Timestamp": "1500"}, status: 202}.run(t)
	for _, tc := range []struct {
		name, line, want string
	}{
		{"missing", hash("absent") + " 0000002000.00000", hash("absent") + " d\n"},
		{"missing with metadata", hash("absent") + " 0000002000.00000 0000002001.00000", hash("absent") + " dm\n"},
		{"in sync", hash("same") + " 0000001000.00000 0000001500.00000", ""},
		{"receiver older", hash("older") + " 0000002000.00000", hash("older") + " d\n"},
		{"receiver newer", hash("newer") + " 0000002000.00000 0000002500.00000", ""},
		{"newer metadata only", hash("same") + " 0000001000.00000 0000001600.00000", hash("same") + " m\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("SSYNC", n.object.URL+"/d1/3", strings.NewReader(tc.line+"\n"))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != tc.want {
				t.Fatalf("%d %q, want %q", resp.StatusCode, body, tc.want)
			}
		})
	}
	for _, bad := range []string{"nothex 1000", hash("x"), hash("x") + " notatime", hash("x") + " 1 2 3", strings.ToUpper(hash("x")) + " 1"} {
		req, _ := http.NewRequest("SSYNC", n.object.URL+"/d1/3", strings.NewReader(bad+"\n"))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("SSYNC %q: %d, want 400", bad, resp.StatusCode)
		}
	}
}

// TestDBReplicateBadInput: REPLICATE bodies that are no replication request
// are 400, merging into a database that does not exist is 404, never a 500.
func TestDBReplicateBadInput(t *testing.T) {
	n := newNode(t)
	for _, tc := range []struct {
		url, body string
		status    int
	}{
		{n.container.URL + "/d1/3/AUTH_a/c", "not json", 400},
		{n.container.URL + "/d1/3/AUTH_a/c", `{"op":"sync"}`, 400},
		{n.container.URL + "/d1/3/AUTH_a/c", `{"op":"sync","id":"x"}`, 400},
		{n.container.URL + "/d1/3/AUTH_a/c", `{"op":"nothing","id":"x"}`, 400},
		{n.container.URL + "/d1/3/AUTH_a/c", `{"op":"merge_items","id":"x","items":[{"name":"o"}]}`, 404},
		{n.container.URL + "/d1/3/AUTH_a/c", `{"op":"sync","id":"x","info":{"put_timestamp":1}}`, 200},
		{n.container.URL + "/d1/3/AUTH_a/c", `{"op":"merge_items","id":"x","items":[{"name":""}]}`, 400},
		{n.container.URL + "/d1/3/AUTH_a/c", `{"op":"merge_items","id":"x","items":[{"name":"o","size":-1}]}`, 400},
		{n.container.URL + "/d1/3/AUTH_a/c", `{"op":"merge_items","id":"x","items":[{"name":"o","created_at":5,"size":3,"seq":7}]}`, 204},
		{n.container.URL + "/nodev/3/AUTH_a/c", `{"op":"sync","id":"x","info":{}}`, 507},
		{n.account.URL + "/d1/3/AUTH_a", "[]", 400},
		{n.account.URL + "/d1/3/AUTH_a", `{"op":"merge_items","id":"x","containers":[{"name":"c"}]}`, 404},
		{n.account.URL + "/d1/3/AUTH_a", `{"op":"sync","id":"x","info":{"put_timestamp":1}}`, 200},
		{n.account.URL + "/d1/3/AUTH_a", `{"op":"merge_items","id":"x","containers":[{"name":"c","object_count":-1}]}`, 400},
		{n.account.URL + "/d1/3/AUTH_a", `{"op":"merge_items","id":"x","containers":[{"name":"c","put_timestamp":2,"seq":1}]}`, 204},
	} {
		req, _ := http.NewRequest("REPLICATE", tc.url, strings.NewReader(tc.body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("REPLICATE %s %s: %d %s, want %d", tc.url, tc.body, resp.StatusCode, body, tc.status)
		}
	}
	// the merged rows list
	call{method: "GET", url: n.container.URL + "/d1/3/AUTH_a/c", status: 200, wantBody: "o\n"}.run(t)
	call{method: "GET", url: n.account.URL + "/d1/3/AUTH_a", status: 200, wantBody: "c\n"}.run(t)
}
