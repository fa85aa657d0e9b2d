// Package agent runs the data plane of one host: it reads the host's desired state
// from the network service and has every part (L2, DHCP, L3, firewall) converge the
// host to it, after each change and on a periodic resync, then reports what it
// observed (ports wired) and that it is alive. It is level-triggered: it never
// acts on events, only on the whole state, so a missed signal or a crash costs
// nothing but the time to the next pass.
package agent

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network"
	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// Controller is what the agent needs from the network service.
type Controller interface {
	EnsureDHCPPorts(ctx context.Context, host string) error
	HostState(ctx context.Context, host dataplane.Host, roles network.HostRoles) (dataplane.State, error)
	SetPortStatus(ctx context.Context, status string, ids ...string) error
	ReportAgent(ctx context.Context, agentType, binary, host string, configurations map[string]any) error
	Changes() <-chan struct{}
}

var _ Controller = (*network.Service)(nil)

// Part is one piece of the data plane.
type Part interface {
	Name() string
	// Converge makes the host match st and returns the IDs of the ports it has
	// wired (for the L2 part; others return nil).
	Converge(ctx context.Context, st dataplane.State) (wired []string, err error)
}

// Agent converges one host.
type Agent struct {
	Controller Controller
	Host       dataplane.Host
	Roles      network.HostRoles
	// Parts wire the host's ports, in order; the ports they wired are reported
	// ACTIVE as soon as they have all run (upstream's provisioning blocks: the L2
	// agent and the DHCP agent), before Routing runs.
	Parts []Part
	// Routing converges after that report (L3, the metadata proxy): a boot waits
	// for its own port, not for every router of the host.
	Routing []Part
	// WatchLinks, when set, names the links that appear in a namespace of the host
	// (netns.WatchLinks): the tap a port waits for wakes a pass at once, not at the
	// next change or resync.
	WatchLinks func(ctx context.Context, namespace string) (<-chan string, error)
	// Resync is the period of full passes without any change (default 30 s).
	Resync time.Duration
	Log    *slog.Logger

	wired    [2][]string       // of Parts and of Routing: ports reported ACTIVE by the last pass
	pending  map[string]bool   // taps of ports the last pass could not wire yet
	reported map[string]report // by agent type: the last heartbeat sent
	now      func() time.Time  // for tests
}

// A waiter is a part with ports it would wire but whose device does not exist
// yet (the L2 part: the tap the compute agent has still to make).
type waiter interface {
	Pending() []string
}

// Run converges until ctx ends.
func (a *Agent) Run(ctx context.Context) {
	if a.Resync <= 0 {
		a.Resync = 30 * time.Second
	}
	var links <-chan string
	if a.WatchLinks != nil {
		var err error
		if links, err = a.WatchLinks(ctx, a.Host.Namespace); err != nil {
			a.log().Warn("no watch of the host's links: a tap made after its port's pass waits for the next change",
				"host", a.Host.Name, "error", err)
		}
	}
	t := time.NewTicker(a.Resync)
	defer t.Stop()
	for {
		if err := a.Pass(ctx); err != nil && ctx.Err() == nil {
			a.log().Warn("network agent pass", "host", a.Host.Name, "error", err)
		}
		if !a.wait(ctx, t.C, links) {
			return
		}
	}
}

// wait blocks until the next pass is due: a change, the resync, or a tap a port
// was waiting for; false when ctx ended.
func (a *Agent) wait(ctx context.Context, resync <-chan time.Time, links <-chan string) bool {
	for {
		select {
		case <-ctx.Done():
			return false
		case <-a.Controller.Changes():
			return true
		case <-resync:
			return true
		case name, open := <-links:
			if !open {
				links = nil // the watcher ended: changes and the resync remain
				continue
			}
			if a.pending[name] {
				return true
			}
		}
	}
}

// Pass is one full convergence of the host.
func (a *Agent) Pass(ctx context.Context) error {
	if a.Roles.DHCP {
		if err := a.Controller.EnsureDHCPPorts(ctx, a.Host.Name); err != nil {
			return err
		}
	}
	st, err := a.Controller.HostState(ctx, a.Host, a.Roles)
	if err != nil {
		return err
	}
	pending := map[string]bool{}
	errs := []error{a.converge(ctx, st, 0, a.Parts, pending), a.converge(ctx, st, 1, a.Routing, pending)}
	a.pending = pending
	if err := a.report(ctx, st); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// converge runs parts, then reports the ports they wired ACTIVE and those they
// no longer wire DOWN (phase 0 is Parts, 1 Routing: which of a.wired they are
// compared with); taps the parts wait for are added to pending.
func (a *Agent) converge(ctx context.Context, st dataplane.State, phase int, parts []Part, pending map[string]bool) error {
	var errs []error
	var wired []string
	for _, p := range parts {
		w, err := p.Converge(ctx, st)
		if err != nil {
			errs = append(errs, err)
			a.log().Warn("data plane part failed", "part", p.Name(), "host", a.Host.Name, "error", err)
		}
		wired = append(wired, w...)
		if wp, ok := p.(waiter); ok {
			for _, id := range wp.Pending() {
				pending[dataplane.TapName(id)] = true
			}
		}
	}
	slices.Sort(wired)
	wired = slices.Compact(wired)
	var up, down []string
	for _, id := range wired {
		if !slices.Contains(a.wired[phase], id) {
			up = append(up, id)
		}
	}
	// A port both phases wire (a router's: L2 and L3) is DOWN only once neither does.
	other := a.wired[1-phase]
	for _, id := range a.wired[phase] {
		if !slices.Contains(wired, id) && !slices.Contains(other, id) {
			down = append(down, id)
		}
	}
	if err := a.Controller.SetPortStatus(ctx, "ACTIVE", up...); err != nil {
		errs = append(errs, err)
	}
	if err := a.Controller.SetPortStatus(ctx, "DOWN", down...); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		a.wired[phase] = wired
	}
	return errors.Join(errs...)
}

func (a *Agent) log() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}
