package volume

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/nimbus-cloud/nimbus/internal/platform/db"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// SetBackupDriver makes this manager the host's cinder-backup too: it
// heartbeats a cinder-backup service and drives the backups of the volumes
// its backends hold. Call it before Run.
func (m *Manager) SetBackupDriver(d BackupDriver) { m.backup = d }

// convergeSnapshotsAndBackups is the pass's second half: each backend's
// snapshots in creating or deleting, then (with a backup driver) the
// backups this host serves in creating, restoring or deleting. As the
// volumes' steps, every step is idempotent and a row moves on only after
// its step, so a crash leaves a row the next pass finishes.
func (m *Manager) convergeSnapshotsAndBackups(ctx context.Context) error {
	var errs []error
	for _, name := range sortedKeys(m.backends) {
		if err := m.convergeSnapshots(ctx, name, m.backends[name]); err != nil {
			errs = append(errs, fmt.Errorf("%s snapshots: %w", name, err))
		}
	}
	if m.backup != nil {
		if err := m.backupHeartbeat(ctx); err != nil {
			errs = append(errs, fmt.Errorf("backup heartbeat: %w", err))
		}
		if err := m.convergeBackups(ctx); err != nil {
			errs = append(errs, fmt.Errorf("backups: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) convergeSnapshots(ctx context.Context, name string, b backend.Backend) error {
	snaps, err := db.QueryAll(ctx, m.db, scanSnapshot, `SELECT `+snapshotColumns+` FROM volume_snapshots
		WHERE (host = ? OR host LIKE ?) AND status IN (?, ?)
		AND NOT (status = ? AND id IN (SELECT snapshot_id FROM volume_snapshot_manage_refs)) ORDER BY created_at`, // managed: manager_manage.go
		m.serviceHost(name), m.serviceHost(name)+"#%", snapshotCreating, snapshotDeleting, snapshotCreating)
	if err != nil {
		return err
	}
	var errs []error
	for _, s := range snaps {
		if err := m.snapshotStep(ctx, b, s); err != nil {
			errs = append(errs, fmt.Errorf("snapshot %s (%s): %w", s.ID, s.Status, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) snapshotStep(ctx context.Context, b backend.Backend, s *snapshot) error {
	bs := backend.Snapshot{ID: s.ID, VolumeID: s.VolumeID, SizeGB: s.VolumeSize}
	now := dbTime(m.now())
	switch s.Status {
	case snapshotCreating:
		if err := b.CreateSnapshot(ctx, bs); err != nil {
			m.log.Warn("snapshot create failed", "snapshot", s.ID, "error", err)
			return m.failSnapshot(ctx, s.ID, snapshotError, err)
		}
		_, err := m.db.ExecContext(ctx, `UPDATE volume_snapshots SET status = ?, progress = '100%', updated_at = ?
			WHERE id = ? AND status = ?`, snapshotAvailable, now, s.ID, snapshotCreating)
		return err
	case snapshotDeleting:
		if err := b.DeleteSnapshot(ctx, bs); err != nil && !errors.Is(err, backend.ErrNotFound) {
			m.log.Warn("snapshot delete failed", "snapshot", s.ID, "error", err)
			return m.failSnapshot(ctx, s.ID, snapshotErrorDeleting, err)
		}
		_, err := m.db.ExecContext(ctx, `DELETE FROM volume_snapshots WHERE id = ? AND status = ?`, s.ID, snapshotDeleting)
		return err
	}
	return nil
}

func (m *Manager) failSnapshot(ctx context.Context, id, status string, cause error) error {
	_, err := m.db.ExecContext(ctx, `UPDATE volume_snapshots SET status = ?, fail_reason = ?, updated_at = ? WHERE id = ?`,
		status, cause.Error(), dbTime(m.now()), id)
	return err
}

// backupHeartbeat upserts this host's cinder-backup service row.
func (m *Manager) backupHeartbeat(ctx context.Context) error {
	now := dbTime(m.now())
	return m.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE volume_services SET heartbeat_at = ?, updated_at = ?, availability_zone = ?
			WHERE host = ? AND binary_name = 'cinder-backup'`, now, now, m.az, m.host)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO volume_services (id, host, binary_name, topic, availability_zone,
			heartbeat_at, created_at, updated_at) VALUES (?, ?, 'cinder-backup', 'cinder-backup', ?, ?, ?, ?)`,
			uuid.NewString(), m.host, m.az, now, now, now)
		return err
	})
}

func (m *Manager) convergeBackups(ctx context.Context) error {
	rows, err := db.QueryAll(ctx, m.db, scanBackup, `SELECT `+backupColumns+` FROM volume_backups
		WHERE host = ? AND status IN (?, ?, ?) ORDER BY created_at`, m.host, backupCreating, backupRestoring, backupDeleting)
	if err != nil {
		return err
	}
	var errs []error
	for _, bk := range rows {
		var err error
		switch bk.Status {
		case backupCreating:
			err = m.createBackup(ctx, bk)
		case backupRestoring:
			err = m.restoreBackup(ctx, bk)
		case backupDeleting:
			err = m.deleteBackup(ctx, bk)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("backup %s (%s): %w", bk.ID, bk.Status, err))
		}
	}
	return errors.Join(errs...)
}

// createBackup is backup/manager.py create_backup: the volume's (or the
// snapshot's) bytes to the driver, then the backup available and the volume
// (or snapshot) back to the status it had. On failure the backup is in
// error with the reason and the source is given back all the same.
//
// The backup's container and object prefix are saved first, as upstream's
// _prepare_backup does: a backup interrupted by a crash (or the service
// stopping) is still creating at the next pass, which runs it again with
// them, and the driver reuses the chunks the interrupted attempt stored.
func (m *Manager) createBackup(ctx context.Context, bk *backupRow) error {
	if bk.ServiceMetadata == nil {
		if proceed, err := m.nameBackup(ctx, bk); err != nil || !proceed {
			return err
		}
	}
	res, cause := m.runBackup(ctx, bk)
	now := dbTime(m.now())
	return m.db.InTx(ctx, func(tx *db.Tx) error {
		if bk.SnapshotID != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE volume_snapshots SET status = ?, updated_at = ? WHERE id = ? AND status = ?`,
				snapshotAvailable, now, *bk.SnapshotID, snapshotBackingUp); err != nil {
				return err
			}
		} else if _, err := tx.ExecContext(ctx, `UPDATE volumes SET status = COALESCE(previous_status, ?), previous_status = NULL,
			updated_at = ? WHERE id = ? AND status = ?`, statusAvailable, now, bk.VolumeID, statusBackingUp); err != nil {
			return err
		}
		if cause != nil {
			m.log.Warn("backup failed", "backup", bk.ID, "volume", bk.VolumeID, "error", cause)
			_, err := tx.ExecContext(ctx, `UPDATE volume_backups SET status = ?, fail_reason = ?, updated_at = ? WHERE id = ? AND status = ?`,
				backupError, cause.Error(), now, bk.ID, backupCreating)
			return err
		}
		if bk.ParentID != nil {
			if _, err := tx.ExecContext(ctx, `UPDATE volume_backups SET num_dependent_backups = num_dependent_backups + 1
				WHERE id = ?`, *bk.ParentID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE volume_backups SET status = ?, container = ?, object_count = ?, service = ?,
			service_metadata = ?, availability_zone = COALESCE(availability_zone, ?), fail_reason = NULL, updated_at = ?
			WHERE id = ? AND status = ?`, backupAvailable, res.Container, res.ObjectCount, m.backup.Service(), res.Prefix,
			m.az, now, bk.ID, backupCreating)
		return err
	})
}

// nameBackup saves the container and prefix the driver stores backup bk
// under, and sets them on bk. It says whether to go on with the backup:
// not when the row moved on meanwhile (deleted, reset), which the pass then
// leaves.
func (m *Manager) nameBackup(ctx context.Context, bk *backupRow) (proceed bool, err error) {
	spec, err := backupSpec(ctx, m.db, bk)
	if err != nil {
		// runBackup meets the same error (a parent gone) and fails the
		// backup with it: not a step to retry
		return true, nil
	}
	container, prefix := m.backup.Names(spec)
	res, err := m.db.ExecContext(ctx, `UPDATE volume_backups SET container = ?, service_metadata = ?, updated_at = ?
		WHERE id = ? AND status = ? AND service_metadata IS NULL`, container, prefix, dbTime(m.now()), bk.ID, backupCreating)
	if err != nil {
		return false, fmt.Errorf("saving the names of backup %s: %w", bk.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	bk.Container, bk.ServiceMetadata = &container, &prefix
	return true, nil
}

// runBackup opens the source on its backend and has the driver store it.
func (m *Manager) runBackup(ctx context.Context, bk *backupRow) (BackupResult, error) {
	v, err := volumeByID(ctx, m.db, bk.VolumeID)
	if err != nil {
		return BackupResult{}, fmt.Errorf("volume %s: %w", bk.VolumeID, err)
	}
	b, err := m.backendFor(v.Host)
	if err != nil {
		return BackupResult{}, err
	}
	spec, err := backupSpec(ctx, m.db, bk)
	if err != nil {
		return BackupResult{}, err
	}
	data, err := b.Open(ctx, bv(v), deref(bk.SnapshotID))
	if err != nil {
		return BackupResult{}, err
	}
	defer data.Close()
	return m.backup.Backup(ctx, spec, data, data.Size(), nil)
}

// restoreBackup is backup/manager.py restore_backup into an existing volume
// (restoring-backup): on success the volume is available, on failure
// error_restoring; the backup is available again either way.
func (m *Manager) restoreBackup(ctx context.Context, bk *backupRow) error {
	if bk.RestoreVolumeID == nil {
		_, err := m.db.ExecContext(ctx, `UPDATE volume_backups SET status = ?, updated_at = ? WHERE id = ?`,
			backupAvailable, dbTime(m.now()), bk.ID)
		return err
	}
	v, err := volumeByID(ctx, m.db, *bk.RestoreVolumeID)
	if err != nil && !db.IsNoRows(err) {
		return err
	}
	cause := err
	if err == nil {
		cause = m.restoreInto(ctx, bk, v, false)
	}
	now := dbTime(m.now())
	volumeStatus := statusAvailable
	if cause != nil {
		m.log.Warn("backup restore failed", "backup", bk.ID, "volume", *bk.RestoreVolumeID, "error", cause)
		volumeStatus = statusErrorRestoring
	}
	return m.db.InTx(ctx, func(tx *db.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE volumes SET status = ?, updated_at = ? WHERE id = ? AND status = ?`,
			volumeStatus, now, *bk.RestoreVolumeID, statusRestoringBackup); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE volume_backups SET status = ?, restore_volume_id = NULL, updated_at = ?
			WHERE id = ? AND status = ?`, backupAvailable, now, bk.ID, backupRestoring)
		return err
	})
}

// restoreInto writes the backup's bytes over volume v.
func (m *Manager) restoreInto(ctx context.Context, bk *backupRow, v *volume, volumeIsNew bool) error {
	if m.backup == nil {
		return errors.New("no backup service on this host")
	}
	b, err := m.backendFor(v.Host)
	if err != nil {
		return err
	}
	spec, err := backupSpec(ctx, m.db, bk)
	if err != nil {
		return err
	}
	data, err := b.Open(ctx, bv(v), "")
	if err != nil {
		return err
	}
	size := min(int64(bk.Size)*gib, data.Size())
	if err := m.backup.Restore(ctx, spec, data, size, volumeIsNew); err != nil {
		data.Close()
		return err
	}
	return data.Close()
}

// createFromBackup makes a volume created with backup_id (3.47) or by a
// restore without a volume: a blank volume, then the backup written into it,
// as upstream's driver-side create_volume_from_backup. The volume stays
// creating until it is done, so a crash repeats both steps.
func (m *Manager) createFromBackup(ctx context.Context, b backend.Backend, v *volume) error {
	bk, err := backupByID(ctx, m.db, *v.BackupID)
	if err != nil {
		return fmt.Errorf("backup %s: %w", *v.BackupID, err)
	}
	if err := b.Create(ctx, bv(v)); err != nil {
		return err
	}
	return m.restoreInto(ctx, bk, v, true)
}

// deleteBackup is backup/manager.py delete_backup: the driver's objects,
// then the row; the parent counts one dependent fewer.
func (m *Manager) deleteBackup(ctx context.Context, bk *backupRow) error {
	spec, err := backupSpec(ctx, m.db, bk)
	if err == nil {
		err = m.backup.Delete(ctx, spec)
	}
	now := dbTime(m.now())
	if err != nil {
		m.log.Warn("backup delete failed", "backup", bk.ID, "error", err)
		_, uerr := m.db.ExecContext(ctx, `UPDATE volume_backups SET status = ?, fail_reason = ?, updated_at = ? WHERE id = ?`,
			backupError, err.Error(), now, bk.ID)
		return uerr
	}
	return m.db.InTx(ctx, func(tx *db.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM volume_backups WHERE id = ? AND status = ?`, bk.ID, backupDeleting)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n > 0 && bk.ParentID != nil {
			_, err = tx.ExecContext(ctx, `UPDATE volume_backups SET num_dependent_backups = num_dependent_backups - 1
				WHERE id = ? AND num_dependent_backups > 0`, *bk.ParentID)
		}
		return err
	})
}
