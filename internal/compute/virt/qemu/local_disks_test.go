package qemu

import (
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// TestBuildArgsLocalDisks: the ephemeral and swap disks are raw virtio disks
// right after the root disk (a root volume too) and before the other volumes,
// as libvirt's disk mapping orders them, so the guest names them vdb, vdc.
func TestBuildArgsLocalDisks(t *testing.T) {
	const dir = "/var/lib/nimbus/instances/u1"
	eph, swap := dir+"/disk.eph0", dir+"/disk.swap"
	vol := virt.VolumeDisk{VolumeID: "v1", Host: "192.0.2.1", Port: 10809, Export: "volume-v1"}
	boot := virt.VolumeDisk{VolumeID: "v0", Host: "192.0.2.1", Port: 10809, Export: "volume-v0", Boot: true}
	tests := []struct {
		name  string
		edit  func(*virt.Spec)
		order []string // arguments that must appear in this order
	}{{
		name: "image root, ephemeral, swap, volume",
		edit: func(s *virt.Spec) { s.LocalDisks, s.Volumes = []string{eph, swap}, []virt.VolumeDisk{vol} },
		order: []string{
			"file=" + dir + "/disk,if=none,id=drive-virtio-disk0,format=qcow2",
			"file=" + eph + ",if=none,id=drive-virtio-disk1,format=raw",
			"virtio-blk-pci,drive=drive-virtio-disk1,id=virtio-disk1",
			"file=" + swap + ",if=none,id=drive-virtio-disk2,format=raw",
			"virtio-blk-pci,drive=drive-virtio-disk2,id=virtio-disk2",
			`"serial":"v1"`,
		},
	}, {
		name: "root volume, then the local disks, then the other volumes",
		edit: func(s *virt.Spec) {
			s.RootDisk, s.LocalDisks, s.Volumes = "", []string{eph}, []virt.VolumeDisk{boot, vol}
		},
		order: []string{`"serial":"v0"`, "file=" + eph + ",if=none,id=drive-virtio-disk1,format=raw", `"serial":"v1"`},
	}, {
		name: "a rescued guest has them after its own disk",
		edit: func(s *virt.Spec) { s.RescueDisk, s.LocalDisks = dir+"/disk.rescue", []string{eph} },
		order: []string{"id=drive-virtio-disk0", "file=" + dir + "/disk,if=none,id=drive-virtio-disk1,format=qcow2",
			"file=" + eph + ",if=none,id=drive-virtio-disk2,format=raw"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := baseSpec()
			tt.edit(&s)
			args, err := buildArgs(launch{spec: s, accel: "tcg"})
			if err != nil {
				t.Fatal(err)
			}
			at := -1
			for _, want := range tt.order {
				i := slices.IndexFunc(args[at+1:], func(a string) bool { return strings.Contains(a, want) })
				if i < 0 {
					t.Fatalf("no %q after argument %d:\n%s", want, at, strings.Join(args, " "))
				}
				at += 1 + i
			}
		})
	}
}

// TestBuildArgsRejectsLocalDisks: a local disk's path must be absolute and
// free of commas (QEMU's option syntax).
func TestBuildArgsRejectsLocalDisks(t *testing.T) {
	for _, disk := range []string{"disk.eph0", "/x/a,b/disk.eph0"} {
		s := baseSpec()
		s.LocalDisks = []string{disk}
		if _, err := buildArgs(launch{spec: s, accel: "tcg"}); err == nil || !strings.Contains(err.Error(), "local disk") {
			t.Errorf("local disk %q: %v", disk, err)
		}
	}
}
