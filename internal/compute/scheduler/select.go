package scheduler

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// Select filters and weighs hosts for one instance of spec and returns every
// host that passed, best first (ties keep the input order, as upstream's
// stable sort). The caller claims the first and falls back on the next when
// the claim fails. It returns a *NoValidHost when no host passes, and a
// plain error for an invalid cfg. hosts is not modified.
func Select(cfg Config, hosts []HostState, spec RequestSpec) ([]Candidate, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	all := make([]*HostState, len(hosts))
	for i := range hosts {
		all[i] = &hosts[i]
	}
	return selectOne(&cfg, all, &spec, 0)
}

// SelectBatch places spec.NumInstances instances (at least one) the way
// upstream's select_destinations does: after each pick it charges the
// flavor to the picked host in memory (HostState.Consume) and adds the host
// to the server group, so the next instance sees them and a batch spreads
// (or keeps its anti-affinity) instead of piling onto one host. Result i is
// instance i's candidates, best first; the rest are its alternates. If any
// instance finds no host the whole request fails, as upstream, with a
// *NoValidHost naming that instance. hosts is not modified.
func SelectBatch(cfg Config, hosts []HostState, spec RequestSpec) ([][]Candidate, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	work := slices.Clone(hosts)
	all := make([]*HostState, len(work))
	for i := range work {
		all[i] = &work[i]
	}
	if g := spec.ServerGroup; g != nil {
		c := *g
		c.Hosts = slices.Clone(g.Hosts)
		c.Members = slices.Clone(g.Members)
		spec.ServerGroup = &c
	}
	n := max(spec.NumInstances, 1)
	out := make([][]Candidate, 0, n)
	for i := range n {
		cands, err := selectOne(&cfg, all, &spec, i)
		if err != nil {
			return nil, err
		}
		out = append(out, cands)
		picked := all[cands[0].Index]
		uuid := ""
		if i < len(spec.InstanceUUIDs) {
			uuid = spec.InstanceUUIDs[i]
		}
		picked.Consume(spec.Flavor, uuid)
		if g := spec.ServerGroup; g != nil {
			g.Hosts = append(g.Hosts, picked.Name)
			if uuid != "" && !slices.Contains(g.Members, uuid) {
				g.Members = append(g.Members, uuid)
			}
		}
	}
	return out, nil
}

// selectOne runs one pass for instance number instance of spec.
func selectOne(cfg *Config, all []*HostState, spec *RequestSpec, instance int) ([]Candidate, error) {
	log := cfg.logger()
	debug := log.Enabled(context.Background(), slog.LevelDebug)

	// Ignored and forced hosts are settled before the filters, in upstream's
	// host manager; Index keeps pointing into the caller's slice.
	ignore := set(spec.IgnoreHosts)
	force := set(spec.ForceHosts)
	hosts := make([]*HostState, 0, len(all))
	index := make([]int, 0, len(all))
	for i, h := range all {
		if ignore[h.Name] || (len(force) > 0 && !force[h.Name]) {
			continue
		}
		hosts = append(hosts, h)
		index = append(index, i)
	}
	if len(hosts) == 0 {
		e := noValidHost(instance, "", nil)
		if len(force) > 0 {
			e.Reason += fmt.Sprintf(" No hosts matched force_hosts %s.", strings.Join(spec.ForceHosts, ","))
		}
		return nil, e
	}

	r := newRequest(cfg, spec, instance, hosts)
	// As upstream, forcing a host skips the filters: the admin asked for it.
	if len(force) == 0 {
		var results []FilterResult
		for _, name := range cfg.EnabledFilters {
			pass := filters[name]
			start := len(hosts)
			kept := 0
			for i, h := range hosts {
				if pass(r, h) {
					hosts[kept], index[kept] = h, index[i]
					kept++
				}
			}
			hosts, index = hosts[:kept], index[:kept]
			results = append(results, FilterResult{Filter: name, Start: start, End: kept})
			if debug {
				log.Debug(fmt.Sprintf("Filter %s returned %d host(s)", name, kept), "instance", instance)
			}
			if kept == 0 {
				return nil, noValidHost(instance, name, results)
			}
		}
	}

	weights := make([]float64, len(hosts))
	weigh(r, hosts, weights)
	// Sort pointer-free (weight, position) pairs, ties by position: the
	// order of a stable sort at the cost of an unstable one.
	order := make([]ranked, len(hosts))
	for i := range hosts {
		order[i] = ranked{weights[i], i}
	}
	slices.SortFunc(order, func(a, b ranked) int {
		return cmp.Or(cmp.Compare(b.weight, a.weight), cmp.Compare(a.pos, b.pos))
	})
	cands := make([]Candidate, len(order))
	for i, o := range order {
		cands[i] = Candidate{Host: hosts[o.pos].Name, Weight: o.weight, Index: index[o.pos]}
	}
	if debug {
		log.Debug("Weighed hosts", "instance", instance, "best", cands[0].Host, "weight", cands[0].Weight, "hosts", len(cands))
	}
	return cands, nil
}

type ranked struct {
	weight float64
	pos    int
}
