// Package unixsock reaches unix sockets whose path is longer than sockaddr_un
// allows. sun_path holds 107 bytes and a NUL, but an instance directory under a
// deep data dir (a test's temp dir, /var/lib/nimbus/<long>/instances/<uuid>) can
// be longer: bind and connect then fail with EINVAL, which says nothing of why.
// Such a socket is named through /proc/self/fd/N/<name>, N a descriptor of its
// directory: the kernel resolves that magic link, so the path the syscall sees
// stays short and the socket still lives where it should.
package unixsock

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// MaxPath is the longest path sockaddr_un.sun_path holds (108 bytes with the NUL).
const MaxPath = 107

// Fits reports whether path can be given to bind or connect as it is.
func Fits(path string) bool { return len(path) <= MaxPath }

// Dial connects to the unix socket at path, however long the path.
func Dial(ctx context.Context, d *net.Dialer, path string) (net.Conn, error) {
	if d == nil {
		d = &net.Dialer{}
	}
	if Fits(path) {
		return d.DialContext(ctx, "unix", path)
	}
	dir, err := OpenDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	conn, err := d.DialContext(ctx, "unix", fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path)))
	if err != nil {
		return nil, fmt.Errorf("dial unix %s: %w", path, err)
	}
	return conn, nil
}

// OpenDir opens dir as a path-only descriptor, for a /proc/self/fd/N/<name> name
// (here or, passed down, in a child process).
func OpenDir(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return os.NewFile(uintptr(fd), dir), nil
}

// Listen listens on the unix socket at path, however long the path.
func Listen(path string) (net.Listener, error) {
	if Fits(path) {
		return net.Listen("unix", path)
	}
	dir, err := OpenDir(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	l, err := net.Listen("unix", fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path)))
	if err != nil {
		return nil, fmt.Errorf("listen unix %s: %w", path, err)
	}
	return l, nil
}
