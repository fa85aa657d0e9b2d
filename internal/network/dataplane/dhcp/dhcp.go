// Package dhcp is the DHCP agent's data plane, as upstream's DHCP agent with its
// dnsmasq driver: for each network this host serves, a namespace qdhcp-<net-id>
// holding ns-<port[:11]> (the DHCP port's addresses), whose veth peer
// tap<port[:11]> is on the network's bridge, and one dnsmasq in that namespace
// giving static leases only, from a host file of every port of the network (MAC,
// IP, hostname), with an options file (router, DNS servers, classless routes with
// the metadata route, MTU) and DNS answers for the ports' names. IPv6 subnets are
// served by their ipv6_address_mode and ipv6_ra_mode (ipv6.go): stateful DHCPv6
// from the host file, stateless DHCPv6, router advertisements for SLAAC. Its files
// live in DATA/dhcp/<net-id>/ (host, addn_hosts, opts, leases, pid, log).
//
// Converge is level-triggered. A changed file is written atomically and dnsmasq
// is sent SIGHUP; it is restarted only when its command line must change. After a
// crash, a dnsmasq still running is adopted (found by its pid file and checked in
// /proc to be our dnsmasq of that network), a dead one is started again, and a
// stray one (a second one, or one of a network no longer served) is stopped. The
// directories under DATA/dhcp are the record of what this agent made: a network
// with a directory and no longer in the state loses its dnsmasq, namespace, veth
// and directory, and nothing else is ever removed.
package dhcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/linuxbridge"
)

// Options configure the agent.
type Options struct {
	// DataDir holds the per-network directories (DATA/dhcp/<network-id>). It must
	// be reachable by dnsmasq after it drops its privileges (world-searchable), as
	// dnsmasq re-reads its files on SIGHUP.
	DataDir string
	// Domain is the DNS domain of the ports' names (upstream's dns_domain,
	// default "openstacklocal").
	Domain string
	// LeaseTime is the lease duration (upstream's dhcp_lease_duration, default 24 h).
	LeaseTime time.Duration
	// DNSServers are the resolvers dnsmasq forwards other names to (upstream's
	// dnsmasq_dns_servers); none: it answers only for the ports' names.
	DNSServers []string
	// Processes sees and signals processes (default: /proc and kill).
	Processes Processes
}

// Agent converges the DHCP servers of one host.
type Agent struct {
	Runner dataplane.Runner
	Log    *slog.Logger
	Opts   Options

	mu sync.Mutex
	// loaded is, per network, "pid files-digest" of what the running dnsmasq was
	// last told to read: a dnsmasq this agent has not started or signalled (adopted
	// after a restart) gets one SIGHUP, whatever its files say.
	loaded map[string]string
}

// New returns an agent that runs its commands with r.
func New(r dataplane.Runner, log *slog.Logger, opts Options) *Agent {
	return &Agent{Runner: r, Log: log, Opts: opts}
}

// Name implements the network agent's Part.
func (a *Agent) Name() string { return "dhcp" }

// Converge makes the host's DHCP servers match st. The DHCP ports' taps are
// reported wired by the L2 part, so it returns none.
func (a *Agent) Converge(ctx context.Context, st dataplane.State) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.loaded == nil {
		a.loaded = map[string]string{}
	}
	if a.Opts.DataDir == "" {
		return nil, errors.New("dhcp: no data directory")
	}
	if err := os.MkdirAll(a.root(), 0o755); err != nil {
		return nil, err
	}
	nss, err := dataplane.Namespaces(ctx, a.Runner)
	if err != nil {
		return nil, err
	}
	procs := a.dnsmasqs()
	want := map[string]bool{}
	var errs []error
	for _, n := range st.Networks {
		port, ok := dhcpPort(n)
		if !ok {
			continue
		}
		want[n.ID] = true
		if err := a.network(ctx, st.Host, n, port, nss, procs[n.ID]); err != nil {
			errs = append(errs, fmt.Errorf("dhcp for network %s: %w", n.ID, err))
		}
	}
	// What we made for networks no longer served: by directory, and by process
	// (a dnsmasq whose directory is already gone).
	ents, err := os.ReadDir(a.root())
	if err != nil {
		return nil, err
	}
	gone := map[string]bool{}
	for _, e := range ents {
		if e.IsDir() && !want[e.Name()] {
			gone[e.Name()] = true
		}
	}
	for id := range procs {
		if !want[id] {
			gone[id] = true
		}
	}
	for _, id := range slices.Sorted(maps.Keys(gone)) {
		if err := a.remove(ctx, id, nss, procs[id]); err != nil {
			errs = append(errs, fmt.Errorf("removing dhcp of network %s: %w", id, err))
		}
	}
	return nil, errors.Join(errs...)
}

// dhcpPort is the network's DHCP port when the network is served here: admin up,
// DHCP on, a DHCP subnet (IPv4 or IPv6), and its network:dhcp port with an
// address in one.
func dhcpPort(n dataplane.Network) (dataplane.Port, bool) {
	if !n.DHCP || !n.AdminStateUp {
		return dataplane.Port{}, false
	}
	subnets := dhcpSubnets(n)
	for _, p := range n.Ports {
		if p.DeviceOwner != dataplane.OwnerDHCP {
			continue
		}
		for _, f := range p.FixedIPs {
			if _, ok := subnetOf(subnets, f); ok {
				return p, true
			}
		}
	}
	return dataplane.Port{}, false
}

// network converges one network's namespace, veth, files and dnsmasq.
func (a *Agent) network(ctx context.Context, h dataplane.Host, n dataplane.Network, port dataplane.Port, nss map[string]bool, pids []int) error {
	if n.ID == "" || n.ID == "." || n.ID == ".." || strings.ContainsAny(n.ID, "/\x00") {
		return fmt.Errorf("network ID %q cannot name a directory", n.ID)
	}
	dir := a.dir(n.ID)
	// The directory first: it is the record that this network's namespace is ours.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ns := dataplane.DHCPNamespace(n.ID)
	if !nss[ns] {
		if _, err := a.Runner.Run(ctx, "", "ip", "netns", "add", ns); err != nil {
			return err
		}
	}
	if err := linuxbridge.EnsureBridge(ctx, a.Runner, h.Namespace, n.ID, n.MTU); err != nil {
		return err
	}
	if err := a.device(ctx, h, n, port); err != nil {
		return err
	}
	domain := strings.TrimSuffix(a.Opts.Domain, ".")
	if domain == "" {
		domain = "openstacklocal"
	}
	changed := false
	fs := render(n, port, domain, h)
	oldHosts, _ := os.ReadFile(filepath.Join(dir, "host"))
	gone := dropped(string(oldHosts), fs.Hosts)
	for name, content := range map[string]string{"host": fs.Hosts, "addn_hosts": fs.AddnHosts, "opts": fs.Opts} {
		c, err := writeIfChanged(filepath.Join(dir, name), content)
		if err != nil {
			return err
		}
		changed = changed || c
	}
	lease := int(a.Opts.LeaseTime / time.Second)
	if lease <= 0 {
		lease = 86400
	}
	want := args(n, port, dir, domain, lease, a.Opts.DNSServers)
	digest := fs.Hosts + "\x00" + fs.AddnHosts + "\x00" + fs.Opts
	if err := a.process(ctx, n.ID, ns, dir, want, digest, changed, pids); err != nil {
		return err
	}
	return a.releaseStale(ctx, n, port, filepath.Join(dir, "leases"), gone)
}

// process adopts, reloads, restarts or starts the network's dnsmasq.
func (a *Agent) process(ctx context.Context, netID, ns, dir string, want []string, digest string, changed bool, pids []int) error {
	pid := pidFromFile(filepath.Join(dir, "pid"))
	keep := 0
	if pid > 0 && slices.Contains(pids, pid) && sameArgs(a.procs().Cmdline(pid), want) {
		keep = pid
	}
	// Every other dnsmasq of this network goes: one whose command line must
	// change, a second one, one the pid file does not name.
	for _, p := range pids {
		if p == keep {
			continue
		}
		a.log().Info("stopping dnsmasq", "network", netID, "pid", p)
		if err := a.stop(p); err != nil {
			return err
		}
	}
	if keep != 0 {
		key := fmt.Sprintf("%d %s", keep, digest)
		if changed || a.loaded[netID] != key {
			a.log().Info("reloading dnsmasq", "network", netID, "pid", keep)
			offset := logSize(dir)
			if err := a.procs().Signal(keep, syscall.SIGHUP); err != nil {
				return err
			}
			if err := awaitHostsRead(ctx, dir, offset); err != nil {
				a.log().Warn("reload of dnsmasq", "network", netID, "error", err)
			}
			a.loaded[netID] = key
		}
		return nil
	}
	_ = os.Remove(filepath.Join(dir, "pid"))
	a.log().Info("starting dnsmasq", "network", netID, "netns", ns)
	offset := logSize(dir)
	if _, err := a.Runner.Run(ctx, ns, "dnsmasq", want...); err != nil {
		return err
	}
	if err := awaitHostsRead(ctx, dir, offset); err != nil {
		a.log().Warn("start of dnsmasq", "network", netID, "error", err)
	}
	// dnsmasq writes its pid file before its parent returns.
	if pid := pidFromFile(filepath.Join(dir, "pid")); pid > 0 {
		a.loaded[netID] = fmt.Sprintf("%d %s", pid, digest)
	}
	return nil
}

// remove stops the network's dnsmasq and deletes its veth, namespace and directory.
func (a *Agent) remove(ctx context.Context, netID string, nss map[string]bool, pids []int) error {
	a.log().Info("removing dhcp", "network", netID)
	for _, p := range pids {
		if err := a.stop(p); err != nil {
			return err
		}
	}
	ns := dataplane.DHCPNamespace(netID)
	if nss[ns] {
		// The devices first: a namespace something still holds lingers after
		// `ip netns del`, and its veths with it. Deleting ns- deletes its tap.
		if ls, err := dataplane.Links(ctx, a.Runner, ns); err == nil {
			for name := range ls {
				if strings.HasPrefix(name, "ns-") {
					if _, err := a.Runner.Run(ctx, ns, "ip", "link", "del", name); err != nil {
						return err
					}
				}
			}
		}
		if _, err := a.Runner.Run(ctx, "", "ip", "netns", "del", ns); err != nil {
			return err
		}
	}
	delete(a.loaded, netID)
	return os.RemoveAll(a.dir(netID))
}

// writeIfChanged replaces path with content atomically (a temporary file renamed
// over it) unless it already holds it, and says whether it wrote.
func writeIfChanged(path, content string) (bool, error) {
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, []byte(content)) {
		return false, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return false, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	return true, os.Rename(tmp.Name(), path)
}

func (a *Agent) root() string {
	d, err := filepath.Abs(a.Opts.DataDir)
	if err != nil {
		d = a.Opts.DataDir
	}
	return filepath.Join(d, "dhcp")
}

func (a *Agent) dir(netID string) string { return filepath.Join(a.root(), netID) }

func (a *Agent) procs() Processes {
	if a.Opts.Processes == nil {
		return procfs{}
	}
	return a.Opts.Processes
}

func (a *Agent) log() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}
