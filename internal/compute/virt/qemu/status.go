package qemu

import (
	"context"
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
