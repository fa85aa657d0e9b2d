package qemu

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/platform/unixsock"
)

// The files the driver keeps in an instance's Dir.
const (
	pidFile         = "qemu.pid"
	qmpSocket       = "qmp.sock"
	vncSocket       = "vnc.sock"
	consoleLog      = "console.log"
	qemuLog         = "qemu.log"     // QEMU's stderr until it daemonizes, appended
	runLog          = "qemu-run.log" // its stderr after (-D), new each start
	stateFile       = "state"
	stateTmp        = "state.tmp"
	instanceDocFile = "instance.json"
)

// dirFD is the descriptor QEMU gets its instance directory on when the sockets'
// paths are too long for sockaddr_un (see unixsock): it binds them as
// /proc/self/fd/3/<name>.
const dirFD = 3

// socketsNeedDirFD reports whether the sockets in dir are too long to name directly.
func socketsNeedDirFD(dir string) bool {
	return !unixsock.Fits(filepath.Join(dir, qmpSocket)) || !unixsock.Fits(filepath.Join(dir, vncSocket))
}

// launch is one QEMU start: the Spec, the accelerator already resolved from "auto",
// and, when resuming, the saved state to load (-incoming).
type launch struct {
	spec     virt.Spec
	accel    string
	incoming string
}

// buildArgs is QEMU's command line for l, without the binary. It returns an error
// for a Spec QEMU would misread: QEMU's option syntax splits values at commas, so a
// path or name with one would silently become other options.
func buildArgs(l launch) ([]string, error) {
	s := l.spec
	if err := validate(s); err != nil {
		return nil, err
	}
	if l.accel != "kvm" && l.accel != "tcg" {
		return nil, fmt.Errorf("accelerator %q: want kvm or tcg", l.accel)
	}
	in := func(name string) string { return filepath.Join(s.Dir, name) }
	sock := in
	if socketsNeedDirFD(s.Dir) {
		sock = func(name string) string { return fmt.Sprintf("/proc/self/fd/%d/%s", dirFD, name) }
	}
	args := []string{
		// The guest's name and uuid on the command line are how List and every
		// action recognise the process as this instance's after an agent restart.
		"-name", "guest=" + s.Name + ",debug-threads=on",
		"-uuid", s.UUID,
		"-machine", "pc,accel=" + l.accel,
	}
	if l.accel == "kvm" {
		args = append(args, "-cpu", "host")
	}
	args = append(args,
		"-m", strconv.Itoa(s.MemoryMB),
		"-smp", strconv.Itoa(s.VCPUs),
		// Only the devices listed here: no default NIC, serial, parallel, CD-ROM or
		// config files from /etc/qemu, as libvirt starts QEMU.
		"-nodefaults", "-no-user-config",
		"-display", "none",
		"-msg", "timestamp=on",
		// Detached, so the guest outlives the agent; the pid file finds it again.
		"-daemonize", "-pidfile", in(pidFile),
		// A daemonized QEMU sends stderr to /dev/null unless -D names a log:
		// then its errors (a saved state that does not load) stay readable.
		"-D", in(runLog),
		"-qmp", "unix:"+sock(qmpSocket)+",server=on,wait=off",
		// A VGA device, so the VNC console has a screen, as upstream's default video.
		"-device", "VGA",
		"-vnc", "unix:"+sock(vncSocket),
		// Appended, so the console history survives reboots and restarts.
		"-chardev", "file,id=charserial0,path="+in(consoleLog)+",append=on",
		"-device", "isa-serial,chardev=charserial0",
	)
	var disks []string
	if s.RootDisk != "" {
		disks = []string{s.RootDisk}
	}
	if s.RescueDisk != "" {
		disks = append([]string{s.RescueDisk}, disks...)
	}
	for i, disk := range disks {
		id := "virtio-disk" + strconv.Itoa(i)
		dev := "virtio-blk-pci,drive=drive-" + id + ",id=" + id
		if i == 0 {
			dev += ",bootindex=1"
		}
		args = append(args, "-drive", "file="+disk+",if=none,id=drive-"+id+",format=qcow2", "-device", dev)
	}
	// The local disks follow the root disk on the PCI bus, so the guest names
	// them vdb, vdc... as the API told (a root volume comes first too).
	volumes, before := s.Volumes, len(disks)
	if before == 0 && len(volumes) > 0 && volumes[0].Boot {
		args = append(args, volumeArgs(s, volumes[:1])...)
		volumes, before = volumes[1:], 1
	}
	for i, disk := range s.LocalDisks {
		id := "virtio-disk" + strconv.Itoa(before+i)
		args = append(args, "-drive", "file="+disk+",if=none,id=drive-"+id+",format=raw",
			"-device", "virtio-blk-pci,drive=drive-"+id+",id="+id)
	}
	args = append(args, volumeArgs(s, volumes)...)
	if s.ConfigDrive != "" {
		args = append(args,
			"-drive", "file="+s.ConfigDrive+",if=none,id=drive-ide0-1-0,media=cdrom,readonly=on,format=raw",
			"-device", "ide-cd,bus=ide.1,unit=0,drive=drive-ide0-1-0,id=ide0-1-0")
	}
	if s.Kernel != "" {
		args = append(args, "-kernel", s.Kernel)
		if s.Ramdisk != "" {
			args = append(args, "-initrd", s.Ramdisk)
		}
		if s.CommandLine != "" {
			args = append(args, "-append", s.CommandLine)
		}
	}
	for i, nic := range s.NICs {
		id := fmt.Sprintf("net%d", i)
		// The tap exists already (the agent made and plugged it); script=no keeps
		// QEMU from running /etc/qemu-ifup on it.
		args = append(args, "-netdev", "tap,id="+id+",ifname="+nic.Tap+",script=no,downscript=no")
		dev := "virtio-net-pci,netdev=" + id + ",id=nic" + strconv.Itoa(i) + ",mac=" + nic.MAC
		if nic.MTU > 0 {
			dev += ",host_mtu=" + strconv.Itoa(nic.MTU)
		}
		args = append(args, "-device", dev)
	}
	switch {
	case l.incoming == incomingDefer:
		// A live migration's destination: paused, waiting for migrate-incoming.
		args = append(args, "-S", "-incoming", "defer")
	case l.incoming != "":
		// -S: stay paused after loading, so the driver resumes the CPUs itself once
		// it has seen the migration complete.
		args = append(args, "-S", "-incoming", "exec:cat "+shellQuote(l.incoming))
	case s.Paused:
		args = append(args, "-S")
	}
	return args, nil
}

// validate rejects what would make a wrong or unparsable command line.
func validate(s virt.Spec) error {
	var errs []error
	if s.UUID == "" {
		errs = append(errs, errors.New("no uuid"))
	}
	if s.Name == "" {
		errs = append(errs, errors.New("no name"))
	}
	if s.Dir == "" || !filepath.IsAbs(s.Dir) {
		errs = append(errs, fmt.Errorf("dir %q is not an absolute path", s.Dir))
	}
	bootVolume := slices.ContainsFunc(s.Volumes, func(v virt.VolumeDisk) bool { return v.Boot })
	if s.RootDisk == "" && !bootVolume {
		errs = append(errs, errors.New("no root disk and no boot volume"))
	}
	for _, v := range s.Volumes {
		if err := validateVolume(v); err != nil {
			errs = append(errs, err)
		}
	}
	if s.VCPUs < 1 {
		errs = append(errs, fmt.Errorf("vcpus %d: want at least 1", s.VCPUs))
	}
	if s.MemoryMB < 1 {
		errs = append(errs, fmt.Errorf("memory %d MB: want at least 1", s.MemoryMB))
	}
	if s.Kernel == "" && (s.Ramdisk != "" || s.CommandLine != "") {
		errs = append(errs, errors.New("ramdisk or command line without a kernel"))
	}
	fields := [][2]string{{"uuid", s.UUID}, {"name", s.Name}, {"dir", s.Dir}, {"root disk", s.RootDisk},
		{"rescue disk", s.RescueDisk}, {"config drive", s.ConfigDrive}, {"kernel", s.Kernel}, {"ramdisk", s.Ramdisk}}
	for i, disk := range s.LocalDisks {
		if !filepath.IsAbs(disk) {
			errs = append(errs, fmt.Errorf("local disk %q is not an absolute path", disk))
		}
		fields = append(fields, [2]string{fmt.Sprintf("local disk %d", i), disk})
	}
	for i, nic := range s.NICs {
		if nic.Tap == "" || nic.MAC == "" {
			errs = append(errs, fmt.Errorf("nic %d: needs a tap and a MAC", i))
		}
		fields = append(fields, [2]string{fmt.Sprintf("nic %d tap", i), nic.Tap}, [2]string{fmt.Sprintf("nic %d mac", i), nic.MAC})
	}
	for _, f := range fields {
		if strings.Contains(f[1], ",") {
			errs = append(errs, fmt.Errorf("%s %q contains a comma, which QEMU's option syntax cannot take", f[0], f[1]))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("instance %s: %w", s.UUID, err)
	}
	return nil
}

// shellQuote quotes s for /bin/sh, which runs QEMU's exec: migration commands.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
