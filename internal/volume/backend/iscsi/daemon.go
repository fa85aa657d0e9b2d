package iscsi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/nimbus-cloud/nimbus/internal/platform/fsutil"
	"hash/fnv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/netns"
)

// Files of the daemon's directory.
const (
	pidFile         = "tgtd.pid"
	controlPortFile = "control_port"
	portalPortFile  = "portal_port"
	daemonLog       = "tgtd.log"
)

// tgtIPCDir is where tgtd puts its control socket and its lock
// (socket.N, socket.N.lock; fixed in tgt's source).
const tgtIPCDir = "/var/run/tgtd"

// daemonProcess is a tgtd this process started: reaped when it ends.
type daemonProcess struct {
	pid  int
	done chan struct{}
}

// readInt reads a number the daemon's directory keeps (0 when absent).
func (b *Backend) readInt(name string) int {
	data, err := os.ReadFile(filepath.Join(b.daemonDir(), name))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return n
}

func (b *Backend) writeInt(name string, n int) error {
	return fsutil.WriteFileAtomic(filepath.Join(b.daemonDir(), name), []byte(strconv.Itoa(n)+"\n"), 0o600)
}

// controlPort is the tgtd management port the backend uses now.
func (b *Backend) controlPort() int {
	if b.opts.ControlPort != 0 {
		return b.opts.ControlPort
	}
	return b.readInt(controlPortFile)
}

// portalPort is the portal's port the backend uses now.
func (b *Backend) portalPort() int {
	if b.opts.Port != 0 {
		return b.opts.Port
	}
	return b.readInt(portalPortFile)
}

// portal is target_portal: address:port.
func (b *Backend) portal() string {
	return net.JoinHostPort(b.opts.Host, strconv.Itoa(b.portalPort()))
}

// daemonPID is the pid of the backend's running tgtd, or 0. The pid file alone
// proves nothing (a pid is reused after a kill -9): the process must be a
// tgtd with the backend's control port on its command line.
func (b *Backend) daemonPID() int {
	data, err := os.ReadFile(filepath.Join(b.daemonDir(), pidFile))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	if isTGTD(pid, b.controlPort()) {
		return pid
	}
	return 0
}

// isTGTD reports whether pid is a live tgtd started with control port cp.
func isTGTD(pid, cp int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(cmdline) == 0 { // gone, or a zombie
		return false
	}
	args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	if filepath.Base(args[0]) != "tgtd" {
		return false
	}
	for i := 1; i < len(args); i++ {
		if args[i-1] == "-C" && args[i] == strconv.Itoa(cp) {
			return true
		}
	}
	return false
}

// controlPortFree reports whether no tgtd holds control port cp: tgtd holds
// an flock on socket.N.lock for its life, so a lock this process can take
// is one nobody holds.
func controlPortFree(cp int) bool {
	f, err := os.OpenFile(filepath.Join(tgtIPCDir, fmt.Sprintf("socket.%d.lock", cp)), os.O_RDONLY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return true
}

// Control ports are picked in [controlPortBase, controlPortBase+controlPorts)
// (tgtd takes up to 32767),
// starting at a hash of the pool's path: clouds with different pools start
// apart, and a port a live tgtd holds is skipped.
const (
	controlPortBase = 1000
	controlPorts    = 31000
)

// pickControlPort chooses a free control port, skipping avoid (one tgtd
// just failed to lock).
func (b *Backend) pickControlPort(avoid int) (int, error) {
	h := fnv.New32a()
	h.Write([]byte(b.opts.Pool))
	start := int(h.Sum32() % controlPorts)
	for i := range 1000 {
		cp := controlPortBase + (start+i)%controlPorts
		if cp != avoid && controlPortFree(cp) {
			return cp, nil
		}
	}
	return 0, errors.New("iscsi backend: no free tgtd control port")
}

// pickPortalPort lets the kernel choose a free port on the portal's address
// (in the namespace): tgtd binds it a moment later.
func (b *Backend) pickPortalPort() (int, error) {
	var port int
	listen := func() error {
		l, err := net.Listen("tcp", net.JoinHostPort(b.opts.Host, "0"))
		if err != nil {
			return err
		}
		port = l.Addr().(*net.TCPAddr).Port
		return l.Close()
	}
	var err error
	if b.opts.Namespace == "" {
		err = listen()
	} else {
		err = netns.Do(b.opts.Namespace, listen)
	}
	if err != nil {
		return 0, fmt.Errorf("iscsi backend: portal port: %w", err)
	}
	return port, nil
}

// ensureDaemon starts tgtd unless it runs, on the control port and portal it
// had; the caller holds b.tgt. It returns whether it started one (its
// configuration is empty then).
func (b *Backend) ensureDaemon(ctx context.Context) (bool, error) {
	if b.daemonPID() != 0 {
		return false, nil
	}
	if b.portalPort() == 0 {
		port, err := b.pickPortalPort()
		if err != nil {
			return false, err
		}
		if err := b.writeInt(portalPortFile, port); err != nil {
			return false, err
		}
	}
	var errs []error
	for range 3 {
		cp := b.controlPort()
		if cp == 0 || (b.opts.ControlPort == 0 && !controlPortFree(cp)) {
			var err error
			if cp, err = b.pickControlPort(cp); err != nil {
				return false, err
			}
			if err := b.writeInt(controlPortFile, cp); err != nil {
				return false, err
			}
		}
		err := b.startDaemon(ctx, cp)
		if err == nil {
			return true, nil
		}
		errs = append(errs, err)
		if b.opts.ControlPort != 0 {
			break
		}
		// Another cloud's tgtd took the port between the check and the
		// start: pick again.
		os.Remove(filepath.Join(b.daemonDir(), controlPortFile))
	}
	return false, errors.Join(errs...)
}

// startDaemon runs tgtd in the foreground as a child in its own process
// group (a ^C to the service must not stop the guests' storage), reaped by a
// goroutine, and waits until its control socket answers.
func (b *Backend) startDaemon(ctx context.Context, cp int) error {
	logPath := filepath.Join(b.daemonDir(), daemonLog)
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	start, _ := log.Seek(0, 2)
	args := []string{"-f", "-C", strconv.Itoa(cp), "--iscsi", "portal=" + b.portal()}
	// Not CommandContext: tgtd outlives the request that started it.
	cmd := exec.Command(b.opts.TGTD, args...)
	if b.opts.Namespace != "" {
		cmd = exec.Command("ip", append([]string{"netns", "exec", b.opts.Namespace, b.opts.TGTD}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.log.Info("starting tgtd", "args", strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start tgtd: %w", err)
	}
	p := &daemonProcess{pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	b.daemon = p
	if err := fsutil.WriteFileAtomic(filepath.Join(b.daemonDir(), pidFile), []byte(strconv.Itoa(p.pid)+"\n"), 0o600); err != nil {
		syscall.Kill(p.pid, syscall.SIGKILL)
		return err
	}
	for {
		select {
		case <-p.done:
			data, _ := os.ReadFile(logPath)
			msg := ""
			if start <= int64(len(data)) {
				msg = string(bytes.TrimSpace(data[start:]))
			}
			return fmt.Errorf("tgtd exited at start: %s", lastLines(msg, 3))
		case <-ctx.Done():
			syscall.Kill(p.pid, syscall.SIGKILL)
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if _, err := b.tgtadmPort(ctx, cp, "--mode", "sys", "--op", "show"); err == nil && isTGTD(p.pid, cp) {
			return nil
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "; ")
}

// tgtadm runs one tgtadm command against the backend's tgtd and returns its
// output; a failure's error carries what tgtadm said.
func (b *Backend) tgtadm(ctx context.Context, args ...string) (string, error) {
	return b.tgtadmPort(ctx, b.controlPort(), args...)
}

func (b *Backend) tgtadmPort(ctx context.Context, cp int, args ...string) (string, error) {
	full := append([]string{"-C", strconv.Itoa(cp)}, args...)
	cmd := exec.CommandContext(ctx, b.opts.TGTAdm, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	b.log.Debug("run", "cmd", b.opts.TGTAdm+" "+redact(full))
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("tgtadm %s: %w: %s", redact(args), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// redact hides a CHAP password in a logged command line.
func redact(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = a
		if i > 0 && args[i-1] == "--password" {
			out[i] = "***"
		}
	}
	return strings.Join(out, " ")
}
