package qemu

import (
	"slices"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

func baseSpec() virt.Spec {
	return virt.Spec{
		UUID: "11111111-2222-3333-4444-555555555555", Name: "instance-0000002a",
		VCPUs: 2, MemoryMB: 512, Dir: "/var/lib/nimbus/instances/u1", RootDisk: "/var/lib/nimbus/instances/u1/disk",
	}
}

func TestBuildArgs(t *testing.T) {
	const dir = "/var/lib/nimbus/instances/u1"
	tests := []struct {
		name   string
		edit   func(*launch)
		want   [][]string // runs of consecutive arguments that must appear
		absent []string   // arguments that must not appear
	}{{
		name: "minimal guest",
		want: [][]string{
			{"-name", "guest=instance-0000002a,debug-threads=on"},
			{"-uuid", "11111111-2222-3333-4444-555555555555"},
			{"-machine", "pc,accel=tcg"},
			{"-m", "512"}, {"-smp", "2"},
			{"-nodefaults", "-no-user-config", "-display", "none"},
			{"-daemonize", "-pidfile", dir + "/qemu.pid"},
			{"-qmp", "unix:" + dir + "/qmp.sock,server=on,wait=off"},
			{"-vnc", "unix:" + dir + "/vnc.sock"},
			{"-chardev", "file,id=charserial0,path=" + dir + "/console.log,append=on"},
			{"-device", "isa-serial,chardev=charserial0"},
			{"-drive", "file=" + dir + "/disk,if=none,id=drive-virtio-disk0,format=qcow2"},
			{"-device", "virtio-blk-pci,drive=drive-virtio-disk0,id=virtio-disk0,bootindex=1"},
		},
		absent: []string{"-cpu", "-kernel", "-incoming", "-S", "-netdev", "ide-cd"},
	}, {
		name: "sockets too deep for sun_path go through the directory's descriptor",
		edit: func(l *launch) { l.spec.Dir = "/" + strings.Repeat("d", 100) },
		want: [][]string{
			{"-qmp", "unix:/proc/self/fd/3/qmp.sock,server=on,wait=off"},
			{"-vnc", "unix:/proc/self/fd/3/vnc.sock"},
			{"-daemonize", "-pidfile", "/" + strings.Repeat("d", 100) + "/qemu.pid"},
		},
	}, {
		name: "a rescued guest boots the rescue disk, its own second",
		edit: func(l *launch) { l.spec.RescueDisk = dir + "/disk.rescue" },
		want: [][]string{
			{"-drive", "file=" + dir + "/disk.rescue,if=none,id=drive-virtio-disk0,format=qcow2"},
			{"-device", "virtio-blk-pci,drive=drive-virtio-disk0,id=virtio-disk0,bootindex=1"},
			{"-drive", "file=" + dir + "/disk,if=none,id=drive-virtio-disk1,format=qcow2"},
			{"-device", "virtio-blk-pci,drive=drive-virtio-disk1,id=virtio-disk1"},
		},
	}, {
		name: "kvm uses the host CPU",
		edit: func(l *launch) { l.accel = "kvm" },
		want: [][]string{{"-machine", "pc,accel=kvm"}, {"-cpu", "host"}},
	}, {
		name: "direct kernel boot",
		edit: func(l *launch) {
			l.spec.Kernel, l.spec.Ramdisk, l.spec.CommandLine = "/img/vmlinuz", "/img/initrd", "console=ttyS0 quiet"
		},
		want: [][]string{{"-kernel", "/img/vmlinuz", "-initrd", "/img/initrd", "-append", "console=ttyS0 quiet"}},
	}, {
		name: "kernel without ramdisk or command line",
		edit: func(l *launch) { l.spec.Kernel = "/img/vmlinuz" },
		want: [][]string{{"-kernel", "/img/vmlinuz"}}, absent: []string{"-initrd", "-append"},
	}, {
		name: "config drive is a CD-ROM",
		edit: func(l *launch) { l.spec.ConfigDrive = dir + "/disk.config" },
		want: [][]string{
			{"-drive", "file=" + dir + "/disk.config,if=none,id=drive-ide0-1-0,media=cdrom,readonly=on,format=raw"},
			{"-device", "ide-cd,bus=ide.1,unit=0,drive=drive-ide0-1-0,id=ide0-1-0"},
		},
	}, {
		name: "one virtio NIC per tap",
		edit: func(l *launch) {
			l.spec.NICs = []virt.NIC{{MAC: "fa:16:3e:00:00:01", Tap: "tap1", MTU: 1450}, {MAC: "fa:16:3e:00:00:02", Tap: "tap2"}}
		},
		want: [][]string{
			{"-netdev", "tap,id=net0,ifname=tap1,script=no,downscript=no"},
			{"-device", "virtio-net-pci,netdev=net0,id=nic0,mac=fa:16:3e:00:00:01,host_mtu=1450"},
			{"-netdev", "tap,id=net1,ifname=tap2,script=no,downscript=no"},
			{"-device", "virtio-net-pci,netdev=net1,id=nic1,mac=fa:16:3e:00:00:02"},
		},
	}, {
		name: "resume loads the saved state, paused",
		edit: func(l *launch) { l.incoming = "/srv/it's here/state" },
		want: [][]string{{"-S", "-incoming", `exec:cat '/srv/it'\''s here/state'`}},
	}, {
		name: "a server booted from a volume boots its NBD disk; its key is named by directory",
		edit: func(l *launch) {
			l.spec.RootDisk = ""
			l.spec.Volumes = []virt.VolumeDisk{{VolumeID: "0b2c-4d", Host: "10.0.0.5", Port: 10809, Export: "volume-0b2c-4d",
				TLSPSKIdentity: "compute-1", TLSPSKKey: "00ff", Boot: true}}
		},
		want: [][]string{
			{"-object", `{"dir":"` + dir + `/volume-vt0b2c4d","endpoint":"client","id":"vt0b2c4d","qom-type":"tls-creds-psk","username":"compute-1"}`},
			{"-blockdev", `{"driver":"raw","file":{"driver":"nbd","export":"volume-0b2c-4d","node-name":"vp0b2c4d","read-only":false,` +
				`"reconnect-delay":60,"server":{"host":"10.0.0.5","port":"10809","type":"inet"},"tls-creds":"vt0b2c4d"},"node-name":"vf0b2c4d","read-only":false}`},
			{"-device", `{"bootindex":1,"drive":"vf0b2c4d","driver":"virtio-blk-pci","id":"vol-0b2c-4d","serial":"0b2c-4d"}`},
		},
		absent: []string{"-drive"},
	}, {
		name: "an attached volume is a disk after the root, not booted",
		edit: func(l *launch) {
			l.spec.Volumes = []virt.VolumeDisk{{VolumeID: "v1", Host: "h", Port: 1, Export: "e", ReadOnly: true}}
		},
		want: [][]string{
			{"-device", "virtio-blk-pci,drive=drive-virtio-disk0,id=virtio-disk0,bootindex=1"},
			{"-device", `{"drive":"vfv1","driver":"virtio-blk-pci","id":"vol-v1","serial":"v1"}`},
		},
		absent: []string{"-object"},
	}, {
		name:   "a paused spawn stops the CPUs before the first instruction",
		edit:   func(l *launch) { l.spec.Paused = true },
		want:   [][]string{{"-S"}},
		absent: []string{"-incoming"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := launch{spec: baseSpec(), accel: "tcg"}
			if tt.edit != nil {
				tt.edit(&l)
			}
			args, err := buildArgs(l)
			if err != nil {
				t.Fatal(err)
			}
			for _, run := range tt.want {
				if !containsRun(args, run) {
					t.Errorf("args lack %q:\n%s", run, strings.Join(args, " "))
				}
			}
			for _, a := range tt.absent {
				if slices.Contains(args, a) {
					t.Errorf("args have %q:\n%s", a, strings.Join(args, " "))
				}
			}
		})
	}
}

func TestBuildArgsRejects(t *testing.T) {
	tests := []struct {
		name string
		edit func(*launch)
		want string // part of the error
	}{
		{"comma in a path", func(l *launch) { l.spec.RootDisk = "/x/a,b" }, "root disk \"/x/a,b\" contains a comma"},
		{"comma in a tap", func(l *launch) { l.spec.NICs = []virt.NIC{{MAC: "fa:16:3e:00:00:01", Tap: "t,ap"}} }, "nic 0 tap"},
		{"nic without a MAC", func(l *launch) { l.spec.NICs = []virt.NIC{{Tap: "tap1"}} }, "needs a tap and a MAC"},
		{"no uuid", func(l *launch) { l.spec.UUID = "" }, "no uuid"},
		{"no name", func(l *launch) { l.spec.Name = "" }, "no name"},
		{"relative dir", func(l *launch) { l.spec.Dir = "instances/u1" }, "not an absolute path"},
		{"no root disk", func(l *launch) { l.spec.RootDisk = "" }, "no root disk"},
		{"no root disk, a volume not booted", func(l *launch) {
			l.spec.RootDisk, l.spec.Volumes = "", []virt.VolumeDisk{{VolumeID: "v1", Host: "h", Port: 1}}
		}, "no boot volume"},
		{"volume without a port", func(l *launch) { l.spec.Volumes = []virt.VolumeDisk{{VolumeID: "v1", Host: "h"}} }, "needs an id, a host and a port"},
		{"volume key not hex", func(l *launch) {
			l.spec.Volumes = []virt.VolumeDisk{{VolumeID: "v1", Host: "h", Port: 1, TLSPSKIdentity: "c", TLSPSKKey: "xyz"}}
		}, "not hex"},
		{"volume identity with a colon", func(l *launch) {
			l.spec.Volumes = []virt.VolumeDisk{{VolumeID: "v1", Host: "h", Port: 1, TLSPSKIdentity: "a:b", TLSPSKKey: "00"}}
		}, "QEMU's options or key file cannot take"},
		{"no vcpus", func(l *launch) { l.spec.VCPUs = 0 }, "vcpus 0"},
		{"no memory", func(l *launch) { l.spec.MemoryMB = 0 }, "memory 0"},
		{"ramdisk without kernel", func(l *launch) { l.spec.Ramdisk = "/img/initrd" }, "without a kernel"},
		{"unresolved accelerator", func(l *launch) { l.accel = "auto" }, "want kvm or tcg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := launch{spec: baseSpec(), accel: "tcg"}
			tt.edit(&l)
			_, err := buildArgs(l)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("buildArgs = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestResolveAccel(t *testing.T) {
	tests := []struct {
		kvm     bool
		in, out string
		err     bool
	}{
		{in: "", kvm: true, out: "kvm"},
		{in: "auto", kvm: true, out: "kvm"},
		{in: "auto", kvm: false, out: "tcg"},
		{in: "", kvm: false, out: "tcg"},
		{in: "kvm", kvm: false, out: "kvm"}, // asked for explicitly: the operator knows
		{in: "tcg", kvm: true, out: "tcg"},
		{in: "hvf", err: true},
	}
	for _, tt := range tests {
		got, err := resolveAccel(tt.in, func() bool { return tt.kvm })
		if (err != nil) != tt.err || got != tt.out {
			t.Errorf("resolveAccel(%q, kvm usable %v) = %q, %v; want %q (error %v)", tt.in, tt.kvm, got, err, tt.out, tt.err)
		}
	}
}

// containsRun reports whether run appears in args as consecutive elements.
func containsRun(args, run []string) bool {
	for i := 0; i+len(run) <= len(args); i++ {
		if slices.Equal(args[i:i+len(run)], run) {
			return true
		}
	}
	return false
}
