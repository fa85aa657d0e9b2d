package dhcp

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
	"github.com/nimbus-cloud/nimbus/internal/platform/netns"
)

// bed makes the namespaces of one test: a simulated host (a namespace playing the
// host's root namespace) and instances (namespaces whose eth0 is the peer of a
// veth named like the instance's tap). Everything goes at cleanup, also on failure:
// the DHCP clients, the namespaces (with their devices), the data directory.
type bed struct {
	t      *testing.T
	prefix string // unique per test and process
	dir    string // scratch files (data directory, client files)
}

func newBed(t *testing.T, tag string) *bed {
	t.Helper()
	dataplanetest.RequireHost(t, "ip", "bridge", "ping", "dnsmasq", "dhclient")
	b := &bed{t: t, prefix: fmt.Sprintf("ndh%s%d", tag, os.Getpid())}
	// dnsmasq drops its privileges and re-reads its files on SIGHUP: the data
	// directory must be searchable by others (t.TempDir makes 0700 directories).
	b.dir = t.TempDir()
	for d := b.dir; d != filepath.Dir(d) && strings.HasPrefix(d, os.TempDir()) && d != os.TempDir(); d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	return b
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

// instance makes a namespace standing in for the instance of port p on host: eth0
// with the port's MAC, its peer tap<port> left in the host namespace for the L2
// agent to plug, as the compute agent's tap would be.
func (b *bed) instance(name, host string, p dataplane.Port) string {
	b.t.Helper()
	ns := b.netns(name)
	b.sh(host, "ip", "link", "add", dataplane.TapName(p.ID), "type", "veth", "peer", "name", "eth0", "address", p.MAC, "netns", ns)
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

// lease takes a lease on the instance's eth0 (dataplanetest.Lease).
func (b *bed) lease(ns string) map[string]string {
	b.t.Helper()
	return dataplanetest.Lease(b.t, b.dir, ns)
}

// resolve asks the DNS server at server (from inside ns) for name's A record and
// returns the address, or "" without an answer. A hand-made query: the Go resolver
// would send it from goroutines outside the namespace.
func (b *bed) resolve(ns, server, name string) string {
	b.t.Helper()
	var q bytes.Buffer
	_ = binary.Write(&q, binary.BigEndian, [6]uint16{0x1234, 0x0100, 1, 0, 0, 0})
	for _, label := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		q.WriteByte(byte(len(label)))
		q.WriteString(label)
	}
	q.Write([]byte{0, 0, 1, 0, 1})
	var reply []byte
	err := netns.Do(ns, func() error {
		c, err := net.Dial("udp", net.JoinHostPort(server, "53"))
		if err != nil {
			return err
		}
		defer c.Close()
		for range 3 {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			if _, err := c.Write(q.Bytes()); err != nil {
				return err
			}
			buf := make([]byte, 512)
			n, err := c.Read(buf)
			if err == nil {
				reply = buf[:n]
				return nil
			}
		}
		return nil
	})
	if err != nil {
		b.t.Fatal(err)
	}
	// The answer's last 4 bytes are the address of a single A record.
	if len(reply) < 12 || binary.BigEndian.Uint16(reply[6:8]) == 0 {
		return ""
	}
	a, _ := netip.AddrFromSlice(reply[len(reply)-4:])
	return a.String()
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

// signals records the signals the agent sends, passing them on.
type signals struct {
	procfs
	mu   sync.Mutex
	sent []string
}

func (s *signals) Signal(pid int, sig syscall.Signal) error {
	s.mu.Lock()
	s.sent = append(s.sent, strconv.Itoa(pid)+" "+sig.String())
	s.mu.Unlock()
	return s.procfs.Signal(pid, sig)
}

func (s *signals) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.sent
	s.sent = nil
	return out
}
