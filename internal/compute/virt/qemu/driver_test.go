package qemu

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/qemu/qemutest"
	"github.com/nimbus-cloud/nimbus/internal/guestimage"
)

// The test guest's network, inside a namespace of the test's own (qemutest's).
const (
	testGuestIP = qemutest.GuestIP
	testMAC     = qemutest.MAC
	testTap     = qemutest.Tap
)

// TestDriverLifecycle boots the real test guest under QEMU (TCG) through the driver
// and takes it through every action, sharing one guest because TCG boots are slow:
// spawn, pause, an agent restart (a new Driver adopts the guest), suspend to a file
// and resume, hard reboot, ACPI power-off, power-on, destroy.
func TestDriverLifecycle(t *testing.T) {
	requireQEMU(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	img, err := guestimage.Build(ctx, guestimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	ns := newTestNamespace(t, work)
	// Deep enough that the sockets' paths do not fit sockaddr_un: QEMU binds them,
	// and the driver reaches them, through the directory's descriptor.
	instances := filepath.Join(work, strings.Repeat("deep", 10), "instances")
	spec := virt.Spec{
		UUID:        "0b1c2d3e-4f50-4617-8899-aabbccddeeff",
		Name:        "instance-00000001",
		VCPUs:       1,
		MemoryMB:    256,
		Dir:         filepath.Join(instances, "0b1c2d3e-4f50-4617-8899-aabbccddeeff"),
		NICs:        []virt.NIC{{MAC: testMAC, Tap: testTap, MTU: 1500}},
		Accelerator: "auto",
	}
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	spec.RootDisk = filepath.Join(spec.Dir, "disk")
	if err := qemutest.Overlay(img.Disk, "qcow2", spec.RootDisk); err != nil {
		t.Fatal(err)
	}
	spec.ConfigDrive = configDrive(t, work, "lifecycle-vm.novalocal")
	opts := Options{InstancesDir: instances, HostNamespace: ns, Logger: testLogger(t)}
	d, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { killLeftover(t, spec) })
	g := &guest{t: t, d: d, spec: spec, ns: ns}

	// Spawn, twice: the second finds it running and changes nothing.
	start := time.Now()
	if err := d.Spawn(ctx, spec); err != nil {
		t.Fatal(err)
	}
	pid := g.pid()
	g.waitMarkers(1)
	t.Logf("spawn to boot marker: %s", time.Since(start).Round(100*time.Millisecond))
	if last, err := d.ConsoleOutput(ctx, spec, 10); err != nil || !strings.Contains(last, guestimage.BootMarker) ||
		strings.Count(last, "\n") > 10 {
		t.Fatalf("the console's last 10 lines = %q, %v; want them with the boot marker", last, err)
	}
	g.console("nimbus-guest: metadata from config drive") // the CD-ROM is attached
	g.console("nimbus-guest: ip eth0 " + testGuestIP + "/24")
	if err := d.Spawn(ctx, spec); err != nil {
		t.Fatal(err)
	}
	if got := g.pid(); got != pid {
		t.Fatalf("a second Spawn started another QEMU (pid %d, was %d)", got, pid)
	}
	g.wantState(virt.Running)
	g.ping()

	// Pause and unpause (QMP stop/cont), each twice to show they are idempotent.
	for range 2 {
		if err := d.Pause(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	g.wantState(virt.Paused)
	for range 2 {
		if err := d.Unpause(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	g.wantState(virt.Running)

	// The agent restarts: a new Driver finds the guest and controls it.
	d2, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	g.d = d2
	g.wantList(virt.Running)
	if err := d2.Pause(ctx, spec); err != nil {
		t.Fatal(err)
	}
	g.wantState(virt.Paused)
	if err := d2.Unpause(ctx, spec); err != nil {
		t.Fatal(err)
	}
	g.wantState(virt.Running)

	// Suspend: the memory goes to a file, the process away.
	start = time.Now()
	if err := d2.Suspend(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Logf("suspend: %s", time.Since(start).Round(100*time.Millisecond))
	if isGuest(pid, spec.UUID) {
		t.Fatalf("QEMU %d still runs after Suspend", pid)
	}
	if fi, err := os.Stat(filepath.Join(spec.Dir, stateFile)); err != nil || fi.Size() == 0 {
		t.Fatalf("no saved state after Suspend: %v", err)
	}
	g.wantState(virt.Suspended)
	g.wantList(virt.Suspended)
	if err := d2.Suspend(ctx, spec); err != nil {
		t.Fatalf("Suspend of a suspended guest: %v", err)
	}

	// Resume: the same guest carries on, it does not boot again.
	start = time.Now()
	if err := d2.Resume(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Logf("resume: %s", time.Since(start).Round(100*time.Millisecond))
	pid = g.pid()
	g.wantState(virt.Running)
	if _, err := os.Stat(filepath.Join(spec.Dir, stateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the saved state is still there after Resume: %v", err)
	}
	g.ping()
	if n := g.markers(); n != 1 {
		t.Fatalf("the console shows %d boot markers after Resume, want 1 (a resumed guest does not boot)", n)
	}
	if err := d2.Resume(ctx, spec); err != nil {
		t.Fatalf("Resume of a running guest: %v", err)
	}

	// Hard reboot: the machine resets in the same QEMU and boots again.
	if err := d2.Reboot(ctx, spec, true, 0); err != nil {
		t.Fatal(err)
	}
	g.waitMarkers(2)
	if got := g.pid(); got != pid {
		t.Fatalf("a hard reboot changed the QEMU (pid %d, was %d)", got, pid)
	}
	g.wantState(virt.Running)

	// Soft reboot: the guest shuts down on the ACPI button, a new QEMU boots it.
	if err := d2.Reboot(ctx, spec, false, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(g.output(), "nimbus-guest: powering off"); n != 1 {
		t.Fatalf("the console shows %d power-offs after a soft reboot, want 1", n)
	}
	g.waitMarkers(3)
	if got := g.pid(); got == pid {
		t.Fatalf("a soft reboot kept QEMU %d: the guest did not shut down", pid)
	}
	pid = g.pid()
	g.wantState(virt.Running)

	// ACPI power-off: the guest powers itself off; its files stay.
	if err := d2.PowerOff(ctx, spec, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(g.output(), "nimbus-guest: powering off"); n != 2 {
		t.Fatalf("the console shows %d power-offs after PowerOff, want 2", n)
	}
	if isGuest(pid, spec.UUID) {
		t.Fatalf("QEMU %d still runs after PowerOff", pid)
	}
	g.wantState(virt.Shutdown)
	for _, f := range []string{spec.RootDisk, filepath.Join(spec.Dir, consoleLog)} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("PowerOff removed %s: %v", f, err)
		}
	}
	if err := d2.PowerOff(ctx, spec, time.Second); err != nil {
		t.Fatalf("PowerOff of a powered-off guest: %v", err)
	}
	if err := d2.Pause(ctx, spec); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("Pause of a powered-off guest = %v, want ErrNotRunning", err)
	}

	// Power on: a new QEMU, the guest boots a fourth time.
	if err := d2.PowerOn(ctx, spec); err != nil {
		t.Fatal(err)
	}
	g.waitMarkers(4)
	pid = g.pid()
	g.wantState(virt.Running)
	if _, err := os.Stat(d2.VNCSocket(spec)); err != nil {
		t.Fatalf("no VNC socket: %v", err)
	}

	// Destroy, twice: no process, no directory, unknown to the driver.
	for range 2 {
		if err := d2.Destroy(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	if isGuest(pid, spec.UUID) {
		t.Fatalf("QEMU %d still runs after Destroy", pid)
	}
	if _, err := os.Stat(spec.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the instance directory is still there after Destroy: %v", err)
	}
	if st, err := d2.State(ctx, spec); st != virt.NoState || !errors.Is(err, virt.ErrNotFound) {
		t.Fatalf("State after Destroy = %v, %v; want nostate, ErrNotFound", st, err)
	}
	if list, err := d2.List(ctx); err != nil || len(list) != 0 {
		t.Fatalf("List after Destroy = %v, %v; want none", list, err)
	}
}

// guest is the test's view of the one guest it drives.
type guest struct {
	t    testing.TB
	d    *Driver
	spec virt.Spec
	ns   string
}

// pid is the guest's running QEMU, failing the test when there is none.
func (g *guest) pid() int {
	g.t.Helper()
	pid, err := guestPID(g.spec.Dir, g.spec.UUID)
	if err != nil || pid == 0 {
		g.t.Fatalf("no QEMU runs the guest (pid %d, %v)", pid, err)
	}
	return pid
}

// output is the whole console log.
func (g *guest) output() string {
	g.t.Helper()
	out, err := g.d.ConsoleOutput(context.Background(), g.spec, 0)
	if err != nil {
		g.t.Fatal(err)
	}
	return out
}

func (g *guest) markers() int {
	g.t.Helper()
	return strings.Count(g.output(), guestimage.BootMarker)
}

// waitMarkers waits until the console shows the boot marker n times. TCG is slow and
// CI machines are noisy: the deadline is there to end a hung test, not to time it.
func (g *guest) waitMarkers(n int) {
	g.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for g.markers() < n {
		if time.Now().After(deadline) {
			g.t.Fatalf("the console did not show the boot marker %d times", n)
		}
		if pid, _ := guestPID(g.spec.Dir, g.spec.UUID); pid == 0 {
			g.t.Fatalf("QEMU exited before the boot marker showed %d times", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// console fails the test unless the console log has the line.
func (g *guest) console(line string) {
	g.t.Helper()
	if !strings.Contains(g.output(), line) {
		g.t.Fatalf("the console has no %q", line)
	}
}

func (g *guest) wantState(want virt.PowerState) {
	g.t.Helper()
	got, err := g.d.State(context.Background(), g.spec)
	if err != nil || got != want {
		g.t.Fatalf("State = %v, %v; want %v", got, err, want)
	}
}

func (g *guest) wantList(want virt.PowerState) {
	g.t.Helper()
	list, err := g.d.List(context.Background())
	if err != nil {
		g.t.Fatal(err)
	}
	if len(list) != 1 || list[0] != (virt.Info{UUID: g.spec.UUID, State: want}) {
		g.t.Fatalf("List = %+v, want the guest %s", list, want)
	}
}

// ping checks the guest answers on its network (the guest's kernel and NIC run).
func (g *guest) ping() {
	g.t.Helper()
	var out []byte
	var err error
	for range 10 {
		out, err = exec.Command("ip", "netns", "exec", g.ns, "ping", "-c", "1", "-W", "2", testGuestIP).CombinedOutput()
		if err == nil {
			return
		}
	}
	g.t.Fatalf("the guest does not answer ping: %v: %s", err, out)
}

// requireQEMU skips the test without QEMU or root, unless NIMBUS_TEST_REQUIRE_QEMU
// is set (make test): there a missing tool fails.
func requireQEMU(t testing.TB) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range []string{"qemu-system-x86_64"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("NIMBUS_TEST_REQUIRE_QEMU") != "" {
		t.Fatalf("this machine lacks %s", strings.Join(missing, ", "))
	}
	t.Skipf("needs %s", strings.Join(missing, ", "))
}

// newTestNamespace makes qemutest's namespace for the guest, removed at cleanup.
func newTestNamespace(t testing.TB, dir string) string {
	t.Helper()
	ns, err := qemutest.NewNamespace(fmt.Sprintf("nimbus-qemu-test-%d", os.Getpid()), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Error(err)
		}
	})
	return ns.Name
}

// configDrive makes qemutest's config drive for the guest with hostname.
func configDrive(t testing.TB, dir, hostname string) string {
	t.Helper()
	iso, err := qemutest.ConfigDrive(dir, "0b1c2d3e-4f50-4617-8899-aabbccddeeff", hostname)
	if err != nil {
		t.Fatal(err)
	}
	return iso
}

// killLeftover kills the guest's QEMU if the test failed before Destroy, by its pid
// and only when that pid is still this guest's QEMU.
func killLeftover(t testing.TB, s virt.Spec) {
	pid, _ := guestPID(s.Dir, s.UUID)
	if pid == 0 {
		return
	}
	if t.Failed() {
		data, _ := os.ReadFile(filepath.Join(s.Dir, consoleLog))
		t.Logf("console:\n%s", data)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	waitExit(context.Background(), pid, s.UUID, 10*time.Second)
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testWriter sends log lines to t.Log, so they show with the failing test only.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

func run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// TestResources checks the host capacity against this host.
func TestResources(t *testing.T) {
	requireQEMU(t)
	d, err := New(Options{InstancesDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Resources(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("qemu-system-x86_64", "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	var major, minor, micro int
	fmt.Sscanf(string(out), "QEMU emulator version %d.%d.%d", &major, &minor, &micro)
	if want := major*1000000 + minor*1000 + micro; r.HypervisorVersion != want || want == 0 {
		t.Errorf("HypervisorVersion = %d, want %d (from %q)", r.HypervisorVersion, want, out)
	}
	if r.HypervisorType != "QEMU" || r.VCPUs != runtime.NumCPU() || r.MemoryMB <= 0 || r.DiskGB < 0 {
		t.Errorf("Resources = %+v", r)
	}
	var cpu struct{ Arch string }
	if err := json.Unmarshal([]byte(r.CPUInfo), &cpu); err != nil || cpu.Arch != "x86_64" {
		t.Errorf("CPUInfo %q: %v", r.CPUInfo, err)
	}
}
