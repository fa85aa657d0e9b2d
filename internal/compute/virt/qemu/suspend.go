package qemu

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// saveBandwidth lifts QEMU's migration bandwidth cap (tens of MiB/s by default, made
// for live migration over a shared network) for a save to a local file, as
// libvirt's managed save does.
const saveBandwidth = 8 << 30

// Suspend saves the guest to <dir>/state and ends its QEMU, as upstream's suspend
// (libvirt managed save): stop the vCPUs, migrate the machine into a file, quit.
// The state is written aside and renamed into place only once complete, so a crash
// midway never leaves a partial state to resume from.
func (d *Driver) Suspend(ctx context.Context, s virt.Spec) error {
	defer d.lock(s.UUID)()
	if err := d.suspend(ctx, s); err != nil {
		return fmt.Errorf("suspend %s: %w", s.UUID, err)
	}
	return nil
}

func (d *Driver) suspend(ctx context.Context, s virt.Spec) error {
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return err
	}
	state := filepath.Join(s.Dir, stateFile)
	if pid == 0 {
		switch {
		case exists(state):
			return nil // suspended already
		case exists(s.Dir):
			return ErrNotRunning
		}
		return virt.ErrNotFound
	}
	sock := filepath.Join(s.Dir, qmpSocket)
	status, err := queryStatus(ctx, s.Dir)
	if err != nil {
		return err
	}
	if err := qmp(ctx, sock, "stop", nil, nil); err != nil {
		return err
	}
	tmp := filepath.Join(s.Dir, stateTmp)
	if err := d.save(ctx, sock, tmp); err != nil {
		os.Remove(tmp)
		if status == "running" {
			// Leave the guest as it was rather than paused by a failed save,
			// also when the failure is the caller's cancelled context.
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), qmpTimeout)
			defer cancel()
			if cerr := qmp(cctx, sock, "cont", nil, nil); cerr != nil {
				d.log.Warn("suspend failed and the guest stays paused", "uuid", s.UUID, "error", cerr)
			}
		}
		return err
	}
	if err := os.Rename(tmp, state); err != nil {
		return err
	}
	if err := d.quit(ctx, s, pid); err != nil {
		return err
	}
	d.log.Info("guest suspended", "uuid", s.UUID, "state", state)
	return nil
}

// saveFD is the name the state file's descriptor has in QEMU's monitor.
const saveFD = "nimbus-save"

// save migrates the stopped guest into the file tmp and waits for it to complete.
//
// QEMU writes to the file itself, through a descriptor passed over the monitor
// (getfd, then migrate to fd:), as libvirt's managed save does. Not through
// exec:cat > FILE: when the migration ends QEMU closes the pipe and at once
// SIGTERMs a cat that has not exited yet (io/channel-command.c), which can cut off
// the tail of the state while cat still writes it.
func (d *Driver) save(ctx context.Context, sock, tmp string) error {
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := qmp(ctx, sock, "migrate-set-parameters", map[string]any{"max-bandwidth": saveBandwidth}, nil); err != nil {
		return err
	}
	if err := startSave(ctx, sock, f); err != nil {
		return err
	}
	for {
		var info struct {
			Status    string `json:"status"`
			ErrorDesc string `json:"error-desc"`
		}
		if err := qmp(ctx, sock, "query-migrate", nil, &info); err != nil {
			return err
		}
		switch info.Status {
		case "completed":
			// The state file is the guest's only copy of its memory once
			// QEMU quits.
			return f.Sync()
		case "failed", "cancelled":
			return fmt.Errorf("saving the guest %s: %s", info.Status, info.ErrorDesc)
		}
		select {
		case <-ctx.Done():
			qmp(context.WithoutCancel(ctx), sock, "migrate_cancel", nil, nil) // bounded by qmpTimeout
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startSave hands f to QEMU and starts the migration into it, in one session:
// QEMU keeps a passed descriptor on its monitor until migrate takes it.
func startSave(ctx context.Context, sock string, f *os.File) error {
	c, err := dialQMP(ctx, sock)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.executeFile(ctx, "getfd", map[string]any{"fdname": saveFD}, nil, f); err != nil {
		return err
	}
	if err := c.execute(ctx, "migrate", map[string]any{"uri": "fd:" + saveFD}, nil); err != nil {
		c.execute(ctx, "closefd", map[string]any{"fdname": saveFD}, nil)
		return err
	}
	return nil
}

// Resume starts the guest again from its saved state and deletes the state once
// the guest runs. A guest whose QEMU runs is left alone.
func (d *Driver) Resume(ctx context.Context, s virt.Spec) error {
	defer d.lock(s.UUID)()
	if err := d.resume(ctx, s); err != nil {
		return fmt.Errorf("resume %s: %w", s.UUID, err)
	}
	return nil
}

func (d *Driver) resume(ctx context.Context, s virt.Spec) error {
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return err
	}
	if pid == 0 && !exists(filepath.Join(s.Dir, stateFile)) {
		if exists(s.Dir) {
			return fmt.Errorf("no saved state: %w", ErrNotRunning)
		}
		return virt.ErrNotFound
	}
	return d.start(ctx, s)
}

// restore starts QEMU loading the saved state and runs the guest.
func (d *Driver) restore(ctx context.Context, s virt.Spec) error {
	if err := d.boot(ctx, s, filepath.Join(s.Dir, stateFile)); err != nil {
		return err
	}
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return err
	}
	return d.finishRestore(ctx, s, pid)
}

// finishRestore waits for the incoming migration to load, resumes the vCPUs and
// only then deletes the state: until the guest runs, it is the only copy.
func (d *Driver) finishRestore(ctx context.Context, s virt.Spec, pid int) error {
	for {
		status, err := queryStatus(ctx, s.Dir)
		if err != nil {
			if !isGuest(pid, s.UUID) {
				// QEMU ends when the incoming state does not load.
				return fmt.Errorf("qemu exited while loading the saved state: %s", tail(readFrom(filepath.Join(s.Dir, runLog), 0), 10))
			}
			return err
		}
		if status != "inmigrate" {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := qmp(ctx, filepath.Join(s.Dir, qmpSocket), "cont", nil, nil); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(s.Dir, stateFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	d.log.Info("guest resumed", "uuid", s.UUID, "pid", pid)
	return nil
}
