package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/nimbus-cloud/nimbus/internal/cloud"
	"github.com/nimbus-cloud/nimbus/internal/platform/config"
)

// upHosts are the compute hosts' agents of one nimbus up (none without
// --compute-hosts).
type upHosts struct {
	agents *cloud.HostAgents // nil: no compute hosts
}

// startHostAgents starts the agents of layout's compute hosts once the cloud
// serves its bus (they join with the join.toml it wrote), and restarts those
// that died on SIGHUP.
func startHostAgents(ctx context.Context, cfg config.Config, layout *cloud.HostsLayout, log *slog.Logger) (upHosts, error) {
	if layout == nil || len(layout.Hosts) == 0 {
		return upHosts{}, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return upHosts{}, fmt.Errorf("compute hosts: %w", err)
	}
	a := cloud.NewHostAgents(cfg, layout, exe, log)
	if err := a.Start(ctx); err != nil {
		a.Stop()
		return upHosts{}, err
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: starting the compute hosts' agents that are not running")
				a.Restart(ctx)
			}
		}
	}()
	return upHosts{agents: a}, nil
}

// stopFirst is the context the cloud serves in: when ctx ends, the hosts'
// agents stop before the cloud closes its bus under them.
func (h upHosts) stopFirst(ctx context.Context) context.Context {
	if h.agents == nil {
		return ctx
	}
	serve, cancel := context.WithCancel(context.Background())
	go func() {
		<-ctx.Done()
		h.agents.Stop()
		cancel()
	}()
	return serve
}

// stop stops the agents (done already when the cloud stopped on a signal).
func (h upHosts) stop() {
	if h.agents != nil {
		h.agents.Stop()
	}
}
