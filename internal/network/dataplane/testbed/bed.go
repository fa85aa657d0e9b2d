// Package testbed builds simulated hosts and instances as network namespaces, for
// the data-plane tests (through dataplanetest, which adds *testing.T) and for
// `nimbus bench network --dataplane`: a namespace playing a host's root namespace,
// instance namespaces plugged into it by veths named like the compute agent's
// taps, commands run in them, DHCP leases and pings. Everything a bed makes is
// undone by Close, so neither a failed test nor an interrupted bench leaves
// namespaces, devices or processes behind.
package testbed

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/platform/netns"
)

// Missing lists what this process lacks of root and the given tools, so a caller
// can say at once why a bed cannot be built here.
func Missing(tools ...string) []string {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	return missing
}

// Bed is a simulated host (a namespace playing its root namespace) and what is
// built around it. It is safe for concurrent use.
type Bed struct {
	Prefix string // unique per bed and process: n<tag><pid>
	Host   string // the simulated host's namespace

	mu   sync.Mutex
	undo []func() // run last first by Close
}

// New makes a bed whose names carry tag and the process id, with its host namespace.
func New(tag string) (*Bed, error) {
	b := &Bed{Prefix: fmt.Sprintf("n%s%d", tag, os.Getpid())}
	host, err := b.Netns("host")
	if err != nil {
		b.Close()
		return nil, err
	}
	b.Host = host
	return b, nil
}

// Defer registers f to run at Close, before what was registered earlier.
func (b *Bed) Defer(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.undo = append(b.undo, f)
}

// Close undoes everything the bed made, last first. Later calls do nothing.
func (b *Bed) Close() {
	b.mu.Lock()
	undo := b.undo
	b.undo = nil
	b.mu.Unlock()
	for i := len(undo) - 1; i >= 0; i-- {
		undo[i]()
	}
}

// Netns creates a namespace <prefix>-<name> with lo up, removed at Close. A
// namespace of that name left by an earlier process of the same PID is replaced.
func (b *Bed) Netns(name string) (string, error) {
	ns := b.Prefix + "-" + name
	_ = exec.Command("ip", "netns", "del", ns).Run()
	if out, err := b.Run("", "ip", "netns", "add", ns); err != nil {
		return "", fmt.Errorf("ip netns add %s: %v: %s", ns, err, out)
	}
	b.Defer(func() { RemoveNetns(ns) })
	if out, err := b.Run(ns, "ip", "link", "set", "lo", "up"); err != nil {
		return "", fmt.Errorf("lo up in %s: %v: %s", ns, err, out)
	}
	return ns, nil
}

// RemoveNetns deletes a namespace (and the veths whose ends are in it); a
// namespace that is gone already is no error.
func RemoveNetns(ns string) {
	_ = exec.Command("ip", "netns", "del", ns).Run()
}

// Run runs a command (in ns unless empty) and returns its combined output.
func (b *Bed) Run(ns string, args ...string) (string, error) {
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(out), err
}

// sh runs several commands, stopping at the first that fails.
func (b *Bed) sh(cmds ...[]string) error {
	for _, c := range cmds {
		ns, args := c[0], c[1:]
		if out, err := b.Run(ns, args...); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(out))
		}
	}
	return nil
}

// Bridge makes the network's bridge on the simulated host, as the L2 agent would.
func (b *Bed) Bridge(networkID string) error {
	br := dataplane.BridgeName(networkID)
	return b.sh([]string{b.Host, "ip", "link", "add", br, "type", "bridge"}, []string{b.Host, "ip", "link", "set", br, "up"})
}

// Plug makes a namespace standing in for the instance of a port: eth0 with the
// port's MAC, whose veth peer tap<port[:11]> is left in the host namespace (down,
// on no bridge) for the L2 agent to wire, as the compute agent's tap would be. The
// instance has no address until it leases one.
func (b *Bed) Plug(name, portID, mac string) (string, error) {
	return b.PlugOn(b.Host, name, portID, mac)
}

// PlugOn is Plug into another simulated host, whose namespace is hostNS.
func (b *Bed) PlugOn(hostNS, name, portID, mac string) (string, error) {
	ns, err := b.Netns(name)
	if err != nil {
		return "", err
	}
	return ns, b.sh([]string{hostNS, "ip", "link", "add", dataplane.TapName(portID), "type", "veth", "peer", "name", "eth0",
		"address", mac, "netns", ns})
}

// Instance plugs an instance of port p and wires it by hand, for tests that build
// the L2 themselves: the tap on the network's bridge, eth0 with a static address
// (cidr) and, unless empty, a default route via gateway.
func (b *Bed) Instance(name, networkID string, p dataplane.Port, cidr, gateway string) (string, error) {
	ns, err := b.Plug(name, p.ID, p.MAC)
	if err != nil {
		return "", err
	}
	cmds := [][]string{
		{b.Host, "ip", "link", "set", dataplane.TapName(p.ID), "master", dataplane.BridgeName(networkID), "up"},
		{ns, "ip", "addr", "add", cidr, "dev", "eth0"},
		{ns, "ip", "link", "set", "eth0", "up"},
	}
	if gateway != "" {
		cmds = append(cmds, []string{ns, "ip", "route", "add", "default", "via", gateway})
	}
	return ns, b.sh(cmds...)
}

// Ping reports whether one echo from ns to ip is answered within a second.
func (b *Bed) Ping(ns, ip string) bool {
	_, err := b.Run(ns, "ping", "-c", "1", "-W", "1", ip)
	return err == nil
}

// EventuallyPing retries for a few seconds (ARP, bridge learning).
func (b *Bed) EventuallyPing(ns, ip string) bool {
	for range 5 {
		if b.Ping(ns, ip) {
			return true
		}
	}
	return false
}

// Listen serves TCP on addr inside ns and reports each peer's address; the
// listener is closed at Close.
func (b *Bed) Listen(ns, addr string) (<-chan string, error) {
	ln, err := netns.Listen(ns, "tcp", addr)
	if err != nil {
		return nil, err
	}
	b.Defer(func() { ln.Close() })
	peers := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			peers <- host
			c.Close()
		}
	}()
	return peers, nil
}

// Dial connects from ns to addr and returns the source address the peer saw
// (through peers), or "" when the connection fails. The error is about entering
// the namespace, not about the connection.
func (b *Bed) Dial(ns, addr string, peers <-chan string) (string, error) {
	var err error
	var c net.Conn
	if dErr := netns.Do(ns, func() error {
		c, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return nil
	}); dErr != nil {
		return "", dErr
	}
	if err != nil {
		return "", nil
	}
	defer c.Close()
	select {
	case p := <-peers:
		return p, nil
	case <-time.After(2 * time.Second):
		return "", nil
	}
}
