package firewall

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

// requireHost skips without root or the tools, unless NIMBUS_TEST_REQUIRE_QEMU asks
// for every test to run (as in the guest image tests).
func requireHost(t *testing.T, tools ...string) {
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

// bed is a simulated host (a namespace playing its root namespace) with the L2 a
// test builds by hand: bridges and instance namespaces plugged by veths named like
// the instance taps. Everything it made goes at cleanup, also on failure.
type bed struct {
	t      *testing.T
	prefix string // unique per test and process
	host   string // the simulated host's namespace
	nss    []string
}

func newBed(t *testing.T, tag string) *bed {
	t.Helper()
	b := &bed{t: t, prefix: fmt.Sprintf("n%s%d", tag, os.Getpid())}
	b.host = b.netns("host")
	return b
}

// netns creates a namespace <prefix>-<name>, removed at cleanup.
func (b *bed) netns(name string) string {
	b.t.Helper()
	ns := b.prefix + "-" + name
	_ = exec.Command("ip", "netns", "del", ns).Run()
	b.sh("", "ip", "netns", "add", ns)
	b.t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	b.sh(ns, "ip", "link", "set", "lo", "up")
	return ns
}

// sh runs a command (in ns unless empty) and fails the test on error.
func (b *bed) sh(ns string, args ...string) string {
	b.t.Helper()
	out, err := b.try(ns, args...)
	if err != nil {
		b.t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (b *bed) try(ns string, args ...string) (string, error) {
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(out), err
}

// bridge makes the network's bridge on the simulated host, as the L2 agent would.
func (b *bed) bridge(networkID string) {
	br := dataplane.BridgeName(networkID)
	b.sh(b.host, "ip", "link", "add", br, "type", "bridge")
	b.sh(b.host, "ip", "link", "set", br, "up")
}

// instance makes a namespace standing in for an instance of port p on network
// networkID: eth0 with the port's MAC and address, tap<port> on the bridge.
func (b *bed) instance(name, networkID string, p dataplane.Port, cidr, gateway string) string {
	ns := b.netns(name)
	tap := dataplane.TapName(p.ID)
	b.sh(b.host, "ip", "link", "add", tap, "type", "veth", "peer", "name", "eth0", "address", p.MAC, "netns", ns)
	b.sh(b.host, "ip", "link", "set", tap, "master", dataplane.BridgeName(networkID), "up")
	b.sh(ns, "ip", "addr", "add", cidr, "dev", "eth0")
	b.sh(ns, "ip", "link", "set", "eth0", "up")
	if gateway != "" {
		b.sh(ns, "ip", "route", "add", "default", "via", gateway)
	}
	return ns
}

// ping reports whether one echo from ns to ip is answered.
func (b *bed) ping(ns, ip string) bool {
	_, err := b.try(ns, "ping", "-c", "1", "-W", "1", ip)
	return err == nil
}

// eventuallyPing retries for a few seconds (ARP, bridge learning).
func (b *bed) eventuallyPing(ns, ip string) bool {
	for i := 0; i < 5; i++ {
		if b.ping(ns, ip) {
			return true
		}
	}
	return false
}

// listen serves TCP on addr inside ns and reports each peer's address.
func (b *bed) listen(ns, addr string) <-chan string {
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

// dial connects from ns to addr and returns the source address the peer saw
// (through peers), or "" when the connection fails.
func (b *bed) dial(ns, addr string, peers <-chan string) string {
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

// recorder runs commands for real and remembers those that change something.
type recorder struct {
	dataplane.Runner
	mu      sync.Mutex
	changes []string
}

func (r *recorder) Run(ctx context.Context, ns, name string, args ...string) ([]byte, error) {
	line := ns + "| " + name + " " + strings.Join(args, " ")
	if mutating(name, args) {
		r.mu.Lock()
		r.changes = append(r.changes, line)
		r.mu.Unlock()
	}
	return r.Runner.Run(ctx, ns, name, args...)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.changes
	r.changes = nil
	return c
}

func mutating(name string, args []string) bool {
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
	case "iptables-save", "ip6tables-save":
		return false
	case "nft":
		return !strings.Contains(s, " list ")
	case "ipset":
		return !strings.Contains(s, " save ")
	}
	return true
}
