package file

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// TestManageExisting: a qcow2 file an operator put in the pool is listed,
// sized and taken over under the volume's name with its data; unmanage keeps
// the file; references that leave the pool, links and images that read other
// host files are refused.
func TestManageExisting(t *testing.T) {
	needQEMU(t)
	ctx := context.Background()
	b := newBackend(t, Options{})
	pool := b.opts.Pool
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", filepath.Join(pool, "legacy-disk"), "1536M").CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v %s", err, out)
	}
	// a qcow2 whose backing file is a host path: never safe
	if out, err := exec.Command("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/passwd",
		filepath.Join(pool, "sneaky")).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img: %v %s", err, out)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(pool, "link")); err != nil {
		t.Fatal(err)
	}
	list, err := b.ManageableVolumes(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]backend.ManageableVolume{}
	for _, m := range list {
		got[m.Reference["source-name"]] = m
	}
	if m := got["legacy-disk"]; !m.SafeToManage || m.SizeGB != 2 {
		t.Fatalf("legacy-disk: %+v", m)
	}
	if m := got["sneaky"]; m.SafeToManage {
		t.Fatalf("a qcow2 with a backing file is safe: %+v", m)
	}
	if _, ok := got["link"]; ok {
		t.Fatalf("a symlink is listed")
	}
	for _, ref := range []map[string]any{{"source-name": "../x"}, {"source-name": ".exports"}, {"source-name": "a/b"},
		{"source-name": "sneaky"}, {"source-name": "link"}, {"source-id": "../../etc"}, {}} {
		if _, err := b.ManageExistingGetSize(ctx, ref); err == nil {
			t.Fatalf("reference %v accepted", ref)
		}
	}
	ref := map[string]any{"source-name": "legacy-disk"}
	if n, err := b.ManageExistingGetSize(ctx, ref); err != nil || n != 2 {
		t.Fatalf("size: %d %v", n, err)
	}
	v := backend.Volume{ID: "11111111-2222-3333-4444-555555555555", SizeGB: 2}
	for range 2 { // the second is the manager's retry after a crash
		if err := b.ManageExisting(ctx, v, ref); err != nil {
			t.Fatal(err)
		}
	}
	writeData(t, b, v, 0, []byte("taken over"))
	if err := b.Unmanage(ctx, v); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.volumePath(v.ID)); err != nil {
		t.Fatalf("unmanage removed the data: %v", err)
	}
	if err := b.ManageExisting(ctx, backend.Volume{ID: "other"}, map[string]any{"source-name": "gone"}); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("missing reference: %v", err)
	}
}
