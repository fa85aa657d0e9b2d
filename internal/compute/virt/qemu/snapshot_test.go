package qemu

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// TestSnapshotFlattens: the snapshot of a stopped guest's overlay is one
// qcow2 without a backing file holding the base's bytes and the overlay's
// writes, and a failed copy leaves no file under the destination's name.
func TestSnapshotFlattens(t *testing.T) {
	requireQEMU(t)
	dir := t.TempDir()
	base, overlay := filepath.Join(dir, "base.raw"), filepath.Join(dir, "disk")
	data := bytes.Repeat([]byte("base"), 1<<18) // 1 MiB
	if err := os.WriteFile(base, data, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, overlay, "4M")
	run(t, "qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 2M 64k", overlay)
	d, err := New(Options{InstancesDir: dir, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	spec := virt.Spec{UUID: "11111111-2222-4333-8444-555555555555", Dir: dir, RootDisk: overlay}
	dst := filepath.Join(dir, "snap.qcow2")
	if err := d.Snapshot(t.Context(), spec, dst); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(dir, "snap.raw")
	run(t, "qemu-img", "convert", "-f", "qcow2", "-O", "raw", dst, raw)
	got, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4<<20 || !bytes.Equal(got[:1<<20], data) || !bytes.Equal(got[2<<20:2<<20+64<<10], bytes.Repeat([]byte{0x5a}, 64<<10)) {
		t.Errorf("the snapshot does not hold the base and the overlay's writes (%d bytes)", len(got))
	}
	out, err := exec.Command("qemu-img", "info", dst).Output()
	if err != nil || bytes.Contains(out, []byte("backing file")) {
		t.Errorf("the snapshot has a backing file or no info (%v):\n%s", err, out)
	}

	spec.RootDisk = filepath.Join(dir, "missing")
	bad := filepath.Join(dir, "bad.qcow2")
	if err := d.Snapshot(t.Context(), spec, bad); err == nil {
		t.Errorf("a snapshot of a missing disk succeeded")
	}
	for _, p := range []string{bad, bad + ".tmp"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left by a failed snapshot", p)
		}
	}
}
