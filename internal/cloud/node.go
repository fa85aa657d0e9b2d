package cloud

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	computeagent "github.com/nimbus-cloud/nimbus/internal/compute/agent"
	"github.com/nimbus-cloud/nimbus/internal/network"
	"github.com/nimbus-cloud/nimbus/internal/network/agent"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane/metadata"
	"github.com/nimbus-cloud/nimbus/internal/platform/bus"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
)

// Roles of a host joined to a cloud (nimbus serve --role).
const (
	// RoleCompute hosts instances: the L2 agent and the security groups of its ports.
	RoleCompute = "compute"
	// RoleNetwork serves DHCP and routers (upstream's network node).
	RoleNetwork = "network"
)

// Node is a host joined to a cloud by nimbus serve: its agents work from the cloud's
// desired state through the bus, with no database or API of its own, so it keeps
// nothing that a restart could lose.
type Node struct {
	log    *slog.Logger
	bus    *bus.Bus
	remote *agent.Remote
	agent  *agent.Agent
	// compute is the compute agent (RoleCompute), computeRemote its conductor.
	compute       *computeagent.Agent
	computeRemote *computeagent.Remote
	metadata      *metadata.Proxy
	// Host is the name ports are bound to and the agent list shows.
	Host string
}

// StartNode joins the cloud at cfg.Bus.URL with roles.
func StartNode(ctx context.Context, cfg config.Config, roles []string, log *slog.Logger) (*Node, error) {
	if cfg.Bus.URL == "" {
		return nil, errors.New("nimbus serve joins a cloud: set [bus] url (the cloud's join.toml has it)")
	}
	var hostRoles network.HostRoles
	if len(roles) == 0 {
		return nil, errors.New("no role: want compute, network or both")
	}
	for _, r := range roles {
		switch r {
		case RoleCompute:
		case RoleNetwork:
			hostRoles = network.HostRoles{DHCP: true, L3: true}
		default:
			return nil, fmt.Errorf("role %q: nimbus serve runs compute and network hosts (the APIs run in nimbus up)", r)
		}
	}
	if on, err := dataplaneWanted(cfg.Network.Dataplane, log); err != nil {
		return nil, err
	} else if !on {
		return nil, fmt.Errorf("roles %v need the network data plane, which network.dataplane = %q turns off", roles, cfg.Network.Dataplane)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	n := &Node{log: log}
	ok := false
	defer func() {
		if !ok {
			n.close()
		}
	}()
	var err error
	if n.bus, err = bus.Start(bus.Options{URL: cfg.Bus.URL, Log: log}); err != nil {
		return nil, err
	}
	if n.remote, err = agent.NewRemote(n.bus); err != nil {
		return nil, err
	}
	// A network node's metadata proxy looks instances up over the bus too.
	if n.agent, n.metadata, err = hostAgent(ctx, cfg, n.remote, hostRoles, n.remote, cfg.Network.MetadataSecret, log); err != nil {
		return nil, fmt.Errorf("network data plane: %w", err)
	}
	n.Host = n.agent.Host.Name
	if slices.Contains(roles, RoleCompute) {
		if err := n.startCompute(cfg); err != nil {
			return nil, fmt.Errorf("compute agent: %w", err)
		}
	}
	log.Info("joined the cloud", "bus", n.bus.Redacted(), "host", n.Host, "roles", slices.Clone(roles))
	ok = true
	return n, nil
}

// startCompute runs the host's compute agent, its conductor over the bus.
func (n *Node) startCompute(cfg config.Config) error {
	var err error
	if n.computeRemote, err = computeagent.NewRemote(n.bus); err != nil {
		return err
	}
	instances := filepath.Join(cfg.DataDir, "instances")
	driver, plumbing, err := computeDriver(cfg, instances, n.computeRemote, n.computeRemote, n.log)
	if err != nil || driver == nil {
		return err
	}
	opts := computeagent.Options{Host: n.Host, Driver: driver, Controller: n.computeRemote, InstancesDir: instances,
		Accelerator: cfg.Compute.Accelerator, Zone: cfg.Compute.DefaultAvailabilityZone, Log: n.log}
	if plumbing != nil {
		// A joined host always has a data plane: real guests start once their
		// taps are wired (the fake driver has none).
		opts.Plumbing, opts.VIFWait = plumbing, 300*time.Second
	}
	if n.compute, err = computeagent.New(opts); err != nil {
		return err
	}
	return computeagent.ServeHostCalls(n.bus, n.compute)
}

// Serve runs the agents until ctx ends.
func (n *Node) Serve(ctx context.Context) error {
	defer n.close()
	var wg sync.WaitGroup
	if n.compute != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.compute.Run(ctx)
		}()
	}
	n.agent.Run(ctx)
	wg.Wait()
	return nil
}

func (n *Node) close() {
	if n.metadata != nil {
		n.metadata.Close()
	}
	if n.remote != nil {
		n.remote.Close()
	}
	if n.computeRemote != nil {
		n.computeRemote.Close()
	}
	if n.bus != nil {
		n.bus.Close()
	}
}
