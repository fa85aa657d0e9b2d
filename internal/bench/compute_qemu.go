package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/qemu"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt/qemu/qemutest"
	"github.com/nimbus-cloud/nimbus/internal/guestimage"
)

// ComputeQEMUAimAdded is the aim of the QEMU scenarios: Nimbus adds under this to
// the raw QEMU boot of the same image (POST→boot marker p50 minus the floor's p50).
const ComputeQEMUAimAdded = 300 * time.Millisecond

// qemuSettle is the pause between a server gone and the next POST: the network
// agent is still removing the deleted port's wiring (firewall chains, ipsets, the
// DHCP host entry) for a pass or two, and a boot that queued behind that would
// time the previous delete rather than itself.
const qemuSettle = time.Second

// QEMU flavor: the floor boots with the same size.
const (
	qemuVCPUs    = 1
	qemuMemoryMB = 256
	qemuDiskGB   = 1
)

// QEMUTools are what `nimbus bench compute --qemu` needs besides root: the data
// plane's tools (its cloud wires real ports) and QEMU's, with genisoimage for the
// config drives.
var QEMUTools = append(append([]string{}, DataplaneTools...), "qemu-system-x86_64", "qemu-img", "genisoimage")

// QEMUOptions configure `nimbus bench compute --qemu`.
type QEMUOptions struct {
	// Exe is the nimbus binary whose `up` the cloud runs.
	Exe string
	// Dir is the parent of the floor's work dir and of the cloud's data dir.
	Dir string
	// Boots is how many guests each side boots, after one unmeasured warm-up.
	Boots int
	// ConsolePoll is how often both sides look at the console for the boot marker,
	// so their figures have the same resolution.
	ConsolePoll time.Duration
	// CIDR is the subnet of the cloud's bench network.
	CIDR    string
	Timeout time.Duration // per request
	// LogDir, when set, keeps what shows where a boot's time goes: the cloud's log
	// (cloud.log) and the last measured boot's console on each side
	// (floor-console.log, cloud-console.log).
	LogDir string
}

// ComputeQEMU measures the floor (the raw QEMU boot of the test guest through the
// driver, with no cloud) and a throw-away QEMU cloud on a data plane in the
// bench's namespaces booting the same image one server at a time, the two sides'
// boots taking turns, and reports both. Everything it made is removed, also on an
// error.
func ComputeQEMU(ctx context.Context, o QEMUOptions, progress func(string)) (*QEMUReport, error) {
	if progress == nil {
		progress = func(string) {}
	}
	o.Boots = max(o.Boots, 1)
	if o.ConsolePoll <= 0 {
		o.ConsolePoll = 50 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = time.Minute
	}
	if o.CIDR == "" {
		o.CIDR = "10.243.0.0/24"
	}
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	if o.LogDir != "" {
		if err := os.MkdirAll(o.LogDir, 0o755); err != nil {
			return nil, fmt.Errorf("--qemu-logs: %w", err)
		}
	}
	progress("building (or finding cached) the test guest image")
	img, err := guestimage.Build(ctx, guestimage.Options{})
	if err != nil {
		return nil, fmt.Errorf("the test guest: %w", err)
	}
	rep := &QEMUReport{Started: time.Now().UTC(), Cores: runtime.NumCPU(), GoVersion: runtime.Version(), Boots: o.Boots,
		Image: img.Key, Flavor: fmt.Sprintf("%d vCPU, %d MB RAM, %d GB disk", qemuVCPUs, qemuMemoryMB, qemuDiskGB),
		ConsolePoll: o.ConsolePoll, Aim: ComputeQEMUAimAdded}

	// The two sides run at once, their boots taking turns (compute_qemu_turns.go);
	// either side's failure ends the other.
	progress(fmt.Sprintf("the floor (raw QEMU boots through the driver) and the cloud boot in turns, 1 warm-up + %d each", o.Boots))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := newTurns()
	floor, cloud := t.floorSide(), t.cloudSide()
	floorErr := make(chan error, 1)
	go func() {
		defer floor.done(ctx)
		err := qemuFloor(ctx, img, o, rep, floor, progress)
		if err != nil {
			cancel()
			err = fmt.Errorf("the floor: %w", err)
		}
		floorErr <- err
	}()
	err = qemuCloudSide(ctx, o, rep, cloud, progress)
	cloud.done(ctx)
	if err != nil {
		cancel()
	}
	if ferr := <-floorErr; ferr != nil && (err == nil || errors.Is(err, context.Canceled)) {
		err = ferr // the cause, not the cancellation it made
	}
	if err != nil {
		return rep, err
	}
	rep.FloorBusy, rep.CloudBusy = floor.busy.cores(), cloud.busy.cores()
	rep.summarize()
	return rep, nil
}

// qemuCloudSide starts the throw-away cloud, boots its servers in cloud's turns
// and stops it again.
func qemuCloudSide(ctx context.Context, o QEMUOptions, rep *QEMUReport, cloud *side, progress func(string)) error {
	progress("starting a throw-away QEMU cloud with its data plane in a namespace of the bench's")
	c, err := StartDataplaneCloud(ctx, o.Exe, o.Dir, "NIMBUS_COMPUTE_DRIVER=qemu", "NIMBUS_IMAGE_GUEST_IMAGE=true",
		"NIMBUS_NETWORK_METADATA_URL=")
	if err != nil {
		return err
	}
	defer func() {
		if o.LogDir != "" {
			if err := copyFile(filepath.Join(c.DataDir, "nimbus.log"), filepath.Join(o.LogDir, "cloud.log")); err != nil {
				progress("could not keep the cloud's log: " + err.Error())
			}
		}
		progress("stopping the cloud, removing its namespaces, dnsmasqs and data")
		c.Stop()
	}()
	creds, err := LoadCloud("nimbus-admin", c.CloudsYAML)
	if err != nil {
		return err
	}
	return qemuCloud(ctx, creds, o, rep, cloud, progress)
}

// qemuFloor boots the guest 1+o.Boots times through the QEMU driver on
// qemutest's namespace, each from a fresh overlay on a raw copy of the image (as
// the cloud's image cache keeps it) with a config drive, timed from
// Spawn to the boot marker on the console (and Spawn alone: QEMU's own start);
// the first is the warm-up.
func qemuFloor(ctx context.Context, img guestimage.Artifacts, o QEMUOptions, rep *QEMUReport, floor *side, progress func(string)) error {
	work, err := os.MkdirTemp(o.Dir, "nimbus-bench-floor.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ns, err := qemutest.NewNamespace(fmt.Sprintf("nbench%d-floor", os.Getpid()), work)
	if err != nil {
		return err
	}
	defer func() { _ = ns.Close() }()
	const uuidPrefix = "0b1c2d3e-4f50-4617-8899-"
	drive, err := qemutest.ConfigDrive(work, uuidPrefix+"000000000000", "nimbus-bench-floor.novalocal")
	if err != nil {
		return err
	}
	// The cloud boots an overlay on its image cache's raw copy of the image; the
	// floor boots the same.
	base := filepath.Join(work, "base.raw")
	if err := qemutest.Raw(img.Disk, base); err != nil {
		return err
	}
	instances := filepath.Join(work, "instances")
	d, err := qemu.New(qemu.Options{InstancesDir: instances, HostNamespace: ns.Name, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	for i := range o.Boots + 1 {
		uuid := fmt.Sprintf("%s%012d", uuidPrefix, i)
		spec := virt.Spec{UUID: uuid, Name: fmt.Sprintf("instance-%08x", i), VCPUs: qemuVCPUs, MemoryMB: qemuMemoryMB,
			Dir: filepath.Join(instances, uuid), ConfigDrive: drive, Accelerator: "auto",
			NICs: []virt.NIC{{MAC: qemutest.MAC, Tap: qemutest.Tap}}}
		spec.RootDisk = filepath.Join(spec.Dir, "disk")
		keep := ""
		if o.LogDir != "" && i == o.Boots {
			keep = filepath.Join(o.LogDir, "floor-console.log")
		}
		var spawn, took time.Duration
		if err := floor.boot(ctx, i > 0, func() (err error) {
			spawn, took, err = floorBoot(ctx, d, spec, base, o.ConsolePoll, keep)
			return err
		}); err != nil {
			return err
		}
		if i == 0 {
			rep.FloorWarmup = took
			progress("floor warm-up: spawn to boot marker " + ms(took))
			continue
		}
		rep.Floor, rep.FloorSpawn = append(rep.Floor, took), append(rep.FloorSpawn, spawn)
		progress(fmt.Sprintf("floor %d/%d: spawn to boot marker %s (Spawn %s)", i, o.Boots, ms(took), ms(spawn)))
	}
	return nil
}

// floorBoot makes the guest's overlay, then times Spawn until the console shows
// the boot marker (and writes the whole console to keep, when set); the guest is
// destroyed again whatever happens.
func floorBoot(ctx context.Context, d *qemu.Driver, spec virt.Spec, backing string, poll time.Duration, keep string) (spawn, took time.Duration, err error) {
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		return 0, 0, err
	}
	if err := qemutest.Overlay(backing, "raw", spec.RootDisk); err != nil {
		return 0, 0, err
	}
	defer func() { _ = d.Destroy(context.WithoutCancel(ctx), spec) }()
	t0 := time.Now()
	if err := d.Spawn(ctx, spec); err != nil {
		return 0, 0, err
	}
	spawned := time.Since(t0)
	deadline := t0.Add(3 * time.Minute) // ends a hung guest; TCG boots take seconds
	for {
		out, err := d.ConsoleOutput(ctx, spec, 50)
		if err != nil {
			return 0, 0, err
		}
		if strings.Contains(out, guestimage.BootMarker) {
			took = time.Since(t0)
			if keep != "" {
				all, _ := d.ConsoleOutput(ctx, spec, 0)
				_ = os.WriteFile(keep, []byte(all), 0o644)
			}
			return spawned, took, nil
		}
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("guest %s: no boot marker after 3 minutes; console:\n%s", spec.UUID, out)
		}
		if st, err := d.State(ctx, spec); err == nil && st != virt.Running {
			return 0, 0, fmt.Errorf("guest %s is %s before its boot marker; console:\n%s", spec.UUID, st, out)
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// qemuCloud logs in to the cloud, makes the floor's flavor and a network of the
// bench's, boots one warm-up server and then o.Boots servers one at a time with a
// config drive, each timed from POST to ACTIVE and to the boot marker in its
// console output, deleted before the next.
func qemuCloud(ctx context.Context, creds Credentials, o QEMUOptions, rep *QEMUReport, cloud *side, progress func(string)) error {
	token, computeURL, _, err := serviceLogin(ctx, creds, "compute")
	if err != nil {
		return err
	}
	_, imageURL, _, err := serviceLogin(ctx, creds, "image")
	if err != nil {
		return err
	}
	_, networkURL, _, err := serviceLogin(ctx, creds, "network")
	if err != nil {
		return err
	}
	nb, err := neutronBase(networkURL)
	if err != nil {
		return err
	}
	c, err := newNova(computeURL, token, ComputeOptions{Concurrency: 1, Timeout: o.Timeout, Poll: 100 * time.Millisecond})
	if err != nil {
		return err
	}
	defer c.close()
	img, err := hostRoot(imageURL)
	if err != nil {
		return err
	}
	glance := newKeystone(img, 1, o.Timeout)
	defer glance.close()
	n := &neutron{keystone: newKeystone(nb, 1, o.Timeout), auth: c.auth}
	defer n.close()
	rep.Target = c.base + c.prefix
	cleanup := context.WithoutCancel(ctx)

	imageID, err := findImage(ctx, glance, c.auth, "nimbus-guest")
	if err != nil {
		return err
	}
	flavorID, err := c.createFlavor(ctx, qemuVCPUs, qemuMemoryMB, qemuDiskGB)
	if err != nil {
		return err
	}
	defer func() {
		_, _, _ = c.request(cleanup, http.MethodDelete, c.prefix+"/flavors/"+flavorID, nil, c.auth, http.StatusAccepted)
	}()
	net, err := n.create(ctx, "network", map[string]any{"name": "nimbus-bench-qemu"})
	if err != nil {
		return err
	}
	defer func() {
		if err := n.removeNetwork(cleanup, net.ID); err != nil {
			progress("could not remove the bench network: " + err.Error())
		}
	}()
	if _, err := n.create(ctx, "subnet", map[string]any{"name": "nimbus-bench-qemu", "network_id": net.ID,
		"ip_version": 4, "cidr": o.CIDR}); err != nil {
		return err
	}
	boot := map[string]any{"imageRef": imageID, "flavorRef": flavorID, "config_drive": true,
		"networks": []map[string]string{{"uuid": net.ID}}}
	for i := range o.Boots + 1 {
		keep := ""
		if o.LogDir != "" && i == o.Boots {
			keep = filepath.Join(o.LogDir, "cloud-console.log")
		}
		var active, marker time.Duration
		if err := cloud.boot(ctx, i > 0, func() (err error) {
			if active, marker, err = qemuServerBoot(ctx, c, fmt.Sprintf("nimbus-bench-qemu-%d", i), boot, o.ConsolePoll, keep); err != nil {
				return err
			}
			select { // in the turn: the floor's next boot does not meet the deleted port's pass
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(qemuSettle):
				return nil
			}
		}); err != nil {
			return err
		}
		if i == 0 {
			rep.CloudWarmupActive, rep.CloudWarmupMarker = active, marker
			progress(fmt.Sprintf("cloud warm-up (fills the image cache): POST→ACTIVE %s, POST→boot marker %s", ms(active), ms(marker)))
			continue
		}
		rep.ToActive, rep.ToMarker = append(rep.ToActive, active), append(rep.ToMarker, marker)
		progress(fmt.Sprintf("cloud %d/%d: POST→ACTIVE %s, POST→boot marker %s", i, o.Boots, ms(active), ms(marker)))
	}
	return nil
}

// qemuServerBoot posts one server, polls it every 5 ms until ACTIVE and then its
// console output every poll until the boot marker shows, and deletes it again,
// waiting until it is gone (its QEMU, tap and port with it) before the next boot.
// With keep set, the whole console goes there first.
func qemuServerBoot(ctx context.Context, c *nova, name string, boot map[string]any, poll time.Duration, keep string) (active, marker time.Duration, err error) {
	t0 := time.Now()
	id, err := c.createServer(ctx, name, boot)
	if err != nil {
		return 0, 0, fmt.Errorf("boot %s: %w", name, err)
	}
	defer func() {
		cleanup := context.WithoutCancel(ctx)
		err = errors.Join(err, c.deleteServer(cleanup, id), c.waitGone(cleanup))
	}()
	if err := c.waitActive(ctx, id); err != nil {
		return 0, 0, fmt.Errorf("boot %s: %w", name, err)
	}
	active = time.Since(t0)
	if err := c.waitConsole(ctx, id, guestimage.BootMarker, poll); err != nil {
		return 0, 0, fmt.Errorf("boot %s: %w", name, err)
	}
	marker = time.Since(t0)
	if keep != "" {
		_, resp, err := c.request(ctx, http.MethodPost, c.prefix+"/servers/"+id+"/action",
			mustJSON(map[string]any{"os-getConsoleOutput": map[string]any{}}), c.auth, http.StatusOK)
		var doc struct{ Output string }
		if err == nil && json.Unmarshal(resp, &doc) == nil {
			_ = os.WriteFile(keep, []byte(doc.Output), 0o644)
		}
	}
	return active, marker, nil
}

// waitConsole posts os-getConsoleOutput (the last 50 lines) every poll until the
// output holds want. A 409 (the instance not ready for it yet) is polled through.
func (c *nova) waitConsole(ctx context.Context, id, want string, poll time.Duration) error {
	deadline := time.Now().Add(3 * time.Minute) // ends a hung guest; TCG boots take seconds
	body := mustJSON(map[string]any{"os-getConsoleOutput": map[string]any{"length": 50}})
	last := ""
	for {
		_, resp, err := c.request(ctx, http.MethodPost, c.prefix+"/servers/"+id+"/action", body, c.auth, http.StatusOK)
		switch {
		case err == nil:
			var doc struct{ Output string }
			if err := json.Unmarshal(resp, &doc); err != nil {
				return fmt.Errorf("console output of %s: %w", id, err)
			}
			if strings.Contains(doc.Output, want) {
				return nil
			}
			last = doc.Output
		case !strings.Contains(err.Error(), "status 409"):
			return fmt.Errorf("console output of %s: %w", id, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server %s: no %q on its console after 3 minutes; its last lines:\n%s", id, want, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// startBusy starts measuring how many cores the whole machine keeps busy; the
// function it returns tells (-1 when unknown). The machine is shared: a run whose
// figures moved with it says so.
func startBusy() func() float64 {
	m, t0 := startMachine(), time.Now()
	return func() float64 { return m.stop(&Stats{Elapsed: time.Since(t0)}) }
}

// copyFile copies src to dst (a log that goes with the cloud's data dir).
func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}

// findImage is the id of the active image called name, waiting a minute for a
// cloud that still seeds it.
func findImage(ctx context.Context, g *keystone, auth map[string]string, name string) (string, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		_, body, err := g.request(ctx, http.MethodGet, "/v2/images?name="+url.QueryEscape(name), nil, auth, http.StatusOK)
		if err != nil {
			return "", fmt.Errorf("find the image %s: %w", name, err)
		}
		var doc struct{ Images []struct{ ID, Status string } }
		if err := json.Unmarshal(body, &doc); err != nil {
			return "", fmt.Errorf("find the image %s: %w", name, err)
		}
		for _, im := range doc.Images {
			if im.Status == "active" {
				return im.ID, nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no active image %s after a minute", name)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
