package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestObjectStoreCLI drives the object store with the real openstack and swift
// CLIs as the demo user: containers and objects created, listed, shown,
// downloaded (bytes identical), copied and deleted, metadata posted, listings
// with prefix and delimiter, a temp URL fetched with plain HTTP; another
// project reads only what an ACL opens.
func TestObjectStoreCLI(t *testing.T) {
	// only the demo account's own containers, and the account's temp URL key
	// that no other test sets: it runs beside the other parallel tests
	t.Parallel()
	c := shared
	const demo = "nimbus-demo"
	dir := t.TempDir()
	data := make([]byte, 3<<20+17)
	_, _ = rand.Read(data)
	sum := md5.Sum(data)
	etag := hex.EncodeToString(sum[:])
	in := filepath.Join(dir, "data.bin")
	if err := os.WriteFile(in, data, 0o600); err != nil {
		t.Fatal(err)
	}

	// openstack container / object
	name := uniqueName("cli-container")
	OS(t, c, demo, "container", "create", name)
	t.Cleanup(func() { _, _ = c.OpenStack(context.Background(), demo, "container", "delete", "--recursive", name) })
	var containers []row
	OSJSON(t, c, demo, &containers, "container", "list")
	if _, ok := findRow(containers, "Name", name); !ok {
		t.Fatalf("container list lacks %s: %v", name, containers)
	}
	var created []row
	OSJSON(t, c, demo, &created, "object", "create", "--name", "dir/data.bin", name, in)
	if len(created) != 1 || str(created[0], "etag") != etag {
		t.Fatalf("object create: %v", created)
	}
	var obj row
	OSJSON(t, c, demo, &obj, "object", "show", name, "dir/data.bin")
	wantField(t, "object show", obj, "etag", etag)
	wantField(t, "object show", obj, "content-length", fmt.Sprint(len(data)))
	var objects []row
	OSJSON(t, c, demo, &objects, "object", "list", name)
	if _, ok := findRow(objects, "Name", "dir/data.bin"); !ok || len(objects) != 1 {
		t.Fatalf("object list: %v", objects)
	}
	var cont row
	OSJSON(t, c, demo, &cont, "container", "show", name)
	wantField(t, "container show", cont, "object_count", "1")
	wantField(t, "container show", cont, "bytes_used", fmt.Sprint(len(data)))
	out := filepath.Join(dir, "saved.bin")
	OS(t, c, demo, "object", "save", "--file", out, name, "dir/data.bin")
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object save: %d bytes (err %v), want the %d uploaded", len(got), err, len(data))
	}
	OS(t, c, demo, "object", "delete", name, "dir/data.bin")
	OSJSON(t, c, demo, &objects, "object", "list", name)
	if len(objects) != 0 {
		t.Fatalf("object list after delete: %v", objects)
	}
	OS(t, c, demo, "container", "delete", name)
	OSJSON(t, c, demo, &containers, "container", "list")
	if _, ok := findRow(containers, "Name", name); ok {
		t.Fatalf("container list still has %s", name)
	}

	// swift
	up := filepath.Join(dir, "up")
	tree := map[string][]byte{"tree/a.txt": []byte("alpha\n"), "tree/sub/b.bin": data, "tree/sub/deeper/c.txt": []byte("gamma")}
	for rel, content := range tree {
		p := filepath.Join(up, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sw := uniqueName("swift-container")
	swift(t, c, up, "post", sw, "-m", "color:blue")
	t.Cleanup(func() { _, _ = runSwift(c, up, "delete", sw) })
	if stat := swift(t, c, up, "stat", sw); !strings.Contains(stat, "Meta Color: blue") || !strings.Contains(stat, "Objects: 0") {
		t.Fatalf("swift stat %s:\n%s", sw, stat)
	}
	swift(t, c, up, "upload", sw, "tree")
	if got := swift(t, c, up, "list", sw); got != "tree/a.txt\ntree/sub/b.bin\ntree/sub/deeper/c.txt\n" {
		t.Fatalf("swift list:\n%s", got)
	}
	if got := swift(t, c, up, "list", sw, "--prefix", "tree/", "--delimiter", "/"); got != "tree/a.txt\ntree/sub/\n" {
		t.Fatalf("swift list --prefix tree/ --delimiter /:\n%s", got)
	}
	if got := swift(t, c, up, "list", sw, "--prefix", "tree/sub/"); got != "tree/sub/b.bin\ntree/sub/deeper/c.txt\n" {
		t.Fatalf("swift list --prefix tree/sub/:\n%s", got)
	}
	if stat := swift(t, c, up, "stat", sw, "tree/sub/b.bin"); !strings.Contains(stat, "ETag: "+etag) {
		t.Fatalf("swift stat object:\n%s", stat)
	}
	down := filepath.Join(dir, "down")
	swift(t, c, up, "download", sw, "-D", down)
	for rel, content := range tree {
		if got, err := os.ReadFile(filepath.Join(down, rel)); err != nil || !bytes.Equal(got, content) {
			t.Fatalf("swift download %s: %d bytes (err %v), want %d", rel, len(got), err, len(content))
		}
	}
	// server-side copy
	swift(t, c, up, "copy", "--destination", "/"+sw+"/copy-of-a.txt", sw, "tree/a.txt")
	if got := swift(t, c, up, "download", sw, "copy-of-a.txt", "-o", "-"); got != "alpha\n" {
		t.Fatalf("swift copy, then download: %q", got)
	}
	swift(t, c, up, "delete", sw, "copy-of-a.txt")
	// the account sees the container's objects (the container servers report
	// their stats a moment after the writes)
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat := swift(t, c, up, "stat")
		if strings.Contains(stat, "Containers:") && strings.Contains(swift(t, c, up, "list"), sw+"\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("swift stat / list of the account lacks %s:\n%s", sw, stat)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// a temp URL fetches an object with plain HTTP, without a token
	swift(t, c, up, "post", "-m", "Temp-URL-Key:e2e-secret")
	objPath := storageURLPath(t, c, up) + "/" + sw + "/tree/a.txt"
	signed := strings.TrimSpace(swift(t, c, up, "tempurl", "GET", "600", objPath, "e2e-secret"))
	res, err := http.Get(storageOrigin(t, c, up) + signed)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != "alpha\n" {
		t.Fatalf("GET %s: %d %q", signed, res.StatusCode, body)
	}
	if res, err := http.Get(storageOrigin(t, c, up) + strings.Replace(signed, "temp_url_sig=", "temp_url_sig=0", 1)); err != nil ||
		res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a forged temp URL: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	// a large object in segments (a dynamic large object: X-Object-Manifest)
	if err := os.WriteFile(filepath.Join(up, "big.bin"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = runSwift(c, up, "delete", sw+"_segments") })
	swift(t, c, up, "upload", "--segment-size", "1048576", sw, "big.bin")
	if segs := swift(t, c, up, "list", sw+"_segments"); strings.Count(segs, "\n") != 4 {
		t.Fatalf("segments of a 3 MiB upload in 1 MiB segments:\n%s", segs)
	}
	bigOut := filepath.Join(dir, "big.out")
	swift(t, c, up, "download", sw, "big.bin", "-o", bigOut)
	if got, err := os.ReadFile(bigOut); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("swift download of the segmented object: %d bytes (err %v), want %d", len(got), err, len(data))
	}
	swift(t, c, up, "delete", sw, "big.bin")
	// another project's user (admin) cannot read the demo project's container
	// until its ACL says so
	auth := swift(t, c, up, "auth")
	storageURL := ""
	for _, line := range strings.Split(auth, "\n") {
		if v, ok := strings.CutPrefix(line, "export OS_STORAGE_URL="); ok {
			storageURL = strings.Trim(v, `'"`)
		}
	}
	if !strings.Contains(storageURL, "/v1/AUTH_") {
		t.Fatalf("swift auth:\n%s", auth)
	}
	if out, err := runSwiftAs(c, "admin-openrc", up, "--os-storage-url", storageURL, "list", sw); err == nil ||
		!strings.Contains(err.Error(), "403") {
		t.Fatalf("admin lists the demo project's container without an ACL: %v\n%s", err, out)
	}
	var adminProject row
	OSJSON(t, c, "nimbus-admin", &adminProject, "project", "show", "admin")
	swift(t, c, up, "post", sw, "-r", str(adminProject, "id")+":*")
	if got, err := runSwiftAs(c, "admin-openrc", up, "--os-storage-url", storageURL, "list", sw); err != nil ||
		!strings.Contains(got, "tree/a.txt") {
		t.Fatalf("admin lists the container its ACL opens: %v\n%s", err, got)
	}
	if _, err := runSwiftAs(c, "admin-openrc", up, "--os-storage-url", storageURL, "delete", sw, "tree/a.txt"); err == nil {
		t.Fatal("a read ACL let another project delete")
	}
	swift(t, c, up, "delete", sw, "tree/a.txt")
	if got := swift(t, c, up, "list", sw); got != "tree/sub/b.bin\ntree/sub/deeper/c.txt\n" {
		t.Fatalf("swift list after deleting one object:\n%s", got)
	}
	swift(t, c, up, "delete", sw)
	if got := swift(t, c, up, "list"); strings.Contains(got, sw+"\n") {
		t.Fatalf("swift list still has %s:\n%s", sw, got)
	}
}

// storageURL is the demo project's object-store URL, as swift auth prints it.
func storageURL(t *testing.T, c *Cloud, dir string) *url.URL {
	t.Helper()
	for _, line := range strings.Split(swift(t, c, dir, "auth"), "\n") {
		if v, ok := strings.CutPrefix(line, "export OS_STORAGE_URL="); ok {
			u, err := url.Parse(strings.Trim(v, `'"`))
			if err != nil {
				t.Fatal(err)
			}
			return u
		}
	}
	t.Fatal("swift auth printed no OS_STORAGE_URL")
	return nil
}

func storageURLPath(t *testing.T, c *Cloud, dir string) string { return storageURL(t, c, dir).Path }

func storageOrigin(t *testing.T, c *Cloud, dir string) string {
	u := storageURL(t, c, dir)
	return u.Scheme + "://" + u.Host
}

// swift runs the swift CLI as the demo user in dir and fails the test on error.
func swift(t *testing.T, c *Cloud, dir string, args ...string) string {
	t.Helper()
	out, err := runSwift(c, dir, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runSwift runs the swift CLI with the environment of the cloud's demo-openrc
// (python-swiftclient reads OS_* variables, not clouds.yaml).
func runSwift(c *Cloud, dir string, args ...string) (string, error) {
	return runSwiftAs(c, "demo-openrc", dir, args...)
}

// runSwiftAs runs the swift CLI with the environment of one of the cloud's
// openrc files.
func runSwiftAs(c *Cloud, openrc, dir string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rc, err := os.ReadFile(filepath.Join(c.Dir, openrc))
	if err != nil {
		return "", err
	}
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OS_") {
			env = append(env, kv)
		}
	}
	for _, line := range strings.Split(string(rc), "\n") {
		if kv, ok := strings.CutPrefix(line, "export OS_"); ok {
			k, v, _ := strings.Cut(kv, "=")
			env = append(env, "OS_"+k+"="+strings.Trim(v, `'"`))
		}
	}
	var stdout, stderr bytes.Buffer
	if err := swiftCLI.run(ctx, dir, args, env, &stdout, &stderr); err != nil {
		return stdout.String(), fmt.Errorf("swift %s: %w: %s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}
