package qemu

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/unixsock"
)

// guestPID is the pid of the QEMU running the instance in dir, or 0 when there is
// none. The pid file alone proves nothing (QEMU may have died and the pid been
// reused), so the process's command line must be a QEMU carrying the instance's
// uuid before the driver signals or talks to it.
func guestPID(dir, uuid string) (int, error) {
	if !filepath.IsAbs(dir) {
		return 0, nil // no directory given: nothing runs there
	}
	data, err := os.ReadFile(filepath.Join(dir, pidFile))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		// QEMU writes the file at start; an empty one is a QEMU that died while
		// starting, or one being written right now: either way not a running guest.
		return 0, nil
	}
	if !isGuest(pid, uuid) {
		return 0, nil
	}
	return pid, nil
}

// isGuest reports whether pid is a live QEMU whose command line carries -uuid uuid.
// A zombie has an empty cmdline, so a QEMU that exited but was not reaped yet
// counts as gone.
func isGuest(pid int, uuid string) bool {
	args := processArgs(pid)
	if len(args) == 0 || !strings.HasPrefix(filepath.Base(args[0]), "qemu-system") {
		return false
	}
	return argValue(args, "-uuid") == uuid
}

// processArgs is /proc/<pid>/cmdline split at NULs (nil when gone).
func processArgs(pid int) []string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(data) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(data), "\x00"), "\x00")
}

// argValue is the argument after flag in args ("" when absent).
func argValue(args []string, flag string) string {
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			return args[i+1]
		}
	}
	return ""
}

// waitExit polls until the guest's process is gone, for at most timeout. QEMU is
// not our child (it daemonized), so there is no wait(2): the pid is watched instead.
func waitExit(ctx context.Context, pid int, uuid string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if !isGuest(pid, uuid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		select {
		case <-ctx.Done():
			return !isGuest(pid, uuid)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kill sends SIGKILL to the guest's QEMU and waits for it to go.
func kill(ctx context.Context, pid int, uuid string) error {
	if !isGuest(pid, uuid) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill qemu %d: %w", pid, err)
	}
	if !waitExit(ctx, pid, uuid, 10*time.Second) {
		return fmt.Errorf("qemu %d still there after SIGKILL", pid)
	}
	return nil
}

// startQEMU runs QEMU with args, in the host namespace ns when set (a tap can only be
// opened from its own namespace). With -daemonize, the command returns once the
// guest is set up (sockets listening, pid file written) and the daemon lives on. Its
// stderr goes to the instance dir's qemuLog (appended), which also keeps the reason
// of a failed start.
func (d *Driver) startQEMU(ctx context.Context, dir string, args []string) error {
	logPath := filepath.Join(dir, qemuLog)
	argv := append([]string{d.opts.Binary}, args...)
	if d.opts.HostNamespace != "" {
		argv = append([]string{"ip", "netns", "exec", d.opts.HostNamespace}, argv...)
	}
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("qemu log: %w", err)
	}
	defer logFile.Close()
	start, _ := logFile.Seek(0, 2)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	// An *os.File, not a pipe: the daemon inherits the descriptor, and a pipe would
	// make Run wait for it to close.
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so a signal to the agent's group (a ^C) cannot reach
	// QEMU before it has daemonized.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if socketsNeedDirFD(dir) {
		f, err := unixsock.OpenDir(dir)
		if err != nil {
			return err
		}
		defer f.Close()
		cmd.ExtraFiles = []*os.File{f} // fd 3 (dirFD) in QEMU
	}
	d.log.Debug("run", "cmd", strings.Join(argv, " "))
	if err := cmd.Run(); err != nil {
		msg := readFrom(logPath, start)
		d.log.Warn("qemu failed to start", "cmd", strings.Join(argv, " "), "error", err, "stderr", msg)
		return fmt.Errorf("start qemu: %w: %s", err, msg)
	}
	return nil
}

// readFrom is the text of path from offset on, trimmed (for error messages).
func readFrom(path string, offset int64) string {
	data, err := os.ReadFile(path)
	if err != nil || offset > int64(len(data)) {
		return ""
	}
	return string(bytes.TrimSpace(data[offset:]))
}
