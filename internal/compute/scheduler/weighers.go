package scheduler

// weigher scores a host; higher wins. Raw scores are normalized to 0..1 over
// the hosts being weighed before the multiplier applies, so weighers of
// different units (MB, vCPUs, members) can be summed.
type weigher struct {
	raw func(r *request, h *HostState) float64
	// multiplier is the configured one; aggregate metadata under key
	// overrides it per host, as upstream's get_weight_multiplier.
	multiplier func(cfg *Config) float64
	key        string
}

// weighers is every weigher Config.EnabledWeighers may name.
var weighers = map[string]weigher{
	// RAMWeigher spreads by free RAM (a negative multiplier stacks).
	RAMWeigher: {
		raw:        func(r *request, h *HostState) float64 { return float64(h.FreeRAMMB(*r.cfg)) },
		multiplier: func(c *Config) float64 { return c.RAMWeightMultiplier },
		key:        "ram_weight_multiplier",
	},
	// CPUWeigher spreads by free vCPUs after overcommit.
	CPUWeigher: {
		raw: func(r *request, h *HostState) float64 {
			return float64(h.VCPUs)*cpuRatio(r.cfg, h, false) - float64(h.VCPUsUsed)
		},
		multiplier: func(c *Config) float64 { return c.CPUWeightMultiplier },
		key:        "cpu_weight_multiplier",
	},
	// DiskWeigher spreads by free disk.
	DiskWeigher: {
		raw:        func(r *request, h *HostState) float64 { return float64(h.FreeDiskMB(*r.cfg)) },
		multiplier: func(c *Config) float64 { return c.DiskWeightMultiplier },
		key:        "disk_weight_multiplier",
	},
	// ServerGroupSoftAffinityWeigher prefers hosts with more group members.
	ServerGroupSoftAffinityWeigher: {
		raw:        func(r *request, h *HostState) float64 { return r.membersFor(PolicySoftAffinity, h) },
		multiplier: func(c *Config) float64 { return c.SoftAffinityWeightMultiplier },
		key:        "soft_affinity_weight_multiplier",
	},
	// ServerGroupSoftAntiAffinityWeigher prefers hosts with fewer members.
	ServerGroupSoftAntiAffinityWeigher: {
		raw:        func(r *request, h *HostState) float64 { return -r.membersFor(PolicySoftAntiAffinity, h) },
		multiplier: func(c *Config) float64 { return c.SoftAntiAffinityWeightMultiplier },
		key:        "soft_anti_affinity_weight_multiplier",
	},
}

// membersFor is the member count on the host when the group has policy, else
// 0 (the weigher then gives every host the same score, which normalizes to
// nothing).
func (r *request) membersFor(policy string, h *HostState) float64 {
	if r.group == nil || r.group.policy != policy {
		return 0
	}
	return float64(r.group.on[h.Name])
}

// normalize is upstream's: values mapped linearly onto 0..1 between their
// minimum and maximum; all equal gives all 0.
func normalize(v []float64) {
	if len(v) == 0 {
		return
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo = min(lo, x)
		hi = max(hi, x)
	}
	if lo == hi {
		for i := range v {
			v[i] = 0
		}
		return
	}
	for i := range v {
		v[i] = (v[i] - lo) / (hi - lo)
	}
}

// weigh sums every enabled weigher's normalized, multiplied score into
// weights. A single host is not weighed, as upstream: its order is settled.
func weigh(r *request, hosts []*HostState, weights []float64) {
	for i := range weights {
		weights[i] = 0
	}
	if len(hosts) <= 1 {
		return
	}
	raw := make([]float64, len(hosts))
	for _, name := range r.cfg.EnabledWeighers {
		w := weighers[name]
		for i, h := range hosts {
			raw[i] = w.raw(r, h)
		}
		normalize(raw)
		def := w.multiplier(r.cfg)
		for i, h := range hosts {
			weights[i] += aggregateMin(h, w.key, def) * raw[i]
		}
	}
}
