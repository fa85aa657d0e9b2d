package compute

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// SchedulerConfig are the placement settings (upstream's allocation ratios,
// reserved host resources, max attempts).
type SchedulerConfig struct {
	RAMAllocationRatio  float64
	DiskAllocationRatio float64
	CPUAllocationRatio  float64
	ReservedHostMemory  int // MB
	ReservedHostDisk    int // GB
	MaxAttempts         int
	// CoreFilter enables the vCPU check (off by default, as upstream's filter list).
	CoreFilter bool
}

func (c SchedulerConfig) withDefaults() SchedulerConfig {
	if c.RAMAllocationRatio <= 0 {
		c.RAMAllocationRatio = 1.5
	}
	if c.DiskAllocationRatio <= 0 {
		c.DiskAllocationRatio = 1.0
	}
	if c.CPUAllocationRatio <= 0 {
		c.CPUAllocationRatio = 16.0
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	return c
}

// hostState is a compute host as the scheduler weighs it.
type hostState struct {
	Host                                string
	Zone                                string
	Disabled, ForcedDown                bool
	LastSeen                            time.Time
	VCPUs, MemoryMB, DiskGB             int
	VCPUsUsed, MemoryMBUsed, DiskGBUsed int
	HypervisorType                      string
	HypervisorVersion                   int64
}

func (s *Service) hostStates(ctx context.Context) ([]hostState, error) {
	return db.QueryAll(ctx, s.db, func(sc db.Scanner) (hostState, error) {
		var h hostState
		var seen string
		err := sc.Scan(&h.Host, &h.Zone, &h.Disabled, &h.ForcedDown, &seen, &h.VCPUs, &h.MemoryMB, &h.DiskGB,
			&h.VCPUsUsed, &h.MemoryMBUsed, &h.DiskGBUsed, &h.HypervisorType, &h.HypervisorVersion)
		h.LastSeen, _ = time.Parse("2006-01-02T15:04:05Z", seen)
		return h, err
	}, `SELECT host, zone, disabled, forced_down, last_seen_at, vcpus, memory_mb, local_gb, vcpus_used, memory_mb_used,
		local_gb_used, hypervisor_type, hypervisor_version FROM compute_services ORDER BY host`)
}

// up is upstream's service state: not forced down and heard from within
// service_down_time.
func (s *Service) up(h hostState) bool {
	return !h.ForcedDown && s.now().Sub(h.LastSeen) <= s.opts.ServiceDownTime
}

func (s *Service) zoneOfHost(hosts []hostState, host string) string {
	for _, h := range hosts {
		if h.Host == host {
			return h.Zone
		}
	}
	return s.opts.DefaultAvailabilityZone
}

// fits is the resource part of the RAM, disk and (optional) core filters, with
// the allocation ratios and reserved resources.
func (c SchedulerConfig) fits(h hostState, f Flavor) bool {
	ram := float64(h.MemoryMB)*c.RAMAllocationRatio - float64(c.ReservedHostMemory) - float64(h.MemoryMBUsed)
	disk := float64(h.DiskGB)*c.DiskAllocationRatio - float64(c.ReservedHostDisk) - float64(h.DiskGBUsed)
	need := f.Disk + f.Ephemeral + (f.Swap+1023)/1024
	if ram < float64(f.RAM) || disk < float64(need) {
		return false
	}
	return !c.CoreFilter || float64(h.VCPUs)*c.CPUAllocationRatio-float64(h.VCPUsUsed) >= float64(f.VCPUs)
}

// selectHosts filters the hosts for the instance and orders them, most free RAM
// first (the RAM weigher); reason says which filter left none.
func (s *Service) selectHosts(ctx context.Context, hosts []hostState, in *instance) ([]string, string) {
	c := s.opts.Scheduler
	type step struct {
		name string
		keep func(hostState) bool
	}
	steps := []step{
		{"RetryFilter", func(h hostState) bool { return !slices.Contains(in.Request.TriedHosts, h.Host) }},
		{"AvailabilityZoneFilter", func(h hostState) bool { return in.AZ == "" || h.Zone == in.AZ }},
		{"ComputeFilter", func(h hostState) bool { return !h.Disabled && s.up(h) }},
		{"ResourceFilter", func(h hostState) bool { return c.fits(h, in.Flavor) }},
	}
	if in.Request.ForcedHost != "" {
		steps = append([]step{{"ForcedHost", func(h hostState) bool { return h.Host == in.Request.ForcedHost }}}, steps...)
	}
	left := hosts
	for _, st := range steps {
		var next []hostState
		for _, h := range left {
			if st.keep(h) {
				next = append(next, h)
			}
		}
		if len(next) == 0 {
			return nil, fmt.Sprintf("There are not enough hosts available. (%s returned 0 hosts)", st.name)
		}
		left = next
	}
	free := func(h hostState) float64 {
		return float64(h.MemoryMB)*c.RAMAllocationRatio - float64(h.MemoryMBUsed)
	}
	slices.SortStableFunc(left, func(a, b hostState) int {
		switch fa, fb := free(a), free(b); {
		case fa > fb:
			return -1
		case fa < fb:
			return 1
		}
		return 0
	})
	out := make([]string, len(left))
	for i, h := range left {
		out[i] = h.Host
	}
	return out, ""
}

// claim takes the flavor's resources on host if they still fit, in one
// conditional update: concurrent claims never overcommit the host.
func (s *Service) claim(ctx context.Context, tx *db.Tx, host string, f Flavor) (bool, error) {
	c := s.opts.Scheduler
	disk := f.Disk + f.Ephemeral + (f.Swap+1023)/1024
	cores := "1 = 1"
	args := []any{f.VCPUs, f.RAM, disk, host, f.RAM, c.RAMAllocationRatio, c.ReservedHostMemory, disk, c.DiskAllocationRatio, c.ReservedHostDisk}
	if c.CoreFilter {
		cores = "vcpus_used + ? <= vcpus * ?"
		args = append(args, f.VCPUs, c.CPUAllocationRatio)
	}
	res, err := tx.ExecContext(ctx, `UPDATE compute_services SET vcpus_used = vcpus_used + ?, memory_mb_used = memory_mb_used + ?,
		local_gb_used = local_gb_used + ? WHERE host = ? AND memory_mb_used + ? <= memory_mb * ? - ?
		AND local_gb_used + ? <= local_gb * ? - ? AND `+cores, args...)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// releaseClaim gives the instance's resources back to its host.
func (s *Service) releaseClaim(ctx context.Context, tx *db.Tx, in *instance) error {
	if in.Host == "" {
		return nil
	}
	f := in.Flavor
	disk := f.Disk + f.Ephemeral + (f.Swap+1023)/1024
	_, err := tx.ExecContext(ctx, `UPDATE compute_services SET vcpus_used = vcpus_used - ?, memory_mb_used = memory_mb_used - ?,
		local_gb_used = local_gb_used - ? WHERE host = ?`, f.VCPUs, f.RAM, disk, in.Host)
	return err
}

func parseStamp(s string) time.Time {
	t, _ := time.Parse("2006-01-02T15:04:05Z", s)
	return t
}
