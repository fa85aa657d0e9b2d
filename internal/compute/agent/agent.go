// Package agent is the compute agent (upstream's nova-compute): it converges its
// host's guests to the desired state the conductor keeps (spawn, power changes,
// delete), reports what it did and what it sees, and heartbeats the host's
// resources. It is level-triggered: every nudge and every resync reads the whole
// desired state, so a restarted agent finishes what a crash interrupted, adopts
// the guests still running and removes the ones no instance owns.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute"
	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// Controller is the compute service as an agent sees it (in process, or over the bus).
type Controller interface {
	HostInstances(ctx context.Context, host string) ([]compute.AgentInstance, error)
	ReportInstance(ctx context.Context, rep compute.AgentReport) error
	ReportService(ctx context.Context, rep compute.ServiceReport) error
	// ReportVolumes tells which volumes the instance's guest has now.
	ReportVolumes(ctx context.Context, rep compute.VolumeReport) error
	PortActive(ctx context.Context, portID string) (bool, error)
	// Changes delivers a nudge when the host's desired state may have changed.
	Changes(host string) <-chan struct{}
}

// Host prepares what a guest runs on: its root disk (an overlay on the cached
// image), config drive and taps; Release removes them. The fake driver needs
// none of it (nil).
type Host interface {
	Prepare(ctx context.Context, inst compute.AgentInstance, spec *virt.Spec) error
	// PrepareRescue makes spec.RescueDisk from the instance's rescue image.
	PrepareRescue(ctx context.Context, inst compute.AgentInstance, spec *virt.Spec) error
	Release(ctx context.Context, inst compute.AgentInstance, spec virt.Spec) error
	// ResizeDisk keeps a copy of the disk and grows it to the new flavor's;
	// FinishResize puts the copy back (revert) or drops it (confirm).
	ResizeDisk(ctx context.Context, inst compute.AgentInstance, spec virt.Spec) error
	FinishResize(ctx context.Context, spec virt.Spec, revert bool) error
	// Plug makes the taps of spec's NICs (ports attached since the guest was
	// prepared); Prune removes the instance's taps of ports it no longer has.
	Plug(ctx context.Context, spec virt.Spec) error
	Prune(ctx context.Context, spec virt.Spec) error
	// UploadImage stores the file at path as the image's data (a snapshot's).
	UploadImage(ctx context.Context, imageID, path string) error
}

// Options configure an agent.
type Options struct {
	Host         string
	Zone         string
	HostIP       string
	Driver       virt.Driver
	Controller   Controller
	Plumbing     Host // nil: nothing to prepare (fake driver)
	InstancesDir string
	Accelerator  string
	Log          *slog.Logger
	// Resync is the period of full passes (and heartbeats); 10 s by default.
	Resync time.Duration
	// VIFWait is how long a spawn waits for its ports to be wired (upstream
	// vif_plugging_timeout, 300 s); 0 does not wait.
	VIFWait time.Duration
	// ShutdownTimeout is how long a guest may take to power off by ACPI before it
	// is forced (upstream shutdown_timeout, 60 s).
	ShutdownTimeout time.Duration
}

// Agent runs one host.
type Agent struct {
	opts Options
	mu   sync.Mutex
	busy map[string]bool // instances a task is running for
	wg   sync.WaitGroup
}

// New checks the options.
func New(o Options) (*Agent, error) {
	if o.Host == "" || o.Driver == nil || o.Controller == nil {
		return nil, errors.New("compute agent: Host, Driver and Controller are required")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Resync <= 0 {
		o.Resync = 10 * time.Second
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = 60 * time.Second
	}
	return &Agent{opts: o, busy: map[string]bool{}}, nil
}

// Run heartbeats and converges until ctx ends, then waits for running tasks.
func (a *Agent) Run(ctx context.Context) {
	defer a.wg.Wait()
	tick := time.NewTicker(a.opts.Resync)
	defer tick.Stop()
	changes := a.opts.Controller.Changes(a.opts.Host)
	a.heartbeat(ctx)
	for {
		if err := a.Pass(ctx); err != nil && ctx.Err() == nil {
			a.opts.Log.Warn("compute agent pass", "host", a.opts.Host, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-changes:
		case <-tick.C:
			a.heartbeat(ctx)
		}
	}
}

func (a *Agent) heartbeat(ctx context.Context) {
	res, err := a.opts.Driver.Resources(ctx)
	if err != nil {
		a.opts.Log.Warn("host resources", "error", err)
		return
	}
	if err := a.opts.Controller.ReportService(ctx, compute.ServiceReport{Host: a.opts.Host, Zone: a.opts.Zone,
		HostIP: a.opts.HostIP, VCPUs: res.VCPUs, MemoryMB: res.MemoryMB, DiskGB: res.DiskGB,
		HypervisorType: res.HypervisorType, HypervisorVersion: res.HypervisorVersion, CPUInfo: res.CPUInfo}); err != nil && ctx.Err() == nil {
		a.opts.Log.Warn("heartbeat", "error", err)
	}
}

// Pass converges the host once: a task for each instance that needs one (in the
// background, one at a time per instance), a power-state report for each whose
// guest differs from what the database says, and the removal of guests no
// instance owns.
func (a *Agent) Pass(ctx context.Context) error {
	want, err := a.opts.Controller.HostInstances(ctx, a.opts.Host)
	if err != nil {
		return fmt.Errorf("desired state: %w", err)
	}
	guests, err := a.opts.Driver.List(ctx)
	if err != nil {
		return fmt.Errorf("list guests: %w", err)
	}
	seen := map[string]virt.PowerState{}
	for _, g := range guests {
		seen[g.UUID] = g.State
	}
	owned := map[string]bool{}
	for _, inst := range want {
		owned[inst.UUID] = true
		if inst.TaskState == "" && inst.VMState != "building" {
			st, ok := seen[inst.UUID]
			if powerDiffers(inst, st, ok) {
				a.start(ctx, inst, a.syncPower)
			} else {
				a.start(ctx, inst, func(ctx context.Context, inst compute.AgentInstance) {
					a.dropResizeCopy(ctx, inst, a.Spec(inst))
					a.syncInterfaces(ctx, inst, st)
					a.syncVolumes(ctx, inst, st)
				})
			}
			continue
		}
		a.start(ctx, inst, a.task)
	}
	for _, g := range guests {
		if owned[g.UUID] {
			continue
		}
		orphan := compute.AgentInstance{UUID: g.UUID}
		a.start(ctx, orphan, func(ctx context.Context, inst compute.AgentInstance) {
			a.opts.Log.Warn("destroying a guest no instance owns", "host", a.opts.Host, "instance", inst.UUID)
			if err := a.destroy(ctx, inst); err != nil {
				a.opts.Log.Warn("destroy orphan", "instance", inst.UUID, "error", err)
			}
		})
	}
	return nil
}

// powerDiffers says whether the hypervisor's view of a guest (st; found is
// false when it has none) differs from the power state the database holds.
func powerDiffers(inst compute.AgentInstance, st virt.PowerState, found bool) bool {
	if found {
		return int(st) != inst.PowerState
	}
	return inst.PowerState != int(virt.NoState) && inst.PowerState != int(virt.Shutdown)
}

// start runs fn for the instance in the background unless a task for it runs.
func (a *Agent) start(ctx context.Context, inst compute.AgentInstance, fn func(context.Context, compute.AgentInstance)) {
	a.mu.Lock()
	if a.busy[inst.UUID] {
		a.mu.Unlock()
		return
	}
	a.busy[inst.UUID] = true
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer func() {
			a.mu.Lock()
			delete(a.busy, inst.UUID)
			a.mu.Unlock()
		}()
		fn(ctx, inst)
	}()
}

// Spec is the driver's view of an instance on this host.
func (a *Agent) Spec(inst compute.AgentInstance) virt.Spec {
	dir := filepath.Join(a.opts.InstancesDir, inst.UUID)
	s := virt.Spec{UUID: inst.UUID, Name: inst.Name, VCPUs: inst.VCPUs, MemoryMB: inst.MemoryMB, Dir: dir,
		RootDisk: filepath.Join(dir, "disk"), Accelerator: a.opts.Accelerator}
	if inst.Rescue != nil && inst.TaskState != "unrescuing" {
		s.RescueDisk = filepath.Join(dir, rescueDisk)
	}
	for _, p := range inst.Ports {
		s.NICs = append(s.NICs, virt.NIC{MAC: p.MAC, Tap: tapName(p.ID), MTU: p.MTU})
	}
	for _, d := range inst.LocalDisks {
		if compute.ValidLocalDiskName(d.Name) {
			s.LocalDisks = append(s.LocalDisks, filepath.Join(dir, d.Name))
		}
	}
	for _, v := range inst.Volumes {
		if v.Status == compute.VolumeDetaching {
			continue
		}
		s.Volumes = append(s.Volumes, v.Disk)
		if v.Disk.Boot {
			s.RootDisk = ""
		}
	}
	return s
}

// tapName is upstream's tap<port id[:11]>, the device the L2 agent wires.
func tapName(portID string) string {
	if len(portID) > 11 {
		portID = portID[:11]
	}
	return "tap" + portID
}

// task carries out the instance's task and reports the outcome.
func (a *Agent) task(ctx context.Context, inst compute.AgentInstance) {
	if inst.TaskState == "resize_prep" {
		return // the conductor's
	}
	if inst.TaskState == compute.AgentTaskEvacuated {
		a.removeEvacuated(ctx, inst)
		return
	}
	spec := a.Spec(inst)
	d := a.opts.Driver
	var err error
	task := inst.TaskState // a snapshot moves it on as it goes
	if a.opts.Plumbing != nil && !slices.Contains([]string{"spawning", "rebuild_spawning", "deleting", "rebuilding", "shelving_offloading"}, inst.TaskState) {
		// A guest that starts again (power on, soft reboot, resume) opens the
		// taps of every port it has now, also those attached while it was off,
		// and has the devices it was built with (config drive, kernel): a saved
		// state loads only into the same machine.
		if err := a.opts.Plumbing.Prepare(ctx, inst, &spec); err != nil {
			a.opts.Log.Warn("prepare the guest's taps and disks", "instance", inst.UUID, "error", err)
		}
	}
	switch inst.TaskState {
	case "spawning", "rebuild_spawning":
		if err = a.spawn(ctx, inst, &spec); err != nil && !errors.Is(err, errNotYet) && ctx.Err() == nil {
			// As upstream before a reschedule: nothing of a failed build stays here.
			if err := a.destroy(ctx, inst); err != nil {
				a.opts.Log.Warn("clean up a failed build", "instance", inst.UUID, "error", err)
			}
		}
	case "deleting":
		err = a.destroy(ctx, inst)
	case "rebuilding":
		err = a.rebuild(ctx, inst, &spec)
	case "rescuing":
		err = a.rescue(ctx, inst, &spec)
	case "unrescuing":
		err = a.unrescue(ctx, &spec)
	case "resize_migrating":
		err = a.resize(ctx, inst, &spec)
	case "resize_reverting":
		err = a.revertResize(ctx, inst, &spec)
	case "image_snapshot_pending", "image_snapshot", "image_backup", "image_pending_upload", "image_uploading",
		"shelving", "shelving_image_pending_upload", "shelving_image_uploading":
		err = a.snapshot(ctx, inst, &spec, &task)
	case "shelving_offloading":
		err = a.offload(ctx, inst)
	case "unshelving":
		err = d.PowerOn(ctx, spec)
	case "powering-off":
		err = d.PowerOff(ctx, spec, a.opts.ShutdownTimeout)
	case "powering-on":
		err = d.PowerOn(ctx, spec)
	case "rebooting":
		err = d.Reboot(ctx, spec, false, a.opts.ShutdownTimeout)
	case "rebooting_hard":
		err = d.Reboot(ctx, spec, true, a.opts.ShutdownTimeout)
	case "pausing":
		err = d.Pause(ctx, spec)
	case "unpausing":
		err = d.Unpause(ctx, spec)
	case "suspending":
		err = d.Suspend(ctx, spec)
	case "resuming":
		err = d.Resume(ctx, spec)
	default:
		return // scheduling and networking are the conductor's
	}
	if errors.Is(err, errNotYet) {
		return // the next pass goes on
	}
	rep := compute.AgentReport{Host: a.opts.Host, UUID: inst.UUID, Task: task}
	if inst.TaskState != "deleting" && inst.TaskState != "shelving_offloading" {
		st, _ := d.State(ctx, spec)
		rep.PowerState = int(st)
	}
	if err != nil {
		a.opts.Log.Warn("instance task failed", "host", a.opts.Host, "instance", inst.UUID, "task", inst.TaskState, "error", err)
		rep.Error = err.Error()
	}
	if err := a.opts.Controller.ReportInstance(ctx, rep); err != nil && ctx.Err() == nil {
		a.opts.Log.Warn("report instance", "instance", inst.UUID, "error", err)
	}
}

// errNotYet is a spawn waiting for its ports: not a failure, the next pass retries.
var errNotYet = errors.New("not yet")

// spawn builds the guest: taps, disk and config drive, then QEMU started paused
// while the network wires the ports (QEMU's own start overlaps the wiring), and
// its CPUs run once every port is wired, so that the guest's first packet finds
// its port on the bridge with its filters and DHCP entry.
func (a *Agent) spawn(ctx context.Context, inst compute.AgentInstance, spec *virt.Spec) error {
	st, err := a.opts.Driver.State(ctx, *spec)
	if err == nil && st == virt.Running {
		return nil // spawned before a restart; only the report was missing
	}
	if a.opts.Plumbing != nil {
		if err := a.opts.Plumbing.Prepare(ctx, inst, spec); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	spec.Paused = a.opts.VIFWait > 0
	if err := a.opts.Driver.Spawn(ctx, *spec); err != nil {
		return err
	}
	if !spec.Paused {
		return nil
	}
	if err := a.waitVIFs(ctx, inst); err != nil {
		return err
	}
	return a.opts.Driver.Unpause(ctx, *spec)
}

// vifPoll is how often a spawn asks whether its ports are wired. The guest starts
// only then, so half of it is added to every boot on average; one question is a
// sub-millisecond status read, so asking 100 times a second while a spawn waits
// (≈0.3–0.6 s, one pass of the network agent) costs next to nothing.
const vifPoll = 10 * time.Millisecond

// waitVIFs waits until the network service has wired every port (upstream
// waits for network-vif-plugged before it starts the guest).
func (a *Agent) waitVIFs(ctx context.Context, inst compute.AgentInstance) error {
	if a.opts.VIFWait <= 0 {
		return nil
	}
	deadline := time.Now().Add(a.opts.VIFWait)
	for _, p := range inst.Ports {
		for {
			ok, err := a.opts.Controller.PortActive(ctx, p.ID)
			if err != nil {
				return fmt.Errorf("port %s: %w", p.ID, err)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("timed out waiting for port %s to be wired (vif plugging)", p.ID)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(vifPoll):
			}
		}
	}
	return nil
}

// rebuild replaces the guest with a new one on a fresh disk from the
// instance's (new) image, on the same ports: the taps stay. A stopped server
// stays stopped, its guest made but not running. Cut short, it starts over.
func (a *Agent) rebuild(ctx context.Context, inst compute.AgentInstance, spec *virt.Spec) error {
	if inst.PreserveEphemeral {
		return errPreserveEphemeral
	}
	if err := a.opts.Driver.Destroy(ctx, *spec); err != nil {
		return err
	}
	if inst.VMState != "stopped" {
		return a.spawn(ctx, inst, spec)
	}
	if a.opts.Plumbing != nil {
		if err := a.opts.Plumbing.Prepare(ctx, inst, spec); err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
	}
	spec.Paused = true
	if err := a.opts.Driver.Spawn(ctx, *spec); err != nil {
		return err
	}
	return a.opts.Driver.PowerOff(ctx, *spec, 0)
}

// rescueDisk is the rescue image's overlay in the instance's directory.
const rescueDisk = "disk.rescue"

// rescue stops the guest at once (upstream destroys the domain) and boots it
// from the rescue disk, its own disk second. The rescue image brings its own
// boot loader: the server's kernel is not used. Cut short, it starts over.
func (a *Agent) rescue(ctx context.Context, inst compute.AgentInstance, spec *virt.Spec) error {
	if err := a.opts.Driver.PowerOff(ctx, *spec, 0); err != nil && !errors.Is(err, virt.ErrNotFound) {
		return err
	}
	spec.Kernel, spec.Ramdisk, spec.CommandLine = "", "", ""
	if a.opts.Plumbing != nil {
		if err := a.opts.Plumbing.PrepareRescue(ctx, inst, spec); err != nil {
			return fmt.Errorf("rescue disk: %w", err)
		}
	}
	return a.opts.Driver.PowerOn(ctx, *spec)
}

// unrescue stops the rescue guest, drops its disk and boots the server from its
// own disk again.
func (a *Agent) unrescue(ctx context.Context, spec *virt.Spec) error {
	if err := a.opts.Driver.PowerOff(ctx, *spec, 0); err != nil && !errors.Is(err, virt.ErrNotFound) {
		return err
	}
	if err := os.Remove(filepath.Join(spec.Dir, rescueDisk)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return a.opts.Driver.PowerOn(ctx, *spec)
}

func (a *Agent) destroy(ctx context.Context, inst compute.AgentInstance) error {
	spec := a.Spec(inst)
	if err := a.opts.Driver.Destroy(ctx, spec); err != nil {
		return err
	}
	if a.opts.Plumbing != nil {
		return a.opts.Plumbing.Release(ctx, inst, spec)
	}
	return nil
}

// syncPower reports the power state the hypervisor shows (upstream's
// _sync_power_states).
func (a *Agent) syncPower(ctx context.Context, inst compute.AgentInstance) {
	st, err := a.opts.Driver.State(ctx, a.Spec(inst))
	if err != nil && !errors.Is(err, virt.ErrNotFound) {
		return
	}
	if err := a.opts.Controller.ReportInstance(ctx, compute.AgentReport{Host: a.opts.Host, UUID: inst.UUID, PowerState: int(st)}); err != nil && ctx.Err() == nil {
		a.opts.Log.Warn("report power state", "instance", inst.UUID, "error", err)
	}
}

// ConsoleOutput is the guest's serial console, for the API's os-getConsoleOutput.
func (a *Agent) ConsoleOutput(ctx context.Context, uuid string, lines int) (string, error) {
	return a.opts.Driver.ConsoleOutput(ctx, virt.Spec{UUID: uuid, Dir: filepath.Join(a.opts.InstancesDir, uuid)}, lines)
}

func errNoAgent(host string) error {
	return fmt.Errorf("no compute agent for host %s in this process", host)
}
