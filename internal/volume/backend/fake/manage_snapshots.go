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

var _ backend.ManageableSnapshots = (*Backend)(nil)

// The fake's snapshots are files of their own (snapshots/snapshot-<id>), so
// managing one is a rename in that directory, as for volumes. The files say
// nothing of their volume: source_reference is not known.

func (b *Backend) snapshotObject(ref map[string]any) (string, int64, error) {
	name, err := backend.ReferenceName(ref)
	if err != nil {
		return "", 0, err
	}
	p := filepath.Join(b.dir, "snapshots", name)
	st, err := os.Lstat(p)
	if errors.Is(err, os.ErrNotExist) {
		return p, 0, backend.ErrNotFound
	}
	if err != nil {
		return p, 0, err
	}
	if !st.Mode().IsRegular() {
		return p, 0, fmt.Errorf("%w: %s is not a snapshot", backend.ErrBadReference, name)
	}
	return p, st.Size(), nil
}

// ManageableSnapshots lists the snapshot files.
func (b *Backend) ManageableSnapshots(ctx context.Context, managed map[string]bool) ([]backend.ManageableSnapshot, error) {
	entries, err := os.ReadDir(filepath.Join(b.dir, "snapshots"))
	if err != nil {
		return nil, err
	}
	var out []backend.ManageableSnapshot
	for _, e := range entries {
		_, size, err := b.snapshotObject(map[string]any{"source-name": e.Name()})
		if err != nil {
			continue
		}
		ms := backend.ManageableSnapshot{ManageableVolume: backend.ManageableVolume{
			Reference: map[string]string{"source-name": e.Name()}, SizeGB: backend.GiBCeil(size), SafeToManage: true}}
		if id, ok := strings.CutPrefix(e.Name(), "snapshot-"); ok && managed[id] {
			ms.SafeToManage, ms.ReasonNotSafe, ms.CinderID = false, "already managed", id
		}
		out = append(out, ms)
	}
	return out, nil
}

// ManageExistingSnapshotGetSize is the snapshot file's size in GiB.
func (b *Backend) ManageExistingSnapshotGetSize(ctx context.Context, s backend.Snapshot, ref map[string]any) (int, error) {
	if err := b.fail("manage"); err != nil {
		return 0, err
	}
	_, size, err := b.snapshotObject(ref)
	return backend.GiBCeil(size), err
}

// ManageExistingSnapshot renames the snapshot file to the snapshot's.
func (b *Backend) ManageExistingSnapshot(ctx context.Context, s backend.Snapshot, ref map[string]any) error {
	if err := b.fail("manage"); err != nil {
		return err
	}
	dst, err := b.snapshotPath(s.ID)
	if err != nil {
		return err
	}
	src, _, err := b.snapshotObject(ref)
	if errors.Is(err, backend.ErrNotFound) {
		if _, serr := os.Stat(dst); serr == nil {
			return nil // done before
		}
	}
	if err != nil || src == dst {
		return err
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("fake backend: snapshot-%s exists already", s.ID)
	}
	return os.Rename(src, dst)
}

// UnmanageSnapshot keeps the snapshot's file.
func (b *Backend) UnmanageSnapshot(ctx context.Context, s backend.Snapshot) error {
	_, err := b.snapshotPath(s.ID)
	return err
}
