package cloud

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
)

// dataplaneTools are the commands the agents run; "auto" starts the data plane only
// where all of them are there (and the process is root).
var dataplaneTools = []string{"ip", "bridge", "dnsmasq", "iptables", "iptables-restore", "ip6tables", "ipset", "nft", "conntrack", "arping"}

// dataplaneWanted decides from network.dataplane whether this process runs the
// host's agents: "on" insists (a missing tool is an error), "auto" runs them when
// it can and says why not otherwise.
func (c *Cloud) dataplaneWanted() (bool, error) {
	mode := c.cfg.Network.Dataplane
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
			c.log.Warn("no network data plane: ports stay DOWN and no packets flow", "lacks", strings.Join(missing, ", "))
			return false, nil
		}
		return true, nil
	}
	return false, fmt.Errorf("network.dataplane %q: want auto, on or off", mode)
}

// newAgent assembles the all-in-one host's agent: it is compute and network node
// at once (L2, DHCP, L3, security groups and the metadata proxy), as devstack's
// single host.
func (c *Cloud) newAgent(ctx context.Context, secrets Secrets) (*agent.Agent, error) {
	cfg := c.cfg.Network
	host := dataplane.Host{Name: cfg.Host, Namespace: cfg.HostNamespace, PhysicalInterfaces: map[string]string{}}
	if host.Name == "" {
		name, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("network.host: %w", err)
		}
		host.Name = name
	}
	if cfg.LocalIP != "" {
		vtep, err := netip.ParseAddr(cfg.LocalIP)
		if err != nil {
			return nil, fmt.Errorf("network.local_ip %q: %w", cfg.LocalIP, err)
		}
		host.VTEP = vtep
	}
	for _, m := range cfg.PhysicalInterfaceMappings {
		physnet, ifname, ok := strings.Cut(m, ":")
		if !ok || physnet == "" || ifname == "" {
			return nil, fmt.Errorf("network.physical_interface_mappings %q: want physnet:interface", m)
		}
		host.PhysicalInterfaces[physnet] = ifname
	}
	runner := dataplane.ExecRunner{Log: c.log}
	if cfg.PublicInterface != "" {
		if _, mapped := host.PhysicalInterfaces["public"]; !mapped {
			peer, err := c.ensurePublicInterface(ctx, runner, host.Namespace)
			if err != nil {
				return nil, err
			}
			host.PhysicalInterfaces["public"] = peer
		}
	}
	dhcpDir, err := dhcpDataDir(c.cfg.DataDir)
	if err != nil {
		return nil, err
	}
	log := c.log.With("host", host.Name)
	secret := cfg.MetadataSecret
	if secret == "" {
		secret = secrets.MetadataProxy
	}
	proxy, err := metadata.New(metadata.Options{Runner: runner, Lookup: c.network, MetadataURL: cfg.MetadataURL,
		SharedSecret: secret, Log: log})
	if err != nil {
		return nil, fmt.Errorf("metadata proxy: %w", err)
	}
	c.metadata = proxy
	return &agent.Agent{
		Controller: c.network, Host: host, Roles: network.HostRoles{DHCP: true, L3: true}, Log: log,
		// L2 first: the others plug into its bridges; the firewall last, once every tap exists.
		Parts: []agent.Part{
			linuxbridge.New(runner, log),
			dhcp.New(runner, log, dhcp.Options{DataDir: dhcpDir}),
			l3.New(runner, log),
			firewall.New(runner, log),
			proxy, // after L3: it serves in the router namespaces
		},
	}, nil
}

// ensurePublicInterface makes the host's side of the public network (devstack's
// br-ex): a veth whose peer the L2 agent puts on the public network's bridge, with
// the public subnet's gateway address, so the host reaches floating IPs and is the
// routers' next hop. It returns the peer's name.
func (c *Cloud) ensurePublicInterface(ctx context.Context, r dataplane.Runner, ns string) (string, error) {
	name := c.cfg.Network.PublicInterface
	peer := name + "-p"
	prefix, err := netip.ParsePrefix(c.cfg.Network.PublicCIDR)
	if err != nil {
		return "", fmt.Errorf("network.public_cidr %q: %w", c.cfg.Network.PublicCIDR, err)
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
