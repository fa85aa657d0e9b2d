package image

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/image/imageformat/imageformattest"
)

// TestVMDKExtentUploadRefused: a VMDK descriptor whose extent is a host file
// (qemu-img convert -f vmdk would copy that file into the disk it makes:
// OSSA-2023-002, CVE-2022-47951) is refused by upload and by the interoperable
// import, whether it is declared vmdk or raw, as upstream Glance refuses it:
// the upload answers 415 "Image failed safety checks", the import's task fails;
// the image stays queued with no data either way.
func TestVMDKExtentUploadRefused(t *testing.T) {
	e := newTestEnv(t, nil)
	secret := filepath.Join(e.Dir, "secret")
	if err := os.WriteFile(secret, bytes.Repeat([]byte("host secret "), 100), 0o600); err != nil {
		t.Fatal(err)
	}
	evil := imageformattest.FlatVMDK(secret, 2048)
	for _, format := range []string{"vmdk", "raw"} {
		id := e.Create(e.DemoToken, map[string]any{"name": "evil", "disk_format": format, "container_format": "bare"})
		status, _, body, _ := e.Do("PUT", "/v2/images/"+id+"/file", e.DemoToken, evil, nil)
		if status != http.StatusUnsupportedMediaType || !bytes.Contains(body, []byte("Image failed safety checks")) {
			t.Errorf("%s: upload answered %d %s, want 415", format, status, body)
		}
		show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil)
		if show["status"] != "queued" || show["size"] != nil {
			t.Errorf("%s: after the refused upload: %v", format, show)
		}
		e.Must(http.StatusNoContent, "PUT", "/v2/images/"+id+"/stage", e.DemoToken, evil)
		e.Must(http.StatusAccepted, "POST", "/v2/images/"+id+"/import", e.DemoToken,
			map[string]any{"method": map[string]any{"name": "glance-direct"}})
		if show := e.Must(http.StatusOK, "GET", "/v2/images/"+id, e.DemoToken, nil); show["status"] != "queued" || show["size"] != nil {
			t.Errorf("%s: after the refused import: %v", format, show)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(e.Dir, "images")); len(entries) != 0 {
		t.Errorf("data left in the store: %v", entries)
	}
}
