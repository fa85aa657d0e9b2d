// Package fake is a volume backend without QEMU: volumes are sparse raw files
// in a pool directory and exports are records in a file beside them, served
// by no one. It keeps what a backend must keep (bytes, sizes, snapshots, the
// exports across a restart), so the volume service's tests and machines
// without qemu-storage-daemon run the whole API; the "file" backend is the
// real one.
package fake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"syscall"

	"github.com/nimbus-cloud/nimbus/internal/volume/backend"
)

var _ backend.Backend = (*Backend)(nil)

const gib = 1 << 30

// Backend is the fake backend over one pool directory.
type Backend struct {
	name       string
	dir        string
	capacityGB float64
	mu         sync.Mutex
	// Fail, when set, makes the named operation fail ("create", "delete",
	// "extend", "export"), for the manager's error paths.
	Fail map[string]error
}

// New opens (creating) a pool directory; capacityGB is the size it reports
// (0: 100).
func New(name, dir string, capacityGB int) (*Backend, error) {
	if err := os.MkdirAll(filepath.Join(dir, "snapshots"), 0o700); err != nil {
		return nil, err
	}
	if capacityGB <= 0 {
		capacityGB = 100
	}
	return &Backend{name: name, dir: dir, capacityGB: float64(capacityGB)}, nil
}

func (b *Backend) Name() string { return b.name }

// ids are the service's UUIDs; anything else never reaches a path.
var idPattern = regexp.MustCompile(`^[0-9a-fA-F-]{1,64}$`)

func (b *Backend) volumePath(id string) (string, error) {
	if !idPattern.MatchString(id) {
		return "", fmt.Errorf("fake backend: bad volume id %q", id)
	}
	return filepath.Join(b.dir, "volume-"+id), nil
}

func (b *Backend) snapshotPath(id string) (string, error) {
	if !idPattern.MatchString(id) {
		return "", fmt.Errorf("fake backend: bad snapshot id %q", id)
	}
	return filepath.Join(b.dir, "snapshots", "snapshot-"+id), nil
}

func (b *Backend) fail(op string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Fail[op]
}

// SetFail makes op fail with err (nil: succeed again).
func (b *Backend) SetFail(op string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Fail == nil {
		b.Fail = map[string]error{}
	}
	b.Fail[op] = err
}

func (b *Backend) Capacity(ctx context.Context) (backend.Capacity, error) {
	entries, err := os.ReadDir(b.dir)
	if err != nil {
		return backend.Capacity{}, err
	}
	var provisioned float64
	for _, e := range entries {
		if info, err := e.Info(); err == nil && !e.IsDir() && filepath.Ext(e.Name()) == "" && len(e.Name()) > 7 && e.Name()[:7] == "volume-" {
			provisioned += float64(info.Size()) / gib
		}
	}
	return backend.Capacity{TotalGB: b.capacityGB, FreeGB: b.capacityGB - provisioned, ProvisionedGB: provisioned,
		ThinProvisioning: true, MaxOversubscriptionRatio: 1, Protocol: "NBD"}, nil
}

func (b *Backend) Create(ctx context.Context, v backend.Volume) error {
	if err := b.fail("create"); err != nil {
		return err
	}
	p, err := b.volumePath(v.ID)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	return makeSparse(p, int64(v.SizeGB)*gib)
}

func makeSparse(p string, size int64) error {
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// copyInto makes dst a copy of src grown to size.
func copyInto(dst, src string, size int64) error {
	in, err := os.Open(src)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return backend.ErrNotFound
		}
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	tmp := dst + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := copySparse(out, in, info.Size()); err != nil {
		out.Close()
		return err
	}
	if err := out.Truncate(max(size, info.Size())); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// copySparse copies in's data extents to the same offsets of out, skipping
// its holes (lseek SEEK_DATA/SEEK_HOLE), so a mostly empty 1 GiB volume
// copies in a moment and stays sparse.
func copySparse(out, in *os.File, size int64) error {
	const seekData, seekHole = 3, 4
	for off := int64(0); off < size; {
		start, err := in.Seek(off, seekData)
		if err != nil {
			if errors.Is(err, syscall.ENXIO) {
				return nil // only a hole remains
			}
			return err
		}
		end, err := in.Seek(start, seekHole)
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.NewOffsetWriter(out, start), io.NewSectionReader(in, start, end-start)); err != nil {
			return err
		}
		off = end
	}
	return nil
}

// CreateFromImage copies the image's bytes as they are: the fake backend
// converts no formats (a raw image reads back as written).
func (b *Backend) CreateFromImage(ctx context.Context, v backend.Volume, img backend.ImageSource) error {
	if err := b.fail("create"); err != nil {
		return err
	}
	return b.createCopy(v, img.Path)
}

func (b *Backend) CreateFromSnapshot(ctx context.Context, v backend.Volume, s backend.Snapshot) error {
	sp, err := b.snapshotPath(s.ID)
	if err != nil {
		return err
	}
	return b.createCopy(v, sp)
}

func (b *Backend) CreateFromVolume(ctx context.Context, v backend.Volume, src backend.Volume) error {
	sp, err := b.volumePath(src.ID)
	if err != nil {
		return err
	}
	return b.createCopy(v, sp)
}

// createCopy makes volume v a copy of the file src, grown to v's size; a
// volume that exists is left alone.
func (b *Backend) createCopy(v backend.Volume, src string) error {
	p, err := b.volumePath(v.ID)
	if err != nil {
		return err
	}
	if _, err := os.Stat(p); err == nil {
		return nil
	}
	return copyInto(p, src, int64(v.SizeGB)*gib)
}

func (b *Backend) Delete(ctx context.Context, v backend.Volume) error {
	if err := b.fail("delete"); err != nil {
		return err
	}
	p, err := b.volumePath(v.ID)
	if err != nil {
		return err
	}
	exports, err := b.Exports(ctx)
	if err != nil {
		return err
	}
	for _, e := range exports {
		if e.VolumeID == v.ID {
			return backend.ErrInUse
		}
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (b *Backend) Extend(ctx context.Context, v backend.Volume, sizeGB int) error {
	if err := b.fail("extend"); err != nil {
		return err
	}
	p, err := b.volumePath(v.ID)
	if err != nil {
		return err
	}
	info, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return backend.ErrNotFound
	}
	if err != nil {
		return err
	}
	if info.Size() >= int64(sizeGB)*gib {
		return nil
	}
	return os.Truncate(p, int64(sizeGB)*gib)
}

func (b *Backend) CreateSnapshot(ctx context.Context, s backend.Snapshot) error {
	sp, err := b.snapshotPath(s.ID)
	if err != nil {
		return err
	}
	if _, err := os.Stat(sp); err == nil {
		return nil
	}
	p, err := b.volumePath(s.VolumeID)
	if err != nil {
		return err
	}
	return copyInto(sp, p, 0)
}

func (b *Backend) DeleteSnapshot(ctx context.Context, s backend.Snapshot) error {
	sp, err := b.snapshotPath(s.ID)
	if err != nil {
		return err
	}
	if err := os.Remove(sp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

func (b *Backend) RevertToSnapshot(ctx context.Context, v backend.Volume, s backend.Snapshot) error {
	p, err := b.volumePath(v.ID)
	if err != nil {
		return err
	}
	sp, err := b.snapshotPath(s.ID)
	if err != nil {
		return err
	}
	return copyInto(p, sp, int64(v.SizeGB)*gib)
}

type exportRecord struct {
	backend.Export
	Info backend.ConnectionInfo
}

func (b *Backend) exportsPath() string { return filepath.Join(b.dir, "exports.json") }

func (b *Backend) loadExports() (map[string]exportRecord, error) {
	data, err := os.ReadFile(b.exportsPath())
	if errors.Is(err, os.ErrNotExist) {
		return map[string]exportRecord{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[string]exportRecord{}
	return out, json.Unmarshal(data, &out)
}

func (b *Backend) saveExports(m map[string]exportRecord) error {
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := b.exportsPath() + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, b.exportsPath())
}

func (b *Backend) Export(ctx context.Context, v backend.Volume, e backend.Export) (backend.ConnectionInfo, error) {
	if err := b.fail("export"); err != nil {
		return backend.ConnectionInfo{}, err
	}
	p, err := b.volumePath(v.ID)
	if err != nil {
		return backend.ConnectionInfo{}, err
	}
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return backend.ConnectionInfo{}, backend.ErrNotFound
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	m, err := b.loadExports()
	if err != nil {
		return backend.ConnectionInfo{}, err
	}
	if rec, ok := m[e.AttachmentID]; ok {
		return rec.Info, nil
	}
	info := backend.ConnectionInfo{DriverVolumeType: "nbd", Data: map[string]any{
		"host": "127.0.0.1", "port": 0, "export_name": "volume-" + v.ID, "fake": true, "path": p,
		"access_mode": map[bool]string{true: "ro", false: "rw"}[e.ReadOnly],
	}}
	m[e.AttachmentID] = exportRecord{Export: e, Info: info}
	return info, b.saveExports(m)
}

func (b *Backend) Unexport(ctx context.Context, v backend.Volume, attachmentID string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, err := b.loadExports()
	if err != nil {
		return err
	}
	if _, ok := m[attachmentID]; !ok {
		return nil
	}
	delete(m, attachmentID)
	return b.saveExports(m)
}

func (b *Backend) Exports(ctx context.Context) ([]backend.Export, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	m, err := b.loadExports()
	if err != nil {
		return nil, err
	}
	out := make([]backend.Export, 0, len(m))
	for _, rec := range m {
		out = append(out, rec.Export)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].AttachmentID < out[j].AttachmentID })
	return out, nil
}

// fileData is a volume's or snapshot's file as backend.Data.
type fileData struct {
	*os.File
	size     int64
	readOnly bool
}

func (d *fileData) Size() int64 { return d.size }

func (d *fileData) WriteAt(p []byte, off int64) (int, error) {
	if d.readOnly {
		return 0, syscall.EROFS
	}
	if off+int64(len(p)) > d.size {
		return 0, io.ErrShortWrite
	}
	return d.File.WriteAt(p, off)
}

func (b *Backend) Open(ctx context.Context, v backend.Volume, snapshotID string) (backend.Data, error) {
	p, err := b.volumePath(v.ID)
	flag := os.O_RDWR
	if snapshotID != "" {
		p, err = b.snapshotPath(snapshotID)
		flag = os.O_RDONLY
	}
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(p, flag, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, backend.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &fileData{File: f, size: info.Size(), readOnly: snapshotID != ""}, nil
}
