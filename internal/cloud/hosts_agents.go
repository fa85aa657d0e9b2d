package cloud

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/config"
)

// HostAgents runs the agents of a layout's compute hosts as child processes of
// nimbus up: `nimbus serve --role compute` with the cloud's join.toml, exactly
// as on another machine. Each is its own process so that a test (or an
// operator trying a failure) can kill -9 one host's agent alone; one that
// dies is not started again until Restart (SIGHUP to nimbus up), so that a
// killed host stays down, as a crashed machine would, until someone acts.
type HostAgents struct {
	layout  *HostsLayout
	cfg     config.Config
	exe     string
	log     *slog.Logger
	mu      sync.Mutex
	running map[string]*exec.Cmd // by host name
	wg      sync.WaitGroup
}

// NewHostAgents prepares the agents of layout's hosts; exe is the nimbus binary.
func NewHostAgents(cfg config.Config, layout *HostsLayout, exe string, log *slog.Logger) *HostAgents {
	return &HostAgents{layout: layout, cfg: cfg, exe: exe, log: log, running: map[string]*exec.Cmd{}}
}

// Start starts every host's agent that is not running and waits for each to say
// it is ready; the layout is saved with their PIDs.
func (a *HostAgents) Start(ctx context.Context) error {
	var errs []error
	for i := range a.layout.Hosts {
		if err := a.start(ctx, &a.layout.Hosts[i]); err != nil {
			errs = append(errs, err)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.layout.Save(a.cfg.DataDir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (a *HostAgents) start(ctx context.Context, h *ComputeHost) error {
	a.mu.Lock()
	if a.running[h.Name] != nil {
		a.mu.Unlock()
		return nil
	}
	a.mu.Unlock()
	if err := os.MkdirAll(h.DataDir, 0o700); err != nil {
		return fmt.Errorf("compute host %s: %w", h.Name, err)
	}
	logPath := filepath.Join(h.DataDir, "nimbus.log")
	logFile, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("compute host %s: %w", h.Name, err)
	}
	cmd := exec.Command(a.exe, "serve", "--role", "compute", "--config", filepath.Join(a.cfg.DataDir, "join.toml"),
		"--data-dir", h.DataDir)
	cmd.Env = append(os.Environ(), a.layout.AgentEnv(a.cfg, *h)...)
	cmd.Stderr = logFile
	// A kill -9 of nimbus up takes its hosts' agents with it (their guests
	// stay, as a restarted agent adopts them); its own process group keeps a
	// Ctrl-C in up's terminal from reaching them before up stops them in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return err
	}
	if err := startOnSpawner(cmd); err != nil {
		logFile.Close()
		return fmt.Errorf("compute host %s: start its agent: %w", h.Name, err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.OnceFunc(func() { close(ready) })
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "nimbus node ready") {
				once()
			}
		}
	}()
	exited := make(chan error, 1)
	a.mu.Lock()
	a.running[h.Name] = cmd
	h.PID = cmd.Process.Pid
	a.mu.Unlock()
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		err := cmd.Wait()
		logFile.Close()
		a.mu.Lock()
		delete(a.running, h.Name)
		h.PID = 0
		// up-state.json shows a dead agent (PID 0) to whoever looks.
		if err := a.layout.Save(a.cfg.DataDir); err != nil {
			a.log.Warn("save compute hosts", "error", err)
		}
		a.mu.Unlock()
		a.log.Warn("compute host's agent exited", "host", h.Name, "status", err, "log", logPath)
		exited <- err
	}()
	a.log.Info("compute host's agent started", "host", h.Name, "pid", cmd.Process.Pid, "namespace", h.Namespace,
		"local_ip", h.Address, "log", logPath)
	select {
	case <-ready:
		return nil
	case err := <-exited:
		return fmt.Errorf("compute host %s: its agent exited before ready (%v); see %s", h.Name, err, logPath)
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("compute host %s: its agent not ready after 2 minutes; see %s", h.Name, logPath)
	}
}

// Restart starts again the agents that are not running (nimbus up's SIGHUP).
func (a *HostAgents) Restart(ctx context.Context) {
	if err := a.Start(ctx); err != nil {
		a.log.Error("restart compute hosts' agents", "error", err)
	}
}

// Stop stops every agent (SIGTERM, then SIGKILL after 30 s) and waits for them.
func (a *HostAgents) Stop() {
	a.mu.Lock()
	cmds := make([]*exec.Cmd, 0, len(a.running))
	for _, cmd := range a.running {
		cmds = append(cmds, cmd)
	}
	a.mu.Unlock()
	for _, cmd := range cmds {
		_ = cmd.Process.Signal(syscall.SIGTERM)
	}
	done := make(chan struct{})
	go func() {
		a.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		for _, cmd := range cmds {
			_ = cmd.Process.Kill()
		}
		<-done
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.layout.Save(a.cfg.DataDir); err != nil {
		a.log.Warn("save compute hosts", "error", err)
	}
}

// spawnRequests are served by one goroutine locked to its OS thread for good:
// Pdeathsig fires when the thread that forked the child exits, not the
// process, and Go may end a thread another goroutine locked (netns.Do does, when
// it cannot leave a namespace). A thread that never exits kills the agents only
// with nimbus up.
var (
	spawnOnce     sync.Once
	spawnRequests chan spawnRequest
)

type spawnRequest struct {
	cmd  *exec.Cmd
	done chan error
}

func startOnSpawner(cmd *exec.Cmd) error {
	spawnOnce.Do(func() {
		spawnRequests = make(chan spawnRequest)
		go func() {
			runtime.LockOSThread() // never unlocked: see spawnRequests
			for req := range spawnRequests {
				req.done <- req.cmd.Start()
			}
		}()
	})
	req := spawnRequest{cmd: cmd, done: make(chan error, 1)}
	spawnRequests <- req
	return <-req.done
}
