package virt

import (
	"context"
	"time"
)

// LiveMigrator is a Driver that moves a running guest to another host without
// shared storage, as upstream's libvirt driver does a block live migration
// (VIR_MIGRATE_NON_SHARED_INC): the destination's QEMU waits for the guest's
// state with its local disks exported over NBD, the source mirrors its disks
// into them and migrates RAM and device state, and the destination resumes the
// guest. The steps are upstream's:
//
//	destination  PrepareIncoming   (pre_live_migration)
//	source       LiveMigrate       (live_migration; Abort and ForceComplete meanwhile)
//	destination  FinishIncoming    (post_live_migration_at_destination)
//	source       Destroy           (post_live_migration: the source's guest gone)
//
// or, on failure, AbortLiveMigration on the source and Destroy on the
// destination (rollback_live_migration). Each step is idempotent, so an agent
// that restarts midway runs it again.
type LiveMigrator interface {
	// PrepareIncoming starts the guest's QEMU on this host waiting for an
	// incoming migration (its CPUs stopped), with its local disks — the root
	// overlay on the same base image, and LocalDisks, made empty by the
	// caller with the source's sizes — exported read-write over NBD. Its
	// listeners bind to listenHost only (this host's address on the hosts'
	// network). A guest already waiting returns its Incoming again.
	PrepareIncoming(ctx context.Context, s Spec, listenHost string) (Incoming, error)
	// LiveMigrate moves the running (or paused) guest to the destination
	// that PrepareIncoming answered and returns once the source's QEMU has
	// handed over and exited. progress, when set, is called with each poll.
	// On failure the source's guest runs on, as before.
	LiveMigrate(ctx context.Context, s Spec, to Incoming, opts LiveMigrationOptions, progress func(MigrationProgress)) (MigrationResult, error)
	// FinishIncoming stops the NBD exports and resumes the migrated guest on
	// this host (it stays paused when it was paused on the source:
	// s.Paused).
	FinishIncoming(ctx context.Context, s Spec) error
	// AbortLiveMigration cancels a migration under way on the source
	// (migrate_cancel and the disks' mirror jobs); the guest runs on there.
	// Nothing under way is no error.
	AbortLiveMigration(ctx context.Context, s Spec) error
	// ForceCompleteLiveMigration makes a migration that does not converge
	// finish, as upstream without post-copy: the source's guest is paused, so
	// its memory stops changing.
	ForceCompleteLiveMigration(ctx context.Context, s Spec) error
	// LiveMigrationProgress is where the migration of the guest stands on
	// the source (NoState-like zero value when none runs).
	LiveMigrationProgress(ctx context.Context, s Spec) (MigrationProgress, error)
}

// Incoming is where a destination waits for a guest: its migration and NBD
// listeners, and the export name of each local disk in the Spec's order
// (the root disk, then LocalDisks).
type Incoming struct {
	Host          string
	MigrationPort int
	NBDPort       int
	Exports       []string
}

// LiveMigrationOptions tune a live migration, as upstream's libvirt options.
type LiveMigrationOptions struct {
	// BandwidthMiBps caps the transfer (live_migration_bandwidth; 0 is no cap).
	BandwidthMiBps int
	// MaxDowntime is the pause the guest may see at the switch-over
	// (live_migration_downtime, 500 ms when 0).
	MaxDowntime time.Duration
	// CompletionTimeout aborts a migration that has not finished by then
	// (live_migration_completion_timeout; none when 0).
	CompletionTimeout time.Duration
}

// MigrationProgress is the guest's migration as upstream's migration record
// shows it (memory_* and disk_* in bytes).
type MigrationProgress struct {
	// Status is QEMU's migration status (setup, active, pre-switchover,
	// device, completed, failed, cancelled; "none" when none ran), and
	// Mirroring reports the disks are still being copied before the RAM.
	Status                                        string
	Mirroring                                     bool
	MemoryTotal, MemoryProcessed, MemoryRemaining int64
	DiskTotal, DiskProcessed, DiskRemaining       int64
}

// MigrationResult are a completed migration's figures.
type MigrationResult struct {
	// Total is from the start of the disk copy to the source's exit;
	// Downtime is the guest's pause at the switch-over as QEMU measured it.
	Total, Downtime time.Duration
	MemoryBytes     int64
	DiskBytes       int64
}
