package image

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
)

// A transfer (an upload, or an import moving staged data into the store) holds its
// image in saving or importing under a lease: the process renews it while the
// bytes flow, so another process on the same database can tell a transfer in
// flight from one whose process died, and resets only the latter.
const (
	transferLease   = 60 * time.Second
	transferRenewal = transferLease / 4
)

// transferStatuses are the statuses only a live transfer holds.
var transferStatuses = []string{"saving", "importing"}

// renewTransfer keeps the lease of transfer on image id alive until stop is
// closed. A renewal that finds the lease gone (a process reset the image after
// losing sight of this one) stops: the transfer's last step will find it gone too.
func (s *Service) renewTransfer(id, transfer string, stop <-chan struct{}) {
	t := time.NewTicker(transferRenewal)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			res, err := s.db.ExecContext(context.Background(), `UPDATE images SET transfer_expires = ?
				WHERE id = ? AND transfer_id = ?`, s.now().Add(transferLease).Unix(), id, transfer)
			if err != nil {
				s.log.Warn("renew image transfer lease", "image_id", id, "error", err)
				continue
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return
			}
		}
	}
}

// leaseLapsed reports whether a transfer's lease (unix seconds; NULL for none)
// has run out at now.
func leaseLapsed(expires sql.NullInt64, now time.Time) bool {
	return !expires.Valid || expires.Int64 < now.Unix()
}

// recover puts the images whose transfer died (a crash of whichever process ran
// it) back to queued and drops their data: a half-written image is never served
// as active. Transfers another process is running keep their lease and go on.
func (s *Service) recover(ctx context.Context) error {
	type held struct {
		id      string
		expires sql.NullInt64
	}
	rows, err := db.QueryAll(ctx, s.db, func(sc db.Scanner) (held, error) {
		var h held
		return h, sc.Scan(&h.id, &h.expires)
	}, `SELECT id, transfer_expires FROM images WHERE status IN (?, ?)`, transferStatuses[0], transferStatuses[1])
	if err != nil {
		return err
	}
	now := s.now()
	for _, h := range rows {
		if !leaseLapsed(h.expires, now) {
			continue
		}
		res, err := s.db.ExecContext(ctx, `UPDATE images SET status = 'queued', size = NULL, checksum = NULL,
			os_hash_algo = NULL, os_hash_value = NULL, transfer_id = NULL, transfer_expires = NULL, updated_at = ?
			WHERE id = ? AND status IN (?, ?) AND (transfer_expires IS NULL OR transfer_expires < ?)`,
			stamp(now), h.id, transferStatuses[0], transferStatuses[1], now.Unix())
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue // renewed or finished since the read
		}
		if err := s.store.Delete(h.id); err != nil {
			return err
		}
		s.log.Warn("image transfer interrupted; image back to queued", "image_id", h.id)
	}
	// A temp file older than a lease belongs to no live transfer: live ones write
	// (and so touch it) far more often.
	for _, st := range []Store{s.store, s.staging} {
		if err := st.Clean(now.Add(-transferLease)); err != nil {
			return fmt.Errorf("clean image store: %w", err)
		}
	}
	return nil
}

// nullString is s, or NULL when empty.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// Run sweeps for dead transfers until ctx ends, so an image whose transfer's
// process died is queued again (and its partial data dropped) within two leases,
// whether or not that process comes back.
func (s *Service) Run(ctx context.Context) {
	// the cloud serves now: a store that waits for it (SwiftStore) may start
	if st, ok := s.store.(interface{ Start() }); ok {
		st.Start()
	}
	t := time.NewTicker(transferLease / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.recover(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("sweep image transfers", "error", err)
			}
		}
	}
}
