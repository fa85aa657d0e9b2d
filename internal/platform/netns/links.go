package netns

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// WatchLinks names every link that appears or changes in the named namespace ("" is
// the process's own) until ctx ends, from the kernel's rtnetlink link group: an
// agent waiting for a device (the tap of a port) learns of it at once instead of
// polling. Names are dropped, never blocked on, when the receiver falls behind, so
// a watcher is a hint beside a periodic resync, not a log.
func WatchLinks(ctx context.Context, name string) (<-chan string, error) {
	var fd int
	open := func() error {
		var err error
		fd, err = unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
		if err != nil {
			return fmt.Errorf("netlink socket: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_LINK}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind netlink socket to the link group: %w", err)
		}
		return nil
	}
	var err error
	if name == "" {
		err = open()
	} else {
		err = Do(name, open)
	}
	if err != nil {
		return nil, err
	}
	// Through an *os.File the reads park on the runtime's poller, so closing it
	// ends a blocked read.
	sock := os.NewFile(uintptr(fd), "rtnetlink")
	names := make(chan string, 256)
	go func() {
		<-ctx.Done()
		sock.Close()
	}()
	go func() {
		defer close(names)
		buf := make([]byte, 1<<16)
		for {
			n, err := sock.Read(buf)
			if err != nil {
				return // closed, or the socket failed: the resync still converges
			}
			for _, link := range linkNames(buf[:n]) {
				select {
				case names <- link:
				default:
				}
			}
		}
	}()
	return names, nil
}

// linkNames are the IFLA_IFNAME of the RTM_NEWLINK messages in one datagram.
func linkNames(b []byte) []string {
	msgs, err := syscall.ParseNetlinkMessage(b)
	if err != nil {
		return nil
	}
	var names []string
	for i := range msgs {
		if msgs[i].Header.Type != unix.RTM_NEWLINK {
			continue
		}
		attrs, err := syscall.ParseNetlinkRouteAttr(&msgs[i])
		if err != nil {
			continue
		}
		for _, a := range attrs {
			if a.Attr.Type == unix.IFLA_IFNAME {
				names = append(names, string(bytes.TrimRight(a.Value, "\x00")))
			}
		}
	}
	return names
}
