package e2e

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/guestimage"
)

// TestGuestImageSeeded checks that a new cloud comes with the test guest: public,
// active images any project can list, the direct-boot image linked to its kernel
// and ramdisk, and bytes identical to the build `nimbus image build` makes.
func TestGuestImageSeeded(t *testing.T) {
	c := shared
	const demo = "nimbus-demo"
	ids := map[string]string{}
	for _, name := range []string{"nimbus-guest", "nimbus-guest-direct", "nimbus-guest-kernel", "nimbus-guest-ramdisk"} {
		var img row
		OSJSON(t, c, demo, &img, "image", "show", name)
		wantField(t, "image show "+name, img, "status", "active")
		wantField(t, "image show "+name, img, "visibility", "public")
		ids[name] = str(img, "id")
	}
	var direct row
	OSJSON(t, c, demo, &direct, "image", "show", "nimbus-guest-direct")
	props, _ := direct["properties"].(map[string]any)
	if props["kernel_id"] != ids["nimbus-guest-kernel"] || props["ramdisk_id"] != ids["nimbus-guest-ramdisk"] {
		t.Fatalf("nimbus-guest-direct properties %v do not link kernel %s and ramdisk %s",
			props, ids["nimbus-guest-kernel"], ids["nimbus-guest-ramdisk"])
	}

	// The build is cached, so this returns what the cloud uploaded at start.
	build, err := guestimage.Build(context.Background(), guestimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, want := range map[string]string{
		"nimbus-guest": build.Disk, "nimbus-guest-kernel": build.Kernel, "nimbus-guest-ramdisk": build.Ramdisk,
	} {
		out := filepath.Join(dir, name)
		OS(t, c, demo, "image", "save", "--file", out, name)
		if got, want := fileSHA256(t, out), fileSHA256(t, want); got != want {
			t.Errorf("image save %s: sha256 %x, want the build's %x", name, got, want)
		}
	}
}

func fileSHA256(t *testing.T, path string) [32]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}
