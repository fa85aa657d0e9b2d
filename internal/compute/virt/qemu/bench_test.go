package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/qemu/qemutest"
	"github.com/nimbus-cloud/nimbus/internal/guestimage"
)

// BenchmarkSpawnToBootMarker measures what a user waits for after the agent spawns
// a guest: Spawn until the guest's console prints its boot marker (whole-disk boot
// through the bootloader, DHCP, config drive), one fresh guest per iteration.
//
//	go test ./internal/compute/virt/qemu -run '^$' -bench SpawnToBootMarker -benchtime 3x
func BenchmarkSpawnToBootMarker(b *testing.B) {
	requireQEMU(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	img, err := guestimage.Build(ctx, guestimage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	work := b.TempDir()
	ns := newTestNamespace(b, work)
	instances := filepath.Join(work, "instances")
	d, err := New(Options{InstancesDir: instances, HostNamespace: ns, Logger: testLogger(b)})
	if err != nil {
		b.Fatal(err)
	}
	drive := configDrive(b, work, "bench-vm.novalocal")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		uuid := fmt.Sprintf("0b1c2d3e-4f50-4617-8899-%012d", i)
		spec := virt.Spec{UUID: uuid, Name: fmt.Sprintf("instance-%08x", i), VCPUs: 1, MemoryMB: 256,
			Dir: filepath.Join(instances, uuid), ConfigDrive: drive, Accelerator: "auto",
			NICs: []virt.NIC{{MAC: testMAC, Tap: testTap}}}
		spec.RootDisk = filepath.Join(spec.Dir, "disk")
		if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := qemutest.Overlay(img.Disk, "qcow2", spec.RootDisk); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { killLeftover(b, spec) })
		g := &guest{t: b, d: d, spec: spec, ns: ns}
		b.StartTimer()
		if err := d.Spawn(ctx, spec); err != nil {
			b.Fatal(err)
		}
		g.waitMarkers(1)
		b.StopTimer()
		if err := d.Destroy(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
}
