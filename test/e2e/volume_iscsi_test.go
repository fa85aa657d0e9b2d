package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// iscsiBackendConfig gives the cloud of TestVolumeAttachQEMU two volume
// backends: the default "file" (NBD) and "iscsi" (tgt), which a volume type
// with volume_backend_name=iscsi selects.
const iscsiBackendConfig = `[[volume.backends]]
name = "file"

[[volume.backends]]
name = "iscsi"
driver = "iscsi"
`

// withISCSIBackend writes the configuration into dir and returns the env
// that makes the cloud read it. The backend's tgtd outlives the cloud by
// design; it is killed by its pid (from its pid file, checked to be a
// tgtd) after the cloud stopped.
func withISCSIBackend(t *testing.T, d *dataplaneCloud) string {
	t.Helper()
	conf := filepath.Join(t.TempDir(), "nimbus.toml")
	if err := os.WriteFile(conf, []byte(iscsiBackendConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if pid := iscsiTGTD(d); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return "NIMBUS_CONFIG=" + conf
}

// iscsiTGTD is the pid of the cloud's iscsi backend's tgtd, or 0.
func iscsiTGTD(d *dataplaneCloud) int {
	data, err := os.ReadFile(filepath.Join(d.dir, "volumes", "iscsi", ".tgtd", "tgtd.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.HasPrefix(string(cmdline), "tgtd\x00") {
		return 0
	}
	return pid
}

// iscsiVolumeOnGuest is the iscsi backend as a user sees it from a VM: a
// volume of a type whose volume_backend_name is the iscsi backend lands on
// it, `server add volume` gives it to the running server (QEMU logs in to
// the attachment's target with its CHAP credentials), the guest writes a
// pattern, `server remove volume` and `server add volume` again give it a
// new target and credentials, and the guest reads the pattern back; tgtd
// killed with -9 while the volume is attached is brought back by the volume
// manager with the same target, and the guest's I/O resumes by itself.
func iscsiVolumeOnGuest(t *testing.T, d *dataplaneCloud, server string, run func(string) (string, error),
	device func(func(string) (string, error), string) string, waitVolume func(id, status string)) {
	OS(t, d.Cloud, adminCloud, "volume", "type", "create", "--property", "volume_backend_name=iscsi", "iscsi")
	var vol row
	OSJSON(t, d.Cloud, demoCloud, &vol, "volume", "create", "--type", "iscsi", "--size", "1", "iscsi-data")
	volID := str(vol, "id")
	waitVolume(volID, "available")
	var shown row
	OSJSON(t, d.Cloud, adminCloud, &shown, "volume", "show", volID)
	if host := str(shown, "os-vol-host-attr:host"); !strings.Contains(host, "@iscsi") {
		t.Fatalf("a volume of type iscsi is on %q, want the iscsi backend", host)
	}

	OS(t, d.Cloud, demoCloud, "server", "add", "volume", server, volID)
	waitVolume(volID, "in-use")
	dev := device(run, volID)
	pattern := fmt.Sprintf("nimbus-iscsi-%d", time.Now().UnixNano())
	if out, err := run(fmt.Sprintf("printf %%s %s | dd of=%s bs=512 conv=fsync && sync", pattern, dev)); err != nil {
		t.Fatalf("write to %s: %v: %s", dev, err, out)
	}
	OS(t, d.Cloud, demoCloud, "server", "remove", "volume", server, volID)
	waitVolume(volID, "available")
	eventually(t, "the iSCSI disk gone from the guest", func() bool {
		out, err := run(`cat /sys/block/vd*/serial 2>/dev/null`)
		return err == nil && !strings.Contains(out, volID[:20])
	})
	OS(t, d.Cloud, demoCloud, "server", "add", "volume", server, volID)
	waitVolume(volID, "in-use")
	dev = device(run, volID)
	readBack := func(n int, skip int) (string, error) {
		return run(fmt.Sprintf("dd if=%s bs=512 skip=%d count=1 iflag=direct 2>/dev/null | head -c %d", dev, skip, n))
	}
	if out, err := readBack(len(pattern), 0); err != nil || out != pattern {
		t.Fatalf("read %q (%v) after the reattach, want %q", out, err, pattern)
	}

	killed := iscsiTGTD(d)
	if killed == 0 {
		t.Fatal("no tgtd serves the iscsi backend")
	}
	if err := syscall.Kill(killed, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// The guest writes while tgtd is down: its iSCSI client holds the
	// request and logs in again once the manager's next pass restored the
	// target.
	after := fmt.Sprintf("nimbus-after-kill-%d", time.Now().UnixNano())
	if out, err := run(fmt.Sprintf("printf %%s %s | dd of=%s bs=512 seek=1 conv=fsync,notrunc oflag=direct", after, dev)); err != nil {
		t.Fatalf("the guest's write across tgtd's kill -9: %v: %s", err, out)
	}
	if out, err := readBack(len(after), 1); err != nil || out != after {
		t.Fatalf("read %q (%v) after tgtd's restart, want %q", out, err, after)
	}
	if pid := iscsiTGTD(d); pid == 0 || pid == killed {
		t.Errorf("tgtd after the kill: pid %d (the killed one was %d)", pid, killed)
	}
	OS(t, d.Cloud, demoCloud, "server", "remove", "volume", server, volID)
	waitVolume(volID, "available")
	OS(t, d.Cloud, demoCloud, "volume", "delete", volID)
}
