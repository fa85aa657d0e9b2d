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
	Parts      []Part
	// Resync is the period of full passes without any change (default 30 s).
	Resync time.Duration
	Log    *slog.Logger

	wired    []string          // ports reported ACTIVE by the last pass
	reported map[string]report // by agent type: the last heartbeat sent
	now      func() time.Time  // for tests
}

// Run converges until ctx ends.
func (a *Agent) Run(ctx context.Context) {
	if a.Resync <= 0 {
		a.Resync = 30 * time.Second
	}
	t := time.NewTicker(a.Resync)
	defer t.Stop()
	for {
		if err := a.Pass(ctx); err != nil && ctx.Err() == nil {
			a.log().Warn("network agent pass", "host", a.Host.Name, "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-a.Controller.Changes():
		case <-t.C:
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
	var errs []error
	var wired []string
	for _, p := range a.Parts {
		w, err := p.Converge(ctx, st)
		if err != nil {
			errs = append(errs, err)
			a.log().Warn("data plane part failed", "part", p.Name(), "host", a.Host.Name, "error", err)
		}
		wired = append(wired, w...)
	}
	slices.Sort(wired)
	wired = slices.Compact(wired)
	var up, down []string
	for _, id := range wired {
		if !slices.Contains(a.wired, id) {
			up = append(up, id)
		}
	}
	for _, id := range a.wired {
		if !slices.Contains(wired, id) {
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
		a.wired = wired
	}
	if err := a.report(ctx, st); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (a *Agent) log() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}
