package e2e

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestImageSwiftStore boots a cloud whose image service keeps its data in the
// object store ([image] store = swift, 1 MB segments from 2 MB) and drives it
// with the openstack CLI, which gives the image's size: an uploaded image of
// 3 MB is segments and a DLO manifest in the admin project's glance container
// (glance_store writes no SLO), one of 1 MB a single object, as glance_store's
// add; both download byte for byte, and deleting them leaves the container
// empty.
func TestImageSwiftStore(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cloud of its own")
	}
	t.Parallel()
	c, err := StartCloudEnv(filepath.Join(t.TempDir(), "cloud"), []string{"NIMBUS_IMAGE_GUEST_IMAGE=false",
		"NIMBUS_IMAGE_STORE=swift", "NIMBUS_IMAGE_SWIFT_STORE_LARGE_OBJECT_CHUNK_SIZE=1",
		"NIMBUS_IMAGE_SWIFT_STORE_LARGE_OBJECT_SIZE=2"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Errorf("stop the cloud: %v\n%s", err, tailString(c.Log(), 3000))
		}
	})
	dir := t.TempDir()
	data := make([]byte, 3<<20+4321)
	_, _ = rand.Read(data)
	data[510] = 0 // never an MBR signature: the data is a raw disk
	src := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(src, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var img struct {
		ID       string
		Status   string
		Size     int64
		Checksum string
	}
	OSJSON(t, c, "nimbus-demo", &img, "image", "create", "--disk-format", "raw", "--container-format", "bare",
		"--file", src, uniqueName("swift-backed"))
	// openstackclient prints the image as created, before its upload
	OSJSON(t, c, "nimbus-demo", &img, "image", "show", img.ID)
	sum := md5.Sum(data)
	if img.Status != "active" || img.Size != int64(len(data)) || img.Checksum != hex.EncodeToString(sum[:]) {
		t.Fatalf("image create: %+v", img)
	}

	// the data is in the service's account (the admin project's), not the uploader's
	var objects []struct{ Name string }
	OSJSON(t, c, "nimbus-admin", &objects, "object", "list", "glance")
	var names []string
	for _, o := range objects {
		names = append(names, o.Name)
	}
	sort.Strings(names)
	want := []string{img.ID, img.ID + "-00001", img.ID + "-00002", img.ID + "-00003", img.ID + "-00004"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("glance container holds %v, want %v", names, want)
	}
	var manifest map[string]any
	OSJSON(t, c, "nimbus-admin", &manifest, "object", "show", "glance", img.ID)
	if !strings.Contains(strings.ToLower(anyString(manifest)), "glance/"+strings.ToLower(img.ID)+"-") {
		t.Errorf("the image object is not a DLO manifest of its segments: %v", manifest)
	}

	out := filepath.Join(dir, "saved.raw")
	OS(t, c, "nimbus-demo", "image", "save", "--file", out, img.ID)
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("image save: %d bytes, %v; want the %d uploaded", len(got), err, len(data))
	}

	OS(t, c, "nimbus-demo", "image", "delete", img.ID)

	small := filepath.Join(dir, "small.raw")
	if err := os.WriteFile(small, data[:1<<20], 0o600); err != nil {
		t.Fatal(err)
	}
	OSJSON(t, c, "nimbus-demo", &img, "image", "create", "--disk-format", "raw", "--container-format", "bare",
		"--file", small, uniqueName("swift-small"))
	objects = nil
	OSJSON(t, c, "nimbus-admin", &objects, "object", "list", "glance")
	if len(objects) != 1 || objects[0].Name != img.ID {
		t.Fatalf("glance container holds %v, want the small image as one object", objects)
	}
	OS(t, c, "nimbus-demo", "image", "save", "--file", out, img.ID)
	if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data[:1<<20]) {
		t.Fatalf("image save of the small one: %d bytes, %v", len(got), err)
	}
	OS(t, c, "nimbus-demo", "image", "delete", img.ID)
	objects = nil
	OSJSON(t, c, "nimbus-admin", &objects, "object", "list", "glance")
	if len(objects) != 0 {
		t.Fatalf("image delete left %v in the glance container", objects)
	}
}

// anyString flattens a decoded JSON value for a containment check.
func anyString(v any) string {
	var b strings.Builder
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			b.WriteString(k + "=" + anyString(e) + " ")
		}
	case []any:
		for _, e := range x {
			b.WriteString(anyString(e) + " ")
		}
	case string:
		b.WriteString(x)
	}
	return b.String()
}
