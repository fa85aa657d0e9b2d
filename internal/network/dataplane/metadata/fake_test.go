package metadata

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dataplanetest"
	"github.com/nimbus-cloud/nimbus/internal/platform/httpapi"
)

type fakeRunner = dataplanetest.FakeRunner

// take returns the commands that change something since the last take.
func take(f *fakeRunner) []string {
	var out []string
	for _, c := range f.Take() {
		if !strings.Contains(c, " show") && !strings.Contains(c, "netns list") {
			out = append(out, c)
		}
	}
	return out
}

// loJSON is `ip -d -j addr show` of a namespace with only lo.
func loJSON(up bool, addrs ...string) string {
	flags := `"LOOPBACK"`
	if up {
		flags = `"LOOPBACK","UP","LOWER_UP"`
	}
	ai := []string{`{"family":"inet","local":"127.0.0.1","prefixlen":8,"scope":"host"}`}
	for _, a := range addrs {
		ip, bits, _ := strings.Cut(a, "/")
		ai = append(ai, fmt.Sprintf(`{"family":"inet","local":%q,"prefixlen":%s,"scope":"global"}`, ip, bits))
	}
	return fmt.Sprintf(`[{"ifname":"lo","flags":[%s],"mtu":65536,"addr_info":[%s]}]`, flags, strings.Join(ai, ","))
}

// dhcpJSON is `ip -d -j addr show` of a DHCP namespace: lo and the DHCP port's
// ns- device with addrs.
func dhcpJSON(addrs ...string) string {
	var ai []string
	for _, a := range addrs {
		ip, bits, _ := strings.Cut(a, "/")
		ai = append(ai, fmt.Sprintf(`{"family":"inet","local":%q,"prefixlen":%s,"scope":"global"}`, ip, bits))
	}
	lo := strings.TrimSuffix(strings.TrimPrefix(loJSON(true), "["), "]")
	return fmt.Sprintf(`[%s,{"ifname":"ns-0123456789a","flags":["BROADCAST","UP"],"mtu":1450,"addr_info":[%s]}]`, lo, strings.Join(ai, ","))
}

// fakeLookup answers from a table of (router, ip) and ("network:"+network, ip), and
// records what it was asked.
type fakeLookup struct {
	mu        sync.Mutex
	instances map[string][2]string // "router|ip" or "network:net|ip" -> instance, project
	err       error
	asked     []string
}

func (f *fakeLookup) MetadataInstance(_ context.Context, routerID string, ip netip.Addr) (string, string, error) {
	return f.find(routerID + "|" + ip.String())
}

func (f *fakeLookup) MetadataNetworkInstance(_ context.Context, networkID string, ip netip.Addr) (string, string, error) {
	return f.find("network:" + networkID + "|" + ip.String())
}

func (f *fakeLookup) find(key string) (string, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, key)
	if f.err != nil {
		return "", "", f.err
	}
	v, ok := f.instances[key]
	if !ok {
		return "", "", httpapi.NotFound("no port for %s", key)
	}
	return v[0], v[1], nil
}

// fakeNamespaces stands in for listening in and identifying namespaces: listeners
// on 127.0.0.1 ports of the test's own namespace.
type fakeNamespaces struct {
	mu     sync.Mutex
	ids    map[string]nsID
	opened map[string]int              // namespace -> listeners opened
	lns    map[string]*trackedListener // namespace -> its last listener
}

// trackedListener knows whether the proxy closed it.
type trackedListener struct {
	net.Listener
	closed atomic.Bool
}

func (l *trackedListener) Close() error {
	l.closed.Store(true)
	return l.Listener.Close()
}

func newFakeNamespaces() *fakeNamespaces {
	return &fakeNamespaces{ids: map[string]nsID{}, opened: map[string]int{}, lns: map[string]*trackedListener{}}
}

func (f *fakeNamespaces) install(t *testing.T, p *Proxy) {
	t.Helper()
	p.listen = func(ns string) (net.Listener, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		f.opened[ns]++
		tl := &trackedListener{Listener: ln}
		f.lns[ns] = tl
		return tl, nil
	}
	p.namespace = func(ns string) (nsID, error) {
		f.mu.Lock()
		defer f.mu.Unlock()
		id, ok := f.ids[ns]
		if !ok {
			id = nsID{dev: 4, ino: uint64(len(f.ids) + 1000)}
			f.ids[ns] = id
		}
		return id, nil
	}
	t.Cleanup(func() { p.Close() })
}

var _ dataplane.Runner = (*fakeRunner)(nil)
