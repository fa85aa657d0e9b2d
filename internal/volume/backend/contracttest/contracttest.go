// Package contracttest is the behaviour every volume backend owes the volume
// manager (backend.Backend's comments), as one test every implementation
// runs: the fake here, the real ones in their packages, so a manager
// written against one works with all.
package contracttest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

const gib = 1 << 30

// Run checks b: idempotent create and delete, data that reads back,
// extend, snapshots (read-only, crash-consistent copies), volumes from
// snapshots, volumes and raw images, revert, and exports that survive being
// asked twice and forbid deleting the volume.
func Run(t *testing.T, b backend.Backend) {
	ctx := context.Background()
	v := backend.Volume{ID: "0f3a1c2e-0000-4000-8000-000000000001", SizeGB: 1}
	if err := b.Create(ctx, v); err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := b.Create(ctx, v); err != nil {
		t.Fatalf("create again: %v", err)
	}
	write(t, b, v, []byte("first"))
	if got := read(t, b, v, "", 5); !bytes.Equal(got, []byte("first")) {
		t.Fatalf("read back %q", got)
	}
	if c, err := b.Capacity(ctx); err != nil || c.TotalGB <= 0 || c.Protocol == "" {
		t.Fatalf("capacity %+v %v", c, err)
	}

	if err := b.Extend(ctx, v, 2); err != nil {
		t.Fatalf("extend: %v", err)
	}
	v.SizeGB = 2
	if err := b.Extend(ctx, v, 2); err != nil {
		t.Fatalf("extend again: %v", err)
	}
	if d, err := b.Open(ctx, v, ""); err != nil || d.Size() != 2*gib {
		t.Fatalf("size after extend: %v", err)
	} else {
		d.Close()
	}

	s := backend.Snapshot{ID: "0f3a1c2e-0000-4000-8000-000000000002", VolumeID: v.ID, SizeGB: 2}
	if err := b.CreateSnapshot(ctx, s); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	if err := b.CreateSnapshot(ctx, s); err != nil {
		t.Fatalf("snapshot again: %v", err)
	}
	write(t, b, v, []byte("later"))
	if got := read(t, b, v, s.ID, 5); !bytes.Equal(got, []byte("first")) {
		t.Fatalf("snapshot holds %q", got)
	}
	if d, err := b.Open(ctx, v, s.ID); err == nil {
		if _, err := d.WriteAt([]byte("x"), 0); err == nil {
			t.Fatal("a snapshot opened for writing")
		}
		d.Close()
	}

	fromSnap := backend.Volume{ID: "0f3a1c2e-0000-4000-8000-000000000003", SizeGB: 3}
	if err := b.CreateFromSnapshot(ctx, fromSnap, s); err != nil {
		t.Fatalf("from snapshot: %v", err)
	}
	if got := read(t, b, fromSnap, "", 5); !bytes.Equal(got, []byte("first")) {
		t.Fatalf("volume from snapshot holds %q", got)
	}
	clone := backend.Volume{ID: "0f3a1c2e-0000-4000-8000-000000000004", SizeGB: 2}
	if err := b.CreateFromVolume(ctx, clone, v); err != nil {
		t.Fatalf("clone: %v", err)
	}
	if got := read(t, b, clone, "", 5); !bytes.Equal(got, []byte("later")) {
		t.Fatalf("clone holds %q", got)
	}
	img := filepath.Join(t.TempDir(), "image.raw")
	if err := os.WriteFile(img, append([]byte("image"), make([]byte, 1<<20)...), 0o600); err != nil {
		t.Fatal(err)
	}
	fromImage := backend.Volume{ID: "0f3a1c2e-0000-4000-8000-000000000005", SizeGB: 1}
	if err := b.CreateFromImage(ctx, fromImage, backend.ImageSource{Path: img, Format: "raw"}); err != nil {
		t.Fatalf("from image: %v", err)
	}
	if got := read(t, b, fromImage, "", 5); !bytes.Equal(got, []byte("image")) {
		t.Fatalf("volume from image holds %q", got)
	}

	if err := b.RevertToSnapshot(ctx, v, s); err != nil {
		t.Fatalf("revert: %v", err)
	}
	if got := read(t, b, v, "", 5); !bytes.Equal(got, []byte("first")) {
		t.Fatalf("reverted volume holds %q", got)
	}

	e := backend.Export{VolumeID: v.ID, AttachmentID: "0f3a1c2e-0000-4000-8000-0000000000a1",
		Connector: backend.Connector{Host: "compute-1", IP: "127.0.0.1"}}
	info, err := b.Export(ctx, v, e)
	if err != nil || info.DriverVolumeType == "" {
		t.Fatalf("export: %+v %v", info, err)
	}
	again, err := b.Export(ctx, v, e)
	if err != nil || again.DriverVolumeType != info.DriverVolumeType {
		t.Fatalf("export again: %+v %v", again, err)
	}
	exports, err := b.Exports(ctx)
	if err != nil || len(exports) != 1 || exports[0].AttachmentID != e.AttachmentID || exports[0].VolumeID != v.ID {
		t.Fatalf("exports %+v %v", exports, err)
	}
	if err := b.Delete(ctx, v); !errors.Is(err, backend.ErrInUse) {
		t.Fatalf("delete while exported: %v, want ErrInUse", err)
	}
	if err := b.Unexport(ctx, v, e.AttachmentID); err != nil {
		t.Fatalf("unexport: %v", err)
	}
	if err := b.Unexport(ctx, v, e.AttachmentID); err != nil {
		t.Fatalf("unexport again: %v", err)
	}
	if exports, _ := b.Exports(ctx); len(exports) != 0 {
		t.Fatalf("exports after unexport %+v", exports)
	}

	if err := b.DeleteSnapshot(ctx, s); err != nil {
		t.Fatalf("delete snapshot: %v", err)
	}
	if err := b.DeleteSnapshot(ctx, s); err != nil {
		t.Fatalf("delete snapshot again: %v", err)
	}
	for _, x := range []backend.Volume{v, fromSnap, clone, fromImage} {
		if err := b.Delete(ctx, x); err != nil {
			t.Fatalf("delete %s: %v", x.ID, err)
		}
		if err := b.Delete(ctx, x); err != nil {
			t.Fatalf("delete %s again: %v", x.ID, err)
		}
	}
	if _, err := b.Open(ctx, v, ""); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("open a deleted volume: %v, want ErrNotFound", err)
	}
}

func write(t *testing.T, b backend.Backend, v backend.Volume, data []byte) {
	t.Helper()
	d, err := b.Open(context.Background(), v, "")
	if err != nil {
		t.Fatalf("open %s: %v", v.ID, err)
	}
	defer d.Close()
	if _, err := d.WriteAt(data, 0); err != nil {
		t.Fatalf("write %s: %v", v.ID, err)
	}
}

func read(t *testing.T, b backend.Backend, v backend.Volume, snapshotID string, n int) []byte {
	t.Helper()
	d, err := b.Open(context.Background(), v, snapshotID)
	if err != nil {
		t.Fatalf("open %s %s: %v", v.ID, snapshotID, err)
	}
	defer d.Close()
	out := make([]byte, n)
	if _, err := d.ReadAt(out, 0); err != nil {
		t.Fatalf("read %s %s: %v", v.ID, snapshotID, err)
	}
	return out
}
