package qemu

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/compute/virt"
)

// LiveMigrationProgress is where the guest's migration stands on the source.
func (d *Driver) LiveMigrationProgress(ctx context.Context, s virt.Spec) (virt.MigrationProgress, error) {
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return virt.MigrationProgress{}, fmt.Errorf("migration progress of %s: %w", s.UUID, err)
	}
	if pid == 0 {
		return virt.MigrationProgress{}, fmt.Errorf("migration progress of %s: %w", s.UUID, ErrNotRunning)
	}
	sock := filepath.Join(s.Dir, qmpSocket)
	mi, err := queryMigrate(ctx, sock)
	if err != nil {
		return virt.MigrationProgress{}, fmt.Errorf("migration progress of %s: %w", s.UUID, err)
	}
	return migrationProgress(ctx, sock, mi), nil
}

// ForceCompleteLiveMigration pauses the source's guest so its migration
// converges, as upstream's libvirt driver does without post-copy.
func (d *Driver) ForceCompleteLiveMigration(ctx context.Context, s virt.Spec) error {
	defer d.lock(s.UUID)()
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil {
		return fmt.Errorf("force complete migration of %s: %w", s.UUID, err)
	}
	if pid == 0 {
		return fmt.Errorf("force complete migration of %s: %w", s.UUID, ErrNoMigration)
	}
	sock := filepath.Join(s.Dir, qmpSocket)
	mi, err := queryMigrate(ctx, sock)
	if err != nil {
		return fmt.Errorf("force complete migration of %s: %w", s.UUID, err)
	}
	if !migrationActive[mi.Status] && !exists(filepath.Join(s.Dir, migrationFile)) {
		return fmt.Errorf("force complete migration of %s: %w", s.UUID, ErrNoMigration)
	}
	if err := qmp(ctx, sock, "stop", nil, nil); err != nil {
		return fmt.Errorf("force complete migration of %s: %w", s.UUID, err)
	}
	d.log.Info("guest paused to complete its migration", "uuid", s.UUID, "status", mi.Status)
	return nil
}

// AbortLiveMigration cancels the guest's migration on the source; the guest
// runs on there as before.
func (d *Driver) AbortLiveMigration(ctx context.Context, s virt.Spec) error {
	if err := d.abortMigration(ctx, s); err != nil {
		return fmt.Errorf("abort migration of %s: %w", s.UUID, err)
	}
	return nil
}

// abortMigration cancels the migration and the mirrors, removes the nbd
// nodes and resumes a guest that ran before. A completed migration is not
// undone: its guest lives on the destination.
func (d *Driver) abortMigration(ctx context.Context, s virt.Spec) error {
	defer d.lock(s.UUID)()
	pid, err := guestPID(s.Dir, s.UUID)
	if err != nil || pid == 0 {
		return err
	}
	sock := filepath.Join(s.Dir, qmpSocket)
	mi, err := queryMigrate(ctx, sock)
	if err != nil {
		return err
	}
	if mi.Status == "completed" {
		return errors.New("the migration has completed")
	}
	if migrationActive[mi.Status] {
		if err := qmp(ctx, sock, "migrate_cancel", nil, nil); err != nil {
			return err
		}
		for migrationActive[mi.Status] {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			if mi, err = queryMigrate(ctx, sock); err != nil {
				return err
			}
		}
		if mi.Status == "completed" {
			return errors.New("the migration completed before it could be cancelled")
		}
	}
	drives, _ := localDriveIDs(s)
	if _, err := endMirrors(ctx, onSocket(sock), len(drives), true); err != nil {
		return err
	}
	var rec migrationRecord
	if readJSON(filepath.Join(s.Dir, migrationFile), &rec) == nil && rec.WasRunning {
		// Paused by a force-complete, or by QEMU for the switch-over.
		if err := qmp(ctx, sock, "cont", nil, nil); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(s.Dir, migrationFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	d.log.Info("live migration aborted", "uuid", s.UUID, "status", mi.Status)
	return nil
}
