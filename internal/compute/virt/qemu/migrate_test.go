package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/qemu/qemutest"
	"github.com/nimbus-cloud/nimbus/internal/guestimage"
)

// The two hosts' addresses on the veth between their namespaces (the hosts'
// network, which the migration and NBD listeners bind to).
const (
	migrationHostA = "10.202.0.1"
	migrationHostB = "10.202.0.2"
)

// liveMigrationUserData runs in the test guest at boot: it writes a pattern
// into the root disk past the image's end (the overlay is larger) and into the
// ephemeral disk, keeps a random marker in RAM (tmpfs) and prints it with a
// counter every second on the serial console. After a live migration the
// destination's console must go on counting with the same marker.
const liveMigrationUserData = `#!/bin/sh
cat /proc/sys/kernel/random/uuid >/run/lm-marker
yes Z | tr -d '\n' | head -c 1048576 | dd of=/dev/vda bs=65536 seek=640 conv=fsync 2>/dev/null
yes Y | tr -d '\n' | head -c 1048576 | dd of=/dev/vdb bs=65536 conv=fsync 2>/dev/null
sync
echo "nimbus-test: disks written"
( n=0; while :; do n=$((n+1)); echo "nimbus-test: tick $n $(cat /run/lm-marker)" >/dev/console; sleep 1; done ) &
`

var tickLine = regexp.MustCompile(`nimbus-test: tick (\d+) ([0-9a-f-]{36})`)

// TestLiveMigration moves a running guest between two "hosts" — namespaces
// joined by a veth, each with its own instances directory, base image copy,
// bridge, tap and dnsmasq — without shared storage. The guest writes its root
// and ephemeral disks and keeps a marker in RAM. A first migration, throttled,
// is aborted midway: the guest runs on at the source, the destination's QEMU
// is gone (a force-complete before the abort paused the guest; the abort
// resumes it). The second completes: the destination's guest goes on counting
// with the same marker (it did not boot again), answers ping on the
// destination's bridge, both disks hold what the guest wrote, and no QEMU is
// left in the source's namespace. A third moves it back with the agent
// "restarting" right after it started the migration: a new Driver's
// LiveMigrate follows the migration QEMU has under way to its end.
func TestLiveMigration(t *testing.T) {
	requireQEMU(t)
	for _, tool := range []string{"qemu-io", "genisoimage", "dnsmasq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	img, err := guestimage.Build(ctx, guestimage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	hostA := newMigrationHost(t, work, "a", migrationHostA, img.Disk)
	hostB := newMigrationHost(t, work, "b", migrationHostB, img.Disk)
	// The hosts' network: a veth from A's namespace to B's.
	run(t, "ip", "-n", hostA.ns, "link", "add", "mig0", "type", "veth", "peer", "name", "mig0", "netns", hostB.ns)
	for _, h := range []*migrationHost{hostA, hostB} {
		run(t, "ip", "-n", h.ns, "addr", "add", h.addr+"/24", "dev", "mig0")
		run(t, "ip", "-n", h.ns, "link", "set", "mig0", "up")
	}

	const uuid = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
	src := hostA.spec(t, uuid)
	g := &guest{t: t, d: hostA.driver, spec: src, ns: hostA.ns}
	if err := hostA.driver.Spawn(ctx, src); err != nil {
		t.Fatal(err)
	}
	g.waitMarkers(1)
	g.console("nimbus-test: disks written")
	marker, before := lastTick(t, g.output())
	t.Logf("the guest's RAM marker is %s (tick %d)", marker, before)
	g.ping()
	if err := hostA.driver.ForceCompleteLiveMigration(ctx, src); !errors.Is(err, ErrNoMigration) {
		t.Fatalf("ForceCompleteLiveMigration without a migration = %v, want ErrNoMigration", err)
	}

	// An aborted migration: throttled to 1 MiB/s, so it is still copying RAM
	// when the abort comes.
	dst := hostB.spec(t, uuid)
	in, err := hostB.driver.PrepareIncoming(ctx, dst, migrationHostB)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := hostB.driver.PrepareIncoming(ctx, dst, migrationHostB); err != nil || !equalIncoming(again, in) {
		t.Fatalf("a second PrepareIncoming = %+v, %v; want %+v again", again, err, in)
	}
	if st, err := hostB.driver.State(ctx, dst); err != nil || st != virt.Paused {
		t.Fatalf("the waiting destination's state = %v, %v; want paused", st, err)
	}
	dstPID, err := guestPID(dst.Dir, dst.UUID)
	if err != nil || dstPID == 0 {
		t.Fatalf("no QEMU waits on the destination: %v", err)
	}
	migrated := make(chan error, 1)
	go func() {
		_, err := hostA.driver.LiveMigrate(ctx, src, in, virt.LiveMigrationOptions{BandwidthMiBps: 1}, nil)
		migrated <- err
	}()
	waitMigrationStatus(t, hostA.driver, src, "active")
	// A force-complete pauses the guest (at 1 MiB/s it does not finish by
	// that); the abort then resumes it, as it ran before the migration.
	if err := hostA.driver.ForceCompleteLiveMigration(ctx, src); err != nil {
		t.Fatal(err)
	}
	g.wantState(virt.Paused)
	if err := hostA.driver.AbortLiveMigration(ctx, src); err != nil {
		t.Fatal(err)
	}
	if err := <-migrated; err == nil {
		t.Fatal("LiveMigrate of an aborted migration returned no error")
	}
	g.wantState(virt.Running)
	if jobs, err := mirrorJobs(ctx, onSocket(filepath.Join(src.Dir, qmpSocket))); err != nil || len(jobs) != 0 {
		t.Fatalf("mirror jobs after the abort: %+v, %v; want none", jobs, err)
	}
	if !waitExit(ctx, dstPID, dst.UUID, time.Minute) {
		t.Fatal("the destination's QEMU still runs after the migration was aborted")
	}
	if err := hostB.driver.Destroy(ctx, dst); err != nil {
		t.Fatal(err)
	}
	_, afterAbort := lastTick(t, g.output())
	waitTickAfter(t, g, afterAbort)

	// The migration that completes.
	dst = hostB.spec(t, uuid)
	in, err = hostB.driver.PrepareIncoming(ctx, dst, migrationHostB)
	if err != nil {
		t.Fatal(err)
	}
	srcPID := g.pid()
	_, before = lastTick(t, g.output())
	// The destination's agent waits for the guest right away, so it resumes
	// as soon as its state is in, not when the source reports.
	finished := make(chan error, 1)
	var resumed time.Time
	go func() {
		err := hostB.driver.FinishIncoming(ctx, dst)
		resumed = time.Now()
		finished <- err
	}()
	var polls int
	var stopped time.Time // first seen stopped for the switch-over (up to one poll late)
	res, err := hostA.driver.LiveMigrate(ctx, src, in, virt.LiveMigrationOptions{}, func(p virt.MigrationProgress) {
		polls++
		if p.Status == "pre-switchover" && stopped.IsZero() {
			stopped = time.Now()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	if err := hostB.driver.FinishIncoming(ctx, dst); err != nil {
		t.Fatalf("a second FinishIncoming: %v", err)
	}
	t.Logf("live migration: total %s, QEMU's downtime %s, the guest stopped to resumed at most %s, memory %d bytes, disk %d bytes, %d progress polls",
		res.Total.Round(time.Millisecond), res.Downtime, resumed.Sub(stopped).Round(time.Millisecond)+migratePoll,
		res.MemoryBytes, res.DiskBytes, polls)
	if stopped.IsZero() {
		t.Fatal("the migration never stopped at pre-switchover for the disks")
	}
	if isGuest(srcPID, src.UUID) {
		t.Fatalf("the source's QEMU %d still runs", srcPID)
	}
	if err := hostA.driver.Destroy(ctx, src); err != nil {
		t.Fatal(err)
	}
	moved := &guest{t: t, d: hostB.driver, spec: dst, ns: hostB.ns}
	moved.wantState(virt.Running)
	waitTickAfter(t, moved, before)
	gotMarker, _ := lastTick(t, moved.output())
	if gotMarker != marker {
		t.Fatalf("the destination's guest prints marker %s, want %s from the source's RAM", gotMarker, marker)
	}
	if strings.Contains(moved.output(), guestimage.BootMarker) {
		t.Fatal("the guest booted again on the destination")
	}
	moved.ping()
	// What the guest wrote before the move is on the destination's disks.
	wantPattern(t, "qcow2", dst.RootDisk, 0x5a, 640*65536)
	wantPattern(t, "raw", dst.LocalDisks[0], 0x59, 0)
	// Nothing of the guest runs on the source any more.
	if pids := namespacePIDs(t, hostA.ns); !slices.Equal(pids, []int{hostA.net.DnsmasqPID()}) {
		t.Fatalf("processes in the source's namespace: %v; want only its dnsmasq %d", pids, hostA.net.DnsmasqPID())
	}

	// Back to A, with B's agent "crashing" right after it started the
	// migration (the mirrors and migrate are under way in QEMU, the agent
	// gone): a new Driver's LiveMigrate follows QEMU's migration to its end.
	back := hostA.spec(t, uuid)
	inA, err := hostA.driver.PrepareIncoming(ctx, back, migrationHostA)
	if err != nil {
		t.Fatal(err)
	}
	go func() { finished <- hostA.driver.FinishIncoming(ctx, back) }()
	drives, _ := localDriveIDs(dst)
	movedPID := moved.pid()
	if _, _, err := hostB.driver.beginMigration(ctx, dst); err != nil {
		t.Fatal(err)
	}
	if err := hostB.driver.startMigration(ctx, dst, filepath.Join(dst.Dir, qmpSocket), migrationHostA, inA, drives,
		virt.LiveMigrationOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	restarted, err := New(Options{InstancesDir: hostB.instances, HostNamespace: hostB.ns, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restarted.LiveMigrate(ctx, dst, inA, virt.LiveMigrationOptions{}, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	if isGuest(movedPID, dst.UUID) {
		t.Fatalf("B's QEMU %d still runs after the migration back", movedPID)
	}
	if err := hostB.driver.Destroy(ctx, dst); err != nil {
		t.Fatal(err)
	}
	home := &guest{t: t, d: hostA.driver, spec: back, ns: hostA.ns}
	home.wantState(virt.Running)
	waitTickAfter(t, home, 0)
	if m, _ := lastTick(t, home.output()); m != marker {
		t.Fatalf("the guest back on A prints marker %s, want %s", m, marker)
	}
	home.ping()
	if pids := namespacePIDs(t, hostB.ns); !slices.Equal(pids, []int{hostB.net.DnsmasqPID()}) {
		t.Fatalf("processes in B's namespace: %v; want only its dnsmasq %d", pids, hostB.net.DnsmasqPID())
	}
	if err := hostA.driver.Destroy(ctx, back); err != nil {
		t.Fatal(err)
	}
}

// migrationHost is one side of TestLiveMigration.
type migrationHost struct {
	name, ns, addr string
	dir            string
	base           string // the host's own copy of the image
	net            *qemutest.Namespace
	driver         *Driver
	instances      string
	configDrive    string
}

func newMigrationHost(t *testing.T, work, name, addr, image string) *migrationHost {
	t.Helper()
	h := &migrationHost{name: name, addr: addr, dir: filepath.Join(work, name)}
	h.instances = filepath.Join(h.dir, "instances")
	if err := os.MkdirAll(h.instances, 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := qemutest.NewNamespace(fmt.Sprintf("nimbus-lm-%s-%d", name, os.Getpid()), h.dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	h.net, h.ns = n, n.Name
	// Each host fetched the image into its own cache.
	h.base = filepath.Join(h.dir, "base.qcow2")
	run(t, "cp", image, h.base)
	h.driver, err = New(Options{InstancesDir: h.instances, HostNamespace: h.ns, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	h.configDrive = liveMigrationConfigDrive(t, h.dir)
	return h
}

// spec makes the guest's directory and disks on this host — an overlay
// larger than the image (64 MiB, as a flavor's root disk) and an empty 16
// MiB ephemeral disk — as the agent does at spawn and at pre_live_migration.
func (h *migrationHost) spec(t *testing.T, uuid string) virt.Spec {
	t.Helper()
	s := virt.Spec{
		UUID:        uuid,
		Name:        "instance-0000002a",
		VCPUs:       1,
		MemoryMB:    256,
		Dir:         filepath.Join(h.instances, uuid),
		NICs:        []virt.NIC{{MAC: qemutest.MAC, Tap: qemutest.Tap, MTU: 1500}},
		Accelerator: "auto",
		ConfigDrive: h.configDrive,
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s.RootDisk = filepath.Join(s.Dir, "disk")
	run(t, "qemu-img", "create", "-q", "-f", "qcow2", "-b", h.base, "-F", "qcow2", s.RootDisk, "64M")
	eph := filepath.Join(s.Dir, "disk.eph0")
	run(t, "truncate", "-s", "16M", eph)
	s.LocalDisks = []string{eph}
	t.Cleanup(func() { killLeftover(t, s) })
	return s
}

// liveMigrationConfigDrive is a config drive whose user_data is
// liveMigrationUserData.
func liveMigrationConfigDrive(t *testing.T, dir string) string {
	t.Helper()
	latest := filepath.Join(dir, "config-drive", "openstack", "latest")
	if err := os.MkdirAll(latest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(latest, "meta_data.json"), []byte(`{"uuid": "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", "hostname": "lm-vm"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(latest, "user_data"), []byte(liveMigrationUserData), 0o644); err != nil {
		t.Fatal(err)
	}
	iso := filepath.Join(dir, "config-drive.iso")
	run(t, "genisoimage", "-quiet", "-o", iso, "-V", "config-2", "-r", "-J", filepath.Join(dir, "config-drive"))
	return iso
}

// lastTick is the marker and counter of the console's last tick line.
func lastTick(t *testing.T, console string) (string, int) {
	t.Helper()
	m := tickLine.FindAllStringSubmatch(console, -1)
	if len(m) == 0 {
		t.Fatalf("the console has no tick line")
	}
	n, _ := strconv.Atoi(m[len(m)-1][1])
	return m[len(m)-1][2], n
}

// waitTickAfter waits until the guest's console shows a tick past n: its
// user space runs on.
func waitTickAfter(t *testing.T, g *guest, n int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if m := tickLine.FindAllStringSubmatch(g.output(), -1); len(m) > 0 {
			if last, _ := strconv.Atoi(m[len(m)-1][1]); last > n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the guest's console shows no tick after %d", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitMigrationStatus waits until the source's migration reports status.
func waitMigrationStatus(t *testing.T, d *Driver, s virt.Spec, status string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		p, err := d.LiveMigrationProgress(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status == status {
			t.Logf("progress at %s: %+v", status, p)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the migration's status is %q, not %q", p.Status, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wantPattern fails unless the 1 MiB at offset of the disk are all b. The
// guest's QEMU may hold the disk: qemu-io reads it without taking its lock.
func wantPattern(t *testing.T, format, disk string, b byte, offset int) {
	t.Helper()
	out, err := exec.Command("qemu-io", "-f", format, "-r", "-U", "-c",
		fmt.Sprintf("read -P 0x%x %d 1M", b, offset), disk).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "read 1048576/1048576 bytes") || strings.Contains(string(out), "failed") {
		t.Fatalf("%s at %d does not hold 0x%x: %v: %s", disk, offset, b, err, out)
	}
}

// namespacePIDs are the processes inside the namespace, sorted.
func namespacePIDs(t *testing.T, ns string) []int {
	t.Helper()
	out, err := exec.Command("ip", "netns", "pids", ns).Output()
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

func equalIncoming(a, b virt.Incoming) bool {
	return a.Host == b.Host && a.MigrationPort == b.MigrationPort && a.NBDPort == b.NBDPort && slices.Equal(a.Exports, b.Exports)
}
