package file

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

var _ backend.Manageable = (*Backend)(nil)

// The manage side of the pool (upstream's ManageableVD, as its LVM and NFS
// drivers do it): any qcow2 file of the pool the service does not own may be
// managed, which renames it to volume-<id>; unmanage leaves the file where
// it is, under its name, as upstream's LVM driver leaves the LV, so the
// volume-<id> of an unmanaged volume is what a later manage names.

// manageableFile checks a pool entry may become a volume: a regular file (not
// a link to something elsewhere) holding a qcow2 image that reads nothing
// outside itself (no backing file, no external data file: the daemon would
// open those host paths). It returns its virtual size.
func manageableFile(path string) (int64, error) {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, backend.ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("file backend: %w", err)
	}
	if !st.Mode().IsRegular() {
		return 0, fmt.Errorf("%w: %s is not a regular file", backend.ErrBadReference, filepath.Base(path))
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("file backend: %w", err)
	}
	defer f.Close()
	var h [80]byte
	n, err := io.ReadFull(f, h[:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("file backend: %w", err)
	}
	if n < 32 || string(h[:4]) != "QFI\xfb" {
		return 0, fmt.Errorf("%w: %s is not a qcow2 image", backend.ErrBadReference, filepath.Base(path))
	}
	if binary.BigEndian.Uint64(h[8:16]) != 0 {
		return 0, fmt.Errorf("%w: %s has a backing file", backend.ErrBadReference, filepath.Base(path))
	}
	// qcow2 v3: incompatible feature bit 2 is an external data file
	if binary.BigEndian.Uint32(h[4:8]) >= 3 && (n < 80 || binary.BigEndian.Uint64(h[72:80])&(1<<2) != 0) {
		return 0, fmt.Errorf("%w: %s has an external data file", backend.ErrBadReference, filepath.Base(path))
	}
	return int64(binary.BigEndian.Uint64(h[24:32])), nil
}

// ManageableVolumes lists the pool's files: the volumes the service owns,
// files that are not usable qcow2 images and exported volumes as not safe.
func (b *Backend) ManageableVolumes(ctx context.Context, managed map[string]bool) ([]backend.ManageableVolume, error) {
	entries, err := os.ReadDir(b.opts.Pool)
	if err != nil {
		return nil, fmt.Errorf("file backend: %w", err)
	}
	var out []backend.ManageableVolume
	for _, e := range entries {
		name := e.Name()
		if _, err := backend.ReferenceName(map[string]any{"source-name": name}); err != nil || !e.Type().IsRegular() {
			continue // state directories, temporary files
		}
		mv := backend.ManageableVolume{Reference: map[string]string{"source-name": name}, SafeToManage: true}
		size, err := manageableFile(filepath.Join(b.opts.Pool, name))
		if errors.Is(err, backend.ErrNotFound) {
			continue // deleted meanwhile
		}
		mv.SizeGB = backend.GiBCeil(size)
		id, isVolume := strings.CutPrefix(name, "volume-")
		switch {
		case isVolume && managed[id]:
			mv.SafeToManage, mv.ReasonNotSafe, mv.CinderID = false, "already managed", id
		case err != nil:
			mv.SafeToManage, mv.ReasonNotSafe = false, err.Error()
		case isVolume && b.daemonRunning(id):
			mv.SafeToManage, mv.ReasonNotSafe = false, "volume in use"
		}
		out = append(out, mv)
	}
	return out, nil
}

// ManageExistingGetSize is the referenced file's virtual size in GiB.
func (b *Backend) ManageExistingGetSize(ctx context.Context, ref map[string]any) (int, error) {
	name, err := backend.ReferenceName(ref)
	if err != nil {
		return 0, err
	}
	size, err := manageableFile(filepath.Join(b.opts.Pool, name))
	if err != nil {
		return 0, err
	}
	return backend.GiBCeil(size), nil
}

// ManageExisting renames the referenced file to the volume's name. Done
// already (the file gone, the volume's there) is success: the manager asks
// again after a crash.
func (b *Backend) ManageExisting(ctx context.Context, v backend.Volume, ref map[string]any) error {
	if err := backend.CheckIDs(v.ID); err != nil {
		return err
	}
	name, err := backend.ReferenceName(ref)
	if err != nil {
		return err
	}
	defer b.lock(v.ID)()
	src, dst := filepath.Join(b.opts.Pool, name), b.volumePath(v.ID)
	if _, err := manageableFile(src); errors.Is(err, backend.ErrNotFound) {
		if ok, xerr := backend.PathExists(dst); xerr == nil && ok {
			return nil
		}
		return err
	} else if err != nil {
		return err
	}
	if src == dst {
		return nil
	}
	if id, ok := strings.CutPrefix(name, "volume-"); ok && b.daemonRunning(id) {
		return backend.ErrInUse
	}
	if ok, err := backend.PathExists(dst); err != nil {
		return err
	} else if ok {
		return fmt.Errorf("file backend: volume-%s exists already", v.ID)
	}
	if err := os.Rename(src, dst); err != nil {
		return fmt.Errorf("file backend: manage %s: %w", name, err)
	}
	return nil
}

// Unmanage keeps the volume's file (its data and snapshots) under its name;
// an exported volume is refused, so no daemon is left serving a file the
// service no longer knows.
func (b *Backend) Unmanage(ctx context.Context, v backend.Volume) error {
	if err := backend.CheckIDs(v.ID); err != nil {
		return err
	}
	defer b.lock(v.ID)()
	if b.daemonRunning(v.ID) {
		return backend.ErrInUse
	}
	return nil
}
