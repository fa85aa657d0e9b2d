package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLocalDisksQEMU: a QEMU guest of a flavor with ephemeral and swap sees,
// after its root disk, /dev/vdb formatted ext4 with the label ephemeral0 and
// /dev/vdc a swap area it can turn on, of the flavor's sizes, and keeps what
// it wrote on them across a hard reboot (the host makes them once, as
// upstream's libvirt driver); then gophercloud's
// TestBootFromMultiEphemeralServer (two ephemeral mappings) passes on a
// flavor with ephemeral, as devstack's gophercloud job has.
func TestLocalDisksQEMU(t *testing.T) {
	requireQEMU(t)
	t.Parallel()
	d := newDataplaneBed(t, "ep")
	d.start("NIMBUS_COMPUTE_DRIVER=qemu", "NIMBUS_IMAGE_GUEST_IMAGE=true", "NIMBUS_NETWORK_METADATA_URL=")

	OS(t, d.Cloud, adminCloud, "flavor", "create", "--ram", "512", "--disk", "1", "--vcpus", "1",
		"--ephemeral", "1", "--swap", "64", "m1.ephswap")
	key := filepath.Join(t.TempDir(), "id_rsa")
	if err := os.WriteFile(key, []byte(OS(t, d.Cloud, demoCloud, "keypair", "create", "k")), 0o600); err != nil {
		t.Fatal(err)
	}
	OS(t, d.Cloud, demoCloud, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "default")
	var srv row
	OSJSON(t, d.Cloud, demoCloud, &srv, "server", "create", "--flavor", "m1.ephswap", "--image", "nimbus-guest",
		"--network", "private", "--key-name", "k", "--wait", "vm")
	wantField(t, "server create vm", srv, "status", "ACTIVE")
	id := str(srv, "id")
	var fip row
	OSJSON(t, d.Cloud, demoCloud, &fip, "floating", "ip", "create", "public")
	floating := str(fip, "floating_ip_address")
	OS(t, d.Cloud, demoCloud, "floating", "ip", "set", "--port", portIDOf(t, d, id), floating)
	run := func(cmd string) (string, error) {
		out, err := exec.Command("ip", "netns", "exec", d.bed.Host, "ssh", "-i", key, "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes",
			"root@"+floating, cmd).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	must := func(cmd string) string {
		t.Helper()
		out, err := run(cmd)
		if err != nil {
			t.Fatalf("in the guest, %s: %v: %s", cmd, err, out)
		}
		return out
	}
	eventually(t, "ssh to vm", func() bool { _, err := run("true"); return err == nil })

	// The flavor's sizes, in 512-byte sectors: 1 GiB and 64 MiB.
	if got := must("cat /sys/block/vdb/size /sys/block/vdc/size"); got != "2097152\n131072" {
		t.Errorf("vdb and vdc sizes (sectors): %q", got)
	}
	// The guest image's busybox has no blkid: the label is read from the
	// ext4 superblock (s_volume_name at byte 1144), the file system proven by
	// mounting it as ext4, the swap signature read at the end of its first
	// page.
	label := "dd if=/dev/vdb bs=1 skip=1144 count=16 2>/dev/null | tr -d '\\000'"
	if got := must(label); got != "ephemeral0" {
		t.Errorf("vdb's label: %q", got)
	}
	if got := must("mkdir -p /mnt/eph && mount -t ext4 /dev/vdb /mnt/eph && grep /dev/vdb /proc/mounts; umount /mnt/eph"); !strings.Contains(got, " ext4 ") {
		t.Errorf("vdb mounted: %s", got)
	}
	if got := must("dd if=/dev/vdc bs=1 skip=4086 count=10 2>/dev/null"); got != "SWAPSPACE2" {
		t.Errorf("vdc's swap signature: %q", got)
	}
	if got := must("swapon /dev/vdc && cat /proc/swaps"); !strings.Contains(got, "/dev/vdc") {
		t.Errorf("/proc/swaps after swapon /dev/vdc: %s", got)
	}

	// What the guest writes stays across a hard reboot (past the file
	// system's first blocks, which blkid reads).
	const mark = "nimbus-ephemeral-mark"
	must("swapoff /dev/vdc; printf %s " + mark + " | dd of=/dev/vdb bs=512 seek=2000000 conv=fsync 2>/dev/null && sync")
	OS(t, d.Cloud, demoCloud, "server", "reboot", "--hard", "--wait", id)
	eventually(t, "ssh to vm after its reboot", func() bool { _, err := run("true"); return err == nil })
	if got := must("dd if=/dev/vdb bs=512 skip=2000000 count=1 2>/dev/null | head -c " + strconv.Itoa(len(mark))); got != mark {
		t.Errorf("after a hard reboot vdb holds %q, want %q", got, mark)
	}
	if got := must(label); got != "ephemeral0" {
		t.Errorf("vdb's label after the reboot: %q", got)
	}
	OS(t, d.Cloud, demoCloud, "server", "delete", "--wait", id)

	// gophercloud's test boots with two 1 GB ephemeral mappings: its flavor
	// needs 2 GB of ephemeral and no swap (a fourth local disk is over
	// max_local_block_devices).
	flavor := cliID(t, d.Cloud, "flavor", "create", "--ram", "512", "--disk", "1", "--vcpus", "1", "--ephemeral", "2", "m1.acctest")
	runGophercloudSuite(t, gophercloudSuite{name: "compute v2 (ephemeral)", packages: []string{"compute/v2"},
		heading: "gophercloud compute v2", cloud: d.Cloud, only: []string{"TestBootFromMultiEphemeralServer"},
		env: map[string]string{"OS_NETWORK_NAME": "private", "OS_FLAVOR_ID": flavor}})
}
