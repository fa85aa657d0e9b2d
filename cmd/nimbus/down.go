package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/nimbus-cloud/nimbus/internal/cloud"
)

// pidFile is where nimbus up writes its PID, in the data directory.
const pidFile = "nimbus.pid"

func downCommand() *cobra.Command {
	var (
		common  commonFlags
		purge   bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the cloud nimbus up runs on a data directory; with --purge remove all it made",
		Long: `Stop the nimbus up of the data directory (the PID in DATA_DIR/nimbus.pid): SIGTERM,
then SIGKILL if it has not stopped within --timeout. Its compute hosts' agents stop
with it; guests keep running, as the next nimbus up adopts them.

With --purge, remove everything the cloud made on this machine, as devstack's
unstack.sh and clean.sh: its guests (QEMU), volume exports and DHCP servers, its
routers' and DHCP namespaces, bridges, VXLAN devices, taps, security-group chains
and sets, the public interface, the compute hosts' namespaces and underlay, and
the data directory. It works also after the cloud was killed with -9, from what
the data directory records and what is on the host; running it again is harmless.`,
		Example: `  nimbus down
  nimbus down --data-dir /tmp/cloud --purge`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := common.load()
			if err != nil {
				return err
			}
			log, closeLog, err := newLogger(cfg)
			if err != nil {
				return err
			}
			defer closeLog()
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if _, err := os.Stat(cfg.DataDir); errors.Is(err, fs.ErrNotExist) {
				fmt.Printf("nimbus down: no cloud in %s\n", cfg.DataDir)
				return nil
			}
			pid, err := stopUp(ctx, cfg.DataDir, timeout)
			if err != nil {
				return err
			}
			if pid > 0 {
				fmt.Printf("nimbus down: stopped nimbus up (pid %d)\n", pid)
			}
			if !purge {
				return nil
			}
			if err := cloud.Purge(ctx, cfg, log); err != nil {
				return err
			}
			fmt.Printf("nimbus down: purged %s\n", cfg.DataDir)
			return nil
		},
	}
	common.register(cmd)
	cmd.Flags().BoolVar(&purge, "purge", false, "also remove the cloud's guests, namespaces, devices, firewall rules and data directory")
	cmd.Flags().DurationVar(&timeout, "timeout", time.Minute, "how long to wait for nimbus up to stop after SIGTERM before SIGKILL")
	return cmd
}

// stopUp stops the nimbus up whose PID the data directory holds, and returns
// that PID (0 when none runs there).
func stopUp(ctx context.Context, dataDir string, timeout time.Duration) (int, error) {
	pid, err := runningUp(dataDir)
	if err != nil || pid == 0 {
		return 0, err
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return 0, nil
		}
		return 0, fmt.Errorf("stop nimbus up (pid %d): %w", pid, err)
	}
	deadline := time.Now().Add(timeout)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			fmt.Fprintf(os.Stderr, "nimbus down: nimbus up (pid %d) still running %v after SIGTERM: SIGKILL\n", pid, timeout)
			_ = syscall.Kill(pid, syscall.SIGKILL)
			deadline = time.Now().Add(timeout)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return pid, nil
}

// runningUp is the PID of the nimbus up running on dataDir, or 0. That up
// holds a lock on its PID file while it runs (the kernel drops it when the
// process dies, also by kill -9), so a PID file left by a dead up, whose PID
// may since name another process, never gets that process signalled.
func runningUp(dataDir string) (int, error) {
	path := filepath.Join(dataDir, pidFile)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open pid file: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		return 0, nil // nobody holds it: no up runs there
	} else if !errors.Is(err, syscall.EWOULDBLOCK) {
		return 0, fmt.Errorf("lock pid file: %w", err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read pid file: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, fmt.Errorf("pid file %s: %q is no PID", path, data)
	}
	return pid, nil
}

// processAlive says whether pid runs (a zombie does not).
func processAlive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// writePIDFile records this nimbus up in the data directory and holds the
// file's lock until the returned function runs, refusing when another up holds it.
func writePIDFile(dataDir string) (func(), error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	path := filepath.Join(dataDir, pidFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open pid file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			data, _ := os.ReadFile(path)
			return nil, fmt.Errorf("nimbus up already runs on %s (pid %s): nimbus down stops it", dataDir, strings.TrimSpace(string(data)))
		}
		return nil, fmt.Errorf("lock pid file: %w", err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write pid file: %w", err)
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("write pid file: %w", err)
	}
	return func() {
		_ = os.Remove(path)
		_ = f.Close()
	}, nil
}
