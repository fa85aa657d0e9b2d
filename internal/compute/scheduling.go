package compute

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/scheduler"
	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

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
	// Aggregates are the host's aggregates (their metadata, their zone).
	Aggregates []scheduler.Aggregate
}

const hostStateColumns = `host, zone, disabled, forced_down, last_seen_at, vcpus, memory_mb, local_gb, vcpus_used,
	memory_mb_used, local_gb_used, hypervisor_type, hypervisor_version`

func scanHostState(sc db.Scanner) (hostState, error) {
	var h hostState
	var seen string
	err := sc.Scan(&h.Host, &h.Zone, &h.Disabled, &h.ForcedDown, &seen, &h.VCPUs, &h.MemoryMB, &h.DiskGB,
		&h.VCPUsUsed, &h.MemoryMBUsed, &h.DiskGBUsed, &h.HypervisorType, &h.HypervisorVersion)
	h.LastSeen = parseStamp(seen)
	return h, err
}

func (s *Service) hostStates(ctx context.Context) ([]hostState, error) {
	return loadHostStates(ctx, s.db, `SELECT `+hostStateColumns+` FROM compute_services ORDER BY host`)
}

// loadHostStates reads hosts with their aggregates.
func loadHostStates(ctx context.Context, q querier, query string, args ...any) ([]hostState, error) {
	hosts, err := db.QueryAll(ctx, q, scanHostState, query, args...)
	if err != nil {
		return nil, err
	}
	aggs, err := hostAggregates(ctx, q)
	if err != nil {
		return nil, err
	}
	for i := range hosts {
		hosts[i].Aggregates = aggs[hosts[i].Host]
	}
	return hosts, nil
}

// zone is the host's availability zone: its aggregates' if one sets it
// (upstream keeps zones in aggregate metadata), else the one it reported.
func (h hostState) zone() string {
	for _, a := range h.Aggregates {
		if a.AZ != "" {
			return a.AZ
		}
	}
	return h.Zone
}

// up is upstream's service state: not forced down and heard from within
// service_down_time.
func (s *Service) up(h hostState) bool {
	return !h.ForcedDown && s.now().Sub(h.LastSeen) <= s.opts.ServiceDownTime
}

func (s *Service) zoneOfHost(hosts []hostState, host string) string {
	for _, h := range hosts {
		if h.Host == host {
			return h.zone()
		}
	}
	return s.opts.DefaultAvailabilityZone
}

// schedulerHost is a host as the scheduler library sees it.
func (s *Service) schedulerHost(h hostState) scheduler.HostState {
	return scheduler.HostState{Name: h.Host, AvailabilityZone: h.Zone, Aggregates: h.Aggregates, Enabled: !h.Disabled, Up: s.up(h),
		VCPUs: h.VCPUs, VCPUsUsed: h.VCPUsUsed, MemoryMB: h.MemoryMB, MemoryMBUsed: h.MemoryMBUsed,
		DiskGB: h.DiskGB, DiskGBUsed: h.DiskGBUsed, HypervisorType: h.HypervisorType, HypervisorVersion: int(h.HypervisorVersion),
		// Every host runs full x86-64 virtual machines (upstream libvirt's
		// supported_instances for QEMU on this architecture).
		CPUArch:            "x86_64",
		SupportedInstances: []scheduler.SupportedInstance{{Arch: "x86_64", HVType: strings.ToLower(h.HypervisorType), VMMode: "hvm"}}}
}

func schedulerFlavor(f Flavor) scheduler.Flavor {
	return scheduler.Flavor{VCPUs: f.VCPUs, MemoryMB: f.RAM, RootGB: f.Disk, EphemeralGB: f.Ephemeral, SwapMB: f.Swap, ExtraSpecs: f.ExtraSpecs}
}

// selectHosts runs the filter scheduler for the instance: the hosts that pass,
// best first, or why none did.
func (s *Service) selectHosts(ctx context.Context, hosts []hostState, in *instance) ([]string, string) {
	if want := firstNonEmpty(in.Request.RequestedHost, in.Request.RequestedNode); want != "" {
		// 2.74's requested destination: only that host, through every filter
		// (a forced host skips them).
		hosts = slices.DeleteFunc(slices.Clone(hosts), func(h hostState) bool { return h.Host != want })
	}
	states := make([]scheduler.HostState, len(hosts))
	for i, h := range hosts {
		states[i] = s.schedulerHost(h)
	}
	spec := scheduler.RequestSpec{Flavor: schedulerFlavor(in.Flavor), Image: in.Request.Image.Properties,
		AvailabilityZone: in.AZ, RetryHosts: in.Request.TriedHosts, NumInstances: 1, InstanceUUIDs: []string{in.UUID}}
	if in.Request.ForcedHost != "" {
		spec.ForceHosts = []string{in.Request.ForcedHost}
	}
	if in.Request.ServerGroup != "" {
		g, err := s.schedulerGroup(ctx, in)
		if err != nil {
			s.log.Warn("scheduler: server group", "instance", in.UUID, "group", in.Request.ServerGroup, "error", err)
			return nil, "Cannot read the server group."
		}
		spec.ServerGroup = g
	}
	candidates, err := scheduler.Select(s.opts.Scheduler, states, spec)
	if err != nil {
		var nvh *scheduler.NoValidHost
		if !errors.As(err, &nvh) {
			s.log.Warn("scheduler", "instance", in.UUID, "error", err)
		}
		return nil, strings.TrimPrefix(err.Error(), "No valid host was found. ")
	}
	out := make([]string, len(candidates))
	for i, c := range candidates {
		out[i] = c.Host
	}
	return out, ""
}

// claim takes the flavor's resources on host if they still fit by the
// scheduler's own rule (scheduler.Fits). The update is conditional on the usage
// it read, so two claims racing for the last room cannot both win.
func (s *Service) claim(ctx context.Context, tx *db.Tx, host string, f Flavor) (bool, error) {
	hosts, err := loadHostStates(ctx, tx, `SELECT `+hostStateColumns+` FROM compute_services WHERE host = ?`, host)
	if err != nil || len(hosts) == 0 {
		return false, err
	}
	h := hosts[0]
	if !scheduler.Fits(s.opts.Scheduler, s.schedulerHost(h), schedulerFlavor(f)) {
		return false, nil
	}
	disk := f.Disk + f.Ephemeral + (f.Swap+1023)/1024
	res, err := tx.ExecContext(ctx, `UPDATE compute_services SET vcpus_used = vcpus_used + ?, memory_mb_used = memory_mb_used + ?,
		local_gb_used = local_gb_used + ? WHERE host = ? AND vcpus_used = ? AND memory_mb_used = ? AND local_gb_used = ?`,
		f.VCPUs, f.RAM, disk, host, h.VCPUsUsed, h.MemoryMBUsed, h.DiskGBUsed)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// releaseClaim gives the instance's resources back to its host: its flavor's,
// and the old flavor's of a resize not yet confirmed.
func (s *Service) releaseClaim(ctx context.Context, tx *db.Tx, in *instance) error {
	if in.Host == "" {
		return nil
	}
	if err := releaseFlavor(ctx, tx, in.Host, in.Flavor); err != nil {
		return err
	}
	if in.Request.OldFlavor != nil {
		return releaseFlavor(ctx, tx, in.Host, *in.Request.OldFlavor)
	}
	return nil
}

// releaseFlavor gives one flavor's claim back to host.
func releaseFlavor(ctx context.Context, tx *db.Tx, host string, f Flavor) error {
	disk := f.Disk + f.Ephemeral + (f.Swap+1023)/1024
	_, err := tx.ExecContext(ctx, `UPDATE compute_services SET vcpus_used = vcpus_used - ?, memory_mb_used = memory_mb_used - ?,
		local_gb_used = local_gb_used - ? WHERE host = ?`, f.VCPUs, f.RAM, disk, host)
	return err
}

func parseStamp(s string) time.Time {
	t, _ := time.Parse("2006-01-02T15:04:05Z", s)
	return t
}
