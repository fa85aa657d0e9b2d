package qemu

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// TestResumeBadState: a saved state that does not load makes Resume fail with QEMU's
// own reason, and keeps the state (the guest's only copy) and the Suspended state.
// The guest is firmware only (a blank disk, no network): nothing of it needs to boot.
func TestResumeBadState(t *testing.T) {
	requireQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	instances := t.TempDir()
	spec := virt.Spec{UUID: "9a8b7c6d-0000-4000-8000-000000000001", Name: "instance-00000002", VCPUs: 1, MemoryMB: 64,
		Dir: filepath.Join(instances, "9a8b7c6d-0000-4000-8000-000000000001"), Accelerator: "tcg"}
	spec.RootDisk = filepath.Join(spec.Dir, "disk")
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", spec.RootDisk, "16M")
	d, err := New(Options{InstancesDir: instances, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killLeftover(t, spec) })
	if err := d.Spawn(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := d.Suspend(ctx, spec); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(spec.Dir, stateFile)
	if err := os.WriteFile(state, []byte("not a migration stream\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = d.Resume(ctx, spec)
	if err == nil || !strings.Contains(err.Error(), "Not a migration stream") { // QEMU's words, from its log
		t.Fatalf("Resume from a bad state = %v, want a load error", err)
	}
	t.Logf("Resume: %v", err)
	if _, err := os.Stat(state); err != nil {
		t.Fatalf("the failed Resume removed the saved state: %v", err)
	}
	if st, err := d.State(ctx, spec); st != virt.Suspended || err != nil {
		t.Fatalf("State after a failed Resume = %v, %v; want suspended", st, err)
	}
	if err := d.Destroy(ctx, spec); err != nil {
		t.Fatal(err)
	}
}
