package fake

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

var _ backend.Manageable = (*Backend)(nil)

// The fake's manage side follows the file backend's: any regular file of the
// pool directory may be managed (renamed to volume-<id>); unmanage keeps the
// file under its name.

func (b *Backend) exported(ctx context.Context, id string) (bool, error) {
	exports, err := b.Exports(ctx)
	if err != nil {
		return false, err
	}
	for _, e := range exports {
		if e.VolumeID == id {
			return true, nil
		}
	}
	return false, nil
}

func (b *Backend) objectSize(name string) (int64, error) {
	st, err := os.Lstat(filepath.Join(b.dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return 0, backend.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	if !st.Mode().IsRegular() || name == filepath.Base(b.exportsPath()) {
		return 0, fmt.Errorf("%w: %s is not a volume", backend.ErrBadReference, name)
	}
	return st.Size(), nil
}

// ManageableVolumes lists the pool's files.
func (b *Backend) ManageableVolumes(ctx context.Context, managed map[string]bool) ([]backend.ManageableVolume, error) {
	if err := b.fail("manageable"); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return nil, err
	}
	var out []backend.ManageableVolume
	for _, e := range entries {
		name := e.Name()
		if _, err := backend.ReferenceName(map[string]any{"source-name": name}); err != nil {
			continue
		}
		size, err := b.objectSize(name)
		if err != nil {
			continue
		}
		mv := backend.ManageableVolume{Reference: map[string]string{"source-name": name}, SizeGB: backend.GiBCeil(size), SafeToManage: true}
		if id, ok := strings.CutPrefix(name, "volume-"); ok && managed[id] {
			mv.SafeToManage, mv.ReasonNotSafe, mv.CinderID = false, "already managed", id
		}
		out = append(out, mv)
	}
	return out, nil
}

// ManageExistingGetSize is the referenced file's size in GiB.
func (b *Backend) ManageExistingGetSize(ctx context.Context, ref map[string]any) (int, error) {
	if err := b.fail("manage"); err != nil {
		return 0, err
	}
	name, err := backend.ReferenceName(ref)
	if err != nil {
		return 0, err
	}
	size, err := b.objectSize(name)
	if err != nil {
		return 0, err
	}
	return backend.GiBCeil(size), nil
}

// ManageExisting renames the referenced file to the volume's.
func (b *Backend) ManageExisting(ctx context.Context, v backend.Volume, ref map[string]any) error {
	if err := b.fail("manage"); err != nil {
		return err
	}
	name, err := backend.ReferenceName(ref)
	if err != nil {
		return err
	}
	dst, err := b.volumePath(v.ID)
	if err != nil {
		return err
	}
	src := filepath.Join(b.dir, name)
	if _, err := b.objectSize(name); errors.Is(err, backend.ErrNotFound) {
		if _, serr := os.Stat(dst); serr == nil {
			return nil // done before
		}
		return err
	} else if err != nil {
		return err
	}
	if src == dst {
		return nil
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("fake backend: volume-%s exists already", v.ID)
	}
	return os.Rename(src, dst)
}

// Unmanage keeps the file; an exported volume is refused.
func (b *Backend) Unmanage(ctx context.Context, v backend.Volume) error {
	if err := b.fail("unmanage"); err != nil {
		return err
	}
	if _, err := b.volumePath(v.ID); err != nil {
		return err
	}
	if busy, err := b.exported(ctx, v.ID); err != nil || busy {
		if err == nil {
			err = backend.ErrInUse
		}
		return err
	}
	return nil
}
