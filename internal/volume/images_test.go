package volume

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/identity/identitytest"
	"github.com/nimbus-cloud/nimbus/internal/image"
	"github.com/nimbus-cloud/nimbus/internal/platform/policy"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// withImages runs the real image service beside the volume service, reached
// by both through ServiceClient (the user's token, or the service's own login).
func withImages(t *testing.T) (*testEnv, string) {
	var imageURL string
	var imgHandler http.Handler
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { imgHandler.ServeHTTP(w, r) }))
	t.Cleanup(ts.Close)
	imageURL = ts.URL
	var client *ServiceClient
	e := newTestEnv(t, func(o *Options) {
		client = &ServiceClient{URL: imageURL, Username: "admin", Password: identitytest.AdminPassword, ProjectName: "admin"}
		o.Images = client
	})
	client.IdentityURL = e.identity.URL + "/v3"
	e.Manager.images = client
	svc, err := image.New(context.Background(), image.Options{DB: e.DB, Auth: e.identity.Service.Validator(),
		Policy: policy.NewEnforcer(), DataDir: filepath.Join(e.Dir, "images"), PublicURL: imageURL})
	if err != nil {
		t.Fatal(err)
	}
	imgHandler = svc.Handler()
	return e, imageURL
}

func TestVolumeFromImage(t *testing.T) {
	e, imageURL := withImages(t)
	data := make([]byte, 1<<20)
	_, _ = rand.Read(data)
	data[510] = 0 // no MBR signature: a plain raw disk
	client := &http.Client{}
	do := func(method, path, ctype string, body io.Reader) *http.Response {
		req, _ := http.NewRequest(method, imageURL+path, body)
		req.Header.Set("X-Auth-Token", e.DemoToken)
		req.Header.Set("Content-Type", ctype)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := do("POST", "/v2/images", "application/json", strings.NewReader(`{"name":"src","disk_format":"raw","container_format":"bare","os_distro":"debian"}`))
	var img map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&img)
	resp.Body.Close()
	imageID := img["id"].(string)
	resp = do("PUT", "/v2/images/"+imageID+"/file", "application/octet-stream", bytes.NewReader(data))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1, "imageRef": imageID})
	v := e.volume(e.DemoToken, id)
	meta, _ := v["volume_image_metadata"].(map[string]any)
	if v["status"] != "available" || v["bootable"] != "true" || meta["image_id"] != imageID || meta["os_distro"] != "debian" {
		t.Fatalf("volume from image: %v %v %v", v["status"], v["bootable"], meta)
	}
	b := e.Backends[hostBackend(e, id)]
	d, err := b.Open(context.Background(), backend.Volume{ID: id, SizeGB: 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	_, _ = d.ReadAt(got, 0)
	d.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("the volume does not hold the image's bytes")
	}
	// an image the caller cannot see, or none at all
	e.Must(http.StatusBadRequest, "POST", "/v3/volumes", e.DemoToken, map[string]any{"volume": map[string]any{"size": 1,
		"imageRef": "9b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1"}})
}

// countingGlance is an image API that keeps the image records and counts
// the bytes uploaded to them, for uploads of whole volumes.
type countingGlance struct {
	mu       sync.Mutex
	uploaded map[string]int64
	head     map[string][]byte // the first bytes of each upload
	images   map[string]map[string]any
	next     int
}

func (g *countingGlance) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == "POST" && r.URL.Path == "/v2/images":
		var fields map[string]any
		_ = json.NewDecoder(r.Body).Decode(&fields)
		g.mu.Lock()
		g.next++
		fields["id"] = fmt.Sprintf("3b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a%d", g.next)
		fields["status"] = "queued"
		g.images[fields["id"].(string)] = fields
		g.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(fields)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/v2/images/"):
		g.mu.Lock()
		img, ok := g.images[strings.TrimPrefix(r.URL.Path, "/v2/images/")]
		g.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(img)
	case r.Method == "PUT" && strings.HasSuffix(r.URL.Path, "/file"):
		head := make([]byte, 4)
		n0, _ := io.ReadFull(r.Body, head)
		n, _ := io.Copy(io.Discard, r.Body)
		g.mu.Lock()
		g.uploaded[r.URL.Path] += n + int64(n0)
		g.head[r.URL.Path] = head[:n0]
		g.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		http.NotFound(w, r)
	}
}

func TestVolumeUploadToImage(t *testing.T) {
	glance := &countingGlance{uploaded: map[string]int64{}, head: map[string][]byte{}, images: map[string]map[string]any{}}
	ts := httptest.NewServer(glance)
	t.Cleanup(ts.Close)
	var client *ServiceClient
	e := newTestEnv(t, func(o *Options) {
		client = &ServiceClient{URL: ts.URL, Username: "admin", Password: identitytest.AdminPassword, ProjectName: "admin"}
		o.Images = client
	})
	client.IdentityURL = e.identity.URL + "/v3"
	e.Manager.images = client
	id := e.createVolume(e.DemoToken, map[string]any{"size": 1})
	path := "/v3/volumes/" + id + "/action"
	e.Must(http.StatusBadRequest, "POST", path, e.DemoToken, action("os-volume_upload_image", map[string]any{"image_name": "x", "disk_format": "bogus"}))
	out := e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-volume_upload_image", map[string]any{"image_name": "snap"}))
	up := out["os-volume_upload_image"].(map[string]any)
	if up["status"] != "uploading" || up["image_name"] != "snap" || up["disk_format"] != "raw" || up["image_id"] == nil {
		t.Fatalf("upload answer %v", up)
	}
	if st := e.volume(e.DemoToken, id)["status"]; st != "uploading" {
		t.Fatalf("while uploading: %v", st)
	}
	e.Must(http.StatusBadRequest, "POST", path, e.DemoToken, action("os-volume_upload_image", map[string]any{"image_name": "again"}))
	e.settle()
	if st := e.volume(e.DemoToken, id)["status"]; st != "available" {
		t.Fatalf("after the upload: %v", st)
	}
	glance.mu.Lock()
	if n := glance.uploaded["/v2/images/3b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a1/file"]; n != 1<<30 {
		t.Fatalf("uploaded %d bytes, want the volume's 1 GiB", n)
	}
	glance.mu.Unlock()
	// qcow2: converted by qemu-img from the volume's bytes
	if _, err := exec.LookPath("qemu-img"); err != nil && os.Getenv("NIMBUS_TEST_REQUIRE_QEMU") != "1" {
		t.Skip("no qemu-img to convert an upload with")
	}
	e.Must(http.StatusAccepted, "POST", path, e.DemoToken, action("os-volume_upload_image", map[string]any{"image_name": "q", "disk_format": "qcow2"}))
	e.settle()
	glance.mu.Lock()
	defer glance.mu.Unlock()
	upload := "/v2/images/3b9e4a52-0c5c-4a54-8a39-2d3f4ec7a0a2/file"
	if head := glance.head[upload]; string(head) != "QFI\xfb" || glance.uploaded[upload] >= 1<<30 {
		t.Fatalf("qcow2 upload: %q, %d bytes", head, glance.uploaded[upload])
	}
}
