package qemu

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// quitTimeout is how long a QEMU told to quit gets before SIGKILL.
const quitTimeout = 5 * time.Second

// PowerOff presses the guest's ACPI power button and waits up to timeout for the
// guest to power itself off (QEMU then exits); after that, or at once when timeout
// is not positive, it is forced off. The directory, disks and console log stay.
func (d *Driver) PowerOff(ctx context.Context, s virt.Spec, timeout time.Duration) error {
	defer d.lock(s.UUID)()
	if err := d.powerOff(ctx, s, timeout); err != nil {
		return fmt.Errorf("power off %s: %w", s.UUID, err)
	}
	return nil
}

func (d *Driver) powerOff(ctx context.Context, s virt.Spec, timeout time.Duration) error {
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil || pid == 0 {
		return err
	}
	status, err := queryStatus(ctx, s.Dir)
	// A paused guest cannot handle the button: waiting for it would only
	// spend the timeout, so it is forced off at once.
	if err == nil && status == "running" && timeout > 0 {
		if d.pressPowerButton(ctx, s, pid, timeout) {
			d.log.Info("guest powered off", "uuid", s.UUID)
			return nil
		}
		if err := ctx.Err(); err != nil {
			// The caller gave up (an agent shutting down): that is no reason
			// to pull the plug on a guest that is shutting down cleanly.
			return err
		}
		d.log.Info("guest did not power off in time: forcing", "uuid", s.UUID, "timeout", timeout)
	}
	return d.forceOff(ctx, s, pid)
}

// powerButtonRetry is how often the ACPI power button is pressed again while a
// guest has not powered off, as upstream's libvirt driver's clean shutdown
// (SHUTDOWN_RETRY_INTERVAL): a press the guest missed, because it came while
// the guest was still booting and had no handler yet, is not waited out.
const powerButtonRetry = 10 * time.Second

// pressPowerButton presses the guest's ACPI power button every powerButtonRetry
// until QEMU exits or timeout passes, and says whether it exited.
func (d *Driver) pressPowerButton(ctx context.Context, s virt.Spec, pid int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 || ctx.Err() != nil {
			return false
		}
		if err := qmp(ctx, filepath.Join(s.Dir, qmpSocket), "system_powerdown", nil, nil); err != nil {
			if !isGuest(pid, s.UUID) { // it went between two presses
				return true
			}
			d.log.Warn("ACPI power button failed", "uuid", s.UUID, "error", err)
			return false
		}
		if waitExit(ctx, pid, s.UUID, min(left, powerButtonRetry)) {
			return true
		}
	}
}

// forceOff ends QEMU without asking the guest, as pulling the plug.
func (d *Driver) forceOff(ctx context.Context, s virt.Spec, pid int) error {
	if err := d.quit(ctx, s, pid); err != nil {
		return err
	}
	d.log.Info("guest forced off", "uuid", s.UUID)
	return nil
}

// quit ends QEMU: QMP quit (QEMU flushes its disks and exits), then SIGKILL when it
// does not go.
func (d *Driver) quit(ctx context.Context, s virt.Spec, pid int) error {
	if err := qmp(ctx, filepath.Join(s.Dir, qmpSocket), "quit", nil, nil); err != nil {
		d.log.Debug("QMP quit failed", "uuid", s.UUID, "error", err)
	}
	if waitExit(ctx, pid, s.UUID, quitTimeout) {
		return nil
	}
	d.log.Warn("QEMU did not quit: killing it", "uuid", s.UUID, "pid", pid)
	return kill(ctx, pid, s.UUID)
}

// PowerOn starts a powered-off guest (from its saved state when suspended).
func (d *Driver) PowerOn(ctx context.Context, s virt.Spec) error {
	defer d.lock(s.UUID)()
	if err := d.start(ctx, s); err != nil {
		return fmt.Errorf("power on %s: %w", s.UUID, err)
	}
	return nil
}

// Reboot restarts the guest. Hard resets the machine (system_reset) and leaves it
// running; soft is upstream's clean reboot: an ACPI power-off (forced after
// timeout) and a new start, so the guest gets a fresh QEMU either way.
func (d *Driver) Reboot(ctx context.Context, s virt.Spec, hard bool, timeout time.Duration) error {
	defer d.lock(s.UUID)()
	if err := d.reboot(ctx, s, hard, timeout); err != nil {
		return fmt.Errorf("reboot %s: %w", s.UUID, err)
	}
	d.log.Info("guest rebooted", "uuid", s.UUID, "hard", hard)
	return nil
}

func (d *Driver) reboot(ctx context.Context, s virt.Spec, hard bool, timeout time.Duration) error {
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return err
	}
	if pid == 0 {
		return d.start(ctx, s)
	}
	if !hard {
		if err := d.powerOff(ctx, s, timeout); err != nil {
			return err
		}
		return d.start(ctx, s)
	}
	sock := filepath.Join(s.Dir, qmpSocket)
	if err := qmp(ctx, sock, "system_reset", nil, nil); err != nil {
		return err
	}
	// Upstream's hard reboot ends with a running guest, also from paused.
	return qmp(ctx, sock, "cont", nil, nil)
}

// Pause stops the guest's vCPUs (QMP stop); QEMU and its memory stay.
func (d *Driver) Pause(ctx context.Context, s virt.Spec) error {
	defer d.lock(s.UUID)()
	return d.running(ctx, s, "pause", "stop")
}

// Unpause resumes the vCPUs (QMP cont).
func (d *Driver) Unpause(ctx context.Context, s virt.Spec) error {
	defer d.lock(s.UUID)()
	return d.running(ctx, s, "unpause", "cont")
}

// running runs a QMP command that needs the guest's QEMU. Both stop and cont are
// idempotent in QEMU, so the actions using it are too.
func (d *Driver) running(ctx context.Context, s virt.Spec, action, command string) error {
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return fmt.Errorf("%s %s: %w", action, s.UUID, err)
	}
	if pid == 0 {
		if !exists(s.Dir) {
			return fmt.Errorf("%s %s: %w", action, s.UUID, virt.ErrNotFound)
		}
		return fmt.Errorf("%s %s: %w", action, s.UUID, ErrNotRunning)
	}
	if err := qmp(ctx, filepath.Join(s.Dir, qmpSocket), command, nil, nil); err != nil {
		return fmt.Errorf("%s %s: %w", action, s.UUID, err)
	}
	d.log.Info("guest "+action+"d", "uuid", s.UUID)
	return nil
}
