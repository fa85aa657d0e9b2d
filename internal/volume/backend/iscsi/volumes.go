package iscsi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend/file"
)

// build makes a volume's file under a temporary name with make, grows it to
// the volume's size and renames it into place, so a crash never leaves a
// half-made volume under the volume's name (the retry makes it again).
func (b *Backend) build(v backend.Volume, make func(tmp string) error) error {
	if err := backend.CheckIDs(v.ID); err != nil {
		return err
	}
	if err := backend.CheckSize(v.SizeGB); err != nil {
		return err
	}
	defer b.lock(v.ID)()
	path := b.volumePath(v.ID)
	if ok, err := backend.PathExists(path); err != nil || ok {
		return err // one that exists is left alone
	}
	tmp := path + ".tmp"
	os.Remove(tmp)
	err := make(tmp)
	if err == nil {
		err = growTo(tmp, int64(v.SizeGB)*gib)
	}
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("iscsi backend: volume %s: %w", v.ID, err)
	}
	return nil
}

// growTo extends a raw file to size (sparse) when it is smaller.
func growTo(path string, size int64) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.Size() >= size {
		return nil
	}
	return os.Truncate(path, size)
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Create makes a blank sparse volume.
func (b *Backend) Create(ctx context.Context, v backend.Volume) error {
	return b.build(v, func(tmp string) error {
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		return f.Close() // build grows it
	})
}

// CreateFromImage converts an image into a raw volume. The image is inspected
// first as the file backend does (its content must be its declared format,
// with no backing, data or extent file naming a host path), and qemu-img is
// told the format, never guessing one.
func (b *Backend) CreateFromImage(ctx context.Context, v backend.Volume, img backend.ImageSource) error {
	format, err := file.InspectImage(img)
	if err != nil {
		return err
	}
	return b.build(v, func(tmp string) error {
		// -S: runs of zeros stay holes.
		return b.run(ctx, b.opts.QEMUImg, "convert", "-q", "-f", format, "-O", "raw", "-S", "4k", img.Path, tmp)
	})
}

// run runs one host tool, logging it; a failure's error carries its stderr.
func (b *Backend) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	b.log.Debug("run", "cmd", name+" "+strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		b.log.Warn("command failed", "cmd", name+" "+strings.Join(args, " "), "error", err, "stderr", msg)
		return fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return nil
}

// CreateFromSnapshot copies the snapshot's data into a new volume.
func (b *Backend) CreateFromSnapshot(ctx context.Context, v backend.Volume, s backend.Snapshot) error {
	if err := backend.CheckIDs(s.ID); err != nil {
		return err
	}
	src := b.snapshotPath(s.ID)
	if ok, err := backend.PathExists(src); err != nil || !ok {
		return fmt.Errorf("snapshot %s: %w", s.ID, backend.ErrNotFound)
	}
	return b.build(v, func(tmp string) error { return sparseCopy(src, tmp) })
}

// CreateFromVolume clones src as a sparse copy.
func (b *Backend) CreateFromVolume(ctx context.Context, v backend.Volume, src backend.Volume) error {
	if err := backend.CheckIDs(src.ID); err != nil {
		return err
	}
	if src.ID == v.ID {
		return fmt.Errorf("iscsi backend: volume %s cannot be its own source", v.ID)
	}
	srcPath := b.volumePath(src.ID)
	if ok, err := backend.PathExists(srcPath); err != nil || !ok {
		return fmt.Errorf("volume %s: %w", src.ID, backend.ErrNotFound)
	}
	return b.build(v, func(tmp string) error {
		defer b.lock(src.ID)()
		return sparseCopy(srcPath, tmp)
	})
}

// exported reports whether the backend records an export of the volume.
func (b *Backend) exported(volumeID string) (bool, error) {
	recs, err := b.loadRecords(volumeID)
	return len(recs) > 0, err
}

// Delete removes the volume's file (and, as upstream's delete of a volume
// with snapshots is refused by the API, nothing else). With VolumeClearZero
// its bytes are overwritten with zeros first.
func (b *Backend) Delete(ctx context.Context, v backend.Volume) error {
	if err := backend.CheckIDs(v.ID); err != nil {
		return err
	}
	defer b.lock(v.ID)()
	if on, err := b.exported(v.ID); err != nil || on {
		return errors.Join(err, fmt.Errorf("delete volume %s: %w", v.ID, backend.ErrInUse))
	}
	path := b.volumePath(v.ID)
	os.Remove(path + ".tmp")
	if b.opts.VolumeClearZero {
		if err := zeroFile(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete volume %s: %w", v.ID, err)
	}
	return nil
}

// zeroFile writes zeros over the file's data extents (its holes read as
// zeros already) and syncs them.
func zeroFile(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	zeros := make([]byte, 1<<20)
	err = forEachData(f, st.Size(), func(off, n int64) error {
		for n > 0 {
			k := min(n, int64(len(zeros)))
			if _, err := f.WriteAt(zeros[:k], off); err != nil {
				return err
			}
			off, n = off+k, n-k
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("zero volume: %w", err)
	}
	return f.Sync()
}

// Extend grows the volume's file to sizeGB; the targets serving it are given
// the new size (tgt reads a LUN's size when the LUN is made).
func (b *Backend) Extend(ctx context.Context, v backend.Volume, sizeGB int) error {
	if err := backend.CheckIDs(v.ID); err != nil {
		return err
	}
	if err := backend.CheckSize(sizeGB); err != nil {
		return err
	}
	defer b.lock(v.ID)()
	path := b.volumePath(v.ID)
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("volume %s: %w", v.ID, backend.ErrNotFound)
	}
	if err != nil {
		return err
	}
	size := int64(sizeGB) * gib
	if st.Size() > size {
		return fmt.Errorf("iscsi backend: volume %s is %d bytes, cannot shrink to %d", v.ID, st.Size(), size)
	}
	if st.Size() == size {
		return nil
	}
	if err := os.Truncate(path, size); err != nil {
		return fmt.Errorf("iscsi backend: extend %s: %w", v.ID, err)
	}
	return b.refreshLUNs(ctx, v.ID)
}

// CreateSnapshot keeps a sparse copy of the volume. A volume attached
// meanwhile is copied as tgt writes it: consistent for a guest that flushed
// and paused, as upstream's generic copy (the file system has no reflink to
// freeze it in one step).
func (b *Backend) CreateSnapshot(ctx context.Context, s backend.Snapshot) error {
	if err := backend.CheckIDs(s.ID, s.VolumeID); err != nil {
		return err
	}
	defer b.lock(s.VolumeID)()
	dst := b.snapshotPath(s.ID)
	if ok, err := backend.PathExists(dst); err != nil || ok {
		return err
	}
	src := b.volumePath(s.VolumeID)
	if ok, err := backend.PathExists(src); err != nil || !ok {
		return fmt.Errorf("volume %s: %w", s.VolumeID, backend.ErrNotFound)
	}
	tmp := dst + ".tmp"
	err := sparseCopy(src, tmp)
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("iscsi backend: snapshot %s: %w", s.ID, err)
	}
	return nil
}

// DeleteSnapshot removes the snapshot's copy; one not there is no error.
func (b *Backend) DeleteSnapshot(ctx context.Context, s backend.Snapshot) error {
	if err := backend.CheckIDs(s.ID); err != nil {
		return err
	}
	path := b.snapshotPath(s.ID)
	os.Remove(path + ".tmp")
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete snapshot %s: %w", s.ID, err)
	}
	return nil
}

// RevertToSnapshot makes the volume's data the snapshot's (not exported),
// keeping the volume's size, as upstream's manager extends a reverted volume
// back to it.
func (b *Backend) RevertToSnapshot(ctx context.Context, v backend.Volume, s backend.Snapshot) error {
	if err := backend.CheckIDs(v.ID, s.ID); err != nil {
		return err
	}
	if s.VolumeID != "" && s.VolumeID != v.ID {
		return fmt.Errorf("iscsi backend: snapshot %s is not of volume %s", s.ID, v.ID)
	}
	defer b.lock(v.ID)()
	if on, err := b.exported(v.ID); err != nil || on {
		return errors.Join(err, fmt.Errorf("revert volume %s: %w", v.ID, backend.ErrInUse))
	}
	src := b.snapshotPath(s.ID)
	if ok, err := backend.PathExists(src); err != nil || !ok {
		return fmt.Errorf("snapshot %s: %w", s.ID, backend.ErrNotFound)
	}
	path := b.volumePath(v.ID)
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("volume %s: %w", v.ID, backend.ErrNotFound)
	}
	tmp := path + ".tmp"
	err = sparseCopy(src, tmp)
	if err == nil {
		err = growTo(tmp, max(st.Size(), int64(v.SizeGB)*gib))
	}
	if err == nil {
		err = syncFile(tmp)
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("iscsi backend: revert %s: %w", v.ID, err)
	}
	return nil
}

// Capacity reports the pool's file system and the volumes' sizes.
func (b *Backend) Capacity(ctx context.Context) (backend.Capacity, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(b.opts.Pool, &st); err != nil {
		return backend.Capacity{}, fmt.Errorf("iscsi backend: statfs: %w", err)
	}
	entries, err := os.ReadDir(b.opts.Pool)
	if err != nil {
		return backend.Capacity{}, fmt.Errorf("iscsi backend: %w", err)
	}
	var provisioned int64
	for _, e := range entries {
		id, ok := strings.CutPrefix(e.Name(), "volume-")
		if !ok || !e.Type().IsRegular() || !backend.ValidID(id) {
			continue
		}
		if info, err := e.Info(); err == nil {
			provisioned += info.Size()
		}
	}
	return backend.Capacity{
		TotalGB:                  float64(st.Blocks) * float64(st.Bsize) / gib,
		FreeGB:                   float64(st.Bavail) * float64(st.Bsize) / gib,
		ProvisionedGB:            float64(provisioned) / gib,
		ThinProvisioning:         true,
		MaxOversubscriptionRatio: b.opts.MaxOversubscriptionRatio,
		Protocol:                 "iSCSI",
	}, nil
}

// Open gives the volume's raw file (or, read-only, its snapshot's copy).
// tgt's rdwr store reads and writes the same file through the page cache,
// so an attached volume's data is the same either way.
func (b *Backend) Open(ctx context.Context, v backend.Volume, snapshotID string) (backend.Data, error) {
	if err := backend.CheckIDs(v.ID); err != nil {
		return nil, err
	}
	path, flag := b.volumePath(v.ID), os.O_RDWR
	if snapshotID != "" {
		if err := backend.CheckIDs(snapshotID); err != nil {
			return nil, err
		}
		if ok, err := backend.PathExists(b.volumePath(v.ID)); err != nil || !ok {
			return nil, fmt.Errorf("volume %s: %w", v.ID, backend.ErrNotFound)
		}
		path, flag = b.snapshotPath(snapshotID), os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open %s: %w", path, backend.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &rawData{File: f, size: st.Size(), writable: flag == os.O_RDWR}, nil
}

// rawData is an Open's file: writes are synced on Close.
type rawData struct {
	*os.File
	size     int64
	writable bool
}

func (d *rawData) Size() int64 { return d.size }

func (d *rawData) Close() error {
	var err error
	if d.writable {
		err = d.File.Sync()
	}
	return errors.Join(err, d.File.Close())
}

// seekData and seekHole are lseek's SEEK_DATA and SEEK_HOLE (Linux).
const (
	seekData = 3
	seekHole = 4
)

// forEachData calls fn for each data extent of f below size (holes skipped);
// a file system without SEEK_DATA gives one extent, the whole file.
func forEachData(f *os.File, size int64, fn func(off, n int64) error) error {
	off := int64(0)
	for off < size {
		start, err := f.Seek(off, seekData)
		if errors.Is(err, syscall.ENXIO) {
			return nil // only a hole is left
		}
		if err != nil {
			return fn(off, size-off)
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			end = size
		}
		end = min(end, size)
		if err := fn(start, end-start); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// sparseCopy copies src to a new dst of the same size, writing only src's
// data extents, so a thin volume stays thin.
func sparseCopy(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	err = forEachData(in, st.Size(), func(off, n int64) error {
		_, err := io.CopyBuffer(io.NewOffsetWriter(out, off), io.NewSectionReader(in, off, n), buf)
		return err
	})
	if err == nil {
		err = out.Truncate(st.Size())
	}
	return errors.Join(err, out.Close())
}
