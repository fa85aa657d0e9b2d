package file

import (
	"context"
	"fmt"
	"strings"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// CreateSnapshot takes an internal snapshot in the volume's file: through the
// daemon when the volume is exported (the process holding the image open is
// the only one that may write its metadata), with qemu-img otherwise.
func (b *Backend) CreateSnapshot(ctx context.Context, s backend.Snapshot) error {
	if err := backend.CheckIDs(s.ID, s.VolumeID); err != nil {
		return err
	}
	defer b.lock(s.VolumeID)()
	path := b.volumePath(s.VolumeID)
	i, err := b.info(ctx, path)
	if err != nil {
		if ok, _ := backend.PathExists(path); !ok {
			return fmt.Errorf("volume %s: %w", s.VolumeID, backend.ErrNotFound)
		}
		return err
	}
	name := snapshotName(s.ID)
	if i.hasSnapshot(name) {
		return nil
	}
	if b.daemonRunning(s.VolumeID) {
		return b.snapshotOnline(ctx, s.VolumeID, name)
	}
	_, err = b.run(ctx, b.opts.QEMUImg, "snapshot", "-q", "--image-opts", "-c", name, qcow2Opts(path))
	return err
}

// DeleteSnapshot removes the internal snapshot; one that is not there (or
// whose volume is gone) is no error.
func (b *Backend) DeleteSnapshot(ctx context.Context, s backend.Snapshot) error {
	if err := backend.CheckIDs(s.ID, s.VolumeID); err != nil {
		return err
	}
	defer b.lock(s.VolumeID)()
	path := b.volumePath(s.VolumeID)
	if ok, err := backend.PathExists(path); err != nil || !ok {
		return err
	}
	i, err := b.info(ctx, path)
	if err != nil {
		return err
	}
	name := snapshotName(s.ID)
	if !i.hasSnapshot(name) {
		return nil
	}
	if b.daemonRunning(s.VolumeID) {
		return b.deleteSnapshotOnline(ctx, s.VolumeID, name)
	}
	_, err = b.run(ctx, b.opts.QEMUImg, "snapshot", "-q", "--image-opts", "-d", name, qcow2Opts(path))
	return err
}

// RevertToSnapshot makes the volume's data the snapshot's (offline only). The
// volume keeps its size: a snapshot taken before an extend brings back the old
// size with its data, and the volume is grown again, as upstream's manager
// extends a reverted volume back to the volume's size.
func (b *Backend) RevertToSnapshot(ctx context.Context, v backend.Volume, s backend.Snapshot) error {
	if err := backend.CheckIDs(v.ID, s.ID); err != nil {
		return err
	}
	if s.VolumeID != "" && s.VolumeID != v.ID {
		return fmt.Errorf("file backend: snapshot %s is not of volume %s", s.ID, v.ID)
	}
	defer b.lock(v.ID)()
	if b.daemonRunning(v.ID) {
		return fmt.Errorf("revert volume %s: %w", v.ID, backend.ErrInUse)
	}
	path := b.volumePath(v.ID)
	before, err := b.info(ctx, path)
	if err != nil || !before.hasSnapshot(snapshotName(s.ID)) {
		return fmt.Errorf("snapshot %s: %w", s.ID, backend.ErrNotFound)
	}
	if _, err := b.run(ctx, b.opts.QEMUImg, "snapshot", "-q", "--image-opts", "-a", snapshotName(s.ID), qcow2Opts(path)); err != nil {
		return err
	}
	return b.growTo(ctx, path, max(before.VirtualSize, int64(v.SizeGB)*gib))
}

// snapshotOnline takes an internal snapshot through the volume's daemon.
func (b *Backend) snapshotOnline(ctx context.Context, volumeID, name string) error {
	return b.qmp(ctx, volumeID, "blockdev-snapshot-internal-sync", map[string]any{"device": volumeNode, "name": name}, nil)
}

func (b *Backend) deleteSnapshotOnline(ctx context.Context, volumeID, name string) error {
	return b.qmp(ctx, volumeID, "blockdev-snapshot-delete-internal-sync", map[string]any{"device": volumeNode, "name": name}, nil)
}

// qcow2Opts names the volume's file for --image-opts: qemu-img snapshot has no
// -f, and the format is given, never probed.
func qcow2Opts(path string) string {
	return "driver=qcow2,file.driver=file,file.filename=" + strings.ReplaceAll(path, ",", ",,")
}
