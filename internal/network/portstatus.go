package network

import (
	"context"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// SetPortStatus records what an agent observed: ACTIVE once a port is wired on its
// host, DOWN when it is not (upstream's update_device_up/down). Unchanged ports are
// not written, so a converge loop that repeats itself costs no writes.
func (s *Service) SetPortStatus(ctx context.Context, status string, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *db.Tx) error {
		for _, id := range ids {
			var p portBody
			if err := loadBody(ctx, tx, "ports", id, &p); err != nil {
				if db.IsNoRows(err) {
					continue // deleted meanwhile
				}
				return err
			}
			if p.Status == status || status == "DOWN" && p.movedRecently() {
				continue
			}
			p.Status = status
			p.touch(stamp(s.now()))
			if err := saveBody(ctx, tx, "ports", id, &p); err != nil {
				return err
			}
		}
		return nil
	})
}
