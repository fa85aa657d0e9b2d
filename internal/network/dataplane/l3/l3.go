// Package l3 is the L3 agent's data plane: each router of the host's desired state
// becomes a namespace qrouter-<router-id> with forwarding on, a qr- device per tenant
// interface and a qg- device on the external network (veth pairs whose tap<port>
// ends are on the networks' bridges), a default route via the external gateway,
// extra routes, and NAT in an nftables table of its own (SNAT of the tenant subnets,
// floating IPs as DNAT+SNAT pairs). Converge is level-triggered: it observes what is
// there, changes only what differs, and removes the routers (namespace, devices,
// rules) that are no longer wanted.
package l3

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// Agent converges the routers of one host.
type Agent struct {
	Runner dataplane.Runner
	Log    *slog.Logger
	// GARP sends gratuitous ARPs for newly added floating IPs (default: arping in
	// the router namespace, in the background). Tests may replace it.
	GARP func(ns, dev, ip string)

	mu      sync.Mutex
	applied map[string]string // router namespace -> `nft list table` right after our last change
	garps   sync.WaitGroup
}

// New returns an agent that runs its commands with r.
func New(r dataplane.Runner, log *slog.Logger) *Agent {
	return &Agent{Runner: r, Log: log}
}

// Name implements the network agent's Part.
func (a *Agent) Name() string { return "l3" }

// Wait waits for the gratuitous ARPs still being sent.
func (a *Agent) Wait() { a.garps.Wait() }

// Converge makes the host's routers match st and returns the IDs of the router
// ports it has wired.
func (a *Agent) Converge(ctx context.Context, st dataplane.State) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.applied == nil {
		a.applied = map[string]string{}
	}
	owner := Owner(st.Host)
	nss, err := dataplane.Namespaces(ctx, a.Runner)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	var wired []string
	var errs []error
	for _, r := range st.Routers {
		if !r.AdminStateUp {
			continue // as upstream, an admin-down router is unscheduled: torn down
		}
		ns := dataplane.RouterNamespace(r.ID)
		want[ns] = true
		w, err := a.router(ctx, st, owner, r, nss[ns])
		if err != nil {
			errs = append(errs, fmt.Errorf("router %s: %w", r.ID, err))
		}
		wired = append(wired, w...)
	}
	for ns := range nss {
		if !strings.HasPrefix(ns, "qrouter-") || want[ns] {
			continue
		}
		if err := a.removeRouter(ctx, st.Host, owner, ns); err != nil {
			errs = append(errs, err)
		}
	}
	return wired, errors.Join(errs...)
}

// Owner is the mark a host leaves in the routers it makes, so that simulated hosts
// sharing one machine (and the real host) never remove each other's routers.
func Owner(h dataplane.Host) string {
	s := h.Name
	if h.Namespace != "" {
		s += "@" + h.Namespace
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:@-", r) {
			return r
		}
		return '_'
	}, s)
}

// removeRouter deletes a router namespace that is ours: marked with our owner, or,
// on the real host, unmarked (a crash between creating the namespace and marking
// it). Deleting the namespace destroys its veth pairs, so their taps go too.
func (a *Agent) removeRouter(ctx context.Context, h dataplane.Host, owner, ns string) error {
	o, _, _, ok := tableMark(ctx, a.Runner, ns)
	if ok && o != owner || !ok && h.Namespace != "" {
		return nil
	}
	a.log().Info("removing router", "netns", ns)
	// Delete the devices first: a namespace that something still holds open (a
	// process, a socket) lingers after `ip netns del`, and its veths with it.
	if ls, err := dataplane.Links(ctx, a.Runner, ns); err == nil {
		for name := range ls {
			if strings.HasPrefix(name, "qr-") || strings.HasPrefix(name, "qg-") {
				_, _ = a.Runner.Run(ctx, ns, "ip", "link", "del", name)
			}
		}
	}
	if _, err := a.Runner.Run(ctx, "", "ip", "netns", "del", ns); err != nil {
		return err
	}
	delete(a.applied, ns)
	return nil
}

// router converges one router.
func (a *Agent) router(ctx context.Context, st dataplane.State, owner string, r dataplane.Router, exists bool) ([]string, error) {
	ns := dataplane.RouterNamespace(r.ID)
	if !exists {
		if _, err := a.Runner.Run(ctx, "", "ip", "netns", "add", ns); err != nil {
			return nil, err
		}
	} else if o, _, _, ok := tableMark(ctx, a.Runner, ns); ok && o != owner {
		return nil, fmt.Errorf("namespace %s belongs to %q", ns, o)
	}
	// Mark the namespace as ours straight away (the NAT table carries the owner).
	if err := a.nat(ctx, owner, r); err != nil {
		return nil, err
	}
	if err := a.sysctls(ctx, ns); err != nil {
		return nil, err
	}
	newFIPs, wired, err := a.devices(ctx, st, r)
	if err != nil {
		return wired, err
	}
	if err := a.routes(ctx, r); err != nil {
		return wired, err
	}
	if r.Gateway != nil {
		qg := dataplane.RouterGatewayName(r.Gateway.Port.ID)
		for _, ip := range newFIPs {
			a.garp(ns, qg, ip.String())
		}
	}
	return wired, nil
}

// nat applies the router's table unless it already holds the same content.
func (a *Agent) nat(ctx context.Context, owner string, r dataplane.Router) error {
	ns := dataplane.RouterNamespace(r.ID)
	script, sum := renderTable(owner, r)
	_, have, listing, ok := tableMark(ctx, a.Runner, ns)
	if ok && have == sum {
		// Unchanged since our last apply (or, after a restart, since the last
		// agent's): nothing to do. A listing that differs from the one we saw right
		// after applying means someone edited the table: apply again.
		if last, seen := a.applied[ns]; !seen || last == listing {
			a.applied[ns] = listing
			return nil
		}
	}
	if _, err := a.Runner.Run(ctx, ns, "nft", script); err != nil {
		return err
	}
	_, _, listing, _ = tableMark(ctx, a.Runner, ns)
	a.applied[ns] = listing
	return nil
}

func (a *Agent) sysctls(ctx context.Context, ns string) error {
	for _, kv := range []string{"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"} {
		out, err := a.Runner.Run(ctx, ns, "sysctl", "-n", kv)
		if err == nil && strings.TrimSpace(string(out)) == "1" {
			continue
		}
		if _, err := a.Runner.Run(ctx, ns, "sysctl", "-w", kv+"=1"); err != nil {
			return err
		}
	}
	return nil
}

// garp announces a floating IP now on the qg- device, so that the outside's ARP
// caches (which may still map it to a previous router) learn its MAC. In the
// background: arping takes a second and the router works without it.
func (a *Agent) garp(ns, dev, ip string) {
	if a.GARP != nil {
		a.GARP(ns, dev, ip)
		return
	}
	a.garps.Add(1)
	go func() {
		defer a.garps.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if _, err := a.Runner.Run(ctx, ns, "arping", "-U", "-c", "1", "-w", "1", "-I", dev, "-s", ip, ip); err != nil {
			a.log().Warn("gratuitous ARP", "netns", ns, "dev", dev, "ip", ip, "error", err)
		}
	}()
}

func (a *Agent) log() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}
