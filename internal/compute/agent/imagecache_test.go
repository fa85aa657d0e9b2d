package agent

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/image/imageformat/imageformattest"
)

// fakeImages is an image service in memory: each image's record and data, the
// record's hashes those of the data unless set otherwise.
type fakeImages struct {
	mu     sync.Mutex
	images map[string]fakeImage
}

type fakeImage struct {
	meta compute.Image
	data []byte
}

var _ ImageSource = (*fakeImages)(nil)

// put records an image of data, as uploaded (hashes computed) unless meta has
// its own.
func (f *fakeImages) put(id, diskFormat string, data []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.images == nil {
		f.images = map[string]fakeImage{}
	}
	sh, md := sha512.Sum512(data), md5.Sum(data)
	f.images[id] = fakeImage{data: data, meta: compute.Image{ID: id, Status: "active", DiskFormat: diskFormat,
		Checksum: hex.EncodeToString(md[:]), HashAlgo: "sha512", HashValue: hex.EncodeToString(sh[:])}}
}

func (f *fakeImages) Get(_ context.Context, _, id string) (compute.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	im, ok := f.images[id]
	if !ok {
		return compute.Image{}, fmt.Errorf("image %s not found", id)
	}
	return im.meta, nil
}

func (f *fakeImages) Download(_ context.Context, id string, w io.Writer) error {
	f.mu.Lock()
	im, ok := f.images[id]
	f.mu.Unlock()
	if !ok {
		return fmt.Errorf("image %s not found", id)
	}
	_, err := w.Write(im.data)
	return err
}

// baseFiles lists what the image cache holds.
func baseFiles(t *testing.T, h *LinuxHost) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(h.InstancesDir, "_base"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// TestCachedRefusesHostileImages is the agent's own path for images uploaded
// before the image service inspected them (finding 1): a vmdk whose extent is a
// host file, a qcow2 with a backing file or an external data file on the host,
// and a qcow2 declared raw never reach qemu-img convert; the instance fails with
// why, and nothing of the host file lands in the cache.
func TestCachedRefusesHostileImages(t *testing.T) {
	imageformattest.RequireQEMUImg(t)
	dir := t.TempDir()
	secretData := bytes.Repeat([]byte("host secret "), 1<<17)
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, secretData, 0o600); err != nil {
		t.Fatal(err)
	}
	dataFile := filepath.Join(dir, "secret-data")
	withDataFile := imageformattest.DataFileQCOW2(t, dir, dataFile)
	if err := os.WriteFile(dataFile, secretData[:1<<20], 0o600); err != nil {
		t.Fatal(err)
	}
	clean := imageformattest.Read(t, imageformattest.Create(t, dir, "clean.qcow2", "qcow2", "1M"))
	images := &fakeImages{}
	h := &LinuxHost{InstancesDir: filepath.Join(dir, "instances"), Images: images}
	for _, tc := range []struct {
		name, format string
		data         []byte
		reason       string
	}{
		{"vmdk extent on the host", "vmdk", imageformattest.FlatVMDK(secret, 1024), "does not pass safety check"},
		{"vmdk extent on the host declared raw", "raw", imageformattest.FlatVMDK(secret, 1024), "does not pass safety check"},
		{"qcow2 backed by a host file", "qcow2", imageformattest.BackedQCOW2(t, dir, secret), "does not pass safety check"},
		{"qcow2 with a host data file", "qcow2", withDataFile, "does not pass safety check"},
		{"qcow2 declared raw", "raw", clean, "does not match disk_format"},
		{"qcow2 declared vmdk", "vmdk", clean, "does not match disk_format"},
		{"ploop", "ploop", make([]byte, 4096), "not in a supported format"},
	} {
		id := strings.ReplaceAll(tc.name, " ", "-")
		images.put(id, tc.format, tc.data)
		_, err := h.cached(context.Background(), id, true)
		var ue *unacceptableError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: cached: %v, want it unacceptable (%s)", tc.name, err, tc.reason)
		}
	}
	for _, name := range baseFiles(t, h) {
		data, err := os.ReadFile(filepath.Join(h.InstancesDir, "_base", name))
		if err != nil {
			t.Fatal(err)
		}
		t.Errorf("cache holds %s (%d bytes, host secret in it: %v)", name, len(data), bytes.Contains(data, []byte("host secret")))
	}
}

// TestCachedConvertsImages: disks of every format the cloud accepts, made by
// qemu-img, reach the cache as the raw disk they hold; the kernel and ramdisk
// are kept as they are.
func TestCachedConvertsImages(t *testing.T) {
	imageformattest.RequireQEMUImg(t)
	dir := t.TempDir()
	disk := make([]byte, 2<<20)
	for i := range disk {
		disk[i] = byte(i / 4096)
	}
	disk[510] = 0 // no partition table
	rawPath := filepath.Join(dir, "disk.raw")
	if err := os.WriteFile(rawPath, disk, 0o600); err != nil {
		t.Fatal(err)
	}
	images := &fakeImages{}
	h := &LinuxHost{InstancesDir: filepath.Join(dir, "instances"), Images: images}
	for _, tc := range []struct{ format, qemu, opts string }{
		{"raw", "raw", ""}, {"qcow2", "qcow2", ""}, {"vmdk", "vmdk", ""}, {"vmdk", "vmdk", "subformat=streamOptimized"},
		{"vdi", "vdi", ""}, {"vhd", "vpc", ""}, {"vhdx", "vhdx", ""},
	} {
		name := tc.format + "-" + strings.TrimPrefix(tc.opts, "subformat=")
		var opts []string
		if tc.opts != "" {
			opts = append(opts, tc.opts)
		}
		images.put(name, tc.format, imageformattest.Read(t, imageformattest.Convert(t, rawPath, dir, name, tc.qemu, opts...)))
		path, err := h.cached(context.Background(), name, true)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		got := imageformattest.Read(t, path)
		if len(got) < len(disk) || !bytes.Equal(got[:len(disk)], disk) || len(bytes.Trim(got[len(disk):], "\x00")) != 0 {
			t.Errorf("%s: the cached disk (%d bytes) is not the image's", name, len(got))
		}
	}
	if _, err := exec.LookPath("genisoimage"); err == nil {
		iso := filepath.Join(dir, "disk.iso")
		if out, err := exec.Command("genisoimage", "-quiet", "-o", iso, rawPath).CombinedOutput(); err != nil {
			t.Fatalf("genisoimage: %v %s", err, out)
		}
		data := imageformattest.Read(t, iso)
		images.put("iso", "iso", data)
		if path, err := h.cached(context.Background(), "iso", true); err != nil || !bytes.Equal(imageformattest.Read(t, path), data) {
			t.Errorf("iso: %v", err)
		}
	}
	// a kernel is a bzImage with a boot sector signature: kept as it is
	kernel := make([]byte, 8192)
	kernel[510], kernel[511] = 0x55, 0xaa
	images.put("kernel", "aki", kernel)
	if path, err := h.cached(context.Background(), "kernel", false); err != nil || !bytes.Equal(imageformattest.Read(t, path), kernel) {
		t.Errorf("kernel: %v", err)
	}
}

// TestCacheKeyedByContent: the cache never gives an image id another image's
// bytes (finding 10): when an id comes to name other data (an id reused before
// the image service refused it), the cache downloads the new data under a name
// of its own; data that does not match the image's recorded hash is refused.
func TestCacheKeyedByContent(t *testing.T) {
	imageformattest.RequireQEMUImg(t)
	dir := t.TempDir()
	images := &fakeImages{}
	h := &LinuxHost{InstancesDir: filepath.Join(dir, "instances"), Images: images}
	const id = "6f4f2b47-3e5c-4d0e-9a55-0ddba11a0001"
	first := bytes.Repeat([]byte("project A's private disk "), 4096)
	images.put(id, "raw", first)
	a, err := h.cached(context.Background(), id, true)
	if err != nil {
		t.Fatal(err)
	}
	second := bytes.Repeat([]byte("project B's disk "), 4096)
	images.put(id, "raw", second)
	b, err := h.cached(context.Background(), id, true)
	if err != nil {
		t.Fatal(err)
	}
	if a == b || !bytes.HasPrefix(imageformattest.Read(t, b), second) {
		t.Fatalf("the same id with other data got %s, the first data's file is %s", b, a)
	}
	// a download that is not the data the image service recorded
	images.mu.Lock()
	im := images.images[id]
	im.data = first
	images.images[id] = im
	images.mu.Unlock()
	if err := os.RemoveAll(filepath.Join(h.InstancesDir, "_base")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.cached(context.Background(), id, true); err == nil || !strings.Contains(err.Error(), "sha512") {
		t.Fatalf("data not matching its hash: %v", err)
	}
	if files := baseFiles(t, h); len(files) != 0 {
		t.Fatalf("cache holds %v", files)
	}
}

// TestPrepareNeedsNoImageAgain: a guest that has its disk, kernel and ramdisk
// starts again without the image service or its images (deleted since, or the
// service down): only what an instance does not have yet comes from the
// cache, which asks the image service what an image id holds.
func TestPrepareNeedsNoImageAgain(t *testing.T) {
	imageformattest.RequireQEMUImg(t)
	dir := t.TempDir()
	images := &fakeImages{}
	images.put("disk", "raw", make([]byte, 1<<20))
	kernel := append(make([]byte, 510), 0x55, 0xaa) // a bzImage's boot sector signature
	images.put("kernel", "aki", kernel)
	images.put("ramdisk", "ari", []byte("an initramfs"))
	h := &LinuxHost{InstancesDir: filepath.Join(dir, "instances"), Images: images}
	inst := compute.AgentInstance{UUID: "u1", ImageID: "disk", DiskGB: 1,
		ImageProps: map[string]string{"kernel_id": "kernel", "ramdisk_id": "ramdisk", "os_command_line": "console=ttyS0"}}
	spec := func() *virt.Spec {
		d := filepath.Join(h.InstancesDir, "u1")
		return &virt.Spec{UUID: "u1", Dir: d, RootDisk: filepath.Join(d, "disk")}
	}
	first := spec()
	if err := h.Prepare(context.Background(), inst, first); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(imageformattest.Read(t, first.Kernel), kernel) || string(imageformattest.Read(t, first.Ramdisk)) != "an initramfs" {
		t.Fatalf("kernel %s, ramdisk %s", first.Kernel, first.Ramdisk)
	}
	images.mu.Lock()
	images.images = nil // every image deleted
	images.mu.Unlock()
	again := spec()
	if err := h.Prepare(context.Background(), inst, again); err != nil {
		t.Fatalf("prepare again: %v", err)
	}
	if again.Kernel != first.Kernel || again.Ramdisk != first.Ramdisk || again.CommandLine != "console=ttyS0" {
		t.Fatalf("prepared again: %+v", again)
	}
	// a new instance of a deleted image cannot be made
	inst.UUID = "u2"
	if err := h.Prepare(context.Background(), inst, &virt.Spec{UUID: "u2", Dir: filepath.Join(h.InstancesDir, "u2"),
		RootDisk: filepath.Join(h.InstancesDir, "u2", "disk")}); err == nil {
		t.Fatal("a new guest of a deleted image was prepared")
	}
}
