package volume

import (
	"context"
	"io"
	"time"
)

// BackupDriver stores backups, as upstream's cinder.backup.driver.BackupDriver
// (the chunked drivers: the object store's, a directory's). The volume
// manager gives it the volume's (or snapshot's) bytes as the backend serves
// them; the driver keeps no state the manager must remember, and each method
// is idempotent, so a step a crash interrupted is run again from the start.
//
// This file is the seam the backup drivers (internal/volume/backup) plug
// into: the manager calls nothing else of them, and the shapes follow that
// package's Driver, Spec and Result so an adapter is a field-by-field copy.
type BackupDriver interface {
	// Service is what a backup records as its service (upstream's driver
	// module, e.g. cinder.backup.drivers.swift.SwiftBackupDriver).
	Service() string
	// Names are the container and object prefix backup spec is stored
	// under: spec's own, or new ones. The manager saves them on the row
	// before the first Backup (upstream's _prepare_backup), so that a backup
	// a crash interrupted is resumed, and one that failed can be deleted.
	Names(spec BackupSpec) (container, prefix string)
	// Backup reads size bytes of src and stores them as backup spec; with
	// spec.Parent set, only what changed since the parent (incremental).
	// With spec's saved Names, it reuses what an interrupted attempt stored.
	// progress, if not nil, is told the bytes backed up so far.
	Backup(ctx context.Context, spec BackupSpec, src io.ReaderAt, size int64, progress func(done int64)) (BackupResult, error)
	// Restore writes the backup (the chain of its parents first) into dst,
	// which holds size bytes; volumeIsNew says dst reads as zeros where it
	// was never written.
	Restore(ctx context.Context, spec BackupSpec, dst io.WriterAt, size int64, volumeIsNew bool) error
	// Delete removes the backup's objects; one that is gone is no error.
	Delete(ctx context.Context, spec BackupSpec) error
}

// BackupSpec names one backup in its store.
type BackupSpec struct {
	ID                string
	VolumeID          string
	AvailabilityZone  string
	Name, Description string
	CreatedAt         time.Time
	// Container is the requested container for Backup ("" the driver's
	// default); for Restore and Delete, BackupResult.Container as saved.
	Container string
	// Prefix is the objects' name prefix, saved as the backup's
	// service_metadata ("" for Backup makes a new one).
	Prefix string
	// Parent is the backup an incremental one is taken over, with its own
	// Container and Prefix; nil for a full backup.
	Parent *BackupSpec
}

// BackupResult is what a backup stored, recorded on its row.
type BackupResult struct {
	ObjectCount int
	Container   string
	Prefix      string
}
