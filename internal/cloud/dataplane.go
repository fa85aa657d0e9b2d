package cloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/network"
	"github.com/nimbus-cloud/nimbus/internal/network/agent"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/dhcp"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/firewall"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/l3"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/linuxbridge"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/metadata"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
	"github.com/nimbus-cloud/nimbus/internal/platform/netns"
)

// dataplaneTools are the commands the agents run; "auto" starts the data plane only
// where all of them are there (and the process is root).
var dataplaneTools = []string{"ip", "bridge", "dnsmasq", "iptables", "iptables-restore", "ip6tables", "ipset", "nft", "conntrack", "arping", "dhcp_release", "dhcp_release6"}

// dataplaneWanted decides from network.dataplane whether this process runs the
// host's agents: "on" insists (a missing tool is an error), "auto" runs them when
// it can and says why not otherwise.
func dataplaneWanted(mode string, log *slog.Logger) (bool, error) {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, t := range dataplaneTools {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	switch mode {
	case "off":
		return false, nil
	case "on":
		if len(missing) > 0 {
			return false, fmt.Errorf("network.dataplane = on, but this host lacks %s", strings.Join(missing, ", "))
		}
		return true, nil
	case "auto", "":
		if len(missing) > 0 {
			log.Warn("no network data plane: ports stay DOWN and no packets flow", "lacks", strings.Join(missing, ", "))
			return false, nil
		}
		return true, nil
	}
	return false, fmt.Errorf("network.dataplane %q: want auto, on or off", mode)
}

// hostAgent assembles the agent of this host from its [network] settings. Every host
// runs L2 and the security groups of its ports (upstream's Linux bridge agent on a
// compute node); a network node also serves DHCP and routers, and with a metadata
// lookup the metadata proxy, signing with secret (its Proxy is returned, to close
// at the end). The all-in-one host is both, as devstack's single host.
func hostAgent(ctx context.Context, cfg config.Config, ctrl agent.Controller, roles network.HostRoles,
	lookup metadata.Lookup, secret string, log *slog.Logger) (*agent.Agent, *metadata.Proxy, error) {
	n := cfg.Network
	host := dataplane.Host{Name: n.Host, Namespace: n.HostNamespace, PhysicalInterfaces: map[string]string{},
		EnableIsolatedMetadata: n.EnableIsolatedMetadata, ForceMetadata: n.ForceMetadata}
	if host.Name == "" {
		name, err := os.Hostname()
		if err != nil {
			return nil, nil, fmt.Errorf("network.host: %w", err)
		}
		host.Name = name
	}
	if n.LocalIP != "" {
		vtep, err := netip.ParseAddr(n.LocalIP)
		if err != nil {
			return nil, nil, fmt.Errorf("network.local_ip %q: %w", n.LocalIP, err)
		}
		host.VTEP = vtep
	}
	for _, m := range n.PhysicalInterfaceMappings {
		physnet, ifname, ok := strings.Cut(m, ":")
		if !ok || physnet == "" || ifname == "" {
			return nil, nil, fmt.Errorf("network.physical_interface_mappings %q: want physnet:interface", m)
		}
		host.PhysicalInterfaces[physnet] = ifname
	}
	runner := dataplane.ExecRunner{Log: log}
	log = log.With("host", host.Name)
	// The ports' parts: DHCP and the firewall first, L2 last, so that a tap joins
	// its bridge only once its filters and its DHCP entry exist (the DHCP and L3
	// parts make the bridges they plug into when they come first). Routers and the
	// metadata proxy converge after the ports are reported.
	var parts, routing []agent.Part
	var proxy *metadata.Proxy
	if roles.L3 && n.PublicInterface != "" {
		if _, mapped := host.PhysicalInterfaces["public"]; !mapped {
			peer, err := ensurePublicInterface(ctx, runner, host.Namespace, n.PublicInterface, n.PublicCIDR)
			if err != nil {
				return nil, nil, err
			}
			host.PhysicalInterfaces["public"] = peer
		}
	}
	if roles.DHCP {
		dhcpDir, err := dhcpDataDir(cfg.DataDir)
		if err != nil {
			return nil, nil, err
		}
		parts = append(parts, dhcp.New(runner, log, dhcp.Options{DataDir: dhcpDir}))
	}
	parts = append(parts, firewall.New(runner, log), linuxbridge.New(runner, log))
	if roles.L3 {
		routing = append(routing, l3.New(runner, log))
	}
	if (roles.DHCP || roles.L3) && lookup != nil {
		var err error
		proxy, err = metadata.New(metadata.Options{Runner: runner, Lookup: lookup, MetadataURL: n.MetadataURL,
			SharedSecret: secret, Log: log})
		if err != nil {
			return nil, nil, fmt.Errorf("metadata proxy: %w", err)
		}
		routing = append(routing, proxy) // after DHCP and L3: it serves in their namespaces
	}
	return &agent.Agent{Controller: ctrl, Host: host, Roles: roles, Log: log, Parts: parts, Routing: routing,
		WatchLinks: netns.WatchLinks}, proxy, nil
}

// ensurePublicInterface makes the host's side of the public network (devstack's
// br-ex): a veth whose peer the L2 agent puts on the public network's bridge, with
// the public subnet's gateway address, so the host reaches floating IPs and is the
// routers' next hop. It returns the peer's name.
func ensurePublicInterface(ctx context.Context, r dataplane.Runner, ns, name, cidr string) (string, error) {
	peer := name + "-p"
	prefix, err := netip.ParsePrefix(cidr)
	if err != nil {
		return "", fmt.Errorf("network.public_cidr %q: %w", cidr, err)
	}
	gateway := netip.PrefixFrom(prefix.Masked().Addr().Next(), prefix.Bits())
	links, err := dataplane.Links(ctx, r, ns)
	if err != nil {
		return "", err
	}
	if _, ok := links[name]; !ok {
		if _, err := r.Run(ctx, ns, "ip", "link", "add", name, "type", "veth", "peer", "name", peer); err != nil {
			return "", fmt.Errorf("public interface: %w", err)
		}
	}
	for _, args := range [][]string{
		{"addr", "replace", gateway.String(), "dev", name},
		{"link", "set", name, "up"},
		{"link", "set", peer, "up"},
	} {
		if _, err := r.Run(ctx, ns, "ip", args...); err != nil {
			return "", fmt.Errorf("public interface: %w", err)
		}
	}
	return peer, nil
}

// RunDir is where the cloud of dataDir keeps what must be searchable by
// unprivileged processes (the DHCP agent's files, in dhcp/ below it), under /run:
// named after the data dir, so tests and benches that run a throw-away cloud can
// find and remove it.
func RunDir(dataDir string) string {
	sum := sha256.Sum256([]byte(dataDir))
	return filepath.Join("/run/nimbus", hex.EncodeToString(sum[:6]))
}

// dhcpDataDir is where the DHCP agent keeps its per-network files (in dhcp/ below
// it). dnsmasq drops its privileges and re-reads them on SIGHUP, so the path must
// be searchable by everyone, which the data dir (mode 0700, secrets inside) is not:
// it lives under /run, named after the data dir, and goes at reboot together with
// the namespaces and processes it describes.
func dhcpDataDir(dataDir string) (string, error) {
	dir := RunDir(dataDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("DHCP directory: %w", err)
	}
	for d := dir; d != "/run"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			return "", fmt.Errorf("DHCP directory: %w", err)
		}
	}
	return dir, nil
}
