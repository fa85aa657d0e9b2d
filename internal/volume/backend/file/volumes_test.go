package file

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

func TestCreateAndCapacity(t *testing.T) {
	b := newBackend(t, Options{})
	ctx := context.Background()
	tests := []struct {
		name    string
		v       backend.Volume
		wantErr bool
	}{
		{"blank", backend.Volume{ID: "11111111-1111-1111-1111-111111111111", SizeGB: 1}, false},
		{"again is no error", backend.Volume{ID: "11111111-1111-1111-1111-111111111111", SizeGB: 1}, false},
		{"another", backend.Volume{ID: "22222222-2222-2222-2222-222222222222", SizeGB: 3}, false},
		{"path in id", backend.Volume{ID: "../../etc/passwd", SizeGB: 1}, true},
		{"comma in id", backend.Volume{ID: "a,b", SizeGB: 1}, true},
		{"empty id", backend.Volume{ID: "", SizeGB: 1}, true},
		{"zero size", backend.Volume{ID: "zero", SizeGB: 0}, true},
		{"negative size", backend.Volume{ID: "neg", SizeGB: -1}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Create(ctx, tt.v)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Create = %v, want error %v", err, tt.wantErr)
			}
		})
	}
	c, err := b.Capacity(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.ProvisionedGB != 4 || !c.ThinProvisioning || c.Protocol != "NBD" || c.MaxOversubscriptionRatio != 20 || c.TotalGB <= 0 || c.FreeGB <= 0 {
		t.Errorf("capacity = %+v, want 4 GiB provisioned, thin, NBD", c)
	}
	// Thin: a blank 3 GiB volume takes a few hundred KiB.
	st, err := os.Stat(b.volumePath("22222222-2222-2222-2222-222222222222"))
	if err != nil || st.Size() > 1<<20 {
		t.Errorf("blank volume's file: %v, %v", st, err)
	}
	if entries, _ := os.ReadDir(b.opts.Pool); len(entries) != 3 { // two volumes and .exports
		t.Errorf("pool holds %d entries, want 3", len(entries))
	}
}

func TestDeleteAndZero(t *testing.T) {
	for _, zero := range []bool{false, true} {
		t.Run(map[bool]string{false: "unlink", true: "zero on delete"}[zero], func(t *testing.T) {
			b := newBackend(t, Options{VolumeClearZero: zero})
			ctx := context.Background()
			v := backend.Volume{ID: "vol", SizeGB: 1}
			if err := b.Create(ctx, v); err != nil {
				t.Fatal(err)
			}
			secret := bytes.Repeat([]byte("secret!!"), 8192)
			writeData(t, b, v, 1<<20, secret)
			// Hold the file open to look at its bytes after the unlink.
			f, err := os.Open(b.volumePath(v.ID))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := b.Delete(ctx, v); err != nil {
				t.Fatal(err)
			}
			if ok, _ := backend.PathExists(b.volumePath(v.ID)); ok {
				t.Fatal("the volume's file is still there")
			}
			if err := b.Delete(ctx, v); err != nil {
				t.Errorf("second delete: %v", err)
			}
			data, err := os.ReadFile("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
			if err != nil {
				t.Fatal(err)
			}
			if got := bytes.Contains(data, []byte("secret!!")); got == zero {
				t.Errorf("data still in the file after delete: %v, want %v", got, !zero)
			}
			if zero && bytes.ContainsFunc(data, func(r rune) bool { return r != 0 }) {
				t.Error("zero on delete left non-zero bytes")
			}
		})
	}
}

func TestCreateFromImage(t *testing.T) {
	b := newBackend(t, Options{})
	ctx := context.Background()
	dir := t.TempDir()
	data := pattern(0x5a, 1<<20)
	raw := filepath.Join(dir, "image.raw")
	if err := os.WriteFile(raw, append(data, make([]byte, 1<<20)...), 0o600); err != nil {
		t.Fatal(err)
	}
	qcow2 := filepath.Join(dir, "image.qcow2")
	backed := filepath.Join(dir, "backed.qcow2")
	for _, args := range [][]string{
		{"convert", "-f", "raw", "-O", "qcow2", raw, qcow2},
		{"create", "-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", backed},
	} {
		if out, err := exec.Command("qemu-img", args...).CombinedOutput(); err != nil {
			t.Fatalf("qemu-img %v: %v: %s", args, err, out)
		}
	}
	tests := []struct {
		name    string
		img     backend.ImageSource
		wantErr error
	}{
		{"raw", backend.ImageSource{Path: raw, Format: "raw"}, nil},
		{"qcow2", backend.ImageSource{Path: qcow2, Format: "qcow2"}, nil},
		{"qcow2 with a backing file on the host", backend.ImageSource{Path: backed, Format: "qcow2"}, ErrUnsafeImage},
		{"qcow2 declared raw", backend.ImageSource{Path: qcow2, Format: "raw"}, ErrUnsafeImage},
		{"raw declared qcow2", backend.ImageSource{Path: raw, Format: "qcow2"}, ErrUnsafeImage},
		{"unknown format", backend.ImageSource{Path: raw, Format: "exe"}, ErrUnsafeImage},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := backend.Volume{ID: "img" + strconv.Itoa(i), SizeGB: 1}
			err := b.CreateFromImage(ctx, v, tt.img)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("CreateFromImage = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if ok, _ := backend.PathExists(b.volumePath(v.ID)); ok {
					t.Error("a refused image left a volume")
				}
				return
			}
			if got := readData(t, b, v, "", 0, len(data)); !bytes.Equal(got, data) {
				t.Error("the volume's data is not the image's")
			}
			if i, err := b.info(ctx, b.volumePath(v.ID)); err != nil || i.VirtualSize != 1<<30 {
				t.Errorf("volume size %d, %v; want 1 GiB", i.VirtualSize, err)
			}
		})
	}
}

func TestSnapshotsOffline(t *testing.T) {
	b := newBackend(t, Options{})
	ctx := context.Background()
	v := backend.Volume{ID: "vol", SizeGB: 1}
	s := backend.Snapshot{ID: "snap", VolumeID: v.ID, SizeGB: 1}
	if err := b.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	before, after := pattern(1, 64<<10), pattern(2, 64<<10)
	writeData(t, b, v, 4096, before)
	for range 2 { // idempotent
		if err := b.CreateSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	writeData(t, b, v, 4096, after)
	if err := b.Extend(ctx, v, 2); err != nil {
		t.Fatal(err)
	}

	snapData, err := b.Open(ctx, v, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(before))
	if _, err := snapData.ReadAt(got, 4096); err != nil || !bytes.Equal(got, before) {
		t.Errorf("snapshot's data: %v, equal %v", err, bytes.Equal(got, before))
	}
	if _, err := snapData.WriteAt([]byte("x"), 0); err == nil {
		t.Error("a snapshot's data was writable")
	}
	snapData.Close()

	clone := backend.Volume{ID: "clone", SizeGB: 2}
	if err := b.CreateFromSnapshot(ctx, clone, s); err != nil {
		t.Fatal(err)
	}
	if got := readData(t, b, clone, "", 4096, len(before)); !bytes.Equal(got, before) {
		t.Error("volume from snapshot: not the snapshot's data")
	}
	copyOf := backend.Volume{ID: "copy", SizeGB: 2}
	if err := b.CreateFromVolume(ctx, copyOf, v); err != nil {
		t.Fatal(err)
	}
	if got := readData(t, b, copyOf, "", 4096, len(after)); !bytes.Equal(got, after) {
		t.Error("volume from volume: not the source's data")
	}

	if err := b.RevertToSnapshot(ctx, backend.Volume{ID: v.ID, SizeGB: 2}, s); err != nil {
		t.Fatal(err)
	}
	if got := readData(t, b, v, "", 4096, len(before)); !bytes.Equal(got, before) {
		t.Error("reverted volume: not the snapshot's data")
	}
	if i, _ := b.info(ctx, b.volumePath(v.ID)); i.VirtualSize != 2<<30 {
		t.Errorf("reverted volume is %d bytes, want its 2 GiB", i.VirtualSize)
	}
	for range 2 {
		if err := b.DeleteSnapshot(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.CreateFromSnapshot(ctx, backend.Volume{ID: "late", SizeGB: 1}, s); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("from a deleted snapshot: %v, want ErrNotFound", err)
	}
	if err := b.Extend(ctx, v, 1); err == nil {
		t.Error("shrinking succeeded")
	}
	if _, err := b.Open(ctx, backend.Volume{ID: "nope"}, ""); !errors.Is(err, backend.ErrNotFound) {
		t.Errorf("Open of a missing volume: %v", err)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	pool := t.TempDir()
	tests := []struct {
		name string
		opts Options
	}{
		{"relative pool", Options{Pool: "volumes"}},
		{"wildcard host", Options{Pool: pool, Host: "0.0.0.0"}},
		{"IPv6 wildcard host", Options{Pool: pool, Host: "::"}},
		{"host name", Options{Pool: pool, Host: "storage.example"}},
		{"half a port range", Options{Pool: pool, PortMin: 10000}},
		{"inverted port range", Options{Pool: pool, PortMin: 10010, PortMax: 10000}},
		{"port out of range", Options{Pool: pool, PortMin: 65000, PortMax: 70000}},
	}
	for _, tt := range tests {
		if _, err := New(tt.opts); err == nil {
			t.Errorf("%s: New accepted %+v", tt.name, tt.opts)
		}
	}
	if _, err := New(Options{Pool: pool, Host: "::1"}); err != nil {
		t.Errorf("IPv6 loopback: %v", err)
	}
}
