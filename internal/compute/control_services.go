package compute

import (
	"context"
	"fmt"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// The control plane's services: the conductor (Run) places instances as
// upstream's nova-scheduler does and drives builds as its nova-conductor does,
// so os-services lists both for the host it runs on, up while it heartbeats.
const (
	binaryScheduler = "nova-scheduler"
	binaryConductor = "nova-conductor"
	binaryCompute   = "nova-compute"
	// internalZone is upstream's internal_service_availability_zone: where
	// services that host no instances are.
	internalZone = "internal"
	// reportInterval is how often the control services heartbeat (upstream
	// report_interval).
	reportInterval = 10 * time.Second
)

var controlBinaries = []string{binaryScheduler, binaryConductor}

const controlServiceColumns = `number, id, host, service_binary, zone, disabled, forced_down, disabled_reason, updated_at, last_seen_at`

// heartbeat reports the control services of this host until ctx ends.
func (s *Service) heartbeat(ctx context.Context) {
	tick := time.NewTicker(reportInterval)
	defer tick.Stop()
	for {
		if err := s.reportControlServices(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("control services heartbeat", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// reportControlServices records the heartbeat of this host's scheduler and
// conductor, registering them on their first under numbers drawn before
// (nextIDs), so concurrent registrations never take the same one.
func (s *Service) reportControlServices(ctx context.Context) error {
	now := stamp(s.now())
	var missing []string
	err := s.db.InTx(ctx, func(tx *db.Tx) error {
		missing = nil
		for _, binary := range controlBinaries {
			res, err := tx.ExecContext(ctx, `UPDATE control_services SET last_seen_at = ?, updated_at = ?
				WHERE host = ? AND service_binary = ?`, now, now, s.opts.Host, binary)
			if err != nil {
				return fmt.Errorf("heartbeat of %s: %w", binary, err)
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				missing = append(missing, binary)
			}
		}
		return nil
	})
	if err != nil || len(missing) == 0 {
		return err
	}
	first, err := nextIDs(ctx, s.db, seqServices, len(missing))
	if err != nil {
		return err
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		for i, binary := range missing {
			// Registered meanwhile by another start of this host: the number
			// drawn goes unused.
			if _, err := tx.ExecContext(ctx, `INSERT INTO control_services (id, number, host, service_binary, zone,
				last_seen_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host, service_binary) DO NOTHING`,
				newUUID(), first+int64(i), s.opts.Host, binary, internalZone, now, now, now); err != nil {
				return fmt.Errorf("register %s: %w", binary, err)
			}
		}
		return nil
	})
}

// serviceTable is where the services of binary are kept.
func serviceTable(binary string) string {
	if binary == binaryCompute {
		return "compute_services"
	}
	return "control_services"
}
