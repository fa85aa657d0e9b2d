package qemu

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// Snapshot writes the guest's root disk as it is now (the overlay and its
// backing image, flattened) to dst as qcow2. A running guest is paused for the
// copy (QMP stop, which drains and flushes its disks, then cont): a consistent
// point, as upstream's libvirt driver gets by quiescing or a cold snapshot.
// dst is written through a temporary name, so a copy cut short is never taken
// for a whole one.
func (d *Driver) Snapshot(ctx context.Context, s virt.Spec, dst string) error {
	if s.RootDisk == "" {
		return errors.New("snapshot: the guest has no local root disk")
	}
	defer d.lock(s.UUID)()
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return fmt.Errorf("snapshot %s: %w", s.UUID, err)
	}
	if pid != 0 {
		status, err := queryStatus(ctx, s.Dir)
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", s.UUID, err)
		}
		if powerState(status) == virt.Running {
			sock := filepath.Join(s.Dir, qmpSocket)
			if err := qmp(ctx, sock, "stop", nil, nil); err != nil {
				return fmt.Errorf("snapshot %s: pause: %w", s.UUID, err)
			}
			defer func() {
				// A fresh context: the guest runs again even when ctx ended.
				if err := qmp(context.Background(), sock, "cont", nil, nil); err != nil {
					d.log.Warn("resume the guest after its snapshot", "uuid", s.UUID, "error", err)
				}
			}()
		}
	}
	tmp := dst + ".tmp"
	// -U: QEMU holds the image's lock while it runs (paused, its writes are
	// flushed and stopped).
	out, err := exec.CommandContext(ctx, "qemu-img", "convert", "-U", "-f", "qcow2", "-O", "qcow2", s.RootDisk, tmp).CombinedOutput()
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("snapshot %s: qemu-img convert: %v: %s", s.UUID, err, out)
	}
	return os.Rename(tmp, dst)
}
