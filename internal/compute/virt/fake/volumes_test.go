package fake

import (
	"context"
	"slices"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// TestVolumes: the fake keeps a guest's volume disks as QEMU does: those of
// its Spec at a start, hot-plugs twice changing nothing, unplugs of a disk that
// is not there doing nothing, and none to tell of (an error) for a guest that
// does not run.
func TestVolumes(t *testing.T) {
	ctx := context.Background()
	d := New(virt.HostResources{})
	disk := func(id string) virt.VolumeDisk { return virt.VolumeDisk{VolumeID: id, Host: "h", Port: 1} }
	g := virt.Spec{UUID: "g1", Volumes: []virt.VolumeDisk{disk("root")}}
	if _, err := d.Volumes(ctx, g); err == nil {
		t.Fatal("Volumes of a guest that does not exist: no error")
	}
	if err := d.Spawn(ctx, g); err != nil {
		t.Fatal(err)
	}
	ids := func() []string {
		t.Helper()
		vols, err := d.Volumes(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range vols {
			out = append(out, v.VolumeID)
		}
		return out
	}
	for range 2 {
		if err := d.AttachVolume(ctx, g, disk("data")); err != nil {
			t.Fatal(err)
		}
	}
	if got := ids(); !slices.Equal(got, []string{"root", "data"}) {
		t.Fatalf("volumes %v", got)
	}
	if err := d.ExtendVolume(ctx, g, "nope", 1<<30); err == nil {
		t.Fatal("extend of a volume the guest has not: no error")
	}
	for range 2 {
		if err := d.DetachVolume(ctx, g, "data"); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"attach-volume g1 data", "detach-volume g1 data"}
	if got := d.Hotplugs(); !slices.Equal(got, want) {
		t.Fatalf("hot-plugs %v, want %v", got, want)
	}
	if err := d.PowerOff(ctx, g, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Volumes(ctx, g); err == nil {
		t.Fatal("Volumes of a stopped guest: no error")
	}
	if err := d.AttachVolume(ctx, g, disk("data")); err == nil {
		t.Fatal("hot-plug into a stopped guest: no error")
	}
	// A start has the Spec's volumes, as QEMU's command line.
	g.Volumes = append(g.Volumes, disk("late"))
	if err := d.PowerOn(ctx, g); err != nil {
		t.Fatal(err)
	}
	if got := ids(); !slices.Equal(got, []string{"root", "late"}) {
		t.Fatalf("volumes after a start %v", got)
	}
}
