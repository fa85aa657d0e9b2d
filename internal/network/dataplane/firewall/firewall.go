// Package firewall is the security groups of the ports on one host, as upstream's
// Linux-bridge agent builds them: the instances' traffic is bridged, so
// br_netfilter hands it to iptables, where physdev matches tell the ports apart and
// conntrack keeps state. Each filtered port gets an ingress, an egress and an
// anti-spoofing chain (neutron-linuxbri-i/o/s<port[:10]>), remote groups are ipsets
// of member addresses (N<ethertype><group>). Converge is level-triggered and
// rewrites our chains in one iptables-restore transaction only when their content
// changed; everything else in the host's tables is left alone.
//
// Why iptables and not nftables: this kernel has no conntrack in the bridge family
// (NF_CONNTRACK_BRIDGE) and nftables has no physdev match, while br_netfilter with
// xt_physdev and xt_conntrack works (iptables-nft or legacy alike).
package firewall

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"

	"github.com/nimbus-cloud/nimbus/internal/network/dataplane"
)

// Agent converges the security groups of one host.
type Agent struct {
	Runner dataplane.Runner
	Log    *slog.Logger
	// IPv6 also filters IPv6 (ip6tables); on by default through New.
	IPv6 bool
	// ARP adds the bridge-family table against MAC and ARP spoofing (nft); on by
	// default through New.
	ARP bool

	mu      sync.Mutex
	applied map[string]string // family -> our rules as listed right after our last change
}

// New returns an agent that runs its commands with r.
func New(r dataplane.Runner, log *slog.Logger) *Agent {
	return &Agent{Runner: r, Log: log, IPv6: true, ARP: true}
}

// Name implements the network agent's Part.
func (a *Agent) Name() string { return "firewall" }

// Converge makes the host's filtering match st. It wires no ports itself (the L2
// part reports those).
func (a *Agent) Converge(ctx context.Context, st dataplane.State) ([]string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.applied == nil {
		a.applied = map[string]string{}
	}
	ns := st.Host.Namespace
	// Bridged frames reach iptables only with these on (per network namespace).
	for _, k := range []string{"net.bridge.bridge-nf-call-iptables", "net.bridge.bridge-nf-call-ip6tables"} {
		out, err := a.Runner.Run(ctx, ns, "sysctl", "-n", k)
		if err == nil && strings.TrimSpace(string(out)) == "1" {
			continue
		}
		if _, err := a.Runner.Run(ctx, ns, "sysctl", "-w", k+"=1"); err != nil {
			return nil, err
		}
	}
	fams := []family{ipv4}
	if a.IPv6 {
		fams = append(fams, ipv6)
	}
	var errs []error
	for _, f := range fams {
		if err := a.family(ctx, ns, f, st); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.ether, err))
		}
	}
	if a.ARP {
		if err := a.syncARP(ctx, ns, st); err != nil {
			errs = append(errs, fmt.Errorf("ARP: %w", err))
		}
	}
	return nil, errors.Join(errs...)
}

var sumRE = regexp.MustCompile(`--comment "nimbus sum=(\w+)"`)

// family converges one IP version: sets, then chains, then removes what is stale.
func (a *Agent) family(ctx context.Context, ns string, f family, st dataplane.State) error {
	rs := render(f, st)
	if err := a.syncSets(ctx, ns, f, st, rs.sets); err != nil {
		return err
	}
	h := sha256.New()
	for _, c := range rs.chains {
		h.Write([]byte(c + "\n"))
	}
	for _, r := range append(rs.raw, rs.rules...) {
		h.Write([]byte(r + "\n"))
	}
	sum := hex.EncodeToString(h.Sum(nil)[:8])

	existing, ours, err := a.observe(ctx, ns, f)
	if err != nil {
		return err
	}
	m := sumRE.FindStringSubmatch(ours)
	upToDate := m != nil && m[1] == sum
	if last, seen := a.applied[f.ether]; upToDate && seen && last != ours {
		upToDate = false // someone changed our rules since: rewrite them
	}
	if !upToDate {
		if err := a.restore(ctx, ns, f, rs.script(sum)); err != nil {
			return err
		}
	}
	var errs []error
	// Jumps from the built-in chains, first so nothing before them accepts.
	for _, j := range [][3]string{{"filter", "FORWARD", chainFwd}, {"filter", "INPUT", chainInput}, {"raw", "PREROUTING", chainZone}} {
		if strings.Contains(ours, j[0]+": -A "+j[1]+" -j "+j[2]+"\n") {
			continue
		}
		if _, err := a.Runner.Run(ctx, ns, f.cmd, "-w", "-t", j[0], "-I", j[1], "1", "-j", j[2]); err != nil {
			errs = append(errs, err)
		}
	}
	// Chains of ports no longer filtered here: nothing jumps to them any more.
	want := map[string]bool{}
	for _, c := range rs.chains {
		want[c] = true
	}
	for _, c := range existing {
		if want[c] {
			continue
		}
		if _, err := a.Runner.Run(ctx, ns, f.cmd, "-w", "-F", c); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := a.Runner.Run(ctx, ns, f.cmd, "-w", "-X", c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := a.removeStaleSets(ctx, ns, f, rs.sets); err != nil {
		errs = append(errs, err)
	}
	if _, ours, err := a.observe(ctx, ns, f); err == nil {
		a.applied[f.ether] = ours
	}
	return errors.Join(errs...)
}

// observe lists our chains of the filter table and our rules of the raw and
// filter tables (every "-A" line naming our prefix, including the jumps from
// built-in chains, each after its table's name).
func (a *Agent) observe(ctx context.Context, ns string, f family) (chains []string, rules string, err error) {
	var b strings.Builder
	for _, table := range []string{"raw", "filter"} {
		out, err := a.Runner.Run(ctx, ns, f.save, "-t", table)
		if err != nil {
			return nil, "", err
		}
		for _, line := range strings.Split(string(out), "\n") {
			switch {
			case table == "filter" && strings.HasPrefix(line, ":"+prefix):
				chains = append(chains, strings.Fields(line[1:])[0])
			case strings.HasPrefix(line, "-A ") && strings.Contains(line, prefix):
				b.WriteString(table + ": " + line + "\n")
			}
		}
	}
	return chains, b.String(), nil
}

// restore applies an iptables-restore script without touching other chains.
func (a *Agent) restore(ctx context.Context, ns string, f family, script string) error {
	file, err := os.CreateTemp("", "nimbus-sg-*.rules")
	if err != nil {
		return err
	}
	defer os.Remove(file.Name())
	if _, err := file.WriteString(script); err != nil {
		file.Close()
		return err
	}
	if err := file.Close(); err != nil {
		return err
	}
	_, err = a.Runner.Run(ctx, ns, f.restore, "-w", "--noflush", file.Name())
	return err
}

func (a *Agent) log() *slog.Logger {
	if a.Log == nil {
		return slog.Default()
	}
	return a.Log
}
