package qemu

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/guestimage"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend/iscsi"
)

const testInitiator = "iqn.2010-10.org.openstack.nimbus:compute-1"

// iscsiBackend is the volume service's iSCSI backend on a pool of the test's
// own; its tgtd is killed by its pid at cleanup.
func iscsiBackend(t *testing.T, pool string) *iscsi.Backend {
	t.Helper()
	for _, bin := range []string{"tgtd", "tgtadm"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s (apt-get install tgt qemu-block-extra)", bin)
		}
	}
	b, err := iscsi.New(iscsi.Options{Pool: pool})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killTGTD(t, pool) })
	return b
}

// killTGTD kills the pool's tgtd by the pid its pid file names.
func killTGTD(t *testing.T, pool string) {
	data, err := os.ReadFile(filepath.Join(pool, ".tgtd", "tgtd.pid"))
	if err != nil {
		return
	}
	if pid, err := strconv.Atoi(string(data[:len(data)-1])); err == nil && pid > 0 {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
}

// iscsiDisk exports the volume for an attachment of compute-1 and makes the
// disk the agent would from its connection_info.
func iscsiDisk(t *testing.T, b *iscsi.Backend, v backend.Volume, attachmentID string) virt.VolumeDisk {
	t.Helper()
	info, err := b.Export(context.Background(), v, backend.Export{AttachmentID: attachmentID,
		Connector: backend.Connector{Host: "compute-1", Initiator: testInitiator}})
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(info.Data["target_portal"].(string))
	p, _ := strconv.Atoi(port)
	return virt.VolumeDisk{VolumeID: v.ID, Protocol: virt.VolumeISCSI, Host: host, Port: p,
		Target: info.Data["target_iqn"].(string), LUN: info.Data["target_lun"].(int),
		User: info.Data["auth_username"].(string), Password: info.Data["auth_password"].(string), InitiatorName: testInitiator}
}

// TestDriverISCSIVolume hot-plugs a volume of the iSCSI backend into the
// test guest (QEMU's libiscsi logging in with CHAP, the password from a
// secret object's file), grows it online, unplugs it, and boots a guest
// from an iSCSI volume holding the guest image.
func TestDriverISCSIVolume(t *testing.T) {
	requireQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	img, err := guestimage.Build(ctx, guestimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	b := iscsiBackend(t, filepath.Join(work, "pool"))
	v := backend.Volume{ID: "8d0f7780-7425-40de-944b-e07fc1f90ae8", SizeGB: 1}
	if err := b.Create(ctx, v); err != nil {
		t.Fatal(err)
	}
	vol := iscsiDisk(t, b, v, "8d0f7780-0000-4000-8000-0000000000a1")

	instances := filepath.Join(work, "instances")
	uuid := "8a7b6c5d-0d1e-4f2a-8b3c-4d5e6f7a8b9c"
	spec := virt.Spec{UUID: uuid, Name: "instance-00000005", VCPUs: 1, MemoryMB: 256,
		Dir: filepath.Join(instances, uuid), Accelerator: "auto"}
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec.RootDisk = filepath.Join(spec.Dir, "disk")
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", img.Disk, "-F", "qcow2", spec.RootDisk)
	d, err := New(Options{InstancesDir: instances, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killLeftover(t, spec) })
	g := &guest{t: t, d: d, spec: spec}
	if err := d.Spawn(ctx, spec); err != nil {
		t.Fatal(err)
	}
	g.waitMarkers(1)
	for range 2 {
		if err := d.AttachVolume(ctx, spec, vol); err != nil {
			t.Fatal(err)
		}
	}
	vols, err := d.Volumes(ctx, spec)
	if err != nil || len(vols) != 1 || vols[0].VolumeID != v.ID {
		t.Fatalf("volumes after attach %+v %v", vols, err)
	}
	qdev := "/machine/peripheral/" + volumeIDsOf(v.ID).device + "/virtio-backend"
	if got := blockSizes(t, ctx, spec)[qdev]; got != 1<<30 {
		t.Fatalf("query-block: %s has %d bytes, want %d", qdev, got, 1<<30)
	}
	info, err := os.Stat(chapSecretPath(spec, vol))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the CHAP secret file: %v, %v; want mode 0600", info, err)
	}

	if err := b.Extend(ctx, v, 2); err != nil {
		t.Fatal(err)
	}
	spec.Volumes = []virt.VolumeDisk{vol}
	if err := d.ExtendVolume(ctx, spec, v.ID, 2<<30); err != nil {
		t.Fatal(err)
	}
	if got := blockSizes(t, ctx, spec)[qdev]; got != 2<<30 {
		t.Fatalf("query-block after extend: %s has %d bytes, want %d", qdev, got, 2<<30)
	}
	for range 2 {
		if err := d.DetachVolume(ctx, spec, v.ID); err != nil {
			t.Fatal(err)
		}
	}
	if vols, _ := d.Volumes(ctx, spec); len(vols) != 0 {
		t.Fatalf("volumes after detach %+v", vols)
	}
	if _, err := os.Stat(chapSecretPath(spec, vol)); !os.IsNotExist(err) {
		t.Fatalf("the CHAP secret is left after the detach: %v", err)
	}
	if err := d.Destroy(ctx, spec); err != nil {
		t.Fatal(err)
	}

	// Boot from an iSCSI volume holding the guest image, no local disk; the
	// password is on no command line.
	root := backend.Volume{ID: "8d0f7780-7425-40de-944b-e07fc1f90ae9", SizeGB: 1}
	if err := b.CreateFromImage(ctx, root, backend.ImageSource{Path: img.Disk, Format: "qcow2"}); err != nil {
		t.Fatal(err)
	}
	rootDisk := iscsiDisk(t, b, root, "8d0f7780-0000-4000-8000-0000000000a2")
	rootDisk.Boot = true
	boot := virt.Spec{UUID: "9b8c7d6e-0d1e-4f2a-8b3c-4d5e6f7a8b9c", Name: "instance-00000006", VCPUs: 1, MemoryMB: 256,
		Accelerator: "auto", Volumes: []virt.VolumeDisk{rootDisk}}
	boot.Dir = filepath.Join(instances, boot.UUID)
	t.Cleanup(func() { killLeftover(t, boot) })
	if err := d.Spawn(ctx, boot); err != nil {
		t.Fatal(err)
	}
	bg := &guest{t: t, d: d, spec: boot}
	bg.waitMarkers(1)
	if pid := passwordOnACommandLine(rootDisk.Password); pid != 0 {
		t.Fatalf("process %d has the CHAP password on its command line", pid)
	}
	vols, err = d.Volumes(ctx, boot)
	if err != nil || !slices.ContainsFunc(vols, func(x virt.VolumeDisk) bool { return x.VolumeID == root.ID }) {
		t.Fatalf("volumes of the guest booted from iSCSI %+v %v", vols, err)
	}
	if err := d.Destroy(ctx, boot); err != nil {
		t.Fatal(err)
	}
}

// passwordOnACommandLine is the pid of a process whose command line holds
// password, or 0.
func passwordOnACommandLine(password string) int {
	paths, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(data), password) {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	return 0
}
