package image

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestVersionsSchemasInfo(t *testing.T) {
	e := newTestEnv(t, nil)
	status, body, _, _ := e.Do("GET", "/", "", nil, nil)
	if status != http.StatusMultipleChoices {
		t.Fatalf("GET /: %d", status)
	}
	vs := body["versions"].([]any)
	if len(vs) != 17 || vs[0].(map[string]any)["id"] != "v2.16" || vs[0].(map[string]any)["status"] != "CURRENT" {
		t.Fatalf("versions: %v", vs)
	}
	if ok := e.Must(http.StatusOK, "GET", "/versions", "", nil); len(ok["versions"].([]any)) != 17 {
		t.Fatalf("GET /versions: %v", ok)
	}
	// one store, its default flag a string as upstream's
	if stores := e.Must(http.StatusOK, "GET", "/v2/info/stores", e.DemoToken, nil)["stores"].([]any); stores[0].(map[string]any)["default"] != "true" {
		t.Fatalf("stores: %v", stores)
	}
	for _, p := range []string{"/v2/schemas/image", "/v2/schemas/images", "/v2/schemas/member", "/v2/schemas/members"} {
		out := e.Must(http.StatusOK, "GET", p, e.DemoToken, nil)
		if out["name"] != strings.TrimPrefix(p, "/v2/schemas/") || out["properties"] == nil {
			t.Fatalf("%s: %v", p, out)
		}
	}
	stores := e.Must(http.StatusOK, "GET", "/v2/info/stores", e.DemoToken, nil)
	if fmt.Sprint(stores["stores"]) != "[map[default:true description:Filesystem store id:file]]" {
		t.Fatalf("stores: %v", stores)
	}
	imp := e.Must(http.StatusOK, "GET", "/v2/info/import", e.DemoToken, nil)
	if fmt.Sprint(imp["import-methods"].(map[string]any)["value"]) != "[glance-direct web-download]" {
		t.Fatalf("import: %v", imp)
	}
	e.Must(http.StatusUnauthorized, "GET", "/v2/images", "", nil)
}

func TestCreateShowDefaults(t *testing.T) {
	e := newTestEnv(t, nil)
	out := e.Must(http.StatusCreated, "POST", "/v2/images", e.DemoToken, map[string]any{
		"name": "cirros", "disk_format": "qcow2", "container_format": "bare", "min_ram": 64,
		"tags": []string{"a", "b"}, "hw_disk_bus": "virtio", "kernel_id": "1f0c7a3e-6b1e-4c55-9a77-1e4a0d9f7e10"})
	id := out["id"].(string)
	want := map[string]any{"name": "cirros", "status": "queued", "visibility": "shared", "protected": false,
		"disk_format": "qcow2", "container_format": "bare", "size": nil, "checksum": nil, "min_ram": float64(64),
		"min_disk": float64(0), "owner": e.DemoProject, "hw_disk_bus": "virtio", "kernel_id": "1f0c7a3e-6b1e-4c55-9a77-1e4a0d9f7e10",
		"file": "/v2/images/" + id + "/file", "self": "/v2/images/" + id, "schema": "/v2/schemas/image",
		"os_hash_algo": nil, "os_hash_value": nil, "virtual_size": nil}
	show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
	for k, v := range want {
		if fmt.Sprint(show[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, show[k], v)
		}
	}
	if fmt.Sprint(show["tags"]) != "[a b]" || show["created_at"] == nil {
		t.Errorf("show: %v", show)
	}
	// given id
	given := "11111111-2222-4333-8444-555555555555"
	e.Must(http.StatusCreated, "POST", "/v2/images", e.DemoToken, map[string]any{"id": given})
	e.Must(http.StatusConflict, "POST", "/v2/images", e.DemoToken, map[string]any{"id": given})
}

// TestCreateHeaders: as upstream's ResponseSerializer.create, the 201 says where the
// image is and which import methods it accepts (gophercloud reads both).
func TestCreateHeaders(t *testing.T) {
	e := newTestEnv(t, nil)
	status, out, data, h := e.Do("POST", "/v2/images", e.DemoToken, map[string]any{"name": "h"}, nil)
	if status != http.StatusCreated {
		t.Fatalf("create: %d %s", status, data)
	}
	for _, tc := range []struct{ header, want string }{
		{"Location", "/v2/images/" + fmt.Sprint(out["id"])},
		{"OpenStack-image-import-methods", "glance-direct,web-download"},
	} {
		if got := h.Get(tc.header); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.header, got, tc.want)
		}
	}
}

func TestBadInputs(t *testing.T) {
	e := newTestEnv(t, nil)
	for _, tc := range []struct {
		name string
		body any
		want int
	}{
		{"unknown disk_format", map[string]any{"disk_format": "floppy"}, 400},
		{"unknown container_format", map[string]any{"container_format": "zip"}, 400},
		{"bad visibility", map[string]any{"visibility": "everyone"}, 400},
		{"negative min_ram", map[string]any{"min_ram": -1}, 400},
		{"non-string property", map[string]any{"foo": 3}, 400},
		{"read-only status", map[string]any{"status": "active"}, 403},
		{"read-only size", map[string]any{"size": 3}, 403},
		{"reserved", map[string]any{"deleted": "x"}, 403},
		{"public needs admin", map[string]any{"visibility": "public"}, 403},
		{"bad id", map[string]any{"id": "nope"}, 400},
		{"malformed JSON", []byte("{"), 400},
		{"name too long", map[string]any{"name": strings.Repeat("n", 256)}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body any = tc.body
			if b, ok := tc.body.([]byte); ok {
				body = io.NopCloser(bytes.NewReader(b))
			}
			status, _, data, _ := e.Do("POST", "/v2/images", e.DemoToken, body, map[string]string{"Content-Type": "application/json"})
			if status != tc.want {
				t.Fatalf("status %d, want %d: %s", status, tc.want, data)
			}
		})
	}
	e.Must(http.StatusCreated, "POST", "/v2/images", e.DemoToken, map[string]any{"visibility": "community"})
	e.Must(http.StatusCreated, "POST", "/v2/images", e.AdminToken, map[string]any{"visibility": "public"})
	e.Must(http.StatusNotFound, "GET", "/v2/images/00000000-0000-4000-8000-000000000000", e.DemoToken, nil)
}

func TestListFilterSortPage(t *testing.T) {
	e := newTestEnv(t, nil)
	var made []string
	for i, spec := range []struct {
		name, disk string
		tags       []string
	}{{"c", "qcow2", []string{"x"}}, {"a", "raw", []string{"x", "y"}}, {"b", "qcow2", nil}, {"d", "iso", nil}} {
		body := map[string]any{"name": spec.name, "disk_format": spec.disk, "container_format": "bare", "os_distro": "debian"}
		if spec.tags != nil {
			body["tags"] = spec.tags
		}
		if i == 3 {
			body["os_distro"] = "cirros"
		}
		made = append(made, e.Create(e.DemoToken, body))
		time.Sleep(1100 * time.Millisecond / 4)
	}
	names := func(q string) string {
		t.Helper()
		out := e.Must(http.StatusOK, "GET", "/v2/images"+q, e.DemoToken, nil)
		var n []string
		for _, im := range out["images"].([]any) {
			n = append(n, im.(map[string]any)["name"].(string))
		}
		return strings.Join(n, ",")
	}
	for _, tc := range []struct{ q, want string }{
		{"?sort_key=name&sort_dir=asc", "a,b,c,d"},
		{"?sort=name:desc", "d,c,b,a"},
		{"?sort=disk_format:asc,name:desc", "d,c,b,a"},
		{"?disk_format=qcow2&sort=name:asc", "b,c"},
		{"?tag=x&sort=name:asc", "a,c"},
		{"?tag=x&tag=y", "a"},
		{"?name=b", "b"},
		{"?os_distro=cirros", "d"},
		{"?status=active", ""},
		{"?visibility=private", ""},
	} {
		if got := names(tc.q); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.q, got, tc.want)
		}
	}
	e.Must(http.StatusBadRequest, "GET", "/v2/images?sort_key=bogus", e.DemoToken, nil)
	e.Must(http.StatusBadRequest, "GET", "/v2/images?sort_dir=up", e.DemoToken, nil)
	e.Must(http.StatusBadRequest, "GET", "/v2/images?sort=name&sort_key=name", e.DemoToken, nil)
	e.Must(http.StatusBadRequest, "GET", "/v2/images?limit=-1", e.DemoToken, nil)
	// an unknown marker is a 400, as upstream (its NotFound caught in index)
	e.Must(http.StatusBadRequest, "GET", "/v2/images?marker=00000000-0000-4000-8000-000000000000", e.DemoToken, nil)

	// paging with next links until exhausted
	var seen []string
	path := "/v2/images?limit=3&sort=name:asc"
	for path != "" {
		out := e.Must(http.StatusOK, "GET", path, e.DemoToken, nil)
		if out["schema"] != "/v2/schemas/images" || out["first"] == nil {
			t.Fatalf("list: %v", out)
		}
		seen = append(seen, ids(out)...)
		path, _ = out["next"].(string)
	}
	if len(seen) != 4 {
		t.Fatalf("paged %d images, want 4", len(seen))
	}
	slices.Sort(made)
	slices.Sort(seen)
	if !slices.Equal(made, seen) {
		t.Fatalf("paged %v, want %v", seen, made)
	}
}

func upload(e *testEnv, id, token string, data []byte) (int, []byte) {
	status, _, body, _ := e.Do("PUT", "/v2/images/"+id+"/file", token, data, nil)
	return status, body
}

func TestUploadDownload(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.Create(e.DemoToken, map[string]any{"name": "disk", "disk_format": "raw", "container_format": "bare"})
	// queued image has no data: 204 as upstream
	if status, _, _, _ := e.Do("GET", "/v2/images/"+id+"/file", e.DemoToken, nil, nil); status != http.StatusNoContent {
		t.Fatalf("download queued: %d", status)
	}
	data := make([]byte, 3<<20+17)
	_, _ = rand.Read(data)
	data[510] = 0 // never an MBR signature: the data is a raw disk
	if status, body := upload(e, id, e.DemoToken, data); status != http.StatusNoContent {
		t.Fatalf("upload: %d %s", status, body)
	}
	md := md5.Sum(data)
	sh := sha512.Sum512(data)
	show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
	if show["status"] != "active" || show["size"] != float64(len(data)) || show["checksum"] != hex.EncodeToString(md[:]) ||
		show["os_hash_algo"] != "sha512" || show["os_hash_value"] != hex.EncodeToString(sh[:]) {
		t.Fatalf("after upload: %v", show)
	}
	status, _, got, hdr := e.Do("GET", "/v2/images/"+id+"/file", e.DemoToken, nil, nil)
	if status != 200 || !bytes.Equal(got, data) || hdr.Get("Content-MD5") != hex.EncodeToString(md[:]) ||
		hdr.Get("Content-Length") != fmt.Sprint(len(data)) {
		t.Fatalf("download: %d len %d md5 %q", status, len(got), hdr.Get("Content-MD5"))
	}
	// ranges
	for _, tc := range []struct {
		rng        string
		want       int
		start, end int
	}{
		{"bytes=0-9", 206, 0, 9},
		{"bytes=100-", 206, 100, len(data) - 1},
		{"bytes=-5", 206, len(data) - 5, len(data) - 1},
		{"bytes=99999999-", 416, 0, 0},
	} {
		status, _, got, hdr := e.Do("GET", "/v2/images/"+id+"/file", e.DemoToken, nil, map[string]string{"Range": tc.rng})
		if status != tc.want {
			t.Fatalf("range %s: %d", tc.rng, status)
		}
		if status == 206 && (!bytes.Equal(got, data[tc.start:tc.end+1]) ||
			hdr.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", tc.start, tc.end, len(data))) {
			t.Fatalf("range %s: wrong bytes or Content-Range %q", tc.rng, hdr.Get("Content-Range"))
		}
	}
	// image data must be sent as application/octet-stream
	other := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
	if status, _, _, _ := e.Do("PUT", "/v2/images/"+other+"/file", e.DemoToken, map[string]any{"x": 1}, nil); status != http.StatusUnsupportedMediaType {
		t.Fatalf("upload as JSON: %d", status)
	}
	// upload to an active image
	if status, _ := upload(e, id, e.DemoToken, []byte("again")); status != http.StatusConflict {
		t.Fatalf("re-upload: %d", status)
	}
	// deactivate: the owner's members or admin (upstream's secure RBAC defaults);
	// downloads of a deactivated image are forbidden for non-admins
	otherTok, _ := e.NewProjectUser("stranger")
	e.Must(http.StatusNotFound, "POST", "/v2/images/"+id+"/actions/deactivate", otherTok, nil)
	e.Must(http.StatusNoContent, "POST", "/v2/images/"+id+"/actions/deactivate", e.DemoToken, nil)
	e.Must(http.StatusForbidden, "GET", "/v2/images/"+id+"/file", e.DemoToken, nil)
	if status, _, got, _ := e.Do("GET", "/v2/images/"+id+"/file", e.AdminToken, nil, nil); status != 200 || !bytes.Equal(got, data) {
		t.Fatalf("admin download of deactivated image: %d", status)
	}
	e.Must(http.StatusNoContent, "POST", "/v2/images/"+id+"/actions/reactivate", e.DemoToken, nil)
	if status, _, _, _ := e.Do("GET", "/v2/images/"+id+"/file", e.DemoToken, nil, nil); status != 200 {
		t.Fatalf("download after reactivate: %d", status)
	}
	// protected images cannot be deleted; deleting removes the data
	e.Patch(http.StatusOK, id, e.DemoToken, map[string]any{"op": "replace", "path": "/protected", "value": true})
	e.Must(http.StatusForbidden, "DELETE", "/v2/images/"+id, e.DemoToken, nil)
	e.Patch(http.StatusOK, id, e.DemoToken, map[string]any{"op": "replace", "path": "/protected", "value": false})
	e.Must(http.StatusNoContent, "DELETE", "/v2/images/"+id, e.DemoToken, nil)
	if fileExists(filepath.Join(e.Dir, "images", id)) {
		t.Fatal("image data survived delete")
	}
	e.Must(http.StatusNotFound, "GET", "/v2/images/"+id, e.DemoToken, nil)
}

func TestCutOffUploadLeavesQueued(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
	// a client that promises 4 MiB, sends 1 MiB and goes away while the server saves
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT /v2/images/%s/file HTTP/1.1\r\nHost: x\r\nX-Auth-Token: %s\r\n"+
		"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", id, e.DemoToken, 4<<20)
	if _, err := conn.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	waitStatus := func(want string) map[string]any {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
			if show["status"] == want {
				return show
			}
			if time.Now().After(deadline) {
				t.Fatalf("image status %v, want %s", show["status"], want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitStatus("saving")
	conn.Close()
	if show := waitStatus("queued"); show["size"] != nil || show["checksum"] != nil {
		t.Fatalf("after cut-off upload: %v", show)
	}
	entries, _ := os.ReadDir(filepath.Join(e.Dir, "images"))
	if len(entries) != 0 {
		t.Fatalf("partial data left: %v", entries)
	}
	// and a full upload still works afterwards
	if status, _ := upload(e, id, e.DemoToken, []byte("complete")); status != http.StatusNoContent {
		t.Fatalf("upload after cut-off: %d", status)
	}
}

func TestRestartRecoversSaving(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
	// a crash mid-upload, a lease ago: status saving under a lapsed lease, a temp
	// file and (say) a stray data file
	crashed := time.Now().Add(-2 * transferLease)
	if _, err := e.DB.ExecContext(t.Context(), `UPDATE images SET status = 'saving', transfer_id = 'dead',
		transfer_expires = ? WHERE id = ?`, crashed.Unix(), id); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{id + ".123.tmp", id} {
		path := filepath.Join(e.Dir, "images", name)
		if err := os.WriteFile(path, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, crashed, crashed); err != nil {
			t.Fatal(err)
		}
	}
	e.restart()
	show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
	if show["status"] != "queued" {
		t.Fatalf("after restart: %v", show)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.Dir, "images")); len(entries) != 0 {
		t.Fatalf("partial data survived restart: %v", entries)
	}
}

func TestPatch(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.Create(e.DemoToken, map[string]any{"name": "p", "disk_format": "raw", "container_format": "bare", "k1": "v1"})
	op := func(o, p string, v any) map[string]any {
		m := map[string]any{"op": o, "path": p}
		if v != nil {
			m["value"] = v
		}
		return m
	}
	out := e.Patch(http.StatusOK, id, e.DemoToken,
		op("replace", "/name", "renamed"), op("add", "/k2", "v2"), op("replace", "/k1", "v1b"),
		op("replace", "/min_disk", 3), op("add", "/tags", []string{"t1"}), op("remove", "/k2", nil),
		op("add", "/hw_qemu_guest_agent", "yes"))
	if out["name"] != "renamed" || out["k1"] != "v1b" || out["k2"] != nil || out["min_disk"] != float64(3) ||
		fmt.Sprint(out["tags"]) != "[t1]" || out["hw_qemu_guest_agent"] != "yes" {
		t.Fatalf("patched: %v", out)
	}
	for _, tc := range []struct {
		name string
		ops  []map[string]any
		want int
	}{
		{"read-only", []map[string]any{op("replace", "/status", "active")}, 403},
		{"read-only checksum", []map[string]any{op("add", "/checksum", "x")}, 403},
		{"bad op", []map[string]any{op("move", "/name", "x")}, 400},
		{"bad path", []map[string]any{op("replace", "name", "x")}, 400},
		{"no value", []map[string]any{{"op": "replace", "path": "/name"}}, 400},
		{"missing property", []map[string]any{op("replace", "/nope", "x")}, 409},
		{"remove missing", []map[string]any{op("remove", "/nope", nil)}, 409},
		{"bad disk format", []map[string]any{op("replace", "/disk_format", "floppy")}, 400},
		{"publicize", []map[string]any{op("replace", "/visibility", "public")}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) { e.Patch(tc.want, id, e.DemoToken, tc.ops...) })
	}
	// wrong content type, and malformed patch documents
	if status, _, _, _ := e.Do("PATCH", "/v2/images/"+id, e.DemoToken, map[string]any{"name": "x"}, nil); status != 415 {
		t.Fatalf("PATCH with application/json: %d", status)
	}
	if status, _, _, _ := e.Do("PATCH", "/v2/images/"+id, e.DemoToken, strings.NewReader(`{"op":"x"}`),
		map[string]string{"Content-Type": patchType}); status != 400 {
		t.Fatalf("PATCH with an object: %d", status)
	}
	e.Patch(http.StatusOK, id, e.AdminToken, op("replace", "/visibility", "public"))
	// tags
	e.Must(http.StatusNoContent, "PUT", "/v2/images/"+id+"/tags/t2", e.DemoToken, nil)
	e.Must(http.StatusNoContent, "PUT", "/v2/images/"+id+"/tags/t2", e.DemoToken, nil)
	e.Must(http.StatusNoContent, "DELETE", "/v2/images/"+id+"/tags/t1", e.DemoToken, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v2/images/"+id+"/tags/t1", e.DemoToken, nil)
	if tags := e.Must(200, "GET", "/v2/images/"+id, e.DemoToken, nil)["tags"]; fmt.Sprint(tags) != "[t2]" {
		t.Fatalf("tags: %v", tags)
	}
}

func TestSharingAndVisibility(t *testing.T) {
	e := newTestEnv(t, nil)
	otherTok, otherProj := e.NewProjectUser("other")
	private := e.Create(e.DemoToken, map[string]any{"name": "private", "visibility": "private"})
	shared := e.Create(e.DemoToken, map[string]any{"name": "shared"})
	community := e.Create(e.DemoToken, map[string]any{"name": "community", "visibility": "community"})
	public := e.Create(e.AdminToken, map[string]any{"name": "public", "visibility": "public"})

	e.Must(http.StatusNotFound, "GET", "/v2/images/"+private, otherTok, nil)
	e.Must(http.StatusNotFound, "GET", "/v2/images/"+shared, otherTok, nil)
	e.Must(http.StatusOK, "GET", "/v2/images/"+community, otherTok, nil)
	e.Must(http.StatusOK, "GET", "/v2/images/"+public, otherTok, nil)
	e.Must(http.StatusNotFound, "DELETE", "/v2/images/"+private, otherTok, nil)
	e.Must(http.StatusForbidden, "DELETE", "/v2/images/"+public, otherTok, nil)
	list := func(tok, q string) []string {
		out := e.Must(200, "GET", "/v2/images"+q, tok, nil)
		got := ids(out)
		slices.Sort(got)
		return got
	}
	want := func(v ...string) []string { slices.Sort(v); return v }
	if got := list(otherTok, ""); !slices.Equal(got, want(public)) {
		t.Fatalf("other sees %v", got)
	}
	if got := list(otherTok, "?visibility=community"); !slices.Equal(got, want(community)) {
		t.Fatalf("other community: %v", got)
	}

	// members only on shared images
	e.Must(http.StatusForbidden, "POST", "/v2/images/"+private+"/members", e.DemoToken, map[string]any{"member": otherProj})
	e.Must(http.StatusNotFound, "POST", "/v2/images/"+shared+"/members", otherTok, map[string]any{"member": otherProj})
	m := e.Must(http.StatusOK, "POST", "/v2/images/"+shared+"/members", e.DemoToken, map[string]any{"member": otherProj})
	if m["status"] != "pending" || m["member_id"] != otherProj || m["image_id"] != shared {
		t.Fatalf("member: %v", m)
	}
	e.Must(http.StatusConflict, "POST", "/v2/images/"+shared+"/members", e.DemoToken, map[string]any{"member": otherProj})
	e.Must(http.StatusBadRequest, "POST", "/v2/images/"+shared+"/members", e.DemoToken, map[string]any{})
	// pending: visible by id, not listed
	e.Must(http.StatusOK, "GET", "/v2/images/"+shared, otherTok, nil)
	if got := list(otherTok, ""); slices.Contains(got, shared) {
		t.Fatal("pending shared image listed")
	}
	if got := list(otherTok, "?member_status=pending"); !slices.Contains(got, shared) {
		t.Fatal("pending shared image not listed with member_status=pending")
	}
	// only the member answers
	e.Must(http.StatusForbidden, "PUT", "/v2/images/"+shared+"/members/"+otherProj, e.DemoToken, map[string]any{"status": "accepted"})
	e.Must(http.StatusBadRequest, "PUT", "/v2/images/"+shared+"/members/"+otherProj, otherTok, map[string]any{"status": "maybe"})
	e.Must(http.StatusOK, "PUT", "/v2/images/"+shared+"/members/"+otherProj, otherTok, map[string]any{"status": "accepted"})
	if got := list(otherTok, ""); !slices.Equal(got, want(public, shared)) {
		t.Fatalf("after accept other sees %v", got)
	}
	members := e.Must(200, "GET", "/v2/images/"+shared+"/members", e.DemoToken, nil)
	if ms := members["members"].([]any); len(ms) != 1 || members["schema"] != "/v2/schemas/members" {
		t.Fatalf("members: %v", members)
	}
	if got := e.Must(200, "GET", "/v2/images/"+shared+"/members/"+otherProj, otherTok, nil); got["status"] != "accepted" {
		t.Fatalf("member show: %v", got)
	}
	// the member may not change the image
	e.Patch(http.StatusForbidden, shared, otherTok, map[string]any{"op": "replace", "path": "/name", "value": "x"})
	e.Must(http.StatusNoContent, "DELETE", "/v2/images/"+shared+"/members/"+otherProj, e.DemoToken, nil)
	e.Must(http.StatusNotFound, "GET", "/v2/images/"+shared, otherTok, nil)
}

func TestQuotasAndSizeCap(t *testing.T) {
	e := newTestEnv(t, func(o *Options) { o.QuotaImages = 2; o.QuotaBytes = 100; o.SizeCap = 60 })
	a := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
	b := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
	e.Must(http.StatusRequestEntityTooLarge, "POST", "/v2/images", e.DemoToken, map[string]any{"name": "third"})
	if status, _ := upload(e, a, e.DemoToken, make([]byte, 61)); status != 413 {
		t.Fatalf("over size cap: %d", status)
	}
	if status, _ := upload(e, a, e.DemoToken, make([]byte, 60)); status != 204 {
		t.Fatalf("at size cap: %d", status)
	}
	if status, _ := upload(e, b, e.DemoToken, make([]byte, 41)); status != 413 {
		t.Fatalf("over byte quota: %d", status)
	}
	if show := e.Must(200, "GET", "/v2/images/"+b, e.DemoToken, nil); show["status"] != "queued" {
		t.Fatalf("after refused upload: %v", show)
	}
	if status, _ := upload(e, b, e.DemoToken, make([]byte, 40)); status != 204 {
		t.Fatalf("within byte quota: %d", status)
	}
}

func TestInteroperableImport(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
	e.Must(http.StatusConflict, "POST", "/v2/images/"+id+"/import", e.DemoToken, map[string]any{"method": map[string]any{"name": "glance-direct"}})
	data := []byte("staged image data")
	if status, _, body, _ := e.Do("PUT", "/v2/images/"+id+"/stage", e.DemoToken, data, nil); status != 204 {
		t.Fatalf("stage: %d %s", status, body)
	}
	if st := e.Must(200, "GET", "/v2/images/"+id, e.DemoToken, nil)["status"]; st != "uploading" {
		t.Fatalf("after stage: %v", st)
	}
	e.Must(http.StatusAccepted, "POST", "/v2/images/"+id+"/import", e.DemoToken, map[string]any{"method": map[string]any{"name": "glance-direct"}})
	md := md5.Sum(data)
	show := e.Must(200, "GET", "/v2/images/"+id, e.DemoToken, nil)
	if show["status"] != "active" || show["checksum"] != hex.EncodeToString(md[:]) {
		t.Fatalf("after import: %v", show)
	}
	other := e.Create(e.DemoToken, map[string]any{"disk_format": "raw", "container_format": "bare"})
	_, out, body, _ := e.Do("POST", "/v2/images/"+other+"/import", e.DemoToken,
		map[string]any{"method": map[string]any{"name": "web-download", "uri": "http://example.com/x.img"}}, nil)
	if out["code"] != float64(400) || !strings.Contains(string(body), "web-download") {
		t.Fatalf("web-download: %s", body)
	}
	e.Must(http.StatusBadRequest, "POST", "/v2/images/"+other+"/import", e.DemoToken, map[string]any{"method": map[string]any{"name": "copy-image"}})
}

// TestListByDate checks the created_at / updated_at filters with their operators.
func TestListByDate(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.Create(e.DemoToken, map[string]any{"name": "dated", "disk_format": "raw", "container_format": "bare"})
	count := func(q string) int {
		t.Helper()
		return len(e.Must(http.StatusOK, "GET", "/v2/images?"+q, e.DemoToken, nil)["images"].([]any))
	}
	for q, want := range map[string]int{
		"created_at=gte:2014-01-01T01:01:01Z": 1, "created_at=gt:2049-01-01T01:01:01Z": 0,
		"created_at=lt:2049-01-01T00:00:00Z": 1, "updated_at=lte:2014-01-01T00:00:00Z": 0,
		"created_at=neq:2014-01-01T00:00:00Z": 1,
	} {
		if got := count(q); got != want {
			t.Errorf("%s: %d images, want %d", q, got, want)
		}
	}
	e.Must(http.StatusBadRequest, "GET", "/v2/images?created_at=gte:yesterday", e.DemoToken, nil)
	_ = id
}

// TestTasks checks the tasks API: admin's by default, an import task from a URL no
// configured prefix allows fails with a message saying so, lists page.
func TestTasks(t *testing.T) {
	e := newTestEnv(t, nil)
	body := map[string]any{"type": "import", "input": map[string]any{"import_from": "http://example.invalid/cirros.img",
		"import_from_format": "qcow2", "image_properties": map[string]any{"name": "x"}}}
	e.Must(http.StatusForbidden, "POST", "/v2/tasks", e.DemoToken, body)
	_, task, _, header := e.Do("POST", "/v2/tasks", e.AdminToken, body, nil)
	if task["status"] != "failure" || !strings.Contains(fmt.Sprint(task["message"]), "not allowed") {
		t.Fatalf("task = %v", task)
	}
	// as upstream's view: a Location, expires_at once set, no image_id on a task of no image
	if _, hasImage := task["image_id"]; header.Get("Location") != "/v2/tasks/"+task["id"].(string) || task["expires_at"] == nil || hasImage {
		t.Fatalf("created task: Location %q, %v", header.Get("Location"), task)
	}
	e.Must(http.StatusCreated, "POST", "/v2/tasks", e.AdminToken, body)
	shown := e.Must(http.StatusOK, "GET", "/v2/tasks/"+task["id"].(string), e.AdminToken, nil)
	if shown["input"].(map[string]any)["import_from"] != "http://example.invalid/cirros.img" {
		t.Fatalf("task show = %v", shown)
	}
	page := e.Must(http.StatusOK, "GET", "/v2/tasks?limit=1", e.AdminToken, nil)
	if len(page["tasks"].([]any)) != 1 || page["next"] == nil {
		t.Fatalf("first page = %v", page)
	}
	for _, bad := range []map[string]any{
		{"type": "export", "input": map[string]any{}},
		{"type": "import", "input": map[string]any{"import_from_format": "qcow2"}},
		{"type": "import", "input": map[string]any{"import_from": "file:///etc/passwd", "import_from_format": "raw"}},
	} {
		e.Must(http.StatusBadRequest, "POST", "/v2/tasks", e.AdminToken, bad)
	}
	e.Must(http.StatusNotFound, "GET", "/v2/tasks/"+newID(), e.AdminToken, nil)
	e.Must(http.StatusOK, "GET", "/v2/schemas/tasks", e.AdminToken, nil)
}
