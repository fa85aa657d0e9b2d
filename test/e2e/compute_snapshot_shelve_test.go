package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestComputeSnapshotShelveQEMU is issue 21's snapshot, backup and shelve as
// a user sees them, with the openstack CLI on real QEMU guests: a pattern
// written with dd to vm1's disk past its boot partition (the guest runs from
// RAM) is in the image `server image create` makes, which boots vm2 holding
// it; `server backup create --rotate 1` twice leaves one backup image; `server
// shelve` (shelved_offload_time 0: offloaded at once) frees the host and
// `server unshelve` brings vm1 back ACTIVE on the same addresses with the
// pattern, its shelved image gone.
func TestComputeSnapshotShelveQEMU(t *testing.T) {
	requireQEMU(t)
	t.Parallel()
	d := newDataplaneBed(t, "s")
	d.start("NIMBUS_COMPUTE_DRIVER=qemu", "NIMBUS_IMAGE_GUEST_IMAGE=true", "NIMBUS_NETWORK_METADATA_URL=")

	key := filepath.Join(t.TempDir(), "id_rsa")
	if err := os.WriteFile(key, []byte(OS(t, d.Cloud, demoCloud, "keypair", "create", "k")), 0o600); err != nil {
		t.Fatal(err)
	}
	OS(t, d.Cloud, demoCloud, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "default")
	boot := func(name, image string) string {
		t.Helper()
		var srv row
		OSJSON(t, d.Cloud, demoCloud, &srv, "server", "create", "--flavor", "m1.tiny", "--network", "private",
			"--key-name", "k", "--image", image, "--wait", name)
		wantField(t, "server create "+name, srv, "status", "ACTIVE")
		return str(srv, "id")
	}
	sshTo := func(floating string) func(cmd string) (string, error) {
		return func(cmd string) (string, error) {
			out, err := exec.Command("ip", "netns", "exec", d.bed.Host, "ssh", "-i", key, "-o", "StrictHostKeyChecking=no",
				"-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes",
				"root@"+floating, cmd).CombinedOutput()
			return strings.TrimSpace(string(out)), err
		}
	}
	floatingFor := func(server string) string {
		t.Helper()
		var fip row
		OSJSON(t, d.Cloud, demoCloud, &fip, "floating", "ip", "create", "public")
		floating := str(fip, "floating_ip_address")
		OS(t, d.Cloud, demoCloud, "floating", "ip", "set", "--port", portIDOf(t, d, server), floating)
		return floating
	}
	// The pattern sits 100 MiB into the disk: past the image's 33 MiB, in
	// what the flavor's 1 GB root disk adds.
	const seek = "seek=100"
	readPattern := `dd if=/dev/vda bs=1M skip=100 count=1 2>/dev/null | head -c 64`
	waitSSH := func(run func(string) (string, error), what string) {
		t.Helper()
		if !eventuallyWithin(3*time.Minute, func() bool { _, err := run("true"); return err == nil }) {
			t.Fatalf("timed out waiting for ssh to %s", what)
		}
	}

	vm1 := boot("vm1", "nimbus-guest")
	on1 := sshTo(floatingFor(vm1))
	waitSSH(on1, "vm1")
	pattern := fmt.Sprintf("nimbus-snapshot-%d", time.Now().UnixNano())
	if out, err := on1(fmt.Sprintf("printf %%s %s | dd of=/dev/vda bs=1M %s conv=fsync && sync", pattern, seek)); err != nil {
		t.Fatalf("write the pattern in vm1: %v: %s", err, out)
	}

	// createImage of the running guest: a new image, owned by the project,
	// which boots a server holding the pattern.
	start := time.Now()
	var img row
	OSJSON(t, d.Cloud, demoCloud, &img, "server", "image", "create", "--name", "snap1", "--wait", "-f", "json", vm1)
	t.Logf("server image create --wait: %v", time.Since(start).Round(time.Millisecond))
	var shown row
	OSJSON(t, d.Cloud, demoCloud, &shown, "image", "show", str(img, "id"), "-f", "json")
	wantField(t, "snapshot image", shown, "status", "active")
	if props := fmt.Sprint(shown["properties"]); !strings.Contains(props, "image_type") || !strings.Contains(props, vm1) {
		t.Errorf("snapshot image properties %s", props)
	}
	waitServerOn(t, d.Cloud, vm1, "ACTIVE")
	vm2 := boot("vm2", str(img, "id"))
	on2 := sshTo(floatingFor(vm2))
	waitSSH(on2, "vm2")
	if out, err := on2(readPattern); err != nil || !strings.HasPrefix(out, pattern) {
		t.Errorf("vm2, booted from the snapshot, reads %q (%v), want %q", out, err, pattern)
	}
	OS(t, d.Cloud, demoCloud, "server", "delete", "--wait", vm2)

	// Two backups with rotation 1: one backup image stays, the newer.
	backups := func() []row {
		var images []row
		OSJSON(t, d.Cloud, demoCloud, &images, "image", "list", "--property", "image_type=backup", "-f", "json")
		return images
	}
	for _, name := range []string{"bk1", "bk2"} {
		OS(t, d.Cloud, demoCloud, "server", "backup", "create", "--name", name, "--type", "daily", "--rotate", "1", "--wait", vm1)
		waitServerOn(t, d.Cloud, vm1, "ACTIVE")
	}
	eventually(t, "one backup image", func() bool { b := backups(); return len(b) == 1 && str(b[0], "Name") == "bk2" })

	// Shelve (offloaded at once), then unshelve: same addresses, the pattern.
	var before row
	OSJSON(t, d.Cloud, demoCloud, &before, "server", "show", vm1, "-f", "json", "-c", "addresses")
	start = time.Now()
	OS(t, d.Cloud, demoCloud, "server", "shelve", vm1)
	waitServerOn(t, d.Cloud, vm1, "SHELVED_OFFLOADED")
	t.Logf("shelve to SHELVED_OFFLOADED: %v", time.Since(start).Round(time.Millisecond))
	var admin row
	OSJSON(t, d.Cloud, adminCloud, &admin, "server", "show", vm1, "-f", "json")
	if h := admin["OS-EXT-SRV-ATTR:host"]; h != nil && h != "" {
		t.Errorf("an offloaded server shows host %v", h)
	}
	var shelvedImages []row
	OSJSON(t, d.Cloud, demoCloud, &shelvedImages, "image", "list", "--name", "vm1-shelved", "-f", "json")
	if len(shelvedImages) != 1 {
		t.Errorf("shelved images %v", shelvedImages)
	}
	start = time.Now()
	OS(t, d.Cloud, demoCloud, "server", "unshelve", vm1)
	waitServerOn(t, d.Cloud, vm1, "ACTIVE")
	t.Logf("unshelve to ACTIVE: %v", time.Since(start).Round(time.Millisecond))
	var after row
	OSJSON(t, d.Cloud, demoCloud, &after, "server", "show", vm1, "-f", "json", "-c", "addresses")
	if a, b := fmt.Sprint(after["addresses"]), fmt.Sprint(before["addresses"]); a != b {
		t.Errorf("addresses after unshelve %s, before %s", a, b)
	}
	waitSSH(on1, "vm1 unshelved")
	if out, err := on1(readPattern); err != nil || !strings.HasPrefix(out, pattern) {
		t.Errorf("vm1 unshelved reads %q (%v), want %q", out, err, pattern)
	}
	eventually(t, "the shelved image deleted", func() bool {
		var images []row
		out, err := d.OpenStack(nil, demoCloud, "image", "list", "--name", "vm1-shelved", "-f", "json")
		return err == nil && json.Unmarshal([]byte(out), &images) == nil && len(images) == 0
	})
	var actions []row
	OSJSON(t, d.Cloud, demoCloud, &actions, "server", "event", "list", vm1, "-f", "json")
	var names []string
	for _, a := range actions {
		names = append(names, str(a, "Action"))
	}
	if got := strings.Join(names, ","); !strings.HasPrefix(got, "unshelve,shelve,createBackup,createBackup,createImage,create") {
		t.Errorf("instance actions %s", got)
	}
}
