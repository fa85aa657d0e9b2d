package qemu

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/guestimage"
)

// nbdExport is a qcow2 volume served over NBD with a TLS pre-shared key by a
// qemu-storage-daemon of the test's own, as the volume service's file backend
// serves one; its QMP monitor grows it.
type nbdExport struct {
	disk    virt.VolumeDisk
	monitor string
}

// startNBDExport starts qemu-storage-daemon exporting a new qcow2 of sizeMB in
// dir over TCP with a PSK, killed by its pid at cleanup.
func startNBDExport(t *testing.T, dir string, sizeMB int) nbdExport {
	t.Helper()
	file := filepath.Join(dir, "volume.qcow2")
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", file, fmt.Sprintf("%dM", sizeMB))
	return exportFile(t, dir, file)
}

// exportFile starts qemu-storage-daemon exporting the qcow2 file over TCP with
// a PSK, killed by its pid at cleanup.
func exportFile(t *testing.T, dir, file string) nbdExport {
	t.Helper()
	if _, err := exec.LookPath("qemu-storage-daemon"); err != nil {
		t.Skip("needs qemu-storage-daemon")
	}
	keys := filepath.Join(dir, "server-keys")
	key := hex.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	if err := os.MkdirAll(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(keys, "keys.psk"), []byte("compute-1:"+key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	monitor := filepath.Join(dir, "qsd.sock")
	cmd := exec.Command("qemu-storage-daemon",
		"--object", "tls-creds-psk,id=tls0,endpoint=server,dir="+keys,
		"--blockdev", "driver=file,node-name=file0,filename="+file,
		"--blockdev", "driver=qcow2,node-name=disk0,file=file0",
		"--nbd-server", fmt.Sprintf("addr.type=inet,addr.host=127.0.0.1,addr.port=%d,tls-creds=tls0", port),
		"--export", "type=nbd,id=exp0,node-name=disk0,name=volume-1,writable=on",
		"--chardev", "socket,id=mon0,path="+monitor+",server=on,wait=off",
		"--monitor", "chardev=mon0")
	cmd.Stderr = testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("qemu-storage-daemon does not listen on %d: %v", port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nbdExport{monitor: monitor, disk: virt.VolumeDisk{VolumeID: "7c9e6679-7425-40de-944b-e07fc1f90ae7",
		Host: "127.0.0.1", Port: port, Export: "volume-1", TLSPSKIdentity: "compute-1", TLSPSKKey: key}}
}

// grow resizes the exported volume as the volume service would: the export
// goes (its clients' connections drop), the volume grows, the export comes back.
func (e nbdExport) grow(t *testing.T, ctx context.Context, size int64) {
	t.Helper()
	steps := []struct {
		command string
		args    map[string]any
	}{
		{"block-export-del", map[string]any{"id": "exp0", "mode": "hard"}},
		{"block_resize", map[string]any{"node-name": "disk0", "size": size}},
		{"block-export-add", map[string]any{"type": "nbd", "id": "exp0", "node-name": "disk0", "name": "volume-1", "writable": true}},
	}
	for _, s := range steps {
		var err error
		for try := 0; try < 50; try++ {
			// The export's removal completes asynchronously: its id stays
			// taken until the connections have gone.
			if err = qmp(ctx, e.monitor, s.command, s.args, nil); err == nil || !isDuplicateID(err) && !isAlreadyExists(err) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// blockSizes are the virtual sizes of the guest's block devices by qdev path,
// as query-block reports them.
func blockSizes(t *testing.T, ctx context.Context, spec virt.Spec) map[string]int64 {
	t.Helper()
	var devices []struct {
		QDev     string `json:"qdev"`
		Inserted *struct {
			NodeName string `json:"node-name"`
			Image    struct {
				VirtualSize int64 `json:"virtual-size"`
			} `json:"image"`
		} `json:"inserted"`
	}
	if err := qmp(ctx, filepath.Join(spec.Dir, qmpSocket), "query-block", nil, &devices); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, d := range devices {
		if d.Inserted != nil {
			out[d.QDev] = d.Inserted.Image.VirtualSize
		}
	}
	return out
}

// TestDriverVolumes boots the test guest and hot-plugs a volume exported over
// NBD with TLS into it (twice: the second changes nothing), grows it online,
// unplugs it (which completes only if the guest released the device), and
// starts the guest again with the volume on its command line.
func TestDriverVolumes(t *testing.T) {
	requireQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	img, err := guestimage.Build(ctx, guestimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	export := startNBDExport(t, work, 64)
	vol := export.disk
	instances := filepath.Join(work, "instances")
	uuid := "6f7a8b9c-0d1e-4f2a-8b3c-4d5e6f7a8b9c"
	spec := virt.Spec{UUID: uuid, Name: "instance-00000003", VCPUs: 1, MemoryMB: 256,
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
	if _, err := d.Volumes(ctx, spec); err == nil {
		t.Fatal("Volumes of a guest that does not run: no error")
	}
	if err := d.Spawn(ctx, spec); err != nil {
		t.Fatal(err)
	}
	g.waitMarkers(1)
	volumeIDs := func() []string {
		t.Helper()
		vols, err := d.Volumes(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range vols {
			out = append(out, v.VolumeID)
		}
		return out
	}
	if got := volumeIDs(); len(got) != 0 {
		t.Fatalf("volumes after boot %v, want none", got)
	}
	for range 2 {
		if err := d.AttachVolume(ctx, spec, vol); err != nil {
			t.Fatal(err)
		}
	}
	if got := volumeIDs(); !slices.Equal(got, []string{vol.VolumeID}) {
		t.Fatalf("volumes after attach %v, want [%s]", got, vol.VolumeID)
	}
	qdev := "/machine/peripheral/" + volumeIDsOf(vol.VolumeID).device + "/virtio-backend"
	if got := blockSizes(t, ctx, spec)[qdev]; got != 64<<20 {
		t.Fatalf("query-block: %s has %d bytes, want %d", qdev, got, 64<<20)
	}
	info, err := os.Stat(filepath.Join(pskDir(spec, vol), "keys.psk"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("the key file: %v, %v; want mode 0600", info, err)
	}

	// The volume service grows the volume while exported (an NBD export
	// forbids resizing its node, so it drops the export, grows the volume and
	// exports it again: the guest's NBD client reconnects); the guest sees the
	// new size once the driver has extended it.
	export.grow(t, ctx, 96<<20)
	spec.Volumes = []virt.VolumeDisk{vol}
	for range 2 {
		if err := d.ExtendVolume(ctx, spec, vol.VolumeID, 96<<20); err != nil {
			t.Fatal(err)
		}
	}
	if got := blockSizes(t, ctx, spec)[qdev]; got != 96<<20 {
		t.Fatalf("query-block after extend: %s has %d bytes, want %d", qdev, got, 96<<20)
	}

	for range 2 {
		if err := d.DetachVolume(ctx, spec, vol.VolumeID); err != nil {
			t.Fatal(err)
		}
	}
	if got := volumeIDs(); len(got) != 0 {
		t.Fatalf("volumes after detach %v, want none", got)
	}
	if _, ok := blockSizes(t, ctx, spec)[qdev]; ok {
		t.Fatalf("query-block still shows %s after the detach", qdev)
	}
	if _, err := os.Stat(pskDir(spec, vol)); !os.IsNotExist(err) {
		t.Fatalf("the key directory is left after the detach: %v", err)
	}

	// A guest that starts with the volume (a spawn, reboot or resume of an
	// instance that has it) has it from its command line.
	if err := d.Destroy(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", img.Disk, "-F", "qcow2", spec.RootDisk)
	if err := d.Spawn(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got := volumeIDs(); !slices.Equal(got, []string{vol.VolumeID}) {
		t.Fatalf("volumes of a guest started with the volume %v, want [%s]", got, vol.VolumeID)
	}
	if got := blockSizes(t, ctx, spec)[qdev]; got != 96<<20 {
		t.Fatalf("query-block: %s has %d bytes, want %d", qdev, got, 96<<20)
	}
	if err := d.Destroy(ctx, spec); err != nil {
		t.Fatal(err)
	}
}

// TestDriverBootFromVolume boots the test guest from a volume exported over
// NBD (a copy of the guest image's disk), with no local root disk: the
// volume's disk is the first to boot.
func TestDriverBootFromVolume(t *testing.T) {
	requireQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	img, err := guestimage.Build(ctx, guestimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	file := filepath.Join(work, "root.qcow2")
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", img.Disk, "-F", "qcow2", file)
	root := exportFile(t, work, file).disk
	root.Boot = true
	instances := filepath.Join(work, "instances")
	uuid := "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
	spec := virt.Spec{UUID: uuid, Name: "instance-00000004", VCPUs: 1, MemoryMB: 256,
		Dir: filepath.Join(instances, uuid), Accelerator: "auto", Volumes: []virt.VolumeDisk{root}}
	d, err := New(Options{InstancesDir: instances, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killLeftover(t, spec) })
	if err := d.Spawn(ctx, spec); err != nil {
		t.Fatal(err)
	}
	g := &guest{t: t, d: d, spec: spec}
	g.waitMarkers(1)
	if _, err := os.Stat(filepath.Join(spec.Dir, "disk")); !os.IsNotExist(err) {
		t.Fatalf("a guest booted from a volume has a local disk: %v", err)
	}
	if err := d.Destroy(ctx, spec); err != nil {
		t.Fatal(err)
	}
}
