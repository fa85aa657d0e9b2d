package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/qemu"
	"github.com/nimbus-cloud/nimbus/internal/guestimage"
)

// TestComputeQEMU is the reference's first VM launch, for real: on a cloud whose
// data plane lives in a namespace the test made and whose compute host runs
// QEMU (TCG), `server create --wait` with the test guest reaches ACTIVE; its
// console shows the boot marker and the address DHCP gave, equal to the port's
// fixed IP; through a floating IP, SSH with the key pair runs `hostname` and gets
// the server's name (from the metadata service, through the router's proxy);
// stop/start/pause/unpause/suspend/resume/reboot give the reference's statuses,
// seen both by the API and in QEMU; delete removes the QEMU process, the tap,
// the instance's files and its port.
func TestComputeQEMU(t *testing.T) {
	requireQEMU(t)
	t.Parallel()
	d := newDataplaneBed(t, "q")
	// Compute's own metadata API (not the bed's stand-in), the guest images, real VMs.
	d.start("NIMBUS_COMPUTE_DRIVER=qemu", "NIMBUS_IMAGE_GUEST_IMAGE=true", "NIMBUS_NETWORK_METADATA_URL=")
	ctx := context.Background()

	key := filepath.Join(t.TempDir(), "id_rsa")
	if err := os.WriteFile(key, []byte(OS(t, d.Cloud, demoCloud, "keypair", "create", "k")), 0o600); err != nil {
		t.Fatal(err)
	}
	OS(t, d.Cloud, demoCloud, "security", "group", "rule", "create", "--protocol", "icmp", "default")
	OS(t, d.Cloud, demoCloud, "security", "group", "rule", "create", "--protocol", "tcp", "--dst-port", "22", "default")

	var srv row
	posted := time.Now()
	OSJSON(t, d.Cloud, demoCloud, &srv, "server", "create", "--image", "nimbus-guest", "--flavor", "m1.tiny",
		"--network", "private", "--key-name", "k", "--wait", "vm1")
	active := time.Since(posted) // includes the CLI's 5 s status polls
	id := str(srv, "id")
	wantField(t, "server create", srv, "status", "ACTIVE")
	var p port
	OSJSON(t, d.Cloud, adminCloud, &p, "port", "show", portIDOf(t, d, id))
	wantField(t, "the server's port", row{"status": p.Status}, "status", "ACTIVE")

	console := func() string {
		out, _ := d.OpenStack(ctx, demoCloud, "console", "log", "show", id)
		return out
	}
	eventually(t, "the boot marker on vm1's console", func() bool { return strings.Contains(console(), guestimage.BootMarker) })
	t.Logf("POST to ACTIVE (as the CLI's --wait sees it) %v, POST to the boot marker %v (figures, not checks)", active.Round(time.Millisecond),
		time.Since(posted).Round(time.Millisecond))
	if out := console(); !strings.Contains(out, "nimbus-guest: ip eth0 "+p.ip()+"/") {
		t.Fatalf("the guest's DHCP address is not its port's %s:\n%s", p.ip(), tail(out, 40))
	}

	// The guest through its floating IP: SSH with the key runs hostname, which
	// the guest took from the metadata service.
	var fip row
	OSJSON(t, d.Cloud, demoCloud, &fip, "floating", "ip", "create", "public")
	floating := str(fip, "floating_ip_address")
	OS(t, d.Cloud, demoCloud, "floating", "ip", "set", "--port", p.ID, floating)
	var hostname string
	eventually(t, "ssh to vm1's floating IP", func() bool {
		out, err := exec.Command("ip", "netns", "exec", d.bed.Host, "ssh", "-i", key, "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "root@"+floating, "hostname").Output()
		hostname = strings.TrimSpace(string(out))
		return err == nil
	})
	if hostname != "vm1" {
		t.Errorf("hostname over SSH = %q, want the server's name vm1", hostname)
	}

	// The VNC console: a noVNC URL whose single-use token opens the guest's VNC
	// server through the proxy (the RFB banner comes back over the websocket).
	var cons row
	OSJSON(t, d.Cloud, demoCloud, &cons, "console", "url", "show", id)
	consoleURL := str(cons, "url")
	if !strings.Contains(consoleURL, "/vnc_lite.html?path=%3Ftoken%3D") {
		t.Fatalf("console url %q", consoleURL)
	}
	if banner := rfbBanner(t, consoleURL); banner != "RFB 003.008\n" {
		t.Errorf("through the console proxy the guest's VNC server said %q", banner)
	}
	if banner := rfbBanner(t, consoleURL); banner != "" {
		t.Errorf("a console token worked twice")
	}

	// kill -9 of the whole cloud and a restart: the VM keeps running in the same
	// QEMU process, and the restarted agent adopts it (no second QEMU, still ACTIVE).
	guest := virt.Spec{UUID: id, Dir: filepath.Join(d.dir, "instances", id)}
	qemuPID := func() string {
		b, _ := os.ReadFile(filepath.Join(guest.Dir, "qemu.pid"))
		return strings.TrimSpace(string(b))
	}
	pid := qemuPID()
	d.Cloud.Kill()
	if err := d.Cloud.Restart(); err != nil {
		t.Fatal(err)
	}
	waitServerOn(t, d.Cloud, id, "ACTIVE")
	if after := qemuPID(); after != pid || pid == "" {
		t.Errorf("QEMU pid %q before the crash, %q after", pid, after)
	}
	if err := exec.Command("kill", "-0", pid).Run(); err != nil {
		t.Errorf("QEMU %s did not survive the cloud's crash: %v", pid, err)
	}

	// The lifecycle, in the API and in QEMU.
	hv, err := qemu.New(qemu.Options{InstancesDir: filepath.Join(d.dir, "instances"), HostNamespace: d.bed.Host})
	if err != nil {
		t.Fatal(err)
	}
	inQEMU := func(want virt.PowerState) {
		t.Helper()
		if st, _ := hv.State(ctx, guest); st != want {
			t.Errorf("QEMU says %s, want %s", st, want)
		}
	}
	markers := func() int { return strings.Count(console(), guestimage.BootMarker) }
	for _, step := range []struct {
		args   []string
		status string
		power  virt.PowerState
	}{
		{[]string{"pause"}, "PAUSED", virt.Paused},
		{[]string{"unpause"}, "ACTIVE", virt.Running},
		{[]string{"suspend"}, "SUSPENDED", virt.Suspended},
		{[]string{"resume"}, "ACTIVE", virt.Running},
		{[]string{"stop"}, "SHUTOFF", virt.Shutdown},
		{[]string{"start"}, "ACTIVE", virt.Running},
	} {
		OS(t, d.Cloud, demoCloud, append(append([]string{"server"}, step.args...), id)...)
		waitServerOn(t, d.Cloud, id, step.status)
		inQEMU(step.power)
	}
	before := markers()
	OS(t, d.Cloud, demoCloud, "server", "reboot", "--hard", id)
	waitServerOn(t, d.Cloud, id, "ACTIVE")
	eventually(t, "a second boot after the hard reboot", func() bool { return markers() > before })
	inQEMU(virt.Running)

	// Interface attach: the new port turns ACTIVE, QEMU has a second NIC and the
	// guest sees it; detach takes it out of the guest and removes its tap.
	OS(t, d.Cloud, demoCloud, "server", "add", "network", id, "private")
	var ports []row
	OSJSON(t, d.Cloud, adminCloud, &ports, "port", "list", "--device-id", id)
	var added string
	for _, q := range ports {
		if str(q, "ID") != p.ID {
			added = str(q, "ID")
		}
	}
	if len(ports) != 2 || added == "" {
		t.Fatalf("ports after the attach: %+v", ports)
	}
	nics := func() int {
		n, _ := hv.Interfaces(ctx, guest)
		return len(n)
	}
	eventually(t, "the attached port ACTIVE", func() bool {
		var q port
		OSJSON(t, d.Cloud, adminCloud, &q, "port", "show", added)
		return q.Status == "ACTIVE"
	})
	eventually(t, "a second NIC in QEMU", func() bool { return nics() == 2 })
	sshGuest := func(command string) string {
		out, _ := exec.Command("ip", "netns", "exec", d.bed.Host, "ssh", "-i", key, "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=5", "-o", "BatchMode=yes", "root@"+floating,
			command).Output()
		return string(out)
	}
	inGuest := func() string { return sshGuest("ls /sys/class/net") }
	eventually(t, "eth1 in the guest", func() bool { return strings.Contains(inGuest(), "eth1") })
	OS(t, d.Cloud, demoCloud, "server", "remove", "port", id, added)
	eventually(t, "the NIC unplugged", func() bool { return nics() == 1 })
	eventually(t, "eth1 gone from the guest", func() bool { out := inGuest(); return out != "" && !strings.Contains(out, "eth1") })
	// The agent removes the tap on a pass after the guest let go of the NIC.
	eventually(t, "the detached port's tap removed", func() bool {
		return exec.Command("ip", "-n", d.bed.Host, "link", "show", "tap"+added[:11]).Run() != nil
	})
	mustFail(t, d.Cloud, adminCloud, "", "port", "show", added)

	// Rebuild: a new QEMU on a fresh disk boots the image again, on the same
	// port, and takes the key from the metadata service again.
	pidBefore := qemuPID()
	OS(t, d.Cloud, demoCloud, "server", "rebuild", "--image", "nimbus-guest", "--wait", id)
	waitServerOn(t, d.Cloud, id, "ACTIVE")
	inQEMU(virt.Running)
	if after := qemuPID(); after == pidBefore || after == "" {
		t.Errorf("QEMU pid %q before the rebuild, %q after: want a new guest", pidBefore, after)
	}
	eventually(t, "the rebuilt guest booted", func() bool { return markers() > 0 })
	eventually(t, "SSH into the rebuilt guest", func() bool { return strings.Contains(inGuest(), "eth0") })
	if got := portIDOf(t, d, id); got != p.ID {
		t.Errorf("port after the rebuild %s, want %s", got, p.ID)
	}

	// Rescue: the guest boots the rescue image (its own) with its disk second;
	// unrescue boots its own disk again.
	virtioDisks := func() int {
		diag, err := hv.Diagnostics(ctx, guest)
		if err != nil {
			t.Errorf("diagnostics: %v", err)
		}
		n := 0
		for _, disk := range diag.Disks {
			if strings.HasPrefix(disk.Name, "vd") {
				n++
			}
		}
		return n
	}
	OS(t, d.Cloud, demoCloud, "server", "rescue", id)
	waitServerOn(t, d.Cloud, id, "RESCUE")
	inQEMU(virt.Running)
	if n := virtioDisks(); n != 2 {
		t.Errorf("the rescued guest has %d disks, want the rescue disk and its own", n)
	}
	OS(t, d.Cloud, demoCloud, "server", "unrescue", id)
	waitServerOn(t, d.Cloud, id, "ACTIVE")
	inQEMU(virt.Running)
	if n := virtioDisks(); n != 1 {
		t.Errorf("the unrescued guest has %d disks, want its own", n)
	}

	// Resize to m1.small: the guest comes back on 2 GiB of memory and a 20 GiB
	// disk (as the guest's kernel sees them), on the same port; confirmed, it
	// is ACTIVE on the new flavor and the copy of its old disk is gone.
	OS(t, d.Cloud, demoCloud, "server", "resize", "--flavor", "m1.small", "--wait", id)
	waitServerOn(t, d.Cloud, id, "VERIFY_RESIZE")
	inQEMU(virt.Running)
	var sizes string
	eventually(t, "SSH into the resized guest", func() bool {
		sizes = sshGuest("cat /sys/block/vda/size; grep MemTotal /proc/meminfo")
		return sizes != ""
	})
	fields := strings.Fields(sizes)
	if len(fields) < 3 || fields[0] != strconv.Itoa(20<<30/512) {
		t.Errorf("the resized guest's disk: %q, want %d sectors", sizes, 20<<30/512)
	} else if kb, _ := strconv.Atoi(fields[2]); kb < 1<<20 || kb > 2<<20 {
		t.Errorf("the resized guest's memory: %d kB, want about 2 GiB", kb)
	}
	if got := portIDOf(t, d, id); got != p.ID {
		t.Errorf("port after the resize %s, want %s", got, p.ID)
	}
	OS(t, d.Cloud, demoCloud, "server", "resize", "confirm", id)
	waitServerOn(t, d.Cloud, id, "ACTIVE")
	var resized row
	OSJSON(t, d.Cloud, demoCloud, &resized, "server", "show", id)
	if flavor := fmt.Sprint(resized["flavor"]); !strings.Contains(flavor, "m1.small") {
		t.Errorf("flavor after the confirm: %s", flavor)
	}
	eventually(t, "the old disk dropped", func() bool {
		_, err := os.Stat(filepath.Join(guest.Dir, "disk.before-resize"))
		return os.IsNotExist(err)
	})

	// Delete: no QEMU, no tap, no files, no port.
	tap := "tap" + p.ID[:11]
	OS(t, d.Cloud, demoCloud, "server", "delete", "--wait", id)
	if st, err := hv.State(ctx, guest); err == nil || st != virt.NoState {
		t.Errorf("after delete QEMU still knows the guest: %s %v", st, err)
	}
	if _, err := os.Stat(guest.Dir); !os.IsNotExist(err) {
		t.Errorf("the instance's directory is left: %v", err)
	}
	if out, err := exec.Command("ip", "-n", d.bed.Host, "link", "show", tap).CombinedOutput(); err == nil {
		t.Errorf("tap %s is left: %s", tap, out)
	}
	mustFail(t, d.Cloud, adminCloud, "", "port", "show", p.ID)
}

// portIDOf is the one port of the server.
func portIDOf(t *testing.T, d *dataplaneCloud, server string) string {
	t.Helper()
	var ports []row
	OSJSON(t, d.Cloud, adminCloud, &ports, "port", "list", "--device-id", server)
	if len(ports) != 1 {
		t.Fatalf("ports of %s: %v", server, ports)
	}
	return str(ports[0], "ID")
}

// waitServerOn waits until the server shows status (as its owner sees it).
func waitServerOn(t *testing.T, c *Cloud, id, status string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, err := c.OpenStack(nil, demoCloud, "server", "show", id, "-f", "json", "-c", "status")
		var r row
		if err == nil && json.Unmarshal([]byte(out), &r) == nil && str(r, "status") == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server %s is not %s: %s", id, status, out)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// rfbBanner opens the console URL's websocket (token from its path parameter)
// and returns the first message the VNC server sends, "" when refused.
func rfbBanner(t *testing.T, consoleURL string) string {
	t.Helper()
	u, err := url.Parse(consoleURL)
	if err != nil {
		t.Fatal(err)
	}
	path := u.Query().Get("path") // "?token=..."
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	key := base64.StdEncoding.EncodeToString([]byte("nimbus-e2e-key16"))
	fmt.Fprintf(conn, "GET /%s HTTP/1.1\r\nHost: %s\r\nOrigin: http://%s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n\r\n", path, u.Host, u.Host, key)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return ""
	}
	// A server frame: FIN+binary, unmasked, a short payload.
	head := make([]byte, 2)
	if _, err := io.ReadFull(br, head); err != nil {
		t.Fatal(err)
	}
	payload := make([]byte, head[1]&0x7f)
	if _, err := io.ReadFull(br, payload); err != nil {
		t.Fatal(err)
	}
	return string(payload)
}

// requireQEMU skips a test that boots guests on a host without QEMU, unless
// NIMBUS_TEST_REQUIRE_QEMU insists (make test), where it fails.
func requireQEMU(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"qemu-system-x86_64", "qemu-img", "ssh"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("NIMBUS_TEST_REQUIRE_QEMU") != "" {
				t.Fatalf("no %s, and NIMBUS_TEST_REQUIRE_QEMU is set", tool)
			}
			t.Skipf("no %s", tool)
		}
	}
}
