// Package dataplanetest is the test bed the data-plane packages share: testbed's
// simulated hosts and instances as network namespaces with *testing.T (failures
// fail the test, cleanup at the test's end), a runner that records the commands
// that change something, and a fake runner.
package dataplanetest

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/testbed"
)

// RequireHost skips without root or the tools, unless NIMBUS_TEST_REQUIRE_QEMU asks
// for every test to run (as in the guest image tests).
func RequireHost(t *testing.T, tools ...string) {
	t.Helper()
	missing := testbed.Missing(tools...)
	if len(missing) == 0 {
		return
	}
	if os.Getenv("NIMBUS_TEST_REQUIRE_QEMU") != "" {
		t.Fatalf("this machine lacks %s (make deps installs them)", strings.Join(missing, ", "))
	}
	t.Skipf("needs %s", strings.Join(missing, ", "))
}

// Bed is a testbed.Bed that fails the test where the bed cannot do what it is
// asked: a simulated host with the L2 a test builds by hand (bridges, instance
// namespaces plugged by veths named like the instance taps). Everything it made
// goes at cleanup, also on failure.
type Bed struct {
	*testbed.Bed
	t *testing.T
}

// NewBed makes a bed whose names carry tag and the process id.
func NewBed(t *testing.T, tag string) *Bed {
	t.Helper()
	b, err := testbed.New(tag)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return &Bed{Bed: b, t: t}
}

// Netns creates a namespace <prefix>-<name>, removed at cleanup.
func (b *Bed) Netns(name string) string {
	b.t.Helper()
	return b.must(b.Bed.Netns(name))
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

// Try runs a command (in ns unless empty) and returns its output and error.
func (b *Bed) Try(ns string, args ...string) (string, error) { return b.Run(ns, args...) }

// Bridge makes the network's bridge on the simulated host, as the L2 agent would.
func (b *Bed) Bridge(networkID string) {
	b.t.Helper()
	if err := b.Bed.Bridge(networkID); err != nil {
		b.t.Fatal(err)
	}
}

// Plug makes a namespace standing in for the instance of a port, its tap left
// unwired for the L2 agent (testbed.Bed.Plug).
func (b *Bed) Plug(name, portID, mac string) string {
	b.t.Helper()
	return b.must(b.Bed.Plug(name, portID, mac))
}

// PlugOn is Plug into another simulated host, whose namespace is hostNS.
func (b *Bed) PlugOn(hostNS, name, portID, mac string) string {
	b.t.Helper()
	return b.must(b.Bed.PlugOn(hostNS, name, portID, mac))
}

// Instance makes a namespace standing in for an instance of port p on network
// networkID: eth0 with the port's MAC and address, tap<port> on the bridge.
func (b *Bed) Instance(name, networkID string, p dataplane.Port, cidr, gateway string) string {
	b.t.Helper()
	return b.must(b.Bed.Instance(name, networkID, p, cidr, gateway))
}

// Listen serves TCP on addr inside ns and reports each peer's address.
func (b *Bed) Listen(ns, addr string) <-chan string {
	b.t.Helper()
	peers, err := b.Bed.Listen(ns, addr)
	if err != nil {
		b.t.Fatal(err)
	}
	return peers
}

// Dial connects from ns to addr and returns the source address the peer saw
// (through peers), or "" when the connection fails.
func (b *Bed) Dial(ns, addr string, peers <-chan string) string {
	b.t.Helper()
	return b.must(b.Bed.Dial(ns, addr, peers))
}

func (b *Bed) must(s string, err error) string {
	b.t.Helper()
	if err != nil {
		b.t.Fatal(err)
	}
	return s
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
