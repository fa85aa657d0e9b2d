package dhcp

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

func TestRender(t *testing.T) {
	a, b := "aaaaaaaa-0000-0000-0000-000000000000", "bbbbbbbb-0000-0000-0000-000000000000"
	subA := dataplane.Subnet{ID: a, IPVersion: 4, CIDR: netip.MustParsePrefix("10.0.0.0/24"), GatewayIP: netip.MustParseAddr("10.0.0.1"), EnableDHCP: true,
		DNSNameservers: []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("192.0.2.54")}}
	port := func(mac, name string, ips ...string) dataplane.Port {
		p := dataplane.Port{MAC: mac, Hostname: name}
		for _, ip := range ips {
			p.FixedIPs = append(p.FixedIPs, dataplane.FixedIP{IP: netip.MustParseAddr(ip)})
		}
		return p
	}
	routerPort := port("fa:16:3e:00:00:01", "", "10.0.0.1")
	routerPort.DeviceOwner, routerPort.FixedIPs[0].SubnetID = dataplane.OwnerRouterInterface, a
	dhcpPort := port("fa:16:3e:00:00:02", "", "10.0.0.2")
	isolated := dataplane.Host{EnableIsolatedMetadata: true}
	v6 := func(id, cidr, ra, addr string) dataplane.Subnet {
		return dataplane.Subnet{ID: id, IPVersion: 6, CIDR: netip.MustParsePrefix(cidr), EnableDHCP: true, IPv6RAMode: ra, IPv6AddressMode: addr,
			DNSNameservers: []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}}
	}
	subA4 := dataplane.Subnet{ID: a, IPVersion: 4, CIDR: netip.MustParsePrefix("10.0.0.0/24"), GatewayIP: netip.MustParseAddr("10.0.0.1"), EnableDHCP: true}
	metaOpts := func(hop string) string {
		return "tag:subnet-" + a + ",option:classless-static-route,169.254.169.254/32," + hop + ",0.0.0.0/0,10.0.0.1\n" +
			"tag:subnet-" + a + ",249,169.254.169.254/32," + hop + ",0.0.0.0/0,10.0.0.1\n" +
			"tag:subnet-" + a + ",option:router,10.0.0.1\n"
	}
	for _, c := range []struct {
		name              string
		n                 dataplane.Network
		h                 dataplane.Host
		hosts, addn, opts string
	}{
		{
			name: "gateway, DNS, MTU; an IPv6 subnet without modes is stateful; invalid entries left out",
			n: dataplane.Network{MTU: 1450, Subnets: []dataplane.Subnet{subA, {ID: "v6", IPVersion: 6, CIDR: netip.MustParsePrefix("fd00::/64"), EnableDHCP: true}},
				DHCPHosts: []dataplane.Port{
					port("FA:16:3E:00:00:05", "vm-one", "10.0.0.5", "fd00::5"),
					port("fa:16:3e:00:00:06", "", "10.0.0.6"),
					port("fa:16:3e:00:00:07", "Evil,name\n--dhcp-boot=x.example.", "10.0.0.7"),
					port("not-a-mac", "x", "10.0.0.8"),
					port("fa:16:3e:00:00:09", "outside", "10.9.9.9"),
				}},
			hosts: "fa:16:3e:00:00:05,vm-one,10.0.0.5\nfa:16:3e:00:00:05,tag:dhcpv6,vm-one,[fd00::5]\nfa:16:3e:00:00:06,host-10-0-0-6,10.0.0.6\nfa:16:3e:00:00:07,evilname--dhcp-bootx,10.0.0.7\n",
			addn: "10.0.0.5\tvm-one.openstacklocal\tvm-one\nfd00::5\tvm-one.openstacklocal\tvm-one\n10.0.0.6\thost-10-0-0-6.openstacklocal\thost-10-0-0-6\n" +
				"10.0.0.7\tevilname--dhcp-bootx.openstacklocal\tevilname--dhcp-bootx\n",
			opts: "tag:subnet-" + a + ",option:dns-server,192.0.2.53,192.0.2.54\n" +
				"tag:subnet-" + a + ",option:router,10.0.0.1\n" +
				"tag:subnet-" + a + ",option:mtu,1450\n" +
				"tag:subnet-v6,option6:domain-search,openstacklocal\n",
		},
		{
			name: "host routes, a second subnet on the link, a subnet without gateway",
			n: dataplane.Network{Subnets: []dataplane.Subnet{
				{ID: a, IPVersion: 4, CIDR: netip.MustParsePrefix("10.0.0.0/24"), GatewayIP: netip.MustParseAddr("10.0.0.1"), EnableDHCP: true,
					HostRoutes: []dataplane.Route{{Destination: netip.MustParsePrefix("172.16.0.0/16"), NextHop: netip.MustParseAddr("10.0.0.254")},
						{Destination: netip.MustParsePrefix("0.0.0.0/0"), NextHop: netip.MustParseAddr("10.0.0.253")}}},
				{ID: b, IPVersion: 4, CIDR: netip.MustParsePrefix("10.1.0.0/24"), EnableDHCP: true},
			}, DHCPHosts: []dataplane.Port{port("fa:16:3e:00:00:05", "two", "10.0.0.5", "10.1.0.5")}},
			hosts: "fa:16:3e:00:00:05,two,10.0.0.5\nfa:16:3e:00:00:05,two,10.1.0.5\n",
			addn:  "10.0.0.5\ttwo.openstacklocal\ttwo\n10.1.0.5\ttwo.openstacklocal\ttwo\n",
			opts: "tag:subnet-" + a + ",option:classless-static-route,172.16.0.0/16,10.0.0.254,10.1.0.0/24,0.0.0.0,0.0.0.0/0,10.0.0.1\n" +
				"tag:subnet-" + a + ",249,172.16.0.0/16,10.0.0.254,10.1.0.0/24,0.0.0.0,0.0.0.0/0,10.0.0.1\n" +
				"tag:subnet-" + a + ",option:router,10.0.0.1\n" +
				"tag:subnet-" + b + ",option:classless-static-route,10.0.0.0/24,0.0.0.0\n" +
				"tag:subnet-" + b + ",249,10.0.0.0/24,0.0.0.0\n" +
				"tag:subnet-" + b + ",option:router\n",
		},
		{
			name: "no DHCPHosts: this host's ports and the VXLAN peers",
			n: dataplane.Network{Subnets: []dataplane.Subnet{subA},
				Ports: []dataplane.Port{port("fa:16:3e:00:00:02", "", "10.0.0.2")},
				Peers: []dataplane.Peer{{MAC: "fa:16:3e:00:00:03", IPs: []netip.Addr{netip.MustParseAddr("10.0.0.3")}}}},
			hosts: "fa:16:3e:00:00:02,host-10-0-0-2,10.0.0.2\nfa:16:3e:00:00:03,host-10-0-0-3,10.0.0.3\n",
			addn:  "10.0.0.2\thost-10-0-0-2.openstacklocal\thost-10-0-0-2\n10.0.0.3\thost-10-0-0-3.openstacklocal\thost-10-0-0-3\n",
			opts:  "tag:subnet-" + a + ",option:dns-server,192.0.2.53,192.0.2.54\ntag:subnet-" + a + ",option:router,10.0.0.1\n",
		},
		{
			name:  "isolated metadata: an isolated subnet routes 169.254.169.254 to the DHCP port",
			n:     dataplane.Network{DHCP: true, AdminStateUp: true, Subnets: []dataplane.Subnet{subA4}, DHCPHosts: []dataplane.Port{dhcpPort}},
			h:     isolated,
			hosts: "fa:16:3e:00:00:02,host-10-0-0-2,10.0.0.2\n",
			addn:  "10.0.0.2\thost-10-0-0-2.openstacklocal\thost-10-0-0-2\n",
			opts:  metaOpts("10.0.0.2"),
		},
		{
			name:  "isolated metadata: a routed subnet routes it to its router",
			n:     dataplane.Network{DHCP: true, AdminStateUp: true, Subnets: []dataplane.Subnet{subA4}, DHCPHosts: []dataplane.Port{dhcpPort, routerPort}},
			h:     isolated,
			hosts: "fa:16:3e:00:00:02,host-10-0-0-2,10.0.0.2\nfa:16:3e:00:00:01,host-10-0-0-1,10.0.0.1\n",
			addn:  "10.0.0.2\thost-10-0-0-2.openstacklocal\thost-10-0-0-2\n10.0.0.1\thost-10-0-0-1.openstacklocal\thost-10-0-0-1\n",
			opts:  metaOpts("10.0.0.1"),
		},
		{
			name:  "metadata off: a routed subnet still routes it to its router, as upstream",
			n:     dataplane.Network{DHCP: true, AdminStateUp: true, Subnets: []dataplane.Subnet{subA4}, DHCPHosts: []dataplane.Port{routerPort}},
			hosts: "fa:16:3e:00:00:01,host-10-0-0-1,10.0.0.1\n",
			addn:  "10.0.0.1\thost-10-0-0-1.openstacklocal\thost-10-0-0-1\n",
			opts:  metaOpts("10.0.0.1"),
		},
		{
			name:  "forced metadata: even a routed subnet goes to the DHCP port",
			n:     dataplane.Network{DHCP: true, AdminStateUp: true, Subnets: []dataplane.Subnet{subA4}, Ports: []dataplane.Port{dhcpPort}, DHCPHosts: []dataplane.Port{routerPort}},
			h:     dataplane.Host{ForceMetadata: true},
			hosts: "fa:16:3e:00:00:01,host-10-0-0-1,10.0.0.1\n",
			addn:  "10.0.0.1\thost-10-0-0-1.openstacklocal\thost-10-0-0-1\n",
			opts:  metaOpts("10.0.0.2"),
		},
		{
			name: "IPv6 modes: stateful hosts only, options but for SLAAC, DNS for every address",
			n: dataplane.Network{Subnets: []dataplane.Subnet{
				v6("sf", "fd01::/64", dataplane.DHCPv6Stateful, dataplane.DHCPv6Stateful),
				v6("sl", "fd02::/64", dataplane.DHCPv6Stateless, dataplane.DHCPv6Stateless),
				v6("sa", "fd03::/64", dataplane.IPv6SLAAC, dataplane.IPv6SLAAC),
				v6("ext", "fd04::/64", "", dataplane.IPv6SLAAC), // another router advertises
			}, DHCPHosts: []dataplane.Port{port("fa:16:3e:00:00:05", "vm", "fd01::5", "fd02::f816:3eff:fe00:5", "fd03::f816:3eff:fe00:5", "fd04::f816:3eff:fe00:5")}},
			hosts: "fa:16:3e:00:00:05,tag:dhcpv6,vm,[fd01::5]\n",
			addn: "fd01::5\tvm.openstacklocal\tvm\nfd02::f816:3eff:fe00:5\tvm.openstacklocal\tvm\n" +
				"fd03::f816:3eff:fe00:5\tvm.openstacklocal\tvm\nfd04::f816:3eff:fe00:5\tvm.openstacklocal\tvm\n",
			opts: "tag:subnet-sf,option6:dns-server,[2001:db8::53]\ntag:subnet-sf,option6:domain-search,openstacklocal\n" +
				"tag:subnet-sl,option6:dns-server,[2001:db8::53]\ntag:subnet-sl,option6:domain-search,openstacklocal\n",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := render(c.n, dhcpPort, "openstacklocal", c.h)
			if got.Hosts != c.hosts {
				t.Errorf("hosts:\n%s\nwant:\n%s", got.Hosts, c.hosts)
			}
			if got.AddnHosts != c.addn {
				t.Errorf("addn_hosts:\n%s\nwant:\n%s", got.AddnHosts, c.addn)
			}
			if got.Opts != c.opts {
				t.Errorf("opts:\n%s\nwant:\n%s", got.Opts, c.opts)
			}
		})
	}
}

func TestArgs(t *testing.T) {
	base := []string{"--no-hosts", "--no-resolv", "--pid-file=/d/dhcp/n/pid", "--dhcp-hostsfile=/d/dhcp/n/host", "--addn-hosts=/d/dhcp/n/addn_hosts",
		"--dhcp-optsfile=/d/dhcp/n/opts", "--dhcp-leasefile=/d/dhcp/n/leases", "--log-facility=/d/dhcp/n/log", "--dhcp-match=set:ipxe,175",
		"--local-service", "--bind-dynamic", "--interface=ns-0123456789a"}
	tail := []string{"--conf-file=/dev/null", "--domain=openstacklocal", "--server=192.0.2.53"}
	v6 := func(id, cidr, ra, addr string) dataplane.Subnet {
		return dataplane.Subnet{ID: id, IPVersion: 6, CIDR: netip.MustParsePrefix(cidr), EnableDHCP: true, IPv6RAMode: ra, IPv6AddressMode: addr}
	}
	for _, c := range []struct {
		name    string
		mtu     int
		subnets []dataplane.Subnet
		want    []string // between base and tail
	}{
		{
			name: "IPv4 ranges (static), DHCP off left out",
			subnets: []dataplane.Subnet{
				{ID: "s1", IPVersion: 4, CIDR: netip.MustParsePrefix("10.0.0.0/24"), EnableDHCP: true},
				{ID: "s2", IPVersion: 4, CIDR: netip.MustParsePrefix("10.1.0.0/28"), EnableDHCP: true},
				{ID: "s3", IPVersion: 4, CIDR: netip.MustParsePrefix("10.2.0.0/24"), EnableDHCP: false},
			},
			want: []string{"--dhcp-range=set:subnet-s1,10.0.0.0,static,255.255.255.0,86400s",
				"--dhcp-range=set:subnet-s2,10.1.0.0,static,255.255.255.240,86400s", "--dhcp-lease-max=272"},
		},
		{
			name:    "IPv6 without modes: static, no RA, the lease cap",
			subnets: []dataplane.Subnet{v6("s6", "fd00::/64", "", ""), v6("long", "fd01::/80", "", "")},
			want:    []string{"--dhcp-range=set:subnet-s6,fd00::,static,64,86400s", "--dhcp-lease-max=16777216"},
		},
		{
			name:    "slaac: RA only, never the default router, the MTU advertised",
			mtu:     1450,
			subnets: []dataplane.Subnet{v6("sa", "fd00::/64", dataplane.IPv6SLAAC, dataplane.IPv6SLAAC)},
			want:    []string{"--dhcp-range=set:subnet-sa,fd00::,ra-only,64,86400s", "--ra-param=ns-0123456789a,mtu:1450,0,0", "--dhcp-lease-max=16777216"},
		},
		{
			name:    "slaac advertised by another router: nothing",
			subnets: []dataplane.Subnet{v6("sa", "fd00::/64", "", dataplane.IPv6SLAAC)},
			want:    []string{"--dhcp-lease-max=0"},
		},
		{
			name:    "dhcpv6-stateless: ra-stateless",
			subnets: []dataplane.Subnet{v6("sl", "fd00::/64", dataplane.DHCPv6Stateless, dataplane.DHCPv6Stateless)},
			want:    []string{"--dhcp-range=set:subnet-sl,fd00::,ra-stateless,64,86400s", "--ra-param=ns-0123456789a,0,0", "--dhcp-lease-max=16777216"},
		},
		{
			name:    "dhcpv6-stateless advertised elsewhere: a static range answers for options",
			subnets: []dataplane.Subnet{v6("sl", "fd00::/64", "", dataplane.DHCPv6Stateless)},
			want:    []string{"--dhcp-range=set:subnet-sl,fd00::,static,64,86400s", "--dhcp-lease-max=16777216"},
		},
		{
			name:    "dhcpv6-stateful: static with --enable-ra (the M bit)",
			subnets: []dataplane.Subnet{v6("sf", "fd00::/64", dataplane.DHCPv6Stateful, dataplane.DHCPv6Stateful)},
			want:    []string{"--dhcp-range=set:subnet-sf,fd00::,static,64,86400s", "--enable-ra", "--ra-param=ns-0123456789a,0,0", "--dhcp-lease-max=16777216"},
		},
		{
			name:    "dhcpv6-stateful advertised elsewhere: static, no RA",
			subnets: []dataplane.Subnet{v6("sf", "fd00::/64", "", dataplane.DHCPv6Stateful)},
			want:    []string{"--dhcp-range=set:subnet-sf,fd00::,static,64,86400s", "--dhcp-lease-max=16777216"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := dataplane.Network{MTU: c.mtu, Subnets: c.subnets}
			got := args(n, dataplane.Port{ID: "0123456789abcdef"}, "/d/dhcp/n", "openstacklocal", 86400, []string{"192.0.2.53"})
			want := slices.Concat(base, c.want, tail)
			if !slices.Equal(got, want) {
				t.Errorf("args\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestOurs(t *testing.T) {
	root := "/var/lib/nimbus/dhcp"
	for _, c := range []struct {
		cmdline []string
		want    string
	}{
		{[]string{"dnsmasq", "--no-hosts", "--pid-file=/var/lib/nimbus/dhcp/net1/pid"}, "net1"},
		{[]string{"/usr/sbin/dnsmasq", "--pid-file=/var/lib/nimbus/dhcp/net1/pid"}, "net1"},
		{[]string{"dnsmasq", "--pid-file=/other/dhcp/net1/pid"}, ""},         // another agent's
		{[]string{"dnsmasq", "--pid-file=/var/lib/nimbus/dhcp/net1/x"}, ""},  // not our layout
		{[]string{"sleep", "--pid-file=/var/lib/nimbus/dhcp/net1/pid"}, ""},  // not dnsmasq
		{[]string{"dnsmasq", "--pid-file=/var/lib/nimbus/dhcp/a/b/pid"}, ""}, // deeper
		{nil, ""},
	} {
		if got := ours(c.cmdline, root); got != c.want {
			t.Errorf("ours(%q) = %q, want %q", c.cmdline, got, c.want)
		}
	}
}

// fakeProcs is a process table.
type fakeProcs struct {
	mu    sync.Mutex
	table map[int][]string
	sent  []string
}

func (f *fakeProcs) Cmdline(pid int) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.table[pid]
}

func (f *fakeProcs) All() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int
	for pid := range f.table {
		out = append(out, pid)
	}
	slices.Sort(out)
	return out
}

func (f *fakeProcs) Signal(pid int, sig syscall.Signal) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, fmt.Sprintf("%d %s", pid, sig))
	if sig == syscall.SIGTERM || sig == syscall.SIGKILL {
		delete(f.table, pid)
	}
	return nil
}

// startRunner pretends to start dnsmasq: the new process appears with pid 100.
type startRunner struct {
	procs *fakeProcs
	dir   string
	cmds  []string
}

func (r *startRunner) Run(_ context.Context, ns, name string, args ...string) ([]byte, error) {
	r.cmds = append(r.cmds, ns+"|"+name)
	r.procs.mu.Lock()
	r.procs.table[100] = append([]string{name}, args...)
	r.procs.mu.Unlock()
	return nil, os.WriteFile(filepath.Join(r.dir, "pid"), []byte("100\n"), 0o644)
}

// TestProcessDecisions: which dnsmasq is adopted, signalled, stopped or started.
func TestProcessDecisions(t *testing.T) {
	want := []string{"--pid-file=X", "--interface=ns-1"}
	other := []string{"--pid-file=X", "--interface=ns-2"}
	for _, c := range []struct {
		name      string
		table     map[int][]string
		pidFile   int
		loaded    string // the agent's record for the network
		changed   bool
		wantSent  []string
		wantStart bool
	}{
		{name: "none running: started", wantStart: true},
		{name: "running, adopted after a restart: one SIGHUP", table: map[int][]string{7: append([]string{"dnsmasq"}, want...)}, pidFile: 7,
			wantSent: []string{"7 hangup"}},
		{name: "running, known, unchanged: nothing", table: map[int][]string{7: append([]string{"dnsmasq"}, want...)}, pidFile: 7, loaded: "7 d"},
		{name: "running, known, files changed: SIGHUP", table: map[int][]string{7: append([]string{"dnsmasq"}, want...)}, pidFile: 7, loaded: "7 d",
			changed: true, wantSent: []string{"7 hangup"}},
		{name: "dead (pid file names nothing): started", pidFile: 7, loaded: "7 d", wantStart: true},
		{name: "other command line: stopped and started", table: map[int][]string{7: append([]string{"dnsmasq"}, other...)}, pidFile: 7, loaded: "7 d",
			wantSent: []string{"7 terminated"}, wantStart: true},
		{name: "a second one: stopped", table: map[int][]string{7: append([]string{"dnsmasq"}, want...), 9: append([]string{"dnsmasq"}, want...)},
			pidFile: 7, loaded: "7 d", wantSent: []string{"9 terminated"}},
		{name: "pid file lost: the stray is replaced", table: map[int][]string{9: append([]string{"dnsmasq"}, want...)},
			wantSent: []string{"9 terminated"}, wantStart: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if c.pidFile != 0 {
				if err := os.WriteFile(filepath.Join(dir, "pid"), []byte(fmt.Sprint(c.pidFile)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			procs := &fakeProcs{table: map[int][]string{}}
			var pids []int
			for pid, cl := range c.table {
				procs.table[pid] = cl
				pids = append(pids, pid)
			}
			slices.Sort(pids)
			r := &startRunner{procs: procs, dir: dir}
			a := New(r, nil, Options{DataDir: dir, Processes: procs})
			a.loaded = map[string]string{}
			if c.loaded != "" {
				a.loaded["n"] = c.loaded
			}
			if err := a.process(context.Background(), "n", "qdhcp-n", dir, want, "d", c.changed, pids); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(procs.sent, c.wantSent) {
				t.Errorf("signals %q, want %q", procs.sent, c.wantSent)
			}
			if started := len(r.cmds) > 0; started != c.wantStart {
				t.Errorf("started %v, want %v", started, c.wantStart)
			}
			if c.wantStart && (a.loaded["n"] != "100 d" || !strings.HasPrefix(r.cmds[0], "qdhcp-n|dnsmasq")) {
				t.Errorf("after start: loaded %q, cmds %q", a.loaded["n"], r.cmds)
			}
		})
	}
}
