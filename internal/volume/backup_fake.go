package volume

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// fakeBackupDriver keeps each backup as one sparse file in a directory: the
// stand-in until the chunked drivers (internal/volume/backup) are wired, for
// tests and an all-in-one without them. An incremental backup is stored
// whole, so a restore needs no parent; only what a user sees (sizes,
// statuses, the bytes restored) is real.
type fakeBackupDriver struct{ dir string }

// NewFakeBackupDriver stores backups under dir.
func NewFakeBackupDriver(dir string) BackupDriver { return &fakeBackupDriver{dir: dir} }

var _ BackupDriver = (*fakeBackupDriver)(nil)

const fakeBackupBlock = 1 << 20

func (d *fakeBackupDriver) Service() string { return "cinder.backup.drivers.posix.PosixBackupDriver" }

func (d *fakeBackupDriver) path(container, prefix string) (string, error) {
	for _, part := range []string{container, prefix} {
		if part == "" || strings.ContainsAny(part, `/\`) || part == "." || part == ".." {
			return "", fmt.Errorf("fake backup: bad name %q", part)
		}
	}
	return filepath.Join(d.dir, container, prefix), nil
}

func (d *fakeBackupDriver) Backup(ctx context.Context, spec BackupSpec, src io.ReaderAt, size int64, progress func(int64)) (BackupResult, error) {
	res := BackupResult{Container: spec.Container, Prefix: spec.Prefix}
	if res.Container == "" {
		res.Container = "volumebackups"
	}
	if res.Prefix == "" {
		res.Prefix = "volume_" + spec.VolumeID + "_backup_" + spec.ID
	}
	p, err := d.path(res.Container, res.Prefix)
	if err != nil {
		return res, err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return res, err
	}
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return res, err
	}
	defer os.Remove(tmp)
	buf, zero := make([]byte, fakeBackupBlock), make([]byte, fakeBackupBlock)
	for off := int64(0); off < size; off += fakeBackupBlock {
		if err := ctx.Err(); err != nil {
			f.Close()
			return res, err
		}
		n := min(int64(fakeBackupBlock), size-off)
		if _, err := src.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			f.Close()
			return res, err
		}
		if !bytes.Equal(buf[:n], zero[:n]) {
			if _, err := f.WriteAt(buf[:n], off); err != nil {
				f.Close()
				return res, err
			}
			res.ObjectCount++
		}
		if progress != nil {
			progress(off + n)
		}
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return res, err
	}
	if err := f.Close(); err != nil {
		return res, err
	}
	return res, os.Rename(tmp, p)
}

func (d *fakeBackupDriver) Restore(ctx context.Context, spec BackupSpec, dst io.WriterAt, size int64, volumeIsNew bool) error {
	p, err := d.path(spec.Container, spec.Prefix)
	if err != nil {
		return err
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	buf, zero := make([]byte, fakeBackupBlock), make([]byte, fakeBackupBlock)
	for off := int64(0); off < size; off += fakeBackupBlock {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(int64(fakeBackupBlock), size-off)
		got, err := f.ReadAt(buf[:n], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		clear(buf[got:n])
		if volumeIsNew && bytes.Equal(buf[:n], zero[:n]) {
			continue
		}
		if _, err := dst.WriteAt(buf[:n], off); err != nil {
			return err
		}
	}
	return nil
}

func (d *fakeBackupDriver) Delete(ctx context.Context, spec BackupSpec) error {
	if spec.Container == "" || spec.Prefix == "" {
		return nil // never stored
	}
	p, err := d.path(spec.Container, spec.Prefix)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
