package linuxbridge

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
)

// bed makes the namespaces of one test: simulated hosts (namespaces playing a
// host's root namespace) and instances (namespaces whose eth0 is the peer of a veth
// named like the instance's tap). Every namespace it made goes at cleanup, also on
// failure, and with them every device inside.
type bed struct {
	t      *testing.T
	prefix string // unique per test and process
}

func newBed(t *testing.T, tag string) *bed {
	t.Helper()
	dataplanetest.RequireHost(t, "ip", "bridge", "ping")
	return &bed{t: t, prefix: fmt.Sprintf("nlb%s%d", tag, os.Getpid())}
}

// netns creates a namespace <prefix>-<name> with lo up, removed at cleanup.
func (b *bed) netns(name string) string {
	b.t.Helper()
	ns := b.prefix + "-" + name
	_ = exec.Command("ip", "netns", "del", ns).Run()
	b.sh("", "ip", "netns", "add", ns)
	b.t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	b.sh(ns, "ip", "link", "set", "lo", "up")
	return ns
}

// wire joins two simulated hosts with a veth "physical" link, devA in a and devB
// in b, with the addresses given (CIDR; "" for none).
func (b *bed) wire(a, devA, addrA, bNS, devB, addrB string) {
	b.t.Helper()
	b.sh(a, "ip", "link", "add", devA, "type", "veth", "peer", "name", devB, "netns", bNS)
	for _, s := range []struct{ ns, dev, addr string }{{a, devA, addrA}, {bNS, devB, addrB}} {
		if s.addr != "" {
			b.sh(s.ns, "ip", "addr", "add", s.addr, "dev", s.dev)
		}
		b.sh(s.ns, "ip", "link", "set", s.dev, "up")
	}
}

// instance makes a namespace standing in for the instance of port p on host:
// eth0 with the port's MAC (and address, unless ""), its peer tap<port> left in
// the host namespace for the agent to plug, as the compute agent's tap would be.
func (b *bed) instance(name, host string, p dataplane.Port, cidr string) string {
	b.t.Helper()
	ns := b.netns(name)
	b.sh(host, "ip", "link", "add", dataplane.TapName(p.ID), "type", "veth", "peer", "name", "eth0", "address", p.MAC, "netns", ns)
	if cidr != "" {
		b.sh(ns, "ip", "addr", "add", cidr, "dev", "eth0")
	}
	b.sh(ns, "ip", "link", "set", "eth0", "up")
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

// ping reports whether ns reaches ip (a few tries: ARP, bridge learning).
func (b *bed) ping(ns, ip string) bool {
	for range 3 {
		if _, err := b.try(ns, "ping", "-c", "1", "-W", "1", ip); err == nil {
			return true
		}
	}
	return false
}

// id returns a fresh UUID-shaped ID (device names use its first 11 characters).
func id() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func mac() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", b[0], b[1], b[2])
}

func port(ips ...string) dataplane.Port {
	p := dataplane.Port{ID: id(), MAC: mac(), AdminStateUp: true, DeviceOwner: "compute:nova"}
	for _, ip := range ips {
		p.FixedIPs = append(p.FixedIPs, dataplane.FixedIP{IP: mustAddr(ip)})
	}
	return p
}

func mutating(name string, args []string) bool {
	if len(args) > 0 && (args[0] == "-j" || args[0] == "-d") {
		return false
	}
	s := " " + strings.Join(args, " ") + " "
	for _, w := range []string{" add ", " del ", " set ", " replace ", " append "} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return name != "ip" && name != "bridge"
}

// snapshot is what the host shows of its L2: links in detail, FDB, neighbours.
func (b *bed) snapshot(ns string) string {
	b.t.Helper()
	s := b.sh(ns, "ip", "-d", "link", "show") + b.sh(ns, "bridge", "fdb", "show") + b.sh(ns, "ip", "neigh", "show", "nud", "permanent")
	return timers.ReplaceAllString(s, "")
}

// timers are the bridge's running timers in `ip -d link`, which change by themselves.
var timers = regexp.MustCompile(`\S*_timer\s+\S+`)
