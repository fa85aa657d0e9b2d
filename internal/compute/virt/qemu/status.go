package qemu

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// queryStatus is QEMU's run state (query-status "status") of the guest in dir.
func queryStatus(ctx context.Context, dir string) (string, error) {
	var reply struct {
		Status string `json:"status"`
	}
	if err := qmp(ctx, filepath.Join(dir, qmpSocket), "query-status", nil, &reply); err != nil {
		return "", err
	}
	return reply.Status, nil
}

// powerState maps QEMU's RunState to upstream's power state, as libvirt does:
// every state where the vCPUs are stopped but the process lives is paused.
func powerState(status string) virt.PowerState {
	switch status {
	case "running":
		return virt.Running
	case "guest-panicked", "internal-error":
		return virt.Crashed
	case "shutdown":
		return virt.Shutdown
	case "":
		return virt.NoState
	}
	// paused, prelaunch, inmigrate, postmigrate, finish-migrate, save-vm,
	// restore-vm, suspended (guest S3), io-error, watchdog, debug, colo.
	return virt.Paused
}

// State is the guest's power state.
func (d *Driver) State(ctx context.Context, s virt.Spec) (virt.PowerState, error) {
	st, err := d.state(ctx, s.Dir, s.UUID)
	if err != nil {
		return st, fmt.Errorf("state of %s: %w", s.UUID, err)
	}
	return st, nil
}

// state asks a running QEMU (query-status); without one the files tell: saved state
// is Suspended, a directory alone is Shutdown.
func (d *Driver) state(ctx context.Context, dir, uuid string) (virt.PowerState, error) {
	pid, err := guestPID(dir, uuid)
	if err != nil {
		return virt.NoState, err
	}
	if pid != 0 {
		status, err := queryStatus(ctx, dir)
		if err == nil {
			return powerState(status), nil
		}
		if isGuest(pid, uuid) {
			return virt.NoState, err
		}
		// QEMU exited while we asked: fall through to what it left on disk.
	}
	if exists(filepath.Join(dir, stateFile)) {
		return virt.Suspended, nil
	}
	if dir != "" && exists(dir) {
		return virt.Shutdown, nil
	}
	return virt.NoState, virt.ErrNotFound
}
