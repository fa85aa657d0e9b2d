package qemu

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/guestimage"
)

// TestDriverHotplug boots the test guest and hot-plugs a second NIC into it,
// twice (the second changes nothing), then, after an agent restart (a new
// Driver), unplugs it: the unplug completes only if the guest's kernel saw the
// device and released it (ACPI PCI hot-plug).
func TestDriverHotplug(t *testing.T) {
	requireQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	img, err := guestimage.Build(ctx, guestimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	ns := newTestNamespace(t, work)
	run(t, "ip", "-n", ns, "tuntap", "add", "tap1", "mode", "tap")
	run(t, "ip", "-n", ns, "link", "set", "tap1", "master", "br0", "up")
	instances := filepath.Join(work, "instances")
	uuid := "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"
	spec := virt.Spec{UUID: uuid, Name: "instance-00000002", VCPUs: 1, MemoryMB: 256,
		Dir: filepath.Join(instances, uuid), NICs: []virt.NIC{{MAC: testMAC, Tap: testTap, MTU: 1500}}, Accelerator: "auto"}
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec.RootDisk = filepath.Join(spec.Dir, "disk")
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", img.Disk, "-F", "qcow2", spec.RootDisk)
	opts := Options{InstancesDir: instances, HostNamespace: ns, Logger: testLogger(t)}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killLeftover(t, spec) })
	g := &guest{t: t, d: d, spec: spec, ns: ns}
	if _, err := d.Interfaces(ctx, spec); err == nil {
		t.Fatal("Interfaces of a guest that does not run: no error")
	}
	if err := d.Spawn(ctx, spec); err != nil {
		t.Fatal(err)
	}
	g.waitMarkers(1)
	macs := func(d *Driver) []string {
		t.Helper()
		nics, err := d.Interfaces(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range nics {
			out = append(out, n.MAC)
		}
		slices.Sort(out)
		return out
	}
	if got := macs(d); !slices.Equal(got, []string{testMAC}) {
		t.Fatalf("NICs after boot %v, want [%s]", got, testMAC)
	}
	g.ping()
	second := virt.NIC{MAC: "52:54:00:c0:ff:02", Tap: "tap1", MTU: 1450}
	for range 2 {
		if err := d.AttachInterface(ctx, spec, second); err != nil {
			t.Fatal(err)
		}
	}
	if got := macs(d); !slices.Equal(got, []string{testMAC, second.MAC}) {
		t.Fatalf("NICs after attach %v, want both", got)
	}
	checkDiagnostics(t, ctx, d, spec, second)

	d2, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for range 2 {
		if err := d2.DetachInterface(ctx, spec, second); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("detach: %s", time.Since(start).Round(100*time.Millisecond))
	if got := macs(d2); !slices.Equal(got, []string{testMAC}) {
		t.Fatalf("NICs after detach %v, want [%s]", got, testMAC)
	}
	// The tap is free again: a new attach of the same port works.
	if err := d2.AttachInterface(ctx, spec, second); err != nil {
		t.Fatalf("attach after detach: %v", err)
	}
	if err := d2.Destroy(ctx, spec); err != nil {
		t.Fatal(err)
	}
}

// checkDiagnostics: the booted guest has used its vCPU, read its disk and, having
// answered pings, sent on its boot NIC; the hot-plugged NIC is there too.
func checkDiagnostics(t *testing.T, ctx context.Context, d *Driver, spec virt.Spec, plugged virt.NIC) {
	t.Helper()
	diag, err := d.Diagnostics(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if diag.State != virt.Running || diag.MemoryMB != spec.MemoryMB || diag.MemoryUsedMB <= 0 || diag.UptimeSeconds < 0 {
		t.Errorf("diagnostics = %+v", diag)
	}
	if len(diag.CPUs) != 1 || diag.CPUs[0].TimeNS <= 0 {
		t.Errorf("CPUs = %+v", diag.CPUs)
	}
	if len(diag.Disks) != 1 || diag.Disks[0].Name != "vda" || diag.Disks[0].ReadBytes <= 0 || diag.Disks[0].ReadRequests <= 0 {
		t.Errorf("disks = %+v", diag.Disks)
	}
	nics := map[string]virt.NICStats{}
	for _, n := range diag.NICs {
		nics[n.MAC] = n
	}
	if boot := nics[testMAC]; boot.Name != testTap || boot.TxPackets <= 0 || boot.RxPackets <= 0 {
		t.Errorf("boot NIC = %+v", boot)
	}
	if n, ok := nics[plugged.MAC]; !ok || n.Name != plugged.Tap {
		t.Errorf("hot-plugged NIC = %+v", n)
	}
}
