package fake

import (
	"context"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// TestLiveMigration: the fake hands a running guest from one host to
// another as the QEMU driver does: the destination waits paused, the
// source's guest is gone after LiveMigrate, the destination's runs after
// FinishIncoming; each step can be repeated.
func TestLiveMigration(t *testing.T) {
	ctx := context.Background()
	src, dst := New(virt.HostResources{}), New(virt.HostResources{})
	s := virt.Spec{UUID: "u1", Name: "instance-00000001", VCPUs: 1, MemoryMB: 64, RootDisk: "/x/disk",
		LocalDisks: []string{"/x/disk.eph0"}, NICs: []virt.NIC{{MAC: "fa:16:3e:00:00:01", Tap: "tap1"}}}
	if err := src.Spawn(ctx, s); err != nil {
		t.Fatal(err)
	}
	in, err := dst.PrepareIncoming(ctx, s, "192.0.2.2")
	if err != nil {
		t.Fatal(err)
	}
	if again, err := dst.PrepareIncoming(ctx, s, "192.0.2.2"); err != nil || again.MigrationPort != in.MigrationPort {
		t.Fatalf("a second PrepareIncoming = %+v, %v; want %+v", again, err, in)
	}
	if len(in.Exports) != 2 {
		t.Fatalf("exports %v, want the root and the ephemeral disk", in.Exports)
	}
	if st, _ := dst.State(ctx, s); st != virt.Paused {
		t.Fatalf("the waiting destination is %v, want paused", st)
	}
	if _, err := src.LiveMigrate(ctx, s, virt.Incoming{Host: "192.0.2.9", MigrationPort: 1}, virt.LiveMigrationOptions{}, nil); err == nil {
		t.Fatal("LiveMigrate to nowhere: no error")
	}
	if st, _ := src.State(ctx, s); st != virt.Running {
		t.Fatalf("the source after a failed migration is %v, want running", st)
	}
	if _, err := src.LiveMigrate(ctx, s, in, virt.LiveMigrationOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := src.State(ctx, s); st != virt.Shutdown {
		t.Fatalf("the source after the migration is %v, want shutdown (its QEMU gone)", st)
	}
	for range 2 {
		if err := dst.FinishIncoming(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := dst.State(ctx, s); st != virt.Running {
		t.Fatalf("the destination after FinishIncoming is %v, want running", st)
	}
	if nics, err := dst.Interfaces(ctx, s); err != nil || len(nics) != 1 {
		t.Fatalf("the destination's NICs = %v, %v", nics, err)
	}
	if err := src.Destroy(ctx, s); err != nil {
		t.Fatal(err)
	}
}
