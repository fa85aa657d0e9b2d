package scheduler

import (
	"math"
	"strconv"
)

// Aggregate metadata keys the Aggregate*Filters and weighers read.
const (
	metaAZ        = "availability_zone"
	metaCPURatio  = "cpu_allocation_ratio"
	metaRAMRatio  = "ram_allocation_ratio"
	metaDiskRatio = "disk_allocation_ratio"
)

// aggregateMin is upstream's validate_num_values(based_on=min): the smallest
// numeric value of key across the host's aggregates, or def when none sets it
// or a value does not parse (upstream logs and falls back the same way).
func aggregateMin(h *HostState, key string, def float64) float64 {
	found := false
	best := math.Inf(1)
	for _, a := range h.Aggregates {
		v, ok := a.Metadata[key]
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return def
		}
		found = true
		best = math.Min(best, f)
	}
	if !found {
		return def
	}
	return best
}

func pick(host, cfg float64) float64 {
	if host > 0 {
		return host
	}
	return cfg
}

// Ratios pick the aggregate's ratio only when the Aggregate* filter is
// enabled, as upstream where plain RamFilter ignores aggregate metadata.
func ramRatio(cfg *Config, h *HostState, fromAggregates bool) float64 {
	r := pick(h.RAMAllocationRatio, cfg.RAMAllocationRatio)
	if fromAggregates {
		r = aggregateMin(h, metaRAMRatio, r)
	}
	return r
}

func diskRatio(cfg *Config, h *HostState, fromAggregates bool) float64 {
	r := pick(h.DiskAllocationRatio, cfg.DiskAllocationRatio)
	if fromAggregates {
		r = aggregateMin(h, metaDiskRatio, r)
	}
	return r
}

func cpuRatio(cfg *Config, h *HostState, fromAggregates bool) float64 {
	r := pick(h.CPUAllocationRatio, cfg.CPUAllocationRatio)
	if fromAggregates {
		r = aggregateMin(h, metaCPURatio, r)
	}
	return r
}

// FreeRAMMB is upstream's free_ram_mb: total less used less reserved, with no
// overcommit, so it goes negative on an overcommitted host.
func (h *HostState) FreeRAMMB(cfg Config) int {
	return h.MemoryMB - h.MemoryMBUsed - cfg.ReservedHostMemoryMB
}

// FreeDiskMB is upstream's free_disk_mb, reserved disk taken off.
func (h *HostState) FreeDiskMB(cfg Config) int {
	return (h.DiskGB-h.DiskGBUsed)*1024 - cfg.ReservedHostDiskMB
}

// ramFits is RamFilter: the limit is total*ratio, the used side counts the
// reserved memory, and a flavor bigger than the host's physical RAM never
// fits ("do not allow an instance to overcommit against itself").
func ramFits(cfg *Config, h *HostState, f *Flavor, fromAggregates bool) bool {
	req := float64(f.MemoryMB)
	total := float64(h.MemoryMB)
	if total < req {
		return false
	}
	used := float64(h.MemoryMBUsed + cfg.ReservedHostMemoryMB)
	return total*ramRatio(cfg, h, fromAggregates)-used >= req
}

// requestedDiskMB is upstream's 1024*(root+ephemeral)+swap.
func requestedDiskMB(f *Flavor) int {
	return 1024*(f.RootGB+f.EphemeralGB) + f.SwapMB
}

// diskFits is DiskFilter, in MB as upstream because swap is in MB.
func diskFits(cfg *Config, h *HostState, f *Flavor, fromAggregates bool) bool {
	req := float64(requestedDiskMB(f))
	total := float64(h.DiskGB * 1024)
	if total < req {
		return false
	}
	used := float64(h.DiskGBUsed*1024 + cfg.ReservedHostDiskMB)
	return total*diskRatio(cfg, h, fromAggregates)-used >= req
}

// coreFits is CoreFilter. A host reporting no vCPUs passes: upstream's fail
// safe for drivers that cannot count them.
func coreFits(cfg *Config, h *HostState, f *Flavor, fromAggregates bool) bool {
	if h.VCPUs <= 0 {
		return true
	}
	if f.VCPUs > h.VCPUs {
		return false
	}
	limit := float64(h.VCPUs) * cpuRatio(cfg, h, fromAggregates)
	return limit-float64(h.VCPUsUsed) >= float64(f.VCPUs)
}

// Fits runs the resource filters cfg enables (Ram, Disk, Core and their
// Aggregate variants) for one flavor on one host. The compute service calls
// it inside its claim transaction with freshly read counters, so the claim
// enforces exactly the rule the scheduler filtered on.
func Fits(cfg Config, h HostState, f Flavor) bool {
	checks := []struct {
		filter, aggregate string
		fits              func(*Config, *HostState, *Flavor, bool) bool
	}{
		{RamFilter, AggregateRamFilter, ramFits},
		{DiskFilter, AggregateDiskFilter, diskFits},
		{CoreFilter, AggregateCoreFilter, coreFits},
	}
	for _, c := range checks {
		if cfg.enabled(c.aggregate) && !c.fits(&cfg, &h, &f, true) {
			return false
		}
		if cfg.enabled(c.filter) && !c.fits(&cfg, &h, &f, false) {
			return false
		}
	}
	return true
}

// Consume charges one instance of f to the host in memory, as upstream's
// HostState.consume_from_request, so the next pick of a batch sees it. As
// upstream, disk is charged root+ephemeral and not swap. uuid, when set, is
// recorded in Instances for the server group filters.
func (h *HostState) Consume(f Flavor, uuid string) {
	h.MemoryMBUsed += f.MemoryMB
	h.DiskGBUsed += f.RootGB + f.EphemeralGB
	h.VCPUsUsed += f.VCPUs
	h.NumInstances++
	if uuid != "" {
		// Copy on write: the map may be shared with the caller's snapshot.
		inst := make(map[string]bool, len(h.Instances)+1)
		for k, v := range h.Instances {
			inst[k] = v
		}
		inst[uuid] = true
		h.Instances = inst
	}
}
