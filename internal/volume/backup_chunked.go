package volume

import (
	"context"
	"io"

	"github.com/nimbus-cloud/nimbus/internal/volume/backup"
)

// ChunkedBackups is the manager's BackupDriver over internal/volume/backup's
// chunked drivers: the object store's (upstream's SwiftBackupDriver) when
// Auth is set, else a directory's (PosixBackupDriver).
type ChunkedBackups struct {
	Driver *backup.Chunked
	// Auth gives each call the object store's token and storage URL
	// (upstream's backup_swift_auth = single_user: the service's own
	// account); nil for the directory store.
	Auth func(ctx context.Context) (backup.Auth, error)
}

var _ BackupDriver = (*ChunkedBackups)(nil)

func (c *ChunkedBackups) Service() string {
	if c.Auth != nil {
		return "cinder.backup.drivers.swift.SwiftBackupDriver"
	}
	return "cinder.backup.drivers.posix.PosixBackupDriver"
}

func (c *ChunkedBackups) Names(spec BackupSpec) (container, prefix string) {
	return c.Driver.Names(chunkedSpec(spec, backup.Auth{}))
}

func (c *ChunkedBackups) Backup(ctx context.Context, spec BackupSpec, src io.ReaderAt, size int64, progress func(done int64)) (BackupResult, error) {
	s, err := c.spec(ctx, spec)
	if err != nil {
		return BackupResult{}, err
	}
	r, err := c.Driver.Backup(ctx, s, src, size, progress)
	if err != nil {
		return BackupResult{}, err
	}
	return BackupResult{ObjectCount: r.ObjectCount, Container: r.Container, Prefix: r.Prefix}, nil
}

func (c *ChunkedBackups) Restore(ctx context.Context, spec BackupSpec, dst io.WriterAt, size int64, volumeIsNew bool) error {
	s, err := c.spec(ctx, spec)
	if err != nil {
		return err
	}
	return c.Driver.Restore(ctx, s, dst, size, backup.RestoreOptions{VolumeIsNew: volumeIsNew})
}

func (c *ChunkedBackups) Delete(ctx context.Context, spec BackupSpec) error {
	s, err := c.spec(ctx, spec)
	if err != nil {
		return err
	}
	return c.Driver.Delete(ctx, s)
}

// spec is the chunked driver's Spec of a backup and of its chain of parents,
// each with the call's credentials.
func (c *ChunkedBackups) spec(ctx context.Context, b BackupSpec) (backup.Spec, error) {
	var auth backup.Auth
	if c.Auth != nil {
		var err error
		if auth, err = c.Auth(ctx); err != nil {
			return backup.Spec{}, err
		}
	}
	return chunkedSpec(b, auth), nil
}

func chunkedSpec(b BackupSpec, auth backup.Auth) backup.Spec {
	if b.VolumeID == importVolumeID {
		// an imported backup's volume is unknown here (upstream's
		// placeholder): its stored metadata names it, and is not checked
		// against it
		b.VolumeID = ""
	}
	s := backup.Spec{ID: b.ID, VolumeID: b.VolumeID, AvailabilityZone: b.AvailabilityZone, Name: b.Name,
		Description: b.Description, CreatedAt: b.CreatedAt, Container: b.Container, Prefix: b.Prefix, Auth: auth}
	if b.Parent != nil {
		p := chunkedSpec(*b.Parent, auth)
		s.Parent = &p
	}
	return s
}
