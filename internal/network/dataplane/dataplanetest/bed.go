// Package dataplanetest is the test bed the data-plane packages share: simulated
// hosts and instances as network namespaces, commands run in them, and a runner that
// records the commands that change something.
package dataplanetest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/platform/netns"
)

// RequireHost skips without root or the tools, unless NIMBUS_TEST_REQUIRE_QEMU asks
// for every test to run (as in the guest image tests).
func RequireHost(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("NIMBUS_TEST_REQUIRE_QEMU") != "" {
		t.Fatalf("this machine lacks %s (make deps installs them)", strings.Join(missing, ", "))
	}
	t.Skipf("needs %s", strings.Join(missing, ", "))
}

// Bed is a simulated host (a namespace playing its root namespace) with the L2 a
// test builds by hand: bridges and instance namespaces plugged by veths named like
// the instance taps. Everything it made goes at cleanup, also on failure.
type Bed struct {
	t      *testing.T
	Prefix string // unique per test and process
	Host   string // the simulated host's namespace
}

// NewBed makes a bed whose names carry tag and the process id.
func NewBed(t *testing.T, tag string) *Bed {
	t.Helper()
	b := &Bed{t: t, Prefix: fmt.Sprintf("n%s%d", tag, os.Getpid())}
	b.Host = b.Netns("host")
	return b
}

// Netns creates a namespace <prefix>-<name>, removed at cleanup.
func (b *Bed) Netns(name string) string {
	b.t.Helper()
	ns := b.Prefix + "-" + name
	_ = exec.Command("ip", "netns", "del", ns).Run()
	b.Sh("", "ip", "netns", "add", ns)
	b.t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	b.Sh(ns, "ip", "link", "set", "lo", "up")
	return ns
}

// Sh runs a command (in ns unless empty) and fails the test on error.
func (b *Bed) Sh(ns string, args ...string) string {
	b.t.Helper()
	out, err := b.Try(ns, args...)
	if err != nil {
		b.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (b *Bed) Try(ns string, args ...string) (string, error) {
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(out), err
}

// Bridge makes the network's bridge on the simulated host, as the L2 agent would.
func (b *Bed) Bridge(networkID string) {
	br := dataplane.BridgeName(networkID)
	b.Sh(b.Host, "ip", "link", "add", br, "type", "bridge")
	b.Sh(b.Host, "ip", "link", "set", br, "up")
}

// Instance makes a namespace standing in for an instance of port p on network
// networkID: eth0 with the port's MAC and address, tap<port> on the bridge.
func (b *Bed) Instance(name, networkID string, p dataplane.Port, cidr, gateway string) string {
	ns := b.Netns(name)
	tap := dataplane.TapName(p.ID)
	b.Sh(b.Host, "ip", "link", "add", tap, "type", "veth", "peer", "name", "eth0", "address", p.MAC, "netns", ns)
	b.Sh(b.Host, "ip", "link", "set", tap, "master", dataplane.BridgeName(networkID), "up")
	b.Sh(ns, "ip", "addr", "add", cidr, "dev", "eth0")
	b.Sh(ns, "ip", "link", "set", "eth0", "up")
	if gateway != "" {
		b.Sh(ns, "ip", "route", "add", "default", "via", gateway)
	}
	return ns
}

// Ping reports whether one echo from ns to ip is answered.
func (b *Bed) Ping(ns, ip string) bool {
	_, err := b.Try(ns, "ping", "-c", "1", "-W", "1", ip)
	return err == nil
}

// EventuallyPing retries for a few seconds (ARP, bridge learning).
func (b *Bed) EventuallyPing(ns, ip string) bool {
	for i := 0; i < 5; i++ {
		if b.Ping(ns, ip) {
			return true
		}
	}
	return false
}

// Listen serves TCP on addr inside ns and reports each peer's address.
func (b *Bed) Listen(ns, addr string) <-chan string {
	b.t.Helper()
	ln, err := netns.Listen(ns, "tcp", addr)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { ln.Close() })
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
	return peers
}

// Dial connects from ns to addr and returns the source address the peer saw
// (through peers), or "" when the connection fails.
func (b *Bed) Dial(ns, addr string, peers <-chan string) string {
	var err error
	var c net.Conn
	dErr := netns.Do(ns, func() error {
		c, err = net.DialTimeout("tcp", addr, 2*time.Second)
		return nil
	})
	if dErr != nil {
		b.t.Fatal(dErr)
	}
	if err != nil {
		return ""
	}
	defer c.Close()
	select {
	case p := <-peers:
		return p
	case <-time.After(2 * time.Second):
		return ""
	}
}

// Recorder runs commands for real and remembers those that change something.
type Recorder struct {
	dataplane.Runner
	// Mutating says which commands change something (the others only look).
	Mutating func(name string, args []string) bool
	mu       sync.Mutex
	changes  []string
}

func (r *Recorder) Run(ctx context.Context, ns, name string, args ...string) ([]byte, error) {
	line := ns + "| " + name + " " + strings.Join(args, " ")
	if r.Mutating(name, args) {
		r.mu.Lock()
		r.changes = append(r.changes, line)
		r.mu.Unlock()
	}
	return r.Runner.Run(ctx, ns, name, args...)
}

// Take returns the changing commands run since the last Take.
func (r *Recorder) Take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.changes
	r.changes = nil
	return c
}

// Mutating is the default judgement for ip, sysctl and nft; other tools count as changes.
func Mutating(name string, args []string) bool {
	s := " " + strings.Join(args, " ") + " "
	switch name {
	case "ip":
		for _, w := range []string{" add ", " del ", " set ", " replace "} {
			if strings.Contains(s, w) {
				return true
			}
		}
		return false
	case "sysctl":
		return strings.Contains(s, " -w ")
	case "nft":
		return !strings.Contains(s, " list ")
	}
	return true
}
