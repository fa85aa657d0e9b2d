package file

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nimbus-cloud/nimbus/internal/image/imageformat"
	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

// run runs one host tool, logging it, and returns its stdout; a failure's error
// carries its stderr.
func (b *Backend) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	b.log.Debug("run", "cmd", name+" "+strings.Join(args, " "))
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		b.log.Warn("command failed", "cmd", name+" "+strings.Join(args, " "), "error", err, "stderr", msg)
		return nil, fmt.Errorf("%s: %w: %s", name, err, msg)
	}
	return stdout.Bytes(), nil
}

// imageInfo is what qemu-img info says of a volume's file.
type imageInfo struct {
	VirtualSize int64 `json:"virtual-size"`
	Snapshots   []struct {
		Name string `json:"name"`
	} `json:"snapshots"`
}

func (i imageInfo) hasSnapshot(name string) bool {
	for _, s := range i.Snapshots {
		if s.Name == name {
			return true
		}
	}
	return false
}

// info reads the volume's qcow2 metadata; -U because a daemon may hold the image
// (reading the header and snapshot table beside it is what it allows).
func (b *Backend) info(ctx context.Context, path string) (imageInfo, error) {
	out, err := b.run(ctx, b.opts.QEMUImg, "info", "-U", "-f", "qcow2", "--output=json", path)
	if err != nil {
		return imageInfo{}, err
	}
	var i imageInfo
	if err := json.Unmarshal(out, &i); err != nil {
		return imageInfo{}, fmt.Errorf("qemu-img info: %w", err)
	}
	return i, nil
}

// build makes a volume's file under a temporary name with make and renames it
// into place, so a crash mid-way never leaves a half-made volume under the
// volume's name (the retry makes it again).
func (b *Backend) build(ctx context.Context, v backend.Volume, make func(tmp string) error) error {
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
	if err := make(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	// The volume is at least its size (a source or image may be smaller).
	if err := b.growTo(ctx, tmp, int64(v.SizeGB)*gib); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("file backend: %w", err)
	}
	return nil
}

// growTo resizes the (offline) qcow2 at path to size when it is smaller. The
// size is read from the header: a qemu-img start costs more than the resize.
func (b *Backend) growTo(ctx context.Context, path string, size int64) error {
	current, err := qcow2VirtualSize(path)
	if err != nil {
		return fmt.Errorf("file backend: %s: %w", path, err)
	}
	if current >= size {
		return nil
	}
	_, err = b.run(ctx, b.opts.QEMUImg, "resize", "-f", "qcow2", path, strconv.FormatInt(size, 10))
	return err
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Create makes a blank thin volume.
func (b *Backend) Create(ctx context.Context, v backend.Volume) error {
	return b.build(ctx, v, func(tmp string) error {
		_, err := b.run(ctx, b.opts.QEMUImg, "create", "-q", "-f", "qcow2", tmp, strconv.FormatInt(int64(v.SizeGB)*gib, 10))
		return err
	})
}

// CreateFromImage converts an image into a new volume. The image is inspected
// first, as upstream's image_utils does: its content must be its declared
// format, and a qcow2 or vmdk naming a backing, data or extent file (a host
// path qemu-img would open) is refused. qemu-img is then told the format, so
// it never guesses one from content.
func (b *Backend) CreateFromImage(ctx context.Context, v backend.Volume, img backend.ImageSource) error {
	format, err := inspectImage(img)
	if err != nil {
		return err
	}
	return b.build(ctx, v, func(tmp string) error {
		_, err := b.run(ctx, b.opts.QEMUImg, "convert", "-q", "-f", format, "-O", "qcow2", img.Path, tmp)
		return err
	})
}

// ErrUnsafeImage wraps an image the inspection refuses.
var ErrUnsafeImage = errors.New("file backend: image refused")

// InspectImage is inspectImage for the other backends that convert images
// (the iSCSI backend), so every backend refuses the same images.
func InspectImage(img backend.ImageSource) (string, error) { return inspectImage(img) }

// inspectImage streams the image through the format inspector and returns the
// format qemu-img must read it as.
func inspectImage(img backend.ImageSource) (string, error) {
	f, err := os.Open(img.Path)
	if err != nil {
		return "", fmt.Errorf("file backend: image: %w", err)
	}
	defer f.Close()
	d := imageformat.NewDetector()
	if _, err := io.Copy(d, f); err != nil {
		return "", fmt.Errorf("file backend: image: %w", err)
	}
	d.Finish()
	format, err := imageformat.Boot(img.Format, d)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnsafeImage, err)
	}
	return format, nil
}

// CreateFromSnapshot copies the snapshot's data into a new volume.
func (b *Backend) CreateFromSnapshot(ctx context.Context, v backend.Volume, s backend.Snapshot) error {
	if err := backend.CheckIDs(s.ID, s.VolumeID); err != nil {
		return err
	}
	src := b.volumePath(s.VolumeID)
	i, err := b.info(ctx, src)
	if err != nil || !i.hasSnapshot(snapshotName(s.ID)) {
		return fmt.Errorf("snapshot %s: %w", s.ID, backend.ErrNotFound)
	}
	return b.build(ctx, v, func(tmp string) error {
		return b.convertSnapshot(ctx, src, snapshotName(s.ID), tmp)
	})
}

// convertSnapshot copies an internal snapshot into a new qcow2. -U: the
// source's daemon may hold it open; a snapshot's clusters are never written
// while the snapshot exists (qcow2 copies on write whatever it shares), and
// the manager does not delete a snapshot while a volume is made from it.
func (b *Backend) convertSnapshot(ctx context.Context, src, snapshot, dst string) error {
	_, err := b.run(ctx, b.opts.QEMUImg, "convert", "-q", "-U", "-f", "qcow2", "-l", "snapshot.name="+snapshot, "-O", "qcow2", src, dst)
	return err
}

// CreateFromVolume clones src. An exported source is read through a temporary
// snapshot the daemon takes, so the copy is crash-consistent while the guest
// writes (upstream's generic clone of an in-use volume takes one too).
func (b *Backend) CreateFromVolume(ctx context.Context, v backend.Volume, src backend.Volume) error {
	if err := backend.CheckIDs(src.ID); err != nil {
		return err
	}
	if src.ID == v.ID {
		return fmt.Errorf("file backend: volume %s cannot be its own source", v.ID)
	}
	srcPath := b.volumePath(src.ID)
	if ok, err := backend.PathExists(srcPath); err != nil || !ok {
		return fmt.Errorf("volume %s: %w", src.ID, backend.ErrNotFound)
	}
	return b.build(ctx, v, func(tmp string) error {
		unlock := b.lock(src.ID)
		defer unlock()
		if !b.daemonRunning(src.ID) {
			_, err := b.run(ctx, b.opts.QEMUImg, "convert", "-q", "-f", "qcow2", "-O", "qcow2", srcPath, tmp)
			return err
		}
		temp := "clone-" + v.ID
		if err := b.snapshotOnline(ctx, src.ID, temp); err != nil {
			return err
		}
		defer b.deleteSnapshotOnline(ctx, src.ID, temp)
		return b.convertSnapshot(ctx, srcPath, temp, tmp)
	})
}

// Delete removes the volume's file (and its snapshots with it). With
// VolumeClearZero its bytes are overwritten with zeros first.
func (b *Backend) Delete(ctx context.Context, v backend.Volume) error {
	if err := backend.CheckIDs(v.ID); err != nil {
		return err
	}
	defer b.lock(v.ID)()
	if b.daemonRunning(v.ID) {
		return fmt.Errorf("delete volume %s: %w", v.ID, backend.ErrInUse)
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
	return os.RemoveAll(b.stateDir(v.ID))
}

// zeroFile writes zeros over every byte of the file and syncs them, so the
// volume's data (and its snapshots', in the same file) is gone from the disk
// and not only unlinked.
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
	for off := int64(0); off < st.Size(); off += int64(len(zeros)) {
		n := min(int64(len(zeros)), st.Size()-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return fmt.Errorf("zero volume: %w", err)
		}
	}
	return f.Sync()
}

// Extend grows the volume to sizeGB: offline with qemu-img resize, online
// through the daemon (block_resize), so the export's clients see the new size.
func (b *Backend) Extend(ctx context.Context, v backend.Volume, sizeGB int) error {
	if err := backend.CheckIDs(v.ID); err != nil {
		return err
	}
	if err := backend.CheckSize(sizeGB); err != nil {
		return err
	}
	defer b.lock(v.ID)()
	path := b.volumePath(v.ID)
	i, err := b.info(ctx, path)
	if err != nil {
		if ok, _ := backend.PathExists(path); !ok {
			return fmt.Errorf("volume %s: %w", v.ID, backend.ErrNotFound)
		}
		return err
	}
	size := int64(sizeGB) * gib
	if i.VirtualSize > size {
		return fmt.Errorf("file backend: volume %s is %d bytes, cannot shrink to %d", v.ID, i.VirtualSize, size)
	}
	if i.VirtualSize == size {
		return nil
	}
	if b.daemonRunning(v.ID) {
		return b.extendOnline(ctx, v.ID, size)
	}
	_, err = b.run(ctx, b.opts.QEMUImg, "resize", "-q", "-f", "qcow2", path, strconv.FormatInt(size, 10))
	return err
}

// extendOnline resizes an exported volume through its daemon. QEMU forbids
// resizing a node while an NBD export serves it (the protocol cannot tell a
// client the size changed), so the exports are removed, the node resized, and
// the exports added again: connected clients are dropped and reconnect (a
// guest's NBD client with reconnect-delay resumes by itself); new connections
// see the new size.
func (b *Backend) extendOnline(ctx context.Context, volumeID string, size int64) error {
	recs, err := b.loadRecords(volumeID)
	if err != nil {
		return err
	}
	have, err := b.served(ctx, volumeID)
	if err != nil {
		return err
	}
	for id := range have {
		if err := b.qmp(ctx, volumeID, "block-export-del", map[string]any{"id": id, "mode": "hard"}, nil); err != nil {
			return err
		}
	}
	if err := b.waitExportsGone(ctx, volumeID, nil); err != nil {
		return err
	}
	resizeErr := b.qmp(ctx, volumeID, "block_resize", map[string]any{"node-name": volumeNode, "size": size}, nil)
	// The exports come back whether or not the resize worked.
	return errors.Join(resizeErr, b.converge(ctx, volumeID, recs))
}

// waitExportsGone waits until the daemon has closed the exports it was told to
// remove (ids; nil for all): a hard removal still takes their connections
// down first.
func (b *Backend) waitExportsGone(ctx context.Context, volumeID string, ids []string) error {
	for range 200 {
		var list []blockExport
		if err := b.qmp(ctx, volumeID, "query-block-exports", nil, &list); err != nil {
			return err
		}
		if !slices.ContainsFunc(list, func(e blockExport) bool { return ids == nil || slices.Contains(ids, e.ID) }) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
	return fmt.Errorf("volume %s: exports still closing", volumeID)
}

// Capacity reports the pool's filesystem and the volumes' virtual sizes.
func (b *Backend) Capacity(ctx context.Context) (backend.Capacity, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(b.opts.Pool, &st); err != nil {
		return backend.Capacity{}, fmt.Errorf("file backend: statfs: %w", err)
	}
	entries, err := os.ReadDir(b.opts.Pool)
	if err != nil {
		return backend.Capacity{}, fmt.Errorf("file backend: %w", err)
	}
	var provisioned int64
	for _, e := range entries {
		if !e.Type().IsRegular() || !isVolumeFile(e.Name()) {
			continue
		}
		size, err := qcow2VirtualSize(b.volumePath(strings.TrimPrefix(e.Name(), "volume-")))
		if err != nil {
			continue // deleted meanwhile, or not ours to count
		}
		provisioned += size
	}
	return backend.Capacity{
		TotalGB:                  float64(st.Blocks) * float64(st.Bsize) / gib,
		FreeGB:                   float64(st.Bavail) * float64(st.Bsize) / gib,
		ProvisionedGB:            float64(provisioned) / gib,
		ThinProvisioning:         true,
		MaxOversubscriptionRatio: b.opts.MaxOversubscriptionRatio,
		Protocol:                 "NBD",
	}, nil
}

// qcow2VirtualSize reads the virtual size from a qcow2 header (bytes 24-31),
// cheaper than a qemu-img per volume on every heartbeat.
func qcow2VirtualSize(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var h [32]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return 0, err
	}
	if string(h[:4]) != "QFI\xfb" {
		return 0, errors.New("not a qcow2 file")
	}
	size := binary.BigEndian.Uint64(h[24:])
	if size > 1<<62 {
		return 0, errors.New("qcow2 size out of range")
	}
	return int64(size), nil
}
