// Package qemu is the compute agent's real hypervisor driver: it runs each guest as
// a detached qemu-system-x86_64 process and controls it over QMP, doing directly
// what upstream Nova's libvirt driver has libvirt do. Everything the driver knows
// about a guest is on disk in the instance's directory (pid file, QMP socket,
// instance.json, saved state), so a new Driver — after an agent restart — finds
// and controls the guests an earlier one started.
package qemu

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

var _ virt.Driver = (*Driver)(nil)

// ErrNotRunning is returned for an action that needs a running QEMU (pause,
// suspend) on a guest that has none, as upstream's InstanceNotRunning.
var ErrNotRunning = errors.New("qemu: instance is not running")

// Options configures a Driver.
type Options struct {
	// InstancesDir holds every instance's Dir; List scans it.
	InstancesDir string
	// HostNamespace is the network namespace the guests' taps live in; QEMU runs
	// inside it (ip netns exec), since a tap opens only from its own namespace.
	// Empty is the agent's own namespace.
	HostNamespace string
	// Binary is the QEMU to run; qemu-system-x86_64 when empty.
	Binary string
	// Logger gets the driver's logs (slog.Default() when nil).
	Logger *slog.Logger
}

// Driver runs guests under QEMU on this host. It holds no guest state of its own,
// only per-instance locks so two actions on one guest do not interleave.
type Driver struct {
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	locks map[string]*sync.Mutex

	accelOnce sync.Once
	autoAccel string

	versionMu sync.Mutex
	version   int
}

// New checks opts and makes the instances directory.
func New(opts Options) (*Driver, error) {
	if opts.InstancesDir == "" || !filepath.IsAbs(opts.InstancesDir) {
		return nil, fmt.Errorf("qemu driver: instances dir %q is not an absolute path", opts.InstancesDir)
	}
	if opts.Binary == "" {
		opts.Binary = "qemu-system-x86_64"
	}
	if _, err := exec.LookPath(opts.Binary); err != nil {
		return nil, fmt.Errorf("qemu driver: %w", err)
	}
	if opts.HostNamespace != "" {
		if _, err := exec.LookPath("ip"); err != nil {
			return nil, fmt.Errorf("qemu driver: host namespace %s: %w", opts.HostNamespace, err)
		}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.InstancesDir, 0o755); err != nil {
		return nil, fmt.Errorf("qemu driver: %w", err)
	}
	return &Driver{opts: opts, log: opts.Logger.With("driver", "qemu"), locks: map[string]*sync.Mutex{}}, nil
}

// lock serialises the actions on one instance. The locks are never freed: one small
// mutex per instance this agent ever handled.
func (d *Driver) lock(uuid string) func() {
	d.mu.Lock()
	l := d.locks[uuid]
	if l == nil {
		l = &sync.Mutex{}
		d.locks[uuid] = l
	}
	d.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Spawn starts the guest; a running one is left alone, and one with saved state
// (suspended) starts from it, as libvirt's start of a domain with a managed save.
func (d *Driver) Spawn(ctx context.Context, s virt.Spec) error {
	defer d.lock(s.UUID)()
	if err := d.start(ctx, s); err != nil {
		return fmt.Errorf("spawn %s: %w", s.UUID, err)
	}
	return nil
}

// start boots the guest unless it runs, restoring saved state when there is some.
// A QEMU that runs next to saved state is a restore an agent crash cut short: it
// is finished rather than left paused.
func (d *Driver) start(ctx context.Context, s virt.Spec) error {
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return err
	}
	hasState := exists(filepath.Join(s.Dir, stateFile))
	switch {
	case pid != 0 && hasState:
		return d.finishRestore(ctx, s, pid)
	case pid != 0:
		return nil
	case hasState:
		return d.restore(ctx, s)
	}
	return d.boot(ctx, s, "")
}

// boot starts QEMU for s, loading the saved state at incoming when set.
func (d *Driver) boot(ctx context.Context, s virt.Spec, incoming string) error {
	if err := d.checkDir(s); err != nil {
		return err
	}
	accel, err := resolveAccel(s.Accelerator, d.hostKVM)
	if err != nil {
		return err
	}
	args, err := buildArgs(launch{spec: s, accel: accel, incoming: incoming})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return err
	}
	if err := writeInstanceDoc(s); err != nil {
		return err
	}
	if err := writeVolumeKeys(s); err != nil {
		return err
	}
	// Leftovers of a QEMU that was killed: a stale pid file would name someone
	// else's pid once QEMU fails to start.
	for _, name := range []string{pidFile, qmpSocket, vncSocket} {
		if err := os.Remove(filepath.Join(s.Dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := d.startQEMU(ctx, s.Dir, args); err != nil {
		return err
	}
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return err
	}
	if pid == 0 {
		return fmt.Errorf("qemu exited right after starting: %s", tail(readFrom(filepath.Join(s.Dir, runLog), 0), 10))
	}
	d.log.Info("guest started", "uuid", s.UUID, "name", s.Name, "pid", pid, "accel", accel, "restore", incoming != "")
	return nil
}

// hostKVM probes the host once: its answer does not change while the agent runs.
func (d *Driver) hostKVM() bool {
	d.accelOnce.Do(func() {
		d.autoAccel = "tcg"
		if hostKVMUsable() {
			d.autoAccel = "kvm"
		}
		d.log.Info("accelerator for auto", "accel", d.autoAccel)
	})
	return d.autoAccel == "kvm"
}

// checkDir refuses an instance directory outside InstancesDir: List would not find
// the guest there, and Destroy must never remove anything else.
func (d *Driver) checkDir(s virt.Spec) error {
	rel, err := filepath.Rel(d.opts.InstancesDir, s.Dir)
	if err != nil || !filepath.IsAbs(s.Dir) || rel != filepath.Base(s.Dir) || rel == "." || rel == ".." {
		return fmt.Errorf("instance dir %q is not a directory of %s", s.Dir, d.opts.InstancesDir)
	}
	return nil
}

// Destroy kills the guest's QEMU and removes its directory.
func (d *Driver) Destroy(ctx context.Context, s virt.Spec) error {
	defer d.lock(s.UUID)()
	if err := d.checkDir(s); err != nil {
		return fmt.Errorf("destroy %s: %w", s.UUID, err)
	}
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return fmt.Errorf("destroy %s: %w", s.UUID, err)
	}
	if pid != 0 {
		if err := kill(ctx, pid, s.UUID); err != nil {
			return fmt.Errorf("destroy %s: %w", s.UUID, err)
		}
	}
	if err := os.RemoveAll(s.Dir); err != nil {
		return fmt.Errorf("destroy %s: %w", s.UUID, err)
	}
	d.log.Info("guest destroyed", "uuid", s.UUID, "pid", pid)
	return nil
}

// VNCSocket is where QEMU's VNC server listens.
func (d *Driver) VNCSocket(s virt.Spec) string { return filepath.Join(s.Dir, vncSocket) }

// exists reports whether path is there (a stat error of any kind counts as not).
func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
