package image

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/image/imageformat/imageformattest"
)

// TestUploadSetsVirtualSize uploads images qemu-img makes and reads back the
// virtual size upstream's inspector reports: the disk's, not the file's.
func TestUploadSetsVirtualSize(t *testing.T) {
	imageformattest.RequireQEMUImg(t)
	e := newTestEnv(t, nil)
	dir := t.TempDir()
	for _, tc := range []struct {
		format string
		data   []byte
		want   float64
	}{
		{"qcow2", imageformattest.Read(t, imageformattest.Create(t, dir, "d.qcow2", "qcow2", "3G")), 3 << 30},
		{"vmdk", imageformattest.Read(t, imageformattest.Create(t, dir, "d.vmdk", "vmdk", "64M")), 64 << 20},
		{"vhdx", imageformattest.Read(t, imageformattest.Create(t, dir, "d.vhdx", "vhdx", "64M")), 64 << 20},
		{"raw", []byte("raw bytes"), 9},
	} {
		id := e.Create(e.DemoToken, map[string]any{"name": tc.format, "disk_format": tc.format, "container_format": "bare"})
		e.Must(http.StatusNoContent, "PUT", "/v2/images/"+id+"/file", e.DemoToken, tc.data)
		got := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
		if got["virtual_size"] != tc.want {
			t.Errorf("%s: virtual_size = %v, want %v", tc.format, got["virtual_size"], tc.want)
		}
	}
}

// TestUnsafeUploadRefused: upload and import of content that would make qemu
// read a host file (a qcow2 backing or data file), or that is not its
// disk_format, are refused as upstream Glance refuses them: upload answers 415
// and leaves the image queued with no data; the import is accepted (202) and
// its task fails, leaving the image queued. Only bare containers are inspected,
// as upstream.
func TestUnsafeUploadRefused(t *testing.T) {
	imageformattest.RequireQEMUImg(t)
	e := newTestEnv(t, nil)
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("host secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	backed := imageformattest.BackedQCOW2(t, dir, secret)
	dataFile := imageformattest.DataFileQCOW2(t, dir, filepath.Join(dir, "data"))
	// what follows the header: enough for the upload to span several chunks
	tail := make([]byte, 3*chunkSize)
	for _, tc := range []struct {
		name, format string
		data         []byte
		message      string
	}{
		{"backing file", "qcow2", backed, "Image failed safety checks"},
		{"external data file", "qcow2", dataFile, "Image failed safety checks"},
		{"backing file uploaded as raw", "raw", backed, "Image failed safety checks"},
		{"raw data declared qcow2", "qcow2", bytes.Repeat([]byte("x"), 4096), "Image disk_format qcow2 does not match stream data raw"},
	} {
		id := e.Create(e.DemoToken, map[string]any{"name": tc.name, "disk_format": tc.format, "container_format": "bare"})
		status, _, body, _ := e.Do("PUT", "/v2/images/"+id+"/file", e.DemoToken, append(bytes.Clone(tc.data), tail...), nil)
		if status != http.StatusUnsupportedMediaType || !bytes.Contains(body, []byte(tc.message)) {
			t.Errorf("%s: upload answered %d %s, want 415 %q", tc.name, status, body, tc.message)
		}
		show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
		if show["status"] != "queued" || show["size"] != nil || show["checksum"] != nil || show["virtual_size"] != nil {
			t.Errorf("%s: after the refused upload: %v", tc.name, show)
		}
		if fileExists(filepath.Join(e.Dir, "images", id)) {
			t.Errorf("%s: data kept", tc.name)
		}
		// the interoperable import checks the same
		e.Must(http.StatusNoContent, "PUT", "/v2/images/"+id+"/stage", e.DemoToken, tc.data)
		e.Must(http.StatusAccepted, "POST", "/v2/images/"+id+"/import", e.DemoToken, map[string]any{"method": map[string]any{"name": "glance-direct"}})
		// the image's tasks say how its import ended, to its owner (v2.12's image tasks)
		if tasks := e.Must(http.StatusOK, "GET", "/v2/images/"+id+"/tasks", e.DemoToken, nil)["tasks"].([]any); len(tasks) != 1 ||
			tasks[0].(map[string]any)["status"] != "failure" || tasks[0].(map[string]any)["image_id"] != id {
			t.Errorf("%s: image tasks %v", tc.name, tasks)
		}
		if show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil); show["status"] != "queued" || show["size"] != nil {
			t.Errorf("%s: after the refused import: %v", tc.name, show)
		}
		if fileExists(filepath.Join(e.Dir, "images-staging", id)) {
			t.Errorf("%s: staged data kept", tc.name)
		}
	}
	// upstream's list filters by type "import" only
	tasks := e.Must(http.StatusOK, "GET", "/v2/tasks?status=failure", e.AdminToken, nil)["tasks"].([]any)
	tasks = slices.DeleteFunc(tasks, func(t any) bool { return t.(map[string]any)["type"] != "api_image_import" })
	if len(tasks) != 4 {
		t.Fatalf("%d failed import tasks, want 4", len(tasks))
	}
	task := e.Must(http.StatusOK, "GET", "/v2/tasks/"+tasks[0].(map[string]any)["id"].(string), e.AdminToken, nil)
	if task["image_id"] == nil {
		t.Errorf("an import task without its image_id: %v", task)
	}
	if msg := fmt.Sprint(task["message"]); !strings.Contains(msg, "Image failed safety checks") && !strings.Contains(msg, "does not match") {
		t.Errorf("failed import task: %v", task)
	}
	if entries, _ := os.ReadDir(filepath.Join(e.Dir, "images")); len(entries) != 0 {
		t.Errorf("data left in the store: %v", entries)
	}

	// a container other than bare is not inspected, as upstream: its data is
	// the container's (compute inspects what it boots)
	id := e.Create(e.DemoToken, map[string]any{"name": "ova", "disk_format": "qcow2", "container_format": "ova"})
	e.Must(http.StatusNoContent, "PUT", "/v2/images/"+id+"/file", e.DemoToken, []byte("an ova archive"))
}

// TestUploadNeedsFormats: as upstream, data needs the image's disk_format and
// container_format first (400), since its inspection needs them.
func TestUploadNeedsFormats(t *testing.T) {
	e := newTestEnv(t, nil)
	id := e.Create(e.DemoToken, map[string]any{"name": "bare only", "container_format": "bare"})
	status, _, body, _ := e.Do("PUT", "/v2/images/"+id+"/file", e.DemoToken, []byte("data"), nil)
	if status != http.StatusBadRequest || !bytes.Contains(body, []byte("Property disk_format must be set prior to saving data.")) {
		t.Fatalf("upload without disk_format: %d %s", status, body)
	}
	id = e.Create(e.DemoToken, map[string]any{"name": "nothing"})
	status, _, body, _ = e.Do("PUT", "/v2/images/"+id+"/file", e.DemoToken, []byte("data"), nil)
	if status != http.StatusBadRequest || !bytes.Contains(body, []byte("Properties disk_format, container_format must be set")) {
		t.Fatalf("upload without formats: %d %s", status, body)
	}
	if show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil); show["status"] != "queued" {
		t.Fatalf("after: %v", show)
	}
}
