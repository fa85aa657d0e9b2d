// Package netns runs work inside named network namespaces (those `ip netns add`
// creates under /run/netns): listening sockets bound there are how Nimbus serves
// the metadata API to guests of an isolated network without a process per network.
package netns

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// Dir is where iproute2 keeps the handles of named namespaces.
const Dir = "/run/netns"

// Listen opens a listener inside the named namespace. The socket stays in that
// namespace for its whole life while the rest of the process stays where it is.
func Listen(name, network, address string) (net.Listener, error) {
	var ln net.Listener
	err := Do(name, func() error {
		var err error
		ln, err = net.Listen(network, address)
		return err
	})
	return ln, err
}

// Do runs fn on an OS thread switched into the named namespace, then switches the
// thread back. fn must not start goroutines that expect to be in the namespace.
func Do(name string, fn func() error) error {
	target, err := os.Open(filepath.Join(Dir, name))
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", name, err)
	}
	defer target.Close()
	runtime.LockOSThread()
	origin, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("current network namespace: %w", err)
	}
	defer origin.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace %s: %w", name, err)
	}
	fnErr := fn()
	if err := unix.Setns(int(origin.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread is stuck in the namespace: keep it locked so the runtime
		// destroys it instead of running other goroutines there.
		return fmt.Errorf("leave network namespace %s: %w", name, err)
	}
	runtime.UnlockOSThread()
	return fnErr
}
