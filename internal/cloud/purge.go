package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dhcp"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/firewall"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/l3"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/linuxbridge"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
)

// purgedBinaries are the programs a cloud runs outside its own process, found
// by a path of the cloud's (data or run directory) on their command line: its
// hosts' agents, guests, volume exports and DHCP servers.
var purgedBinaries = []string{"nimbus", "qemu-system-", "qemu-storage-daemon", "qemu-nbd", "tgtd", "dnsmasq"}

// Purge removes what the stopped cloud of cfg's data directory made on this
// machine, as devstack's unstack.sh and clean.sh do: the processes it left
// (guests, volume exports, DHCP servers, its hosts' agents), its data plane
// (routers, DHCP namespaces, bridges, VXLAN devices, taps, the security
// groups' chains and sets, the public interface), the compute hosts'
// namespaces and underlay, and last its run and data directories. It reads
// what the cloud made from the data directory (StateFile) and from the host,
// and takes only what carries the cloud's identity: its data and run
// directories on a process's command line, DHCP namespaces of networks in its
// run directory, routers marked with its host, devices and namespaces named
// with its ID, and in its host namespace the devices and chains the agents of
// that namespace own (brq*, vxlan-*, neutron-linuxbri-*). It works after a
// kill -9, and a second run finds nothing left to do.
func Purge(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	dataDir := cfg.DataDir
	if !filepath.IsAbs(dataDir) || filepath.Clean(dataDir) == "/" {
		return fmt.Errorf("purge: data directory %q is not an absolute path below /", dataDir)
	}
	l, err := LoadHostsLayout(dataDir)
	if err != nil {
		return err
	}
	if l == nil {
		// A cloud of an earlier nimbus, or one that never started: what its
		// configuration says it would have made.
		host, err := hostName(cfg)
		if err != nil {
			return err
		}
		on, _ := dataplaneWanted(cfg.Network.Dataplane, slog.New(slog.DiscardHandler))
		l = &HostsLayout{ID: CloudID(dataDir), Host: host, HostNamespace: cfg.Network.HostNamespace, Dataplane: on}
		if on && !mapsPublic(cfg.Network.PhysicalInterfaceMappings) {
			l.PublicInterface = cfg.Network.PublicInterface
		}
	}
	var errs []error
	if err := killCloudProcesses(ctx, []string{dataDir, RunDir(dataDir)}, log); err != nil {
		errs = append(errs, err)
	}
	r := dataplane.ExecRunner{Log: log}
	if l.Dataplane {
		if err := purgeDataplane(ctx, r, l, dataDir, log); err != nil {
			errs = append(errs, err)
		}
	}
	for _, h := range l.Hosts {
		log.Info("removing compute host", "host", h.Name, "namespace", h.Namespace)
		_, _ = r.Run(ctx, "", "ip", "netns", "del", h.Namespace)
		deleteLink(ctx, r, l.HostNamespace, h.Veth)
	}
	if l.Bridge != "" {
		deleteLink(ctx, r, l.HostNamespace, l.Bridge)
	}
	if err := os.RemoveAll(RunDir(dataDir)); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		// The data directory is what a second purge works from: kept.
		return fmt.Errorf("purge (data directory %s kept for another try): %w", dataDir, err)
	}
	log.Info("removing data directory", "dir", dataDir)
	return os.RemoveAll(dataDir)
}

// purgeDataplane converges the all-in-one host's data plane to nothing, as
// its own agents would once every network, router and port was deleted, then
// removes what they keep even then: the security groups' base chains, the
// guests' taps and the public interface.
func purgeDataplane(ctx context.Context, r dataplane.Runner, l *HostsLayout, dataDir string, log *slog.Logger) error {
	ns := l.HostNamespace
	if ns != "" {
		if names, err := listNamespaces(ctx, r); err != nil {
			return err
		} else if !names[ns] {
			log.Info("host namespace gone: nothing of the data plane left in it", "netns", ns)
			return nil
		}
	}
	empty := dataplane.State{Host: dataplane.Host{Name: l.Host, Namespace: ns}}
	var errs []error
	converge := func(name string, p interface {
		Converge(context.Context, dataplane.State) ([]string, error)
	}) {
		if _, err := p.Converge(ctx, empty); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	converge("routers", l3.New(r, log))
	converge("dhcp", dhcp.New(r, log, dhcp.Options{DataDir: RunDir(dataDir)}))
	converge("security groups", firewall.New(r, log))
	if err := removeFirewallChains(ctx, r, ns); err != nil {
		errs = append(errs, err)
	}
	for _, tap := range recordedTaps(filepath.Join(dataDir, "instances")) {
		deleteLink(ctx, r, ns, tap)
	}
	converge("bridges", linuxbridge.New(r, log))
	if l.PublicInterface != "" {
		deleteLink(ctx, r, ns, l.PublicInterface)
	}
	return errors.Join(errs...)
}

// firewallPrefix is the security groups agent's chain prefix (upstream's).
const firewallPrefix = "neutron-linuxbri-"

// removeFirewallChains removes the jumps to the agent's chains from the
// built-in ones, then the chains, in both IP versions.
func removeFirewallChains(ctx context.Context, r dataplane.Runner, ns string) error {
	var errs []error
	for _, cmd := range []string{"iptables", "ip6tables"} {
		for _, table := range []string{"filter", "raw"} {
			out, err := r.Run(ctx, ns, cmd, "-w", "-t", table, "-S")
			if err != nil {
				errs = append(errs, err)
				continue
			}
			var chains []string
			for _, line := range strings.Split(string(out), "\n") {
				f := strings.Fields(line)
				switch {
				case len(f) >= 2 && f[0] == "-N" && strings.HasPrefix(f[1], firewallPrefix):
					chains = append(chains, f[1])
				case len(f) >= 4 && f[0] == "-A" && !strings.HasPrefix(f[1], firewallPrefix) &&
					strings.Contains(line, " -j "+firewallPrefix):
					args := append([]string{"-w", "-t", table, "-D"}, f[1:]...)
					if _, err := r.Run(ctx, ns, cmd, args...); err != nil {
						errs = append(errs, err)
					}
				}
			}
			for _, c := range chains {
				if _, err := r.Run(ctx, ns, cmd, "-w", "-t", table, "-F", c); err != nil {
					errs = append(errs, err)
				}
			}
			for _, c := range chains {
				if _, err := r.Run(ctx, ns, cmd, "-w", "-t", table, "-X", c); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// recordedTaps are the taps the compute agent recorded for its instances
// (<instances>/_taps/<uuid>, one name a line).
func recordedTaps(instances string) []string {
	files, _ := filepath.Glob(filepath.Join(instances, "_taps", "*"))
	var taps []string
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, tap := range strings.Fields(string(data)) {
			if strings.HasPrefix(tap, "tap") {
				taps = append(taps, tap)
			}
		}
	}
	return taps
}

// deleteLink deletes a link of ns if it is there.
func deleteLink(ctx context.Context, r dataplane.Runner, ns, name string) {
	if _, err := r.Run(ctx, ns, "ip", "link", "show", "dev", name); err != nil {
		return
	}
	_, _ = r.Run(ctx, ns, "ip", "link", "del", "dev", name)
}

// killCloudProcesses kills (SIGKILL) the processes of purgedBinaries whose
// command line names a path under one of dirs, and waits for them to be gone:
// a namespace a process still holds outlives `ip netns del`.
func killCloudProcesses(ctx context.Context, dirs []string, log *slog.Logger) error {
	var pids []int
	for _, p := range cloudProcesses(dirs) {
		log.Info("killing process", "pid", p.pid, "cmd", p.cmd)
		if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("kill %d: %w", p.pid, err)
		}
		pids = append(pids, p.pid)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, pid := range pids {
		for alive(pid) {
			if time.Now().After(deadline) {
				return fmt.Errorf("process %d still there 30s after SIGKILL", pid)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

type cloudProcess struct {
	pid int
	cmd string
}

// cloudProcesses lists the processes of purgedBinaries with a path under one
// of dirs on their command line (never this process).
func cloudProcesses(dirs []string) []cloudProcess {
	entries, _ := os.ReadDir("/proc")
	var out []cloudProcess
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 1 || pid == os.Getpid() {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(data) == 0 {
			continue
		}
		args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
		if !purgedBinary(filepath.Base(args[0])) || !namesUnder(args[1:], dirs) || !alive(pid) {
			continue
		}
		out = append(out, cloudProcess{pid: pid, cmd: strings.Join(args, " ")})
	}
	return out
}

func purgedBinary(name string) bool {
	for _, b := range purgedBinaries {
		if strings.HasPrefix(name, b) {
			return true
		}
	}
	return false
}

// namesUnder says whether an argument is one of dirs or names a path below one
// (also inside an option, as QEMU's file=/dir/disk).
func namesUnder(args, dirs []string) bool {
	for _, a := range args {
		for _, d := range dirs {
			if a == d || strings.Contains(a, d+"/") {
				return true
			}
		}
	}
	return false
}

// alive says whether pid is a process that has not exited (a zombie has).
func alive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	s := string(stat)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}
