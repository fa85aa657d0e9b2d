package objectstore

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/objectstore/ring"
	"github.com/nimbus-cloud/nimbus/internal/platform/auth"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

// tokens stands in for identity: each token is a user of a project with roles.
type tokens map[string]*auth.Credentials

func (t tokens) Authenticate(_ context.Context, token string) (*auth.Credentials, error) {
	if c, ok := t[token]; ok {
		return c, nil
	}
	return nil, errors.New("invalid token")
}

func creds(project string, roles ...string) *auth.Credentials {
	c := &auth.Credentials{UserID: "u-" + project, ProjectID: project}
	for _, r := range roles {
		c.Roles = append(c.Roles, auth.Role{ID: r, Name: r})
	}
	return c
}

type cluster struct {
	t   *testing.T
	url string
	dir string
	a   *AllInOne
}

func startCluster(t *testing.T) *cluster { return startClusterWith(t, 3) }

// startClusterWith starts an all-in-one of devices devices (one per zone), 3 replicas.
func startClusterWith(t *testing.T, devices int) *cluster {
	t.Helper()
	c, _ := startClusterIn(t, t.TempDir(), devices)
	return c
}

// startClusterIn starts an all-in-one on dir; stop ends it before the test does.
func startClusterIn(t *testing.T, dir string, devices int) (*cluster, func()) {
	t.Helper()
	a, err := StartAllInOne(Options{Dir: dir, Host: "127.0.0.1", PartPower: 6, Devices: devices, Logger: slog.New(slog.DiscardHandler),
		Auth: tokens{
			"a-member": creds("a", "member"), "a-reader": creds("a", "reader"), "b-member": creds("b", "member"),
			"reseller": creds("x", "ResellerAdmin"), "a-nothing": creds("a"),
		}})
	if err != nil {
		t.Fatal(err)
	}
	stop := serve(t, a)
	return &cluster{t: t, url: a.URL, dir: dir, a: a}, stop
}

// TestObjectStoreRestart: a new start on the same directory (other ports, the
// rings re-addressed) serves what the previous one stored.
func TestObjectStoreRestart(t *testing.T) {
	dir := t.TempDir()
	c, stop := startClusterIn(t, dir, 3)
	c.expect("a-member", "PUT", "/v1/AUTH_a/c", "", 201)
	c.expect("a-member", "PUT", "/v1/AUTH_a/c/o", "kept", 201)
	stop()
	c, _ = startClusterIn(t, dir, 3)
	if r := c.expect("a-member", "GET", "/v1/AUTH_a/c/o", "", 200); r.body != "kept" {
		t.Fatalf("after a restart: %q", r.body)
	}
	if r := c.expect("a-member", "GET", "/v1/AUTH_a/c", "", 200); r.body != "o\n" {
		t.Fatalf("listing after a restart: %q", r.body)
	}
}

type resp struct {
	status int
	header http.Header
	body   string
}

func (c *cluster) do(token, method, path, body string, headers ...string) resp {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.url+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header, string(data)}
}

func (c *cluster) expect(token, method, path, body string, status int, headers ...string) resp {
	c.t.Helper()
	r := c.do(token, method, path, body, headers...)
	if r.status != status {
		c.t.Fatalf("%s %s: %d %q, want %d", method, path, r.status, r.body, status)
	}
	return r
}

func TestObjectStoreAPI(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	// a new account reads as empty (account_autocreate)
	r := c.expect("a-member", "GET", acct, "", 204)
	if r.header.Get("X-Account-Container-Count") != "0" {
		t.Fatalf("empty account headers %v", r.header)
	}
	c.expect("a-member", "GET", acct+"?format=json", "", 200)
	c.expect("a-member", "PUT", acct+"/photos", "", 201, "X-Container-Meta-Owner", "alice")
	c.expect("a-member", "PUT", acct+"/photos", "", 202)
	r = c.expect("a-member", "HEAD", acct+"/photos", "", 204)
	if r.header.Get("X-Container-Meta-Owner") != "alice" || r.header.Get("X-Storage-Policy") != "Policy-0" {
		t.Fatalf("container HEAD %v", r.header)
	}
	data := strings.Repeat("nimbus swift ", 10000)
	sum := md5.Sum([]byte(data))
	etag := hex.EncodeToString(sum[:])
	r = c.expect("a-member", "PUT", acct+"/photos/2024/cat.jpg", data, 201, "X-Object-Meta-Animal", "cat")
	if r.header.Get("Etag") != etag {
		t.Fatalf("PUT ETag %q, want %q", r.header.Get("Etag"), etag)
	}
	// PUT twice: idempotent, the later write wins
	c.expect("a-member", "PUT", acct+"/photos/2024/cat.jpg", data, 201, "X-Object-Meta-Animal", "cat")
	r = c.expect("a-member", "GET", acct+"/photos/2024/cat.jpg", "", 200)
	if r.body != data || r.header.Get("Etag") != etag || r.header.Get("Content-Type") != "image/jpeg" ||
		r.header.Get("X-Object-Meta-Animal") != "cat" {
		t.Fatalf("GET: %d bytes, headers %v", len(r.body), r.header)
	}
	r = c.expect("a-member", "GET", acct+"/photos/2024/cat.jpg", "", 206, "Range", "bytes=7-11")
	if r.body != "swift" || r.header.Get("Content-Range") != "bytes 7-11/130000" {
		t.Fatalf("Range: %q %v", r.body, r.header)
	}
	c.expect("a-member", "GET", acct+"/photos/2024/cat.jpg", "", 416, "Range", "bytes=200000-")
	c.expect("a-member", "GET", acct+"/photos/2024/cat.jpg", "", 304, "If-None-Match", etag)
	c.expect("a-member", "GET", acct+"/photos/2024/cat.jpg", "", 412, "If-Match", "nope")
	c.expect("a-member", "PUT", acct+"/photos/2024/cat.jpg", "x", 412, "If-None-Match", "*")
	c.expect("a-member", "PUT", acct+"/photos/bad", "abc", 422, "ETag", "00000000000000000000000000000000")
	c.expect("a-member", "POST", acct+"/photos/2024/cat.jpg", "", 202, "X-Object-Meta-Animal", "lion")
	r = c.expect("a-member", "HEAD", acct+"/photos/2024/cat.jpg", "", 200)
	if r.header.Get("X-Object-Meta-Animal") != "lion" || r.header.Get("Content-Length") != "130000" {
		t.Fatalf("HEAD after POST %v", r.header)
	}
	// server-side copy: COPY with Destination, PUT with X-Copy-From
	r = c.expect("a-member", "COPY", acct+"/photos/2024/cat.jpg", "", 201, "Destination", "photos/copy1.jpg", "X-Object-Meta-Extra", "1")
	if r.header.Get("X-Copied-From") != "photos/2024/cat.jpg" || r.header.Get("Etag") != etag {
		t.Fatalf("COPY headers %v", r.header)
	}
	r = c.expect("a-member", "GET", acct+"/photos/copy1.jpg", "", 200)
	if r.body != data || r.header.Get("X-Object-Meta-Animal") != "lion" || r.header.Get("X-Object-Meta-Extra") != "1" ||
		r.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("copied object: %d bytes, %v", len(r.body), r.header)
	}
	c.expect("a-member", "PUT", acct+"/photos/copy2", "", 201, "X-Copy-From", "photos/2024/cat.jpg", "X-Fresh-Metadata", "true")
	r = c.expect("a-member", "HEAD", acct+"/photos/copy2", "", 200)
	if r.header.Get("X-Object-Meta-Animal") != "" || r.header.Get("Etag") != etag {
		t.Fatalf("fresh copy: %v", r.header)
	}
	c.expect("b-member", "PUT", "/v1/AUTH_b/x", "", 201)
	c.expect("b-member", "PUT", "/v1/AUTH_b/x/stolen", "", 403, "X-Copy-From", "photos/2024/cat.jpg", "X-Copy-From-Account", "AUTH_a")
	c.expect("a-member", "DELETE", acct+"/photos/copy1.jpg", "", 204)
	c.expect("a-member", "DELETE", acct+"/photos/copy2", "", 204)
	c.expect("a-member", "PUT", acct+"/photos/2024/dog.txt", "woof", 201, "X-Object-Meta-Gone", "soon")
	// a POST may change the content type (the listing follows) and removes
	// the user metadata it does not repeat
	c.expect("a-member", "POST", acct+"/photos/2024/dog.txt", "", 202, "Content-Type", "text/x-dog")
	if r := c.expect("a-member", "HEAD", acct+"/photos/2024/dog.txt", "", 200); r.header.Get("Content-Type") != "text/x-dog" ||
		r.header.Get("X-Object-Meta-Gone") != "" {
		t.Fatalf("HEAD after a content-type POST: %v", r.header)
	}
	if r := c.expect("a-member", "GET", acct+"/photos?prefix=2024/dog&format=json", "", 200); !strings.Contains(r.body, `"content_type":"text/x-dog"`) {
		t.Fatalf("listing after a content-type POST: %s", r.body)
	}
	c.expect("a-member", "POST", acct+"/photos/2024/dog.txt", "", 202, "Content-Type", "text/plain")
	c.expect("a-member", "PUT", acct+"/photos/readme", "", 201)
	// a chunked upload (no Content-Length) is stored whole
	chunked, _ := http.NewRequest("PUT", c.url+acct+"/photos/chunked", io.MultiReader(strings.NewReader("chunk one, "), strings.NewReader("chunk two")))
	chunked.Header.Set("X-Auth-Token", "a-member")
	chunked.ContentLength = -1
	if res, err := http.DefaultClient.Do(chunked); err != nil || res.StatusCode != 201 {
		t.Fatalf("chunked PUT: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	if r := c.expect("a-member", "GET", acct+"/photos/chunked", "", 200); r.body != "chunk one, chunk two" {
		t.Fatalf("chunked object: %q", r.body)
	}
	c.expect("a-member", "DELETE", acct+"/photos/chunked", "", 204)
	r = c.expect("a-member", "GET", acct+"/photos?delimiter=/", "", 200)
	if r.body != "2024/\nreadme\n" {
		t.Fatalf("delimiter listing %q", r.body)
	}
	r = c.expect("a-member", "GET", acct+"/photos?prefix=2024/&format=json", "", 200)
	var listing []map[string]any
	if err := json.Unmarshal([]byte(r.body), &listing); err != nil || len(listing) != 2 || listing[0]["hash"] != etag ||
		listing[1]["content_type"] != "text/plain" {
		t.Fatalf("json listing %s", r.body)
	}
	r = c.expect("a-member", "GET", acct+"/photos?format=xml&limit=1", "", 200)
	if !strings.Contains(r.body, `<container name="photos"><object><name>2024/cat.jpg</name>`) {
		t.Fatalf("xml listing %s", r.body)
	}
	c.expect("a-member", "DELETE", acct+"/photos", "", 409)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r = c.expect("a-member", "HEAD", acct, "", 204)
		if r.header.Get("X-Account-Object-Count") == "3" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r.header.Get("X-Account-Object-Count") != "3" || r.header.Get("X-Account-Container-Count") != "1" ||
		r.header.Get("X-Account-Storage-Policy-Policy-0-Object-Count") != "3" {
		t.Fatalf("account stats %v", r.header)
	}
	r = c.expect("a-member", "GET", acct+"?format=json", "", 200)
	if !strings.Contains(r.body, `"name":"photos"`) {
		t.Fatalf("account listing %s", r.body)
	}
	for _, o := range []string{"2024/cat.jpg", "2024/dog.txt", "readme"} {
		c.expect("a-member", "DELETE", acct+"/photos/"+o, "", 204)
	}
	c.expect("a-member", "GET", acct+"/photos/readme", "", 404)
	c.expect("a-member", "DELETE", acct+"/photos/readme", "", 404)
	c.expect("a-member", "DELETE", acct+"/photos", "", 204)
	c.expect("a-member", "GET", acct+"/photos", "", 404)
	c.expect("a-member", "PUT", acct+"/photos/x", "x", 404)
}

func TestObjectStoreAuthorization(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	c.expect("a-member", "PUT", acct+"/c/o", "data", 201)
	for _, tc := range []struct {
		token, method, path string
		status              int
	}{
		{"", "GET", acct + "/c/o", 401},
		{"bogus", "GET", acct + "/c", 401},
		{"b-member", "GET", acct + "/c/o", 403},
		{"b-member", "GET", acct, 403},
		{"b-member", "PUT", acct + "/c/o", 403},
		{"a-nothing", "GET", acct + "/c", 403},
		{"a-reader", "GET", acct + "/c/o", 200},
		{"a-reader", "HEAD", acct + "/c", 204},
		{"a-reader", "PUT", acct + "/c/o", 403},
		{"a-reader", "DELETE", acct + "/c/o", 403},
		{"reseller", "GET", acct + "/c/o", 200},
		{"a-member", "DELETE", acct, 403},
		{"a-member", "PUT", acct, 405},
	} {
		if r := c.do(tc.token, tc.method, tc.path, ""); r.status != tc.status {
			t.Errorf("%s %s %s: %d %q, want %d", tc.token, tc.method, tc.path, r.status, r.body, tc.status)
		}
	}
	// container ACLs: only the owner sets them; they let other projects and
	// referrers in, as far as they say
	c.expect("b-member", "POST", acct+"/c", "", 403, "X-Container-Read", "b:*")
	c.expect("a-member", "POST", acct+"/c", "", 204, "X-Container-Read", "b:*", "X-Container-Write", "b:u-b")
	c.expect("a-member", "PUT", acct+"/public", "", 201, "X-Container-Read", ".r:*")
	c.expect("a-member", "PUT", acct+"/public/page.html", "<p>hi</p>", 201)
	for _, tc := range []struct {
		token, method, path string
		status              int
	}{
		{"b-member", "GET", acct + "/c/o", 200},
		{"b-member", "GET", acct + "/c", 200},
		{"b-member", "PUT", acct + "/c/from-b", 201},
		{"b-member", "DELETE", acct + "/c/from-b", 204},
		{"b-member", "POST", acct + "/c", 403},
		{"b-member", "DELETE", acct + "/c", 403},
		{"b-member", "GET", acct, 403},
		{"b-member", "GET", acct + "/public/page.html", 200},
		{"", "GET", acct + "/public/page.html", 200},
		{"", "GET", acct + "/public", 401}, // listing needs .rlistings
		{"", "GET", acct + "/c/o", 401},
		{"", "PUT", acct + "/public/x", 401},
	} {
		if r := c.do(tc.token, tc.method, tc.path, "x"); r.status != tc.status {
			t.Errorf("ACL: %s %s %s: %d %q, want %d", tc.token, tc.method, tc.path, r.status, r.body, tc.status)
		}
	}
	if r := c.expect("b-member", "HEAD", acct+"/c", "", 204); r.header.Get("X-Container-Read") != "" {
		t.Error("a non-owner sees the container's ACL")
	}
	if r := c.expect("a-member", "HEAD", acct+"/c", "", 204); r.header.Get("X-Container-Read") != "b:*" {
		t.Errorf("the owner's HEAD: X-Container-Read %q", r.header.Get("X-Container-Read"))
	}
	c.expect("a-member", "POST", acct+"/public", "", 204, "X-Container-Read", ".r:*,.rlistings")
	c.expect("", "GET", acct+"/public", "", 200)
	c.expect("a-member", "POST", acct+"/c", "", 204, "X-Remove-Container-Read", "x")
	c.expect("b-member", "GET", acct+"/c/o", "", 403)

	r := c.do("", "GET", acct, "")
	if r.body != "<html><h1>Unauthorized</h1><p>This server could not verify that you are authorized to access the document you requested.</p></html>" {
		t.Errorf("401 body %q", r.body)
	}
}

func TestObjectStoreBadInput(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	long := strings.Repeat("x", 1025)
	for _, tc := range []struct {
		method, path string
		headers      []string
		status       int
		body         string
	}{
		{"PUT", acct + "/c/" + long, nil, 400, "Object name length of 1025 longer than 1024"},
		{"PUT", acct + "/" + strings.Repeat("c", 257), nil, 400, "Container name length of 257 longer than 256"},
		{"PUT", acct + "/c/o", []string{"X-Object-Meta-" + strings.Repeat("n", 129), "v"}, 400, "Metadata name too long: X-Object-Meta-" + strings.Repeat("N", 1) + strings.Repeat("n", 128)},
		{"PUT", acct + "/c/o", []string{"X-Object-Meta-Big", strings.Repeat("v", 257)}, 400, "Metadata value longer than 256: X-Object-Meta-Big"},
		{"POST", acct + "/c", []string{"X-Container-Meta-Big", strings.Repeat("v", 8193)}, 400, "Header value too long: X-Container-Meta-Big"},
		{"GET", acct + "/c/%FF", nil, 412, "Invalid UTF8 or contains NULL"},
		{"GET", acct + "/c/a%00b", nil, 412, "Invalid UTF8 or contains NULL"},
		{"GET", "/v2/AUTH_a/c", nil, 400, ""},
		{"GET", "/v1//c", nil, 404, ""},
		{"GET", acct + "/c/../../etc/passwd", nil, 404, ""},
		{"PUT", acct + "/c/o", []string{"X-Delete-After", "soon"}, 400, "Non-integer X-Delete-After"},
		{"PUT", acct + "/c/o", []string{"X-Delete-At", "1"}, 400, "X-Delete-At in past"},
		{"PUT", acct + "/c", []string{"X-Storage-Policy", "gold"}, 400, "Invalid X-Storage-Policy 'gold'"},
		{"GET", acct + "/c?limit=10001", nil, 412, "Maximum limit is 10000"},
		{"GET", acct + "/c", []string{"Accept", "image/png"}, 406, ""},
		{"COPY", acct + "/c/o", nil, 412, "Destination header required"},
		{"COPY", acct + "/c/o", []string{"Destination", "nocontainer"}, 412, "Destination header must be of the form <container name>/<object name>"},
		{"PUT", acct + "/c/o", []string{"X-Copy-From", "c/missing"}, 404, ""},
		{"PATCH", acct + "/c/o", nil, 405, ""},
	} {
		r := c.do("a-member", tc.method, tc.path, "", tc.headers...)
		if r.status != tc.status || (tc.body != "" && r.body != tc.body) {
			t.Errorf("%s %.60s: %d %q, want %d %q", tc.method, tc.path, r.status, r.body, tc.status, tc.body)
		}
	}
	// too many metadata items
	var hs []string
	for i := range 91 {
		hs = append(hs, fmt.Sprintf("X-Object-Meta-K%d", i), "v")
	}
	if r := c.do("a-member", "PUT", acct+"/c/o", "", hs...); r.status != 400 || r.body != "Too many metadata items; max 90" {
		t.Errorf("91 metadata items: %d %q", r.status, r.body)
	}
	// a body shorter than its Content-Length is never stored
	req, _ := http.NewRequest("PUT", c.url+acct+"/c/short", io.LimitReader(strings.NewReader(strings.Repeat("x", 100)), 10))
	req.ContentLength = 100
	req.Header.Set("X-Auth-Token", "a-member")
	if res, err := http.DefaultClient.Do(req); err == nil {
		res.Body.Close()
	}
	c.expect("a-member", "GET", acct+"/c/short", "", 404)
	r := c.expect("", "GET", "/info", "", 200)
	var info map[string]map[string]any
	if err := json.Unmarshal([]byte(r.body), &info); err != nil || info["swift"]["max_file_size"] != float64(5368709122) {
		t.Fatalf("/info %s", r.body)
	}
	c.expect("", "GET", "/healthcheck", "", 200)
}

// TestObjectStoreDeviceDown: with one of three devices gone (an unmounted disk
// answers 507), writes still reach a quorum and reads fall back to another
// replica.
func TestObjectStoreDeviceDown(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	c.expect("a-member", "PUT", acct+"/c/before", "old", 201)
	d2 := filepath.Join(c.dir, "devices", "d2")
	if err := os.Rename(d2, d2+".unmounted"); err != nil {
		t.Fatal(err)
	}
	c.expect("a-member", "PUT", acct+"/c/during", "new", 201)
	if r := c.expect("a-member", "GET", acct+"/c/during", "", 200, "X-Newest", "true"); r.body != "new" {
		t.Fatalf("X-Newest GET: %q", r.body)
	}
	for range 5 { // every replica order the shuffle may pick
		if r := c.expect("a-member", "GET", acct+"/c/before", "", 200); r.body != "old" {
			t.Fatalf("GET %q", r.body)
		}
		c.expect("a-member", "GET", acct+"/c/during", "", 200)
	}
	r := c.expect("a-member", "GET", acct+"/c", "", 200)
	if r.body != "before\nduring\n" {
		t.Fatalf("listing %q", r.body)
	}
	d3 := filepath.Join(c.dir, "devices", "d3")
	if err := os.Rename(d3, d3+".unmounted"); err != nil {
		t.Fatal(err)
	}
	// one replica of three is no quorum
	c.expect("a-member", "PUT", acct+"/c/lost", "x", 503)
	if r := c.expect("a-member", "GET", acct+"/c/before", "", 200); r.body != "old" {
		t.Fatalf("GET with one replica left: %q", r.body)
	}
}

// TestObjectStoreHandoffs: with four devices and three replicas, a write whose
// primaries are down lands on the handoff device, and reads find it there.
func TestObjectStoreHandoffs(t *testing.T) {
	c := startClusterWith(t, 4)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	suffix, err := os.ReadFile(filepath.Join(c.dir, "hash_path_suffix"))
	if err != nil {
		t.Fatal(err)
	}
	rg, err := ring.Load(filepath.Join(c.dir, "rings", "object.ring.gz"), "", strings.TrimSpace(string(suffix)))
	if err != nil {
		t.Fatal(err)
	}
	part := rg.Partition("AUTH_a", "c", "o")
	primaries, handoffs := rg.Nodes(part), rg.Handoffs(part)
	if len(primaries) != 3 || len(handoffs) != 1 {
		t.Fatalf("%d primaries, %d handoffs", len(primaries), len(handoffs))
	}
	// two primaries down: the third and the handoff make the quorum
	for _, d := range primaries[:2] {
		dir := filepath.Join(c.dir, "devices", d.Name)
		if err := os.Rename(dir, dir+".unmounted"); err != nil {
			t.Fatal(err)
		}
	}
	c.expect("a-member", "PUT", acct+"/c/o", "handed off", 201)
	for _, d := range []string{primaries[2].Name, handoffs[0].Name} {
		files, _ := filepath.Glob(filepath.Join(c.dir, "devices", d, "objects", "*", "*", "*", "*.data"))
		if len(files) != 1 {
			t.Fatalf("device %s holds %v, want the object", d, files)
		}
	}
	// the last primary down too: only the handoff has it
	dir := filepath.Join(c.dir, "devices", primaries[2].Name)
	if err := os.Rename(dir, dir+".unmounted"); err != nil {
		t.Fatal(err)
	}
	if r := c.expect("a-member", "GET", acct+"/c/o", "", 200); r.body != "handed off" {
		t.Fatalf("GET from the handoff: %q", r.body)
	}
}

// TestObjectStoreStorageNode: a storage node running apart joins the
// all-in-one's object ring (nimbus ring add, rebalance), and after the proxy's
// restart objects land on its device too.
func TestObjectStoreStorageNode(t *testing.T) {
	dir := t.TempDir()
	c, stop := startClusterIn(t, dir, 3)
	c.expect("a-member", "PUT", "/v1/AUTH_a/c", "", 201)
	stop()
	suffix, err := ReadHashPathSuffix(dir)
	if err != nil {
		t.Fatal(err)
	}
	devices := t.TempDir()
	if err := os.Mkdir(filepath.Join(devices, "sdb"), 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := StartStorageNode(NodeOptions{Devices: devices, HashPathSuffix: suffix, Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, len(n.Servers))
	for _, s := range n.Servers {
		go func() {
			_ = httpapi.Serve(ctx, s.Listener, s.Handler, slog.New(slog.DiscardHandler))
			done <- struct{}{}
		}()
	}
	t.Cleanup(func() {
		cancel()
		for range n.Servers {
			<-done
		}
		n.Close()
	})
	builder := filepath.Join(dir, "rings", "object.builder")
	b, err := ring.LoadBuilder(builder)
	if err != nil {
		t.Fatal(err)
	}
	port := n.Servers[0].Listener.Addr().(*net.TCPAddr).Port
	if _, err := b.AddDevice(ring.Device{Region: 1, Zone: 4, IP: "127.0.0.1", Port: port, Name: "sdb", Weight: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Rebalance(); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(builder); err != nil {
		t.Fatal(err)
	}
	c, _ = startClusterIn(t, dir, 3)
	for i := range 20 {
		c.expect("a-member", "PUT", fmt.Sprintf("/v1/AUTH_a/c/o%d", i), "spread", 201)
	}
	files, _ := filepath.Glob(filepath.Join(devices, "sdb", "objects", "*", "*", "*", "*.data"))
	// the new device holds a quarter of the partitions: some of 20 objects
	if len(files) == 0 {
		t.Fatal("no object reached the storage node's device")
	}
	for i := range 20 {
		c.expect("a-member", "GET", fmt.Sprintf("/v1/AUTH_a/c/o%d", i), "", 200)
	}
	r := c.expect("a-member", "GET", "/v1/AUTH_a/c?limit=3", "", 200)
	if r.body != "o0\no1\no10\n" {
		t.Fatalf("listing %q", r.body)
	}
}

// tempURL signs method on path until expires with key, as swift tempurl does.
func tempURL(key, method, path string, expires int64) string {
	mac := hmac.New(sha256.New, []byte(key))
	fmt.Fprintf(mac, "%s\n%d\n%s", method, expires, path)
	return fmt.Sprintf("%s?temp_url_sig=%s&temp_url_expires=%d", path, hex.EncodeToString(mac.Sum(nil)), expires)
}

func TestObjectStoreTempURL(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "POST", acct, "", 204, "X-Account-Meta-Temp-URL-Key", "secret")
	c.expect("a-member", "PUT", acct+"/c", "", 201, "X-Container-Meta-Temp-URL-Key", "csecret")
	c.expect("a-member", "PUT", acct+"/c/dir/report.pdf", "pdf bytes", 201, "X-Object-Meta-Private", "x")
	future := time.Now().Add(time.Hour).Unix()
	obj := acct + "/c/dir/report.pdf"
	r := c.expect("", "GET", tempURL("secret", "GET", obj, future), "", 200)
	if r.body != "pdf bytes" || r.header.Get("Content-Disposition") != `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf` ||
		r.header.Get("X-Object-Meta-Private") != "" || r.header.Get("Expires") == "" {
		t.Fatalf("temp URL GET: %q %v", r.body, r.header)
	}
	c.expect("", "GET", tempURL("csecret", "GET", obj, future), "", 200) // the container's key
	c.expect("", "HEAD", tempURL("secret", "GET", obj, future), "", 200) // HEAD with a GET signature
	c.expect("", "GET", tempURL("secret", "GET", obj, future)+"&inline", "", 200)
	r = c.expect("", "GET", tempURL("wrong", "GET", obj, future), "", 401)
	if r.body != "401 Unauthorized: Temp URL invalid\n" {
		t.Fatalf("invalid temp URL body %q", r.body)
	}
	c.expect("", "GET", tempURL("secret", "GET", obj, time.Now().Add(-time.Minute).Unix()), "", 401)
	c.expect("", "DELETE", tempURL("secret", "GET", obj, future), "", 401) // signed for another method
	c.expect("", "GET", tempURL("secret", "GET", acct+"/c/other", future)+"x", "", 401)
	c.expect("", "GET", obj+"?temp_url_sig=abc&temp_url_expires=1", "", 401)
	// a signed PUT uploads without a token
	c.expect("", "PUT", tempURL("secret", "PUT", acct+"/c/upload", future), "up", 201)
	c.expect("a-member", "GET", acct+"/c/upload", "", 200)
	// the keys are the owner's to see
	if r := c.expect("a-reader", "HEAD", acct, "", 204); r.header.Get("X-Account-Meta-Temp-Url-Key") != "" {
		t.Fatal("a reader sees the account's temp URL key")
	}
	if r := c.expect("a-member", "HEAD", acct, "", 204); r.header.Get("X-Account-Meta-Temp-Url-Key") != "secret" {
		t.Fatal("the owner does not see the account's temp URL key")
	}
}

func TestObjectStoreBulkDelete(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c1", "", 201)
	c.expect("a-member", "PUT", acct+"/c2", "", 201)
	c.expect("a-member", "PUT", acct+"/c1/o%201", "x", 201)
	c.expect("a-member", "PUT", acct+"/c1/dir/o2", "x", 201)
	c.expect("a-member", "PUT", acct+"/c2/keep", "x", 201)
	body := "/c1/o%201\nc1/dir/o2\n/c1/missing\n/c1\n/c2\n"
	r := c.expect("a-member", "POST", acct+"?bulk-delete", body, 200, "Accept", "application/json", "Content-Type", "text/plain")
	var summary struct {
		Deleted  int        `json:"Number Deleted"`
		NotFound int        `json:"Number Not Found"`
		Status   string     `json:"Response Status"`
		Errors   [][]string `json:"Errors"`
	}
	if err := json.Unmarshal([]byte(r.body), &summary); err != nil {
		t.Fatalf("bulk delete answer %q: %v", r.body, err)
	}
	// c2 still holds an object: 409, the rest deleted or not found
	if summary.Deleted != 3 || summary.NotFound != 1 || summary.Status != "400 Bad Request" ||
		len(summary.Errors) != 1 || summary.Errors[0][0] != "/c2" || summary.Errors[0][1] != "409 Conflict" {
		t.Fatalf("bulk delete summary %+v", summary)
	}
	c.expect("a-member", "GET", acct+"/c1", "", 404)
	c.expect("a-member", "GET", acct+"/c2/keep", "", 200)
	r = c.expect("a-member", "DELETE", acct+"?bulk-delete", "/c2/keep\n/c2\n", 200)
	if !strings.HasPrefix(r.body, "Number Deleted: 2\nNumber Not Found: 0\nResponse Body: \nResponse Status: 200 OK\nErrors:\n") {
		t.Fatalf("plain bulk delete answer %q", r.body)
	}
	// another project's objects stay: each delete is refused on its own
	c.expect("a-member", "PUT", acct+"/c3", "", 201)
	r = c.expect("b-member", "POST", acct+"?bulk-delete", "/c3\n", 200)
	if !strings.Contains(r.body, "Response Status: 400 Bad Request") || !strings.Contains(r.body, "/c3, 403 Forbidden\n") {
		t.Fatalf("another project's bulk delete: %q", r.body)
	}
	c.expect("a-member", "HEAD", acct+"/c3", "", 204)
}

func TestObjectStoreDynamicLargeObject(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/c", "", 201)
	c.expect("a-member", "PUT", acct+"/c_segments", "", 201)
	parts := []string{"first-", "second-", "", "third"}
	sum := md5.New()
	for i, part := range parts {
		c.expect("a-member", "PUT", fmt.Sprintf("%s/c_segments/big/%08d", acct, i), part, 201)
		s := md5.Sum([]byte(part))
		sum.Write([]byte(hex.EncodeToString(s[:])))
	}
	c.expect("a-member", "PUT", acct+"/c/big", "", 201, "X-Object-Manifest", "c_segments/big/", "Content-Type", "text/plain")
	etag := `"` + hex.EncodeToString(sum.Sum(nil)) + `"`
	r := c.expect("a-member", "GET", acct+"/c/big", "", 200)
	if r.body != "first-second-third" || r.header.Get("Etag") != etag || r.header.Get("Content-Type") != "text/plain" {
		t.Fatalf("DLO GET: %q %v", r.body, r.header)
	}
	r = c.expect("a-member", "HEAD", acct+"/c/big", "", 200)
	if r.header.Get("Content-Length") != "18" {
		t.Fatalf("DLO HEAD: %v", r.header)
	}
	for rng, want := range map[string]string{"bytes=3-9": "st-seco", "bytes=-5": "third", "bytes=13-": "third", "bytes=0-0": "f"} {
		if r := c.expect("a-member", "GET", acct+"/c/big", "", 206, "Range", rng); r.body != want {
			t.Errorf("DLO %s: %q, want %q", rng, r.body, want)
		}
	}
	c.expect("a-member", "GET", acct+"/c/big", "", 416, "Range", "bytes=18-")
	c.expect("a-member", "GET", acct+"/c/big", "", 304, "If-None-Match", etag)
	if r := c.expect("a-member", "GET", acct+"/c/big?multipart-manifest=get", "", 200); r.body != "" {
		t.Fatalf("the manifest itself: %q", r.body)
	}
	// read access to the manifest's container is not access to the segments'
	c.expect("a-member", "POST", acct+"/c", "", 204, "X-Container-Read", "b:*")
	c.expect("b-member", "GET", acct+"/c/big", "", 403)
}

func TestObjectStoreContainerQuotas(t *testing.T) {
	c := startCluster(t)
	const acct = "/v1/AUTH_a"
	c.expect("a-member", "PUT", acct+"/q", "", 400, "X-Container-Meta-Quota-Bytes", "ten")
	c.expect("a-member", "PUT", acct+"/q", "", 201, "X-Container-Meta-Quota-Bytes", "10", "X-Container-Meta-Quota-Count", "2")
	c.expect("a-member", "POST", acct+"/q", "", 400, "X-Container-Meta-Quota-Count", "-1")
	c.expect("a-member", "PUT", acct+"/q/a", "123456", 201)
	if r := c.expect("a-member", "PUT", acct+"/q/b", "123456", 413); r.body != "Upload exceeds quota." {
		t.Fatalf("over the bytes quota: %q", r.body)
	}
	c.expect("a-member", "PUT", acct+"/q/b", "1234", 201)
	c.expect("a-member", "PUT", acct+"/q/c", "", 413) // over the count quota
}

// serve serves the all-in-one a until tb ends or stop (idempotent) is called.
func serve(tb testing.TB, a *AllInOne) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, s := range a.Servers {
		wg.Go(func() { _ = httpapi.Serve(ctx, s.Listener, s.Handler, slog.New(slog.DiscardHandler)) })
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			a.CloseIdleConnections()
			http.DefaultClient.CloseIdleConnections()
			cancel()
			wg.Wait()
			a.Close()
		})
	}
	tb.Cleanup(stop)
	return stop
}
