package agent

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/fake"
)

// TestSyncVolumes: the agent converges a running guest's disks to its
// volumes (attaching ones plugged, detaching ones unplugged, an extend shown)
// and reports what the guest has; a second pass changes and reports nothing;
// a stopped guest's attach and detach complete at once (its next start has
// its volumes), a paused one's wait.
func TestSyncVolumes(t *testing.T) {
	ctx := context.Background()
	d := fake.New(virt.HostResources{})
	disk := func(id string) virt.VolumeDisk {
		return virt.VolumeDisk{VolumeID: id, Host: "192.0.2.1", Port: 10809, Export: "volume-" + id}
	}
	if err := d.Spawn(ctx, virt.Spec{UUID: "running", Volumes: []virt.VolumeDisk{disk("old"), disk("kept")}}); err != nil {
		t.Fatal(err)
	}
	running := compute.AgentInstance{UUID: "running", VMState: "active", PowerState: 1, Volumes: []compute.AgentVolume{
		{Disk: disk("kept"), Status: compute.VolumeAttached, SizeGB: 2, Extend: true},
		{Disk: disk("new"), Status: compute.VolumeAttaching, SizeGB: 1},
		{Disk: disk("old"), Status: compute.VolumeDetaching, SizeGB: 1},
	}}
	c := &ctrl{want: []compute.AgentInstance{running}}
	a, err := New(Options{Host: "h1", Driver: d, Controller: c, InstancesDir: t.TempDir(),
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	a.syncVolumes(ctx, running, virt.Running)
	want := []string{"detach-volume running old", "attach-volume running new", "extend-volume running kept 2147483648"}
	if got := d.Hotplugs(); !slices.Equal(got, want) {
		t.Fatalf("hot-plugs %q, want %q", got, want)
	}
	if len(c.volumes) != 1 || !slices.Equal(c.volumes[0].Present, []string{"kept", "new"}) ||
		!slices.Equal(c.volumes[0].Extended, []string{"kept"}) || c.volumes[0].UUID != "running" || c.volumes[0].Host != "h1" {
		t.Fatalf("volume reports %+v", c.volumes)
	}

	// The service moved on: nothing left to do or report.
	c.volumes = nil
	done := compute.AgentInstance{UUID: "running", VMState: "active", PowerState: 1, Volumes: []compute.AgentVolume{
		{Disk: disk("kept"), Status: compute.VolumeAttached, SizeGB: 2},
		{Disk: disk("new"), Status: compute.VolumeAttached, SizeGB: 1},
	}}
	a.syncVolumes(ctx, done, virt.Running)
	if got := d.Hotplugs(); len(got) != len(want) || len(c.volumes) != 0 {
		t.Fatalf("a converged guest: hot-plugs %q, reports %+v", got, c.volumes)
	}

	stopped := compute.AgentInstance{UUID: "stopped", VMState: "stopped", PowerState: 4, Volumes: []compute.AgentVolume{
		{Disk: disk("a"), Status: compute.VolumeAttaching},
		{Disk: disk("b"), Status: compute.VolumeDetaching},
	}}
	a.syncVolumes(ctx, stopped, virt.Shutdown)
	if len(c.volumes) != 1 || !slices.Equal(c.volumes[0].Present, []string{"a"}) {
		t.Fatalf("a stopped guest's report %+v", c.volumes)
	}
	c.volumes = nil
	a.syncVolumes(ctx, stopped, virt.Paused)
	if len(c.volumes) != 0 {
		t.Fatalf("a paused guest's report %+v", c.volumes)
	}

	// A boot volume is the guest's root: the spec has no root disk.
	spec := a.Spec(compute.AgentInstance{UUID: "bfv", Volumes: []compute.AgentVolume{
		{Disk: virt.VolumeDisk{VolumeID: "root", Host: "h", Port: 1, Boot: true}, Status: compute.VolumeAttached},
		{Disk: disk("gone"), Status: compute.VolumeDetaching},
	}})
	if spec.RootDisk != "" || len(spec.Volumes) != 1 || spec.Volumes[0].VolumeID != "root" {
		t.Fatalf("spec of a server booted from a volume: %+v", spec)
	}
}
