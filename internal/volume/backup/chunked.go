package backup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// objectStore is where a Chunked driver keeps its objects: upstream's
// put_container, get_object_writer/reader, get_container_entries and
// delete_object of a chunked driver.
type objectStore interface {
	// createContainer makes the container if it is missing.
	createContainer(ctx context.Context, a Auth, container string) error
	put(ctx context.Context, a Auth, container, name string, data []byte) error
	// open reads an object; ErrNotFound when there is none.
	open(ctx context.Context, a Auth, container, name string) (io.ReadCloser, error)
	// list names the container's objects that start with prefix; none when
	// the container is missing.
	list(ctx context.Context, a Auth, container, prefix string) ([]string, error)
	// remove deletes an object; one not there is no error.
	remove(ctx context.Context, a Auth, container, name string) error
	// removeContainer deletes the container if it is empty and the store
	// made it for one backup (a directory's); others stay.
	removeContainer(ctx context.Context, a Auth, container string) error

	// defaultContainer and prefix name a new backup's objects, as the
	// upstream driver does.
	defaultContainer(s Spec) string
	prefix(s Spec, now time.Time) string
	checkNames(container, prefix string) error
}

// Chunked is the chunked backup driver over one store: NewSwift's or
// NewDirectory's.
type Chunked struct {
	store       objectStore
	chunkSize   int64
	blockSize   int64
	compression string
	compress    bool
	now         func() time.Time
}

var _ Driver = (*Chunked)(nil)

// Upstream's defaults: backup_swift_object_size, backup_swift_block_size (and
// backup_sha_block_size_bytes), backup_swift_container.
const (
	DefaultChunkSize      = 52428800
	DefaultBlockSize      = 32768
	DefaultSwiftContainer = "volumebackups"
)

// ChunkOptions shape the chunks of new backups (a restore reads whatever the
// stored backup says).
type ChunkOptions struct {
	// ChunkSize is the most volume data one object holds (upstream's
	// backup_swift_object_size, backup_file_size); a multiple of BlockSize.
	ChunkSize int64
	// BlockSize is the size changes are tracked at for incremental backups
	// (backup_swift_block_size, backup_sha_block_size_bytes).
	BlockSize int64
	// Compression is backup_compression_algorithm: "zlib" (default) or
	// "none".
	Compression string
}

func newChunked(store objectStore, o ChunkOptions) (*Chunked, error) {
	o.ChunkSize = cmp.Or(o.ChunkSize, DefaultChunkSize)
	o.BlockSize = cmp.Or(o.BlockSize, DefaultBlockSize)
	o.Compression = cmp.Or(o.Compression, CompressionZlib)
	if o.ChunkSize < 0 || o.BlockSize <= 0 || o.BlockSize > maxBlockSize || o.ChunkSize%o.BlockSize != 0 {
		// upstream's 'Chunk size is not multiple of block size for creating hash.'
		return nil, fmt.Errorf("backup chunk size %d is not a multiple of the block size %d", o.ChunkSize, o.BlockSize)
	}
	compress, err := checkCompression(o.Compression)
	if err != nil {
		return nil, err
	}
	return &Chunked{store: store, chunkSize: o.ChunkSize, blockSize: o.BlockSize,
		compression: o.Compression, compress: compress, now: time.Now}, nil
}

// NewPrefix is the object prefix a new backup s gets now: a caller that saves
// it before Backup (upstream saves service_metadata first) passes it in
// Spec.Prefix when it retries an interrupted backup.
func (d *Chunked) NewPrefix(s Spec) string { return d.store.prefix(s, d.now().UTC()) }

// container is the container of s: its own, or the driver's default.
func (d *Chunked) container(s Spec) string { return cmp.Or(s.Container, d.store.defaultContainer(s)) }

// readSmall reads a metadata object or a sha256file, at most limit bytes of
// it: a store can hold anything, and these are read whole.
func (d *Chunked) readSmall(ctx context.Context, a Auth, container, name string, limit int64) ([]byte, error) {
	r, err := d.store.open(ctx, a, container, name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("backup: reading %s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s is larger than a backup of this volume's (%d bytes)", ErrInvalidBackup, name, limit)
	}
	return data, nil
}

// listLimit is how large a metadata object or sha256file of a volume of size
// bytes can be: a line of ~100 bytes per block at most, and some room.
func listLimit(size, blockSize int64) int64 {
	return (size/blockSize+1)*200 + 1<<20
}

// readSHA256s reads the sha256file of the backup s.
func (d *Chunked) readSHA256s(ctx context.Context, a Auth, s Spec, size, blockSize int64) (sha256File, [][32]byte, error) {
	data, err := d.readSmall(ctx, a, s.Container, sha256FileName(s.Prefix), listLimit(size, blockSize))
	if err != nil {
		return sha256File{}, nil, fmt.Errorf("backup %s: %w", s.ID, err)
	}
	f, sums, err := parseSHA256File(data)
	if err != nil {
		return sha256File{}, nil, fmt.Errorf("backup %s: %w", s.ID, err)
	}
	if f.BackupID != s.ID {
		return sha256File{}, nil, fmt.Errorf("%w: %s holds the sha256s of backup %q, not %s", ErrInvalidBackup, sha256FileName(s.Prefix), f.BackupID, s.ID)
	}
	return f, sums, nil
}

// Delete removes the backup's objects, listed by their prefix as upstream's
// delete_backup does (only names of this backup's objects: another backup's
// prefix may begin with this one's), then its container if the store made it
// for this backup alone.
func (d *Chunked) Delete(ctx context.Context, s Spec) error {
	if s.Container == "" || s.Prefix == "" {
		// as upstream: a backup that never got its objects named has none
		return nil
	}
	if err := d.store.checkNames(s.Container, s.Prefix); err != nil {
		return err
	}
	names, err := d.store.list(ctx, s.Auth, s.Container, s.Prefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, name := range names {
		if !isBackupObject(name, s.Prefix) {
			continue
		}
		if err := d.store.remove(ctx, s.Auth, s.Container, name); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return d.store.removeContainer(ctx, s.Auth, s.Container)
}
