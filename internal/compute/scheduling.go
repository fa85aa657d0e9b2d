package compute

import (
	"context"
	"errors"
	"fmt"
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
	// Generation changes with every claim on the host (claim).
	Generation int64
	// Aggregates are the host's aggregates (their metadata, their zone).
	Aggregates []scheduler.Aggregate
}

// hostStateFrom is the compute services with each host's usage: the sum of the
// claims on it (instance_claims), never a counter of its own that a release
// could take twice.
const hostStateFrom = `compute_services LEFT JOIN (SELECT host AS claimed_host, SUM(vcpus) AS vcpus_used,
	SUM(memory_mb) AS memory_mb_used, SUM(disk_gb) AS local_gb_used FROM instance_claims GROUP BY host) claimed
	ON claimed.claimed_host = compute_services.host`

const hostStateColumns = `host, zone, disabled, forced_down, last_seen_at, vcpus, memory_mb, local_gb,
	COALESCE(vcpus_used, 0), COALESCE(memory_mb_used, 0), COALESCE(local_gb_used, 0), hypervisor_type,
	hypervisor_version, generation`

func scanHostState(sc db.Scanner) (hostState, error) {
	var h hostState
	var seen string
	err := sc.Scan(&h.Host, &h.Zone, &h.Disabled, &h.ForcedDown, &seen, &h.VCPUs, &h.MemoryMB, &h.DiskGB,
		&h.VCPUsUsed, &h.MemoryMBUsed, &h.DiskGBUsed, &h.HypervisorType, &h.HypervisorVersion, &h.Generation)
	h.LastSeen = parseStamp(seen)
	return h, err
}

func (s *Service) hostStates(ctx context.Context) ([]hostState, error) {
	return loadHostStates(ctx, s.db, `SELECT `+hostStateColumns+` FROM `+hostStateFrom+` ORDER BY host`)
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

// claim takes the flavor's resources on host for the instance if they still
// fit by the scheduler's own rule (scheduler.Fits), as a row of
// instance_claims. It is a conditional write, as upstream placement's
// allocation: the host's generation, read with its usage, is bumped only if
// it is still the one read, so of two claims racing for the last room on a
// host one loses (on PostgreSQL the serializable transaction of the loser is
// aborted and db.InTx runs it again on fresh usage). false: the host has no
// room for it (or is gone); the caller tries another host.
func (s *Service) claim(ctx context.Context, tx *db.Tx, uuid, host string, f Flavor) (bool, error) {
	hosts, err := loadHostStates(ctx, tx, `SELECT `+hostStateColumns+` FROM `+hostStateFrom+` WHERE host = ?`, host)
	if err != nil || len(hosts) == 0 {
		return false, err
	}
	h := hosts[0]
	if !scheduler.Fits(s.opts.Scheduler, s.schedulerHost(h), schedulerFlavor(f)) {
		return false, nil
	}
	res, err := tx.ExecContext(ctx, `UPDATE compute_services SET generation = generation + 1 WHERE host = ? AND generation = ?`,
		host, h.Generation)
	if err != nil {
		return false, fmt.Errorf("claim on host %s: %w", host, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO instance_claims (instance_uuid, flavor_id, host, vcpus, memory_mb, disk_gb)
		VALUES (?, ?, ?, ?, ?, ?)`, uuid, f.ID, host, f.VCPUs, f.RAM, claimDiskGB(f)); err != nil {
		return false, fmt.Errorf("claim on host %s: %w", host, err)
	}
	return true, nil
}

// claimDiskGB is the local disk a flavor takes: root, ephemeral and swap.
func claimDiskGB(f Flavor) int { return f.Disk + f.Ephemeral + (f.Swap+1023)/1024 }

// releaseClaims gives back the instance's claims: those of the flavors named,
// or all of them. A claim is deleted once; a release that comes again (a
// delete reported twice, a retried transaction) finds nothing to give back.
func releaseClaims(ctx context.Context, tx *db.Tx, uuid string, flavorIDs ...string) error {
	q, args := `DELETE FROM instance_claims WHERE instance_uuid = ?`, []any{uuid}
	if len(flavorIDs) > 0 {
		q += ` AND flavor_id IN (?` + strings.Repeat(", ?", len(flavorIDs)-1) + `)`
		for _, id := range flavorIDs {
			args = append(args, id)
		}
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("release claims of instance %s: %w", uuid, err)
	}
	return nil
}

// claimPlaced records the claims of the instances placed before claims were
// rows (migration 0004): each live instance on a host holds its flavor there,
// and the old flavor of a resize not yet confirmed. It finds nothing to do
// once done, and concurrent starts of several processes insert each claim once
// (the transaction is serializable, the claim's key unique).
func (s *Service) claimPlaced(ctx context.Context) error {
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		unclaimed, err := db.QueryAll(ctx, tx, scanInstance, `SELECT `+instanceColumns+` FROM instances
			WHERE deleted = ? AND host IS NOT NULL AND host <> '' AND NOT EXISTS
			(SELECT 1 FROM instance_claims WHERE instance_claims.instance_uuid = instances.uuid)`, false)
		if err != nil {
			return err
		}
		for _, in := range unclaimed {
			for _, f := range []*Flavor{&in.Flavor, in.Request.OldFlavor} {
				if f == nil {
					continue
				}
				if _, err := tx.ExecContext(ctx, `INSERT INTO instance_claims (instance_uuid, flavor_id, host, vcpus, memory_mb,
					disk_gb) VALUES (?, ?, ?, ?, ?, ?)`, in.UUID, f.ID, in.Host, f.VCPUs, f.RAM, claimDiskGB(*f)); err != nil {
					return fmt.Errorf("claim for instance %s placed before claims were recorded: %w", in.UUID, err)
				}
			}
		}
		return nil
	})
}

func parseStamp(s string) time.Time {
	t, _ := time.Parse("2006-01-02T15:04:05Z", s)
	return t
}
