package storage

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// node is one storage node on three test listeners, with device "d1".
type node struct {
	s                                      *Server
	object, container, account             *httptest.Server
	objectHost, containerHost, accountHost string
}

func newNode(t *testing.T) *node {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "d1"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Devices: root, HashSuffix: "test"})
	if err != nil {
		t.Fatal(err)
	}
	n := &node{s: s, object: httptest.NewServer(s.ObjectHandler()), container: httptest.NewServer(s.ContainerHandler()),
		account: httptest.NewServer(s.AccountHandler())}
	n.objectHost = strings.TrimPrefix(n.object.URL, "http://")
	n.containerHost = strings.TrimPrefix(n.container.URL, "http://")
	n.accountHost = strings.TrimPrefix(n.account.URL, "http://")
	t.Cleanup(func() {
		n.object.Close()
		n.container.Close()
		n.account.Close()
		s.Close()
	})
	return n
}

type call struct {
	method, url, body string
	headers           map[string]string
	status            int
	want              map[string]string // response headers
	wantBody          string
}

func (c call) run(t *testing.T) *http.Response {
	t.Helper()
	req, err := http.NewRequest(c.method, c.url, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != c.status {
		t.Fatalf("%s %s: %d %s, want %d", c.method, c.url, resp.StatusCode, body, c.status)
	}
	for k, v := range c.want {
		if got := resp.Header.Get(k); got != v {
			t.Fatalf("%s %s: %s = %q, want %q", c.method, c.url, k, got, v)
		}
	}
	if c.wantBody != "" && string(body) != c.wantBody {
		t.Fatalf("%s %s: body %q, want %q", c.method, c.url, body, c.wantBody)
	}
	return resp
}

func TestObjectServerLastWriteWins(t *testing.T) {
	n := newNode(t)
	obj := n.object.URL + "/d1/3/AUTH_a/c/dir/o%20x"
	ct := map[string]string{"X-Timestamp": "1000.00000", "Content-Type": "text/plain", "X-Object-Meta-Color": "blue"}
	call{method: "PUT", url: obj, body: "hello", headers: ct, status: 201,
		want: map[string]string{"ETag": `"5d41402abc4b2a76b9719d911017c592"`}}.run(t)
	// the same or an older timestamp loses
	call{method: "PUT", url: obj, body: "older", headers: ct, status: 409,
		want: map[string]string{"X-Backend-Timestamp": "0000001000.00000"}}.run(t)
	call{method: "GET", url: obj, status: 200, wantBody: "hello", want: map[string]string{
		"X-Object-Meta-Color": "blue", "Content-Type": "text/plain", "X-Timestamp": "0000001000.00000",
		"Content-Length": "5"}}.run(t)
	call{method: "GET", url: obj, headers: map[string]string{"Range": "bytes=1-2"}, status: 206, wantBody: "el"}.run(t)
	call{method: "GET", url: obj, headers: map[string]string{"If-None-Match": "5d41402abc4b2a76b9719d911017c592"}, status: 304}.run(t)
	// a wrong ETag is refused
	call{method: "PUT", url: obj, body: "x", status: 422,
		headers: map[string]string{"X-Timestamp": "1001", "Content-Type": "a/b", "ETag": "00000000000000000000000000000000"}}.run(t)
	call{method: "PUT", url: obj, body: "x", status: 400, headers: map[string]string{"Content-Type": "a/b"}}.run(t)
	// POST replaces user metadata, keeps the data
	call{method: "POST", url: obj, headers: map[string]string{"X-Timestamp": "1002", "X-Object-Meta-Shape": "round"}, status: 202}.run(t)
	resp := call{method: "HEAD", url: obj, status: 200, want: map[string]string{"X-Object-Meta-Shape": "round", "X-Timestamp": "0000001002.00000"}}.run(t)
	if resp.Header.Get("X-Object-Meta-Color") != "" {
		t.Fatal("POST kept the old user metadata")
	}
	// a delete leaves a tombstone an older PUT cannot beat
	call{method: "DELETE", url: obj, headers: map[string]string{"X-Timestamp": "1003"}, status: 204}.run(t)
	call{method: "GET", url: obj, status: 404, want: map[string]string{"X-Backend-Timestamp": "0000001003.00000"}}.run(t)
	call{method: "PUT", url: obj, body: "late", headers: map[string]string{"X-Timestamp": "1002.5", "Content-Type": "a/b"}, status: 409}.run(t)
	call{method: "DELETE", url: obj, headers: map[string]string{"X-Timestamp": "1004"}, status: 404}.run(t)
	files, _ := filepath.Glob(filepath.Join(n.s.opts.Devices, "d1", "objects", "3", "*", "*", "*"))
	if len(files) != 1 || !strings.HasSuffix(files[0], "0000001004.00000.ts") {
		t.Fatalf("the hash directory holds %v, want only the newest tombstone", files)
	}
	call{method: "GET", url: n.object.URL + "/nodev/3/a/c/o", status: 507}.run(t)
	call{method: "GET", url: n.object.URL + "/d1/x/a/c/o", status: 400}.run(t)
}

func TestContainerAndAccountUpdates(t *testing.T) {
	n := newNode(t)
	acct := n.account.URL + "/d1/1/AUTH_a"
	cont := n.container.URL + "/d1/2/AUTH_a/c"
	call{method: "PUT", url: acct, headers: map[string]string{"X-Timestamp": "1"}, status: 201}.run(t)
	call{method: "PUT", url: acct, headers: map[string]string{"X-Timestamp": "2"}, status: 202}.run(t)
	updateAcct := map[string]string{"X-Timestamp": "10", "X-Account-Host": n.accountHost, "X-Account-Device": "d1",
		"X-Account-Partition": "1", "X-Container-Meta-Team": "blue"}
	call{method: "PUT", url: cont, headers: updateAcct, status: 201}.run(t)
	for i, name := range []string{"a/1", "a/2", "b", "c/x/y", "d"} {
		o := n.object.URL + "/d1/5/AUTH_a/c/" + name
		call{method: "PUT", url: o, body: strings.Repeat("x", i+1), status: 201, headers: map[string]string{
			"X-Timestamp": "20." + string(rune('1'+i)), "Content-Type": "text/plain",
			"X-Container-Host": n.containerHost, "X-Container-Device": "d1", "X-Container-Partition": "2"}}.run(t)
	}
	call{method: "HEAD", url: cont, status: 204, want: map[string]string{
		"X-Container-Object-Count": "5", "X-Container-Bytes-Used": "15", "X-Container-Meta-Team": "blue"}}.run(t)
	for _, tc := range []struct{ query, want string }{
		{"", "a/1\na/2\nb\nc/x/y\nd\n"},
		{"?delimiter=/", "a/\nb\nc/\nd\n"},
		{"?prefix=c/&delimiter=/", "c/x/\n"},
		{"?marker=a/2", "b\nc/x/y\nd\n"},
		{"?end_marker=b", "a/1\na/2\n"},
		{"?limit=2", "a/1\na/2\n"},
		{"?reverse=on", "d\nc/x/y\nb\na/2\na/1\n"},
		{"?reverse=on&delimiter=/", "d\nc/\nb\na/\n"},
		{"?reverse=on&marker=c&limit=2", "b\na/2\n"},
		{"?delimiter=/&limit=2", "a/\nb\n"},
		{"?prefix=a", "a/1\na/2\n"},
	} {
		call{method: "GET", url: cont + tc.query, status: 200, wantBody: tc.want}.run(t)
	}
	call{method: "GET", url: cont + "?prefix=zz", status: 204}.run(t)
	call{method: "GET", url: cont + "?prefix=zz&format=json", status: 200, wantBody: "[]"}.run(t)
	call{method: "GET", url: cont + "?limit=10001", status: 412, wantBody: "Maximum limit is 10000"}.run(t)
	call{method: "GET", url: cont + "?format=json&prefix=b", status: 200,
		wantBody: `[{"bytes":3,"content_type":"text/plain","hash":"f561aaf6ef0bf14d4208bb46a4ccb3ad","last_modified":"1970-01-01T00:00:20.300000","name":"b"}]`}.run(t)
	call{method: "DELETE", url: cont, headers: map[string]string{"X-Timestamp": "30"}, status: 409}.run(t)
	// the account hears of the container's stats shortly after the writes
	deadline := time.Now().Add(5 * time.Second)
	for {
		req, _ := http.NewRequest("HEAD", acct, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.Header.Get("X-Account-Object-Count") == "5" && resp.Header.Get("X-Account-Bytes-Used") == "15" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("account stats %v", resp.Header)
		}
		time.Sleep(20 * time.Millisecond)
	}
	call{method: "GET", url: acct + "?format=xml", status: 200}.run(t)
	call{method: "GET", url: acct, status: 200, wantBody: "c\n"}.run(t)
	// a container update for an unknown container is 404
	call{method: "PUT", url: n.container.URL + "/d1/2/AUTH_a/nope/o", status: 404,
		headers: map[string]string{"X-Timestamp": "1", "X-Size": "0"}}.run(t)
}

// TestUpdaterReplaysPending: a container server down during an object PUT
// leaves an async pending; once it is back, an updater pass delivers it and
// removes the file, and the listing has the object.
func TestUpdaterReplaysPending(t *testing.T) {
	n := newNode(t)
	// a port nothing listens on yet, for the container server to come back on
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	downHost := l.Addr().String()
	l.Close()
	cont := n.container.URL + "/d1/2/AUTH_a/c"
	call{method: "PUT", url: cont, headers: map[string]string{"X-Timestamp": "1"}, status: 201}.run(t)
	call{method: "PUT", url: n.object.URL + "/d1/5/AUTH_a/c/o", body: "x", status: 201, headers: map[string]string{
		"X-Timestamp": "2", "Content-Type": "text/plain",
		"X-Container-Host": downHost, "X-Container-Device": "d1", "X-Container-Partition": "2"}}.run(t)
	pending, _ := filepath.Glob(filepath.Join(n.s.opts.Devices, "d1", "async_pending", "*", "*"))
	if len(pending) != 1 {
		t.Fatalf("async pendings %v, want one", pending)
	}
	if sent, left := n.s.UpdatePending(context.Background()); sent != 0 || left != 1 {
		t.Fatalf("with the container server down: sent %d, left %d", sent, left)
	}
	back, err := net.Listen("tcp", downHost)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	srv := &http.Server{Handler: n.s.ContainerHandler()}
	go srv.Serve(back)
	defer srv.Close()
	if sent, left := n.s.UpdatePending(context.Background()); sent != 1 || left != 0 {
		t.Fatalf("with the container server back: sent %d, left %d", sent, left)
	}
	if pending, _ := filepath.Glob(filepath.Join(n.s.opts.Devices, "d1", "async_pending", "*", "*")); len(pending) != 0 {
		t.Fatalf("async pendings left: %v", pending)
	}
	call{method: "GET", url: cont, status: 200, wantBody: "o\n"}.run(t)
}
