package guestimage

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/netns"
)

// The network each test guest boots on, inside a namespace of its own.
const (
	testGateway = "10.200.0.1"
	testGuestIP = "10.200.0.23"
	testMAC     = "52:54:00:c0:ff:ee"
)

// TestGuestBoots boots both forms of the built guest under QEMU (TCG) on a bridge in
// a fresh network namespace, with dnsmasq giving the lease and a metadata endpoint
// served by the test, and checks what a cloud user relies on: the console shows the
// boot marker, the leased address and the hostname from metadata; user-data ran;
// SSH with the injected key runs a command; the ACPI power button powers it off.
func TestGuestBoots(t *testing.T) {
	requireHost(t, "qemu-system-x86_64", "qemu-img", "dnsmasq", "ip", "ssh", "ssh-keygen",
		"apt-get", "dpkg-deb", "mkfs.fat", "mcopy", "syslinux")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	a, err := Build(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test@nimbus", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	userData := "#!/bin/sh\necho \"user-data says hello as uid $(id -u)\"\n"
	ns := newTestNetwork(t, dir)
	ns.serveMetadata(t, "vm-from-service.novalocal", string(pub), userData)

	t.Run("whole-disk-bootloader-metadata-service", func(t *testing.T) {
		vm := bootGuest(ctx, t, ns, []string{"-drive", "file=" + a.Disk + ",if=virtio,format=qcow2,snapshot=on"})
		vm.checkBooted(t, "vm-from-service", "metadata from 169.254.169.254")
		vm.checkUserData(t)
		vm.checkSSH(t, ns, key, "vm-from-service")
		vm.checkPowerButton(t)
	})
	t.Run("kernel-ramdisk-config-drive", func(t *testing.T) {
		drive := configDrive(t, dir, "vm-from-drive.novalocal", string(pub), userData)
		vm := bootGuest(ctx, t, ns, []string{"-kernel", a.Kernel, "-initrd", a.Ramdisk, "-append", a.CommandLine,
			"-drive", "file=" + drive + ",if=virtio,format=raw,readonly=on"})
		vm.checkBooted(t, "vm-from-drive", "metadata from config drive")
		vm.checkUserData(t)
		vm.checkSSH(t, ns, key, "vm-from-drive")
		vm.checkPowerButton(t)
	})
}

// TestBuildIsCached checks that a second build of the same inputs is the first one.
func TestBuildIsCached(t *testing.T) {
	requireHost(t, "apt-get", "dpkg-deb", "mkfs.fat", "mcopy", "syslinux", "qemu-img")
	ctx := context.Background()
	first, err := Build(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(first.Disk)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Build(ctx, Options{})
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(second.Disk)
	if err != nil {
		t.Fatal(err)
	}
	if first.Key != second.Key || first.Disk != second.Disk || !before.ModTime().Equal(after.ModTime()) {
		t.Fatalf("second build rebuilt: %+v then %+v", first, second)
	}
}

// requireHost skips a test on a machine without the tools (or root) it needs, unless
// NIMBUS_TEST_REQUIRE_QEMU is set, as `make test` does: there a missing tool fails.
func requireHost(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("NIMBUS_TEST_REQUIRE_QEMU") != "" {
		t.Fatalf("this machine lacks %s (make deps installs them)", strings.Join(missing, ", "))
	}
	t.Skipf("needs %s", strings.Join(missing, ", "))
}

// testNetwork is a namespace with a bridge, a tap for the guest, dnsmasq giving the
// guest a fixed lease, and 169.254.169.254 on its loopback for the metadata endpoint.
type testNetwork struct {
	name string
	tap  string
}

func newTestNetwork(t *testing.T, dir string) *testNetwork {
	n := &testNetwork{name: fmt.Sprintf("nimbus-guest-test-%d", os.Getpid()), tap: "tap0"}
	run(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", n.name).Run() })
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", "169.254.169.254/32", "dev", "lo"},
		{"link", "add", "br0", "type", "bridge"},
		{"addr", "add", testGateway + "/24", "dev", "br0"},
		{"link", "set", "br0", "up"},
		{"tuntap", "add", n.tap, "mode", "tap"},
		{"link", "set", n.tap, "master", "br0", "up"},
	} {
		run(t, "ip", append([]string{"-n", n.name}, args...)...)
	}
	dnsmasq := exec.Command("ip", "netns", "exec", n.name, "dnsmasq", "--keep-in-foreground",
		"--conf-file=/dev/null", "--port=0", "--interface=br0", "--bind-interfaces", "--pid-file=",
		"--dhcp-range=10.200.0.0,static,255.255.255.0,1h", "--dhcp-host="+testMAC+","+testGuestIP+",from-dhcp",
		"--dhcp-option=option:router,"+testGateway, "--dhcp-leasefile="+filepath.Join(dir, "leases"),
		"--log-facility="+filepath.Join(dir, "dnsmasq.log"))
	if err := dnsmasq.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dnsmasq.Process.Kill(); dnsmasq.Wait() })
	return n
}

// serveMetadata answers the OpenStack metadata paths the guest reads.
func (n *testNetwork) serveMetadata(t *testing.T, hostname, publicKey, userData string) {
	ln, err := netns.Listen(n.name, "tcp", "169.254.169.254:80")
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(map[string]any{
		"uuid": "6f9e1c43-6d0f-4d55-9fb7-1d9b2c7a0e01", "hostname": hostname, "name": hostname,
		"public_keys": map[string]string{"test": publicKey},
	})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openstack/latest/meta_data.json", func(w http.ResponseWriter, r *http.Request) { w.Write(meta) })
	mux.HandleFunc("GET /openstack/latest/user_data", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(userData)) })
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

// configDrive makes a vfat config drive labelled config-2, as Nova's
// config_drive_format=vfat does.
func configDrive(t *testing.T, dir, hostname, publicKey, userData string) string {
	src := filepath.Join(dir, "config-drive", "openstack", "latest")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	meta, _ := json.Marshal(map[string]any{"hostname": hostname, "public_keys": map[string]string{"test": publicKey}})
	os.WriteFile(filepath.Join(src, "meta_data.json"), meta, 0o644)
	os.WriteFile(filepath.Join(src, "user_data"), []byte(userData), 0o644)
	img := filepath.Join(dir, "config-drive.img")
	run(t, "mkfs.fat", "-C", "-n", "config-2", img, "4096")
	cmd := exec.Command("mcopy", "-s", "-i", img, filepath.Join(dir, "config-drive", "openstack"), "::")
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mcopy: %v: %s", err, out)
	}
	return img
}

// testGuest is one QEMU process of the test.
type testGuest struct {
	cmd     *exec.Cmd
	console string
	qmp     string
	exited  chan error
}

func bootGuest(ctx context.Context, t *testing.T, n *testNetwork, bootArgs []string) *testGuest {
	dir := t.TempDir()
	g := &testGuest{console: filepath.Join(dir, "console.log"), qmp: filepath.Join(dir, "qmp.sock"), exited: make(chan error, 1)}
	args := append([]string{"netns", "exec", n.name, "qemu-system-x86_64",
		"-machine", "pc,accel=tcg", "-m", "256", "-smp", "1", "-display", "none", "-vga", "none",
		"-serial", "file:" + g.console, "-qmp", "unix:" + g.qmp + ",server=on,wait=off",
		"-netdev", "tap,id=net0,ifname=" + n.tap + ",script=no,downscript=no",
		"-device", "virtio-net-pci,netdev=net0,mac=" + testMAC}, bootArgs...)
	g.cmd = exec.CommandContext(ctx, "ip", args...)
	stderr := &strings.Builder{}
	g.cmd.Stderr = stderr
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.exited <- g.cmd.Wait() }()
	t.Cleanup(func() {
		g.cmd.Process.Kill()
		<-g.exited
		if t.Failed() {
			data, _ := os.ReadFile(g.console)
			t.Logf("console:\n%s\nqemu stderr:\n%s", data, stderr)
		}
	})
	return g
}

// waitConsole waits until the console has a line matching re and returns the match.
func (g *testGuest) waitConsole(t *testing.T, re *regexp.Regexp, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		data, _ := os.ReadFile(g.console)
		if m := re.FindStringSubmatch(string(data)); m != nil {
			return m
		}
		select {
		case err := <-g.exited:
			g.exited <- err
			t.Fatalf("QEMU exited (%v) before the console showed %q", err, re)
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("the console did not show %q within %s", re, timeout)
	return nil
}

func (g *testGuest) checkBooted(t *testing.T, hostname, metadataSource string) {
	t.Helper()
	// TCG is slow and CI machines are noisy: this is a deadline, not a timing assertion.
	g.waitConsole(t, regexp.MustCompile(regexp.QuoteMeta(BootMarker)), 4*time.Minute)
	for _, want := range []string{
		"nimbus-guest: " + metadataSource,
		"nimbus-guest: ip eth0 " + testGuestIP + "/24",
		"nimbus-guest: hostname " + hostname,
		"nimbus-guest: ssh keys 1",
	} {
		g.waitConsole(t, regexp.MustCompile(regexp.QuoteMeta(want)), time.Second)
	}
}

func (g *testGuest) checkUserData(t *testing.T) {
	t.Helper()
	g.waitConsole(t, regexp.MustCompile(`user-data says hello as uid 0`), time.Second)
}

func (g *testGuest) checkSSH(t *testing.T, n *testNetwork, key, hostname string) {
	t.Helper()
	var out []byte
	var err error
	for range 10 {
		out, err = exec.Command("ip", "netns", "exec", n.name, "ssh", "-i", key,
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
			"-o", "ConnectTimeout=10", "-o", "LogLevel=ERROR", "root@"+testGuestIP, "hostname; id -u").CombinedOutput()
		if err == nil {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if err != nil {
		t.Fatalf("ssh root@%s: %v: %s", testGuestIP, err, out)
	}
	if got, want := strings.Fields(string(out)), []string{hostname, "0"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("ssh ran `hostname; id -u` = %q, want %q", got, want)
	}
}

// checkPowerButton presses the ACPI power button through QMP and waits for the guest
// to power itself off, which ends QEMU.
func (g *testGuest) checkPowerButton(t *testing.T) {
	t.Helper()
	if err := qmpCommand(g.qmp, "system_powerdown"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-g.exited:
		g.exited <- err
		if err != nil {
			t.Fatalf("QEMU ended with %v after the power button", err)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the guest did not power off after the ACPI power button")
	}
	g.waitConsole(t, regexp.MustCompile(`nimbus-guest: powering off`), time.Second)
}

// qmpCommand runs one QMP command without arguments.
func qmpCommand(socket, command string) error {
	conn, err := net.DialTimeout("unix", socket, 5*time.Second)
	if err != nil {
		return fmt.Errorf("QMP: %w", err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	if _, err := r.ReadBytes('\n'); err != nil { // the greeting
		return fmt.Errorf("QMP greeting: %w", err)
	}
	for _, cmd := range []string{"qmp_capabilities", command} {
		if _, err := fmt.Fprintf(conn, `{"execute":%q}`+"\n", cmd); err != nil {
			return err
		}
		for {
			line, err := r.ReadBytes('\n')
			if err != nil {
				return fmt.Errorf("QMP %s: %w", cmd, err)
			}
			var reply struct {
				Return json.RawMessage        `json:"return"`
				Error  *struct{ Desc string } `json:"error"`
			}
			if err := json.Unmarshal(line, &reply); err != nil {
				return fmt.Errorf("QMP %s: %w", cmd, err)
			}
			if reply.Error != nil {
				return fmt.Errorf("QMP %s: %s", cmd, reply.Error.Desc)
			}
			if reply.Return != nil {
				break
			}
		}
	}
	return nil
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}
