package volume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// The manager's side of manage and unmanage (cinder/volume/flows/manager/
// manage_existing.py, manager.py delete_volume with unmanage_only), in the
// same level-triggered shape as its other steps:
//
//   - managing: ask the backend the object's size, count its gigabytes in the
//     transaction that records the size (over quota: error_managing), then
//     have the backend take the object over, then available. A crash after
//     the size is recorded skips to the takeover, which is idempotent.
//   - unmanaging: the backend lets go (keeping the data), then the row goes;
//     the project's usage, counted from rows, drops with it.

// errNotManageable is the step's error on a backend without backend.Manageable.
var errNotManageable = errors.New("the volume driver does not support managing existing volumes")

// ManageableVolumes is the RPC call the API makes for a listing: the
// objects of this host's backend host@backend, the service's volumes on it
// marked as managed.
func (m *Manager) ManageableVolumes(ctx context.Context, host string) ([]backend.ManageableVolume, error) {
	name, ok := strings.CutPrefix(backendOf(host), m.host+"@")
	b := m.backends[name]
	if !ok || b == nil {
		return nil, fmt.Errorf("no backend %s on this host", host)
	}
	mb, ok := b.(backend.Manageable)
	if !ok {
		return nil, errNotManageable
	}
	ids, err := db.QueryStrings(ctx, m.db, `SELECT id FROM volumes WHERE host = ? OR host LIKE ?`,
		m.serviceHost(name), m.serviceHost(name)+"#%")
	if err != nil {
		return nil, err
	}
	managed := make(map[string]bool, len(ids))
	for _, id := range ids {
		managed[id] = true
	}
	return mb.ManageableVolumes(ctx, managed)
}

// convergeManaged drives every backend's managing and unmanaging volumes.
func (m *Manager) convergeManaged(ctx context.Context) error {
	var errs []error
	for _, name := range sortedKeys(m.backends) {
		vols, err := db.QueryAll(ctx, m.db, scanVolume, `SELECT `+volumeColumns+` FROM volumes
			WHERE (host = ? OR host LIKE ?) AND status IN (?, ?) ORDER BY created_at`,
			m.serviceHost(name), m.serviceHost(name)+"#%", statusManaging, statusUnmanaging)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := m.convergeManagedSnapshots(ctx, name, m.backends[name]); err != nil {
			errs = append(errs, fmt.Errorf("%s managed snapshots: %w", name, err))
		}
		for _, v := range vols {
			var err error
			if v.Status == statusManaging {
				err = m.manageStep(ctx, m.backends[name], v)
			} else {
				err = m.unmanageStep(ctx, m.backends[name], v)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("volume %s (%s): %w", v.ID, v.Status, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) manageStep(ctx context.Context, b backend.Backend, v *volume) error {
	mb, ok := b.(backend.Manageable)
	if !ok {
		return m.fail(ctx, v.ID, statusErrorManaging, errNotManageable)
	}
	var raw string
	if err := m.db.QueryRowContext(ctx, `SELECT ref FROM volume_manage_refs WHERE volume_id = ?`, v.ID).Scan(&raw); err != nil {
		return m.fail(ctx, v.ID, statusErrorManaging, fmt.Errorf("manage reference: %w", err))
	}
	var ref map[string]any
	if err := json.Unmarshal([]byte(raw), &ref); err != nil {
		return m.fail(ctx, v.ID, statusErrorManaging, fmt.Errorf("manage reference: %w", err))
	}
	if v.Size == 0 {
		size, err := mb.ManageExistingGetSize(ctx, ref)
		if err != nil {
			m.log.Warn("manage existing: size", "volume", v.ID, "error", err)
			return m.fail(ctx, v.ID, statusErrorManaging, err)
		}
		if size < 1 {
			size = 1
		}
		var quotaErr error
		err = m.db.InTx(ctx, func(tx *db.Tx) error {
			quotaErr = nil
			t, err := typeByID(ctx, tx, v.VolumeTypeID)
			if err != nil {
				return err
			}
			if err := m.quotas.checkQuota(ctx, tx, v.ProjectID, map[string]int{"gigabytes": size, "gigabytes_" + t.Name: size}); err != nil {
				quotaErr = err
				return nil
			}
			_, err = tx.ExecContext(ctx, `UPDATE volumes SET size = ?, updated_at = ? WHERE id = ? AND status = ?`,
				size, dbTime(m.now()), v.ID, statusManaging)
			return err
		})
		if err != nil {
			return err
		}
		if quotaErr != nil {
			return m.fail(ctx, v.ID, statusErrorManaging, quotaErr)
		}
		v.Size = size
	}
	if err := mb.ManageExisting(ctx, bv(v), ref); err != nil {
		m.log.Warn("manage existing failed", "volume", v.ID, "error", err)
		return m.fail(ctx, v.ID, statusErrorManaging, err)
	}
	now := dbTime(m.now())
	return m.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM volume_manage_refs WHERE volume_id = ?`, v.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE volumes SET status = ?, launched_at = ?, updated_at = ? WHERE id = ? AND status = ?`,
			statusAvailable, now, now, v.ID, statusManaging)
		return err
	})
}

func (m *Manager) unmanageStep(ctx context.Context, b backend.Backend, v *volume) error {
	mb, ok := b.(backend.Manageable)
	if !ok {
		return m.fail(ctx, v.ID, statusErrorDeleting, errNotManageable)
	}
	// an export the convergence has not removed yet (the volume was detached
	// just before) goes first: the backend refuses to let go of a served volume
	exports, err := b.Exports(ctx)
	if err != nil {
		return err
	}
	for _, e := range exports {
		if e.VolumeID == v.ID {
			if err := b.Unexport(ctx, bv(v), e.AttachmentID); err != nil {
				return m.fail(ctx, v.ID, statusErrorDeleting, err)
			}
		}
	}
	if err := mb.Unmanage(ctx, bv(v)); err != nil {
		return m.fail(ctx, v.ID, statusErrorDeleting, err)
	}
	_, err = m.db.ExecContext(ctx, `DELETE FROM volumes WHERE id = ? AND status = ?`, v.ID, statusUnmanaging)
	return err
}

// errSnapshotsNotManageable is the step's error on a backend without
// backend.ManageableSnapshots (the file backend: its snapshots are qcow2
// internal snapshots, which cannot be renamed).
var errSnapshotsNotManageable = errors.New("the volume driver does not support managing existing snapshots")

// ManageableSnapshots is the RPC call for a snapshot listing.
func (m *Manager) ManageableSnapshots(ctx context.Context, host string) ([]backend.ManageableSnapshot, error) {
	name, ok := strings.CutPrefix(backendOf(host), m.host+"@")
	b := m.backends[name]
	if !ok || b == nil {
		return nil, fmt.Errorf("no backend %s on this host", host)
	}
	mb, ok := b.(backend.ManageableSnapshots)
	if !ok {
		return nil, errSnapshotsNotManageable
	}
	ids, err := db.QueryStrings(ctx, m.db, `SELECT id FROM volume_snapshots WHERE host = ? OR host LIKE ?`,
		m.serviceHost(name), m.serviceHost(name)+"#%")
	if err != nil {
		return nil, err
	}
	managed := make(map[string]bool, len(ids))
	for _, id := range ids {
		managed[id] = true
	}
	return mb.ManageableSnapshots(ctx, managed)
}

// convergeManagedSnapshots drives a backend's snapshots being managed
// (creating with a reference) and unmanaging.
func (m *Manager) convergeManagedSnapshots(ctx context.Context, name string, b backend.Backend) error {
	snaps, err := db.QueryAll(ctx, m.db, scanSnapshot, `SELECT `+snapshotColumns+` FROM volume_snapshots
		WHERE (host = ? OR host LIKE ?) AND (status = ? OR status = ? AND id IN (SELECT snapshot_id FROM volume_snapshot_manage_refs))
		ORDER BY created_at`, m.serviceHost(name), m.serviceHost(name)+"#%", statusUnmanaging, snapshotCreating)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range snaps {
		bs := backend.Snapshot{ID: s.ID, VolumeID: s.VolumeID, SizeGB: s.VolumeSize}
		mb, ok := b.(backend.ManageableSnapshots)
		var err error
		switch {
		case !ok && s.Status == statusUnmanaging:
			err = m.failSnapshot(ctx, s.ID, snapshotErrorDeleting, errSnapshotsNotManageable)
		case !ok:
			err = m.failSnapshot(ctx, s.ID, snapshotError, errSnapshotsNotManageable)
		case s.Status == statusUnmanaging:
			if uerr := mb.UnmanageSnapshot(ctx, bs); uerr != nil {
				err = m.failSnapshot(ctx, s.ID, snapshotErrorDeleting, uerr)
			} else {
				_, err = m.db.ExecContext(ctx, `DELETE FROM volume_snapshots WHERE id = ? AND status = ?`, s.ID, statusUnmanaging)
			}
		default:
			err = m.manageSnapshotStep(ctx, mb, bs)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("snapshot %s (%s): %w", s.ID, s.Status, err))
		}
	}
	return errors.Join(errs...)
}

// manageSnapshotStep has the backend take the object over. The quota was
// counted by the API with the volume's size, as upstream's
// create_snapshot_in_db; the object's own size is only checked to exist.
func (m *Manager) manageSnapshotStep(ctx context.Context, mb backend.ManageableSnapshots, bs backend.Snapshot) error {
	var raw string
	if err := m.db.QueryRowContext(ctx, `SELECT ref FROM volume_snapshot_manage_refs WHERE snapshot_id = ?`, bs.ID).Scan(&raw); err != nil {
		return err
	}
	var ref map[string]any
	if err := json.Unmarshal([]byte(raw), &ref); err != nil {
		return m.failSnapshot(ctx, bs.ID, snapshotError, err)
	}
	if _, err := mb.ManageExistingSnapshotGetSize(ctx, bs, ref); err != nil {
		if !errors.Is(err, backend.ErrNotFound) {
			return m.failSnapshot(ctx, bs.ID, snapshotError, err)
		}
		// gone: taken over before a crash, or never there (ManageExistingSnapshot tells)
	}
	if err := mb.ManageExistingSnapshot(ctx, bs, ref); err != nil {
		m.log.Warn("manage existing snapshot failed", "snapshot", bs.ID, "error", err)
		return m.failSnapshot(ctx, bs.ID, snapshotError, err)
	}
	now := dbTime(m.now())
	return m.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM volume_snapshot_manage_refs WHERE snapshot_id = ?`, bs.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE volume_snapshots SET status = ?, progress = '100%', updated_at = ?
			WHERE id = ? AND status = ?`, snapshotAvailable, now, bs.ID, snapshotCreating)
		return err
	})
}
