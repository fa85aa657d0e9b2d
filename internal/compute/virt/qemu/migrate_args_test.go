package qemu

import (
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// TestLocalDriveIDs: the disks a live migration copies are the ones buildArgs
// gives those drive ids: the root overlay and the local disks, never a volume.
func TestLocalDriveIDs(t *testing.T) {
	const dir = "/var/lib/nimbus/instances/u1"
	boot := virt.VolumeDisk{VolumeID: "v0", Host: "192.0.2.1", Port: 10809, Export: "volume-v0", Boot: true}
	vol := virt.VolumeDisk{VolumeID: "v1", Host: "192.0.2.1", Port: 10809, Export: "volume-v1"}
	tests := []struct {
		name string
		edit func(*virt.Spec)
		want []string
	}{
		{"root only", func(*virt.Spec) {}, []string{"drive-virtio-disk0"}},
		{"root, ephemeral, swap and a volume", func(s *virt.Spec) {
			s.LocalDisks, s.Volumes = []string{dir + "/disk.eph0", dir + "/disk.swap"}, []virt.VolumeDisk{vol}
		}, []string{"drive-virtio-disk0", "drive-virtio-disk1", "drive-virtio-disk2"}},
		{"root volume and an ephemeral disk", func(s *virt.Spec) {
			s.RootDisk, s.LocalDisks, s.Volumes = "", []string{dir + "/disk.eph0"}, []virt.VolumeDisk{boot, vol}
		}, []string{"drive-virtio-disk1"}},
		{"root volume alone", func(s *virt.Spec) {
			s.RootDisk, s.Volumes = "", []virt.VolumeDisk{boot}
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := baseSpec()
			tt.edit(&s)
			got, err := localDriveIDs(s)
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("localDriveIDs = %v, %v; want %v", got, err, tt.want)
			}
			args, err := buildArgs(launch{spec: s, accel: "tcg"})
			if err != nil {
				t.Fatal(err)
			}
			line := strings.Join(args, " ")
			for _, id := range got {
				if !strings.Contains(line, ",id="+id+",") {
					t.Fatalf("buildArgs has no drive %s: %s", id, line)
				}
			}
		})
	}
	s := baseSpec()
	s.RescueDisk = dir + "/disk.rescue"
	if _, err := localDriveIDs(s); err == nil {
		t.Fatal("localDriveIDs of a rescued guest: no error")
	}
}

// TestBuildArgsIncomingDefer: a live migration's destination starts paused,
// waiting for migrate-incoming, not reading a saved state.
func TestBuildArgsIncomingDefer(t *testing.T) {
	args, err := buildArgs(launch{spec: baseSpec(), accel: "tcg", incoming: incomingDefer})
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Join(args, " ")
	if !strings.HasSuffix(line, " -S -incoming defer") || strings.Contains(line, "exec:") {
		t.Fatalf("args end %q; want -S -incoming defer", line[max(0, len(line)-60):])
	}
}

// TestHostAddress: the listeners bind, and the source dials, only an IP
// address; a name, the unspecified address or a multicast one are refused.
func TestHostAddress(t *testing.T) {
	for host, want := range map[string]string{"10.202.0.2": "10.202.0.2", "fd00::2": "fd00::2", "::ffff:10.0.0.1": "10.0.0.1"} {
		if got, err := hostAddress(host); err != nil || got != want {
			t.Errorf("hostAddress(%q) = %q, %v; want %q", host, got, err, want)
		}
	}
	for _, host := range []string{"", "0.0.0.0", "::", "host-b", "224.0.0.1", "10.0.0.1:80", "10.0.0.1,x"} {
		if got, err := hostAddress(host); err == nil {
			t.Errorf("hostAddress(%q) = %q, no error", host, got)
		}
	}
}
