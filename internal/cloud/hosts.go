package cloud

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/nimbus-cloud/nimbus/internal/platform/fsutil"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
)

// The compute hosts of `nimbus up --compute-hosts N` are simulated on this
// machine as the e2e tests' two-host bed does it, made a product feature: each
// host is a network namespace playing its root namespace, joined by a veth to
// one bridge in the all-in-one's host namespace (the "physical" network), with
// an address on it that is its VXLAN tunnel endpoint. Each runs its own agent
// (`nimbus serve --role compute`, a child process of nimbus up, so one can be
// killed alone). What up made is written to StateFile, so a later up on the
// same data directory adopts it and `nimbus down --purge` finds it even after
// a kill -9.

// StateFile is what nimbus up made on this machine, in the data directory.
const StateFile = "up-state.json"

// underlayRange is where each cloud's underlay takes a /24: RFC 2544's
// benchmarking range, which no real network routes.
var underlayRange = netip.MustParsePrefix("198.18.0.0/15")

// HostsLayout is what nimbus up made on this machine, read by a later up and by
// nimbus down --purge (which may run with none of up's flags or environment):
// its host's data plane and the compute hosts of --compute-hosts. Every name
// of the compute hosts carries ID, derived from the data directory, so two
// clouds on one machine never take each other's devices.
type HostsLayout struct {
	// ID names this cloud's devices and namespaces (6 hex digits).
	ID string `json:"id"`
	// Host is the all-in-one's host name; Dataplane whether it ran the data
	// plane (in HostNamespace), and PublicInterface the veth it made there
	// ("" when none).
	Host            string `json:"host"`
	Dataplane       bool   `json:"dataplane"`
	PublicInterface string `json:"public_interface,omitempty"`
	// HostNamespace is the all-in-one's host namespace ("" is the real root
	// namespace), where Bridge and the hosts' veths are.
	HostNamespace string `json:"host_namespace"`
	// Bridge is the shared "physical" network; it holds Underlay's first address,
	// the all-in-one's tunnel endpoint.
	Bridge   string        `json:"bridge"`
	Underlay string        `json:"underlay"`
	Hosts    []ComputeHost `json:"hosts"`
}

// ComputeHost is one simulated compute host.
type ComputeHost struct {
	// Name is its host name (<all-in-one host>-c<i>): port bindings, the service
	// and agent lists.
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// Veth is its link's end in the host namespace (phys0 inside its own).
	Veth string `json:"veth"`
	// Address is its tunnel endpoint on the underlay.
	Address string `json:"address"`
	DataDir string `json:"data_dir"`
	// PID is its agent's process, while up runs it.
	PID int `json:"pid,omitempty"`
}

// CloudID is the identity a cloud's host-wide names carry: a hash of its data
// directory, as RunDir's.
func CloudID(dataDir string) string {
	sum := sha256.Sum256([]byte(dataDir))
	return fmt.Sprintf("%x", sum[:3])
}

// LoadHostsLayout reads the layout of the cloud in dataDir (nil when it has none).
func LoadHostsLayout(dataDir string) (*HostsLayout, error) {
	data, err := os.ReadFile(filepath.Join(dataDir, StateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read compute hosts: %w", err)
	}
	var l HostsLayout
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("read %s: %w", StateFile, err)
	}
	return &l, nil
}

// Save writes the layout (through a rename: a crash leaves the old or the new).
func (l *HostsLayout) Save(dataDir string) error {
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(filepath.Join(dataDir, StateFile), append(data, '\n'), 0o600)
}

// PrepareHosts records what this start of nimbus up makes on the machine and
// makes the compute hosts' underlay: n hosts, or as many as a previous up on
// the data directory made if that is more (hosts are never dropped: their
// guests and port bindings would be orphaned). It sets cfg's tunnel endpoint
// when there are compute hosts.
func PrepareHosts(ctx context.Context, cfg *config.Config, n int, log *slog.Logger) (*HostsLayout, error) {
	l, err := LoadHostsLayout(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if l == nil {
		id := CloudID(cfg.DataDir)
		l = &HostsLayout{ID: id, HostNamespace: cfg.Network.HostNamespace, Bridge: "nh" + id}
	}
	if len(l.Hosts) > 0 && l.HostNamespace != cfg.Network.HostNamespace {
		return nil, fmt.Errorf("the compute hosts of %s hang off host namespace %q, not network.host_namespace %q: run nimbus down --purge first",
			cfg.DataDir, l.HostNamespace, cfg.Network.HostNamespace)
	}
	l.HostNamespace = cfg.Network.HostNamespace
	if l.Host, err = hostName(*cfg); err != nil {
		return nil, err
	}
	on, err := dataplaneWanted(cfg.Network.Dataplane, log)
	if err != nil {
		return nil, err
	}
	if !on && max(n, len(l.Hosts)) > 0 {
		return nil, fmt.Errorf("compute hosts need the network data plane (root, and network.dataplane auto or on)")
	}
	// Once a data plane ran, purge cleans it even if this start has none.
	l.Dataplane = l.Dataplane || on
	if on && cfg.Network.PublicInterface != "" && !mapsPublic(cfg.Network.PhysicalInterfaceMappings) {
		l.PublicInterface = cfg.Network.PublicInterface
	}
	if n > len(l.Hosts) && l.Underlay == "" {
		underlay, err := freeUnderlay(ctx, cfg.DataDir, cfg.Network.HostNamespace)
		if err != nil {
			return nil, err
		}
		l.Underlay = underlay.String()
	}
	for i := len(l.Hosts) + 1; i <= n; i++ {
		if i > 250 {
			return nil, fmt.Errorf("--compute-hosts %d: at most 250", n)
		}
		addr := l.Gateway().Addr()
		for range i {
			addr = addr.Next()
		}
		l.Hosts = append(l.Hosts, ComputeHost{
			Name:      fmt.Sprintf("%s-c%d", l.Host, i),
			Namespace: fmt.Sprintf("nimbus-%s-c%d", l.ID, i),
			Veth:      fmt.Sprintf("nh%s-c%d", l.ID, i),
			Address:   addr.String(),
			DataDir:   filepath.Join(cfg.DataDir, "hosts", fmt.Sprintf("c%d", i)),
		})
	}
	// Recorded before anything is made: a crash half-way leaves it findable.
	if err := l.Save(cfg.DataDir); err != nil {
		return nil, err
	}
	if len(l.Hosts) > 0 {
		if _, err := netip.ParsePrefix(l.Underlay); err != nil {
			return nil, fmt.Errorf("%s: underlay %q: %w", StateFile, l.Underlay, err)
		}
		l.Configure(cfg)
		if err := l.Ensure(ctx, dataplane.ExecRunner{Log: log}); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// hostName is this host's name in the data plane: network.host or the machine's.
func hostName(cfg config.Config) (string, error) {
	if cfg.Network.Host != "" {
		return cfg.Network.Host, nil
	}
	name, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("network.host: %w", err)
	}
	return name, nil
}

// mapsPublic says whether the physical network "public" is mapped to an
// interface of the host's own (then no public interface is made).
func mapsPublic(mappings []string) bool {
	for _, m := range mappings {
		if physnet, _, _ := strings.Cut(m, ":"); physnet == "public" {
			return true
		}
	}
	return false
}

// Gateway is the all-in-one's address on the underlay (its tunnel endpoint).
func (l *HostsLayout) Gateway() netip.Prefix {
	p := netip.MustParsePrefix(l.Underlay)
	return netip.PrefixFrom(p.Addr().Next(), p.Bits())
}

// freeUnderlay picks the /24 of underlayRange for the cloud of dataDir: the one
// its hash names, or the next no address of this machine is in.
func freeUnderlay(ctx context.Context, dataDir, hostNS string) (netip.Prefix, error) {
	used := map[netip.Prefix]bool{}
	r := dataplane.ExecRunner{}
	for _, ns := range []string{"", hostNS} {
		out, err := r.Run(ctx, ns, "ip", "-o", "addr", "show")
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("list addresses: %w", err)
		}
		for _, f := range strings.Fields(string(out)) {
			if p, err := netip.ParsePrefix(f); err == nil && underlayRange.Contains(p.Addr()) {
				used[netip.PrefixFrom(p.Addr(), 24).Masked()] = true
			}
		}
	}
	sum := sha256.Sum256([]byte(dataDir))
	start := int(binary.BigEndian.Uint16(sum[:2])) % 512
	base := underlayRange.Addr().As4()
	for i := range 512 {
		k := (start + i) % 512
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{base[0], base[1] + byte(k/256), byte(k % 256), 0}), 24)
		if !used[p] {
			return p, nil
		}
	}
	return netip.Prefix{}, errors.New("no free /24 left in 198.18.0.0/15 for the compute hosts' underlay")
}

// Ensure makes the underlay (idempotent: what exists is left as it is): the
// bridge with the gateway address, and for each host its namespace, its veth
// on the bridge and its address, with a default route through the gateway so
// it also reaches a tunnel endpoint the all-in-one was given by hand.
func (l *HostsLayout) Ensure(ctx context.Context, r dataplane.Runner) error {
	links, err := dataplane.Links(ctx, r, l.HostNamespace)
	if err != nil {
		return err
	}
	run := func(ns string, args ...string) error {
		_, err := r.Run(ctx, ns, "ip", args...)
		return err
	}
	if _, ok := links[l.Bridge]; !ok {
		if err := run(l.HostNamespace, "link", "add", l.Bridge, "type", "bridge"); err != nil {
			return fmt.Errorf("underlay bridge: %w", err)
		}
	}
	if err := run(l.HostNamespace, "addr", "replace", l.Gateway().String(), "dev", l.Bridge); err != nil {
		return fmt.Errorf("underlay bridge: %w", err)
	}
	if err := run(l.HostNamespace, "link", "set", l.Bridge, "up"); err != nil {
		return fmt.Errorf("underlay bridge: %w", err)
	}
	namespaces, err := listNamespaces(ctx, r)
	if err != nil {
		return err
	}
	bits := netip.MustParsePrefix(l.Underlay).Bits()
	for _, h := range l.Hosts {
		if !namespaces[h.Namespace] {
			if err := run("", "netns", "add", h.Namespace); err != nil {
				return fmt.Errorf("compute host %s: %w", h.Name, err)
			}
		}
		if _, ok := links[h.Veth]; !ok {
			// A veth whose peer went with a deleted namespace is gone too; one
			// half made by a crash is made again.
			_ = run(h.Namespace, "link", "del", "phys0")
			if err := run(l.HostNamespace, "link", "add", h.Veth, "type", "veth", "peer", "name", "phys0", "netns", h.Namespace); err != nil {
				return fmt.Errorf("compute host %s: %w", h.Name, err)
			}
		}
		for _, step := range []struct {
			ns   string
			args []string
		}{
			{l.HostNamespace, []string{"link", "set", h.Veth, "master", l.Bridge, "up"}},
			{h.Namespace, []string{"link", "set", "lo", "up"}},
			{h.Namespace, []string{"addr", "replace", netip.PrefixFrom(netip.MustParseAddr(h.Address), bits).String(), "dev", "phys0"}},
			{h.Namespace, []string{"link", "set", "phys0", "up"}},
			{h.Namespace, []string{"route", "replace", "default", "via", l.Gateway().Addr().String()}},
		} {
			if err := run(step.ns, step.args...); err != nil {
				return fmt.Errorf("compute host %s: %w", h.Name, err)
			}
		}
	}
	return nil
}

// listNamespaces are the names `ip netns list` shows.
func listNamespaces(ctx context.Context, r dataplane.Runner) (map[string]bool, error) {
	out, err := r.Run(ctx, "", "ip", "netns", "list")
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	names := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if name, _, _ := strings.Cut(strings.TrimSpace(line), " "); name != "" {
			names[name] = true
		}
	}
	return names, nil
}

// Configure sets what the all-in-one needs to reach its compute hosts: its
// tunnel endpoint on the underlay, unless one was given.
func (l *HostsLayout) Configure(cfg *config.Config) {
	if cfg.Network.LocalIP == "" || cfg.Network.LocalIP == config.Default().Network.LocalIP {
		cfg.Network.LocalIP = l.Gateway().Addr().String()
	}
}

// AgentEnv is the environment (NIMBUS_*) of host h's agent beside the cloud's
// join.toml: its name, namespace and tunnel endpoint, and the all-in-one's
// compute and log settings, so a --config given to up holds for its hosts too.
func (l *HostsLayout) AgentEnv(cfg config.Config, h ComputeHost) []string {
	return []string{
		"NIMBUS_NETWORK_DATAPLANE=on",
		"NIMBUS_NETWORK_HOST=" + h.Name,
		"NIMBUS_NETWORK_HOST_NAMESPACE=" + h.Namespace,
		"NIMBUS_NETWORK_LOCAL_IP=" + h.Address,
		"NIMBUS_COMPUTE_DRIVER=" + cfg.Compute.Driver,
		"NIMBUS_COMPUTE_ACCELERATOR=" + cfg.Compute.Accelerator,
		"NIMBUS_COMPUTE_DEFAULT_AZ=" + cfg.Compute.DefaultAvailabilityZone,
		"NIMBUS_COMPUTE_FAKE_SPAWN_TIME=" + cfg.Compute.FakeSpawnTime.Duration.String(),
		"NIMBUS_LOG_LEVEL=" + cfg.Log.Level,
		"NIMBUS_LOG_FORMAT=" + cfg.Log.Format,
		"NIMBUS_LOG_FILE=",
		"NIMBUS_DATA_DIR=" + h.DataDir,
	}
}
