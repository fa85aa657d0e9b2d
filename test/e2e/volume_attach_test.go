package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestVolumeAttachQEMU is block storage as a user sees it from a VM, for
// real (issue 20, acceptance 1 and 2): on a cloud with QEMU guests and a
// volume service, `server add volume` hot-plugs a new volume into a running
// guest, which writes a pattern to it over SSH; `server remove volume` takes
// it away and `server add volume` gives it to another server, whose guest
// reads the same pattern back, also across kill -9 of the export's daemon
// and of the cloud while it writes (acceptance 5); `server create
// --boot-from-volume 1` boots a server whose root disk is a volume made from
// the image, its delete leaves the volume (the CLI's delete_on_termination is
// false), and another server booted from that volume finds what the first
// wrote; a backup of the data volume, restored after the volume's delete,
// reads back the same bytes in a guest.
func TestVolumeAttachQEMU(t *testing.T) {
	requireQEMU(t)
	t.Parallel()
	d := newDataplaneBed(t, "v")
	d.start("NIMBUS_COMPUTE_DRIVER=qemu", "NIMBUS_IMAGE_GUEST_IMAGE=true", "NIMBUS_NETWORK_METADATA_URL=", withISCSIBackend(t, d))
	ctx := context.Background()
	if out, err := d.OpenStack(ctx, adminCloud, "catalog", "show", "block-storage", "-f", "json"); err != nil {
		t.Fatalf("the catalog has no block-storage endpoint: %s", strings.TrimSpace(out))
	}
	// Untyped volumes stay on the file backend, whose export daemons the
	// steps below kill; the iscsi subtest asks for its backend by type.
	OS(t, d.Cloud, adminCloud, "volume", "type", "set", "--property", "volume_backend_name=file", "__DEFAULT__")

	key := filepath.Join(t.TempDir(), "id_rsa")
	if err := os.WriteFile(key, []byte(OS(t, d.Cloud, demoCloud, "keypair", "create", "k")), 0o600); err != nil {
		t.Fatal(err)
	}
	OS(t, d.Cloud, demoCloud, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "default")
	boot := func(name string, args ...string) string {
		t.Helper()
		var srv row
		OSJSON(t, d.Cloud, demoCloud, &srv, append(append([]string{"server", "create", "--flavor", "m1.tiny",
			"--network", "private", "--key-name", "k", "--wait"}, args...), name)...)
		wantField(t, "server create "+name, srv, "status", "ACTIVE")
		return str(srv, "id")
	}
	// ssh runs a shell command in the server's guest through a floating IP.
	ssh := func(server string) func(cmd string) (string, error) {
		t.Helper()
		var fip row
		OSJSON(t, d.Cloud, demoCloud, &fip, "floating", "ip", "create", "public")
		floating := str(fip, "floating_ip_address")
		OS(t, d.Cloud, demoCloud, "floating", "ip", "set", "--port", portIDOf(t, d, server), floating)
		run := func(cmd string) (string, error) {
			out, err := exec.Command("ip", "netns", "exec", d.bed.Host, "ssh", "-i", key, "-o", "StrictHostKeyChecking=no",
				"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "root@"+floating, cmd).CombinedOutput()
			return strings.TrimSpace(string(out)), err
		}
		eventually(t, "ssh to "+server, func() bool { _, err := run("true"); return err == nil })
		return run
	}
	volumeStatus := func(id string) string {
		out, err := d.OpenStack(ctx, demoCloud, "volume", "show", id, "-f", "json", "-c", "status")
		var r row
		if err != nil || json.Unmarshal([]byte(out), &r) != nil {
			return ""
		}
		return str(r, "status")
	}
	waitVolume := func(id, status string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for volumeStatus(id) != status {
			if time.Now().After(deadline) {
				t.Fatalf("volume %s is %q, want %s", id, volumeStatus(id), status)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	// device is the guest's disk whose serial is the volume's (virtio-blk
	// shows the first 20 characters, as /dev/disk/by-id/virtio-<serial>).
	device := func(run func(string) (string, error), volume string) string {
		t.Helper()
		serial := volume[:20]
		var dev string
		if !eventuallyWithin(2*time.Minute, func() bool {
			out, err := run(`for d in /sys/block/vd*; do [ "$(cat $d/serial 2>/dev/null)" = "` + serial + `" ] && echo /dev/${d##*/}; done`)
			dev = out
			return err == nil && strings.HasPrefix(out, "/dev/vd")
		}) {
			diag, err := run(`ls /sys/block; for d in /sys/block/vd*; do echo $d $(cat $d/serial); done; ls /sys/bus/pci/devices; dmesg | tail -40`)
			t.Fatalf("timed out waiting for the guest's disk of volume %s; the guest (%v):\n%s", volume, err, diag)
		}
		return dev
	}

	vm1, vm2 := boot("vm1", "--image", "nimbus-guest"), boot("vm2", "--image", "nimbus-guest")
	var vol row
	OSJSON(t, d.Cloud, demoCloud, &vol, "volume", "create", "--size", "1", "data")
	volID := str(vol, "id")
	waitVolume(volID, "available")

	OS(t, d.Cloud, demoCloud, "server", "add", "volume", vm1, volID)
	waitVolume(volID, "in-use")
	on1 := ssh(vm1)
	dev := device(on1, volID)
	pattern := fmt.Sprintf("nimbus-volume-%d", time.Now().UnixNano())
	if out, err := on1(fmt.Sprintf("printf %%s %s | dd of=%s bs=512 conv=fsync && sync", pattern, dev)); err != nil {
		t.Fatalf("write to %s in vm1: %v: %s", dev, err, out)
	}
	OS(t, d.Cloud, demoCloud, "server", "remove", "volume", vm1, volID)
	waitVolume(volID, "available")
	eventually(t, "the disk gone from vm1", func() bool {
		out, err := on1(`cat /sys/block/vd*/serial 2>/dev/null`)
		return err == nil && !strings.Contains(out, volID[:20])
	})

	OS(t, d.Cloud, demoCloud, "server", "add", "volume", vm2, volID)
	waitVolume(volID, "in-use")
	on2 := ssh(vm2)
	dev = device(on2, volID)
	out, err := on2(fmt.Sprintf("dd if=%s bs=512 count=1 2>/dev/null | head -c %d", dev, len(pattern)))
	if err != nil || out != pattern {
		t.Fatalf("vm2 read %q (%v) from the volume, want vm1's %q", out, err, pattern)
	}
	var attached row
	OSJSON(t, d.Cloud, demoCloud, &attached, "server", "show", vm2)
	if !strings.Contains(fmt.Sprint(attached["volumes_attached"]), volID) {
		t.Errorf("vm2's volumes_attached %v lacks %s", attached["volumes_attached"], volID)
	}

	t.Run("iSCSI", func(t *testing.T) { iscsiVolumeOnGuest(t, d, vm1, on1, device, waitVolume) })

	crashWhileWriting(t, d, on2, dev, volID)

	// Boot from a volume made from the image.
	vm3 := boot("vm3", "--image", "nimbus-guest", "--boot-from-volume", "1")
	var srv3 row
	OSJSON(t, d.Cloud, demoCloud, &srv3, "server", "show", vm3)
	if img := str(srv3, "image"); !strings.Contains(img, "volume") && img != "" {
		t.Errorf("a server booted from a volume shows image %q", img)
	}
	var atts []row
	OSJSON(t, d.Cloud, demoCloud, &atts, "server", "volume", "list", vm3)
	if len(atts) != 1 || str(atts[0], "Device") != "/dev/vda" {
		t.Fatalf("vm3's volumes %v, want its root on /dev/vda", atts)
	}
	rootVolume := str(atts[0], "Volume ID")
	on3 := ssh(vm3)
	if out, err := on3("hostname"); err != nil || out != "vm3" {
		t.Errorf("hostname over SSH on the volume-booted vm3 = %q (%v)", out, err)
	}
	mustFail(t, d.Cloud, demoCloud, "Cannot detach a root device volume", "server", "remove", "volume", vm3, rootVolume)
	// A mark in the root volume's last sector (past the guest's file system,
	// which its initramfs does not mount), to find again from another server.
	mark := fmt.Sprintf("nimbus-root-%d", time.Now().UnixNano())
	lastSector := `$(( $(cat /sys/block/vda/size) - 1 ))`
	if out, err := on3(fmt.Sprintf("printf %%s %s | dd of=/dev/vda bs=512 seek=%s conv=fsync,notrunc", mark, lastSector)); err != nil {
		t.Fatalf("write vm3's root volume: %v: %s", err, out)
	}

	// The volume outlives its server (the CLI's delete_on_termination is
	// false) and boots another with the data it had.
	OS(t, d.Cloud, demoCloud, "server", "delete", "--wait", vm3)
	waitVolume(rootVolume, "available")
	vm4 := boot("vm4", "--volume", rootVolume)
	on4 := ssh(vm4)
	if out, err := on4(fmt.Sprintf("dd if=/dev/vda bs=512 skip=%s count=1 iflag=direct 2>/dev/null | head -c %d", lastSector, len(mark))); err != nil || out != mark {
		t.Fatalf("vm4, booted from vm3's root volume, reads %q (%v) where vm3 wrote %q", out, err, mark)
	}

	// Backup, delete the volume, restore: the same bytes (vm1's pattern and
	// the writes acknowledged around the crash), read by a guest.
	OS(t, d.Cloud, demoCloud, "server", "delete", "--wait", vm1, vm2)
	waitVolume(volID, "available")
	sum := func(run func(string) (string, error), dev string) string {
		t.Helper()
		out, err := run(fmt.Sprintf("dd if=%s bs=1M count=8 iflag=direct 2>/dev/null | md5sum", dev))
		if err != nil {
			t.Fatalf("checksum %s: %v: %s", dev, err, out)
		}
		return strings.Fields(out)[0]
	}
	OS(t, d.Cloud, demoCloud, "server", "add", "volume", vm4, volID)
	waitVolume(volID, "in-use")
	before := sum(on4, device(on4, volID))
	OS(t, d.Cloud, demoCloud, "server", "remove", "volume", vm4, volID)
	waitVolume(volID, "available")
	var bk row
	OSJSON(t, d.Cloud, demoCloud, &bk, "volume", "backup", "create", "--name", "data-backup", volID)
	backupID := str(bk, "id")
	waitVolumeResource(t, d.Cloud, demoCloud, []string{"volume", "backup"}, backupID, "available")
	OS(t, d.Cloud, demoCloud, "volume", "delete", volID)
	restoreBackup(t, d.Cloud, demoCloud, backupID, "restored-data")
	var restored row
	OSJSON(t, d.Cloud, demoCloud, &restored, "volume", "show", "restored-data")
	restoredID := str(restored, "id")
	waitVolume(restoredID, "available")
	OS(t, d.Cloud, demoCloud, "server", "add", "volume", vm4, restoredID)
	waitVolume(restoredID, "in-use")
	if after := sum(on4, device(on4, restoredID)); after != before {
		t.Errorf("the restored volume's first 8 MiB sum to %s, the backed-up volume's to %s", after, before)
	}
	OS(t, d.Cloud, demoCloud, "server", "delete", "--wait", vm4)
	waitVolume(restoredID, "available")
	waitVolume(rootVolume, "available")
	OS(t, d.Cloud, demoCloud, "volume", "backup", "delete", backupID)
	OS(t, d.Cloud, demoCloud, "volume", "delete", restoredID, rootVolume)
}

// crashWhileWriting is acceptance 5: while the guest writes to the attached
// volume (each write fsynced, then counted in /acked), the export's
// qemu-storage-daemon and the volume service (the cloud's process) are
// killed with SIGKILL and the cloud restarted; the guest's writes resume by
// themselves (its NBD client reconnects to the export the restarted manager
// brings back on the same port), every write acknowledged before or after
// the kills is on the volume, and the database, the export and the
// attachment agree.
func crashWhileWriting(t *testing.T, d *dataplaneCloud, run func(string) (string, error), dev, volID string) {
	t.Helper()
	// The guest's root file system is its initramfs: / is writable, /tmp may not be there.
	if out, err := run(fmt.Sprintf(`sh -c 'trap "" HUP; i=0; while [ ! -e /stop-writer ]; do printf %%08d $i | `+
		`dd of=%s bs=512 seek=$((i+1)) conv=fsync,notrunc 2>/dev/null && echo $i > /acked.new && `+
		`mv /acked.new /acked; i=$((i+1)); done' </dev/null >/dev/null 2>&1 &`, dev)); err != nil {
		t.Fatalf("start the guest's writer: %v: %s", err, out)
	}
	acked := func() int {
		out, err := run("cat /acked")
		if err != nil {
			return -1
		}
		n, err := strconv.Atoi(strings.TrimSpace(out))
		if err != nil {
			return -1
		}
		return n
	}
	eventually(t, "the guest's first writes", func() bool { return acked() >= 3 })

	pidFile := filepath.Join(d.dir, "volumes", "file", ".exports", "volume-"+volID, "qsd.pid")
	daemon := func() int {
		data, err := os.ReadFile(pidFile)
		if err != nil {
			return 0
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || !strings.Contains(string(cmdline), "qemu-storage-daemon") {
			return 0
		}
		return pid
	}
	killed := daemon()
	if killed == 0 {
		t.Fatalf("no qemu-storage-daemon serves volume %s (%s)", volID, pidFile)
	}
	if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	d.Cloud.Kill()
	before := acked()
	if err := d.Cloud.Restart(); err != nil {
		t.Fatalf("restart after kill -9: %v", err)
	}
	if !eventuallyWithin(3*time.Minute, func() bool { return acked() >= before+5 }) {
		t.Fatalf("the guest's writes did not resume after the restart: %d acknowledged before, %d now", before, acked())
	}
	if pid := daemon(); pid == 0 || pid == killed {
		t.Errorf("the export's daemon after the restart: pid %d (the killed one was %d)", pid, killed)
	}
	if out, err := run("touch /stop-writer; sleep 3; cat /acked"); err != nil {
		t.Fatalf("stop the writer: %v: %s", err, out)
	}
	n := acked()
	var want strings.Builder
	for i := 0; i <= n; i++ {
		fmt.Fprintf(&want, "%08d", i)
	}
	// O_DIRECT: past the guest's page cache, what the volume holds
	got, err := run(fmt.Sprintf(`dd if=%s bs=512 skip=1 count=%d iflag=direct 2>/dev/null | tr -d '\000'`, dev, n+1))
	if err != nil || !strings.HasPrefix(got, want.String()) {
		t.Fatalf("the volume holds %q (%v), want the %d acknowledged writes %q", got, err, n+1, want.String())
	}
	var v row
	OSJSON(t, d.Cloud, demoCloud, &v, "volume", "show", volID)
	if str(v, "status") != "in-use" || !strings.Contains(fmt.Sprint(v["attachments"]), "server_id") {
		t.Errorf("after the restart the volume is %q with attachments %v, want in-use and attached", str(v, "status"), v["attachments"])
	}
}
