package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/nimbus-cloud/nimbus/internal/platform/fsutil"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/netns"
	"github.com/nimbus-cloud/nimbus/internal/platform/unixsock"
)

// Files of a volume's state directory.
const (
	pidFile     = "qsd.pid"
	qmpSocket   = "qmp.sock"
	portFile    = "port"
	logFile     = "qsd.log"
	keysDir     = "psk" // keys.psk inside: the identities allowed to connect
	exportsFile = "exports.json"
)

// volumeNode is the daemon's node name of the volume's qcow2 layer.
const volumeNode = "vol0"

// The descriptors the daemon is started with: the NBD server's listening
// socket (bound by the backend, so the port is chosen without a race and kept
// across restarts) and the state directory, through which its QMP socket is
// named however long the pool's path.
const (
	listenFD = 3
	dirFD    = 4
)

// daemonPID is the pid of the volume's running qemu-storage-daemon, or 0. The
// pid file alone proves nothing (the pid may have been reused after a kill -9),
// so the process's command line must be a qemu-storage-daemon writing that pid
// file.
func (b *Backend) daemonPID(volumeID string) int {
	path := filepath.Join(b.stateDir(volumeID), pidFile)
	return pidOf(path, "qemu-storage-daemon")
}

// pidOf reads a pid file and returns its pid when that process is a live
// binary (by base name) with the pid file on its command line.
func pidOf(pidPath, binary string) int {
	data, err := os.ReadFile(pidPath)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(cmdline) == 0 { // gone, or a zombie
		return 0
	}
	args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
	if filepath.Base(args[0]) != binary {
		return 0
	}
	for _, a := range args {
		if a == pidPath {
			return pid
		}
	}
	return 0
}

func (b *Backend) daemonRunning(volumeID string) bool { return b.daemonPID(volumeID) != 0 }

// startDaemon starts the volume's qemu-storage-daemon unless it runs: the
// volume's qcow2 opened writable, the NBD server on the volume's port with
// TLS-PSK (the keys file lists the attachments' identities; gnutls reads it at
// every handshake, so keys come and go without a restart), and a QMP monitor.
// It starts with no export: the caller adds them.
func (b *Backend) startDaemon(ctx context.Context, volumeID string) error {
	if b.daemonRunning(volumeID) {
		return nil
	}
	dir := b.stateDir(volumeID)
	if err := os.MkdirAll(filepath.Join(dir, keysDir), 0o700); err != nil {
		return err
	}
	keys := filepath.Join(dir, keysDir, "keys.psk")
	if _, err := os.Stat(keys); errors.Is(err, fs.ErrNotExist) {
		if err := fsutil.WriteFileAtomic(keys, nil, 0o600); err != nil {
			return err
		}
	}
	path := b.volumePath(volumeID)
	if ok, err := backend.PathExists(path); err != nil || !ok {
		return fmt.Errorf("volume %s: no file to export", volumeID)
	}
	listener, err := b.listen(dir)
	if err != nil {
		return err
	}
	defer listener.Close()
	lf, err := listener.(*net.TCPListener).File()
	if err != nil {
		return err
	}
	defer lf.Close()
	df, err := unixsock.OpenDir(dir)
	if err != nil {
		return err
	}
	defer df.Close()
	os.Remove(filepath.Join(dir, qmpSocket))

	tls, _ := json.Marshal(map[string]any{"qom-type": "tls-creds-psk", "id": "tls0", "endpoint": "server", "dir": filepath.Join(dir, keysDir)})
	qcow2, _ := json.Marshal(map[string]any{"driver": "qcow2", "file": "file0", "node-name": volumeNode})
	nbdServer := fmt.Sprintf("addr.type=fd,addr.str=%d,tls-creds=tls0", listenFD)
	if b.plainNBD {
		nbdServer = fmt.Sprintf("addr.type=fd,addr.str=%d", listenFD)
	}
	args := func(direct bool) []string {
		file, _ := json.Marshal(fileNode(path, direct))
		return []string{
			"--daemonize", "--pidfile", filepath.Join(dir, pidFile),
			"--object", string(tls),
			"--blockdev", string(file),
			"--blockdev", string(qcow2),
			"--nbd-server", nbdServer,
			"--chardev", fmt.Sprintf("socket,id=qmp0,path=/proc/self/fd/%d/%s,server=on,wait=off", dirFD, qmpSocket),
			"--monitor", "chardev=qmp0",
		}
	}
	direct := !b.opts.PageCache
	err = b.startDetached(ctx, dir, b.opts.StorageDaemon, args(direct), lf, df)
	if err != nil && direct {
		// A file system without O_DIRECT (EINVAL at open: tmpfs before
		// Linux 6.6) or a QEMU without Linux AIO: serve through the page
		// cache instead. Any other failure fails again, with its reason.
		b.log.Warn("qemu-storage-daemon: O_DIRECT with aio=native refused, serving through the page cache", "volume", volumeID, "error", err)
		err = b.startDetached(ctx, dir, b.opts.StorageDaemon, args(false), lf, df)
	}
	return err
}

// fileNode is the daemon's file node of the volume. direct: O_DIRECT with
// Linux AIO (cache.direct=on, aio=native), what Nova gives a volume
// (cache=none, io=native): through the export each request's data is copied
// once less (no page cache between the disk and the daemon's buffer), and no
// thread pool stands between the daemon's coroutines and the kernel (on this
// 2-core machine 1 MiB reads moved 1.5-2x faster; docs/PERFORMANCE.md).
// Otherwise the host's page cache with the thread pool, as QEMU's defaults.
// The guest's own cache mode decides its flushes either way: they reach the
// daemon as NBD flushes and the file as fdatasync.
func fileNode(path string, direct bool) map[string]any {
	n := map[string]any{"driver": "file", "filename": path, "node-name": "file0", "aio": "threads"}
	if direct {
		n["aio"] = "native"
		n["cache"] = map[string]any{"direct": true}
	}
	return n
}

// startDetached runs a daemonizing binary (qemu-storage-daemon --daemonize,
// qemu-nbd --fork) with extra descriptors 3, 4, ...: it returns once the daemon
// is set up. Its output is appended to the state directory's log, which also
// keeps the reason of a failed start.
func (b *Backend) startDetached(ctx context.Context, dir, binary string, args []string, files ...*os.File) error {
	logPath := filepath.Join(dir, logFile)
	log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	start, _ := log.Seek(0, 2)
	cmd := exec.CommandContext(ctx, binary, args...)
	if b.opts.Namespace != "" {
		// In the host's namespace: a local client of an export connects
		// from there (the daemons that serve get their socket bound there).
		cmd = exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", b.opts.Namespace, binary}, args...)...)
	}
	// A file, not a pipe: the daemon inherits it, and a pipe would make Run wait.
	cmd.Stdout, cmd.Stderr = log, log
	cmd.ExtraFiles = files
	// Its own process group: a ^C to the volume service must not reach it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	b.log.Debug("run", "cmd", binary+" "+strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		data, _ := os.ReadFile(logPath)
		msg := ""
		if start <= int64(len(data)) {
			msg = string(bytes.TrimSpace(data[start:]))
		}
		b.log.Warn("daemon failed to start", "cmd", binary, "error", err, "output", msg)
		return fmt.Errorf("start %s: %w: %s", filepath.Base(binary), err, msg)
	}
	return nil
}

// listen binds the volume's NBD port: the one it had (guests reconnect there),
// else a free one of the range (or the kernel's pick), remembered in the state
// directory.
func (b *Backend) listen(dir string) (net.Listener, error) {
	host := b.opts.Host
	if data, err := os.ReadFile(filepath.Join(dir, portFile)); err == nil {
		if port, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && port > 0 {
			// The previous daemon's socket may linger a moment after a kill.
			var l net.Listener
			for range 50 {
				if l, err = b.listenNoDelay(net.JoinHostPort(host, strconv.Itoa(port))); err == nil {
					return l, nil
				}
				time.Sleep(100 * time.Millisecond)
			}
			return nil, fmt.Errorf("file backend: NBD port %d: %w", port, err)
		}
	}
	var (
		l   net.Listener
		err error
	)
	if b.opts.PortMin == 0 {
		l, err = b.listenNoDelay(net.JoinHostPort(host, "0"))
	} else {
		err = errors.New("no free port in the range")
		for p := b.opts.PortMin; p <= b.opts.PortMax; p++ {
			if b.portTaken(p) {
				continue
			}
			if l, err = b.listenNoDelay(net.JoinHostPort(host, strconv.Itoa(p))); err == nil {
				break
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("file backend: NBD listen: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, portFile), []byte(strconv.Itoa(port)+"\n"), 0o600); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// listenNoDelay listens on addr with TCP_NODELAY set on the listening socket:
// Linux gives it to every accepted connection, and QEMU 7.2's NBD server does
// not set it itself (it does from 8.1, "nbd/server: Request TCP_NODELAY"), so
// without it Nagle's algorithm holds each small reply for the client's
// delayed ACK: 4 KiB requests ran at ~400/s instead of ~10,000/s.
func (b *Backend) listenNoDelay(addr string) (net.Listener, error) {
	if b.opts.Namespace == "" {
		return listenNoDelay(addr)
	}
	var l net.Listener
	err := netns.Do(b.opts.Namespace, func() (err error) {
		l, err = listenNoDelay(addr)
		return err
	})
	return l, err
}

func listenNoDelay(addr string) (net.Listener, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		})
		return errors.Join(err, serr)
	}}
	return lc.Listen(context.Background(), "tcp", addr)
}

// portTaken reports whether another volume of the pool keeps port p (its
// daemon may be down for a moment, and its guests will come back to it).
func (b *Backend) portTaken(p int) bool {
	entries, _ := os.ReadDir(b.exportsDir())
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(b.exportsDir(), e.Name(), portFile))
		if err == nil && strings.TrimSpace(string(data)) == strconv.Itoa(p) {
			return true
		}
	}
	return false
}

// port is the volume's NBD port (0 when it has none yet).
func (b *Backend) port(volumeID string) int {
	data, err := os.ReadFile(filepath.Join(b.stateDir(volumeID), portFile))
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return p
}

// stopDaemon ends the volume's daemon: quit over QMP (which flushes the image),
// SIGKILL if it does not go.
func (b *Backend) stopDaemon(ctx context.Context, volumeID string) error {
	pid := b.daemonPID(volumeID)
	if pid == 0 {
		return nil
	}
	if err := b.qmp(ctx, volumeID, "quit", nil, nil); err != nil {
		b.log.Warn("qemu-storage-daemon quit", "volume", volumeID, "error", err)
	}
	for range 100 {
		if b.daemonPID(volumeID) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	syscall.Kill(pid, syscall.SIGKILL)
	for range 100 {
		if b.daemonPID(volumeID) == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("qemu-storage-daemon %d of volume %s does not exit", pid, volumeID)
}

// qmpTimeout bounds a QMP conversation when the context has no deadline.
const qmpTimeout = 30 * time.Second

// QMPError is an error reply of the daemon's monitor.
type QMPError struct {
	Command string `json:"-"`
	Class   string `json:"class"`
	Desc    string `json:"desc"`
}

func (e *QMPError) Error() string { return fmt.Sprintf("QMP %s: %s: %s", e.Command, e.Class, e.Desc) }

// qmp runs one command on the volume's daemon in a session of its own (the
// monitor serves one client at a time: none is held open between operations)
// and decodes its return into result (nil to ignore it).
func (b *Backend) qmp(ctx context.Context, volumeID, command string, args, result any) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, qmpTimeout)
		defer cancel()
	}
	conn, err := unixsock.Dial(ctx, nil, filepath.Join(b.stateDir(volumeID), qmpSocket))
	if err != nil {
		return fmt.Errorf("QMP of volume %s: %w", volumeID, err)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	conn.SetDeadline(dl)
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	r := bufio.NewReader(conn)
	if _, err := r.ReadBytes('\n'); err != nil { // the greeting
		return fmt.Errorf("QMP greeting: %w", err)
	}
	if err := qmpExecute(conn, r, "qmp_capabilities", nil, nil); err != nil {
		return err
	}
	return qmpExecute(conn, r, command, args, result)
}

func qmpExecute(conn net.Conn, r *bufio.Reader, command string, args, result any) error {
	req, err := json.Marshal(struct {
		Execute   string `json:"execute"`
		Arguments any    `json:"arguments,omitempty"`
	}{command, args})
	if err != nil {
		return err
	}
	if _, err := conn.Write(append(req, '\n')); err != nil {
		return fmt.Errorf("QMP %s: %w", command, err)
	}
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			if command == "quit" {
				return nil // it quit before answering
			}
			return fmt.Errorf("QMP %s: %w", command, err)
		}
		var reply struct {
			Return json.RawMessage `json:"return"`
			Error  *QMPError       `json:"error"`
		}
		if err := json.Unmarshal(line, &reply); err != nil {
			return fmt.Errorf("QMP %s: bad reply: %w", command, err)
		}
		if reply.Error != nil {
			reply.Error.Command = command
			return reply.Error
		}
		if reply.Return == nil {
			continue // an event
		}
		if result != nil {
			return json.Unmarshal(reply.Return, result)
		}
		return nil
	}
}
