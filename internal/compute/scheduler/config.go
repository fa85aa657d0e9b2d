package scheduler

import (
	"fmt"
	"log/slog"
)

// Filter names, as upstream's class names so operators can copy their
// nova.conf enabled_filters.
const (
	RetryFilter                   = "RetryFilter"
	AvailabilityZoneFilter        = "AvailabilityZoneFilter"
	RamFilter                     = "RamFilter"
	DiskFilter                    = "DiskFilter"
	CoreFilter                    = "CoreFilter"
	AggregateRamFilter            = "AggregateRamFilter"
	AggregateDiskFilter           = "AggregateDiskFilter"
	AggregateCoreFilter           = "AggregateCoreFilter"
	ComputeFilter                 = "ComputeFilter"
	ComputeCapabilitiesFilter     = "ComputeCapabilitiesFilter"
	ImagePropertiesFilter         = "ImagePropertiesFilter"
	ServerGroupAntiAffinityFilter = "ServerGroupAntiAffinityFilter"
	ServerGroupAffinityFilter     = "ServerGroupAffinityFilter"
)

// Weigher names, as upstream's class names.
const (
	RAMWeigher                         = "RAMWeigher"
	CPUWeigher                         = "CPUWeigher"
	DiskWeigher                        = "DiskWeigher"
	ServerGroupSoftAffinityWeigher     = "ServerGroupSoftAffinityWeigher"
	ServerGroupSoftAntiAffinityWeigher = "ServerGroupSoftAntiAffinityWeigher"
)

// Config is the [filter_scheduler] part of the configuration.
type Config struct {
	// EnabledFilters run in this order; a host must pass all of them.
	EnabledFilters []string
	// EnabledWeighers are summed after each is normalized over the hosts.
	EnabledWeighers []string

	CPUAllocationRatio  float64
	RAMAllocationRatio  float64
	DiskAllocationRatio float64

	// ReservedHostMemoryMB and ReservedHostDiskMB are held back on every
	// host for the host itself (upstream reserved_host_memory_mb, default
	// 512, and reserved_host_disk_mb, default 0).
	ReservedHostMemoryMB int
	ReservedHostDiskMB   int

	RAMWeightMultiplier              float64
	CPUWeightMultiplier              float64
	DiskWeightMultiplier             float64
	SoftAffinityWeightMultiplier     float64
	SoftAntiAffinityWeightMultiplier float64

	// DefaultAvailabilityZone is the zone of a host no aggregate places.
	DefaultAvailabilityZone string

	// Logger gets one debug line per filter and weigher; nil means
	// slog.Default().
	Logger *slog.Logger
}

// DefaultFilters is the default filter order of the reference deployment:
// upstream's nine, RetryFilter first. CoreFilter is not in it, as upstream;
// add it to check vCPUs.
func DefaultFilters() []string {
	return []string{
		RetryFilter, AvailabilityZoneFilter, RamFilter, DiskFilter, ComputeFilter,
		ComputeCapabilitiesFilter, ImagePropertiesFilter,
		ServerGroupAntiAffinityFilter, ServerGroupAffinityFilter,
	}
}

// DefaultWeighers is free RAM plus the soft server group weighers, which
// weigh nothing unless the request's group has a soft policy.
func DefaultWeighers() []string {
	return []string{RAMWeigher, ServerGroupSoftAffinityWeigher, ServerGroupSoftAntiAffinityWeigher}
}

// DefaultConfig returns upstream's defaults (ratios 16/1.5/1.0, 512 MB
// reserved, multipliers 1.0, zone "nova") with the reference's filter list;
// modern upstream dropped RetryFilter, RamFilter and DiskFilter for
// Placement, which Nimbus does not have.
func DefaultConfig() Config {
	return Config{
		EnabledFilters:                   DefaultFilters(),
		EnabledWeighers:                  DefaultWeighers(),
		CPUAllocationRatio:               16.0,
		RAMAllocationRatio:               1.5,
		DiskAllocationRatio:              1.0,
		ReservedHostMemoryMB:             512,
		RAMWeightMultiplier:              1.0,
		CPUWeightMultiplier:              1.0,
		DiskWeightMultiplier:             1.0,
		SoftAffinityWeightMultiplier:     1.0,
		SoftAntiAffinityWeightMultiplier: 1.0,
		DefaultAvailabilityZone:          "nova",
	}
}

// Validate reports an unknown filter or weigher name, or a ratio that is not
// positive, so a typo in the configuration fails at startup and not as a
// silently skipped check.
func (c *Config) Validate() error {
	for _, name := range c.EnabledFilters {
		if _, ok := filters[name]; !ok {
			return fmt.Errorf("scheduler: unknown filter %q", name)
		}
	}
	for _, name := range c.EnabledWeighers {
		if _, ok := weighers[name]; !ok {
			return fmt.Errorf("scheduler: unknown weigher %q", name)
		}
	}
	for name, r := range map[string]float64{
		"cpu_allocation_ratio":  c.CPUAllocationRatio,
		"ram_allocation_ratio":  c.RAMAllocationRatio,
		"disk_allocation_ratio": c.DiskAllocationRatio,
	} {
		if r <= 0 {
			return fmt.Errorf("scheduler: %s must be positive, got %v", name, r)
		}
	}
	return nil
}

func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

func (c *Config) enabled(filter string) bool {
	for _, f := range c.EnabledFilters {
		if f == filter {
			return true
		}
	}
	return false
}
