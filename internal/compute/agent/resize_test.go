package agent

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// TestResizeDisk: a resize keeps the disk as it was and grows the disk (once,
// however often it is started over); a revert puts the old disk back, a
// confirm drops it.
func TestResizeDisk(t *testing.T) {
	if _, err := exec.LookPath("qemu-img"); err != nil {
		if os.Getenv("NIMBUS_TEST_REQUIRE_QEMU") != "" {
			t.Fatal("qemu-img is required: ", err)
		}
		t.Skip("no qemu-img")
	}
	ctx := context.Background()
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	if err := os.WriteFile(base, bytes.Repeat([]byte{7}, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := virt.Spec{UUID: "u", Dir: filepath.Join(dir, "u"), RootDisk: filepath.Join(dir, "u", "disk")}
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &LinuxHost{InstancesDir: dir}
	size := func() int64 {
		t.Helper()
		n, err := virtualSize(ctx, spec.RootDisk)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	keep := filepath.Join(spec.Dir, resizeCopy)
	exists := func(path string) bool { _, err := os.Stat(path); return err == nil }

	if err := overlay(ctx, base, spec.RootDisk, 0); err != nil {
		t.Fatal(err)
	}
	resized := compute.AgentInstance{UUID: "u", DiskGB: 2}
	for range 2 { // started over: the same outcome
		if err := h.ResizeDisk(ctx, resized, spec); err != nil {
			t.Fatal(err)
		}
		if got := size(); got != 2<<30 || !exists(keep) {
			t.Fatalf("resized disk %d bytes (copy kept: %v), want %d", got, exists(keep), 2<<30)
		}
	}
	for range 2 {
		if err := h.FinishResize(ctx, spec, true); err != nil {
			t.Fatal(err)
		}
		if got := size(); got != 1<<20 || exists(keep) {
			t.Fatalf("reverted disk %d bytes (copy kept: %v), want %d", got, exists(keep), 1<<20)
		}
	}
	if err := h.ResizeDisk(ctx, resized, spec); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := h.FinishResize(ctx, spec, false); err != nil {
			t.Fatal(err)
		}
		if got := size(); got != 2<<30 || exists(keep) {
			t.Fatalf("confirmed disk %d bytes (copy kept: %v), want %d", got, exists(keep), 2<<30)
		}
	}
}
