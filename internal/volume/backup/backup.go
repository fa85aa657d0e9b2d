// Package backup keeps volume backups as upstream's chunked backup drivers do
// (cinder.backup.chunkeddriver with drivers/swift.py and drivers/posix.py): a
// volume's data cut in chunks, each compressed (zlib by default) and stored as
// one object <prefix>-00001, <prefix>-00002, ... with its md5 recorded in the
// metadata object <prefix>_metadata, and a sha256 per block of 32 KiB in
// <prefix>_sha256file. An incremental backup stores only the blocks whose
// sha256 differs from its parent's; a restore lays the chain down from the
// full backup up. The objects go to an object store (Swift v1, in the
// requesting user's account as backup_swift_auth=per_user does) or into a
// directory (posix).
//
// A Driver keeps no state between calls: everything a backup is is in its
// store, found by the container and object prefix the caller saved from the
// Result (upstream's backup.container and backup.service_metadata). What is
// read from a store is checked before it is used: names must be the backup's
// own, every byte restored must match its block's sha256 before it is
// written, and nothing is written at or past the size the caller gave.
package backup

import (
	"context"
	"errors"
	"io"
	"time"
)

// Driver backs volumes up into a store and restores them.
type Driver interface {
	// Backup stores size bytes of src as the backup s names: a full backup,
	// or an incremental one over s.Parent. progress, if not nil, is told the
	// bytes of src backed up so far, from one goroutine at a time (not
	// necessarily the caller's).
	Backup(ctx context.Context, s Spec, src io.ReaderAt, size int64, progress func(done int64)) (Result, error)
	// Restore writes the backup s (and, first, the chain of parents it
	// depends on) into dst, which holds size bytes.
	Restore(ctx context.Context, s Spec, dst io.WriterAt, size int64, o RestoreOptions) error
	// Delete removes the backup's objects; a backup not there is no error.
	Delete(ctx context.Context, s Spec) error
}

// Spec names one backup in its store.
type Spec struct {
	ID       string
	VolumeID string
	// AvailabilityZone is the backup service's (storage_availability_zone),
	// part of the object store's names (az_<zone>_backup_<id>).
	AvailabilityZone string
	// Name, Description and CreatedAt are recorded in the metadata objects, as
	// upstream's backup_name, backup_description and created_at.
	Name, Description string
	CreatedAt         time.Time
	// Container holds the backup's objects: for Backup, "" is the driver's
	// default (volumebackups; for a directory <id[0:2]>/<id[2:4]>/<id>); for
	// Restore and Delete, Result.Container as saved.
	Container string
	// Prefix is the objects' name prefix (upstream's service_metadata). For
	// Backup, "" makes a new one; a retried backup passes the one it started
	// with (from Names, saved first) so that it resumes from the chunks an
	// interrupted attempt stored. For Restore and Delete, Result.Prefix.
	Prefix string
	// Parent is the backup an incremental one is taken over (restored on
	// top of), with its own Container and Prefix; nil for a full backup.
	Parent *Spec
	// Auth reaches the object store (ignored by the directory store); a
	// parent is read with its child's.
	Auth Auth
}

// Auth is what a call to the object store is made with, as
// backup_swift_auth=per_user: the requesting user's token and their project's
// object-store endpoint (http://host:port/v1/AUTH_<project>).
type Auth struct {
	Token      string
	StorageURL string
}

// Result is what a backup stored: what the API shows and must save to find it
// again.
type Result struct {
	// SizeGB is the backup's size, the volume's in GiB rounded up.
	SizeGB      int64
	ObjectCount int
	Container   string
	Prefix      string
	Incremental bool
	// StoredBytes are the bytes the chunk objects hold (after compression);
	// ChangedBytes the volume's bytes they hold (all of them, for a full
	// backup).
	StoredBytes, ChangedBytes int64
	// ReusedObjects are the chunks a resumed backup found stored by the
	// attempt it resumes, and did not store again.
	ReusedObjects int
}

// RestoreOptions tune a restore.
type RestoreOptions struct {
	// VolumeIsNew says dst reads as zeros where it was never written (a
	// volume created for the restore): runs of zeros of the full backup are
	// then not written, so a thin volume stays thin, as upstream restores
	// into a new volume.
	VolumeIsNew bool
	// Progress, if not nil, is told the bytes restored so far and their total
	// over the chain, from one goroutine at a time (not necessarily the
	// caller's).
	Progress func(done, total int64)
}

var (
	// ErrNotFound: an object the backup needs is not in the store (a backup
	// deleted, a parent missing).
	ErrNotFound = errors.New("not in the backup store")
	// ErrInvalidBackup: the stored backup is not what it should be (a chunk
	// whose md5 or sha256 does not match, metadata that does not parse, an
	// object list that does not match the store's), or cannot be taken as
	// asked (an incremental over a smaller volume), as upstream's
	// InvalidBackup.
	ErrInvalidBackup = errors.New("invalid backup")
	// ErrAccessDenied: the object store refused the token (401 or 403).
	ErrAccessDenied = errors.New("the object store refused access")
)
